"""The request lifecycle and the rules of every write to a case, as two tables in one place.

TRANSITIONS says which status may follow which, and who moves it (with the guard that must hold).
WRITE_RULES says, for every other write to a request or its evidence, who may make it, in which
states, and what part the actor must have in the case. Every path that writes a case (the case file,
the generic screens, bulk actions, background jobs, the portal) goes through gate(), which checks the
rule and then opens the models' gate for that request (models/case_guard.py refuses a case row written
with no gate open). Writers that act outside the rules on purpose use a named exemption (EXEMPTIONS).
The README shows all three tables, generated from here (tests/test_case_rules.py keeps them equal).
"""
import datetime
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from models import RequestTransition, ServiceRequest, case_guard, db, utcnow
from models.choices import STATUSES

from . import audit
from .dates import to_local
from .errors import N_, PermissionDenied, Term, Terms, TransitionRefused
from .evidence import guard_decision, guard_delivered, guard_documents, guard_reopen, guard_submit, guard_verification
from .roles import PERMISSIONS, ROLES

OPEN_STATUSES = frozenset({"draft", "submitted", "awaiting_documents", "under_verification", "under_evaluation"})
TERMINAL_STATUSES = frozenset({"closed", "rejected", "withdrawn"})
# Gathering the evidence (P6.2, P6.5): documents, interviews and visits, waivers.
VERIFYING = frozenset({"submitted", "awaiting_documents", "under_verification"})
# A decision is recorded: what it rests on is frozen (a manager may reopen approved or rejected).
DECIDED = frozenset({"approved", "rejected", "delivered", "closed"})
ALL_STATUSES = frozenset(code for code, _label in STATUSES)
# The pseudo-state of a request being registered (it has no status yet).
NEW = "new"

# Who moves a request: from the role table, so the two never disagree.
_STAFF = PERMISSIONS["requests.assign"]           # admin, manager, researcher
_DECIDERS = PERMISSIONS["decide"]                  # admin, manager
_INTAKE = PERMISSIONS["requests.create"]           # admin, manager, researcher, volunteer


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    roles: frozenset[str]
    # Raises TransitionRefused when the request is not ready (services.evidence: it reads the file, writes nothing).
    guard: Callable[[ServiceRequest, object], None] | None = None
    # Shown in the README's transition table.
    rule: str = ""


# Policy P5/P6 order. A service that requires no documents goes straight to verification.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("draft", "submitted", _INTAKE, guard_submit,
               "gender, mobile, required answers and the attestation are there (P5.2, P5.4)"),
    Transition("submitted", "awaiting_documents", _STAFF),
    Transition("submitted", "under_verification", _STAFF, guard_documents,
               "every required document verified (none required: straight on)"),
    Transition("awaiting_documents", "under_verification", _STAFF, guard_documents,
               "every required document verified (P6.2)"),
    Transition("under_verification", "awaiting_documents", _STAFF),
    Transition("under_verification", "under_evaluation", _STAFF, guard_verification,
               "documents verified and every required method confirmed or waived (P6.5)"),
    # Something found during the evaluation calls for another look: the evidence opens again.
    Transition("under_evaluation", "under_verification", _STAFF),
    Transition("under_evaluation", "approved", _DECIDERS, guard_decision,
               "through a decision, which checks every gate again: evaluation complete, separation of duties "
               "(P6.4, P6.6)"),
    Transition("under_evaluation", "rejected", _DECIDERS, guard_decision,
               "through a decision with a reason, which checks every gate again (P6.4)"),
    Transition("approved", "under_evaluation", _DECIDERS, guard_reopen,
               "through “Reopen”, with a written reason; the old decision stays in the history"),
    Transition("rejected", "under_evaluation", _DECIDERS, guard_reopen,
               "through “Reopen”, with a written reason; the old decision stays in the history"),
    Transition("approved", "delivered", _STAFF, guard_delivered, "through a recorded delivery (P5.7)"),
    Transition("delivered", "closed", _STAFF),
    Transition("rejected", "closed", _STAFF),
) + tuple(Transition(s, "withdrawn", _INTAKE if s == "draft" else _STAFF) for s in sorted(OPEN_STATUSES))

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


