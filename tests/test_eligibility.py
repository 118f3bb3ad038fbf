"""The eligibility workflow's rules (policy P5, P6), tested without HTTP."""
import datetime
import decimal

import pytest
from conftest import make_beneficiary, make_request

from models import (
    AuditLog,
    Delivery,
    Document,
    DocumentType,
    EvaluationCriterion,
    IntakeQuestion,
    MethodWaiver,
    RequestTransition,
    User,
    VerificationVisit,
)
from services import eligibility, evidence, workflow
from services.errors import PermissionDenied, TransitionRefused, ValidationError


@pytest.fixture
def draft(full_service, staff):
    b = make_beneficiary(gender="male")
    return make_request(b, full_service, created_by="volunteer", researcher=staff["researcher"],
                        attestation_method=None, attestation_version=None, attested_at=None)


def _answer_income(request, value="3500"):
    q = IntakeQuestion.get(label_en="Monthly income")
    eligibility.save_answers(request, {q.id: value}, User.get(User.username == "admin"))


def _add_document(request, verified_by=None):
    doc = Document.create(request=request, document_type=DocumentType.get(name_en="ID copy"), original_name="id.png",
                          stored_name=f"x{request.id}", content_type="image/png", size=10, sha256="0" * 64)
    if verified_by:
        eligibility.verify_document(doc, verified_by)
    return doc


def _submitted(request, staff):
    _answer_income(request)
    eligibility.take_attestation(request, "in_person", actor=staff["volunteer"])
    return eligibility.submit(request, staff["volunteer"])


def test_answers_are_normalised_by_kind(draft):
    """P6.1: a number typed with Arabic-Indic digits is stored as a number."""
    _answer_income(draft, "٣٥٠٠")
    assert draft.answers.get().value == "3500"


def test_a_number_answer_with_arabic_separators_is_stored_as_a_number(draft):
    """«١٬٥٠٠٫٥»: the Arabic thousands separator and decimal point, as an Arabic keyboard types them."""
    _answer_income(draft, "١٬٥٠٠٫٥")
    assert draft.answers.get().value == "1500.5"


def test_a_non_number_answer_to_a_number_question_is_refused(draft):
    with pytest.raises(ValidationError) as err:
        _answer_income(draft, "كثير")
    assert "needs a number" in err.value.message


def test_submit_is_refused_until_answers_and_attestation_are_there(draft, staff):
    """P5.2, P5.4, P6.1: required answers and the attestation come before submission."""
    with pytest.raises(TransitionRefused) as err:
        eligibility.submit(draft, staff["volunteer"])
    assert "الدخل الشهري" in str(err.value.params["missing"])
    assert draft.status == "draft"
    _answer_income(draft)
    with pytest.raises(TransitionRefused):
        eligibility.submit(draft, staff["volunteer"])


def test_submit_needs_the_beneficiarys_gender_and_mobile(full_service, staff):
    b = make_beneficiary(gender=None, mobile=None)
    r = make_request(b, full_service, created_by="volunteer")
    _answer_income(r)
    eligibility.take_attestation(r, "phone", actor=staff["volunteer"])
    with pytest.raises(TransitionRefused) as err:
        eligibility.submit(r, staff["volunteer"])
    assert "gender" in str(err.value) and "mobile" in str(err.value)


def test_submit_returns_the_number_and_the_due_date(draft, staff):
    """P5.5: the beneficiary is told the request number and when the decision is due."""
    receipt = _submitted(draft, staff)
    assert receipt.number == draft.number
    assert receipt.decision_due - draft.submitted_at.date() in (datetime.timedelta(days=21), datetime.timedelta(days=22))
    assert draft.attestation_version == eligibility.ATTESTATION_VERSION and draft.attested_by_id == staff["volunteer"].id


