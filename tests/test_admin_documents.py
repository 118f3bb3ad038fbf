"""Documents over HTTP: upload checked by content and size, download only in scope, audited, verify."""
import io
import json
import os

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, Document, DocumentType, ServiceRequest
from services import users
from services.documents import store_upload
from tests.test_permissions import PNG


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


@pytest.fixture
def id_card(app):
    return DocumentType.create(name_ar="الهوية", name_en="ID card")


@pytest.fixture
def assigned(staff, service):
    return make_request(make_beneficiary(), service, researcher=staff["researcher"])


def _upload(client, request_row, doc_type, content, name):
    return client.post("/admin/document/new/", data={
        "document_type": doc_type.id, "request": request_row.id, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data", follow_redirects=True)


def test_valid_png_is_stored_under_a_random_name_with_its_hash(app, client, login_as, assigned, id_card):
    login_as("researcher")
    _upload(client, assigned, id_card, PNG, "../../etc/passwd.png")
    doc = Document.get()
    assert (doc.content_type, doc.size, doc.original_name) == ("image/png", len(PNG), "passwd.png")
    assert doc.stored_name.endswith(".png") and "passwd" not in doc.stored_name
    assert os.listdir(app.config["UPLOAD_DIR"]) == [doc.stored_name]
    assert len(doc.sha256) == 64


def test_text_named_pdf_is_refused_by_its_content(client, login_as, assigned, id_card):
    login_as("researcher")
    html = _upload(client, assigned, id_card, b"just some text, not a PDF", "scan.pdf").get_data(as_text=True)
    assert "not an allowed type" in html and "PDF, JPEG, PNG" in html
    assert Document.select().count() == 0


def test_too_big_file_is_refused(app, client, login_as, assigned, id_card):
    app.config["UPLOAD_MAX_BYTES"] = 50
    login_as("researcher")
    html = _upload(client, assigned, id_card, PNG + b"\0" * 100, "big.png").get_data(as_text=True)
    assert "larger than the limit" in html
    assert Document.select().count() == 0


def test_empty_file_is_refused(client, login_as, assigned, id_card):
    login_as("researcher")
    assert "The file is empty." in _upload(client, assigned, id_card, b"", "x.png").get_data(as_text=True)
    assert Document.select().count() == 0


def test_researcher_cannot_upload_to_another_researchers_request(client, login_as, service, id_card):
    other = users.create_user("researcher2", "researcher", "correct-horse-42")
    theirs = make_request(make_beneficiary(), service, researcher=other)
    login_as("researcher")
    _upload(client, theirs, id_card, PNG, "x.png")
    assert Document.select().count() == 0


def _stored(app, request_row, doc_type):
    return store_upload(PNG, "card.png", doc_type, request=request_row, upload_dir=app.config["UPLOAD_DIR"],
                        max_bytes=10_000)


def test_download_sends_the_file_and_is_audited(app, client, login_as, assigned, id_card):
    doc = _stored(app, assigned, id_card)
    login_as("researcher")
    response = client.get(f"/admin/document/download/{doc.id}")
    assert response.status_code == 200
    assert response.get_data() == PNG
    log = AuditLog.get(AuditLog.action == "download")
    assert (log.actor, log.model, log.record_id) == ("researcher", "Document", doc.id)


def _served_name(response) -> str:
    from werkzeug.http import parse_options_header
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    assert kind == "attachment"
    return options["filename"]


@pytest.mark.parametrize("uploaded", ["polyglot.html", "gnp\u202e.exe", "invoice.pdf.exe", "../../x.svg", "card"])
def test_a_download_is_named_by_its_type_and_request_never_by_the_uploader(app, client, login_as, assigned, id_card,
                                                                           uploaded):
    """Issue 15 item 6: the uploader's name and extension (an .html polyglot, a U+202E that shows "gnp.exe" as
    "exe.png") never reach the browser: <document type>-<request number>.<extension of the detected type>."""
    doc = store_upload(PNG, uploaded, id_card, request=assigned, upload_dir=app.config["UPLOAD_DIR"],
                       max_bytes=10_000)
    login_as("researcher")
    response = client.get(f"/admin/document/download/{doc.id}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert _served_name(response) == f"ID-card-{assigned.number}.png"
    client.get("/lang/ar")
    arabic = client.get(f"/admin/document/download/{doc.id}")
    assert _served_name(arabic) == f"الهوية-{assigned.number}.png"
    assert "\u202e" not in arabic.headers["Content-Disposition"]


def test_a_document_filed_on_the_beneficiary_is_named_by_their_reference(app, client, login_as, assigned, id_card):
    doc = store_upload(PNG, "x.html", id_card, beneficiary=assigned.beneficiary, upload_dir=app.config["UPLOAD_DIR"],
                       max_bytes=10_000)
    login_as("manager")
    response = client.get(f"/admin/document/download/{doc.id}")
    assert _served_name(response) == f"ID-card-{assigned.beneficiary.reference}.png"


def test_a_stored_name_keeps_no_bidi_override(app, assigned, id_card):
    doc = store_upload(PNG, "photo\u202egnp.exe", id_card, request=assigned, upload_dir=app.config["UPLOAD_DIR"],
                       max_bytes=10_000)
    assert doc.original_name == "photognp.exe"


def test_download_of_another_researchers_document_is_403(app, client, login_as, service, id_card):
    other = users.create_user("researcher2", "researcher", "correct-horse-42")
    doc = _stored(app, make_request(make_beneficiary(), service, researcher=other), id_card)
    login_as("researcher")
    assert client.get(f"/admin/document/download/{doc.id}").status_code == 403
    assert AuditLog.select().where(AuditLog.action == "download").count() == 0


def test_board_cannot_download(app, client, login_as, assigned, id_card):
    doc = _stored(app, assigned, id_card)
    login_as("board")
    assert client.get(f"/admin/document/download/{doc.id}").status_code == 403


def test_uploaded_files_are_not_served_as_static_files(app, client, login_as, assigned, id_card):
    doc = _stored(app, assigned, id_card)
    login_as("admin")
    for url in (f"/static/{doc.stored_name}", f"/uploads/{doc.stored_name}", f"/static/../uploads/{doc.stored_name}"):
        assert client.get(url).status_code == 404


def test_request_details_list_its_documents_with_download_links(app, client, login_as, assigned, id_card):
    doc = _stored(app, assigned, id_card)
    login_as("researcher")
    html = client.get(f"/admin/servicerequest/details/?id={assigned.id}").get_data(as_text=True)
    assert f'href="/admin/document/download/{doc.id}"' in html and "card.png" in html


def test_verify_action_records_who_and_when_and_is_audited(app, client, login_as, staff, assigned, id_card):
    doc = _stored(app, assigned, id_card)
    login_as("researcher")
    client.post("/admin/document/action/", data={"action": "verify", "rowid": [doc.id]})
    doc = Document.get_by_id(doc.id)
    assert doc.verified_by_id == staff["researcher"].id and doc.verified_at is not None
    log = AuditLog.get(AuditLog.action == "verify")
    assert json.loads(log.changes)["verified_by"] == [None, staff["researcher"].id]


def test_volunteer_cannot_verify(app, client, login_as, assigned, id_card):
    doc = _stored(app, assigned, id_card)
    ServiceRequest.update(created_by="volunteer").where(ServiceRequest.id == assigned.id).execute()
    login_as("volunteer")
    assert client.get(f"/admin/document/download/{doc.id}").status_code == 200
    client.post("/admin/document/action/", data={"action": "verify", "rowid": [doc.id]})
    assert Document.get_by_id(doc.id).verified_at is None
