"""Consent by purpose (PDPL): one row per given or withdrawn event; the latest row of a purpose is its state."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, TextField

from .base import BaseModel, utcnow
from .beneficiary import Beneficiary
from .choices import CHANNELS, N_

CONSENT_PURPOSES = [
    ("registration", N_("Registration and handling of requests")),
    ("contact_sms", N_("Contact by SMS")),
    ("contact_email", N_("Contact by email")),
    ("anonymised_reports", N_("Use of anonymised data in reports")),
]

# The six channels of policy P3, plus the two ways a consent arrives without staff: the public
# portal and an import of paper records.
CONSENT_CHANNELS = CHANNELS + [("portal", N_("Public portal")), ("import", N_("Import from a file"))]

# "legacy": taken on paper before the system existed (imports); "consent": given to the association here.
CONSENT_BASES = [("consent", N_("Consent")), ("legacy", N_("Legacy consent (before the system)"))]


class Consent(BaseModel):
    """One consent event: a purpose given or withdrawn, when, through which channel and by whom."""

    beneficiary = ForeignKeyField(Beneficiary, backref="consents", on_delete="CASCADE")
    purpose = CharField(max_length=20, choices=CONSENT_PURPOSES, index=True)
    given = BooleanField()
    at = DateTimeField(default=utcnow, index=True)
    channel = CharField(max_length=20, choices=CONSENT_CHANNELS)
    # A username (or the portal's name), kept as text so the event survives the account.
    recorded_by = CharField(max_length=80, null=True)
    basis = CharField(max_length=20, choices=CONSENT_BASES, default="consent")
    # The file an imported consent came from.
    source = CharField(max_length=255, null=True)
    note = TextField(null=True)

    class Meta:
        indexes = ((("beneficiary", "purpose", "at"), False),)

    def __str__(self):
        return f"{self.purpose} {'given' if self.given else 'withdrawn'}"


CONSENT_MODELS = [Consent]