def test_portal_attestation_records_the_ip_and_no_staff_member(draft):
    """P5.4: a portal attestation keeps the IP address, not a staff member."""
    from services.portal import APPLICANT
    draft.created_by = APPLICANT.username  # registered on the portal
    draft.save()
    eligibility.take_attestation(draft, "portal", APPLICANT, ip="203.0.113.9")
    assert draft.attestation_ip == "203.0.113.9" and draft.attested_by is None


def test_document_gate_names_the_missing_document(draft, staff):
    """P6.2: moving on is refused while a required document is missing or unverified."""
    _submitted(draft, staff)
    with pytest.raises(TransitionRefused) as err:
        workflow.change_status(draft, "under_verification", staff["researcher"])
    assert "صورة الهوية" in err.value.params["documents"]
    _add_document(draft)
    with pytest.raises(TransitionRefused):
        workflow.change_status(draft, "under_verification", staff["researcher"])
    assert evidence.document_checklist(draft)[0][1] == "received"


def test_verifying_every_document_confirms_the_document_review(draft, staff):
    """P6.5: when every required document is verified, the administrative review counts as confirmed."""
    _submitted(draft, staff)
    _add_document(draft, verified_by=staff["researcher"])
    visit = VerificationVisit.get(request=draft, method="document_review")
    assert visit.outcome == "confirmed"
    workflow.change_status(draft, "under_verification", staff["researcher"])
    assert draft.status == "under_verification"


def test_a_volunteer_cannot_verify_documents(draft, staff):
    doc = _add_document(draft)
    with pytest.raises(PermissionDenied):
        eligibility.verify_document(doc, staff["volunteer"])


def test_evaluation_waits_for_every_required_method(draft, staff):
    """P6.5: evaluation is refused until the interview is confirmed."""
    _submitted(draft, staff)
    _add_document(draft, verified_by=staff["researcher"])
    workflow.change_status(draft, "under_verification", staff["researcher"])
    with pytest.raises(TransitionRefused) as err:
        workflow.change_status(draft, "under_evaluation", staff["researcher"])
    assert "Personal interview" in err.value.params["methods"]  # named by its label, translated where shown
    VerificationVisit.create(request=draft, method="interview", outcome="not_confirmed")
    with pytest.raises(TransitionRefused):
        workflow.change_status(draft, "under_evaluation", staff["researcher"])
    VerificationVisit.create(request=draft, method="interview", outcome="confirmed", performed_by=staff["researcher"])
    workflow.change_status(draft, "under_evaluation", staff["researcher"])
    assert draft.status == "under_evaluation"


def test_a_manager_can_waive_a_method_with_a_reason(draft, staff):
    _submitted(draft, staff)
    with pytest.raises(PermissionDenied):
        eligibility.waive_method(draft, "interview", "known family", staff["researcher"])
    with pytest.raises(ValidationError):
        eligibility.waive_method(draft, "interview", "  ", staff["manager"])
    eligibility.waive_method(draft, "interview", "الأسرة معروفة للجمعية", staff["manager"])
    assert evidence.missing_verifications(draft) == ["document_review"]
    assert AuditLog.select().where(AuditLog.action == "waiver").count() == 1
    assert MethodWaiver.get().waived_by_id == staff["manager"].id


def _evaluated(request, staff, recommendation="approve"):
    _submitted(request, staff)
    _add_document(request, verified_by=staff["researcher"])
    workflow.change_status(request, "under_verification", staff["researcher"])
    VerificationVisit.create(request=request, method="interview", outcome="confirmed", performed_by=staff["researcher"])
    workflow.change_status(request, "under_evaluation", staff["researcher"])
    eligibility.assess(request, EvaluationCriterion.get(), True, "دخل منخفض", staff["researcher"])
    eligibility.recommend(request, recommendation, None, staff["researcher"])
    return request


