"""Telling the beneficiary (P6.4) through the outbox: templates, channel choice, sending and retries.

Channel rule (P3): SMS when an SMS gateway is configured and the beneficiary has a mobile;
else email when SMTP is configured and they have an email address; else a printed letter.

Life of a message: notify() renders it and queues it inside the caller's transaction. Nothing is
sent from a web request: the worker's periodic sweep (every minute) and the `send-notifications`
command call send_due(), so a message whose transaction rolled back is never seen, let alone sent.
send_one() commits `sending` before the gateway call; then
  sent     — the gateway took it;
  failed   — the gateway clearly refused: retried with exponential backoff up to
             NOTIFY_MAX_ATTEMPTS, then left failed for staff;
  unknown  — a timeout or a crash mid-call: never retried automatically (it may have been
             delivered); staff check and resend() by hand. A row still `sending` when the
             worker starts was cut off by a crash and becomes unknown (recover_interrupted).
Letters are not sent by the worker: a letter stays queued until staff print it and mark it
handed over (mark_letter_sent), which counts as sent.
"""
import datetime
import logging
import re
import string
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from models import Beneficiary, Notification, NotificationTemplate, ServiceRequest, User, db, utcnow
from models.choices import DECISIONS, VISIT_METHODS, codes
from models.notification import NOTIFICATION_KINDS, TEMPLATE_LANGUAGES

from . import audit, consent, senders, signals
from .dates import format_dual
from .errors import N_, PermissionDenied, TransitionRefused, ValidationError
from .evidence import document_checklist
from .roles import can

log = logging.getLogger(__name__)

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
# Why a message was not sent, stored as the message id and translated where it is shown.
CONSENT_WITHDRAWN = N_("Not sent: the beneficiary withdrew consent to contact on this channel.")
DEFAULT_ASSOCIATION_NAME = "جمعية الدعوة والإرشاد وتوعية الجاليات ببحرة"

# What a template may say, and what each placeholder holds (shown to the administrator).
PLACEHOLDERS = {
    "name": N_("The beneficiary's name"),
    "reference": N_("The beneficiary's reference (BEN-…)"),
    "request_number": N_("The request number"),
    "service": N_("The service requested"),
    "due_date": N_("The date the decision is due (Hijri and Gregorian)"),
    "decision": N_("The decision: approved or rejected"),
    "reason": N_("The reason for the decision"),
    "documents": N_("The required documents still missing"),
    "visit_method": N_("The kind of visit: interview or field visit"),
    "appointment": N_("The date and time of the visit (Hijri and Gregorian)"),
    "survey_link": N_("The link to the satisfaction survey"),
    "interaction_number": N_("The number of the interaction (INT-…) the message answers"),
    "corrected": N_("The data corrected in the file, by name (not the values)"),
    "association": N_("The association's name"),
    "association_phone": N_("The association's phone number"),
}

_settings: Mapping = {}


def configure(settings: Mapping) -> None:
    """Give the notification services the application's settings (SMTP_*, SMS_*, NOTIFY_*, ASSOCIATION_*)."""
    global _settings
    _settings = settings


def current_settings() -> Mapping:
    """Return the settings given to configure() (empty before: no gateway, letters only)."""
    return _settings


# ---- templates --------------------------------------------------------------------------------
def _fields(text: str, field: str) -> list[str]:
    """Return the placeholder names used in a template text; ValidationError when one is malformed."""
    try:
        parsed = list(string.Formatter().parse(text or ""))
    except ValueError:
        raise ValidationError(N_("A { or } is not closed. Placeholders are written like {name}; "
                                 "write {{ or }} for a brace."), field=field)
    names = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ValidationError(N_("Unknown placeholder {%(name)s}. Use only: %(allowed)s."), field=field,
                                  name=name, allowed=", ".join("{%s}" % p for p in PLACEHOLDERS))
        if spec or conversion:
            raise ValidationError(N_("Write the placeholder plainly, like {%(name)s}, without a format."),
                                  field=field, name=name)
        names.append(name)
    return names


def validate_template(template: NotificationTemplate) -> None:
    """Refuse a template with an unknown kind or language, an empty text or an unknown placeholder."""
    if template.kind not in codes(NOTIFICATION_KINDS):
        raise ValidationError(N_("Choose the kind of message."), field="kind")
    if template.language not in codes(TEMPLATE_LANGUAGES):
        raise ValidationError(N_("Choose the language of the template."), field="language")
    template.subject = (template.subject or "").strip()
    template.body = (template.body or "").strip()
    if not template.subject:
        raise ValidationError(N_("Write the subject of the message."), field="subject")
    if not template.body:
        raise ValidationError(N_("Write the text of the message."), field="body")
    _fields(template.subject, "subject")
    _fields(template.body, "body")
    duplicate = NotificationTemplate.select().where(
        (NotificationTemplate.kind == template.kind) & (NotificationTemplate.language == template.language)
        & (NotificationTemplate.id != (template.id or 0)))
    if duplicate.exists():
        raise ValidationError(N_("This kind of message already has a template in this language; edit that one."),
                              field="language")


