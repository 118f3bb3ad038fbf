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


def assign_researcher(rows: list[ServiceRequest], researcher_id: int | None, actor: User) -> BulkResult:
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
    _summary("assign_researcher", result, actor, researcher=researcher.id)
    return result


def change_status(rows: list[ServiceRequest], target: str, actor: User, note: str | None = None) -> BulkResult:
    """Move many requests to a status; rows whose transition is not allowed are refused."""
    result = BulkResult()
    for row in rows:
        try:
            workflow.change_status(row, target, actor, note)
        except DomainError as err:
            result.refused.append((row, err))
        else:
            result.done.append(row)
    with db.atomic():
        _summary("change_status", result, actor, target=target)
    return result
