"""The request's case file and the workflow bulk actions over HTTP (policy P5, P6)."""
import datetime
import decimal
import json

import pytest
from conftest import make_beneficiary, make_request

from models import (
    AuditLog,
    Delivery,
    Document,
    DocumentType,
    EvaluationCriterion,
    IntakeAnswer,
    MethodWaiver,
    Referral,
    ServiceRequest,
    VerificationVisit,
    utcnow,
)
from models.notification import Notification
from services import eligibility, workflow


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def _case(client, r):
    return client.get(f"/admin/servicerequest/details/?id={r.id}").get_data(as_text=True)


def _post(client, r, step, **data):
    response = client.post(f"/admin/servicerequest/case/{r.id}/{step}", data=data, follow_redirects=True)
    return response.get_data(as_text=True)


def _reload(r):
    return ServiceRequest.get_by_id(r.id)


def _question(label_en):
    from models import IntakeQuestion
    return IntakeQuestion.get(IntakeQuestion.label_en == label_en)


def _document(r):
    return Document.create(request=r, document_type=DocumentType.get(name_en="ID copy"), original_name="id.png",
                           stored_name=f"x{r.id}", content_type="image/png", size=10, sha256="0" * 64)


def _ready_for_decision(r, staff):
    """Bring a submitted request to evaluation with a complete evaluation, as the researcher."""
    researcher = staff["researcher"]
    eligibility.verify_document(_document(r), researcher)
    VerificationVisit.create(request=r, method="interview", outcome="confirmed", performed_by=researcher)
    workflow.change_status(r, "under_verification", researcher)
    workflow.change_status(r, "under_evaluation", researcher)
    for criterion in EvaluationCriterion.select().where(EvaluationCriterion.service == r.service_id):
        eligibility.assess(r, criterion, True, None, researcher)
    eligibility.recommend(r, "approve", None, researcher)
    return _reload(r)


@pytest.fixture
def volunteer_draft(full_service, staff):
    b = make_beneficiary()
    return make_request(b, full_service, created_by="volunteer", researcher=staff["researcher"],
                        attestation_method=None, attestation_version=None, attested_at=None)


def test_volunteer_answers_attests_and_submits_and_is_told_what_to_say(client, login_as, volunteer_draft):
    """P6.1, P5.4, P5.5: answers typed with Arabic-Indic digits, the attestation, then the receipt to read out."""
    login_as("volunteer")
    html = _case(client, volunteer_draft)
    assert "Monthly income" in html and "has not been taken" in html
    q = _question("Monthly income")
    _post(client, volunteer_draft, "answers", **{f"q{q.id}": "٣٥٠٠"})
    assert IntakeAnswer.get(IntakeAnswer.question == q).value == "3500"
    _post(client, volunteer_draft, "attest", attestation_method="in_person")
    html = _post(client, volunteer_draft, "submit")
    r = _reload(volunteer_draft)
    assert r.status == "submitted" and r.attested_by.username == "volunteer"
    assert f"request number {r.number}" in html
    assert r.decision_due.strftime("%d/%m/%Y") in html
    receipt = Notification.get(Notification.request == r)
    assert receipt.kind == "submission_receipt" and receipt.status == "queued"


def test_submission_without_the_required_answer_is_refused_and_names_it(client, login_as, volunteer_draft):
    """P5.2: nothing is submitted while a required answer is missing."""
    login_as("volunteer")
    _post(client, volunteer_draft, "attest", attestation_method="in_person")
    html = _post(client, volunteer_draft, "submit")
    assert "cannot be submitted yet" in html and "الدخل الشهري" in html
    assert _reload(volunteer_draft).status == "draft"
    assert not Notification.select().exists()


def test_a_bad_answer_is_explained_and_nothing_is_saved(client, login_as, volunteer_draft):
    login_as("volunteer")
    q, remark = _question("Monthly income"), _question("Remarks")
    html = _post(client, volunteer_draft, "answers", **{f"q{q.id}": "three thousand", f"q{remark.id}": "x"})
    assert "needs a number" in html
    assert not IntakeAnswer.select().exists()


def test_volunteer_cannot_change_a_submitted_request_from_the_case_file(client, login_as, volunteer_draft):
    ServiceRequest.update(status="submitted").where(ServiceRequest.id == volunteer_draft.id).execute()
    login_as("volunteer")
    q = _question("Monthly income")
    html = _post(client, volunteer_draft, "answers", **{f"q{q.id}": "1"})
    assert "A volunteer changes a request only while it is a draft." in html
    assert not IntakeAnswer.select().exists()


