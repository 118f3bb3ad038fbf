"""Eligibility verification (policy P5, P6): intake answers, attestation, documents, verification, evaluation, decision."""
import datetime
import decimal
from dataclasses import dataclass

from models import (CriterionAssessment, Delivery, Document, EvaluationCriterion, IntakeAnswer, IntakeQuestion,
                    MethodWaiver, Recommendation, ServiceDocumentType, ServiceRequest, VerificationVisit, db, utcnow)
from models.choices import VISIT_METHODS, codes

from . import audit
from .errors import N_, PermissionDenied, TransitionRefused, ValidationError
from .normalize import clean_text, to_ascii_digits
from .roles import can, is_flagged

ATTESTATION_VERSION = "1"
_YES = {"yes", "y", "true", "1", "نعم"}
_NO = {"no", "n", "false", "0", "لا"}


# ---- intake answers (P6.1) ------------------------------------------------------------
def clean_answer(question: IntakeQuestion, raw) -> str:
    """Return an answer normalised for its question's kind, or raise ValidationError."""
    value = clean_text(to_ascii_digits(str(raw))) if raw is not None else ""
    if not value:
        return ""
    if question.kind == "number":
        try:
            decimal.Decimal(value.replace(",", "").replace("٫", "."))
        except decimal.InvalidOperation:
            raise ValidationError(N_("“%(question)s” needs a number."), field=f"q{question.id}",
                                  question=question.label_ar)
        return value.replace(",", "").replace("٫", ".")
    if question.kind == "yes_no":
        if value.lower() in _YES:
            return "yes"
        if value.lower() in _NO:
            return "no"
        raise ValidationError(N_("“%(question)s” needs yes or no."), field=f"q{question.id}", question=question.label_ar)
    if question.kind == "choice" and value not in question.option_list():
        raise ValidationError(N_("“%(question)s” needs one of the listed options."), field=f"q{question.id}",
                              question=question.label_ar)
    if question.kind == "date":
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ValidationError(N_("“%(question)s” needs a date (YYYY-MM-DD)."), field=f"q{question.id}",
                                  question=question.label_ar)
    return value


def save_answers(request: ServiceRequest, answers: dict[int, object]) -> None:
    """Store a request's answers (question id → typed value) in one transaction."""
    questions = {q.id: q for q in IntakeQuestion.select().where(IntakeQuestion.service == request.service_id)}
    cleaned = {}
    for qid, raw in answers.items():
        if int(qid) not in questions:
            raise ValidationError(N_("This question does not belong to the request's service."))
        cleaned[int(qid)] = clean_answer(questions[int(qid)], raw)
    with db.atomic():
        for qid, value in cleaned.items():
            existing = IntakeAnswer.get_or_none(request=request, question=qid)
            before = existing.value if existing else None
            if existing is None:
                IntakeAnswer.create(request=request, question=qid, value=value)
            elif existing.value != value:
                existing.value = value
                existing.save()
            if before != value:
                shown = "***" if questions[qid].sensitive else value
                audit.record("update", request, changes={f"answer:{qid}": ["***" if questions[qid].sensitive and before
                                                                            else before, shown]})


def missing_answers(request: ServiceRequest) -> list[IntakeQuestion]:
    """Return the required active questions of the service that the request has not answered."""
    answered = {a.question_id for a in IntakeAnswer.select().where((IntakeAnswer.request == request) &
                                                                   (IntakeAnswer.value != ""))}
    return [q for q in IntakeQuestion.select().where((IntakeQuestion.service == request.service_id) &
                                                     (IntakeQuestion.required == True) &  # noqa: E712
                                                     (IntakeQuestion.active == True))  # noqa: E712
            .order_by(IntakeQuestion.position, IntakeQuestion.id) if q.id not in answered]


# ---- attestation and submission (P5.2, P5.4, P5.5) ----------------------------------------
def take_attestation(request: ServiceRequest, method: str, actor=None, ip: str | None = None) -> None:
    """Record that the applicant confirmed their data: method, text version, when, by whom, from where."""
    if method not in ("in_person", "portal", "phone"):
        raise ValidationError(N_("Choose how the attestation was taken."), field="attestation_method")
    with db.atomic():
        request.attestation_method = method
        request.attestation_version = ATTESTATION_VERSION
        request.attested_at = utcnow()
        request.attested_by = actor if method != "portal" else None
        request.attestation_ip = ip if method == "portal" else None
        request.save()
        audit.record("attestation", request, changes={"attestation_method": [None, method]})


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


