"""Eligibility verification (policy P5, P6): intake answers, attestation, documents, verification, evaluation, decision.

Every function that writes a case passes services.workflow's gate first (the rules table: role,
state, the actor's part), so the case file, the generic screens, bulk actions, jobs and the portal
obey the same rules; the models refuse a case row written any other way (models/case_guard.py).
"""
import datetime
import decimal
from dataclasses import dataclass

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
    User,
    VerificationVisit,
    case_guard,
    db,
    utcnow,
)
from models.choices import VISIT_METHODS, VISIT_OUTCOMES, codes

from . import audit, signals, workflow
from .errors import N_, PermissionDenied, Term, Terms, TransitionRefused, ValidationError
from .evidence import check_ready_for_decision, document_checklist, documents_of, unassessed_criteria
from .normalize import clean_text, parse_decimal, to_ascii_digits
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
            return str(parse_decimal(value))
        except ValueError:
            raise ValidationError(N_("“%(question)s” needs a number."), field=f"q{question.id}",
                                  question=question.label_ar) from None
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


def save_answers(request: ServiceRequest, answers: dict[int, object], actor) -> None:
    """Store a request's answers (question id → typed value) in one transaction."""
    questions = {q.id: q for q in IntakeQuestion.select().where(IntakeQuestion.service == request.service_id)}
    cleaned = {}
    for qid, raw in answers.items():
        if int(qid) not in questions:
            raise ValidationError(N_("This question does not belong to the request's service."))
        cleaned[int(qid)] = clean_answer(questions[int(qid)], raw)
    stored = {a.question_id: a.value for a in IntakeAnswer.select().where(IntakeAnswer.request == request)}
    if all(stored.get(qid, "") == value for qid, value in cleaned.items()):
        return  # nothing typed differs: not a write, whatever the request's state
    with db.atomic(), workflow.gate("request.answers", request, actor):
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


# ---- attestation and submission (P5.2, P5.4, P5.5) ----------------------------------------
def take_attestation(request: ServiceRequest, method: str, actor, ip: str | None = None) -> None:
    """Record that the applicant confirmed their data: method, text version, when, by whom, from where."""
    if method not in ("in_person", "portal", "phone"):
        raise ValidationError(N_("Choose how the attestation was taken."), field="attestation_method")
    with db.atomic(), workflow.gate("request.attest", request, actor):
        request.attestation_method = method
        request.attestation_version = ATTESTATION_VERSION
        request.attested_at = utcnow()
        request.attested_by = actor if method != "portal" and isinstance(actor, User) else None
        request.attestation_ip = ip if method == "portal" else None
        request.save()
        audit.record("attestation", request, changes={"attestation_method": [None, method]})


@dataclass(frozen=True)
class Receipt:
    """What the staff member tells the beneficiary after submission (P5.5)."""

    number: str
    decision_due: datetime.date


def submit(request: ServiceRequest, actor) -> Receipt:
    """Submit a draft: every required field, answer and the attestation must be there (P5.2, P5.4)."""
    with db.atomic():
        workflow.change_status(request, "submitted", actor)
        signals.request_submitted.send(request, actor=actor)
    return Receipt(request.number, request.decision_due)


# ---- documents (P6.2) -------------------------------------------------------------------------
def verify_document(doc: Document, actor, request: ServiceRequest | None = None) -> None:
    """Mark a document verified, once; when every required one is, the document review counts as confirmed.

    The one way to verify a document: the case file's button, the documents list's bulk action and its
    background job all call it. Given a request, the document must be filed on it or on its beneficiary
    (not on a request). A document filed on the person counts for each of their requests still gathering
    evidence: the document review is recorded on every one whose checklist it completes.
    """
    if not can(actor.role, "documents.verify"):
        raise PermissionDenied(N_("Only a researcher or a manager verifies documents."))
    if request is not None and doc.request_id != request.id and (
            doc.request_id is not None or doc.beneficiary_id != request.beneficiary_id):
        raise ValidationError(N_("Choose a document of this request."))
    if doc.verified_at is not None:
        raise ValidationError(N_("The document was already verified."))
    case = doc.request if doc.request_id is not None else request
    if case is not None:
        workflow.check("document.verify", case, actor)
    with db.atomic(), case_guard.gate(doc.request_id, "document.verify"):
        doc.verified_by = actor
        doc.verified_at = utcnow()
        doc.save()
        audit.record("verify", doc, changes={"verified_by": [None, actor.id], "verified_at": [None, doc.verified_at]})
        for affected in _requests_using(doc):
            _confirm_document_review(affected, actor)


