"""Changes to beneficiaries' records typed on the public portal: staff accept (applied, audited) or reject each one."""
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from peewee import JOIN

from models import Beneficiary, Document, ProposedChange, ServiceRequest
from models.choices import GENDERS
from models.proposed_change import PROPOSED_CHANGE_STATUSES
from services import proposed_changes as svc
from services.countries import country_name
from services.errors import DomainError
from services.search import beneficiary_matches
from services.validators import format_mobile
from web.filters import bdi, choice_label, current_lang, dual_date

from .base import SecureModelView
from .beneficiaries import BeneficiaryView
from .fields import lazy_choices
from .formatters import choice_formatter, date_formatter


def field_label(name: str) -> str:
    """Return the beneficiary form's label of a field (or what a "sent again" row is)."""
    if name == svc.SENT_AGAIN:
        return gettext("Sent again from the portal")
    return str(BeneficiaryView.column_labels.get(name, name))


def _sent_documents(view, model) -> Markup:
    """List the documents a second submission filed on the person's file, each linked to its download."""
    ids = svc.sent_documents(model)
    documents = list(Document.select().where(Document.id.in_(ids))) if ids else []
    if not documents:
        return Markup(gettext("No document was sent."))
    links = Markup(", ").join(Markup('<a href="%s">%s</a>') % (url_for("document.download", id=d.id),
                                                               d.original_name) for d in documents)
    return Markup("%s %s") % (gettext("Documents filed on the beneficiary's file:"), links)


def shown_value(field: str, text) -> str:
    """Return a proposed or recorded value as the beneficiary's page shows it."""
    if text is None or text == "":
        return ""
    text = str(text)
    if field == "mobile":
        return format_mobile(text)
    if field == "gender":
        return choice_label(GENDERS, text)
    if field == "nationality":
        return country_name(text, current_lang())
    if field == "birth_date":
        import datetime
        try:
            return dual_date(datetime.date.fromisoformat(text))
        except ValueError:
            return text
    return text


def _current(view, context, model, name):
    if model.field == svc.SENT_AGAIN:
        return ""
    return bdi(shown_value(model.field, svc.as_text(getattr(model.beneficiary, model.field, None))))


def _proposed(view, context, model, name):
    if model.field == svc.SENT_AGAIN:
        return _sent_documents(view, model)
    return bdi(shown_value(model.field, model.proposed_value))


def _recorded(view, context, model, name):
    if model.field == svc.SENT_AGAIN:
        return ""
    return bdi(shown_value(model.field, model.recorded_value))


def _decide(view, context, model, name):
    if model.status != "pending" or not view._can(svc.CAPABILITY):
        return ""
    token = generate_csrf()
    buttons = Markup("")
    choices = (((".accept", "btn-success", gettext("Mark as reviewed")),) if model.field == svc.SENT_AGAIN else
               ((".accept", "btn-success", gettext("Accept")), (".reject", "btn-outline-danger", gettext("Reject"))))
    for endpoint, css, label in choices:
        buttons += Markup('<form method="post" action="%s" class="d-inline">'
                          '<input type="hidden" name="csrf_token" value="%s">'
                          '<button class="btn btn-sm %s mb-1">%s</button></form> ') % (
            view.get_url(endpoint, id=model.id), token, css, label)
    return buttons


class ProposedChangeView(SecureModelView):
    """The changes waiting for a staff member who matched the data (P5.2); the portal never writes a record."""

    read_capability = svc.CAPABILITY
    create_capability = None
    edit_capability = None
    delete_capability = None
    export_capability = None
    action_capabilities = {"accept": svc.CAPABILITY, "reject": svc.CAPABILITY}

    column_list = ("beneficiary", "field", "current_value", "proposed_value", "request", "status", "created_at",
                   "decide")
    column_details_list = ("beneficiary", "field", "recorded_value", "current_value", "proposed_value", "request",
                           "status", "created_at", "ip", "decided_by", "decided_at")
    column_default_sort = ("id", True)
    column_sortable_list = ("status", "created_at")
    column_labels = {"beneficiary": _l("Beneficiary"), "field": _l("Field"),
                     "recorded_value": _l("On file when proposed"), "current_value": _l("On file now"),
                     "proposed_value": _l("Typed on the portal"), "request": _l("Request"), "status": _l("Status"),
                     "created_at": _l("Proposed at"), "ip": _l("IP address"), "decided_by": _l("Decided by"),
                     "decided_at": _l("Decided at"), "decide": _l("Decision")}
    column_formatters = {"field": lambda v, c, m, n: field_label(m.field), "current_value": _current,
                         "proposed_value": _proposed, "recorded_value": _recorded,
                         "status": choice_formatter(PROPOSED_CHANGE_STATUSES), "created_at": date_formatter,
                         "decided_at": date_formatter, "decide": _decide}

    def get_filters(self):
        return [FilterEqual(ProposedChange.status, _l("Status"), options=lazy_choices(PROPOSED_CHANGE_STATUSES)),
                FilterEqual(ProposedChange.field, _l("Field"),
                            options=lambda: [(name, field_label(name)) for name in (*svc.FIELDS, svc.SENT_AGAIN)])]

    def search_clause(self, term):
        return beneficiary_matches(ProposedChange.beneficiary, term)

    # The list shows each row's beneficiary and request: joined once, not queried per row.
    prejoined = ("Beneficiary",)

    def base_query(self):
        return (ProposedChange.select(ProposedChange, Beneficiary, ServiceRequest)
                .join(Beneficiary, on=(ProposedChange.beneficiary == Beneficiary.id), attr="beneficiary")
                .switch(ProposedChange)
                .join(ServiceRequest, JOIN.LEFT_OUTER, on=(ProposedChange.request == ServiceRequest.id),
                      attr="request"))

    def _decide_one(self, id, decide, done_message):
        if not self._can(svc.CAPABILITY):
            abort(403)
        change = self.get_one(str(id))
        if change is None:
            abort(404)
        try:
            decide(change, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("Marked as reviewed.") if change.field == svc.SENT_AGAIN else done_message, "success")
        return redirect(request.referrer if (request.referrer or "").startswith(request.host_url)
                        else self.get_url(".index_view"))

    @expose("/<int:id>/accept", methods=["POST"])
    def accept(self, id):
        """Apply the change to the beneficiary's record."""
        return self._decide_one(id, svc.accept, gettext("The change was applied to the record."))

    @expose("/<int:id>/reject", methods=["POST"])
    def reject(self, id):
        """Leave the record as it is."""
        return self._decide_one(id, svc.reject, gettext("The change was rejected; the record is unchanged."))

    @action("accept", _l("Accept"), _l("Apply the selected changes to the records?"))
    def action_accept(self, ids):
        """Accept the selected changes one by one; refused ones are listed with the reason."""
        self.apply_each("accept", ids, lambda c: svc.accept(c, current_user._get_current_object()),
                        lambda n: ngettext("%(num)s change was applied.", "%(num)s changes were applied.", n))

    @action("reject", _l("Reject"), _l("Reject the selected changes?"))
    def action_reject(self, ids):
        """Reject the selected changes."""
        self.apply_each("reject", ids, lambda c: svc.reject(c, current_user._get_current_object()),
                        lambda n: ngettext("%(num)s change was rejected.", "%(num)s changes were rejected.", n))