@dataclass(frozen=True)
class Receipt:
    """What the staff member tells the beneficiary after submission (P5.5)."""

    number: str
    decision_due: datetime.date


def submit(request: ServiceRequest, actor) -> Receipt:
    """Submit a draft: every required field, answer and the attestation must be there (P5.2, P5.4)."""
    from . import notifications, workflow
    with db.atomic():
        workflow.change_status(request, "submitted", actor)
        notifications.notify(request.beneficiary, "submission_receipt", request=request, actor=actor)
    return Receipt(request.number, request.decision_due)


def guard_submit(request: ServiceRequest, actor) -> None:
    """Refuse submission while personal fields, required answers or the attestation are missing."""
    problems = submission_problems(request)
    if problems:
        raise TransitionRefused(N_("The request cannot be submitted yet: %(missing)s."), missing="; ".join(problems))


# ---- documents (P6.2) -------------------------------------------------------------------------
def document_checklist(request: ServiceRequest) -> list[tuple[object, str]]:
    """Return (document type, 'missing' | 'received' | 'verified') for each required document."""
    required = [sd.document_type for sd in ServiceDocumentType.select().where(
        ServiceDocumentType.service == request.service_id)]
    docs = list(Document.select().where(
        (Document.request == request) | ((Document.beneficiary == request.beneficiary_id) & Document.request.is_null())))
    result = []
    for doc_type in required:
        of_type = [d for d in docs if d.document_type_id == doc_type.id]
        state = "verified" if any(d.verified_at for d in of_type) else "received" if of_type else "missing"
        result.append((doc_type, state))
    return result


def verify_document(doc: Document, actor, request: ServiceRequest | None = None) -> None:
    """Mark a document verified; when every required one is, the document review counts as confirmed.

    Given a request, the document must be filed on it or on its beneficiary (not on a request).
    """
    if actor.role not in ("admin", "manager", "researcher"):
        raise PermissionDenied(N_("Only a researcher or a manager verifies documents."))
    if request is not None and doc.request_id != request.id and (
            doc.request_id is not None or doc.beneficiary_id != request.beneficiary_id):
        raise ValidationError(N_("Choose a document of this request."))
    with db.atomic():
        doc.verified_by = actor
        doc.verified_at = utcnow()
        doc.save()
        audit.record("verify", doc, changes={"verified_by": [None, actor.id]})
        request = doc.request
        if request is not None and all(state == "verified" for _, state in document_checklist(request)):
            already = VerificationVisit.select().where(
                (VerificationVisit.request == request) & (VerificationVisit.method == "document_review") &
                (VerificationVisit.outcome == "confirmed")).exists()
            if not already:
                visit = VerificationVisit.create(request=request, method="document_review", performed_at=utcnow(),
                                                 performed_by=actor, outcome="confirmed",
                                                 findings="جميع المستندات المطلوبة تم التحقق منها")
                audit.record("create", visit, changes={"outcome": [None, "confirmed"]})


def guard_documents(request: ServiceRequest, actor) -> None:
    """Refuse moving on while a required document is missing or unverified, naming which."""
    pending = [f"{t.name_ar} ({state})" for t, state in document_checklist(request) if state != "verified"]
    if pending:
        raise TransitionRefused(N_("Required documents are missing or unverified: %(documents)s."),
                                documents="، ".join(pending))


# ---- verification (P6.5) ----------------------------------------------------------------------
def missing_verifications(request: ServiceRequest) -> list[str]:
    """Return the required methods without a confirmed visit or a waiver."""
    confirmed = {v.method for v in VerificationVisit.select(VerificationVisit.method).where(
        (VerificationVisit.request == request) & (VerificationVisit.outcome == "confirmed"))}
    waived = {w.method for w in MethodWaiver.select(MethodWaiver.method).where(MethodWaiver.request == request)}
    return [m for m in request.service.required_methods() if m not in confirmed | waived]


