"""The PDPL right of access (issue 8): a manager produces a person's complete file as a ZIP, audited."""
import datetime
import io
import json
import zipfile

import pytest
from conftest import make_beneficiary, make_request

from admin_views.access import render_summary
from models import (
    AuditLog,
    Delivery,
    DocumentType,
    HouseholdMember,
    IntakeAnswer,
    IntakeQuestion,
    InteractionKind,
    ProposedChange,
    Referral,
    SatisfactionSurvey,
    VerificationVisit,
    utcnow,
)
from services import access, consent, interactions, notifications
from services.documents import store_upload, stored_path
from services.errors import PermissionDenied
from tests.test_permissions import PNG

REASON = "الدخل يتجاوز حد الكفاية المعتمد"
FINDING = "المنزل مستأجر والأسرة من ستة أفراد"


@pytest.fixture(autouse=True)
def english(client):
    """Staff pages in English, so flashed messages are asserted as their msgids; the file stays Arabic."""
    client.get("/lang/en")


@pytest.fixture
def file_of(app, staff, full_service):
    """A beneficiary with something in every part of their file, and one uploaded document."""
    b = make_beneficiary(email="ahmad@example.org", birth_date=datetime.date(1985, 3, 1))
    HouseholdMember.create(beneficiary=b, name="فاطمة أحمد", relation="ابنة", id_type="national_id",
                           id_number="1000000016")
    consent.record(b, "contact_sms", False, "phone", staff["manager"], note="لا يريد رسائل")
    r = make_request(b, full_service, status="rejected", submitted_at=utcnow(), decision="rejected",
                     decision_reason=REASON, decided_at=utcnow(), decision_due=datetime.date(2026, 1, 15))
    question = IntakeQuestion.get(IntakeQuestion.service == full_service, IntakeQuestion.sensitive == True)  # noqa: E712
    IntakeAnswer.create(request=r, question=question, value="1500")
    VerificationVisit.create(request=r, method="field_visit", performed_at=utcnow(), findings=FINDING,
                             outcome="confirmed")
    Delivery.create(request=r, description="سلة غذائية", quantity=1)
    Referral.create(beneficiary=b, request=r, reason="لم يفهم الإجراءات")
    message = notifications.notify(b, "decision", request=r)
    kind = InteractionKind.get(InteractionKind.code == "complaint")
    interactions.create(staff["manager"], beneficiary=b, channel="phone", kind=kind, subject="تأخر الرد",
                        text="لم يصلني رد منذ شهر")
    SatisfactionSurvey.create(request=r, beneficiary=b, overall=2, speed=1, courtesy=4, clarity=3,
                              would_recommend=False, channel="phone", comment="بطء شديد")
    ProposedChange.create(beneficiary=b, field="city", recorded_value="بحرة", proposed_value="جدة")
    card = DocumentType.create(name_ar="صورة الهوية", name_en="ID copy")
    document = store_upload(PNG, "../../هوية أحمد.png", card, request=r, upload_dir=app.config["UPLOAD_DIR"],
                            max_bytes=10_000)
    return {"beneficiary": b, "request": r, "message": message, "document": document}


def _download(client, beneficiary):
    response = client.get(f"/admin/access/export/{beneficiary.id}")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_manager_downloads_the_complete_file_as_a_zip(client, login_as, file_of):
    """Issue 8, access: summary.html, data.json and the documents, from the beneficiary's page."""
    b = file_of["beneficiary"]
    login_as("manager")
    page = client.get(f"/admin/beneficiary/details/?id={b.id}").get_data(as_text=True)
    assert f"/admin/access/export/{b.id}" in page
    response = client.get(f"/admin/access/export/{b.id}")
    assert "attachment" in response.headers["Content-Disposition"]
    assert b.reference in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert {"summary.html", "data.json"} <= set(names)
    assert [n for n in names if n.startswith("documents/")] == [f"documents/{file_of['document'].id}-هوية_أحمد.png"]