def _requests_using(doc: Document) -> list[ServiceRequest]:
    """Return the requests whose checklist the document counts in, while they still gather evidence."""
    if doc.request_id is not None:
        return [doc.request] if doc.request.status in workflow.states_for("document.verify", "admin") else []
    needing = ServiceDocumentType.select(ServiceDocumentType.service).where(
        ServiceDocumentType.document_type == doc.document_type_id)
    return list(ServiceRequest.select().where(
        (ServiceRequest.beneficiary == doc.beneficiary_id) & ServiceRequest.service.in_(needing)
        & ServiceRequest.status.in_(sorted(workflow.states_for("document.verify", "admin")))))


def _confirm_document_review(request: ServiceRequest, actor) -> None:
    """Record the administrative review as confirmed once every required document of the request is verified."""
    if not all(state == "verified" for _, state in document_checklist(request)):
        return
    already = VerificationVisit.select().where(
        (VerificationVisit.request == request) & (VerificationVisit.method == "document_review") &
        (VerificationVisit.outcome == "confirmed")).exists()
    if already:
        return
    # A consequence of the verification just allowed, for a request still gathering evidence.
    with case_guard.gate(request.id, "document.verify"):
        now = utcnow()
        visit = VerificationVisit.create(request=request, method="document_review", performed_at=now,
                                         performed_by=actor, outcome="confirmed", outcome_by=actor, outcome_at=now,
                                         findings="جميع المستندات المطلوبة تم التحقق منها")
        audit.record("create", visit, changes={"outcome": [None, "confirmed"]})


# ---- verification (P6.5) ----------------------------------------------------------------------
def waive_method(request: ServiceRequest, method: str, reason: str, actor) -> MethodWaiver:
    """Let a manager waive one required verification method with a written reason (audited)."""
    if actor.role not in ("manager", "admin"):
        raise PermissionDenied(N_("Only a manager can waive a verification method."))
    workflow.check("verification.waive", request, actor)
    reason = clean_text(reason)
    if not reason:
        raise ValidationError(N_("A waiver needs a written reason."), field="reason")
    if method not in request.service.required_methods():
        raise ValidationError(N_("The service does not require this method."), field="method")
    if MethodWaiver.select().where((MethodWaiver.request == request) & (MethodWaiver.method == method)).exists():
        raise ValidationError(N_("This method is already waived."), field="method")
    with db.atomic(), workflow.gate("verification.waive", request, actor):
        waiver = MethodWaiver.create(request=request, method=method, reason=reason, waived_by=actor)
        audit.record("waiver", request, changes={f"waiver:{method}": [None, reason]})
    return waiver


def schedule_visit(request: ServiceRequest, method: str, when: datetime.datetime, actor,
                   notify_beneficiary: bool = True) -> VerificationVisit:
    """Schedule a verification visit (UTC time) and tell the beneficiary of an interview or field visit."""
    if not can(actor.role, "visits.record"):
        raise PermissionDenied(N_("Your role cannot schedule visits."))
    if method not in codes(VISIT_METHODS):
        raise ValidationError(N_("Choose the verification method."), field="method")
    if when is None:
        raise ValidationError(N_("Choose the date and time of the visit."), field="scheduled_at")
    with db.atomic(), workflow.gate("visit.schedule", request, actor):
        visit = VerificationVisit.create(request=request, method=method, scheduled_at=when)
        audit.record("create", visit, changes={"method": [None, method], "scheduled_at": [None, when]})
        if notify_beneficiary and method != "document_review":
            signals.visit_appointment_made.send(visit, actor=actor)
    return visit


