"""The public portal (P2.4, P3 website): requests without disclosure, tracking without enumeration, protection, languages."""
import datetime
import re

import pytest
from conftest import make_beneficiary, make_request

from models import (
    AuditLog,
    Beneficiary,
    Document,
    IntakeAnswer,
    Interaction,
    Notification,
    ProposedChange,
    SatisfactionSurvey,
    ServiceRequest,
    SurveyInvitation,
    utcnow,
)
from services import proposed_changes

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

PERSON = dict(full_name="سارة علي", id_type="iqama", id_number="2000000014", nationality="YE", gender="female",
              mobile="0551234567", city="بحرة", attestation="y")


def apply(client, service, **overrides):
    """Send the portal's request form for a service; return the response."""
    data = {**PERSON, **overrides}
    return client.post(f"/portal/request/{service.id}", data={k: v for k, v in data.items() if v is not None},
                       content_type="multipart/form-data")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def latest_request() -> ServiceRequest:
    """Return the request the last submission created (the page never shows its number: issue 15)."""
    return ServiceRequest.select().order_by(ServiceRequest.id.desc()).first()


# ---- languages ---------------------------------------------------------------------------------
def test_portal_needs_no_login_and_is_arabic_right_to_left_by_default(client):
    """P2.4: the portal opens without an account, Arabic first."""
    for url in ("/portal/", "/portal/request", "/portal/track", "/portal/contact"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="ar" dir="rtl">' in text_of(response), url


def test_language_switch_gives_english_left_to_right_and_is_remembered(client):
    assert '<html lang="en" dir="ltr">' in text_of(client.get("/portal/?lang=en"))
    html = text_of(client.get("/portal/track"))
    assert '<html lang="en" dir="ltr">' in html
    assert "Track a request" in html


def test_urdu_is_right_to_left_once_listed_in_portal_languages(app, client):
    app.config["PORTAL_LANGUAGES"] = "ar,en,ur"
    html = text_of(client.get("/portal/?lang=ur"))
    assert '<html lang="ur" dir="rtl">' in html
    assert "اردو" in html  # the switcher names each language in itself


def test_a_language_not_listed_is_ignored(client):
    assert '<html lang="ar" dir="rtl">' in text_of(client.get("/portal/?lang=ur"))


def test_portal_language_does_not_change_the_panel(app, client):
    app.config["PORTAL_LANGUAGES"] = "ar,en,ur"
    client.get("/portal/?lang=ur")
    assert '<html lang="ar" dir="rtl">' in text_of(client.get("/login"))


# ---- submitting a request ----------------------------------------------------------------------
def test_request_lands_submitted_on_the_website_channel_and_its_number_goes_by_message(app, client, service):
    """P2.4, P5.4, P5.5: attestation by portal with time and IP; the number and decision date go out as the
    receipt message to the mobile on file (the page shows neither: it reads the same whatever is on file)."""
    client.get("/portal/?lang=en")
    response = apply(client, service)
    assert response.status_code == 200
    html = text_of(response)
    r = latest_request()
    assert (r.status, r.channel, r.attestation_method, r.attestation_ip) == ("submitted", "website", "portal",
                                                                             "127.0.0.1")
    assert r.attested_at is not None and r.decision_due is not None
    assert r.number not in html and "registered with the association" in html
    assert r.beneficiary.id_number == "2000000014" and r.beneficiary.mobile == "+966551234567"
    receipt = Notification.get((Notification.request == r) & (Notification.kind == "submission_receipt"))
    assert r.number in receipt.body
    log = AuditLog.get((AuditLog.action == "portal_request") & (AuditLog.record_id == r.id))
    assert log.ip == "127.0.0.1"


def test_intake_answers_and_a_png_document_are_stored_with_the_request(app, client, full_service):
    """P6.1, P6.2: the service's questions and required documents are on the form and kept."""
    page = text_of(client.get(f"/portal/request/{full_service.id}"))
    assert "الدخل الشهري" in page and "صورة الهوية" in page
    question = full_service.questions.order_by(full_service.questions.model.id).first()
    doc_type = full_service.required_documents.get().document_type
    import io
    apply(client, full_service, **{f"q{question.id}": "1500", f"doc{doc_type.id}": (io.BytesIO(PNG), "scan.png")})
    r = latest_request()
    assert IntakeAnswer.get(IntakeAnswer.request == r).value == "1500"
    document = Document.get(Document.request == r)
    assert document.content_type == "image/png" and document.original_name == "scan.png"


def test_required_question_left_empty_is_refused_with_a_message(client, full_service):
    client.get("/portal/?lang=en")
    response = apply(client, full_service)
    assert response.status_code == 200
    assert "Answer this question." in text_of(response)
    assert ServiceRequest.select().count() == 0


def test_upload_is_checked_by_its_content_not_its_name(app, client, full_service):
    """A text file named .png is refused; nothing is stored, no file is left behind."""
    import io
    from pathlib import Path
    question = full_service.questions.order_by(full_service.questions.model.id).first()
    doc_type = full_service.required_documents.get().document_type
    client.get("/portal/?lang=en")
    response = apply(client, full_service, **{f"q{question.id}": "1500",
                                               f"doc{doc_type.id}": (io.BytesIO(b"just some text"), "id.png")})
    assert response.status_code == 200
    assert "This file is not an allowed type." in text_of(response)
    assert (ServiceRequest.select().count(), Beneficiary.select().count(), Document.select().count()) == (0, 0, 0)
    assert not list(Path(app.config["UPLOAD_DIR"]).glob("*"))


def test_a_failure_late_in_the_submission_leaves_no_half_written_request_and_no_file(app, client, full_service):
    """One transaction: when the receipt cannot be queued, person, request, answers, document and file all go."""
    import io
    from pathlib import Path

    from models import NotificationTemplate
    NotificationTemplate.delete().where(NotificationTemplate.kind == "submission_receipt").execute()
    question = full_service.questions.order_by(full_service.questions.model.id).first()
    doc_type = full_service.required_documents.get().document_type
    response = apply(client, full_service, **{f"q{question.id}": "1500",
                                               f"doc{doc_type.id}": (io.BytesIO(PNG), "scan.png")})
    assert response.status_code == 200 and 'class="alert alert-danger"' in text_of(response)
    counts = [m.select().count() for m in (Beneficiary, ServiceRequest, IntakeAnswer, Document, Notification)]
    assert counts == [0, 0, 0, 0, 0]
    assert not list(Path(app.config["UPLOAD_DIR"]).glob("*"))


def test_attestation_is_required(client, service):
    """P5.4: no attestation, no request."""
    response = apply(client, service, attestation=None)
    assert response.status_code == 200
    assert ServiceRequest.select().count() == 0
    assert 'name="attestation"' in text_of(response)


def test_bad_id_number_gets_the_panels_message_and_stores_nothing(client, service):
    response = apply(client, service, id_number="2000000015")
    assert response.status_code == 200
    assert Beneficiary.select().count() == 0
    assert "is-invalid" in text_of(response)


# ---- an existing beneficiary: matched, never shown, never overwritten ---------------------------
def test_existing_beneficiary_is_matched_not_duplicated_and_nothing_on_file_is_shown(client, service):
    """P5.2: same ID → same beneficiary; what differs becomes proposed changes; the page shows nothing on file."""
    b = make_beneficiary(email="ahmad@example.org")
    response = apply(client, service, full_name="خالد عمر", id_type="national_id", id_number=b.id_number,
                     nationality="SA", gender="male", mobile="0559876543", city="جدة")
    html = text_of(response)
    r = latest_request()
    assert r.beneficiary_id == b.id and Beneficiary.select().count() == 1
    for on_file in (b.full_name, b.reference, "ahmad@example.org", "501234567", "050 123 4567", r.number):
        assert on_file not in html, on_file
    unchanged = Beneficiary.get_by_id(b.id)
    assert (unchanged.full_name, unchanged.mobile, unchanged.city) == ("أحمد محمد", "+966501234567", "بحرة")
    proposed = {c.field: (c.recorded_value, c.proposed_value) for c in ProposedChange.select()}
    assert proposed == {"full_name": ("أحمد محمد", "خالد عمر"), "mobile": ("+966501234567", "+966559876543"),
                        "city": ("بحرة", "جدة")}
    assert all(c.request_id == r.id and c.status == "pending" for c in ProposedChange.select())


def test_a_record_without_mobile_never_takes_the_typed_one_and_its_request_waits_as_draft(client, service):
    """Only staff give a record the mobile its messages go to; the empty gender is filled (nothing overwritten)."""
    b = make_beneficiary(mobile=None, gender=None)
    client.get("/portal/?lang=en")
    response = apply(client, service, full_name=b.full_name, id_type="national_id", id_number=b.id_number,
                     nationality="SA", gender="male", mobile="0559876543")
    r = ServiceRequest.get(ServiceRequest.beneficiary == b.id)
    assert (r.status, r.channel, r.attestation_method) == ("draft", "website", "portal")
    assert "a staff member contacts you" in text_of(response) and r.number not in text_of(response)
    record = Beneficiary.get_by_id(b.id)
    assert (record.mobile, record.gender) == (None, "male")
    assert ProposedChange.get(ProposedChange.field == "mobile").proposed_value == "+966559876543"


def test_a_spelling_variant_of_the_name_is_not_a_change(client, service):
    b = make_beneficiary()
    apply(client, service, full_name="احمد محمد", id_type="national_id", id_number=b.id_number, nationality="SA",
          gender="male", mobile="0501234567", city="بحرة")
    assert ProposedChange.select().count() == 0


# ---- the same reply whatever is on file (issue 15 item 1) ----------------------------------------
def test_the_reply_is_the_same_page_whatever_is_on_file(client, service):
    """The portal's rule: no reply of a public page differs according to what is on file. A new person, a
    known one, a known one with an open request for the service and a known one without a mobile all read
    exactly the same page, so typing an ID number tells nobody whether that person applied."""
    known = make_beneficiary()
    with_open = make_beneficiary(full_name="سالم علي", id_number="1000000016", mobile="0501234568")
    make_request(with_open, service, status="submitted")
    without_mobile = make_beneficiary(full_name="ليلى حسن", id_number="1000000024", mobile=None, gender="female")
    client.get("/portal/?lang=en")
    pages = {}
    for who, id_number in (("unknown", "1000000032"), ("known", known.id_number),
                           ("open request", with_open.id_number), ("no mobile", without_mobile.id_number)):
        response = apply(client, service, full_name="خالد عمر", id_type="national_id", id_number=id_number,
                         nationality="SA", gender="male", mobile="0559876543")
        assert response.status_code == 200, who
        pages[who] = text_of(response)
    assert len(set(pages.values())) == 1, {who: len(page) for who, page in pages.items()}
    page = pages["unknown"]
    assert "Your request was received" in page and "registered with the association" in page
    assert not re.search(r"REQ-\d{4}-\d{6}", page)
    assert "already" not in page.lower()


def test_a_second_submission_becomes_a_portal_change_on_the_open_request(app, client, login_as, full_service):
    """No second request: what the person typed again waits on the open one for staff to review."""
    import io
    b = make_beneficiary()
    existing = make_request(b, full_service, status="submitted")
    question = full_service.questions.order_by(full_service.questions.model.id).first()
    doc_type = full_service.required_documents.get().document_type
    response = apply(client, full_service, full_name=b.full_name, id_type="national_id", id_number=b.id_number,
                     nationality="SA", gender="male", mobile="0501234567", city="جدة",
                     **{f"q{question.id}": "900", f"doc{doc_type.id}": (io.BytesIO(PNG), "scan.png")})
    assert response.status_code == 200
    assert ServiceRequest.select().count() == 1
    assert ServiceRequest.get_by_id(existing.id).status == "submitted"
    assert IntakeAnswer.select().count() == 0  # the open request's answers are not overwritten
    document = Document.get()
    assert (document.beneficiary_id, document.request_id) == (b.id, None)  # on the file, for staff to match
    again = ProposedChange.get(ProposedChange.field == "resubmission")
    assert (again.beneficiary_id, again.request_id, again.status) == (b.id, existing.id, "pending")
    assert ProposedChange.get(ProposedChange.field == "city").request_id == existing.id
    assert AuditLog.get(AuditLog.action == "portal_request").record_id == existing.id
    login_as("manager")
    client.get("/lang/en")
    listing = text_of(client.get("/admin/proposedchange/"))
    assert "Sent again from the portal" in listing and existing.number in listing and "scan.png" in listing
    assert client.post(f"/admin/proposedchange/{again.id}/accept").status_code == 302
    assert ProposedChange.get_by_id(again.id).status == "accepted"
    assert Beneficiary.get_by_id(b.id).city == "بحرة"  # reviewing it changes nothing on file


def test_the_contact_form_reads_the_same_whether_or_not_the_id_is_on_file(client):
    """The contact form links a message to a file only when the ID and mobile match, and says nothing of it."""
    b = make_beneficiary()
    client.get("/portal/?lang=en")
    pages = []
    for id_number, mobile in ((b.id_number, "0501234567"), (b.id_number, "0559999999"), ("1000000032", "0501234567")):
        response = client.post("/portal/contact", data={"kind": "inquiry", "name": "سائل", "mobile": mobile,
                                                        "id_number": id_number, "text": "متى يفتح التسجيل؟"})
        assert response.status_code == 200
        pages.append(re.sub(r"INT-\d{4}-\d{6}", "INT-NUMBER", text_of(response)))
    assert pages[0] == pages[1] == pages[2]
    assert Interaction.select().where(Interaction.beneficiary == b.id).count() == 1


def test_staff_accept_applies_a_proposed_change_and_reject_leaves_the_record(client, login_as, service):
    """The portal proposes; a staff member who matched the data decides, audited (P5.2)."""
    b = make_beneficiary()
    apply(client, service, full_name="أحمد محمد", id_type="national_id", id_number=b.id_number, nationality="SA",
          gender="male", mobile="0559876543", city="جدة")
    mobile = ProposedChange.get(ProposedChange.field == "mobile")
    city = ProposedChange.get(ProposedChange.field == "city")
    login_as("manager")
    listing = text_of(client.get("/admin/proposedchange/"))
    assert "055 987 6543" in listing
    assert client.post(f"/admin/proposedchange/{mobile.id}/accept").status_code == 302
    assert client.post(f"/admin/proposedchange/{city.id}/reject").status_code == 302
    record = Beneficiary.get_by_id(b.id)
    assert (record.mobile, record.city) == ("+966559876543", "بحرة")
    assert ProposedChange.get_by_id(mobile.id).status == "accepted"
    assert ProposedChange.get_by_id(city.id).status == "rejected"
    assert AuditLog.select().where((AuditLog.action == "accept_change") & (AuditLog.actor == "manager")).exists()
    assert AuditLog.select().where((AuditLog.action == "update") & (AuditLog.model == "Beneficiary")
                                   & (AuditLog.actor == "manager")).exists()


def test_accepting_goes_through_the_panels_validation(staff, service):
    """A proposed ID clash or bad value is refused like a hand edit; the proposal stays pending."""
    b = make_beneficiary()
    change = ProposedChange.create(beneficiary=b, field="mobile", proposed_value="12345", recorded_value=b.mobile)
    with pytest.raises(proposed_changes.ValidationError):
        proposed_changes.accept(change, staff["manager"])
    assert ProposedChange.get_by_id(change.id).status == "pending"
    with pytest.raises(proposed_changes.PermissionDenied):
        proposed_changes.reject(change, staff["board"])


# ---- tracking -----------------------------------------------------------------------------------
def _track(client, number, id_number, mobile):
    return client.post("/portal/track", data={"request_number": number, "id_number": id_number, "mobile": mobile})


def test_tracking_shows_status_and_next_step_but_no_service_or_personal_data(client, service):
    """P2.4: status from where the beneficiary is; nothing else about the file."""
    client.get("/portal/?lang=en")
    r = make_request(make_beneficiary(), service, status="under_verification")
    html = text_of(_track(client, r.number, "1000000008", "4567"))
    assert "Under verification" in html and "Your information is being verified" in html
    for private in ("أحمد محمد", "Food basket", "سلة غذائية", "050 123 4567", "BEN-"):
        assert private not in html, private


def test_a_wrong_id_or_mobile_gets_exactly_the_answer_of_an_unknown_number(client, service):
    """No enumeration: a miss never tells whether the request number exists."""
    r = make_request(make_beneficiary(), service, status="submitted")
    unknown = _track(client, "REQ-2026-999999", "1000000016", "0000")
    wrong_id = _track(client, r.number, "1000000016", "4567")
    wrong_mobile = _track(client, r.number, "1000000008", "0000")
    assert unknown.status_code == wrong_id.status_code == wrong_mobile.status_code == 200
    assert text_of(unknown) == text_of(wrong_id) == text_of(wrong_mobile)
    assert r.number not in text_of(wrong_id)
    assert AuditLog.select().where(AuditLog.action == "portal_track").count() == 3


def test_tracking_takes_arabic_digits_and_a_whole_mobile(client, service):
    r = make_request(make_beneficiary(), service, status="submitted")
    html = text_of(_track(client, r.number.lower(), "١٠٠٠٠٠٠٠٠٨", "0501234567"))
    assert 'id="track-result"' in html and "alert-warning" not in html


# ---- protection ---------------------------------------------------------------------------------
def test_posts_are_rate_limited_per_ip_with_a_friendly_page(app, client, service):
    """Flask-Limiter: past PORTAL_POST_LIMIT the address gets 429 and an Arabic page, and nothing is stored."""
    app.config["PORTAL_POST_LIMIT"] = "2 per minute"
    for _ in range(2):
        assert client.post("/portal/contact", data={}).status_code == 200
    response = apply(client, service)
    assert response.status_code == 429
    html = text_of(response)
    assert '<html lang="ar" dir="rtl">' in html and 'id="too-many"' in html
    assert ServiceRequest.select().count() == 0
    other = client.post("/portal/contact", data={}, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 200


def test_tracking_is_rate_limited(app, client):
    app.config["PORTAL_TRACK_LIMIT"] = "3 per minute"
    statuses = [_track(client, "REQ-2026-000001", "1000000008", "4567").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/portal/track").status_code == 200  # reading the form is not limited


def test_honeypot_filled_looks_like_success_but_stores_nothing(client, service):
    response = apply(client, service, homepage="http://spam.example")
    assert response.status_code == 200
    assert 'class="h4 text-success"' in text_of(response)
    assert (Beneficiary.select().count(), ServiceRequest.select().count()) == (0, 0)
    assert AuditLog.get(AuditLog.action == "portal_spam").ip == "127.0.0.1"
    client.post("/portal/contact", data={"kind": "inquiry", "name": "x", "mobile": "0501234567", "text": "buy",
                                         "homepage": "x"})
    assert Interaction.select().count() == 0


def test_csrf_is_required_on_portal_forms(app, client, service):
    app.config["WTF_CSRF_ENABLED"] = True
    response = apply(client, service)
    assert response.status_code == 400
    assert 'id="form-expired"' in text_of(response)
    assert ServiceRequest.select().count() == 0


# ---- inquiries, suggestions, complaints -----------------------------------------------------------
def test_contact_form_records_an_interaction_on_the_website_channel(client):
    """P2.3, P2.7: a message from the portal is numbered and has a response due date."""
    page = text_of(client.get("/portal/contact"))
    assert "استفسار" in page and "شكوى" in page
    response = client.post("/portal/contact", data={"kind": "complaint", "name": "فاطمة", "mobile": "0551112222",
                                                    "text": "تأخر الرد على طلبي"})
    interaction = Interaction.get()
    assert (interaction.channel, interaction.kind.code, interaction.contact_phone) == ("website", "complaint",
                                                                                       "+966551112222")
    assert interaction.number in text_of(response)


# ---- satisfaction survey -------------------------------------------------------------------------
def _invitation(service, **overrides):
    r = make_request(make_beneficiary(language="en"), service, status="delivered")
    data = dict(request=r, beneficiary=r.beneficiary, token="t" * 43, language="en",
                expires_at=utcnow() + datetime.timedelta(days=30))
    data.update(overrides)
    return SurveyInvitation.create(**data)


def test_survey_link_opens_in_the_beneficiarys_language_and_works_once(client, service):
    """P2.5: one-time link; rating the service is the beneficiary's right."""
    invitation = _invitation(service)
    page = text_of(client.get(f"/portal/survey/{invitation.token}"))
    assert '<html lang="en" dir="ltr">' in page and invitation.request.number in page
    answers = {"overall": "4", "speed": "3", "courtesy": "5", "clarity": "4", "would_recommend": "yes",
               "comment": "شكرا"}
    done = client.post(f"/portal/survey/{invitation.token}", data=answers)
    assert "Thank you for your rating" in text_of(done)
    survey = SatisfactionSurvey.get()
    assert (survey.overall, survey.would_recommend, survey.channel, survey.ip) == (4, True, "portal", "127.0.0.1")
    again = text_of(client.get(f"/portal/survey/{invitation.token}"))
    assert 'data-reason="used"' in again
    assert SatisfactionSurvey.select().count() == 1


def test_expired_or_unknown_survey_link_gives_a_clear_message(client, service):
    invitation = _invitation(service, expires_at=utcnow() - datetime.timedelta(minutes=1))
    expired = client.get(f"/portal/survey/{invitation.token}")
    assert expired.status_code == 200 and 'data-reason="expired"' in text_of(expired)
    posted = client.post(f"/portal/survey/{invitation.token}", data={"overall": "5"})
    assert 'data-reason="expired"' in text_of(posted) and SatisfactionSurvey.select().count() == 0
    assert 'data-reason="unknown"' in text_of(client.get("/portal/survey/not-a-token"))
