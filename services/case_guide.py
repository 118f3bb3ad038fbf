"""What the case file tells each person: the next step of a request, who can take it, and why not them.

Read from the same rules the writes obey (services.workflow's tables and services.evidence's gates),
so the guidance never promises a step the gate would refuse.
"""
from dataclasses import dataclass, field

from models import ServiceRequest, User
from models.choices import ROLES as ROLE_LABELS
from models.choices import VISIT_METHODS

from . import eligibility, evidence, workflow
from .errors import N_, DomainError, Term, Terms
from .roles import ROLES


@dataclass
class Step:
    """One next step: what (a message id and its parameters), who may take it, and whether the viewer can."""

    text: str
    params: dict = field(default_factory=dict)
    operation: str | None = None
    # Roles (as translatable labels) who may take the step now.
    who: Terms = Terms()
    # People who may not take it although their role could (separation of duties).
    not_them: tuple[str, ...] = ()
    # The viewer may take it now; else why not (a refusal, translated where shown).
    mine: bool = False
    refusal: DomainError | None = None
    # A page anchor of the case file where the step is taken.
    anchor: str = ""

    def translate(self, gettext) -> str:
        """Return the step's text in the viewer's language."""
        return DomainError(self.text, **self.params).translate(gettext)


def _roles_for(operation: str, request: ServiceRequest) -> Terms:
    labels = dict(ROLE_LABELS)
    return Terms(Term(labels[role]) for role in ROLES if request.status in workflow.states_for(operation, role))


def _step(text: str, operation: str, request: ServiceRequest, actor, anchor: str, **params) -> Step:
    step = Step(text, params, operation, _roles_for(operation, request), anchor=anchor)
    try:
        workflow.check(operation, request, actor)
    except DomainError as err:
        step.refusal = err
    else:
        step.mine = True
    return step


def _status_step(text: str, target: str, request: ServiceRequest, actor, anchor: str = "#status") -> Step:
    transition = workflow.check_transition(request.status, target, "admin")
    labels = dict(ROLE_LABELS)
    step = Step(text, {}, None, Terms(Term(labels[r]) for r in ROLES if r in transition.roles), anchor=anchor)
    try:
        workflow.check_transition(request.status, target, actor.role)
        workflow.check_part(request, actor)
        workflow.run_guard(transition, request, actor)
    except DomainError as err:
        step.refusal = err
    else:
        step.mine = True
    return step


def next_steps(request: ServiceRequest, actor) -> list[Step]:
    """Return the next steps of the request as the viewer should see them, in the policy's order (P5, P6)."""
    status = request.status
    steps: list[Step] = []
    if status == "draft":
        problems = evidence.submission_problems(request)
        if problems:
            steps.append(_step(N_("Complete the request before it is submitted: %(missing)s."), "request.answers",
                               request, actor, "#intake", missing=Terms(Term(p) for p in problems)))
        else:
            steps.append(_status_step(N_("Submit the request and give the beneficiary its number and decision date."),
                                      "submitted", request, actor, "#submit"))
        return steps
    if status in workflow.VERIFYING:
        pending = [(t, state) for t, state in evidence.document_checklist(request) if state != "verified"]
        missing = [t.name_ar for t, state in pending if state == "missing"]
        received = [t.name_ar for t, state in pending if state == "received"]
        if missing:
            steps.append(_step(N_("Waiting for documents: %(documents)s."), "document.file", request, actor,
                               "#documents", documents="، ".join(missing)))
        if received:
            steps.append(_step(N_("Verify the documents against the originals: %(documents)s."), "document.verify",
                               request, actor, "#documents", documents="، ".join(received)))
        if status == "submitted" and not pending:
            steps.append(_status_step(N_("Start the verification."), "under_verification", request, actor))
        if status == "under_verification" and not pending:
            methods = evidence.missing_verifications(request)
            if methods:
                labels = dict(VISIT_METHODS)
                steps.append(_step(N_("Waiting for the verification: %(methods)s. The assigned researcher records "
                                      "each visit's outcome; a manager may waive a method with a reason."),
                                   "visit.outcome", request, actor, "#verification",
                                   methods=Terms(Term(labels[m]) for m in methods)))
            else:
                steps.append(_status_step(N_("Verification is complete: move the request to evaluation."),
                                          "under_evaluation", request, actor))
        return steps
    if status == "under_evaluation":
        if evidence.unassessed_criteria(request):
            steps.append(_step(N_("Assess every criterion of the service."), "evaluation.assess", request, actor,
                               "#evaluation"))
        elif not evidence.evaluation_complete(request):
            steps.append(_step(N_("Recommend approval or rejection."), "evaluation.recommend", request, actor,
                               "#evaluation"))
        else:
            step = _step(N_("Decide: approve or reject."), "decision.decide", request, actor, "#decision")
            involved = eligibility.involved_users(request)
            step.not_them = tuple(sorted(str(u) for u in User.select().where(User.username.in_(sorted(involved))))
                                  or sorted(involved))
            if step.mine:
                try:
                    evidence.check_ready_for_decision(request, actor)
                    eligibility.separation_of_duties(request, actor, override_reason="-" if actor.role == "admin"
                                                     else None)
                except DomainError as err:
                    step.mine, step.refusal = False, err
            steps.append(step)
        return steps
    if status == "approved":
        steps.append(_step(N_("Deliver the service and record what was delivered."), "delivery.record", request,
                           actor, "#delivery"))
    if status in ("approved", "rejected"):
        steps.append(_step(N_("Decided. To change what the decision rests on, a manager reopens the request with "
                              "a reason."), "decision.reopen", request, actor, "#reopen"))
    if status in ("rejected", "delivered"):
        steps.append(_status_step(N_("Close the file."), "closed", request, actor))
    if status in ("closed", "withdrawn"):
        steps.append(Step(N_("Nothing is left to do: the file is closed.")))
    return steps
