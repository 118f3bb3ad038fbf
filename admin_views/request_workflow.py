"""The request's case file: every step of the eligibility workflow (P5, P6) as a small POST on the request.

Each endpoint loads the request through the view's scope (403 outside it), checks the role's
capability, calls one service function and redirects back to the case file with the outcome.
Policy lives in services/: each service function passes the rules table (services.workflow: role,
state, the actor's part) and says why when it refuses; these handlers only translate forms into calls
and errors into messages.
"""
from functools import wraps

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user

from models import (
    CriterionAssessment,
    Delivery,
    Document,
    EvaluationCriterion,
    IntakeAnswer,
    IntakeQuestion,
    MethodWaiver,
    Recommendation,
    Referral,
    RequestTransition,
    User,
    VerificationVisit,
)
from models.notification import Notification
from models.personal_data import hidden_fields
from services import case_guide, eligibility, evidence, fairness, notifications, referrals, workflow
from services import requests as request_service
from services.errors import N_, DomainError, ValidationError
from services.ids import parse_id
from services.roles import can
from services.sensitive_rows import hidden_answers

from .posted import posted_text, posted_when

# Transitions that happen through their own form (a decision, a delivery), not the status buttons.
_THROUGH_FORMS = {evidence.guard_decision, evidence.guard_delivered, evidence.guard_submit}

# Messages staff may send by hand from the case file or the list (kinds of services.notifications).
MANUAL_MESSAGES = notifications.MANUAL_KINDS


def case_step(capability: str):
    """Wrap a case-file POST: scope and capability checks, domain errors flashed, back to the file.

    Whether the step is possible in the request's state, and for this person, is the service's to say
    (services.workflow's rules table): its refusal is shown as it is.
    """
    def decorate(fn):
        @wraps(fn)
        def handler(self, id):
            if not self._can(capability):
                abort(403)
            model = self.get_one(str(id))
            if model is None:
                abort(404)
            try:
                message = fn(self, model, current_user._get_current_object())
            except DomainError as err:
                flash(err.translate(gettext), "error")
            else:
                if message:
                    flash(message, "success")
            return redirect(self.get_url(".details_view", id=model.id) + request.form.get("anchor", ""))
        return handler
    return decorate


def _user(name: str) -> User | None:
    value = parse_id(request.form.get(name))
    return User.get_or_none(User.id == value) if value else None


def _pk(name: str) -> int | None:
    """Return a posted row id, or None when it cannot name a row (never a database error)."""
    return parse_id(request.form.get(name))