# What a visit's fields are, to the rules table: planning it, recording it, and the outcome that counts.
_VISIT_OPERATIONS = {"request": "visit.schedule", "method": "visit.schedule", "scheduled_at": "visit.schedule",
                     "performed_at": "visit.record", "performed_by": "visit.record", "findings": "visit.record",
                     "outcome": "visit.outcome"}


def save_visit(visit: VerificationVisit, actor, loaded_version: int | None = None) -> VerificationVisit:
    """Save a visit as a form filled it (new or edited), each changed field checked against its rule.

    The visits screen (create and edit) and the case file's "record the outcome" form both end here.
    Scheduling, recording (when, by whom, findings) and the outcome are three rules of the table; a
    visit is performed no later than now (Riyadh time); an outcome needs the visit performed and records
    who set it and when (separation of duties). A save started from an older version is refused.
    """
    from . import concurrency
    if visit.request_id is None:
        raise ValidationError(N_("Choose the request."), field="request")
    if visit.method not in codes(VISIT_METHODS):
        raise ValidationError(N_("Choose the verification method."), field="method")
    stored = VerificationVisit.get_or_none(VerificationVisit.id == visit.id) if visit.id else None
    changed = [name for name in _VISIT_OPERATIONS
               if stored is None and _value(visit, name) not in (None, "")
               or stored is not None and _value(visit, name) != _value(stored, name)]
    if stored is not None and "request" in changed:
        raise ValidationError(N_("A visit stays with its request; schedule a new one on the other request."),
                              field="request")
    if not changed and stored is not None:
        return visit  # the form came back as it was shown: not a write
    request = visit.request
    operations = dict.fromkeys(_VISIT_OPERATIONS[name] for name in changed)
    if stored is None:
        operations = {"visit.schedule": None, **operations}
    for operation in operations:
        workflow.check(operation, request, actor)
    visit.findings = clean_text(visit.findings) or None
    if "performed_by" in changed and visit.performed_by_id is not None and not User.select().where(
            (User.id == visit.performed_by_id) & (User.active == True) & (User.role != "board")).exists():  # noqa: E712
        raise ValidationError(N_("Choose an active staff member who performed the visit."), field="performed_by")
    if visit.outcome is not None and visit.outcome not in codes(VISIT_OUTCOMES):
        raise ValidationError(N_("Choose the outcome."), field="outcome")
    if "performed_at" in changed and visit.performed_at is not None and visit.performed_at > utcnow():
        raise ValidationError(N_("A visit cannot be recorded as performed in the future."), field="performed_at")
    if visit.outcome and visit.performed_at is None and {"outcome", "performed_at"} & set(changed):
        raise ValidationError(N_("Enter when the visit was performed before its outcome."), field="performed_at")
    if visit.outcome and "outcome" in changed:
        visit.outcome_by, visit.outcome_at = actor, utcnow()
    with db.atomic(), case_guard.gate(request.id, "visit"):
        if stored is None:
            visit.save(force_insert=True)
        else:
            concurrency.save_if_unchanged(visit, loaded_version)
    return visit


def locked_visit_fields(visit: VerificationVisit, actor) -> list[str]:
    """Return the visit's fields the actor may not change now (an edit form leaves them out)."""
    request = visit.request
    return [name for name, operation in _VISIT_OPERATIONS.items()
            if name == "request" or not workflow.allowed(operation, request, actor)]


def record_visit(visit: VerificationVisit, actor, *, performed_at, findings: str | None, outcome: str | None,
                 performed_by: User | None = None) -> VerificationVisit:
    """Record what a visit found, from the case file: when, by whom (the actor unless named), findings, outcome."""
    before = audit.snapshot(visit)
    visit.performed_at = performed_at
    visit.performed_by = performed_by or visit.performed_by or actor
    visit.findings = findings
    visit.outcome = outcome or None
    with db.atomic():
        save_visit(visit, actor)
        audit.record("update", visit, changes=audit.diff(before, audit.snapshot(visit)))
    return visit


def _value(row, name):
    """Return a field's stored value (a related row as its id), for comparing a form's row with the stored one."""
    field = row._meta.fields[name]
    return row.__data__.get(field.name) if hasattr(field, "rel_model") else getattr(row, name)