def waive_method(request: ServiceRequest, method: str, reason: str, actor) -> MethodWaiver:
    """Let a manager waive one required verification method with a written reason (audited)."""
    if actor.role not in ("manager", "admin"):
        raise PermissionDenied(N_("Only a manager can waive a verification method."))
    reason = clean_text(reason)
    if not reason:
        raise ValidationError(N_("A waiver needs a written reason."), field="reason")
    if method not in request.service.required_methods():
        raise ValidationError(N_("The service does not require this method."), field="method")
    with db.atomic():
        waiver = MethodWaiver.create(request=request, method=method, reason=reason, waived_by=actor)
        audit.record("waiver", request, changes={f"waiver:{method}": [None, reason]})
    return waiver


def guard_verification(request: ServiceRequest, actor) -> None:
    """Refuse evaluation until every required method is confirmed or waived."""
    guard_documents(request, actor)
    missing = missing_verifications(request)
    if missing:
        raise TransitionRefused(N_("Verification is not complete; still required: %(methods)s."),
                                methods=", ".join(missing))


def schedule_visit(request: ServiceRequest, method: str, when: datetime.datetime, actor,
                   notify_beneficiary: bool = True) -> VerificationVisit:
    """Schedule a verification visit (UTC time) and tell the beneficiary of an interview or field visit."""
    from . import notifications, workflow
    if not can(actor.role, "visits.record"):
        raise PermissionDenied(N_("Your role cannot schedule visits."))
    if method not in codes(VISIT_METHODS):
        raise ValidationError(N_("Choose the verification method."), field="method")
    if when is None:
        raise ValidationError(N_("Choose the date and time of the visit."), field="scheduled_at")
    if request.status in workflow.TERMINAL_STATUSES or request.status == "draft":
        raise TransitionRefused(N_("Visits are scheduled for submitted requests that are still open."))
    with db.atomic():
        visit = VerificationVisit.create(request=request, method=method, scheduled_at=when)
        audit.record("create", visit, changes={"method": [None, method], "scheduled_at": [None, when]})
        if notify_beneficiary and method != "document_review":
            notifications.notify(request.beneficiary, "visit_appointment", request=request, actor=actor,
                                 visit=visit)
    return visit


# ---- evaluation (P6.3) ------------------------------------------------------------------------
def assess(request: ServiceRequest, criterion: EvaluationCriterion, met: bool, note: str | None, actor) -> None:
    """Record whether one criterion is met, with a note."""
    if actor.role not in ("admin", "manager", "researcher"):
        raise PermissionDenied(N_("Only a researcher or a manager evaluates requests."))
    if criterion.service_id != request.service_id:
        raise ValidationError(N_("This criterion belongs to another service."))
    with db.atomic():
        row = CriterionAssessment.get_or_none(request=request, criterion=criterion)
        before = row.met if row else None
        if row is None:
            row = CriterionAssessment(request=request, criterion=criterion)
        row.met, row.note, row.assessed_by, row.assessed_at = bool(met), clean_text(note) or None, actor, utcnow()
        row.save()
        audit.record("assess", request, changes={f"criterion:{criterion.id}": [before, bool(met)]})


def recommend(request: ServiceRequest, recommendation: str, note: str | None, actor) -> Recommendation:
    """Record the researcher's recommendation; every active criterion must be assessed first."""
    if recommendation not in ("approve", "reject"):
        raise ValidationError(N_("Recommend approval or rejection."), field="recommendation")
    unassessed = unassessed_criteria(request)
    if unassessed:
        raise ValidationError(N_("Assess every criterion before recommending: %(criteria)s."),
                              criteria="؛ ".join(c.text_ar for c in unassessed))
    with db.atomic():
        Recommendation.delete().where(Recommendation.request == request).execute()
        rec = Recommendation.create(request=request, recommendation=recommendation, note=clean_text(note) or None,
                                    given_by=actor)
        audit.record("recommend", request, changes={"recommendation": [None, recommendation]})
    return rec


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


