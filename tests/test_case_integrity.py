"""Case integrity (issue 14): every path that writes a case obeys the same rules (P6.2–P6.6).

The eight holes found by trying the product, each reproduced here first; reopening a decision; the
models' last line of defence; the rules table the README shows.
"""
import datetime
import json
from pathlib import Path

import pytest

from models import (
    AuditLog,
    CriterionAssessment,
    Document,
    IntakeAnswer,
    IntakeQuestion,
    MethodWaiver,
    Notification,
    Recommendation,
    RequestTransition,
    ServiceRequest,
    SurveyInvitation,
    VerificationVisit,
    case_guard,
    utcnow,
)
from models.errors import CaseWriteRefused
from services import eligibility, evidence, notifications, surveys, workflow
from services.dates import to_local
from services.errors import PermissionDenied, TransitionRefused

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def _post(client, url, **data):
    return client.post(url, data=data, follow_redirects=True).get_data(as_text=True)


def _case(client, r, step, **data):
    return _post(client, f"/admin/servicerequest/case/{r.id}/{step}", **data)


def _reload(row):
    return type(row).get_by_id(row.id)


def _local(moment: datetime.datetime) -> str:
    """A stored UTC time as a form types it (Riyadh time)."""
    return to_local(moment).strftime("%Y-%m-%d %H:%M")


def _visit(r, method):
    return VerificationVisit.get((VerificationVisit.request == r) & (VerificationVisit.method == method))


# ---- 1. a volunteer confirms a field visit --------------------------------------------------------------
def test_1_the_request_form_has_no_inline_visits_that_a_volunteer_could_confirm(client, login_as, case_at):
    """P6.5: the request form offered visit rows with their outcome to volunteers; now it offers no visits."""
    r = case_at("draft")
    login_as("volunteer")
    page = client.get(f"/admin/servicerequest/edit/?id={r.id}").get_data(as_text=True)
    assert 'name="channel"' in page and "visits-0-" not in page
    before = VerificationVisit.select().count()
    client.post(f"/admin/servicerequest/edit/?id={r.id}", data={
        "beneficiary": r.beneficiary_id, "service": r.service_id, "channel": "interview",
        "visits-0-method": "field_visit", "visits-0-outcome": "confirmed", "visits-0-performed_at": "2026-01-01 10:00",
        "visits-0-performed_by": "1"})
    assert VerificationVisit.select().count() == before
    assert not VerificationVisit.select().where(VerificationVisit.outcome == "confirmed").exists()


def test_1_a_volunteer_sets_no_outcome_on_the_visits_screen_or_the_case_file(client, login_as, case_at, staff):
    """The role table: volunteers record visits; the outcome that counts is for researchers and managers."""
    r = case_at("under_verification")
    field = _visit(r, "field_visit")
    VerificationVisit.update(created_by="volunteer").where(VerificationVisit.id == field.id).execute()  # hers
    login_as("volunteer")
    page = client.get(f"/admin/verificationvisit/edit/?id={field.id}").get_data(as_text=True)
    assert 'name="outcome"' not in page and 'name="performed_at"' in page
    client.post(f"/admin/verificationvisit/edit/?id={field.id}", data={
        "method": "field_visit", "performed_at": _local(utcnow() - datetime.timedelta(hours=1)),
        "performed_by": staff["volunteer"].id, "outcome": "confirmed"})
    field = _reload(field)
    assert field.performed_by_id == staff["volunteer"].id and field.outcome is None  # recorded, not confirmed
    html = _case(client, r, "record-visit", visit=field.id, performed_at=_local(field.performed_at),
                 outcome="confirmed")
    assert "Your role records visits but does not set the outcome that counts." in html
    assert _reload(field).outcome is None


def test_1_the_models_refuse_an_outcome_written_around_the_rules(case_at, strict_cases):
    """The last line of defence: a save that passed no gate is refused, with a clear message, not stored."""
    r = case_at("under_verification")
    field = _visit(r, "field_visit")
    field.outcome, field.performed_at = "confirmed", utcnow()
    with pytest.raises(CaseWriteRefused) as err:
        field.save()
    assert "must go through its rules" in str(err.value)
    assert _reload(field).outcome is None