# ---- evaluation (P6.3) ------------------------------------------------------------------------
def assess(request: ServiceRequest, criterion: EvaluationCriterion, met: bool, note: str | None, actor) -> None:
    """Record whether one criterion is met, with a note (only under evaluation: verification comes first)."""
    if actor.role not in ("admin", "manager", "researcher"):
        raise PermissionDenied(N_("Only a researcher or a manager evaluates requests."))
    if criterion.service_id != request.service_id:
        raise ValidationError(N_("This criterion belongs to another service."))
    with db.atomic(), workflow.gate("evaluation.assess", request, actor):
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
    workflow.check("evaluation.recommend", request, actor)
    unassessed = unassessed_criteria(request)
    if unassessed:
        raise ValidationError(N_("Assess every criterion before recommending: %(criteria)s."),
                              criteria="؛ ".join(c.text_ar for c in unassessed))
    with db.atomic(), workflow.gate("evaluation.recommend", request, actor):
        Recommendation.delete().where(Recommendation.request == request).execute()
        rec = Recommendation.create(request=request, recommendation=recommendation, note=clean_text(note) or None,
                                    given_by=actor)
        audit.record("recommend", request, changes={"recommendation": [None, recommendation]})
    return rec


# ---- decision (P6.4) and separation of duties (P6.6) ------------------------------------------------
# Each part someone took in a case, as the case file names it when it refuses the decider.
PARTS = {
    "registered": N_("registered the request"),
    "verified_document": N_("verified one of its documents"),
    "visit": N_("recorded, performed or set the outcome of one of its visits"),
    "waived": N_("waived one of its verification methods"),
    "recommended": N_("made its recommendation"),
}


def parts_taken(request: ServiceRequest) -> dict[str, set[str]]:
    """Return the usernames of everyone who took a part in the case, by part (the decider must have none)."""
    visits = list(VerificationVisit.select().where(VerificationVisit.request == request))

    def names(ids):
        ids = [i for i in ids if i]
        return {u.username for u in User.select(User.username).where(User.id.in_(ids))} if ids else set()
    parts = {
        "registered": {request.created_by},
        "verified_document": names(d.verified_by_id for d in documents_of(request)),
        # Scheduling a visit is planning, not evidence: the last to write a performed visit's record counts.
        "visit": {v.updated_by for v in visits if v.performed_at} | names(v.performed_by_id for v in visits)
        | names(v.outcome_by_id for v in visits),
        "waived": names(w.waived_by_id for w in MethodWaiver.select().where(MethodWaiver.request == request)),
        "recommended": names(r.given_by_id for r in Recommendation.select().where(Recommendation.request == request)),
    }
    return {part: {n for n in who if n} for part, who in parts.items()}


def involved_users(request: ServiceRequest) -> set[str]:
    """Return the usernames of everyone who took a part in the case."""
    return set().union(*parts_taken(request).values())


def separation_of_duties(request: ServiceRequest, actor, override_reason: str | None = None) -> str | None:
    """Refuse a decider who took part in the case; return an admin's written override reason, if any (P6.6)."""
    mine = [part for part, who in parts_taken(request).items() if actor.username in who]
    if not mine:
        return None
    if actor.role != "admin":
        raise PermissionDenied(N_("You took part in this case (you %(parts)s), so another manager must decide it."),
                               parts=Terms(Term(PARTS[p]) for p in mine))
    override_reason = clean_text(override_reason)
    if not override_reason:
        raise PermissionDenied(N_("You took part in this case (you %(parts)s). An admin may still decide it, "
                                  "with a written reason for deciding it yourself."),
                               field="override_reason", parts=Terms(Term(PARTS[p]) for p in mine))
    return override_reason