def test_summary_is_arabic_and_holds_the_name_reason_finding_and_message(client, login_as, file_of):
    """The readable summary covers the file: the person, the decision's reason, a visit finding, a message sent."""
    login_as("manager")
    html = _download(client, file_of["beneficiary"]).read("summary.html").decode("utf-8")
    assert '<html lang="ar" dir="rtl">' in html
    for text in ("أحمد محمد", REASON, FINDING, file_of["message"].subject, file_of["request"].number,
                 "فاطمة أحمد", "لم يصلني رد منذ شهر", "بطء شديد", "1500", "سلة غذائية", "لم يفهم الإجراءات",
                 "لا يريد رسائل", "جدة", "ahmad@example.org", "050 123 4567"):
        assert text in html, text
    # Dates Hijri (Umm al-Qura) beside Gregorian: 1 March 1985 is 10 Jumada al-Akhirah 1405.
    assert "10/06/1405 هـ — 01/03/1985 م" in html


def test_summary_is_self_contained(client, login_as, file_of):
    """A download opened anywhere: its styles inside, no script, nothing fetched from elsewhere."""
    login_as("manager")
    html = _download(client, file_of["beneficiary"]).read("summary.html").decode("utf-8")
    assert "<style>" in html
    for outside in ("<script", "<link", "http://", "https://", "src="):
        assert outside not in html, outside


def test_data_json_has_every_part_of_the_file(client, login_as, file_of):
    login_as("manager")
    raw = _download(client, file_of["beneficiary"]).read("data.json")
    assert "أحمد محمد".encode() in raw  # UTF-8 as is, not \u escapes
    data = json.loads(raw)
    assert data["beneficiary"]["full_name"] == "أحمد محمد"
    assert data["beneficiary"]["birth_date"] == "1985-03-01"
    [request] = data["requests"]
    assert (request["number"], request["status"]) == (file_of["request"].number, "rejected")
    assert data["decisions"] == [{"request": request["number"], "service": "كفالة أسرية", "decision": "rejected",
                                  "reason": REASON, "decided_at": request["decided_at"]}]
    assert request["decided_at"].endswith("+00:00")
    assert [v["findings"] for v in data["visits"]] == [FINDING]
    [message] = data["messages"]
    assert (message["kind"], message["subject"], message["status"]) == ("decision", file_of["message"].subject,
                                                                         "queued")
    assert [a["value"] for a in data["intake_answers"]] == ["1500"]
    assert [c["given"] for c in data["consents"]] == [False]
    assert len(data["household"]) == len(data["interactions"]) == len(data["surveys"]) == 1
    assert len(data["deliveries"]) == len(data["referrals"]) == len(data["proposed_changes"]) == 1
    [document] = data["documents"]
    assert document["status"] == "included" and document["sha256"] == file_of["document"].sha256
    assert "stored_name" not in document  # the server's file name is nobody's business


def test_uploaded_document_bytes_are_in_the_zip_unchanged(client, login_as, file_of):
    login_as("manager")
    archive = _download(client, file_of["beneficiary"])
    [name] = [n for n in archive.namelist() if n.startswith("documents/")]
    assert archive.read(name) == PNG


def test_export_is_audited_with_the_counts(client, login_as, file_of):
    b = file_of["beneficiary"]
    login_as("manager")
    _download(client, b)
    [row] = AuditLog.select().where(AuditLog.action == "access_export")
    assert (row.actor, row.model, row.record_id) == ("manager", "Beneficiary", b.id)
    details = json.loads(row.details)
    assert details["counts"]["requests"] == 1 and details["counts"]["documents"] == 1
    assert details["counts"]["messages"] == 1 and details["missing_documents"] == []


