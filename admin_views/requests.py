"""Service requests screen (documents and visits inline) with bulk assign and status change."""
import json

from flask import flash, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee.filters import BasePeeweeFilter, DateBetweenFilter, FilterEqual
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN

from models import Beneficiary, Service, ServiceRequest, User
from models.choices import ATTESTATION_METHODS, CHANNELS, DECISIONS, STATUSES, VISIT_METHODS
from services import bulk, workflow
from services import requests as svc
from services.dates import today_local
from services.errors import DomainError
from services.ids import parse_ids
from services.scopes import visible_requests
from services.search import beneficiary_matches, key_contains, may_be_code
from services.sensitive_rows import visible_sensitive_requests

from .background import over_threshold, submit_request_job
from .base import SecureModelView
from .fields import SafeAjaxLoader, lazy_choices
from .filters import RiyadhDayBetweenFilter, live_options
from .formatters import bdi_formatter, choice_formatter, date_formatter
from .posted import posted_when
from .request_workflow import MANUAL_MESSAGES, RequestWorkflowMixin


def _researchers():
    return User.select().where((User.role == "researcher") & (User.active == True)).order_by(User.full_name)  # noqa: E712


@live_options
def _service_options():
    return [(s.id, s.name_ar) for s in Service.select().order_by(Service.name_ar)]


@live_options
def _researcher_options():
    return [(u.id, str(u)) for u in _researchers()]


class ScopedRequestLoader(SafeAjaxLoader):
    """Request look-up for the upload form offering (and accepting) only the requests the user may see."""

    def scope(self, query):
        return visible_requests(query, current_user)

    def get_list(self, term, offset=0, limit=10):
        query = self.scope(ServiceRequest.select())
        if term:
            query = query.where(ServiceRequest.number.contains(term.upper()))
        return list(query.order_by(ServiceRequest.id.desc()).offset(offset).limit(limit))


class OverdueFilter(BasePeeweeFilter):
    """Open requests whose decision due date has passed (counted in Riyadh days)."""

    def apply(self, query, value):
        overdue = (ServiceRequest.decision_due < today_local()) & ServiceRequest.status.in_(workflow.OPEN_STATUSES)
        return query.where(overdue if value == "1" else ~overdue)

    def operation(self):
        return _l("is")


class OpenFilter(BasePeeweeFilter):
    """Requests still in progress: submitted or later, not yet decided, closed or withdrawn."""

    def apply(self, query, value):
        still_open = ServiceRequest.status.in_(workflow.OPEN_STATUSES - {"draft"})
        return query.where(still_open if value == "1" else ~still_open)

    def operation(self):
        return _l("is")