def decide(request: ServiceRequest, decision: str, reason: str | None, actor,
           override_reason: str | None = None) -> ServiceRequest:
    """Approve or reject an evaluated request, recording who, when and why, and notify the beneficiary (P6.4).

    Every gate is checked again now, and the decider must have taken no part in the case: not the
    registrar, a document's verifier, a visit's recorder, performer or outcome-setter, the waiver-giver
    or the recommender. An admin may override that with a written reason, flagged in the file and the log.
    """
    if not can(actor.role, "decide"):
        raise PermissionDenied(N_("Only a manager decides on requests."))
    if decision not in ("approved", "rejected"):
        raise ValidationError(N_("Choose approve or reject."), field="decision")
    reason = clean_text(reason) or None
    if decision == "rejected" and not reason:
        raise ValidationError(N_("A rejection needs a reason the beneficiary can be told."), field="decision_reason")
    workflow.check("decision.decide", request, actor)
    check_ready_for_decision(request, actor)
    override = separation_of_duties(request, actor, override_reason)
    flagged = is_flagged(actor.role, "decide") or override is not None
    with db.atomic(), workflow.gate("decision.decide", request, actor):
        request.decision, request.decision_reason = decision, reason
        request.decided_at, request.decided_by = utcnow(), actor
        request.decision_override_reason = override
        request.save()
        workflow.change_status(request, decision, actor, note=reason)
        signals.request_decided.send(request, actor=actor)
        if flagged:
            audit.record("flagged_decision", request, details={
                "reason": "decided by an admin who took part in the case" if override else "admin decision",
                "override": override})
    return request


def reopen(request: ServiceRequest, reason: str | None, actor) -> ServiceRequest:
    """Take a decided (approved or rejected) request back to evaluation, with a written reason (audited).

    The old decision stays in the history (the status change's note, the audit log's before values).
    A decision message not sent yet is withdrawn; one already sent (or possibly sent) is followed by a
    message that the request is being reviewed again. A survey invitation already sent stays.
    """
    workflow.check("decision.reopen", request, actor)
    reason = clean_text(reason)
    if not reason:
        raise ValidationError(N_("Reopening a decided request needs a written reason."), field="reason")
    before = {"decision": request.decision, "decision_reason": request.decision_reason,
              "decided_at": request.decided_at, "decided_by": request.decided_by_id,
              "decision_override_reason": request.decision_override_reason}
    with db.atomic(), workflow.gate("decision.reopen", request, actor):
        request.decision = request.decision_reason = request.decided_at = None
        request.decided_by = request.decision_override_reason = None
        request.notified_at = None
        request.save()
        workflow.change_status(request, "under_evaluation", actor, note=reason)
        audit.record("reopen", request, changes={name: [value, None] for name, value in before.items()},
                     details=reason, actor=actor.username)
        signals.decision_reopened.send(request, actor=actor)
    return request


# ---- delivery (P5.7) -----------------------------------------------------------------------
def record_delivery(request: ServiceRequest, description: str, actor, quantity=None, amount=None,
                    delivered_at=None) -> Delivery:
    """Record one delivery of an approved request; the first one moves it to delivered."""
    if not can(actor.role, "deliver"):
        raise PermissionDenied(N_("Your role cannot record deliveries."))
    if request.status not in ("approved", "delivered"):
        raise TransitionRefused(N_("Only an approved request can be delivered."))
    workflow.check("delivery.record", request, actor)
    description = clean_text(description)
    if not description:
        raise ValidationError(N_("Say what was delivered."), field="description")
    quantity, amount = _decimal(quantity, "quantity"), _decimal(amount, "amount")
    if delivered_at is not None and delivered_at > utcnow():
        raise ValidationError(N_("A delivery cannot be recorded in the future."), field="delivered_at")
    with db.atomic(), workflow.gate("delivery.record", request, actor):
        delivery = Delivery.create(request=request, description=description, quantity=quantity, amount=amount,
                                   delivered_at=delivered_at or utcnow(), delivered_by=actor)
        audit.record("create", delivery, changes={"description": [None, description]})
        if request.status == "approved":
            workflow.change_status(request, "delivered", actor)
            signals.request_delivered.send(request, actor=actor)
    return delivery


def _decimal(value, field: str) -> decimal.Decimal | None:
    """Return a non-negative amount typed with any digits, None when empty; ValidationError when not a number."""
    if value is None or isinstance(value, decimal.Decimal):
        return value
    try:
        number = parse_decimal(value)
    except ValueError:
        raise ValidationError(N_("Enter a number."), field=field) from None
    if number is None:
        return None
    if not number.is_finite() or number < 0:
        raise ValidationError(N_("Enter a number that is not negative."), field=field)
    return number