def template_for(kind: str, language: str) -> NotificationTemplate:
    """Return the template of a kind in a language; English for other non-Arabic languages; else Arabic."""
    if kind not in codes(NOTIFICATION_KINDS):
        raise ValidationError(N_("Unknown kind of message: %(kind)s."), kind=kind)
    # Expatriate beneficiaries more often read English than Arabic.
    for lang in dict.fromkeys([language or "ar", "en" if language != "ar" else "ar", "ar"]):
        template = NotificationTemplate.get_or_none((NotificationTemplate.kind == kind)
                                                    & (NotificationTemplate.language == lang))
        if template is not None:
            return template
    raise ValidationError(N_("There is no message template for %(kind)s; an administrator must add one "
                             "under Settings."), kind=kind)


def render_text(text: str, values: Mapping) -> str:
    """Fill a template text's placeholders (every known one defaults to empty)."""
    _fields(text, "body")
    filled = string.Formatter().vformat(text, (), {**dict.fromkeys(PLACEHOLDERS, ""), **values})
    # An empty placeholder (no reason on an approval) must not leave a gap of blank lines.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in filled.splitlines())).strip()


@lru_cache(maxsize=8)
def _catalogue(lang: str):
    try:
        return Translations.load(str(TRANSLATIONS_DIR), [lang], domain="messages")
    except OSError:
        return NullTranslations()


def catalogue(lang: str):
    """Return a language's message catalogue, for text in the beneficiary's language rather than the staff member's."""
    return _catalogue(lang)


def _label(choices, code, lang: str) -> str:
    """Return a code's label translated into the message's language (not the staff member's)."""
    if not code:
        return ""
    return _catalogue(lang).gettext(dict(choices).get(code, code))


def _missing_documents(request: ServiceRequest, lang: str) -> str:
    names = [(doc_type.name_ar if lang == "ar" else doc_type.name_en)
             for doc_type, state in document_checklist(request) if state == "missing"]
    return ("، " if lang == "ar" else ", ").join(names)


def _ltr(text: str, lang: str) -> str:
    """Keep a number with spaces in order inside Arabic text ("012 555 0000", not "0000 555 012")."""
    # Left-to-right marks (U+200E) are invisible and understood by every SMS handset and mail reader.
    return f"\u200e{text}\u200e" if text and lang == "ar" else text


def context_for(beneficiary: Beneficiary, lang: str, request: ServiceRequest | None = None,
                settings: Mapping | None = None, wanted=PLACEHOLDERS, **context) -> dict[str, str]:
    """Return the placeholder values for a message: the beneficiary, the request, then the caller's context."""
    settings = current_settings() if settings is None else settings
    values = {
        "name": (beneficiary.latin_name or beneficiary.full_name) if lang != "ar" else beneficiary.full_name,
        "reference": beneficiary.reference or "",
        "association": settings.get("ASSOCIATION_NAME") or DEFAULT_ASSOCIATION_NAME,
        "association_phone": _ltr(settings.get("ASSOCIATION_PHONE") or "", lang),
    }
    if request is not None:
        service = request.service
        values.update({
            "request_number": request.number or "",
            "service": service.name_ar if lang == "ar" else service.name_en,
            "due_date": format_dual(request.decision_due, lang),
            "decision": _label(DECISIONS, request.decision, lang),
            "reason": request.decision_reason or "",
        })
        # The checklist costs queries: only for a template that names the documents.
        if "documents" in wanted:
            values["documents"] = _missing_documents(request, lang)
    visit = context.pop("visit", None)
    if visit is not None:
        method = _label(VISIT_METHODS, visit.method, lang)
        values["visit_method"] = method.lower() if lang == "en" else method
        values["appointment"] = format_dual(visit.scheduled_at, lang, with_time=True)
    for name, value in context.items():
        if name not in PLACEHOLDERS:
            continue
        if isinstance(value, (datetime.date, datetime.datetime)):
            value = format_dual(value, lang, with_time=isinstance(value, datetime.datetime))
        values[name] = "" if value is None else str(value)
    return values


