"""Bulk operations on requests: each row applied on its own, refusals collected with the reason."""
from dataclasses import dataclass, field

from models import ServiceRequest, User, db

from . import audit, workflow
from .errors import N_, DomainError, PermissionDenied, ValidationError
from .roles import can


@dataclass
class BulkResult:
    done: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (row, DomainError)


def _summary(kind: str, result: BulkResult, actor, **details) -> None:
    audit.record("bulk", model="ServiceRequest", actor=actor.username, details={
        "action": kind, "count": len(result.done) + len(result.refused), "done": [r.id for r in result.done],
        "refused": {r.id: e.translate(lambda m, **p: m % p if p else m) for r, e in result.refused}, **details})


def check_can_assign(actor: User) -> None:
    """Raise PermissionDenied unless the actor may assign researchers (staff above volunteers)."""
    if not can(actor.role, "requests.edit") or actor.role == "volunteer":
        raise PermissionDenied(N_("Your role cannot assign researchers."))


def assign_researcher(rows: list[ServiceRequest], researcher_id: int | None, actor: User,
                      selection: dict | None = None) -> BulkResult:
    """Assign one researcher to many requests; closed files are refused."""
    check_can_assign(actor)
    researcher = User.get_or_none((User.id == (researcher_id or 0)) & (User.role == "researcher") &
                                  (User.active == True))  # noqa: E712
    if researcher is None:
        raise ValidationError(N_("Choose an active researcher."), field="researcher")
    result = BulkResult()
    for row in rows:
        if row.status in workflow.TERMINAL_STATUSES:
            result.refused.append((row, DomainError(N_("The request is closed; its researcher cannot change."))))
            continue
        with db.atomic():
            before = row.researcher_id
            row.researcher = researcher
            row.save()
            audit.record("update", row, changes={"researcher": [before, researcher.id]}, actor=actor.username)
        result.done.append(row)
    _summary("assign_researcher", result, actor, researcher=researcher.id, **(selection or {}))
    return result


def change_status(rows: list[ServiceRequest], target: str, actor: User, note: str | None = None,
                  selection: dict | None = None) -> BulkResult:
    """Move many requests to a status; rows whose transition is not allowed are refused."""
    result = _each(rows, lambda row: workflow.change_status(row, target, actor, note))
    with db.atomic():
        _summary("change_status", result, actor, target=target, **(selection or {}))
    return result


def _each(rows: list[ServiceRequest], apply) -> BulkResult:
    """Apply a function to each row in its own transaction; collect refusals with the reason."""
    result = BulkResult()
    for row in rows:
        try:
            with db.atomic():
                apply(row)
        except DomainError as err:
            result.refused.append((row, err))
        else:
            result.done.append(row)
    return result


def schedule_visits(rows: list[ServiceRequest], method: str, when, actor: User,
                    selection: dict | None = None) -> BulkResult:
    """Schedule the same kind of visit at the same time for many requests (e.g. a day of field visits)."""
    from . import eligibility
    if when is None:
        raise ValidationError(N_("Choose the date and time of the visit."), field="scheduled_at")
    result = _each(rows, lambda row: eligibility.schedule_visit(row, method, when, actor))
    with db.atomic():
        _summary("schedule_visits", result, actor, method=method, when=when, **(selection or {}))
    return result


def decide(rows: list[ServiceRequest], decision: str, reason: str | None, actor: User,
           selection: dict | None = None) -> BulkResult:
    """Decide many requests with one reason; each is checked as a single decision would be."""
    from . import eligibility
    if not can(actor.role, "decide"):
        raise PermissionDenied(N_("Only a manager decides on requests."))
    # Said once for the whole selection rather than once per row.
    if decision not in ("approved", "rejected"):
        raise ValidationError(N_("Choose approve or reject."), field="decision")
    if decision == "rejected" and not (reason or "").strip():
        raise ValidationError(N_("A rejection needs a reason the beneficiary can be told."), field="decision_reason")
    result = _each(rows, lambda row: eligibility.decide(row, decision, reason, actor))
    with db.atomic():
        _summary("decide", result, actor, decision=decision, reason=reason, **(selection or {}))
    return result


def send_notification(rows: list[ServiceRequest], kind: str, actor: User,
                      selection: dict | None = None) -> BulkResult:
    """Queue one kind of message to the beneficiary of each request (e.g. missing documents)."""
    from . import notifications
    if not can(actor.role, "notify"):
        raise PermissionDenied(N_("Your role cannot send messages to beneficiaries."))
    result = _each(rows, lambda row: notifications.notify(row.beneficiary, kind, request=row, actor=actor))
    with db.atomic():
        _summary("send_notification", result, actor, message=kind, **(selection or {}))
    return result