@dataclass(frozen=True)
class WriteRule:
    """Who may make one kind of write to a case, in which states, and with what part in it."""

    operation: str
    label: str
    capability: str
    states: frozenset[str]
    # What a volunteer may do is narrower: requests they registered, and their own fields only while a draft.
    volunteer_states: frozenset[str] | None = None
    # "scope": researchers act on requests assigned to them, volunteers on those they registered.
    # "separation": also, the decider took no part in the case (P6.6); an admin may override with a reason.
    part: str = "scope"
    # Shown in the README's rules table.
    rule: str = ""


_EVIDENCE = frozenset({"draft"}) | VERIFYING

# Policy P5/P6: what may change in which state, and by whom. The README shows this table.
WRITE_RULES: tuple[WriteRule, ...] = (
    WriteRule("request.create", N_("Register a request"), "requests.create", frozenset({NEW}), part="none",
              rule="a draft; the portal registers one for the applicant"),
    WriteRule("request.register", N_("Change the request's beneficiary, service or channel"), "requests.edit",
              frozenset({"draft"}), rule="only while a draft: the answers and documents follow the service"),
    WriteRule("request.notes", N_("Write the request's notes"), "requests.edit", ALL_STATUSES - {"withdrawn"},
              volunteer_states=frozenset(), rule="staff notes are not evidence; hidden from volunteers (personal data)"),
    WriteRule("request.assign", N_("Assign the researcher"), "requests.assign",
              ALL_STATUSES - TERMINAL_STATUSES, rule="until the file is closed"),
    WriteRule("request.answers", N_("Answer the intake questions"), "requests.edit", _EVIDENCE,
              volunteer_states=frozenset({"draft"}), rule="until verification ends (P6.1, P5.2)"),
    WriteRule("request.attest", N_("Take the applicant's attestation"), "requests.edit", frozenset({"draft"}),
              rule="before submission (P5.4)"),
    WriteRule("document.file", N_("File a document on the request"), "documents.read", _EVIDENCE,
              rule="until verification ends (P6.2)"),
    WriteRule("document.verify", N_("Mark a document verified against the original"), "documents.verify",
              _EVIDENCE, rule="once; the document review counts when every required one is (P6.5)"),
    WriteRule("visit.schedule", N_("Schedule a verification visit"), "visits.record", VERIFYING,
              rule="after submission, until verification ends (P6.5)"),
    WriteRule("visit.record", N_("Record a visit: when, by whom, what was found"), "visits.record", VERIFYING,
              rule="performed no later than now (Riyadh time)"),
    WriteRule("visit.outcome", N_("Set a visit's outcome, which counts for eligibility"), "visits.outcome",
              VERIFYING, rule="the visit was performed, no later than now (P6.5)"),
    WriteRule("verification.waive", N_("Waive a required verification method"), "decide", VERIFYING,
              part="none", rule="with a written reason; the waiver-giver does not decide (P6.5, P6.6)"),
    WriteRule("evaluation.assess", N_("Assess the service's criteria"), "evaluate", frozenset({"under_evaluation"}),
              rule="only after every required method is confirmed or waived (P6.3)"),
    WriteRule("evaluation.recommend", N_("Recommend approval or rejection"), "evaluate",
              frozenset({"under_evaluation"}), rule="every criterion assessed first (P6.3)"),
    WriteRule("decision.decide", N_("Decide: approve or reject"), "decide", frozenset({"under_evaluation"}),
              part="separation", rule="every gate checked again at that moment; the decider took no part "
                                      "in the case (P6.4, P6.6)"),
    WriteRule("decision.reopen", N_("Reopen a decided request"), "decide", frozenset({"approved", "rejected"}),
              part="none", rule="with a written reason, back to evaluation; not once delivered or closed"),
    WriteRule("delivery.record", N_("Record a delivery"), "deliver", frozenset({"approved", "delivered"}),
              rule="after approval (P5.7)"),
    WriteRule("referral.refer", N_("Refer the beneficiary to the social researcher"), "refer", ALL_STATUSES,
              rule="at any time (P5.3)"),
    WriteRule("referral.answer", N_("Answer a referral"), "evaluate", ALL_STATUSES, part="none",
              rule="at any time (P5.3)"),
    WriteRule("record.delete", N_("Delete a row of the request's file"), "delete", _EVIDENCE, part="none",
              rule="never once decided: the history stays"),
)