def test_recommendation_needs_every_criterion_assessed(draft, staff):
    """P6.3: the researcher marks each criterion before recommending (and only under evaluation)."""
    with pytest.raises(TransitionRefused):
        eligibility.recommend(draft, "approve", None, staff["researcher"])
    _submitted(draft, staff)
    _add_document(draft, verified_by=staff["researcher"])
    workflow.change_status(draft, "under_verification", staff["researcher"])
    VerificationVisit.create(request=draft, method="interview", outcome="confirmed", performed_by=staff["researcher"])
    workflow.change_status(draft, "under_evaluation", staff["researcher"])
    with pytest.raises(ValidationError):
        eligibility.recommend(draft, "approve", None, staff["researcher"])


def test_decision_refused_while_the_evaluation_is_incomplete(draft, staff):
    """P6.4: no decision without a complete evaluation."""
    _submitted(draft, staff)
    with pytest.raises(TransitionRefused):
        eligibility.decide(draft, "approved", None, staff["manager"])


def test_manager_approves_and_the_transition_is_recorded(draft, staff):
    _evaluated(draft, staff)
    eligibility.decide(draft, "approved", None, staff["manager"])
    assert draft.status == "approved" and draft.decision == "approved" and draft.decided_by_id == staff["manager"].id
    assert RequestTransition.select().where(RequestTransition.to_status == "approved").count() == 1


def test_rejection_needs_a_reason(draft, staff):
    _evaluated(draft, staff, "reject")
    with pytest.raises(ValidationError):
        eligibility.decide(draft, "rejected", "", staff["manager"])
    eligibility.decide(draft, "rejected", "الدخل أعلى من الحد", staff["manager"])
    assert draft.status == "rejected" and draft.decision_reason == "الدخل أعلى من الحد"


def test_researchers_and_volunteers_cannot_decide(draft, staff):
    _evaluated(draft, staff)
    for role in ("researcher", "volunteer", "board"):
        with pytest.raises(PermissionDenied):
            eligibility.decide(draft, "approved", None, staff[role])


def test_moving_to_approved_without_a_decision_is_refused(draft, staff):
    """The status alone cannot approve: a decision (with its fields) must be taken."""
    _evaluated(draft, staff)
    with pytest.raises(TransitionRefused):
        workflow.change_status(draft, "approved", staff["manager"])


def test_separation_of_duties(draft, staff):
    """P6.6: a manager who verified the request cannot decide it; an admin can, flagged."""
    _evaluated(draft, staff)
    VerificationVisit.create(request=draft, method="field_visit", performed_by=staff["manager"], outcome="confirmed")
    with pytest.raises(PermissionDenied):
        eligibility.decide(draft, "approved", None, staff["manager"])
    eligibility.decide(draft, "approved", None, staff["admin"])
    assert AuditLog.select().where(AuditLog.action == "flagged_decision").count() == 1


def test_deliveries_move_an_approved_request_to_delivered(draft, staff):
    """P5.7: deliveries are rows; monthly aid is many."""
    with pytest.raises(TransitionRefused):
        eligibility.record_delivery(draft, "سلة", staff["researcher"])
    _evaluated(draft, staff)
    eligibility.decide(draft, "approved", None, staff["manager"])
    eligibility.record_delivery(draft, "كفالة شهر محرم", staff["researcher"], amount=500)
    eligibility.record_delivery(draft, "كفالة شهر صفر", staff["researcher"], amount=500)
    assert draft.status == "delivered" and Delivery.select().count() == 2
    workflow.change_status(draft, "closed", staff["researcher"])
    assert draft.status == "closed"


def test_a_delivery_amount_typed_with_arabic_separators_is_stored_as_a_number(draft, staff):
    _evaluated(draft, staff)
    eligibility.decide(draft, "approved", None, staff["manager"])
    eligibility.record_delivery(draft, "كفالة", staff["researcher"], amount="١٬٥٠٠٫٥", quantity="٢")
    delivery = Delivery.get()
    assert (delivery.amount, delivery.quantity) == (decimal.Decimal("1500.5"), decimal.Decimal("2"))
