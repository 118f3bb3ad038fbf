"""Interactions across the six channels (P3, P2.3, P2.7): the list, its bulk actions, answering and closing,
the manager's open and overdue queue, and the kinds and holidays behind the response due dates."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee.filters import BasePeeweeFilter, FilterEqual
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from peewee import JOIN
from wtforms import DateField
from wtforms.validators import Optional

from models import Beneficiary, Holiday, Interaction, InteractionKind, ServiceRequest, User
from models.choices import CHANNELS, LANGUAGES
from models.interaction import INTERACTION_CATEGORIES, INTERACTION_DIRECTIONS, INTERACTION_SOURCES, INTERACTION_STATUSES
from services import interactions as svc
from services.dates import today_local
from services.errors import DomainError
from services.ids import parse_id
from services.search import beneficiary_matches, key_contains, may_be_code
from services.validators import format_mobile
from web.filters import bdi, current_lang

from .access import apply_correction, correction_context
from .base import SecureModelView, SecureView
from .fields import lazy_choices
from .filters import RiyadhDayBetweenFilter, live_options
from .formatters import bdi_formatter, choice_formatter, date_formatter
from .requests import ScopedRequestLoader


class OverdueInteractionFilter(BasePeeweeFilter):
    """Open interactions whose response due date has passed (Riyadh days)."""

    def apply(self, query, value):
        overdue = svc.overdue_clause()
        return query.where(overdue if value == "1" else ~overdue)

    def operation(self):
        return _l("is")


class UnassignedFilter(BasePeeweeFilter):
    """Interactions nobody has been given yet."""

    def apply(self, query, value):
        return query.where(Interaction.handled_by.is_null(value == "1"))

    def operation(self):
        return _l("is")


@live_options
def _kind_options():
    name = "name_ar" if current_lang() == "ar" else "name_en"
    return [(k.id, getattr(k, name)) for k in InteractionKind.select().order_by(InteractionKind.position)]


@live_options
def _handler_options():
    return [(u.id, str(u)) for u in svc.handlers()]


def _kind_name(kind) -> str:
    return kind.name_ar if current_lang() == "ar" else kind.name_en


def _who(view, context, model, name):
    """Show the beneficiary, or the anonymous contact's name and phone."""
    if model.beneficiary_id:
        return str(model.beneficiary)
    if model.contact_phone:
        return Markup("%s — %s") % (model.contact_name or "", bdi(format_mobile(model.contact_phone)))
    return model.contact_name or ""


def _due(view, context, model, name):
    if not model.due_date:
        return ""
    text = date_formatter(view, context, model, name)
    if model.status == "open" and model.due_date < today_local():
        return Markup('<span class="text-danger font-weight-bold">%s</span>') % text
    return text


LABELS = {
    "number": _l("Number"), "beneficiary": _l("Beneficiary"), "contact_name": _l("Name of the person"),
    "contact_phone": _l("Their phone"), "request": _l("Request"), "channel": _l("Channel"),
    "direction": _l("Direction"), "kind": _l("Kind"), "category": _l("Category"), "subject": _l("Subject"),
    "text": _l("What the person said or asked"), "language": _l("Language"), "received_at": _l("Received at"),
    "due_date": _l("Response due"), "handled_by": _l("Handled by"), "response": _l("Response given"),
    "responded_at": _l("Responded at"), "resolution": _l("Resolution"), "status": _l("Status"),
    "closed_at": _l("Closed at"), "source": _l("Recorded through"), "ip": _l("IP address"),
    "created_at": _l("Created at"), "created_by": _l("Created by"), "updated_at": _l("Last changed at"),
    "updated_by": _l("Last changed by"),
}


