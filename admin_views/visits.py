"""Verification visits screen: record visits; only some roles set the outcome that counts."""
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN

from models import ServiceRequest, User, VerificationVisit
from models.choices import VISIT_METHODS, VISIT_OUTCOMES
from services import eligibility
from services.scopes import visible_visits
from services.search import request_matches

from .base import SecureModelView
from .fields import lazy_choices
from .filters import RiyadhDayBetweenFilter
from .formatters import choice_formatter, date_formatter
from .incidents import RiyadhDateTimeField
from .requests import ScopedRequestLoader


def _staff():
    return User.select().where((User.active == True) & (User.role != "board")).order_by(User.full_name)  # noqa: E712


class VerificationVisitView(SecureModelView):
    read_capability = "visits.read"
    create_capability = "visits.record"
    edit_capability = "visits.record"

    column_list = ("request", "method", "scheduled_at", "performed_at", "performed_by", "outcome")
    column_default_sort = ("id", True)
    column_sortable_list = ("method", "scheduled_at", "performed_at", "outcome")
    form_columns = ("request", "method", "scheduled_at", "performed_at", "performed_by", "findings", "outcome")
    form_choices = {"method": lazy_choices(VISIT_METHODS), "outcome": lazy_choices(VISIT_OUTCOMES)}
    form_queries = {"performed_by": _staff}
    # Typed and shown in Riyadh time like every time on screen, stored in UTC (Flask-Admin's own field
    # would take the typed time as UTC: a visit recorded at 09:00 was stored as 12:00 Riyadh).
    form_overrides = {"scheduled_at": RiyadhDateTimeField, "performed_at": RiyadhDateTimeField}
    form_ajax_refs = {"request": ScopedRequestLoader("request", ServiceRequest, fields=(ServiceRequest.number,),
                                                     page_size=10)}
    column_labels = {"request": _l("Request"), "method": _l("Method"), "scheduled_at": _l("Scheduled at"),
                     "performed_at": _l("Performed at"), "performed_by": _l("Performed by"),
                     "findings": _l("Findings"), "outcome": _l("Outcome"), "created_at": _l("Created at"),
                     "created_by": _l("Created by")}
    column_formatters = {"method": choice_formatter(VISIT_METHODS), "outcome": choice_formatter(VISIT_OUTCOMES),
                         "scheduled_at": date_formatter, "performed_at": date_formatter}

    def get_filters(self):
        return [
            FilterEqual(VerificationVisit.method, _l("Method"), options=lazy_choices(VISIT_METHODS)),
            FilterEqual(VerificationVisit.outcome, _l("Outcome"), options=lazy_choices(VISIT_OUTCOMES)),
            RiyadhDayBetweenFilter(VerificationVisit.scheduled_at, _l("Scheduled at")),
        ]

    def search_clause(self, term):
        return request_matches(VerificationVisit.request, term)

    # The list shows each visit's request and who performed it: joined once, not queried per row.
    prejoined = ("ServiceRequest",)

    def base_query(self):
        performer = User.alias()
        return (VerificationVisit.select(VerificationVisit, ServiceRequest, performer)
                .join(ServiceRequest, on=(VerificationVisit.request == ServiceRequest.id), attr="request")
                .switch(VerificationVisit)
                .join(performer, JOIN.LEFT_OUTER, on=(VerificationVisit.performed_by == performer.id),
                      attr="performed_by"))

    def scope_query(self, query):
        if self._role() is None:
            return query
        return visible_visits(query, current_user)

    def prepare_form(self, form):
        # The outcome decides eligibility (P6): volunteers record visits but do not set it.
        if not self._can("visits.outcome") and "outcome" in form._fields:
            del form.outcome
        return super().prepare_form(form)

    def edit_form(self, obj=None):
        # What the role may not change on this visit now (its request decided, or not theirs) is not offered;
        # eligibility.save_visit refuses it anyway.
        form = super().edit_form(obj)
        if obj is not None:
            for name in eligibility.locked_visit_fields(obj, current_user):
                if name in form._fields:
                    del form[name]
        return form

    def save_row(self, model, is_created, loaded_version):
        # Scheduling, recording and the outcome are rules of the case (services.workflow): one service decides.
        eligibility.save_visit(model, current_user._get_current_object(), None if is_created else loaded_version)
