"""The request lifecycle: one table of allowed status transitions and who may make each."""
import datetime
from dataclasses import dataclass

from models import RequestTransition, ServiceRequest, db, utcnow

from . import audit
from .dates import to_local
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
    # Name of a function in services.eligibility that raises TransitionRefused when the
    # request is not ready (kept as a name so this table stays readable and import-free).
    guard: str | None = None
    # Shown in the README's transition table.
    rule: str = ""


# Policy P5/P6 order. A service that requires no documents goes straight to verification.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("draft", "submitted", _INTAKE, "guard_submit",
               "gender, mobile, required answers and the attestation are there (P5.2, P5.4)"),
    Transition("submitted", "awaiting_documents", _STAFF),
    Transition("submitted", "under_verification", _STAFF, "guard_documents",
               "every required document verified (none required: straight on)"),
    Transition("awaiting_documents", "under_verification", _STAFF, "guard_documents",
               "every required document verified (P6.2)"),
    Transition("under_verification", "awaiting_documents", _STAFF),
    Transition("under_verification", "under_evaluation", _STAFF, "guard_verification",
               "documents verified and every required method confirmed or waived (P6.5)"),
    Transition("under_evaluation", "approved", _DECIDERS, "guard_decision",
               "through a decision: evaluation complete, separation of duties (P6.4, P6.6)"),
    Transition("under_evaluation", "rejected", _DECIDERS, "guard_decision",
               "through a decision with a reason (P6.4)"),
    Transition("approved", "delivered", _STAFF, "guard_delivered", "through a recorded delivery (P5.7)"),
    Transition("delivered", "closed", _STAFF),
    Transition("rejected", "closed", _STAFF),
) + tuple(Transition(s, "withdrawn", _INTAKE if s == "draft" else _STAFF) for s in sorted(OPEN_STATUSES))

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


def transition_table_markdown() -> str:
    """Return the transition table as the README shows it (a test keeps the two equal)."""
    from .roles import ROLES
    lines = ["| from | to | who | guard |", "|---|---|---|---|"]
    for t in TRANSITIONS:
        who = ", ".join(r for r in ROLES if r in t.roles)
        lines.append(f"| `{t.source}` | `{t.target}` | {who} | {t.rule or '–'} |")
    return "\n".join(lines) + "\n"


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


def run_guard(transition: Transition, request: ServiceRequest, actor) -> None:
    """Raise TransitionRefused when the transition's guard says the request is not ready."""
    if transition.guard:
        from . import eligibility
        getattr(eligibility, transition.guard)(request, actor)


def change_status(request: ServiceRequest, target: str, actor, note: str | None = None,
                  check_guards: bool = True) -> ServiceRequest:
    """Move a request to a new status, recording who, when and why, in one transaction.

    check_guards=False is only for recording history that happened outside the system
    (imported past requests, generated demo data): the table and the roles still apply.
    """
    transition = check_transition(request.status, target, actor.role)
    if check_guards:
        run_guard(transition, request, actor)
    source = request.status
    with db.atomic():
        request.status = target
        if target == "submitted":
            # A paper request entered later keeps its real submission time; the due date
            # is still computed from it.
            if request.submitted_at is None:
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
    submitted = to_local(request.submitted_at or utcnow()).date()
    return submitted + datetime.timedelta(days=request.service.decision_days)
