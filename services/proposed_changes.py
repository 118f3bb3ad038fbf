"""Changes to a beneficiary's record typed on the public portal: proposed, then accepted or rejected by staff (P5.2).

The portal never writes over a record: a person who types an ID number already on file may be
the beneficiary or someone else, so what differs becomes a proposal that a staff member who
matched the data (مطابقة البيانات) accepts, which applies it through the same validation as the
panel, or rejects.
"""
import datetime
import json

from models import Beneficiary, ProposedChange, ServiceRequest, User, db, utcnow

from . import audit
from .beneficiaries import normalize_beneficiary
from .errors import N_, PermissionDenied, TransitionRefused, ValidationError
from .normalize import name_key
from .roles import can

# The fields the portal's request form asks for; the ID type and number are how the record was matched.
FIELDS = ("full_name", "latin_name", "nationality", "gender", "birth_date", "mobile", "email", "city",
          "family_size")
# Accepting edits the record, so it takes the right to edit beneficiaries (volunteers hold it too: they
# may already change the same fields by hand on the beneficiary's form).
CAPABILITY = "beneficiaries.edit"
# Not a field: the person sent the request form again while a request for the service was open (issue 15).
# Its value lists the documents they sent (filed on their file); accepting or rejecting it marks it
# reviewed and changes nothing on file.
SENT_AGAIN = "resubmission"


def as_text(value) -> str | None:
    """Return a field value as stored in a proposal: dates in ISO form, numbers as digits, empty as None."""
    if value is None or value == "":
        return None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def _from_text(field: str, text: str | None):
    if text is None:
        return None
    if field == "birth_date":
        return datetime.date.fromisoformat(text)
    if field == "family_size":
        return int(text)
    return text


def _same(field: str, recorded, typed) -> bool:
    if field == "full_name":
        # Spelling variants (hamza forms, taa marbuta, diacritics) are the same name, not a change.
        return name_key(recorded or "") == name_key(typed or "")
    return as_text(recorded) == as_text(typed)


def differences(record: Beneficiary, typed: Beneficiary) -> dict[str, list]:
    """Return {field: [on file, typed]} for the portal's fields the person filled in differently."""
    found = {}
    for field in FIELDS:
        value = getattr(typed, field)
        if value is None or value == "":
            continue  # a field left empty proposes nothing, least of all erasing what is on file
        if not _same(field, getattr(record, field), value):
            found[field] = [as_text(getattr(record, field)), as_text(value)]
    return found


def propose(record: Beneficiary, typed: Beneficiary, *, request: ServiceRequest | None = None,
            ip: str | None = None) -> list[ProposedChange]:
    """Store what the typed data would change in the record as pending proposals, audited; the record is untouched."""
    created = []
    with db.atomic():
        for field, (recorded, proposed) in differences(record, typed).items():
            pending = ProposedChange.select().where(
                (ProposedChange.beneficiary == record.id) & (ProposedChange.field == field)
                & (ProposedChange.proposed_value == proposed) & (ProposedChange.status == "pending"))
            if pending.exists():
                continue  # the same change typed again: one proposal is enough to decide
            change = ProposedChange.create(beneficiary=record, request=request, field=field, recorded_value=recorded,
                                           proposed_value=proposed, ip=ip)
            audit.record("propose_change", change, changes={field: [recorded, proposed]},
                         details={"beneficiary": record.id, "request": request.id if request else None}, ip=ip)
            created.append(change)
    return created


def sent_again(request: ServiceRequest, *, documents=(), ip: str | None = None) -> ProposedChange:
    """Record, for staff to review, that the portal's form was sent again for this open request; audited."""
    with db.atomic():
        change = ProposedChange.create(beneficiary=request.beneficiary_id, request=request, field=SENT_AGAIN,
                                       proposed_value=json.dumps({"documents": [d.id for d in documents]}), ip=ip)
        audit.record("propose_change", change, details={"beneficiary": request.beneficiary_id, "request": request.id,
                                                        "sent_again": True, "documents": len(documents)}, ip=ip)
    return change


def sent_documents(change: ProposedChange) -> list[int]:
    """Return the ids of the documents a "sent again" row lists."""
    try:
        return [int(i) for i in json.loads(change.proposed_value or "{}").get("documents", [])]
    except (ValueError, TypeError, AttributeError):
        return []


def _check(change: ProposedChange, actor: User) -> None:
    if not can(actor.role, CAPABILITY):
        raise PermissionDenied(N_("Your role cannot change beneficiaries' records."))
    if change.status != "pending":
        raise TransitionRefused(N_("This change was already accepted or rejected."))


def accept(change: ProposedChange, actor: User) -> Beneficiary:
    """Apply a proposed change to the record through the panel's validation, audited, and mark it accepted."""
    _check(change, actor)
    beneficiary = Beneficiary.get_by_id(change.beneficiary_id)
    if change.field == SENT_AGAIN:
        _decide(change, actor, "accepted")  # reviewed: nothing to apply
        return beneficiary
    before = audit.snapshot(beneficiary)
    try:
        setattr(beneficiary, change.field, _from_text(change.field, change.proposed_value))
    except ValueError:
        raise ValidationError(N_("The proposed value is not valid: reject the change."))
    normalize_beneficiary(beneficiary)
    now = utcnow()
    with db.atomic():
        beneficiary.save()
        audit.record("update", beneficiary, changes=audit.diff(before, audit.snapshot(beneficiary)),
                     actor=actor.username, details={"proposed_change": change.id})
        change.status, change.decided_by, change.decided_at = "accepted", actor, now
        change.save()
        audit.record("accept_change", change, changes={"status": ["pending", "accepted"]}, actor=actor.username)
    return beneficiary


def reject(change: ProposedChange, actor: User) -> ProposedChange:
    """Mark a proposed change rejected, audited; the record stays as it is."""
    _check(change, actor)
    return _decide(change, actor, "rejected")


def _decide(change: ProposedChange, actor: User, status: str) -> ProposedChange:
    """Mark a change decided without applying anything (a rejection, or a "sent again" row reviewed), audited."""
    with db.atomic():
        change.status, change.decided_by, change.decided_at = status, actor, utcnow()
        change.save()
        action = "accept_change" if status == "accepted" else "reject_change"
        audit.record(action, change, changes={"status": ["pending", status]}, actor=actor.username)
    return change


def pending_count(beneficiary: Beneficiary | None = None) -> int:
    """Return how many proposals wait for a decision (of one beneficiary, or all)."""
    query = ProposedChange.select().where(ProposedChange.status == "pending")
    if beneficiary is not None:
        query = query.where(ProposedChange.beneficiary == beneficiary.id)
    return query.count()