class ServiceRequestView(RequestWorkflowMixin, SecureModelView):
    read_capability = "requests.read"
    create_capability = "requests.create"
    edit_capability = "requests.edit"
    export_capability = "export"
    # The beneficiary column shows the person's name (the board gets the reference: fewer names
    # leave the association than the registry allows); the other personal columns (notes, the
    # decision's reason) are hidden per role by models/personal_data.py.
    personal_columns = {"beneficiary": ("Beneficiary", "full_name")}

    column_list = ("number", "beneficiary", "service", "channel", "status", "researcher", "submitted_at",
                   "decision_due")
    column_details_list = ("number", "beneficiary", "service", "channel", "status", "researcher", "submitted_at",
                           "decision_due", "attestation_method", "attestation_version", "attested_at",
                           "attested_by", "decision", "decision_reason", "decided_at", "decided_by",
                           "notified_at", "notes", "created_at", "created_by", "updated_at", "updated_by")
    column_export_list = column_details_list
    column_default_sort = ("id", True)
    column_sortable_list = ("number", "status", "channel", "submitted_at", "decision_due")
    # The request's own fields only. Its evidence (answers, attestation, documents, visits, evaluation,
    # decision) changes through the case file's steps, each checked against the rules table
    # (services.workflow); no inline visit rows, which wrote around those rules (issue 14).
    form_columns = ("beneficiary", "service", "channel", "researcher", "notes")
    form_choices = {"channel": lazy_choices(CHANNELS)}
    form_queries = {"researcher": _researchers}
    form_ajax_refs = {"beneficiary": {"fields": (Beneficiary.reference, Beneficiary.full_name, Beneficiary.id_number),
                                      "page_size": 10}}
    details_template = "admin/request_details.html"
    column_labels = {
        "number": _l("Request number"), "beneficiary": _l("Beneficiary"), "service": _l("Service"),
        "channel": _l("Channel"), "status": _l("Status"), "researcher": _l("Researcher"),
        "submitted_at": _l("Submitted at"), "decision_due": _l("Decision due"),
        "attestation_method": _l("Attestation taken"), "attestation_version": _l("Attestation text version"),
        "attested_at": _l("Attested at"), "attested_by": _l("Attestation taken by"), "decision": _l("Decision"),
        "decision_reason": _l("Reason for the decision"), "decided_at": _l("Decided at"),
        "decided_by": _l("Decided by"), "notified_at": _l("Beneficiary notified at"), "notes": _l("Notes"),
        "created_at": _l("Created at"), "created_by": _l("Created by"), "updated_at": _l("Last changed at"),
        "updated_by": _l("Last changed by"), "visits": _l("Verification visits"),
    }
    column_formatters = {
        "number": bdi_formatter,
        "channel": choice_formatter(CHANNELS),
        "status": choice_formatter(STATUSES),
        "decision": choice_formatter(DECISIONS),
        "attestation_method": choice_formatter(ATTESTATION_METHODS),
        "beneficiary": lambda v, c, m, n: m.beneficiary.reference if v._role() == "board" else str(m.beneficiary),
        "submitted_at": date_formatter, "decision_due": date_formatter, "attested_at": date_formatter,
        "decided_at": date_formatter, "notified_at": date_formatter, "created_at": date_formatter,
        "updated_at": date_formatter,
    }

    def get_filters(self):
        return [
            FilterEqual(ServiceRequest.status, _l("Status"), options=lazy_choices(STATUSES)),
            FilterEqual(ServiceRequest.service, _l("Service"), options=_service_options),
            FilterEqual(ServiceRequest.channel, _l("Channel"), options=lazy_choices(CHANNELS)),
            FilterEqual(ServiceRequest.researcher, _l("Researcher"), options=_researcher_options),
            OverdueFilter(ServiceRequest.decision_due, _l("Overdue"), options=[("1", _l("Yes")), ("0", _l("No"))]),
            OpenFilter(ServiceRequest.status, _l("Open"), options=[("1", _l("Yes")), ("0", _l("No"))]),
            RiyadhDayBetweenFilter(ServiceRequest.submitted_at, _l("Submitted at")),
            DateBetweenFilter(ServiceRequest.decision_due, _l("Decision due")),
            FilterEqual(Beneficiary.nationality, _l("Nationality")),
            FilterEqual(Beneficiary.city, _l("City")),
        ]

    def search_placeholder(self):
        return str(_l("Request number, beneficiary name or reference"))

    def search_clause(self, term):
        clause = beneficiary_matches(ServiceRequest.beneficiary, term)
        return clause | key_contains(ServiceRequest.number, term.upper()) if may_be_code(term) else clause

    # The list shows the beneficiary, service and researcher of every row: one joined
    # query instead of three more queries per row (N+1).
    prejoined = ("Beneficiary", "Service")

    def base_query(self):
        researcher = User.alias()
        return (ServiceRequest.select(ServiceRequest, Beneficiary, Service, researcher)
                 .join(Beneficiary).switch(ServiceRequest)
                 .join(Service).switch(ServiceRequest)
                 .join(researcher, JOIN.LEFT_OUTER, on=(ServiceRequest.researcher == researcher.id), attr="researcher"))

    # ---- role scopes ---------------------------------------------------------
    def scope_query(self, query):
        if self._role() is None:
            return query
        # Requests of sensitive services (religion): only the roles the registry names, and whoever
        # registered one (services/sensitive_rows.py says why), in the list, details, exports and counts.
        return visible_sensitive_requests(visible_requests(query, current_user), current_user)

    def export_scope(self, query):
        return svc.exportable_requests(query)

    def row_editable(self, obj):
        return svc.can_edit_request(obj, current_user)

    def save_row(self, model, is_created, loaded_version):
        actor = current_user._get_current_object()
        if is_created:
            svc.create_request(model, actor)
        else:
            svc.save_request(model, actor, loaded_version)

    def edit_form(self, obj=None):
        # A field the role may not change in this request's state is not offered (the service refuses it too).
        form = super().edit_form(obj)
        if obj is not None:
            for name in svc.locked_fields(obj, current_user):
                if name in form._fields:
                    del form[name]
        return form

    # ---- bulk actions --------------------------------------------------------
    @action("assign_researcher", _l("Assign a researcher"))
    def action_assign_researcher(self, ids):
        try:
            bulk.check_can_assign(current_user)
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return None
        return self.render("admin/bulk_assign.html", ids=ids,
                               researchers=list(_researchers()), return_url=self.get_url(".index_view"),
                               selection=self.selection_details())

    @action("change_status", _l("Change status"))
    def action_change_status(self, ids):
        return self.render("admin/bulk_status.html", ids=ids, statuses=lazy_choices(STATUSES),
                               return_url=self.get_url(".index_view"), selection=self.selection_details())

    @action("schedule_visits", _l("Schedule visits"))
    def action_schedule_visits(self, ids):
        return self.render("admin/bulk_visits.html", ids=ids,
                               methods=lazy_choices(VISIT_METHODS), return_url=self.get_url(".index_view"),
                               selection=self.selection_details())

    @action("decide", _l("Decide"))
    def action_decide(self, ids):
        return self.render("admin/bulk_decide.html", ids=ids,
                               return_url=self.get_url(".index_view"), selection=self.selection_details())

    @action("send_notification", _l("Send a message to the beneficiaries"))
    def action_send_notification(self, ids):
        return self.render("admin/bulk_notify.html", ids=ids,
                               kinds=lazy_choices(MANUAL_MESSAGES), return_url=self.get_url(".index_view"),
                               selection=self.selection_details())

    # Deciding and writing to beneficiaries need more than editing requests.
    action_capabilities = {"schedule_visits": "visits.record", "decide": "decide", "send_notification": "notify"}
    _bulk_capabilities = {"assign": "requests.edit", "status": "requests.edit", "visits": "visits.record",
                          "decide": "decide", "notify": "notify"}

    @expose("/bulk/apply/", methods=["POST"])
    def bulk_apply(self):
        """Apply a confirmed bulk action: each row on its own, refused rows listed with the reason."""
        from flask import abort, redirect
        kind = request.form.get("kind")
        if not self.can_edit or not self._can(self._bulk_capabilities.get(kind, self.edit_capability)):
            abort(403)
        ids = parse_ids(request.form.getlist("rowid"))
        if over_threshold(len(ids)):  # too many rows for one web request: the worker applies them
            return submit_request_job(kind, request.form, ids, _selection(request.form.get("selection")),
                                      self.get_url(".index_view"))
        if kind == "assign":
            # Only what the assignment reads (status, version, number), in the role's scope: loading each
            # row's beneficiary, service and researcher too took most of 10,000 rows' time (issue 9).
            query = self.scope_query(ServiceRequest.select(ServiceRequest.id, ServiceRequest.number,
                                                           ServiceRequest.status, ServiceRequest.version,
                                                           ServiceRequest.researcher, ServiceRequest.created_by))
        else:
            query = self.get_query()
        rows = list(query.where(ServiceRequest.id.in_(ids)))
        actor = current_user._get_current_object()
        form = request.form
        # How the rows were chosen (ticked, or all matching a filter), as the list described it: for the audit.
        selection = _selection(form.get("selection"))
        try:
            if kind == "assign":
                result = bulk.assign_researcher(rows, form.get("researcher", type=int), actor, selection)
            elif kind == "status":
                result = bulk.change_status(rows, form.get("status", ""), actor, form.get("note"), selection)
            elif kind == "visits":
                result = bulk.schedule_visits(rows, form.get("method", ""), posted_when("scheduled_at"), actor,
                                              selection)
            elif kind == "decide":
                result = bulk.decide(rows, form.get("decision", ""), form.get("reason"), actor, selection)
            elif kind == "notify":
                result = bulk.send_notification(rows, form.get("message"), actor, selection)
            else:
                flash(gettext("Unknown action."), "error")
                return redirect(self.get_url(".index_view"))
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return redirect(self.get_url(".index_view"))
        if result.done:
            flash(ngettext("%(num)s request was changed.", "%(num)s requests were changed.", len(result.done)),
                  "success")
        for row, err in result.refused:
            flash(f"{row}: {err.translate(gettext)}", "error")
        return redirect(self.get_url(".index_view"))


def _selection(raw: str | None) -> dict:
    """Read the selection description posted by a bulk confirmation page; anything malformed is "ticked"."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict) or value.get("selection") not in ("ticked", "all_matching"):
        return {"selection": "ticked"}
    return {"selection": value["selection"], "search": str(value.get("search") or "") or None,
            "filters": value.get("filters") if isinstance(value.get("filters"), list) else []}