# ---- channel and recipients -------------------------------------------------------------------
def choose_channel(beneficiary: Beneficiary, settings: Mapping | None = None) -> tuple[str, str]:
    """Return (channel, recipient): SMS to a mobile, else email, else a letter to the beneficiary's name."""
    settings = current_settings() if settings is None else settings
    if beneficiary.mobile and senders.sms_configured(settings):
        return "sms", beneficiary.mobile
    if beneficiary.email and senders.smtp_configured(settings):
        return "email", beneficiary.email
    return "letter", beneficiary.full_name


def mask_recipient(channel: str, recipient: str | None) -> str:
    """Return a recipient as staff lists show it: +9665•••••567, a•••@example.org; a letter's addressee as is."""
    if not recipient:
        return ""
    if channel == "sms":
        return recipient[:5] + "•" * max(len(recipient) - 8, 0) + recipient[-3:]
    if channel == "email" and "@" in recipient:
        local, domain = recipient.rsplit("@", 1)
        return f"{local[:1]}•••@{domain}"
    return recipient


# ---- queueing ----------------------------------------------------------------------------------
# What staff may send by hand. The receipt goes out on submission and the survey invitation (with
# its one-time link) after delivery or rejection, each by itself and only then; the correction notice when
# a correction is applied (services.corrections); the review notice when a decided request is reopened.
MANUAL_KINDS = [(code, label) for code, label in NOTIFICATION_KINDS
                if code not in ("submission_receipt", "survey_invitation", "correction", "review_reopened")]


def check_manual_kind(kind: str | None) -> None:
    """Raise unless staff may send this kind of message by hand."""
    if kind not in dict(MANUAL_KINDS):
        raise ValidationError(N_("Choose the message to send."), field="kind")


def send_by_hand(request: ServiceRequest, kind: str, actor: User) -> Notification:
    """Queue a message a staff member chose for the request's beneficiary (e.g. missing documents)."""
    if not can(actor.role, "notify"):
        raise PermissionDenied(N_("Your role cannot send messages to beneficiaries."))
    check_manual_kind(kind)
    return notify(request.beneficiary, kind, request=request, actor=actor)


def _username(actor) -> str | None:
    return actor.username if isinstance(actor, User) else actor


def notify(beneficiary: Beneficiary, kind: str, *, request: ServiceRequest | None = None, actor=None,
           **context) -> Notification:
    """Render the kind's template in the beneficiary's language and queue it on the chosen channel (P6.4)."""
    # Written inside the caller's transaction: if the caller's change rolls back, so does the message.
    template = template_for(kind, beneficiary.language)
    lang = template.language
    try:
        wanted = set(_fields(template.subject, "subject") + _fields(template.body, "body"))
    except ValidationError as err:
        # Saved through the editor a template is valid; this catches one changed behind its back.
        raise ValidationError(N_("The message template for %(kind)s (%(language)s) is not valid: %(error)s"),
                              kind=kind, language=lang, error=err.message % err.params if err.params else err.message)
    values = context_for(beneficiary, lang, request, wanted=wanted, **context)
    channel, recipient = choose_channel(beneficiary)
    subject = render_text(template.subject, values)
    body = render_text(template.body, values)
    with db.atomic():
        notification = Notification.create(
            beneficiary=beneficiary, request=request, kind=kind, channel=channel, language=lang,
            recipient=recipient, subject=subject[:200], body=body, status="queued")
        audit.record("create", notification, actor=_username(actor), changes={
            "kind": [None, kind], "channel": [None, channel], "language": [None, lang], "status": [None, "queued"],
            "beneficiary": [None, beneficiary.id], "request": [None, request.id if request else None]})
    return notification


# ---- sending -----------------------------------------------------------------------------------
def _max_attempts(settings: Mapping) -> int:
    return int(settings.get("NOTIFY_MAX_ATTEMPTS") or 5)


def _retry_delay(settings: Mapping, attempts: int) -> datetime.timedelta:
    """Return the wait before attempt attempts+1: NOTIFY_RETRY_SECONDS, doubled after each failure."""
    base = float(settings.get("NOTIFY_RETRY_SECONDS") or 60)
    return datetime.timedelta(seconds=base * 2 ** max(attempts - 1, 0))


def due_query(now: datetime.datetime | None = None, settings: Mapping | None = None):
    """Return the messages to send now: queued ones, and failed ones whose retry time has come."""
    now = now or utcnow()
    queued = (Notification.status == "queued") & (
        Notification.next_attempt_at.is_null() | (Notification.next_attempt_at <= now))
    retry = (Notification.status == "failed") & (Notification.next_attempt_at <= now)
    return Notification.select().where((Notification.channel != "letter") & (queued | retry)).order_by(Notification.id)