class InteractionView(SecureModelView):
    read_capability = "interactions.read"
    create_capability = "interactions.create"
    edit_capability = "interactions.handle"
    export_capability = "export"
    action_capabilities = {"assign": "interactions.assign", "close": "interactions.handle"}
    details_template = "admin/interaction_details.html"

    column_list = ("number", "received_at", "kind", "channel", "beneficiary", "subject", "status", "due_date",
                   "handled_by")
    column_details_list = ("number", "kind", "channel", "direction", "beneficiary", "contact_name", "contact_phone",
                           "request", "category", "subject", "text", "language", "received_at", "due_date",
                           "handled_by", "status", "response", "responded_at", "resolution", "closed_at", "source",
                           "created_at", "created_by", "updated_at", "updated_by")
    column_export_list = column_details_list
    column_default_sort = ("id", True)
    column_sortable_list = ("number", "received_at", "channel", "status", "due_date")
    form_columns = ("beneficiary", "contact_name", "contact_phone", "request", "channel", "direction", "kind",
                    "category", "subject", "text", "language", "received_at")
    form_choices = {"channel": lazy_choices(CHANNELS), "direction": lazy_choices(INTERACTION_DIRECTIONS),
                    "category": lazy_choices(INTERACTION_CATEGORIES),
                    "language": lazy_choices(LANGUAGES)}
    form_queries = {"kind": lambda: InteractionKind.select().where(InteractionKind.active == True)  # noqa: E712
                    .order_by(InteractionKind.position)}
    # Staff type the day a letter or call came in; the service turns it into a time (today: now).
    form_overrides = {"received_at": DateField}
    form_args = {"received_at": {"default": today_local, "validators": [Optional()]},
                 "kind": {"get_label": lambda k: _kind_name(k)}}
    form_ajax_refs = {
        "beneficiary": {"fields": (Beneficiary.reference, Beneficiary.full_name, Beneficiary.id_number),
                        "page_size": 10},
        "request": ScopedRequestLoader("request", ServiceRequest, fields=(ServiceRequest.number,), page_size=10),
    }
    column_labels = LABELS
    column_formatters = {
        "number": bdi_formatter, "channel": choice_formatter(CHANNELS),
        "direction": choice_formatter(INTERACTION_DIRECTIONS), "status": choice_formatter(INTERACTION_STATUSES),
        "category": choice_formatter(INTERACTION_CATEGORIES), "language": choice_formatter(LANGUAGES),
        "source": choice_formatter(INTERACTION_SOURCES), "kind": lambda v, c, m, n: _kind_name(m.kind),
        "beneficiary": _who, "contact_phone": lambda v, c, m, n: bdi(format_mobile(m.contact_phone)),
        "request": lambda v, c, m, n: m.request.number if m.request_id else "",
        "received_at": date_formatter, "due_date": _due, "responded_at": date_formatter,
        "closed_at": date_formatter, "created_at": date_formatter, "updated_at": date_formatter,
    }
    column_formatters_export = {"beneficiary": lambda v, c, m, n: m.beneficiary.reference if m.beneficiary_id
                                else m.contact_name or "",
                                "contact_phone": lambda v, c, m, n: m.contact_phone or ""}

    prejoined = ("InteractionKind",)

    def base_query(self):
        handler = User.alias()
        return (Interaction.select(Interaction, InteractionKind, Beneficiary, handler)
                .join(InteractionKind, on=(Interaction.kind == InteractionKind.id), attr="kind").switch(Interaction)
                .join(Beneficiary, JOIN.LEFT_OUTER, on=(Interaction.beneficiary == Beneficiary.id), attr="beneficiary")
                .switch(Interaction)
                .join(handler, JOIN.LEFT_OUTER, on=(Interaction.handled_by == handler.id), attr="handled_by"))

    def get_filters(self):
        yes_no = [("1", _l("Yes")), ("0", _l("No"))]
        return [
            FilterEqual(Interaction.status, _l("Status"), options=lazy_choices(INTERACTION_STATUSES)),
            FilterEqual(Interaction.channel, _l("Channel"), options=lazy_choices(CHANNELS)),
            FilterEqual(Interaction.kind, _l("Kind"), options=_kind_options),
            FilterEqual(Interaction.category, _l("Category"), options=lazy_choices(INTERACTION_CATEGORIES)),
            OverdueInteractionFilter(Interaction.due_date, _l("Overdue"), options=yes_no),
            FilterEqual(Interaction.handled_by, _l("Handled by"), options=_handler_options),
            UnassignedFilter(Interaction.handled_by, _l("Unassigned"), options=yes_no),
            FilterEqual(Interaction.source, _l("Recorded through"), options=lazy_choices(INTERACTION_SOURCES)),
            RiyadhDayBetweenFilter(Interaction.received_at, _l("Received at")),
        ]

    def search_placeholder(self):
        return str(_l("Number, subject, name or reference"))

    def search_clause(self, term):
        clause = (Interaction.subject.contains(term) | Interaction.contact_name.contains(term)
                  | beneficiary_matches(Interaction.beneficiary, term))
        return clause | key_contains(Interaction.number, term.upper()) if may_be_code(term) else clause

    # ---- rows and writes ------------------------------------------------------------------
    def scope_query(self, query):
        if self._role() is None:
            return query
        return svc.visible_interactions(query, current_user)

    def row_editable(self, obj):
        return current_user.role != "researcher" or obj.handled_by_id in (None, current_user.id)

    def create_form(self, obj=None):
        form = super().create_form(obj)
        # "Record an interaction" on a beneficiary's page opens this form with the beneficiary chosen.
        beneficiary_id = request.args.get("beneficiary_id", type=parse_id)
        if beneficiary_id and request.method == "GET" and "beneficiary" in form._fields:
            form.beneficiary.data = Beneficiary.get_or_none(Beneficiary.id == beneficiary_id)
        return form

    def validate_model(self, model, is_created):
        svc.normalize_interaction(model, is_created)

    def after_insert(self, model):
        svc.assign_number(model)

    @expose("/details/")
    def details_view(self):
        model = self.get_one(request.args.get("id", ""))
        if model is not None:
            self._template_args.update(
                can_handle=self._can("interactions.handle") and self.row_editable(model),
                can_assign=self._can("interactions.assign"), handlers=list(svc.handlers()),
                categories=lazy_choices(INTERACTION_CATEGORIES), overdue=model.status == "open"
                and model.due_date is not None and model.due_date < today_local(),
                kind_name=_kind_name(model.kind), **correction_context(model))
        return super().details_view()

    # ---- one interaction: answer, close, assign ---------------------------------------------
    def _one(self, id):
        model = self.get_one(str(id))  # 403 outside the role's scope
        if model is None:
            abort(404)
        return model

    def _back_to(self, model):
        return redirect(self.get_url(".details_view", id=model.id))

    @expose("/respond/<int:id>", methods=["POST"])
    def respond(self, id):
        """Record the response given to the person."""
        if not self._can("interactions.handle"):
            abort(403)
        model = self._one(id)
        try:
            svc.respond(model, request.form.get("response", ""), current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The response was recorded."), "success")
        return self._back_to(model)

    @expose("/close/<int:id>", methods=["POST"])
    def close(self, id):
        """Close the interaction, with its response and (for a suggestion or complaint) category and resolution."""
        if not self._can("interactions.handle"):
            abort(403)
        model = self._one(id)
        try:
            svc.close(model, current_user._get_current_object(), response=request.form.get("response"),
                      resolution=request.form.get("resolution"), category=request.form.get("category") or None)
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The interaction was closed."), "success")
        return self._back_to(model)

    @expose("/correct/<int:id>", methods=["POST"])
    def correct(self, id):
        """Apply a data-correction request to the beneficiary's file (services.corrections)."""
        if not self._can("interactions.handle"):
            abort(403)
        return apply_correction(self._one(id))

    @expose("/assign/<int:id>", methods=["POST"])
    def assign(self, id):
        """Give the interaction to a staff member to answer."""
        if not self._can("interactions.assign"):
            abort(403)
        model = self._one(id)
        actor = current_user._get_current_object()
        try:
            svc.assign(model, svc.check_assignee(request.form.get("handled_by", type=parse_id), actor), actor)
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The interaction was assigned."), "success")
        return self._back_to(model)

    # ---- bulk: assign, close with one response ----------------------------------------------
    def _confirm(self, kind, ids):
        return self.render("admin/interaction_bulk.html", kind=kind, ids=ids, handlers=list(svc.handlers()),
                           categories=lazy_choices(INTERACTION_CATEGORIES),
                           all_matching=request.form.get("all_matching") == "1",
                           apply_url=self.get_url(".bulk_apply", **request.args.to_dict(flat=True)),
                           return_url=get_redirect_target() or self.get_url(".index_view"))

    @action("assign", _l("Assign to a staff member"))
    def action_assign(self, ids):
        return self._confirm("assign", ids)

    @action("close", _l("Close with one response"))
    def action_close(self, ids):
        return self._confirm("close", ids)

    @expose("/bulk/", methods=["POST"])
    def bulk_apply(self):
        """Apply a confirmed bulk action to each chosen interaction; refusals are listed with the reason."""
        kind = request.form.get("kind")
        if not self._can(self.action_capabilities.get(kind, self.edit_capability)):
            abort(403)
        back = redirect(self.get_url(".index_view"))
        if kind not in self.action_capabilities:
            flash(gettext("Unknown action."), "error")
            return back
        actor = current_user._get_current_object()
        ids = [i for i in request.form.getlist("rowid") if i.isdigit()]
        if kind == "assign":
            try:
                handler = svc.check_assignee(request.form.get("handled_by", type=parse_id), actor)
            except DomainError as err:
                flash(err.translate(gettext), "error")
                return back
            self.apply_each("assign", ids, lambda row: svc.assign(row, handler, actor), lambda n: ngettext(
                "%(num)s interaction was assigned.", "%(num)s interactions were assigned.", n))
        else:
            form = request.form
            self.apply_each("close", ids, lambda row: svc.close(
                row, actor, response=form.get("response"), resolution=form.get("resolution"),
                category=form.get("category") or None), lambda n: ngettext(
                "%(num)s interaction was closed.", "%(num)s interactions were closed.", n))
        return back


class InteractionQueueView(SecureView):
    """The manager's view of open interactions per staff member and the overdue ones (P2.3, P2.7)."""

    capability = "interactions.assign"


    @expose("/")
    def index(self):
        loads, overdue = svc.open_and_overdue()
        return self.render("admin/interaction_queue.html", loads=loads, overdue=overdue, kind_name=_kind_name,
                           today=today_local())


class InteractionKindView(SecureModelView):
    """The kinds of interaction and their response periods in working days: configuration (P1.2)."""

    read_capability = "services.manage"
    create_capability = "services.manage"
    edit_capability = "services.manage"

    column_list = ("name_ar", "name_en", "code", "response_days", "needs_resolution", "public", "position",
                   "active")
    form_columns = ("name_ar", "name_en", "code", "response_days", "needs_resolution", "public", "position",
                    "active")
    column_default_sort = ("position", False)
    column_labels = {"name_ar": _l("Name (Arabic)"), "name_en": _l("Name (English)"), "code": _l("Code"),
                     "response_days": _l("Working days to respond"),
                     "needs_resolution": _l("Closed with a category and a resolution"),
                     "public": _l("Offered on the portal"), "position": _l("Order"), "active": _l("Active")}

    def search_clause(self, term):
        return InteractionKind.name_ar.contains(term) | InteractionKind.name_en.contains(term)

    def validate_model(self, model, is_created):
        svc.normalize_kind(model)


class HolidayView(SecureModelView):
    """Holidays that are not weekends: they do not count as working days for response due dates."""

    read_capability = "services.manage"
    create_capability = "services.manage"
    edit_capability = "services.manage"

    column_list = ("name_ar", "name_en", "first_day", "last_day")
    form_columns = ("name_ar", "name_en", "first_day", "last_day")
    column_default_sort = ("first_day", True)
    column_labels = {"name_ar": _l("Name (Arabic)"), "name_en": _l("Name (English)"),
                     "first_day": _l("First day"), "last_day": _l("Last day (empty: one day)")}
    column_formatters = {"first_day": date_formatter, "last_day": date_formatter}
    form_args = {"last_day": {"validators": [Optional()]}}

    def search_clause(self, term):
        return Holiday.name_ar.contains(term) | Holiday.name_en.contains(term)

    def validate_model(self, model, is_created):
        svc.normalize_holiday(model)
