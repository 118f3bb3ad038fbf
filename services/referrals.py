"""Referrals to the social researcher (policy P5.3): any staff member refers, a researcher answers."""
from contextlib import nullcontext

from models import Beneficiary, Referral, ServiceRequest, User, db, utcnow

from . import audit, workflow
from .errors import N_, PermissionDenied, ValidationError
from .normalize import clean_text
from .roles import STAFF


def refer(beneficiary: Beneficiary, reason: str, actor: User, request: ServiceRequest | None = None,
          researcher: User | None = None) -> Referral:
    """Refer a beneficiary to the social researcher with a reason; defaults to the request's researcher."""
    if actor.role not in STAFF:
        raise PermissionDenied(N_("Only staff refer beneficiaries to the social researcher."))
    reason = clean_text(reason)
    if not reason:
        raise ValidationError(N_("Say why the beneficiary is referred."), field="reason")
    if request is not None and request.beneficiary_id != beneficiary.id:
        raise ValidationError(N_("The request belongs to another beneficiary."), field="request")
    if researcher is None and request is not None and request.researcher_id:
        researcher = request.researcher
    if researcher is not None and (researcher.role != "researcher" or not researcher.active):
        raise ValidationError(N_("Choose an active researcher."), field="researcher")
    with db.atomic(), (workflow.gate("referral.refer", request, actor) if request is not None else nullcontext()):
        referral = Referral.create(beneficiary=beneficiary, request=request, reason=reason, referred_by=actor,
                                   researcher=researcher)
        audit.record("create", referral, changes=audit.diff(None, audit.snapshot(referral)))
    return referral


def answer(referral: Referral, text: str, actor: User) -> Referral:
    """Record the researcher's answer to the beneficiary and close the referral."""
    if actor.role not in ("researcher", "manager", "admin"):
        raise PermissionDenied(N_("Only the social researcher or a manager answers a referral."))
    if actor.role == "researcher" and referral.researcher_id not in (None, actor.id):
        raise PermissionDenied(N_("This referral is assigned to another researcher."))
    if referral.status != "open":
        raise ValidationError(N_("This referral has already been answered."))
    text = clean_text(text)
    if not text:
        raise ValidationError(N_("Write what the beneficiary was told."), field="answer")
    on_request = referral.request if referral.request_id is not None else None
    with db.atomic(), (workflow.gate("referral.answer", on_request, actor) if on_request else nullcontext()):
        referral.status, referral.answer, referral.answered_at = "answered", text, utcnow()
        if referral.researcher_id is None:
            referral.researcher = actor if actor.role == "researcher" else None
        referral.save()
        audit.record("update", referral, changes={"status": ["open", "answered"], "answer": [None, text]})
    return referral


def visible_referrals(query, user: User):
    """Narrow a referral query: researchers see theirs and the unassigned ones, volunteers what they referred."""
    if user.role == "researcher":
        return query.where(Referral.researcher.is_null() | (Referral.researcher == user.id))
    if user.role == "volunteer":
        return query.where(Referral.referred_by == user.id)
    if user.role not in STAFF:
        return query.where(Referral.id.is_null())
    return query


def open_referrals(user: User):
    """Return the open referrals on the user's worklist, oldest first."""
    query = Referral.select().where(Referral.status == "open").order_by(Referral.created_at)
    return visible_referrals(query, user)
