"""Bulk operations on requests: each row applied on its own, refusals collected with the reason.

Each action is a check of the whole selection (check_*) and a function applying it to one row
(*_one). The functions below run them over rows in the web request; services.jobs runs the same
pair in the background worker when the selection is too long for a request.
"""
from dataclasses import dataclass, field

from models import ServiceRequest, User, case_guard, db

from . import audit, requests, workflow
from .errors import N_, DomainError, PermissionDenied, ValidationError
from .roles import can


@dataclass
class BulkResult:
    done: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (row, DomainError)


def refusal_text(err: DomainError) -> str:
    """Return a refusal as the audit trail keeps it: the message id with its parameters filled in."""
    return err.translate(lambda m, **p: m % p if p else m)


def _summary(kind: str, result: BulkResult, actor, **details) -> None:
    audit.record("bulk", model="ServiceRequest", actor=actor.username, details={
        "action": kind, "count": len(result.done) + len(result.refused), "done": [r.id for r in result.done],
        "refused": {r.id: refusal_text(e) for r, e in result.refused}, **details})


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


# ---- assign a researcher -------------------------------------------------------------------------
def check_can_assign(actor: User) -> None:
    """Raise PermissionDenied unless the actor may assign researchers (staff above volunteers)."""
    if not can(actor.role, "requests.assign"):
        raise PermissionDenied(N_("Your role cannot assign researchers."))


def check_assign(researcher_id: int | None, actor: User) -> User:
    """Return the active researcher to assign, or raise; the actor must be allowed to assign."""
    check_can_assign(actor)
    return requests.check_researcher(researcher_id)


def assign_one(row: ServiceRequest, researcher: User, actor: User) -> None:
    """Assign the researcher to one request, as the case file does (the rules table decides)."""
    requests.assign(row, researcher.id, actor)


def assign_researcher(rows: list[ServiceRequest], researcher_id: int | None, actor: User,
                      selection: dict | None = None) -> BulkResult:
    """Assign one researcher to many requests in one transaction; closed files are refused.

    Set-based (issue 9: 10,000 requests in under 2 s, audit included): in one transaction the rows'
    stored status and version are read, the assignable ones changed by one UPDATE per 500 rows
    (researcher, updated_at/by, version + 1, as save() does) and their audit rows written with
    insert_many. Each row gets what assign_one gives it (the background worker still applies that
    one row at a time): refused when closed, or when changed by someone else since it was read
    (StaleRecord, as a save would be); one "update" audit row per request and the summary row.
    A failure anywhere leaves nothing changed. Each row passes the rules table's "assign" rule first.
    """
    from models import current_actor, utcnow

    from .concurrency import stale
    from .errors import TransitionRefused
    researcher = check_assign(researcher_id, actor)
    result = BulkResult()
    by_id = {row.id: row for row in rows}
    ids = list(by_id)
    with db.atomic():
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            query = ServiceRequest.select(ServiceRequest.id, ServiceRequest.researcher, ServiceRequest.version).where(
                ServiceRequest.id.in_(chunk))
            if getattr(db.obj, "for_update", False):
                query = query.for_update()  # PostgreSQL: nobody changes them until this commits
            stored = {row_id: (before, version) for row_id, before, version in query.tuples()}
            todo = {}
            for row_id in chunk:
                row = by_id[row_id]
                try:
                    workflow.check("request.assign", row, actor)
                except (PermissionDenied, TransitionRefused) as err:
                    result.refused.append((row, err))
                    continue
                if row_id not in stored or stored[row_id][1] != row.version:
                    result.refused.append((row, stale(row)))
                else:
                    todo[row_id] = stored[row_id][0]
            if not todo:
                continue
            now, who = utcnow(), current_actor.get()
            with case_guard.gate(frozenset(todo), "request.assign"):
                ServiceRequest.update(researcher=researcher.id, updated_at=now, updated_by=who,
                                      version=ServiceRequest.version + 1).where(
                    ServiceRequest.id.in_(list(todo))).execute()
            audit.record_many("update", "ServiceRequest", {row_id: {"researcher": [before, researcher.id]}
                                                          for row_id, before in todo.items()}, actor=actor.username)
            for row_id in todo:
                row = by_id[row_id]
                row.researcher, row.updated_at, row.updated_by, row.version = researcher, now, who, row.version + 1
                result.done.append(row)
        _summary("assign_researcher", result, actor, researcher=researcher.id, **(selection or {}))
    return result