_RULES = {rule.operation: rule for rule in WRITE_RULES}

# Writers that act outside the rules on purpose, each with its reason (the README lists them).
EXEMPTIONS: dict[str, str] = {
    "import": N_("Importing past requests records, as it happened, history that happened outside the system."),
    "demo": N_("Demo data walks generated requests through the statuses so that every screen has something to "
               "show; it is never run on real data."),
    "retention": N_("Retention erases the personal data of files whose period has passed, decided ones too "
                    "(PDPL); the counts stay."),
    "merge": N_("Merging two files of the same person moves every request, unchanged, onto the file kept."),
}


# ---- the transition table -----------------------------------------------------------------------------
def transition_table_markdown() -> str:
    """Return the transition table as the README shows it (a test keeps the two equal)."""
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
        raise TransitionRefused(N_("A request cannot move from “%(source)s” to “%(target)s”."),
                                source=_status(source), target=_status(target))
    if role not in transition.roles:
        raise TransitionRefused(N_("Your role cannot move a request from “%(source)s” to “%(target)s”."),
                                source=_status(source), target=_status(target))
    return transition


def run_guard(transition: Transition, request: ServiceRequest, actor) -> None:
    """Raise TransitionRefused when the transition's guard says the request is not ready."""
    if transition.guard:
        transition.guard(request, actor)


def change_status(request: ServiceRequest, target: str, actor, note: str | None = None,
                  check_guards: bool = True) -> ServiceRequest:
    """Move a request to a new status, recording who, when and why, in one transaction.

    The transition table, the role and the actor's part in the case always apply. check_guards=False
    is only for recording history that happened outside the system (imported past requests, generated
    demo data), and only inside their named exemption.
    """
    transition = check_transition(request.status, target, actor.role)
    if check_guards:
        check_part(request, actor, "scope")
        run_guard(transition, request, actor)
    elif case_guard.exemption() is None:
        raise TransitionRefused(N_("A status can skip its checks only while recording past history."))
    source = request.status
    with db.atomic(), case_guard.gate(request.id, "request.status"):
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


# ---- the rules of every other write -----------------------------------------------------------------
def rule(operation: str) -> WriteRule:
    """Return the rule of an operation (KeyError for one the table does not know: a path without a rule)."""
    return _RULES[operation]


def states_for(operation: str, role: str) -> frozenset[str]:
    """Return the states in which the role may make the write (empty: never)."""
    r = _RULES[operation]
    if role not in PERMISSIONS[r.capability]:
        return frozenset()
    if role == "volunteer" and r.volunteer_states is not None:
        return r.states & r.volunteer_states
    return r.states


def check_part(request: ServiceRequest, actor, part: str = "scope") -> None:
    """Raise PermissionDenied unless the actor has the part in this case that the rule asks for."""
    if part == "none" or request is None or request.id is None:
        return
    if actor.role == "researcher" and request.researcher_id != actor.id:
        raise PermissionDenied(N_("Only the researcher assigned to this request can do this."))
    if actor.role == "volunteer" and request.created_by != actor.username:
        raise PermissionDenied(N_("Only whoever registered this request can do this."))


def check(operation: str, request: ServiceRequest | None, actor) -> WriteRule:
    """Raise a domain error saying why the actor may not make this write now; return the rule otherwise.

    Three things together: the actor's role (its capability), the request's state, and the actor's
    part in this case. A decision's own checks (every gate again, separation of duties) are the
    decision's (services.eligibility.decide), which calls this first.
    """
    r = _RULES[operation]
    role = getattr(actor, "role", None)
    if role not in PERMISSIONS[r.capability]:
        raise PermissionDenied(N_("Your role cannot do this: %(operation)s."), operation=Term(r.label))
    status = NEW if request is None or request.id is None else request.status
    if status not in states_for(operation, role):
        raise refusal_for_state(r, status, role)
    check_part(request, actor, "none" if r.part == "none" else "scope")
    return r