# ---- decision (P6.4) and separation of duties (P6.6) ------------------------------------------------
def involved_users(request: ServiceRequest) -> set[str]:
    """Return the usernames who registered or verified the request."""
    names = {request.created_by}
    names |= {v.created_by for v in request.visits}
    names |= {v.performed_by.username for v in request.visits if v.performed_by_id}
    return {n for n in names if n}


def decide(request: ServiceRequest, decision: str, reason: str | None, actor) -> ServiceRequest:
    """Approve or reject an evaluated request, recording who, when and why, and notify the beneficiary (P6.4)."""
    from . import notifications, workflow
    if not can(actor.role, "decide"):
        raise PermissionDenied(N_("Only a manager decides on requests."))
    if decision not in ("approved", "rejected"):
        raise ValidationError(N_("Choose approve or reject."), field="decision")
    reason = clean_text(reason) or None
    if decision == "rejected" and not reason:
        raise ValidationError(N_("A rejection needs a reason the beneficiary can be told."), field="decision_reason")
    if not evaluation_complete(request):
        raise TransitionRefused(N_("The evaluation is not complete: every criterion must be assessed and a recommendation given."))
    flagged = is_flagged(actor.role, "decide")
    if actor.username in involved_users(request):
        if actor.role != "admin":
            raise PermissionDenied(N_("You registered or verified this request, so another manager must decide it."))
        flagged = True
    with db.atomic():
        request.decision, request.decision_reason = decision, reason
        request.decided_at, request.decided_by = utcnow(), actor
        request.save()
        workflow.change_status(request, decision, actor, note=reason)
        notifications.notify(request.beneficiary, "decision", request=request, actor=actor)
        if decision == "rejected":
            from . import surveys  # P2.5: the beneficiary rates the service, rejected or not
            surveys.invite(request, actor)
        if flagged:
            audit.record("flagged_decision", request, details={"reason": "admin decision or own request"})
    return request


def guard_decision(request: ServiceRequest, actor) -> None:
    """Refuse approved/rejected unless decide() has recorded that decision first."""
    if request.decision is None or request.decided_at is None:
        raise TransitionRefused(N_("Approval or rejection is a decision: use “Decide”, which records the reason."))


def guard_delivered(request: ServiceRequest, actor) -> None:
    """Refuse delivered until a delivery is recorded."""
    if not Delivery.select().where(Delivery.request == request).exists():
        raise TransitionRefused(N_("Record what was delivered; the request then moves to delivered."))


# ---- delivery (P5.7) -----------------------------------------------------------------------
def record_delivery(request: ServiceRequest, description: str, actor, quantity=None, amount=None,
                    delivered_at=None) -> Delivery:
    """Record one delivery of an approved request; the first one moves it to delivered."""
    from . import workflow
    if not can(actor.role, "deliver"):
        raise PermissionDenied(N_("Your role cannot record deliveries."))
    if request.status not in ("approved", "delivered"):
        raise TransitionRefused(N_("Only an approved request can be delivered."))
    description = clean_text(description)
    if not description:
        raise ValidationError(N_("Say what was delivered."), field="description")
    quantity, amount = _decimal(quantity, "quantity"), _decimal(amount, "amount")
    with db.atomic():
        delivery = Delivery.create(request=request, description=description, quantity=quantity, amount=amount,
                                   delivered_at=delivered_at or utcnow(), delivered_by=actor)
        audit.record("create", delivery, changes={"description": [None, description]})
        if request.status == "approved":
            workflow.change_status(request, "delivered", actor)
            from . import surveys  # P2.5: the first delivery invites the beneficiary to rate the service
            surveys.invite(request, actor)
    return delivery


def _decimal(value, field: str) -> decimal.Decimal | None:
    """Return a non-negative amount typed with any digits, None when empty; ValidationError when not a number."""
    if value is None or isinstance(value, decimal.Decimal):
        return value
    text = clean_text(to_ascii_digits(str(value))).replace(",", "").replace("٫", ".")
    if not text:
        return None
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise ValidationError(N_("Enter a number."), field=field)
    if not number.is_finite() or number < 0:
        raise ValidationError(N_("Enter a number that is not negative."), field=field)
    return number
