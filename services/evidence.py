"""What a case's file shows now, and the guards of the workflow's transitions built on it (policy P5, P6).

Read-only: every function here reads the request's evidence (answers, attestation, documents, visits,
waivers, assessments, the recommendation, the decision, deliveries) and says what is missing; a guard
raises TransitionRefused naming it. services.workflow registers each guard with its transition, and
services.eligibility and the case file read the same checks, so a step and its guard never disagree.
"""
from models import (
    CriterionAssessment,
    Delivery,
    Document,
    EvaluationCriterion,
    IntakeAnswer,
    IntakeQuestion,
    MethodWaiver,
    Recommendation,
    ServiceDocumentType,
    ServiceRequest,
    VerificationVisit,
)
from models.choices import VISIT_METHODS

from .errors import N_, Term, Terms, TransitionRefused


# ---- submission (P5.2, P5.4) ------------------------------------------------------------------------
def missing_answers(request: ServiceRequest) -> list[IntakeQuestion]:
    """Return the required active questions of the service that the request has not answered."""
    answered = {a.question_id for a in IntakeAnswer.select().where((IntakeAnswer.request == request) &
                                                                   (IntakeAnswer.value != ""))}
    return [q for q in IntakeQuestion.select().where((IntakeQuestion.service == request.service_id) &
                                                     (IntakeQuestion.required == True) &  # noqa: E712
                                                     (IntakeQuestion.active == True))  # noqa: E712
            .order_by(IntakeQuestion.position, IntakeQuestion.id) if q.id not in answered]


def submission_problems(request: ServiceRequest) -> list[str]:
    """Return what still prevents submitting the request, as translatable messages."""
    problems = []
    b = request.beneficiary
    if not b.gender:
        problems.append(N_("The beneficiary's gender is missing."))
    if not b.mobile:
        problems.append(N_("The beneficiary's mobile number is missing."))
    for q in missing_answers(request):
        problems.append(q.label_ar)
    if not request.attested_at:
        problems.append(N_("The applicant's attestation that the data is correct has not been taken."))
    return problems


def guard_submit(request: ServiceRequest, actor) -> None:
    """Refuse submission while personal fields, required answers or the attestation are missing."""
    problems = submission_problems(request)
    if problems:
        # Each problem is a message id (or a question's own label): translated one by one where shown.
        raise TransitionRefused(N_("The request cannot be submitted yet: %(missing)s."),
                                missing=Terms(Term(p) for p in problems))


# ---- documents (P6.2) -------------------------------------------------------------------------
def documents_of(request: ServiceRequest):
    """Return the documents the request's checklist counts: filed on it, or on its beneficiary."""
    return Document.select().where(
        (Document.request == request) | ((Document.beneficiary == request.beneficiary_id) & Document.request.is_null()))


def document_checklist(request: ServiceRequest) -> list[tuple[object, str]]:
    """Return (document type, 'missing' | 'received' | 'verified') for each required document."""
    required = [sd.document_type for sd in ServiceDocumentType.select().where(
        ServiceDocumentType.service == request.service_id)]
    docs = list(documents_of(request))
    result = []
    for doc_type in required:
        of_type = [d for d in docs if d.document_type_id == doc_type.id]
        state = "verified" if any(d.verified_at for d in of_type) else "received" if of_type else "missing"
        result.append((doc_type, state))
    return result


def guard_documents(request: ServiceRequest, actor) -> None:
    """Refuse moving on while a required document is missing or unverified, naming which."""
    checklist = document_checklist(request)
    missing = [t.name_ar for t, state in checklist if state == "missing"]
    received = [t.name_ar for t, state in checklist if state == "received"]
    if missing or received:
        # Names only: a state's code ("missing") would reach the page untranslated (issue 18).
        raise TransitionRefused(N_("Required documents are not all verified. Missing: %(documents)s. "
                                   "Received, not verified yet: %(received)s."),
                                documents="، ".join(missing) or "–", received="، ".join(received) or "–")


# ---- verification (P6.5) ----------------------------------------------------------------------
def missing_verifications(request: ServiceRequest) -> list[str]:
    """Return the required methods without a confirmed visit or a waiver."""
    confirmed = {v.method for v in VerificationVisit.select(VerificationVisit.method).where(
        (VerificationVisit.request == request) & (VerificationVisit.outcome == "confirmed"))}
    waived = {w.method for w in MethodWaiver.select(MethodWaiver.method).where(MethodWaiver.request == request)}
    return [m for m in request.service.required_methods() if m not in confirmed | waived]


def guard_verification(request: ServiceRequest, actor) -> None:
    """Refuse evaluation until every required method is confirmed or waived."""
    guard_documents(request, actor)
    missing = missing_verifications(request)
    if missing:
        raise TransitionRefused(N_("Verification is not complete; still required: %(methods)s."),
                                methods=Terms(Term(dict(VISIT_METHODS)[m]) for m in missing))


# ---- evaluation (P6.3) and decision (P6.4) -------------------------------------------------------
def unassessed_criteria(request: ServiceRequest) -> list[EvaluationCriterion]:
    """Return the service's active criteria not yet assessed for the request."""
    done = {a.criterion_id for a in CriterionAssessment.select().where(
        (CriterionAssessment.request == request) & CriterionAssessment.met.is_null(False))}
    return [c for c in EvaluationCriterion.select().where((EvaluationCriterion.service == request.service_id) &
                                                          (EvaluationCriterion.active == True))  # noqa: E712
            if c.id not in done]


def evaluation_complete(request: ServiceRequest) -> bool:
    """Return whether every criterion is assessed and a recommendation given."""
    return not unassessed_criteria(request) and Recommendation.select().where(
        Recommendation.request == request).exists()


def check_ready_for_decision(request: ServiceRequest, actor) -> None:
    """Check every gate again at the moment of deciding: documents, verification, evaluation (P6.5, P6.3).

    Evidence could have changed since the request reached evaluation (a visit edited elsewhere, a
    waiver withdrawn): the decision rests on what the file shows now, not on what it showed then.
    """
    guard_verification(request, actor)
    if not evaluation_complete(request):
        raise TransitionRefused(N_("The evaluation is not complete: every criterion must be assessed and a "
                                   "recommendation given."))


def guard_decision(request: ServiceRequest, actor) -> None:
    """Refuse approved/rejected unless decide() has recorded that decision first."""
    if request.decision is None or request.decided_at is None:
        raise TransitionRefused(N_("Approval or rejection is a decision: use “Decide”, which records the reason."))


def guard_reopen(request: ServiceRequest, actor) -> None:
    """Refuse going back from a decision except through reopen(), which records the reason."""
    if request.decision is not None:
        raise TransitionRefused(N_("A decided request goes back to evaluation through “Reopen”, with a written "
                                   "reason."))


# ---- delivery (P5.7) -----------------------------------------------------------------------
def guard_delivered(request: ServiceRequest, actor) -> None:
    """Refuse delivered until a delivery is recorded."""
    if not Delivery.select().where(Delivery.request == request).exists():
        raise TransitionRefused(N_("Record what was delivered; the request then moves to delivered."))