def allowed(operation: str, request: ServiceRequest | None, actor) -> bool:
    """Return whether check() would let the write through (for what a screen offers)."""
    try:
        check(operation, request, actor)
    except (PermissionDenied, TransitionRefused):
        return False
    return True


def refusal_for_state(r: WriteRule, status: str, role: str) -> TransitionRefused:
    """Return the refusal of a write in the wrong state, saying what it waits for or why it is closed."""
    if status in ("approved", "rejected") and r.operation != "decision.reopen":
        return TransitionRefused(N_("The request is decided (%(status)s): what the decision rests on cannot "
                                    "change. A manager may reopen it, with a reason, to change it."),
                                 status=_status(status))
    if status in ("delivered", "closed", "withdrawn"):
        return TransitionRefused(N_("The request is “%(status)s”: its file cannot change any more."),
                                 status=_status(status))
    if r.operation.startswith("evaluation.") and status in _EVIDENCE:
        return TransitionRefused(N_("Waiting for verification: the evaluation starts once every required "
                                    "method is confirmed or waived and the request is under evaluation."))
    if role == "volunteer" and r.volunteer_states is not None and status not in r.volunteer_states:
        return TransitionRefused(N_("A volunteer changes a request only while it is a draft."))
    wanted = [code for code, _label in STATUSES if code in states_for(r.operation, role)]
    return TransitionRefused(N_("Not possible while the request is “%(status)s”: “%(operation)s” is possible "
                                "when it is %(states)s."), status=_status(status), operation=Term(r.label),
                             states=Terms(_status(code) for code in wanted))


@contextmanager
def gate(operation: str, request: ServiceRequest | None, actor):
    """Check the rule of a write, then let the request's rows be written inside (one per service call).

    A request being registered (no id yet) opens the gate of "a new request".
    """
    check(operation, request, actor)
    with case_guard.gate(None if request is None else request.id, operation):
        yield


@contextmanager
def exempt(name: str):
    """Write case rows outside the rules, for one of the named reasons in EXEMPTIONS (KeyError otherwise)."""
    EXEMPTIONS[name]
    with case_guard.gate(case_guard.ANY, name):
        yield


def _status(code: str) -> Term:
    """Return a status as a message parameter: its label, translated where the message is shown."""
    return Term(dict(STATUSES).get(code, code)) if code != NEW else Term(N_("not registered yet"))


# ---- the README's tables ------------------------------------------------------------------------------
def _states_text(states: frozenset[str]) -> str:
    if states == ALL_STATUSES:
        return "any"
    if states == frozenset({NEW}):
        return "–"
    return ", ".join(f"`{code}`" for code, _label in STATUSES if code in states)


def rules_table_markdown() -> str:
    """Return the write rules as the README shows them (a test keeps the two equal)."""
    lines = ["| write | who | in which states | the actor's part | rule |", "|---|---|---|---|---|"]
    parts = {"scope": "researcher: assigned to them; volunteer: registered it",
             "separation": "took no part in the case (admin: override with a written reason, flagged)",
             "none": "–"}
    for r in WRITE_RULES:
        who = ", ".join(role for role in ROLES if role in PERMISSIONS[r.capability])
        states = _states_text(r.states)
        if r.volunteer_states is not None and "volunteer" in PERMISSIONS[r.capability]:
            states += f" (volunteer: {_states_text(r.states & r.volunteer_states)})"
        lines.append(f"| {r.label} | {who} | {states} | {parts[r.part]} | {r.rule or '–'} |")
    return "\n".join(lines) + "\n"


def exemptions_markdown() -> str:
    """Return the named exemptions as the README lists them."""
    return "".join(f"- `{name}`: {reason}\n" for name, reason in EXEMPTIONS.items())
