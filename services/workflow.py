"""The request lifecycle: one table of allowed status transitions and who may make each."""
from dataclasses import dataclass

from models import RequestTransition, ServiceRequest, db, utcnow

from . import audit
from .errors import N_, TransitionRefused

OPEN_STATUSES = frozenset({"draft", "submitted", "awaiting_documents", "under_verification", "under_evaluation"})
TERMINAL_STATUSES = frozenset({"closed", "rejected", "withdrawn"})

_STAFF = frozenset({"admin", "manager", "researcher"})
_DECIDERS = frozenset({"admin", "manager"})
_INTAKE = frozenset({"admin", "manager", "researcher", "volunteer"})


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    roles: frozenset[str]


# Policy P5/P6 order. A service that requires no documents goes straight to verification.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("draft", "submitted", _INTAKE),
    Transition("submitted", "awaiting_documents", _STAFF),
    Transition("submitted", "under_verification", _STAFF),
    Transition("awaiting_documents", "under_verification", _STAFF),
    Transition("under_verification", "awaiting_documents", _STAFF),
    Transition("under_verification", "under_evaluation", _STAFF),
    Transition("under_evaluation", "approved", _DECIDERS),
    Transition("under_evaluation", "rejected", _DECIDERS),
    Transition("approved", "delivered", _STAFF),
    Transition("delivered", "closed", _STAFF),
    Transition("rejected", "closed", _STAFF),
) + tuple(Transition(s, "withdrawn", _INTAKE if s == "draft" else _STAFF) for s in sorted(OPEN_STATUSES))

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


def allowed_targets(status: str, role: str) -> list[str]:
    """Return the statuses a role may move a request to from the given status."""
    return [t.target for t in TRANSITIONS if t.source == status and role in t.roles]


def check_transition(source: str, target: str, role: str) -> Transition:
    """Return the transition, or raise TransitionRefused with the reason."""
    transition = _BY_PAIR.get((source, target))
    if transition is None:
        raise TransitionRefused(
            N_("A request cannot move from “%(source)s” to “%(target)s”."), source=source, target=target)
    if role not in transition.roles:
        raise TransitionRefused(
            N_("Your role cannot move a request from “%(source)s” to “%(target)s”."), source=source, target=target)
    return transition


def change_status(request: ServiceRequest, target: str, actor, note: str | None = None) -> ServiceRequest:
    """Move a request to a new status, recording who, when and why, in one transaction."""
    check_transition(request.status, target, actor.role)
    source = request.status
    with db.atomic():
        request.status = target
        if target == "submitted" and request.submitted_at is None:
            request.submitted_at = utcnow()
            if request.decision_due is None:
                request.decision_due = decision_due_for(request)
        request.save()
        RequestTransition.create(request=request, from_status=source, to_status=target,
                                 by=actor.username, note=note)
        audit.record("status", request, changes={"status": [source, target]},
                     details=note, actor=actor.username)
    return request


def decision_due_for(request: ServiceRequest):
    """Return the date by which a decision is due: submission day (Riyadh) + the service's days (P5.5)."""
    import datetime

    from .dates import to_local

    submitted = to_local(request.submitted_at or utcnow()).date()
    return submitted + datetime.timedelta(days=request.service.decision_days)
