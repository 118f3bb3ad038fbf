"""The register of personal-data incidents, with the 72-hour countdown to notify the authority (PDPL)."""
import datetime

from flask import abort, flash, redirect
from flask_admin import expose
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields import DateTimeLocalField
from wtforms.validators import InputRequired, NumberRange, Optional

from models import Incident
from models.incident import INCIDENT_STATUSES
from services import incidents as svc
from services.dates import RIYADH, to_local
from services.errors import DomainError
from web.filters import bdi

from .base import SecureModelView
from .fields import lazy_choices
from .filters import RiyadhDayBetweenFilter
from .formatters import choice_formatter, date_formatter


class RiyadhDateTimeField(DateTimeLocalField):
    """A date and time typed in Riyadh time and stored in UTC, like every time in the database."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])
        super().__init__(*args, **kwargs)

    def process_data(self, value):
        super().process_data(to_local(value).replace(tzinfo=None) if isinstance(value, datetime.datetime) else value)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = self.data.replace(tzinfo=RIYADH).astimezone(datetime.UTC).replace(tzinfo=None)

    def populate_obj(self, obj, name):
        # The form shows minutes: a stored time with seconds, sent back unchanged, is not a change (saving a
        # form must not rewrite a time nobody touched).
        stored = getattr(obj, name, None)
        if (isinstance(stored, datetime.datetime) and self.data is not None
                and stored.replace(second=0, microsecond=0) == self.data.replace(second=0, microsecond=0)):
            return
        super().populate_obj(obj, name)


_COUNTDOWN = {
    "notified": ("text-success", lambda hours: gettext("Authority notified")),
    "closed": ("text-muted", lambda hours: gettext("Closed")),
    "overdue": ("text-danger font-weight-bold", lambda hours: gettext("Overdue by %(hours)s h", hours=hours)),
    "urgent": ("text-danger font-weight-bold", lambda hours: gettext("%(hours)s h left", hours=hours)),
    "running": ("", lambda hours: gettext("%(hours)s h left", hours=hours)),
}


def _countdown(view, context, model, name):
    """Show the hours left to notify the authority: red under 24 hours or overdue."""
    state, hours = svc.countdown(model)
    css, text = _COUNTDOWN[state]
    return Markup('<span class="%s" data-countdown="%s">%s</span>') % (css, state, bdi(text(hours)))


LABELS = {
    "id": _l("Number"), "what": _l("What happened"), "discovered_at": _l("Discovered at"),
    "affected": _l("Who is affected"), "affected_count": _l("Estimated number of people affected"),
    "data_kinds": _l("Kinds of personal data involved"), "actions_taken": _l("Actions taken"),
    "authority_notified_at": _l("Authority notified at"), "persons_notified_at": _l("Affected persons notified at"),
    "status": _l("Status"), "closed_at": _l("Closed at"), "recorded_by": _l("Recorded by"),
    "deadline": _l("Notify the authority within 72 hours"),
    "created_at": _l("Created at"), "updated_at": _l("Last changed at"), "updated_by": _l("Last changed by"),
}


class IncidentView(SecureModelView):
    read_capability = "incidents.manage"
    create_capability = "incidents.manage"
    edit_capability = "incidents.manage"
    # The register is evidence for the authority: incidents are closed, never deleted.
    delete_capability = None
    export_capability = None
    details_template = "admin/incident_details.html"

    column_list = ("id", "discovered_at", "what", "affected_count", "status", "deadline", "authority_notified_at")
    column_details_list = ("id", "what", "discovered_at", "deadline", "affected", "affected_count", "data_kinds",
                           "actions_taken", "authority_notified_at", "persons_notified_at", "status", "closed_at",
                           "recorded_by", "created_at", "updated_at", "updated_by")
    column_default_sort = ("discovered_at", True)
    column_sortable_list = ("id", "discovered_at", "status", "authority_notified_at")
    form_columns = ("what", "discovered_at", "affected", "affected_count", "data_kinds", "actions_taken",
                    "authority_notified_at", "persons_notified_at")
    form_overrides = dict.fromkeys(("discovered_at", "authority_notified_at", "persons_notified_at"), RiyadhDateTimeField)
    form_args = {"discovered_at": {"validators": [InputRequired()]},
                 "authority_notified_at": {"validators": [Optional()]},
                 "persons_notified_at": {"validators": [Optional()]},
                 "affected_count": {"validators": [Optional(), NumberRange(min=0)]}}
    column_labels = LABELS
    column_formatters = {
        "id": lambda v, c, m, n: bdi(m.id), "status": choice_formatter(INCIDENT_STATUSES), "deadline": _countdown,
        "discovered_at": date_formatter, "authority_notified_at": date_formatter,
        "persons_notified_at": date_formatter, "closed_at": date_formatter, "created_at": date_formatter,
        "updated_at": date_formatter,
        "recorded_by": lambda v, c, m, n: m.recorded_by.username if m.recorded_by_id else "",
    }

    def get_filters(self):
        return [
            FilterEqual(Incident.status, _l("Status"), options=lazy_choices(INCIDENT_STATUSES)),
            RiyadhDayBetweenFilter(Incident.discovered_at, _l("Discovered at")),
        ]

    def search_clause(self, term):
        return Incident.what.contains(term) | Incident.affected.contains(term) | Incident.data_kinds.contains(term)

    def row_editable(self, obj):
        return obj.status != "closed"

    def validate_model(self, model, is_created):
        svc.normalize_incident(model)

    def on_model_change(self, form, model, is_created):
        if is_created:
            model.recorded_by = current_user._get_current_object()

    @expose("/close/<int:id>", methods=["POST"])
    def close(self, id):
        """Close the incident once its actions are written down."""
        model = self.get_one(str(id))
        if model is None:
            abort(404)
        try:
            svc.close(model, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The incident was closed."), "success")
        return redirect(self.get_url(".details_view", id=model.id))
