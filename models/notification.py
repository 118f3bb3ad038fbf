"""The notification outbox and the message templates an administrator edits (policy P6.4, P3)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .beneficiary import Beneficiary
from .choices import N_
from .service_request import ServiceRequest

NOTIFICATION_KINDS = [
    ("submission_receipt", N_("Submission receipt")),
    ("missing_documents", N_("Missing documents")),
    ("visit_appointment", N_("Visit appointment")),
    ("decision", N_("Decision")),
    ("survey_invitation", N_("Satisfaction survey")),
    # A data-correction request was applied to the file (PDPL right of correction, services.corrections).
    ("correction", N_("Data correction")),
    # A manager reopened a decided request whose decision had already gone out (services.workflow.reopen).
    ("review_reopened", N_("Request reviewed again")),
]

# A letter is printed and handed over (policy P3, letters); the others go through a gateway.
NOTIFICATION_CHANNELS = [("sms", N_("SMS")), ("email", N_("Email")), ("letter", N_("Letter"))]

# sending: committed before the gateway call, so a crash mid-call is found and never retried blindly.
# cancelled: not sent because contact consent for the channel was withdrawn (services.consent).
# unknown: the gateway may or may not have delivered it; staff check and resend by hand.
NOTIFICATION_STATUSES = [
    ("queued", N_("Queued")),
    ("sending", N_("Sending")),
    ("sent", N_("Sent")),
    ("failed", N_("Failed")),
    ("unknown", N_("Unknown, check by hand")),
    # Held back because the beneficiary withdrew consent to the channel; never retried.
    ("cancelled", N_("Not sent (consent withdrawn)")),
    # A decision message still waiting when a manager reopened the request: the decision it carries is void.
    ("superseded", N_("Not sent (the request was reopened)")),
]

# The languages a template is written in: Arabic first, English for everyone else.
TEMPLATE_LANGUAGES = [("ar", N_("Arabic")), ("en", N_("English"))]


class NotificationTemplate(BaseModel):
    """The text of one kind of message in one language, with {placeholders}."""

    kind = CharField(max_length=30, choices=NOTIFICATION_KINDS)
    language = CharField(max_length=5, choices=TEMPLATE_LANGUAGES)
    # The email subject and the letter's title; SMS sends the body only.
    subject = CharField(max_length=200)
    body = TextField()

    class Meta:
        indexes = ((("kind", "language"), True),)

    def __str__(self):
        return f"{self.kind} ({self.language})"


class Notification(BaseModel):
    """One message to a beneficiary, rendered when queued; its text never changes afterwards."""

    beneficiary = ForeignKeyField(Beneficiary, backref="notifications", on_delete="RESTRICT")
    request = ForeignKeyField(ServiceRequest, null=True, backref="notifications", on_delete="RESTRICT")
    kind = CharField(max_length=30, choices=NOTIFICATION_KINDS, index=True)
    channel = CharField(max_length=10, choices=NOTIFICATION_CHANNELS, index=True)
    language = CharField(max_length=5)
    # E.164 mobile, email address, or the addressee's name on a letter.
    recipient = CharField(max_length=200)
    subject = CharField(max_length=200)
    body = TextField()
    status = CharField(max_length=10, choices=NOTIFICATION_STATUSES, default="queued", index=True)
    attempts = IntegerField(default=0)
    last_error = TextField(null=True)
    last_attempt_at = DateTimeField(null=True)
    # When a failed message is tried again (exponential backoff); empty once it gives up.
    next_attempt_at = DateTimeField(null=True, index=True)
    sent_at = DateTimeField(null=True)
    # Who marked a letter printed and handed over.
    sent_by = CharField(max_length=80, null=True)

    def __str__(self):
        return f"#{self.id} {self.kind} ({self.channel})"