# ---- 2. evidence changes after the decision ---------------------------------------------------------------
def test_2_evidence_is_frozen_once_decided(client, login_as, case_at):
    """P6.3/P6.4: after approval, a criterion and an intake answer cannot change: what the decision rests on stays."""
    r = case_at("approved")
    login_as("researcher")
    criterion = CriterionAssessment.get(CriterionAssessment.request == r).criterion
    html = _case(client, r, "assess", **{f"c{criterion.id}": "0"})
    assert "The request is decided (Approved): what the decision rests on cannot change." in html
    income = IntakeQuestion.get(IntakeQuestion.label_en == "Monthly income")
    html = _case(client, r, "answers", **{f"q{income.id}": "99000"})
    assert "The request is decided (Approved)" in html
    assert CriterionAssessment.get(CriterionAssessment.request == r).met is True
    assert IntakeAnswer.get((IntakeAnswer.request == r) & (IntakeAnswer.question == income)).value == "1000"
    assert _reload(r).status == "approved"


# ---- 3. the decision does not re-check verification ------------------------------------------------------
def test_3_a_visit_cannot_be_unconfirmed_once_the_request_is_under_evaluation(client, login_as, case_at):
    r = case_at("under_evaluation")
    interview = _visit(r, "interview")
    login_as("researcher")
    client.post(f"/admin/verificationvisit/edit/?id={interview.id}", data={
        "method": "interview", "performed_at": _local(interview.performed_at), "outcome": "not_confirmed"})
    assert _reload(interview).outcome == "confirmed"


def test_3_the_decision_checks_every_gate_again_when_it_is_made(client, login_as, case_at):
    """P6.5: the interview's outcome changed after the request reached evaluation: the approval is refused."""
    r = case_at("under_evaluation")
    VerificationVisit.update(outcome="not_confirmed").where(
        (VerificationVisit.request == r) & (VerificationVisit.method == "interview")).execute()
    login_as("manager")
    html = _case(client, r, "decide", decision="approved", reason="")
    assert "Verification is not complete; still required: Personal interview." in html
    r = _reload(r)
    assert (r.status, r.decision) == ("under_evaluation", None)
    assert not Notification.select().where(Notification.kind == "decision").exists()


# ---- 4. evaluation before verification --------------------------------------------------------------------
@pytest.mark.parametrize("status", ["submitted", "under_verification"])
def test_4_evaluation_waits_for_verification(client, login_as, case_at, status):
    """P6.3 after P6.5: criteria and the recommendation only once the request is under evaluation."""
    r = case_at(status)
    criterion = r.service.criteria.get()
    login_as("researcher")
    html = _case(client, r, "assess", **{f"c{criterion.id}": "1"})
    assert "Waiting for verification: the evaluation starts once every required method is confirmed" in html
    html = _case(client, r, "recommend", recommendation="approve")
    assert "Waiting for verification" in html
    assert not CriterionAssessment.select().where(CriterionAssessment.request == r).exists()
    assert not Recommendation.select().where(Recommendation.request == r).exists()


# ---- 5. separation of duties -----------------------------------------------------------------------------
def test_5_the_waiver_giver_does_not_decide(client, login_as, case_at, staff):
    r = case_at("under_evaluation")
    MethodWaiver.create(request=r, method="interview", reason="الأسرة معروفة", waived_by=staff["manager"])
    login_as("manager")
    html = _case(client, r, "decide", decision="approved", reason="")
    assert "You took part in this case (you waived one of its verification methods)" in html
    assert _reload(r).status == "under_evaluation"


def test_5_the_recommender_does_not_decide(client, login_as, case_at, staff):
    r = case_at("under_evaluation")
    Recommendation.update(given_by=staff["manager"]).where(Recommendation.request == r).execute()
    login_as("manager")
    html = _case(client, r, "decide", decision="approved", reason="")
    assert "you made its recommendation" in html and _reload(r).status == "under_evaluation"


def test_5_every_part_of_the_case_keeps_its_taker_from_deciding(case_at, staff):
    """The registrar, a document's verifier, a visit's recorder, performer or outcome-setter, the waiver-giver
    and the recommender are all kept from the decision (P6.6)."""
    manager = staff["manager"]
    for arrange in (
            lambda: ServiceRequest.update(created_by="manager").where(ServiceRequest.id == r.id).execute(),
            lambda: Document.update(verified_by=manager).where(Document.request == r).execute(),
            lambda: VerificationVisit.update(performed_by=manager).where(VerificationVisit.request == r).execute(),
            lambda: VerificationVisit.update(outcome_by=manager).where(VerificationVisit.request == r).execute(),
            lambda: VerificationVisit.update(updated_by="manager").where(VerificationVisit.request == r).execute(),
            lambda: Recommendation.update(given_by=manager).where(Recommendation.request == r).execute()):
        r = case_at("under_evaluation")
        arrange()
        with pytest.raises(PermissionDenied):
            eligibility.decide(_reload(r), "approved", None, manager)
        assert _reload(r).status == "under_evaluation"


