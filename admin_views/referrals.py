"""Referrals to the social researcher (P5.3): any staff member refers; the researcher answers from the worklist."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN

from models import Beneficiary, Referral, ServiceRequest, User
from models.referral import REFERRAL_STATUSES
from services import referrals as svc
from services.errors import DomainError
from services.search import beneficiary_matches

from .base import SecureModelView
from .fields import lazy_choices
from .formatters import choice_formatter, date_formatter


def _researchers():
    return User.select().where((User.role == "researcher") & (User.active == True)).order_by(User.full_name)  # noqa: E712


class ReferralView(SecureModelView):
    read_capability = "refer"
    create_capability = "refer"
    # Referrals change only by being answered (the answer endpoint), never by editing the row.
    edit_capability = None
    details_template = "admin/referral_details.html"
    # The reason and the answer tell the person's situation: casework roles only (models/personal_data.py);
    # a volunteer still writes the reason of a referral they make (seeing is not writing).
    personal_columns = {"beneficiary": ("Beneficiary", "full_name")}

    column_list = ("beneficiary", "request", "reason", "researcher", "status", "created_at", "created_by")
    column_details_list = ("beneficiary", "request", "reason", "referred_by", "researcher", "status", "answer",
                           "answered_at", "created_at", "created_by")
    column_default_sort = ("id", True)
    column_sortable_list = ("status", "created_at")
    form_columns = ("beneficiary", "reason", "researcher")
    form_queries = {"researcher": _researchers}
    form_ajax_refs = {"beneficiary": {"fields": (Beneficiary.reference, Beneficiary.full_name, Beneficiary.id_number),
                                      "page_size": 10}}
    column_labels = {"beneficiary": _l("Beneficiary"), "request": _l("Request"), "reason": _l("Reason"),
                     "referred_by": _l("Referred by"), "researcher": _l("Researcher"), "status": _l("Status"),
                     "answer": _l("What the beneficiary was told"), "answered_at": _l("Answered at"),
                     "created_at": _l("Created at"), "created_by": _l("Created by")}
    column_formatters = {"status": choice_formatter(REFERRAL_STATUSES), "created_at": date_formatter,
                         "answered_at": date_formatter}

    def get_filters(self):
        return [FilterEqual(Referral.status, _l("Status"), options=lazy_choices(REFERRAL_STATUSES))]

    def search_clause(self, term):
        return beneficiary_matches(Referral.beneficiary, term)

    # The list shows beneficiary, request and researcher of each row: joined once, not per row.
    prejoined = ("Beneficiary",)

    def base_query(self):
        researcher = User.alias()
        return (Referral.select(Referral, Beneficiary, ServiceRequest, researcher)
                .join(Beneficiary, on=(Referral.beneficiary == Beneficiary.id), attr="beneficiary")
                .switch(Referral)
                .join(ServiceRequest, JOIN.LEFT_OUTER, on=(Referral.request == ServiceRequest.id), attr="request")
                .switch(Referral)
                .join(researcher, JOIN.LEFT_OUTER, on=(Referral.researcher == researcher.id), attr="researcher"))

    def scope_query(self, query):
        if self._role() is None:
            return query
        return svc.visible_referrals(query, current_user)

    def create_model(self, form):
        try:
            return svc.refer(form.beneficiary.data, form.reason.data, current_user._get_current_object(),
                             researcher=form.researcher.data)
        except DomainError as err:
            self._show_domain_error(form, err)
            return False

    @expose("/answer/<int:id>", methods=["POST"])
    def answer(self, id):
        """Record what the researcher told the beneficiary, closing the referral."""
        if not self._can("evaluate"):
            abort(403)
        referral = self.get_one(str(id))
        if referral is None:
            abort(404)
        try:
            svc.answer(referral, request.form.get("answer", ""), current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The answer was recorded."), "success")
        return redirect(self.get_url(".details_view", id=referral.id))