class RequestWorkflowMixin:
    """Case-file actions for the service request screen."""

    def case_file(self, model) -> dict:
        """Return what the case file shows for one request, for the current role.

        Personal data follows models/personal_data.py: an answer the role may not read never reaches
        the page (only that it was given), and notes, findings and reasons show where `sees` allows.
        A volunteer who registered a request of a sensitive service sees that it exists, its status
        and history, and may finish the draft; not its answers, findings or reasons
        (services/sensitive_rows.py).
        """
        role = current_user.role
        questions = list(IntakeQuestion.select().where((IntakeQuestion.service == model.service_id) &
                                                      (IntakeQuestion.active == True))  # noqa: E712
                         .order_by(IntakeQuestion.position, IntakeQuestion.id))
        # Answers the role may not see never reach the template: only that they were given.
        hidden = hidden_answers(model, questions, role)
        stored = {a.question_id: a.value for a in IntakeAnswer.select().where(IntakeAnswer.request == model)}
        answers = {qid: value for qid, value in stored.items() if qid not in hidden}
        confirmed = {v.method for v in model.visits if v.outcome == "confirmed"}
        waivers = {w.method: w for w in MethodWaiver.select().where(MethodWaiver.request == model)}
        criteria = list(EvaluationCriterion.select().where((EvaluationCriterion.service == model.service_id) &
                                                           (EvaluationCriterion.active == True))  # noqa: E712
                        .order_by(EvaluationCriterion.position, EvaluationCriterion.id))
        assessments = {a.criterion_id: a for a in CriterionAssessment.select().where(
            CriterionAssessment.request == model)}
        documents = list(evidence.documents_of(model).order_by(Document.id))
        user = current_user._get_current_object()
        return {
            "staff": role != "board",
            # The next step, who takes it, and why not the viewer (services.case_guide).
            "steps": case_guide.next_steps(model, user),
            # Whether a write of the rules table is open to the viewer now (what the page offers).
            "may": lambda operation: workflow.allowed(operation, model, user),
            "targets": [t for t in workflow.allowed_targets(model.status, role)
                        if workflow.check_transition(model.status, t, role).guard not in _THROUGH_FORMS],
            "problems": evidence.submission_problems(model) if model.status == "draft" else [],
            "questions": questions,
            "answers": answers,
            "hidden_answers": hidden,
            "answered_hidden": {qid for qid, value in stored.items() if qid in hidden and value},
            # Notes, findings, reasons (models/personal_data.py "circumstances"): whether the role sees them.
            "sees": lambda model_name, field: field not in hidden_fields(model_name, role),
            "checklist": evidence.document_checklist(model),
            "documents": documents,
            "methods": [(m, "confirmed" if m in confirmed else "waived" if m in waivers else "missing",
                         waivers.get(m)) for m in model.service.required_methods()],
            "visits": list(model.visits.order_by(VerificationVisit.id)),
            "criteria": criteria,
            "assessments": assessments,
            "recommendation": Recommendation.get_or_none(Recommendation.request == model),
            "evaluation_complete": evidence.evaluation_complete(model),
            "previous_approval": _previous_approval(model),
            "deliveries": list(Delivery.select().where(Delivery.request == model).order_by(Delivery.delivered_at)),
            "referrals": list(Referral.select().where(Referral.request == model).order_by(Referral.id)),
            "transitions": list(RequestTransition.select().where(RequestTransition.request == model)
                                .order_by(RequestTransition.at, RequestTransition.id)),
            "notifications": _notifications(model),
            "researchers": list(User.select().where((User.role == "researcher") & (User.active == True))  # noqa: E712
                                .order_by(User.full_name)),
            "manual_messages": MANUAL_MESSAGES,
            "can": lambda capability: can(role, capability),
            "editable": self.row_editable(model),
            "staff_users": list(User.select().where((User.active == True) & (User.role != "board"))  # noqa: E712
                                .order_by(User.full_name)),
        }

    @expose("/details/")
    def details_view(self):
        model = self.get_one(request.args.get("id", ""))
        if model is not None:
            self._template_args["case"] = self.case_file(model)
        return super().details_view()

    # ---- intake and submission (P5.2, P5.4, P5.5, P6.1) ----------------------------------------------
    @expose("/case/<int:id>/answers", methods=["POST"])
    @case_step("requests.edit")
    def case_answers(self, model, actor):
        questions = list(IntakeQuestion.select().where(IntakeQuestion.service == model.service_id))
        # A hidden answer's field comes back empty (its value was never sent): empty keeps what is stored,
        # so a volunteer saving the other answers does not erase the income they may not read.
        hidden = hidden_answers(model, questions, actor.role)
        eligibility.save_answers(model, {q.id: request.form.get(f"q{q.id}", "") for q in questions
                                         if f"q{q.id}" in request.form
                                         and not (q.id in hidden and not request.form[f"q{q.id}"].strip())}, actor)
        return gettext("The answers were saved.")

    @expose("/case/<int:id>/attest", methods=["POST"])
    @case_step("requests.edit")
    def case_attest(self, model, actor):
        eligibility.take_attestation(model, posted_text("attestation_method"), actor)
        return gettext("The applicant's attestation was recorded.")

    @expose("/case/<int:id>/submit", methods=["POST"])
    @case_step("requests.edit")
    def case_submit(self, model, actor):
        from web.filters import dual_date
        receipt = eligibility.submit(model, actor)
        return gettext("Submitted. Tell the beneficiary: request number %(number)s; a decision is due by "
                       "%(due)s.", number=receipt.number, due=dual_date(receipt.decision_due))

    # ---- status moves, documents, verification (P6.2, P6.5) --------------------------------------------
    @expose("/case/<int:id>/status", methods=["POST"])
    @case_step("requests.edit")
    def case_status(self, model, actor):
        workflow.change_status(model, posted_text("status"), actor, note=posted_text("note") or None)
        return gettext("The status was changed.")

    @expose("/case/<int:id>/assign", methods=["POST"])
    @case_step("requests.assign")
    def case_assign(self, model, actor):
        request_service.assign(model, _pk("researcher"), actor)
        return gettext("The researcher was assigned.")

    @expose("/case/<int:id>/verify-document", methods=["POST"])
    @case_step("documents.verify")
    def case_verify_document(self, model, actor):
        doc = Document.get_or_none(Document.id == _pk("document")) if _pk("document") else None
        if doc is None:
            raise ValidationError(N_("Choose a document of this request."))
        eligibility.verify_document(doc, actor, request=model)
        return gettext("The document was marked verified.")

    @expose("/case/<int:id>/visit", methods=["POST"])
    @case_step("visits.record")
    def case_schedule_visit(self, model, actor):
        eligibility.schedule_visit(model, posted_text("method"), posted_when("scheduled_at"), actor,
                                   notify_beneficiary=request.form.get("notify") == "1")
        return gettext("The visit was scheduled.")

    @expose("/case/<int:id>/record-visit", methods=["POST"])
    @case_step("visits.record")
    def case_record_visit(self, model, actor):
        visit = VerificationVisit.get_or_none((VerificationVisit.id == (_pk("visit") or 0))
                                              & (VerificationVisit.request == model))
        if visit is None:
            raise ValidationError(N_("Choose a visit of this request."))
        outcome = posted_text("outcome") or None
        if outcome and not can(actor.role, "visits.outcome"):
            raise ValidationError(N_("Your role records visits but does not set the outcome that counts."),
                                  field="outcome")
        eligibility.record_visit(visit, actor, performed_at=posted_when("performed_at"),
                                 findings=posted_text("findings"),
                                 outcome=outcome or visit.outcome, performed_by=_user("performed_by"))
        return gettext("The visit was recorded.")

    @expose("/case/<int:id>/waive", methods=["POST"])
    @case_step("decide")
    def case_waive(self, model, actor):
        eligibility.waive_method(model, posted_text("method"), posted_text("reason"), actor)
        return gettext("The method was waived.")

    # ---- evaluation and decision (P6.3, P6.4, P6.6) ------------------------------------------------------
    @expose("/case/<int:id>/assess", methods=["POST"])
    @case_step("evaluate")
    def case_assess(self, model, actor):
        criteria = EvaluationCriterion.select().where(EvaluationCriterion.service == model.service_id)
        marked = [(c, request.form[f"c{c.id}"]) for c in criteria if request.form.get(f"c{c.id}") in ("1", "0")]
        if not marked:
            raise ValidationError(N_("Mark at least one criterion as met or not met."))
        for criterion, met in marked:
            eligibility.assess(model, criterion, met == "1", posted_text(f"note{criterion.id}") or None, actor)
        return gettext("The assessment was saved.")

    @expose("/case/<int:id>/recommend", methods=["POST"])
    @case_step("evaluate")
    def case_recommend(self, model, actor):
        eligibility.recommend(model, posted_text("recommendation"), posted_text("note") or None, actor)
        return gettext("The recommendation was recorded.")

    @expose("/case/<int:id>/decide", methods=["POST"])
    @case_step("decide")
    def case_decide(self, model, actor):
        eligibility.decide(model, posted_text("decision"), posted_text("reason") or None, actor,
                           override_reason=posted_text("override_reason") or None)
        return gettext("The decision was recorded and the beneficiary's notification queued.")

    @expose("/case/<int:id>/reopen", methods=["POST"])
    @case_step("decide")
    def case_reopen(self, model, actor):
        eligibility.reopen(model, posted_text("reason"), actor)
        return gettext("The request was reopened and is under evaluation again.")

    # ---- delivery, referral, messages (P5.3, P5.7, P6.4) ----------------------------------------------
    @expose("/case/<int:id>/deliver", methods=["POST"])
    @case_step("deliver")
    def case_deliver(self, model, actor):
        eligibility.record_delivery(model, posted_text("description"), actor, quantity=posted_text("quantity"),
                                    amount=posted_text("amount"), delivered_at=posted_when("delivered_at"))
        return gettext("The delivery was recorded.")

    @expose("/case/<int:id>/refer", methods=["POST"])
    @case_step("refer")
    def case_refer(self, model, actor):
        referrals.refer(model.beneficiary, posted_text("reason"), actor, request=model, researcher=_user("researcher"))
        return gettext("The beneficiary was referred to the social researcher.")

    @expose("/case/<int:id>/notify", methods=["POST"])
    @case_step("notify")
    def case_notify(self, model, actor):
        notifications.send_by_hand(model, posted_text("kind"), actor)
        return gettext("The message was queued for sending.")


def _previous_approval(model):
    """Return the approval of the same service inside the service's minimum interval, if any (P6.6)."""
    return fairness.previous_approval_within_interval(model)


def _notifications(model) -> list:
    """Return the messages sent or queued for this request."""
    return list(Notification.select().where(Notification.request == model).order_by(Notification.id))