def test_5_an_admin_who_took_part_decides_only_with_a_written_reason_flagged(client, login_as, case_at, staff):
    r = case_at("under_evaluation")
    Recommendation.update(given_by=staff["admin"]).where(Recommendation.request == r).execute()
    login_as("admin")
    html = _case(client, r, "decide", decision="approved", reason="")
    assert "An admin may still decide it, with a written reason" in html
    assert _reload(r).status == "under_evaluation"
    _case(client, r, "decide", decision="approved", reason="", override_reason="المديرون في إجازة")
    r = _reload(r)
    assert (r.status, r.decision_override_reason) == ("approved", "المديرون في إجازة")
    flagged = AuditLog.get((AuditLog.action == "flagged_decision") & (AuditLog.record_id == r.id))
    assert json.loads(flagged.details)["override"] == "المديرون في إجازة"
    page = client.get(f"/admin/servicerequest/details/?id={r.id}").get_data(as_text=True)
    assert 'id="override-flag"' in page and "المديرون في إجازة" in page


# ---- 6. a visit performed in the future -------------------------------------------------------------------
def test_6_a_visit_cannot_be_recorded_as_performed_in_the_future(client, login_as, case_at, staff):
    r = case_at("under_verification")
    field = _visit(r, "field_visit")
    performed = field.performed_at
    tomorrow = _local(utcnow() + datetime.timedelta(days=1))
    login_as("researcher")
    html = _post(client, "/admin/verificationvisit/new/", request=r.id, method="interview", performed_at=tomorrow,
                 performed_by=staff["researcher"].id, outcome="confirmed")
    assert "A visit cannot be recorded as performed in the future." in html
    assert not VerificationVisit.select().where((VerificationVisit.request == r)
                                                & (VerificationVisit.method == "interview")).exists()
    html = _post(client, f"/admin/verificationvisit/edit/?id={field.id}", method="field_visit", performed_at=tomorrow,
                 performed_by=staff["researcher"].id, outcome="confirmed")
    assert "A visit cannot be recorded as performed in the future." in html
    html = _case(client, r, "record-visit", visit=field.id, performed_at=tomorrow, outcome="confirmed")
    assert "A visit cannot be recorded as performed in the future." in html
    field = _reload(field)
    assert (field.performed_at, field.outcome) == (performed, None)


# ---- 7. two ways to verify a document ---------------------------------------------------------------------
def test_7_the_documents_list_records_the_document_review_like_the_case_file(client, login_as, case_at, staff):
    r = case_at("awaiting_documents")
    card = Document.get((Document.request == r) & (Document.verified_at.is_null()) &
                        (Document.original_name == "id.png"))
    assert "document_review" in evidence.missing_verifications(r)
    login_as("manager")
    client.post("/admin/document/action/", data={"action": "verify", "rowid": [card.id]})
    assert _reload(card).verified_by_id == staff["manager"].id
    assert "document_review" not in evidence.missing_verifications(r)
    assert _visit(r, "document_review").outcome_by_id == staff["manager"].id
    # The verifier took part in the case: they may not decide it (P6.6).
    assert "manager" in eligibility.parts_taken(r)["verified_document"]


def test_7_a_verified_document_is_not_verified_again(client, login_as, case_at, staff):
    r = case_at("under_verification")
    card = Document.get((Document.request == r) & (Document.original_name == "id.png"))
    login_as("manager")
    html = _case(client, r, "verify-document", document=card.id)
    assert "The document was already verified." in html
    card = _reload(card)
    assert card.verified_by_id == staff["researcher"].id  # who verified it, and when, stay


# ---- 8. saving the request form rewrites its visits --------------------------------------------------------
def test_8_saving_a_form_rewrites_nothing_nobody_touched(client, login_as, case_at):
    r = case_at("under_verification")
    review = _visit(r, "document_review")
    seconds = review.performed_at.replace(second=37, microsecond=123456)
    VerificationVisit.update(performed_at=seconds).where(VerificationVisit.id == review.id).execute()
    version = _reload(review).version
    login_as("manager")
    client.post(f"/admin/servicerequest/edit/?id={r.id}", data={
        "beneficiary": r.beneficiary_id, "service": r.service_id, "channel": "interview",
        "researcher": r.researcher_id, "notes": "ملاحظة جديدة"})
    assert _reload(r).notes == "ملاحظة جديدة"
    # The visits screen shows minutes: sent back unchanged, the stored seconds stay.
    page = client.get(f"/admin/verificationvisit/edit/?id={review.id}").get_data(as_text=True)
    assert to_local(seconds).strftime("%Y-%m-%dT%H:%M") in page
    client.post(f"/admin/verificationvisit/edit/?id={review.id}", data={
        "method": "document_review", "performed_at": to_local(seconds).strftime("%Y-%m-%d %H:%M"),
        "outcome": "confirmed", "findings": review.findings or ""})
    review = _reload(review)
    assert (review.performed_at, review.version) == (seconds, version)