# ---- change status ---------------------------------------------------------------------------------
def change_status_one(row: ServiceRequest, target: str, actor: User, note: str | None = None) -> None:
    """Move one request to the status; the transition table and its guard decide (workflow)."""
    workflow.change_status(row, target, actor, note)


def change_status(rows: list[ServiceRequest], target: str, actor: User, note: str | None = None,
                  selection: dict | None = None) -> BulkResult:
    """Move many requests to a status; rows whose transition is not allowed are refused."""
    result = _each(rows, lambda row: change_status_one(row, target, actor, note))
    with db.atomic():
        _summary("change_status", result, actor, target=target, **(selection or {}))
    return result


# ---- schedule visits -------------------------------------------------------------------------------
def check_visits(when) -> None:
    """Raise unless the visits have a date and time."""
    if when is None:
        raise ValidationError(N_("Choose the date and time of the visit."), field="scheduled_at")


def schedule_visit_one(row: ServiceRequest, method: str, when, actor: User) -> None:
    """Schedule one visit of the method at the time for the request (eligibility rules apply)."""
    from . import eligibility
    eligibility.schedule_visit(row, method, when, actor)


def schedule_visits(rows: list[ServiceRequest], method: str, when, actor: User,
                    selection: dict | None = None) -> BulkResult:
    """Schedule the same kind of visit at the same time for many requests (e.g. a day of field visits)."""
    check_visits(when)
    result = _each(rows, lambda row: schedule_visit_one(row, method, when, actor))
    with db.atomic():
        _summary("schedule_visits", result, actor, method=method, when=when, **(selection or {}))
    return result


# ---- decide ----------------------------------------------------------------------------------------
def check_decide(decision: str, reason: str | None, actor: User) -> None:
    """Raise unless the actor decides and the decision (with a reason for a rejection) is complete."""
    if not can(actor.role, "decide"):
        raise PermissionDenied(N_("Only a manager decides on requests."))
    # Said once for the whole selection rather than once per row.
    if decision not in ("approved", "rejected"):
        raise ValidationError(N_("Choose approve or reject."), field="decision")
    if decision == "rejected" and not (reason or "").strip():
        raise ValidationError(N_("A rejection needs a reason the beneficiary can be told."), field="decision_reason")


def decide_one(row: ServiceRequest, decision: str, reason: str | None, actor: User) -> None:
    """Decide one request; it is checked as a single decision would be."""
    from . import eligibility
    eligibility.decide(row, decision, reason, actor)


def decide(rows: list[ServiceRequest], decision: str, reason: str | None, actor: User,
           selection: dict | None = None) -> BulkResult:
    """Decide many requests with one reason; each is checked as a single decision would be."""
    check_decide(decision, reason, actor)
    result = _each(rows, lambda row: decide_one(row, decision, reason, actor))
    with db.atomic():
        _summary("decide", result, actor, decision=decision, reason=reason, **(selection or {}))
    return result


# ---- write to the beneficiaries --------------------------------------------------------------------
def check_notify(actor: User, kind: str | None) -> None:
    """Raise unless the actor may write to beneficiaries and staff may send this kind by hand."""
    from . import notifications
    if not can(actor.role, "notify"):
        raise PermissionDenied(N_("Your role cannot send messages to beneficiaries."))
    notifications.check_manual_kind(kind)


def notify_one(row: ServiceRequest, kind: str, actor: User) -> None:
    """Queue one message of the kind to the request's beneficiary."""
    from . import notifications
    notifications.notify(row.beneficiary, kind, request=row, actor=actor)


def send_notification(rows: list[ServiceRequest], kind: str, actor: User,
                      selection: dict | None = None) -> BulkResult:
    """Queue one kind of message to the beneficiary of each request (e.g. missing documents)."""
    check_notify(actor, kind)
    result = _each(rows, lambda row: notify_one(row, kind, actor))
    with db.atomic():
        _summary("send_notification", result, actor, message=kind, **(selection or {}))
    return result