def test_documents_gate_names_the_missing_document_then_verification_opens_it(client, login_as, staff,
                                                                            volunteer_draft):
    """P6.2: moving on is refused while a required document is missing, naming it."""
    ServiceRequest.update(status="submitted").where(ServiceRequest.id == volunteer_draft.id).execute()
    login_as("researcher")
    html = _post(client, volunteer_draft, "status", status="under_verification")
    assert "صورة الهوية" in html and _reload(volunteer_draft).status == "submitted"
    doc = _document(volunteer_draft)
    html = _post(client, volunteer_draft, "verify-document", document=doc.id)
    assert "marked verified" in html
    # Every required document verified: the administrative review counts as confirmed (P6.5).
    assert VerificationVisit.get(VerificationVisit.request == volunteer_draft).method == "document_review"
    _post(client, volunteer_draft, "status", status="under_verification")
    assert _reload(volunteer_draft).status == "under_verification"


def test_verifying_a_document_of_another_request_is_refused(client, login_as, staff, volunteer_draft, full_service):
    other = make_request(make_beneficiary(id_number="1000000016", mobile="0501234568"), full_service,
                         researcher=staff["researcher"])
    doc = _document(other)
    login_as("researcher")
    html = _post(client, volunteer_draft, "verify-document", document=doc.id)
    assert "Choose a document of this request." in html
    assert Document.get_by_id(doc.id).verified_at is None


def test_manager_waives_a_method_with_a_reason_and_evaluation_opens(client, login_as, staff, volunteer_draft):
    """P6.5: evaluation waits for every required method unless a manager waives it in writing."""
    r = volunteer_draft
    ServiceRequest.update(status="under_verification").where(ServiceRequest.id == r.id).execute()
    eligibility.verify_document(_document(r), staff["researcher"])
    login_as("researcher")
    html = _post(client, r, "status", status="under_evaluation")
    assert "still required: Personal interview" in html
    assert client.post(f"/admin/servicerequest/case/{r.id}/waive", data={"method": "interview",
                                                                         "reason": "x"}).status_code == 403
    login_as("manager")
    html = _post(client, r, "waive", method="interview", reason="")
    assert "A waiver needs a written reason." in html
    _post(client, r, "waive", method="interview", reason="الأسرة معروفة للجمعية منذ سنوات")
    assert MethodWaiver.get().waived_by.username == "manager"
    login_as("researcher")
    _post(client, r, "status", status="under_evaluation")
    assert _reload(r).status == "under_evaluation"


def test_researcher_assesses_recommends_and_manager_decides_with_a_reason(client, login_as, staff,
                                                                         volunteer_draft):
    """P6.3, P6.4: criteria, recommendation, then a reasoned decision that notifies the beneficiary."""
    r = volunteer_draft
    eligibility.verify_document(_document(r), staff["researcher"])
    VerificationVisit.create(request=r, method="interview", outcome="confirmed", performed_by=staff["researcher"],
                             performed_at=utcnow())
    ServiceRequest.update(status="under_evaluation").where(ServiceRequest.id == r.id).execute()
    criterion = EvaluationCriterion.get()
    login_as("researcher")
    html = _post(client, r, "recommend", recommendation="reject")
    assert "Assess every criterion" in html
    _post(client, r, "assess", **{f"c{criterion.id}": "0", f"note{criterion.id}": "الدخل أعلى من الحد"})
    _post(client, r, "recommend", recommendation="reject", note="لا تنطبق الشروط")
    assert client.post(f"/admin/servicerequest/case/{r.id}/decide",
                       data={"decision": "rejected", "reason": "x"}).status_code == 403
    login_as("manager")
    html = _post(client, r, "decide", decision="rejected", reason="")
    assert "A rejection needs a reason" in html and _reload(r).status == "under_evaluation"
    _post(client, r, "decide", decision="rejected", reason="الدخل أعلى من حد الكفاية")
    r = _reload(r)
    assert (r.status, r.decision, r.decided_by.username) == ("rejected", "rejected", "manager")
    assert Notification.get(Notification.request == r).kind == "decision"


def test_a_manager_who_verified_the_request_cannot_decide_it(client, login_as, staff, volunteer_draft):
    """P6.6: separation of duties."""
    r = volunteer_draft
    ServiceRequest.update(status="submitted").where(ServiceRequest.id == r.id).execute()
    r = _ready_for_decision(_reload(r), staff)
    VerificationVisit.create(request=r, method="field_visit", outcome="confirmed", performed_by=staff["manager"])
    login_as("manager")
    html = _post(client, r, "decide", decision="approved")
    assert "another manager must decide" in html
    assert _reload(r).status == "under_evaluation"


