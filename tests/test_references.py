"""The reference library (P4): the association's documents at hand for every role, every version kept."""
import io
from pathlib import Path

import pytest

from models import AuditLog, ReferenceDocument, ReferenceDocumentVersion
from services import references
from services.errors import PermissionDenied, ValidationError

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF_V2 = PDF.replace(b"1.4", b"1.7")


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def folder(app) -> Path:
    return references.folder(app.config["UPLOAD_DIR"])


def upload(client, data=PDF, name="اللائحة.pdf", **fields):
    form = {"kind": "bylaws", "title_ar": "اللائحة الأساسية للجمعية", "title_en": "Bylaws", "description": "",
            "note": "", "file": (io.BytesIO(data), name)}
    form.update(fields)
    return client.post("/admin/referencedocument/new/", data=form, content_type="multipart/form-data")


def test_manager_uploads_the_bylaws_and_every_role_reads_them(app, client, login_as):
    """P4: the bylaws are at hand inside the system, for every role."""
    login_as("manager")
    assert upload(client).status_code == 302
    document = ReferenceDocument.get()
    version = document.versions.get()
    assert (document.kind, version.number, version.content_type) == ("bylaws", 1, "application/pdf")
    assert (folder(app) / version.stored_name).read_bytes() == PDF
    for role in ("admin", "researcher", "volunteer", "board"):
        login_as(role)
        assert "Bylaws" in client.get("/admin/referencedocument/").get_data(as_text=True)
        response = client.get(f"/admin/referencedocument/download/{document.id}")
        assert response.status_code == 200 and response.data == PDF, role
    assert AuditLog.select().where((AuditLog.action == "download")
                                   & (AuditLog.model == "ReferenceDocumentVersion")).count() == 4


def test_a_new_version_keeps_the_old_one(app, client, login_as):
    """P4: a new version is uploaded, the old one kept and still readable."""
    login_as("manager")
    upload(client)
    document = ReferenceDocument.get()
    response = client.post(f"/admin/referencedocument/upload/{document.id}", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(PDF_V2), "bylaws-2026.pdf"), "note": "تعديل المادة 5"})
    assert response.status_code == 302
    assert [(v.number, v.note) for v in references.versions(document)] == [(2, "تعديل المادة 5"), (1, "")]
    assert client.get(f"/admin/referencedocument/download/{document.id}").data == PDF_V2
    assert client.get(f"/admin/referencedocument/download/{document.id}?version=1").data == PDF
    html = client.get(f"/admin/referencedocument/details/?id={document.id}").get_data(as_text=True)
    assert "bylaws-2026.pdf" in html and "In force" in html


def test_a_file_that_is_not_a_pdf_or_image_is_refused_and_nothing_is_kept(app, client, login_as):
    """Uploads are checked by their content, not the name they were sent with."""
    login_as("manager")
    response = upload(client, data=b"MZ\x90\x00 not really a pdf", name="policy.pdf")
    assert "This file is not an allowed type" in response.get_data(as_text=True)
    assert ReferenceDocument.select().count() == 0
    assert not folder(app).exists() or not any(folder(app).iterdir())


def test_a_document_without_a_file_is_refused(client, login_as):
    login_as("manager")
    form = {"kind": "bylaws", "title_ar": "اللائحة", "title_en": "", "description": "", "note": ""}
    response = client.post("/admin/referencedocument/new/", data=form, content_type="multipart/form-data")
    assert "Choose a file to upload." in response.get_data(as_text=True)
    assert ReferenceDocument.select().count() == 0


def test_staff_other_than_managers_cannot_upload(app, client, login_as, staff):
    login_as("manager")
    upload(client)
    document = ReferenceDocument.get()
    for role in ("researcher", "volunteer", "board"):
        login_as(role)
        assert upload(client).status_code == 403
        response = client.post(f"/admin/referencedocument/upload/{document.id}", content_type="multipart/form-data",
                               data={"file": (io.BytesIO(PDF_V2), "v2.pdf")})
        assert response.status_code == 403
    assert ReferenceDocumentVersion.select().count() == 1
    with pytest.raises(PermissionDenied):
        references.add_version(document, PDF_V2, "v2.pdf", staff["volunteer"], upload_dir=app.config["UPLOAD_DIR"],
                               max_bytes=10_000)


def test_a_title_in_arabic_is_required(app, staff):
    with pytest.raises(ValidationError) as err:
        references.create(ReferenceDocument(kind="bylaws", title_ar="  "), PDF, "a.pdf", staff["manager"],
                          upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    assert err.value.field == "title_ar"
    assert ReferenceDocument.select().count() == 0


def test_admin_deletes_a_document_and_its_files(app, client, login_as, staff):
    document = references.create(ReferenceDocument(kind="other", title_ar="دليل"), PDF, "a.pdf", staff["manager"],
                                 upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    references.add_version(document, PDF_V2, "b.pdf", staff["manager"], upload_dir=app.config["UPLOAD_DIR"],
                           max_bytes=10_000)
    login_as("admin")
    client.post("/admin/referencedocument/delete/", data={"id": str(document.id)})
    assert ReferenceDocument.select().count() == 0 and ReferenceDocumentVersion.select().count() == 0
    assert not any(folder(app).iterdir())


def test_a_version_of_another_number_is_not_found(client, login_as, app, staff):
    document = references.create(ReferenceDocument(kind="other", title_ar="دليل"), PDF, "a.pdf", staff["manager"],
                                 upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    login_as("volunteer")
    assert client.get(f"/admin/referencedocument/download/{document.id}?version=7").status_code == 404


@pytest.mark.parametrize("uploaded", ["bylaws.html", "gnp\u202e.exe", "a.pdf"])
def test_a_download_is_named_by_its_title_and_version_never_by_the_uploader(client, login_as, app, staff, uploaded):
    """Issue 15 item 6: <title>-v<version>.<extension of the detected type>, in the reader's language."""
    from werkzeug.http import parse_options_header
    document = references.create(ReferenceDocument(kind="bylaws", title_ar="اللائحة الأساسية", title_en="The bylaws"),
                                 PDF, uploaded, staff["manager"], upload_dir=app.config["UPLOAD_DIR"],
                                 max_bytes=10_000)
    login_as("volunteer")
    response = client.get(f"/admin/referencedocument/download/{document.id}")
    assert parse_options_header(response.headers["Content-Disposition"])[1]["filename"] == "The-bylaws-v1.pdf"
    client.get("/lang/ar")
    response = client.get(f"/admin/referencedocument/download/{document.id}?version=1")
    assert parse_options_header(response.headers["Content-Disposition"])[1]["filename"] == "اللائحة-الأساسية-v1.pdf"


@pytest.mark.parametrize("version", ["99999999999999999999", "-1", "0", "1e5", "x"])
def test_an_impossible_version_number_is_not_found_or_the_newest(client, login_as, app, staff, version):
    document = references.create(ReferenceDocument(kind="other", title_ar="دليل"), PDF, "a.pdf", staff["manager"],
                                 upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    login_as("volunteer")
    assert client.get(f"/admin/referencedocument/download/{document.id}?version={version}").status_code in (200, 404)