def _deliver(notification: Notification, settings: Mapping) -> None:
    if notification.channel == "sms":
        if not senders.sms_configured(settings):
            raise senders.Refused("no SMS gateway is configured (SMS_GATEWAY_URL)")
        senders.send_sms(settings, notification.recipient, notification.body)
    elif notification.channel == "email":
        if not senders.smtp_configured(settings):
            raise senders.Refused("no SMTP server is configured (SMTP_HOST, MAIL_FROM)")
        senders.send_email(settings, notification.recipient, notification.subject, notification.body)
    else:
        raise senders.Refused(f"the {notification.channel} channel is not sent automatically")


def send_one(notification: Notification, settings: Mapping | None = None) -> str | None:
    """Send one queued or failed message now; return its new status, or None if another sender took it."""
    settings = current_settings() if settings is None else settings
    before = notification.status
    if not consent.allows_contact(notification.beneficiary_id, notification.channel):
        return _withhold(notification, before)
    # Claiming the row and committing `sending` before the call is what makes a crash visible
    # (the row stays `sending`) and keeps two senders from sending the same message.
    claimed = (Notification.update(status="sending", attempts=Notification.attempts + 1, last_attempt_at=utcnow(),
                                   updated_at=utcnow())
               .where((Notification.id == notification.id) & Notification.status.in_(("queued", "failed")))
               .execute())
    if not claimed:
        return None
    notification = Notification.get_by_id(notification.id)
    error, status = None, "sent"
    try:
        _deliver(notification, settings)
    except senders.Refused as err:
        error, status = str(err), "failed"
    except senders.Unknown as err:
        error, status = str(err), "unknown"
    except Exception as err:  # a bug or crash mid-call: the message may have left
        log.exception("Sending notification %s crashed", notification.id)
        error, status = f"{type(err).__name__}: {err}", "unknown"
    _record_outcome(notification, before, status, error, settings)
    return status


def _withhold(notification: Notification, before: str) -> str | None:
    """Mark a message not sent because its channel's consent was withdrawn: never retried (PDPL consent)."""
    with db.atomic():
        claimed = (Notification.update(status="cancelled", last_error=CONSENT_WITHDRAWN, next_attempt_at=None,
                                       updated_at=utcnow())
                   .where((Notification.id == notification.id) & Notification.status.in_(("queued", "failed")))
                   .execute())
        if not claimed:
            return None
        audit.record("send", notification, changes={"status": [before, "cancelled"],
                                                    "last_error": [None, CONSENT_WITHDRAWN]},
                     details="consent withdrawn")
    return "cancelled"


def _record_outcome(notification: Notification, before: str, status: str, error: str | None,
                    settings: Mapping) -> None:
    now = utcnow()
    changes = {"status": [before, status], "attempts": [notification.attempts - 1, notification.attempts]}
    with db.atomic():
        notification.status = status
        notification.last_error = error
        if status == "sent":
            notification.sent_at, notification.next_attempt_at = now, None
            changes["sent_at"] = [None, now]
        elif status == "failed" and notification.attempts < _max_attempts(settings):
            notification.next_attempt_at = now + _retry_delay(settings, notification.attempts)
            changes["next_attempt_at"] = [None, notification.next_attempt_at]
        else:
            # Given up (failed too often) or unknown: only a person sends it again.
            notification.next_attempt_at = None
        if error:
            changes["last_error"] = [None, error]
        notification.save()
        audit.record("send", notification, changes=changes)
        if status == "sent":
            _mark_request_notified(notification, now)


def _mark_request_notified(notification: Notification, when: datetime.datetime) -> None:
    """Record on the request when the beneficiary was told the decision (P6.4)."""
    if notification.kind != "decision" or notification.request_id is None:
        return
    request = ServiceRequest.get_by_id(notification.request_id)
    if request.notified_at is None:
        request.notified_at = when
        request.save()
        audit.record("update", request, changes={"notified_at": [None, when]})


def send_due(now: datetime.datetime | None = None, limit: int = 100, settings: Mapping | None = None) -> dict:
    """Send every message due now (at most limit); return how many were sent, failed, unknown or skipped."""
    counts = {"sent": 0, "failed": 0, "unknown": 0, "skipped": 0}
    for notification in list(due_query(now).limit(limit)):
        status = send_one(notification, settings)
        # "cancelled" appears only when a message was held back, so the usual summary keeps its four counts.
        counts[status or "skipped"] = counts.get(status or "skipped", 0) + 1
    return counts