def test_delivery_with_arabic_digits_moves_the_request_to_delivered(client, login_as, staff, volunteer_draft):
    """P5.7: deliveries are rows; the first one moves the request on."""
    r = volunteer_draft
    ServiceRequest.update(status="approved", decision="approved", decided_at=utcnow()).where(
        ServiceRequest.id == r.id).execute()
    login_as("researcher")
    html = _post(client, r, "deliver", description="سلة غذائية", amount="abc")
    assert "Enter a number." in html and not Delivery.select().exists()
    _post(client, r, "deliver", description="سلة غذائية", quantity="٢", amount="١٥٠٫٥")
    delivery = Delivery.get()
    assert (delivery.quantity, delivery.amount) == (decimal.Decimal("2"), decimal.Decimal("150.5"))
    assert _reload(r).status == "delivered"
    login_as("volunteer")
    assert client.post(f"/admin/servicerequest/case/{r.id}/deliver",
                       data={"description": "x"}).status_code == 403


def test_visit_scheduled_from_the_case_file_tells_the_beneficiary(client, login_as, staff, volunteer_draft):
    r = volunteer_draft
    ServiceRequest.update(status="under_verification").where(ServiceRequest.id == r.id).execute()
    login_as("researcher")
    html = _post(client, r, "visit", method="interview", scheduled_at="not a date")
    assert "YYYY-MM-DD HH:MM" in html and not VerificationVisit.select().exists()
    _post(client, r, "visit", method="interview", scheduled_at="٢٠٢٦-١٢-٠١T10:30", notify="1")
    visit = VerificationVisit.get()
    # Typed in Riyadh time (UTC+3), stored in UTC.
    assert visit.scheduled_at == datetime.datetime(2026, 12, 1, 7, 30)
    assert Notification.get(Notification.request == r).kind == "visit_appointment"


def test_referral_reaches_the_researchers_worklist_and_is_answered(client, login_as, staff, volunteer_draft):
    """P5.3: any staff member refers; the social researcher answers and explains."""
    r = volunteer_draft
    login_as("volunteer")
    html = _post(client, r, "refer", reason="لم يفهم شروط الكفالة")
    assert "referred to the social researcher" in html
    referral = Referral.get()
    assert referral.researcher.username == "researcher"  # the request's researcher by default
    login_as("researcher")
    home = client.get("/admin/").get_data(as_text=True)
    assert "لم يفهم شروط الكفالة" in home
    login_as("volunteer")
    assert client.post(f"/admin/referral/answer/{referral.id}", data={"answer": "x"}).status_code == 403
    login_as("researcher")
    client.post(f"/admin/referral/answer/{referral.id}", data={"answer": "شرحت له الشروط والمستندات"})
    assert Referral.get().status == "answered"
    assert "لم يفهم شروط الكفالة" not in client.get("/admin/").get_data(as_text=True)


def test_board_sees_the_case_file_without_answers_or_forms(client, login_as, staff, volunteer_draft):
    eligibility.save_answers(volunteer_draft, {_question("Monthly income").id: "3500"}, staff["volunteer"])
    login_as("board")
    html = _case(client, volunteer_draft)
    assert volunteer_draft.number in html
    assert "3500" not in html and "أحمد" not in html
    assert "/case/" not in html


# ---- bulk actions ------------------------------------------------------------------------
def _bulk(client, kind, rows, **data):
    return client.post("/admin/servicerequest/bulk/apply/", data={"kind": kind, "rowid": [r.id for r in rows],
                                                                 **data}, follow_redirects=True)


def test_bulk_decide_decides_the_ready_rows_and_lists_the_refused_with_the_reason(client, login_as, staff,
                                                                                full_service):
    """P6.4 in bulk: one reason for all; each row checked as a single decision."""
    rows = []
    for n, id_number in enumerate(("1000000008", "1000000016", "1000000024")):
        b = make_beneficiary(id_number=id_number, mobile=f"050123456{n}")
        rows.append(make_request(b, full_service, status="submitted", researcher=staff["researcher"]))
    ready = [_ready_for_decision(r, staff) for r in rows[:2]]
    incomplete = rows[2]  # verified, but not evaluated
    eligibility.verify_document(_document(incomplete), staff["researcher"])
    VerificationVisit.create(request=incomplete, method="interview", outcome="confirmed",
                             performed_by=staff["researcher"], performed_at=utcnow())
    ServiceRequest.update(status="under_evaluation").where(ServiceRequest.id == incomplete.id).execute()
    login_as("manager")
    html = _bulk(client, "decide", ready + [incomplete], decision="rejected", reason="").get_data(as_text=True)
    assert html.count("A rejection needs a reason") == 1 and "requests were changed" not in html
    html = _bulk(client, "decide", ready + [incomplete], decision="approved", reason="").get_data(as_text=True)
    assert "2 requests were changed." in html
    assert f"{incomplete.number}: The evaluation is not complete" in html
    assert {r.id: r.status for r in ServiceRequest.select()} == {
        ready[0].id: "approved", ready[1].id: "approved", incomplete.id: "under_evaluation"}
    assert Notification.select().where(Notification.kind == "decision").count() == 2
    summary = AuditLog.get((AuditLog.action == "bulk") & AuditLog.details.contains('"decide"'))
    assert json.loads(summary.details)["refused"] == {str(incomplete.id): "The evaluation is not complete: every "
                                                      "criterion must be assessed and a recommendation given."}