@pytest.mark.parametrize("role", ["volunteer", "researcher", "board"])
def test_other_roles_are_refused(client, login_as, file_of, role):
    """Only admins and managers produce a complete file (role table); the others get 403 and no file."""
    b = file_of["beneficiary"]
    login_as(role)
    assert client.get(f"/admin/access/export/{b.id}").status_code == 403
    assert client.get("/admin/access/").status_code == 403
    page = client.get(f"/admin/beneficiary/details/?id={b.id}").get_data(as_text=True)
    assert "/admin/access/export/" not in page
    assert not AuditLog.select().where(AuditLog.action == "access_export").exists()


def test_missing_file_on_disk_is_reported_not_an_error(app, client, login_as, file_of):
    document = file_of["document"]
    stored_path(document, app.config["UPLOAD_DIR"]).unlink()
    login_as("manager")
    archive = _download(client, file_of["beneficiary"])
    assert not [n for n in archive.namelist() if n.startswith("documents/")]
    html = archive.read("summary.html").decode("utf-8")
    assert "هوية أحمد.png" in html and 'class="warning"' in html
    [entry] = json.loads(archive.read("data.json"))["documents"]
    assert (entry["status"], entry["file"]) == ("missing", None)
    row = AuditLog.get(AuditLog.action == "access_export")
    assert json.loads(row.details)["missing_documents"] == [document.id]


def test_a_file_changed_on_disk_is_included_and_flagged(app, client, login_as, file_of):
    path = stored_path(file_of["document"], app.config["UPLOAD_DIR"])
    path.write_bytes(PNG + b"tampered")
    login_as("manager")
    archive = _download(client, file_of["beneficiary"])
    [entry] = json.loads(archive.read("data.json"))["documents"]
    assert entry["status"] == "altered"
    assert archive.read(entry["file"]) == PNG + b"tampered"


def test_unknown_beneficiary_is_404(client, login_as, staff):
    login_as("manager")
    assert client.get("/admin/access/export/999").status_code == 404


def test_beneficiary_with_nothing_yet_gets_a_file_too(client, login_as, staff):
    b = make_beneficiary()
    login_as("admin")
    archive = _download(client, b)
    data = json.loads(archive.read("data.json"))
    assert data["requests"] == [] and data["documents"] == []
    assert "لا شيء بعد." in archive.read("summary.html").decode("utf-8")


def test_the_list_of_files_produced_shows_who_and_for_whom(client, login_as, file_of):
    b = file_of["beneficiary"]
    login_as("manager")
    _download(client, b)
    html = client.get("/admin/access/").get_data(as_text=True)
    assert b.reference in html and "manager" in html


def test_safe_names_keep_the_file_inside_its_folder():
    name = access.safe_name(7, "..\\..//etc/pass wd.PNG", "0" * 32 + ".png")
    assert name == "documents/7-pass_wd.PNG"
    assert access.safe_name(8, "", "0" * 32 + ".pdf") == "documents/8-document.pdf"
    assert access.safe_name(9, "scan.exe", "0" * 32 + ".jpg") == "documents/9-scan.exe.jpg"


def test_write_zip_refuses_a_role_without_the_capability(app, staff, tmp_path):
    b = make_beneficiary()
    with pytest.raises(PermissionDenied):
        access.write_zip(b, tmp_path, io.BytesIO(), staff["researcher"], render_summary)
    assert not AuditLog.select().where(AuditLog.action == "access_export").exists()


def test_documents_are_copied_chunk_by_chunk(app, staff, file_of, monkeypatch):
    """A document goes into the ZIP in pieces (here of 7 bytes), so a large one never sits in memory whole."""
    monkeypatch.setattr(access, "_CHUNK", 7)
    buffer = io.BytesIO()
    access.write_zip(file_of["beneficiary"], app.config["UPLOAD_DIR"], buffer, staff["admin"], render_summary)
    archive = zipfile.ZipFile(buffer)
    [name] = [n for n in archive.namelist() if n.startswith("documents/")]
    assert archive.read(name) == PNG
    assert json.loads(archive.read("data.json"))["documents"][0]["status"] == "included"