# ---- reopening a decided request ---------------------------------------------------------------------------
def test_a_manager_reopens_an_approved_request_with_a_reason(client, login_as, case_at, staff):
    r = case_at("approved")
    queued = notifications.notify(r.beneficiary, "decision", request=r)
    login_as("manager")
    html = _case(client, r, "reopen", reason="")
    assert "Reopening a decided request needs a written reason." in html and _reload(r).status == "approved"
    _case(client, r, "reopen", reason="وصلت معلومات جديدة")
    r = _reload(r)
    assert (r.status, r.decision, r.decided_by_id) == ("under_evaluation", None, None)
    step = RequestTransition.get((RequestTransition.request == r) & (RequestTransition.to_status == "under_evaluation"))
    assert (step.from_status, step.note, step.by) == ("approved", "وصلت معلومات جديدة", "manager")
    log = AuditLog.get((AuditLog.action == "reopen") & (AuditLog.record_id == r.id))
    assert json.loads(log.changes)["decision"] == ["approved", None]  # the old decision stays in the history
    assert _reload(queued).status == "superseded"  # never sent
    assert not Notification.select().where(Notification.kind == "review_reopened").exists()
    # The evidence opens again for the evaluation: the researcher reassesses.
    login_as("researcher")
    criterion = r.service.criteria.get()
    _case(client, r, "assess", **{f"c{criterion.id}": "0"})
    assert CriterionAssessment.get(CriterionAssessment.request == r).met is False


def test_a_sent_decision_is_followed_by_the_review_notice_and_the_survey_stays(case_at, staff):
    r = case_at("rejected")
    sent = notifications.notify(r.beneficiary, "decision", request=r)
    Notification.update(status="sent", sent_at=utcnow()).where(Notification.id == sent.id).execute()
    invitation = surveys.invite(r, staff["manager"])
    eligibility.reopen(r, "خطأ في احتساب الدخل", staff["manager"])
    assert _reload(sent).status == "sent"
    notice = Notification.get(Notification.kind == "review_reopened")
    assert notice.request_id == r.id and r.number in notice.body
    assert SurveyInvitation.get_by_id(invitation.id) is not None


@pytest.mark.parametrize("status", ["delivered", "closed", "under_evaluation", "withdrawn"])
def test_only_an_approved_or_rejected_request_is_reopened(case_at, staff, status):
    r = case_at(status)
    with pytest.raises(TransitionRefused):
        eligibility.reopen(r, "سبب", staff["manager"])
    assert _reload(r).status == status


def test_researchers_do_not_reopen(case_at, staff):
    r = case_at("approved")
    with pytest.raises(PermissionDenied):
        eligibility.reopen(r, "سبب", staff["researcher"])


# ---- the case file guides ------------------------------------------------------------------------------------
def test_the_case_file_says_what_comes_next_who_takes_it_and_why_not_you(client, login_as, case_at):
    r = case_at("approved")
    login_as("researcher")
    page = client.get(f"/admin/servicerequest/details/?id={r.id}").get_data(as_text=True)
    assert "Next step" in page and "Deliver the service and record what was delivered." in page
    assert "Decided. To change what the decision rests on, a manager reopens the request with a reason." in page
    assert "Your role cannot do this: Reopen a decided request." in page  # why not them
    r = case_at("under_evaluation")
    page = client.get(f"/admin/servicerequest/details/?id={r.id}").get_data(as_text=True)
    assert "Decide: approve or reject." in page and "Who can take it: Administrator, Manager" in page
    assert "not: researcher user, volunteer user" in page  # they took part