def test_bulk_decide_is_refused_to_researchers(client, login_as, staff, service):
    r = make_request(make_beneficiary(), service, status="under_evaluation", researcher=staff["researcher"])
    login_as("researcher")
    assert _bulk(client, "decide", [r], decision="approved").status_code == 403


def test_bulk_schedule_visits_skips_drafts_with_the_reason(client, login_as, staff, service):
    b = make_beneficiary()
    open_rows = [make_request(b, service, status="submitted"), make_request(b, service, status="under_verification")]
    draft = make_request(b, service)
    login_as("manager")
    html = _bulk(client, "visits", open_rows + [draft], method="field_visit",
                 scheduled_at="2026-12-02 09:00").get_data(as_text=True)
    assert "2 requests were changed." in html
    assert f"{draft.number}: Not possible while the request is “Draft”: “Schedule a verification visit”" in html
    assert sorted(v.request_id for v in VerificationVisit.select()) == sorted(r.id for r in open_rows)
    assert Notification.select().where(Notification.kind == "visit_appointment").count() == 2


def test_bulk_message_is_queued_per_beneficiary_and_refused_to_volunteers(client, login_as, staff, service):
    b = make_beneficiary()
    rows = [make_request(b, service, status="awaiting_documents", created_by="volunteer") for _ in range(2)]
    login_as("volunteer")
    assert _bulk(client, "notify", rows, message="missing_documents").status_code == 403
    login_as("manager")
    html = _bulk(client, "notify", rows, message="missing_documents").get_data(as_text=True)
    assert "2 requests were changed." in html
    assert Notification.select().where(Notification.kind == "missing_documents").count() == 2


# ---- home worklists --------------------------------------------------------------------
def test_researcher_home_lists_my_requests_by_due_date_and_this_weeks_visits(client, login_as, staff, service):
    b = make_beneficiary()
    later = make_request(b, service, status="submitted", researcher=staff["researcher"],
                         decision_due=datetime.date(2027, 1, 20))
    sooner = make_request(b, service, status="submitted", researcher=staff["researcher"],
                          decision_due=datetime.date(2027, 1, 5))
    not_mine = make_request(b, service, status="submitted")
    VerificationVisit.create(request=sooner, method="field_visit", scheduled_at=utcnow() + datetime.timedelta(hours=1))
    login_as("researcher")
    html = client.get("/admin/").get_data(as_text=True)
    assert html.index(sooner.number) < html.index(later.number)
    assert not_mine.number not in html
    visits = html[html.index("Visits this week"):]
    assert sooner.number in visits and "Field visit" in visits


def test_manager_home_counts_awaiting_decision_and_overdue_with_links(client, login_as, staff, service):
    b = make_beneficiary()
    make_request(b, service, status="under_evaluation")
    make_request(b, service, status="submitted", decision_due=datetime.date(2020, 1, 1))
    login_as("manager")
    html = client.get("/admin/").get_data(as_text=True)
    assert "flt_status_equals=under_evaluation" in html and "Awaiting decision" in html
    assert "flt_overdue_is=1" in html and "Overdue requests" in html


@pytest.mark.parametrize("action, kind", [("assign_researcher", "assign"), ("change_status", "status"),
                                          ("schedule_visits", "visits"), ("decide", "decide"),
                                          ("send_notification", "notify")])
def test_each_bulk_action_asks_for_confirmation_with_the_count(client, login_as, service, action, kind):
    b = make_beneficiary()
    rows = [make_request(b, service, status="submitted") for _ in range(3)]
    login_as("manager")
    response = client.post("/admin/servicerequest/action/", data={
        "action": action, "rowid": [r.id for r in rows], "url": "/admin/servicerequest/"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "3 requests selected." in html
    assert f'name="kind" value="{kind}"' in html and html.count('name="rowid"') == 3


def test_messages_sent_by_hand_exclude_the_receipt_and_the_survey_link(client, login_as, service):
    """The receipt and the survey invitation go out by themselves; staff cannot send them by hand."""
    r = make_request(make_beneficiary(), service, status="submitted")
    login_as("manager")
    for kind in ("survey_invitation", "submission_receipt"):
        html = _bulk(client, "notify", [r], message=kind).get_data(as_text=True)
        assert "Choose the message to send." in html
        assert "Choose the message to send." in _post(client, r, "notify", kind=kind)
    assert not Notification.select().exists()
