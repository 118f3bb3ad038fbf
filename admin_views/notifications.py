"""The outbox of messages to beneficiaries (P6.4), the printable letter, and the message templates."""
from flask import abort, flash, redirect, render_template
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import force_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from peewee import JOIN

from models import Beneficiary, Notification, NotificationTemplate, ServiceRequest
from models.notification import NOTIFICATION_CHANNELS, NOTIFICATION_KINDS, NOTIFICATION_STATUSES, TEMPLATE_LANGUAGES
from services import notifications as svc
from services.dates import format_dual
from services.errors import DomainError
from services.scopes import visible_notifications
from services.search import in_matching, key_contains, may_be_code, request_matches
from web.filters import bdi

from .base import SecureModelView
from .fields import lazy_choices
from .formatters import choice_formatter, date_formatter


def _request_number(view, context, model, name):
    return model.request.number if model.request_id else ""


def _text_block(view, context, model, name):
    return Markup('<div class="pre-wrap">%s</div>') % (getattr(model, name) or "")


def _masked_recipient(view, context, model, name):
    return bdi(svc.mask_recipient(model.channel, model.recipient))


class NotificationView(SecureModelView):
    """The outbox: every message, its channel and delivery status; staff resend the doubtful ones."""

    read_capability = "notifications.read"
    # Rows are written by services only: queued by notify(), changed by the senders and resend().
    create_capability = None
    edit_capability = None
    delete_capability = None
    details_template = "admin/notification_details.html"

    column_list = ("kind", "request", "channel", "recipient", "status", "attempts", "last_error", "created_at",
                   "sent_at")
    column_details_list = ("beneficiary", "request", "kind", "channel", "language", "recipient", "subject", "body",
                           "status", "attempts", "last_error", "last_attempt_at", "next_attempt_at", "sent_at",
                           "sent_by", "created_at", "created_by")
    column_default_sort = ("id", True)
    column_sortable_list = ("kind", "channel", "status", "attempts", "created_at", "sent_at")
    column_labels = {
        "beneficiary": _l("Beneficiary"), "request": _l("Request number"), "kind": _l("Message"),
        "channel": _l("Channel"), "language": _l("Language"), "recipient": _l("Recipient"),
        "subject": _l("Subject"), "body": _l("Text"), "status": _l("Status"), "attempts": _l("Attempts"),
        "last_error": _l("Last error"), "last_attempt_at": _l("Last attempt at"),
        "next_attempt_at": _l("Next attempt at"), "sent_at": _l("Sent at"), "sent_by": _l("Handed over by"),
        "created_at": _l("Created at"), "created_by": _l("Created by"),
    }
    column_formatters = {
        "kind": choice_formatter(NOTIFICATION_KINDS),
        "channel": choice_formatter(NOTIFICATION_CHANNELS),
        "status": choice_formatter(NOTIFICATION_STATUSES),
        "language": choice_formatter(TEMPLATE_LANGUAGES),
        "request": _request_number,
        # Our own reasons are message ids (e.g. consent withdrawn); a gateway's text passes through unchanged.
        "last_error": lambda v, c, m, n: gettext(m.last_error) if m.last_error else "",
        # Mobiles and addresses stay masked on screen: the list is for delivery, not for contacting.
        "recipient": _masked_recipient,
        "body": _text_block,
        "created_at": date_formatter, "sent_at": date_formatter, "last_attempt_at": date_formatter,
        "next_attempt_at": date_formatter,
    }

    def get_filters(self):
        return [
            FilterEqual(Notification.status, _l("Status"), options=lazy_choices(NOTIFICATION_STATUSES)),
            FilterEqual(Notification.channel, _l("Channel"), options=lazy_choices(NOTIFICATION_CHANNELS)),
            FilterEqual(Notification.kind, _l("Message"), options=lazy_choices(NOTIFICATION_KINDS)),
        ]

    def search_placeholder(self):
        return gettext("Request number or beneficiary reference")

    def search_clause(self, term):
        # Subqueries, not the joined request: the pager counts the outbox's own table (get_count_query).
        if not may_be_code(term):  # request numbers and references are ASCII
            return Notification.id.in_([])
        references = Beneficiary.select(Beneficiary.id).where(key_contains(Beneficiary.reference, term.upper()))
        return request_matches(Notification.request, term) | in_matching(Notification.beneficiary, references)

    # The list shows each row's request number: joined once, not one query per row.
    prejoined = ("ServiceRequest",)

    def base_query(self):
        return (Notification.select(Notification, ServiceRequest)
                .join(ServiceRequest, JOIN.LEFT_OUTER, on=(Notification.request == ServiceRequest.id), attr="request"))

    def scope_query(self, query):
        if self._role() is None:
            return query
        return visible_notifications(query, current_user)

    # ---- resending -----------------------------------------------------------------------------
    action_capabilities = {"resend": "notifications.manage"}

    @action("resend", _l("Send again"), _l("Send the selected messages again?"))
    def action_resend(self, ids):
        """Queue the selected failed or unknown messages again; the others are listed as refused."""
        actor = current_user._get_current_object()
        self.apply_each("resend", ids, lambda n: svc.resend(n, actor), lambda n: ngettext(
            "%(num)s message was queued again.", "%(num)s messages were queued again.", n))

    def _load(self, id):
        notification = self.get_one(str(id))
        if notification is None:
            abort(404)
        return notification

    @expose("/resend/<int:id>", methods=["POST"])
    def resend(self, id):
        """Queue one failed or unknown message again (admin and manager)."""
        if not self._can("notifications.manage"):
            abort(403)
        notification = self._load(id)
        try:
            svc.resend(notification, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The message was queued again; the worker sends it within a minute."), "success")
        return redirect(self.get_url(".details_view", id=notification.id))

    # ---- letters -------------------------------------------------------------------------------
    @expose("/letter/<int:id>")
    def letter(self, id):
        """Show a letter as a printable A4 page in the letter's language (print to PDF from the browser)."""
        notification = self._load(id)
        if notification.channel != "letter":
            abort(404)
        settings = svc.current_settings()
        lang = notification.language
        # The letter speaks the beneficiary's language whatever the staff member's interface language.
        with force_locale(lang):
            labels = {"date": gettext("Date"), "to": gettext("To"), "reference": gettext("Reference"),
                      "request": gettext("Request number"), "subject": gettext("Subject")}
        return render_template(
            "notifications/letter.html", notification=notification, lang=lang, labels=labels,
            direction="rtl" if lang == "ar" else "ltr", date=format_dual(notification.created_at, lang),
            association=settings.get("ASSOCIATION_NAME") or svc.DEFAULT_ASSOCIATION_NAME,
            address=settings.get("ASSOCIATION_ADDRESS") or "", phone=settings.get("ASSOCIATION_PHONE") or "",
            can_hand_over=self._can("notify") and notification.status == "queued",
            back_url=self.get_url(".details_view", id=notification.id))

    @expose("/letter/<int:id>/handed-over", methods=["POST"])
    def letter_handed_over(self, id):
        """Record that the letter was printed and handed over: it counts as sent."""
        if not self._can("notify"):
            abort(403)
        notification = self._load(id)
        try:
            svc.mark_letter_sent(notification, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The letter was recorded as handed over."), "success")
        return redirect(self.get_url(".details_view", id=notification.id))


class NotificationTemplateView(SecureModelView):
    """The text of each kind of message per language, with placeholders checked when saved."""

    read_capability = "notifications.manage"
    create_capability = "notifications.manage"
    edit_capability = "notifications.manage"
    # notify() needs a template for every kind: they are edited, never deleted.
    delete_capability = None
    create_template = "admin/notification_template_edit.html"
    edit_template = "admin/notification_template_edit.html"

    column_list = ("kind", "language", "subject", "updated_at", "updated_by")
    column_details_list = ("kind", "language", "subject", "body", "updated_at", "updated_by")
    column_default_sort = [("kind", False), ("language", False)]
    column_sortable_list = ("kind", "language")
    form_columns = ("kind", "language", "subject", "body")
    form_choices = {"kind": lazy_choices(NOTIFICATION_KINDS), "language": lazy_choices(TEMPLATE_LANGUAGES)}
    # dir=auto: an English template reads left to right inside the Arabic page.
    form_widget_args = {"subject": {"dir": "auto"}, "body": {"rows": 8, "dir": "auto"}}
    column_labels = {"kind": _l("Message"), "language": _l("Language"), "subject": _l("Subject"),
                     "body": _l("Text"), "updated_at": _l("Last changed at"), "updated_by": _l("Last changed by")}
    column_formatters = {"kind": choice_formatter(NOTIFICATION_KINDS), "language": choice_formatter(TEMPLATE_LANGUAGES),
                         "updated_at": date_formatter}

    def get_filters(self):
        return [FilterEqual(NotificationTemplate.kind, _l("Message"), options=lazy_choices(NOTIFICATION_KINDS)),
                FilterEqual(NotificationTemplate.language, _l("Language"), options=lazy_choices(TEMPLATE_LANGUAGES))]

    def validate_model(self, model, is_created):
        svc.validate_template(model)

    def render(self, template, **kwargs):
        kwargs.setdefault("placeholders", svc.PLACEHOLDERS)
        return super().render(template, **kwargs)
