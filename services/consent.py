"""Consent by purpose (PDPL): recording it, its current state, and whether a channel may be used.

A purpose's state is its latest row; earlier rows stay as the history a reviewer asks for.
No row yet for a contact purpose means contact is allowed: every beneficiary registered before
consent was recorded by purpose would otherwise stop receiving decisions (P6.4) the day this
shipped. Staff record a withdrawal the moment a person asks, and from then on the outbox holds
back that channel's messages (services.notifications).
"""
import datetime
import json

from models import AuditLog, Beneficiary, Consent, User, db, utcnow
from models.choices import codes
from models.consent import CONSENT_BASES, CONSENT_CHANNELS, CONSENT_PURPOSES

from . import audit
from .bulk_insert import insert_rows
from .errors import N_, ValidationError

# The outbox channel → the purpose that allows it. Letters are handed over in person or posted,
# which consent to registration already covers, so they are never held back.
CHANNEL_PURPOSE = {"sms": "contact_sms", "email": "contact_email"}


def _username(actor) -> str | None:
    return actor.username if isinstance(actor, User) else actor


def record(beneficiary: Beneficiary, purpose: str, given: bool, channel: str, actor, basis: str = "consent",
           source: str | None = None, note: str | None = None, at: datetime.datetime | None = None) -> Consent:
    """Record that a purpose was given or withdrawn, through which channel and by whom (audited)."""
    if purpose not in codes(CONSENT_PURPOSES):
        raise ValidationError(N_("Choose the purpose of the consent."), field="purpose")
    if given is None:
        raise ValidationError(N_("Choose whether consent is given or withdrawn."), field="given")
    if channel not in codes(CONSENT_CHANNELS):
        raise ValidationError(N_("Choose the channel through which the consent was given or withdrawn."),
                              field="channel")
    if basis not in codes(CONSENT_BASES):
        raise ValidationError(N_("Unknown basis of consent: %(basis)s."), field="basis", basis=basis)
    note = (note or "").strip() or None
    username = _username(actor)
    with db.atomic():
        row = Consent.create(beneficiary=beneficiary, purpose=purpose, given=bool(given), at=at or utcnow(),
                             channel=channel, recorded_by=username, basis=basis, source=source, note=note)
        audit.record("consent", row, actor=username, changes={
            "beneficiary": [None, beneficiary.id], "purpose": [None, purpose], "given": [None, bool(given)],
            "channel": [None, channel], "basis": [None, basis], "source": [None, source], "note": [None, note]})
    return row


def latest(beneficiary: Beneficiary) -> dict[str, Consent]:
    """Return each purpose's latest row (purposes never recorded are absent)."""
    rows = {}
    # Oldest first, so a later row overwrites an earlier one; the id breaks a tie within the same instant.
    for row in (Consent.select().where(Consent.beneficiary == beneficiary)
                .order_by(Consent.at, Consent.id)):
        rows[row.purpose] = row
    return rows


def current(beneficiary: Beneficiary) -> dict[str, bool | None]:
    """Return {purpose: given (True), withdrawn (False) or never recorded (None)} for every purpose."""
    rows = latest(beneficiary)
    return {purpose: (rows[purpose].given if purpose in rows else None) for purpose in codes(CONSENT_PURPOSES)}


def allows_contact(beneficiary: Beneficiary | int, channel: str) -> bool:
    """Return whether a message may go to the beneficiary on an outbox channel (sms, email, letter)."""
    purpose = CHANNEL_PURPOSE.get(channel)
    if purpose is None:
        return True
    row = (Consent.select(Consent.given)
           .where((Consent.beneficiary == beneficiary) & (Consent.purpose == purpose))
           .order_by(Consent.at.desc(), Consent.id.desc()).first())
    # No row: contact allowed (see the module docstring).
    return row is None or row.given


def record_imported(beneficiary_ids: list[int], source: str, actor: str, at: datetime.datetime) -> None:
    """Record the legacy registration consent of beneficiaries an import created, in two statements."""
    if not beneficiary_ids:
        return
    common = {"created_at": at, "updated_at": at, "created_by": actor, "updated_by": actor}
    insert_rows(Consent, [{"beneficiary": b_id, "purpose": "registration", "given": True, "at": at,
                           "channel": "import", "recorded_by": actor, "basis": "legacy", "source": source, **common}
                          for b_id in beneficiary_ids])
    # The audit rows audit.record would write, one prepared statement for the chunk (imports of 50,000 rows).
    ids = list(Consent.select(Consent.id, Consent.beneficiary).where(
        Consent.beneficiary.in_(beneficiary_ids) & (Consent.at == at) & (Consent.channel == "import")).tuples())
    insert_rows(AuditLog, [{
        "at": at, "actor": actor, "action": "consent", "model": "Consent", "record_id": consent_id,
        "changes": json.dumps({"beneficiary": [None, b_id], "purpose": [None, "registration"], "given": [None, True],
                               "channel": [None, "import"], "basis": [None, "legacy"], "source": [None, source]},
                              ensure_ascii=False), **common} for consent_id, b_id in ids])