def test_the_manager_assigns_and_the_researcher_records_the_outcome_right_in_the_case_file(client, login_as,
                                                                                           case_at, staff):
    r = case_at("under_verification")
    other = ServiceRequest.update(researcher=None).where(ServiceRequest.id == r.id).execute()
    assert other == 1
    login_as("manager")
    page = client.get(f"/admin/servicerequest/details/?id={r.id}").get_data(as_text=True)
    assert 'id="assign"' in page
    assert "The researcher was assigned." in _case(client, r, "assign", researcher=staff["researcher"].id)
    login_as("researcher")
    field = _visit(r, "field_visit")
    when = utcnow() - datetime.timedelta(hours=3)
    html = _case(client, r, "record-visit", visit=field.id, performed_at=_local(when), findings="السقف متهالك",
                 outcome="confirmed", performed_by=staff["researcher"].id)
    assert "The visit was recorded." in html
    field = _reload(field)
    assert (field.outcome, field.outcome_by_id, field.findings) == ("confirmed", staff["researcher"].id,
                                                                    "السقف متهالك")


# ---- the models' last line of defence -------------------------------------------------------------------------
CASE_MODELS = [m for m in __import__("models").ALL_MODELS if issubclass(m, case_guard.CaseRecord)]


def test_every_table_of_a_case_is_guarded():
    assert {m.__name__ for m in CASE_MODELS} == {
        "ServiceRequest", "RequestTransition", "Document", "VerificationVisit", "IntakeAnswer",
        "CriterionAssessment", "Recommendation", "MethodWaiver", "Delivery", "Referral"}


def test_writes_around_the_gate_are_refused_in_every_form(case_at, strict_cases):
    r = case_at("under_verification")
    for write in (lambda: ServiceRequest.update(status="approved").where(ServiceRequest.id == r.id).execute(),
                  lambda: VerificationVisit.delete().where(VerificationVisit.request == r).execute(),
                  lambda: MethodWaiver.insert_many([{"request": r.id, "method": "interview", "reason": "x"}]).execute(),
                  lambda: IntakeAnswer.get(IntakeAnswer.request == r).delete_instance(),
                  lambda: CriterionAssessment.create(request=r, criterion=r.service.criteria.get(), met=True)):
        with pytest.raises(CaseWriteRefused):
            write()
    assert _reload(r).status == "under_verification"
    assert VerificationVisit.select().where(VerificationVisit.request == r).count() == 2
    # What is not the case may change: the number, when the beneficiary was told.
    ServiceRequest.update(notified_at=utcnow()).where(ServiceRequest.id == r.id).execute()
    with workflow.exempt("retention"):
        ServiceRequest.update(notes=None).where(ServiceRequest.id == r.id).execute()
    with pytest.raises(KeyError), workflow.exempt("tidying up"):
        pass


def test_a_status_skips_its_guards_only_inside_an_exemption(case_at, staff, strict_cases):
    r = case_at("submitted")
    with pytest.raises(TransitionRefused):
        workflow.change_status(r, "under_verification", staff["manager"], check_guards=False)
    with workflow.exempt("import"):
        workflow.change_status(r, "under_verification", staff["manager"], check_guards=False)
    assert _reload(r).status == "under_verification"


# ---- the rules table, generated into the README -------------------------------------------------------------
def test_the_readme_shows_the_rules_table_and_the_exemptions_of_the_code():
    text = README.read_text(encoding="utf-8")
    assert workflow.rules_table_markdown() in text
    assert workflow.exemptions_markdown() in text


def test_every_rule_names_a_capability_of_the_role_table_and_real_states():
    from services.roles import PERMISSIONS
    for rule in workflow.WRITE_RULES:
        assert rule.capability in PERMISSIONS, rule.operation
        assert rule.states <= workflow.ALL_STATUSES | {workflow.NEW}, rule.operation
        assert "board" not in PERMISSIONS[rule.capability], rule.operation  # the board changes no case
    decided = {"approved", "rejected", "delivered", "closed"}
    evidence = [r for r in workflow.WRITE_RULES if r.operation.split(".")[0] in
                ("request", "document", "visit", "verification", "evaluation")
                and r.operation not in ("request.notes", "request.assign", "request.create")]
    assert evidence and all(not (r.states & decided) for r in evidence)  # frozen once decided


def test_a_refusal_is_translated_with_its_parameters(case_at, staff, app):
    """The state, the operation and the list of states reach Arabic too (issue 18's (missing) leak)."""
    from flask_babel import force_locale, gettext
    r = case_at("draft")
    with pytest.raises(TransitionRefused) as err:
        eligibility.schedule_visit(r, "interview", utcnow(), staff["researcher"])
    with app.test_request_context(), force_locale("ar"):
        text = err.value.translate(gettext)
    assert "مسودة" in text and "جدولة زيارة تحقق" in text and "draft" not in text.lower()