def recover_interrupted() -> int:
    """Mark messages left `sending` by a crash as unknown (never resent blindly); return how many."""
    stuck = list(Notification.select().where(Notification.status == "sending"))
    with db.atomic():
        for notification in stuck:
            notification.status = "unknown"
            notification.last_error = "interrupted while sending (the worker stopped); check whether it arrived"
            notification.next_attempt_at = None
            notification.save()
            audit.record("send", notification, changes={"status": ["sending", "unknown"]},
                         details="recovered at worker start")
    return len(stuck)


def decision_reopened(request: ServiceRequest, actor) -> Notification | None:
    """A decided request was reopened: withdraw its decision message if it has not gone, else say so.

    Received inside reopen()'s transaction (signals.decision_reopened). A message still queued or waiting
    for a retry carries a decision that no longer stands: it is superseded, never sent. One that went (or
    may have gone: sending, unknown) is followed by the review notice. Survey invitations stay as they are.
    """
    decisions = list(Notification.select().where((Notification.request == request) & (Notification.kind == "decision")
                                                 & Notification.status.in_(["queued", "failed", "sending",
                                                                            "sent", "unknown"])))
    told = False
    for message in decisions:
        # Conditional, like the worker's claim: a message the worker took meanwhile counts as gone.
        withdrawn = message.status in ("queued", "failed") and (
            Notification.update(status="superseded", next_attempt_at=None, updated_at=utcnow())
            .where((Notification.id == message.id) & (Notification.status == message.status)).execute())
        if withdrawn:
            audit.record("send", message, changes={"status": [message.status, "superseded"]},
                         actor=_username(actor), details="the request was reopened")
        else:
            told = True
    if told:
        return notify(request.beneficiary, "review_reopened", request=request, actor=actor)
    return None


# ---- what a case's steps cause (services.signals; sent inside the step's transaction) ------------------
signals.decision_reopened.connect(decision_reopened)


@signals.request_submitted.connect
def _submission_receipt(request: ServiceRequest, actor) -> None:
    """Queue the receipt of a submitted request: its number and decision date (P5.5)."""
    notify(request.beneficiary, "submission_receipt", request=request, actor=actor)


@signals.visit_appointment_made.connect
def _visit_appointment(visit, actor) -> None:
    """Queue the appointment of an interview or a field visit."""
    notify(visit.request.beneficiary, "visit_appointment", request=visit.request, actor=actor, visit=visit)


@signals.request_decided.connect
def _decision(request: ServiceRequest, actor) -> None:
    """Queue the decision message (P6.4)."""
    notify(request.beneficiary, "decision", request=request, actor=actor)


# ---- staff actions -----------------------------------------------------------------------------
def resend(notification: Notification, actor: User) -> Notification:
    """Queue a failed or unknown message again, with a fresh set of attempts (audited)."""
    if not can(actor.role, "notifications.manage"):
        raise PermissionDenied(N_("Only an administrator or a manager sends a message again."))
    if notification.status not in ("failed", "unknown"):
        raise TransitionRefused(N_("Only a message that failed or whose delivery is unknown can be sent again."))
    with db.atomic():
        changes = {"status": [notification.status, "queued"], "attempts": [notification.attempts, 0],
                   "last_error": [notification.last_error, None]}
        notification.status, notification.attempts = "queued", 0
        notification.last_error, notification.next_attempt_at = None, None
        notification.save()
        audit.record("resend", notification, changes=changes, actor=actor.username)
    return notification


def mark_letter_sent(notification: Notification, actor: User) -> Notification:
    """Record that a letter was printed and handed over (or posted): for a letter, that is `sent`."""
    if not can(actor.role, "notify"):
        raise PermissionDenied(N_("Your role cannot send messages to beneficiaries."))
    if notification.channel != "letter" or notification.status != "queued":
        raise TransitionRefused(N_("Only a letter waiting to be handed over can be marked handed over."))
    now = utcnow()
    with db.atomic():
        notification.status, notification.sent_at, notification.sent_by = "sent", now, actor.username
        notification.attempts += 1
        notification.save()
        audit.record("send", notification, actor=actor.username,
                     changes={"status": ["queued", "sent"], "sent_at": [None, now]}, details="letter handed over")
        _mark_request_notified(notification, now)
    return notification


# ---- what staff see -----------------------------------------------------------------------------
def needing_attention_count() -> int:
    """Return the messages whose delivery is unknown, or that failed and will not be retried."""
    return Notification.select().where(
        (Notification.status == "unknown")
        | ((Notification.status == "failed") & Notification.next_attempt_at.is_null())).count()
