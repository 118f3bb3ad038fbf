"""Inquiries, suggestions and complaints across the six channels (policy P3, P2.3, P2.7).

Each interaction has a kind (rows an administrator edits) whose response period counts working
days: Sunday to Thursday, minus the holidays an administrator keeps. It is open until a response
is recorded (answered) and closed when nothing remains to do; a suggestion or complaint is closed
with a category and a resolution, so the monthly counts show what beneficiaries ask to improve (P2.6).
"""
import datetime
import re
from dataclasses import dataclass

from models import (
    Beneficiary,
    Holiday,
    Interaction,
    InteractionKind,
    Notification,
    SatisfactionSurvey,
    ServiceRequest,
    User,
    VerificationVisit,
    db,
    utcnow,
)
from models.choices import CHANNELS, LANGUAGES, codes
from models.interaction import INTERACTION_CATEGORIES, INTERACTION_DIRECTIONS

from . import audit
from .dates import to_local, today_local, utc_midnight
from .errors import N_, PermissionDenied, TransitionRefused, ValidationError
from .normalize import clean_long_text, clean_number, clean_text
from .roles import can
from .scopes import visible_notifications, visible_requests, visible_visits
from .validators import normalize_mobile

# Friday and Saturday are the Saudi weekend (Python: Monday=0 … Sunday=6).
WEEKEND = frozenset({4, 5})
# A response period longer than this many calendar days means the holiday table is wrong.
_MAX_SPAN_DAYS = 3 * 365
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,29}$")


# ---- working days ---------------------------------------------------------------------------------
def holidays_between(first: datetime.date, last: datetime.date) -> set[datetime.date]:
    """Return every holiday date from first to last (both included)."""
    days = set()
    for h in Holiday.select().where((Holiday.first_day <= last) & (Holiday.last_day >= first)):
        day = max(h.first_day, first)
        while day <= min(h.last_day, last):
            days.add(day)
            day += datetime.timedelta(days=1)
    return days


def is_working_day(day: datetime.date, holidays: set[datetime.date] | None = None) -> bool:
    """Return whether a day is a working day: Sunday to Thursday and not a holiday."""
    if holidays is None:
        holidays = holidays_between(day, day)
    return day.weekday() not in WEEKEND and day not in holidays


def response_due(start_date: datetime.date, working_days: int) -> datetime.date:
    """Return the day a response is due: the working_days-th working day after start_date (0: start_date)."""
    if working_days is None or working_days < 0:
        raise ValidationError(N_("The response period is a number of working days, 0 or more."),
                              field="response_days")
    if working_days == 0:
        return start_date
    holidays = holidays_between(start_date, start_date + datetime.timedelta(days=_MAX_SPAN_DAYS))
    day, counted = start_date, 0
    while counted < working_days:
        day += datetime.timedelta(days=1)
        if (day - start_date).days > _MAX_SPAN_DAYS:
            raise ValidationError(N_("No working days were found in the next three years: check the holidays."))
        if is_working_day(day, holidays):
            counted += 1
    return day


# ---- configuration: kinds and holidays (P1.2) ---------------------------------------------------------
def normalize_kind(kind: InteractionKind) -> InteractionKind:
    """Validate an interaction kind's names, code and response period."""
    kind.name_ar, kind.name_en = clean_text(kind.name_ar), clean_text(kind.name_en)
    if not kind.name_ar:
        raise ValidationError(N_("Write the name in Arabic."), field="name_ar")
    if not kind.name_en:
        raise ValidationError(N_("Write the name in English."), field="name_en")
    kind.code = clean_text(kind.code).lower() or None
    if kind.code is not None:
        if not _CODE.match(kind.code):
            raise ValidationError(N_("A code is made of small Latin letters, digits and underscores."), field="code")
        taken = InteractionKind.select().where((InteractionKind.code == kind.code) &
                                               (InteractionKind.id != (kind.id or 0)))
        if taken.exists():
            raise ValidationError(N_("Another kind already has this code."), field="code")
    if kind.response_days is None or not 0 <= int(kind.response_days) <= 365:
        raise ValidationError(N_("The response period is between 0 and 365 working days."), field="response_days")
    return kind


def normalize_holiday(holiday: Holiday) -> Holiday:
    """Validate a holiday: a name and a first day not after the last (one day: leave the last day empty)."""
    holiday.name_ar, holiday.name_en = clean_text(holiday.name_ar), clean_text(holiday.name_en)
    if not holiday.name_ar:
        raise ValidationError(N_("Write the name in Arabic."), field="name_ar")
    if holiday.first_day is None:
        raise ValidationError(N_("Choose the first day of the holiday."), field="first_day")
    holiday.last_day = holiday.last_day or holiday.first_day
    if holiday.last_day < holiday.first_day:
        raise ValidationError(N_("The last day of the holiday is before its first day."), field="last_day")
    if (holiday.last_day - holiday.first_day).days > 60:
        raise ValidationError(N_("A holiday lasts at most 60 days."), field="last_day")
    return holiday


# ---- recording an interaction ------------------------------------------------------------------
def normalize_interaction(i: Interaction, is_created: bool = True) -> Interaction:
    """Validate an interaction's fields (channel of P3, kind, who it is from) and set its response due date."""
    if i.channel not in codes(CHANNELS):
        raise ValidationError(N_("Choose one of the six channels of the policy."), field="channel")
    if i.direction not in codes(INTERACTION_DIRECTIONS):
        raise ValidationError(N_("Choose the direction: from or to the beneficiary."), field="direction")
    if i.kind_id is None:
        raise ValidationError(N_("Choose the kind of interaction."), field="kind")
    kind = InteractionKind.get_or_none(InteractionKind.id == i.kind_id)
    if kind is None or (is_created and not kind.active):
        raise ValidationError(N_("Choose an active kind of interaction."), field="kind")
    if i.beneficiary_id is None:
        i.contact_name = clean_text(i.contact_name) or None
        if not i.contact_name:
            raise ValidationError(N_("Choose the beneficiary, or write the name of the person who got in touch."),
                                  field="contact_name")
        i.contact_phone = normalize_mobile(i.contact_phone, field="contact_phone")
        if not i.contact_phone:
            raise ValidationError(N_("Write the phone number of the person who got in touch."),
                                  field="contact_phone")
    else:
        # The beneficiary's file holds the name and phone; a second copy would drift from it.
        i.contact_name = i.contact_phone = None
    if i.request_id is not None:
        request = ServiceRequest.get_or_none(ServiceRequest.id == i.request_id)
        if request is None or request.beneficiary_id != i.beneficiary_id:
            raise ValidationError(N_("The request belongs to another beneficiary."), field="request")
    i.text = clean_long_text(i.text)
    if not i.text:
        raise ValidationError(N_("Write what the person said or asked."), field="text")
    i.subject = clean_text(i.subject)[:200] or _subject_from(i.text)
    if i.category is not None and i.category != "" and i.category not in codes(INTERACTION_CATEGORIES):
        raise ValidationError(N_("Choose one of the listed categories."), field="category")
    i.category = i.category or None
    if i.language not in codes(LANGUAGES):
        i.language = "ar"
    if isinstance(i.received_at, datetime.date) and not isinstance(i.received_at, datetime.datetime):
        # A day typed on a form: today means now; an earlier day (a letter opened late) its Riyadh noon.
        day = i.received_at
        if day > today_local():
            raise ValidationError(N_("The day it was received is in the future."), field="received_at")
        i.received_at = utcnow() if day == today_local() else utc_midnight(day) + datetime.timedelta(hours=12)
    i.received_at = i.received_at or utcnow()
    if i.received_at > utcnow() + datetime.timedelta(minutes=5):
        raise ValidationError(N_("The day it was received is in the future."), field="received_at")
    for name in ("response", "resolution"):
        setattr(i, name, clean_long_text(getattr(i, name)) or None)
    if i.status == "open" or i.due_date is None:
        i.due_date = response_due(to_local(i.received_at).date(), kind.response_days)
    return i


def _subject_from(text: str) -> str:
    first = clean_text(text)
    return first if len(first) <= 80 else first[:79].rstrip() + "…"


def assign_number(i: Interaction) -> None:
    """Give a saved interaction its number INT-YYYY-000123 (year received, Riyadh time)."""
    if not i.number:
        i.number = f"INT-{to_local(i.received_at).year}-{i.id:06d}"
        Interaction.update(number=i.number).where(Interaction.id == i.id).execute()


def create(actor: User | None = None, **fields) -> Interaction:
    """Record an interaction from its fields (validated), numbered and audited, in one transaction."""
    if actor is not None and not can(actor.role, "interactions.create"):
        raise PermissionDenied(N_("Your role cannot record interactions."))
    interaction = Interaction(**fields)
    normalize_interaction(interaction)
    with db.atomic():
        interaction.save(force_insert=True)
        assign_number(interaction)
        audit.record("create", interaction, changes=audit.diff(None, audit.snapshot(interaction)),
                     actor=actor.username if actor else None)
    return interaction


def kind_by_code(code: str, public_only: bool = False) -> InteractionKind:
    """Return the active kind with this code (only those offered on the portal when public_only)."""
    query = InteractionKind.select().where((InteractionKind.code == (code or "")) &
                                           (InteractionKind.active == True))  # noqa: E712
    if public_only:
        query = query.where(InteractionKind.public == True)  # noqa: E712
    kind = query.first()
    if kind is None:
        raise ValidationError(N_("Choose an inquiry, a suggestion or a complaint."), field="kind")
    return kind


def public_kinds() -> list[InteractionKind]:
    """Return the kinds the portal offers, in their order."""
    return list(InteractionKind.select().where((InteractionKind.public == True) &  # noqa: E712
                                               (InteractionKind.active == True))  # noqa: E712
                .order_by(InteractionKind.position, InteractionKind.id))


def match_beneficiary(id_number: str | None, mobile: str | None) -> Beneficiary | None:
    """Return the beneficiary whose ID number and registered mobile are both the ones typed, else None."""
    number = clean_number(id_number).upper()
    if not number or not mobile:
        return None
    return Beneficiary.get_or_none((Beneficiary.id_number == number) & (Beneficiary.mobile == mobile))


def create_from_portal(kind_code: str, text: str, *, name: str, mobile: str, subject: str | None = None,
                       id_number: str | None = None, language: str = "ar", ip: str | None = None) -> Interaction:
    """Record an inquiry, suggestion or complaint sent on the public portal (channel: website).

    The sender is linked to a beneficiary only when the ID number and the mobile they typed are both
    those of the record; otherwise it is kept as a contact with the typed name and mobile. Either way
    nothing about the record is returned, so the answer never tells the sender what is on file.
    """
    kind = kind_by_code(kind_code, public_only=True)
    phone = normalize_mobile(mobile, field="mobile")
    if not phone:
        raise ValidationError(N_("Write your mobile number so that we can answer you."), field="mobile")
    beneficiary = match_beneficiary(id_number, phone)
    fields = dict(kind=kind, channel="website", direction="incoming", subject=subject, text=text,
                  language=language, source="portal", ip=ip)
    if beneficiary is None:
        fields.update(contact_name=name, contact_phone=phone)
    else:
        fields.update(beneficiary=beneficiary)
    return create(None, **fields)


# ---- handling: assign, respond, close --------------------------------------------------------------
def _check_handler(interaction: Interaction, actor: User) -> None:
    if not can(actor.role, "interactions.handle"):
        raise PermissionDenied(N_("Your role cannot answer or close interactions."))
    if actor.role == "researcher" and interaction.handled_by_id not in (None, actor.id):
        raise PermissionDenied(N_("This interaction is assigned to someone else."))


def handlers():
    """Return the active staff members who may handle interactions, by name."""
    roles = [r for r in ("admin", "manager", "researcher") if can(r, "interactions.handle")]
    return User.select().where(User.role.in_(roles) & (User.active == True)).order_by(User.full_name)  # noqa: E712


def check_assignee(handler_id: int | None, actor: User) -> User:
    """Return the staff member to assign, or raise; the actor must be allowed to assign."""
    if not can(actor.role, "interactions.assign"):
        raise PermissionDenied(N_("Your role cannot assign interactions."))
    handler = handlers().where(User.id == (handler_id or 0)).first()
    if handler is None:
        raise ValidationError(N_("Choose an active staff member who answers interactions."), field="handled_by")
    return handler


def assign(interaction: Interaction, handler: User, actor: User) -> Interaction:
    """Give an open interaction to a staff member to answer (audited)."""
    if not can(actor.role, "interactions.assign"):
        raise PermissionDenied(N_("Your role cannot assign interactions."))
    if interaction.status == "closed":
        raise TransitionRefused(N_("The interaction is closed."))
    with db.atomic():
        before = interaction.handled_by_id
        interaction.handled_by = handler
        interaction.save()
        audit.record("update", interaction, changes={"handled_by": [before, handler.id]}, actor=actor.username)
    return interaction


def respond(interaction: Interaction, response: str, actor: User) -> Interaction:
    """Record the response given to the person (P2.3: every answer recorded); the interaction is answered."""
    _check_handler(interaction, actor)
    if interaction.status == "closed":
        raise TransitionRefused(N_("The interaction is closed."))
    response = clean_long_text(response)
    if not response:
        raise ValidationError(N_("Write the response given."), field="response")
    with db.atomic():
        changes = {"response": [interaction.response, response], "status": [interaction.status, "answered"]}
        interaction.response, interaction.responded_at, interaction.status = response, utcnow(), "answered"
        if interaction.handled_by_id is None:
            interaction.handled_by = actor
            changes["handled_by"] = [None, actor.id]
        interaction.save()
        audit.record("respond", interaction, changes=changes, actor=actor.username)
    return interaction


def close(interaction: Interaction, actor: User, response: str | None = None, resolution: str | None = None,
          category: str | None = None) -> Interaction:
    """Close an interaction: it needs a response, and a suggestion or complaint a category and a resolution."""
    _check_handler(interaction, actor)
    if interaction.status == "closed":
        raise TransitionRefused(N_("The interaction is closed."))
    response = clean_long_text(response) or interaction.response
    if not response:
        raise ValidationError(N_("Write the response given before closing."), field="response")
    resolution = clean_long_text(resolution) or interaction.resolution
    category = category or interaction.category
    if category is not None and category not in codes(INTERACTION_CATEGORIES):
        raise ValidationError(N_("Choose one of the listed categories."), field="category")
    if interaction.kind.needs_resolution:
        if not category:
            raise ValidationError(N_("A suggestion or complaint is closed with its category."), field="category")
        if not resolution:
            raise ValidationError(N_("A suggestion or complaint is closed with its resolution: what was done."),
                                  field="resolution")
    now = utcnow()
    with db.atomic():
        before = audit.snapshot(interaction)
        if response != interaction.response:
            interaction.response, interaction.responded_at = response, now
        interaction.resolution, interaction.category = resolution, category
        interaction.status, interaction.closed_at = "closed", now
        if interaction.handled_by_id is None:
            interaction.handled_by = actor
        interaction.save()
        audit.record("close", interaction, changes=audit.diff(before, audit.snapshot(interaction)),
                     actor=actor.username)
    return interaction


# ---- what each role sees ---------------------------------------------------------------------------
def visible_interactions(query, user: User):
    """Narrow an interaction query: researchers see theirs, unassigned and recorded ones; volunteers what they recorded."""
    if not can(user.role, "interactions.read"):
        return query.where(Interaction.id.is_null())
    if user.role == "researcher":
        return query.where(Interaction.handled_by.is_null() | (Interaction.handled_by == user.id)
                           | (Interaction.created_by == user.username))
    if user.role == "volunteer":
        return query.where(Interaction.created_by == user.username)
    return query


def overdue_clause(today: datetime.date | None = None):
    """Return the condition of an open interaction whose response due date has passed (Riyadh days)."""
    return (Interaction.status == "open") & (Interaction.due_date < (today or today_local()))


@dataclass
class HandlerLoad:
    handler: User | None
    open: int
    overdue: int


def open_and_overdue(today: datetime.date | None = None) -> tuple[list[HandlerLoad], list[Interaction]]:
    """Return open and overdue counts per staff member (unassigned first) and the overdue items, oldest due first."""
    today = today or today_local()
    loads: dict[int | None, HandlerLoad] = {}
    rows = (Interaction.select(Interaction.handled_by, Interaction.due_date)
            .where(Interaction.status == "open").tuples())
    users = {u.id: u for u in User.select()}
    for handler_id, due in rows:
        load = loads.setdefault(handler_id, HandlerLoad(users.get(handler_id), 0, 0))
        load.open += 1
        if due is not None and due < today:
            load.overdue += 1
    ordered = sorted(loads.values(), key=lambda h: (h.handler is not None, -h.overdue, str(h.handler or "")))
    overdue = list(Interaction.select(Interaction, InteractionKind).join(InteractionKind)
                   .where(overdue_clause(today)).order_by(Interaction.due_date, Interaction.id).limit(100))
    return ordered, overdue


def counts_for(user: User, today: datetime.date | None = None) -> dict[str, int]:
    """Return how many interactions in the user's scope are open, and how many of those are overdue."""
    base = visible_interactions(Interaction.select(), user)
    return {"open": base.where(Interaction.status == "open").count(),
            "overdue": base.where(overdue_clause(today)).count()}


# ---- the monthly count of suggestions and complaints (P2.6) ----------------------------------------
@dataclass
class FeedbackCounts:
    month: datetime.date
    channels: list[str]
    # (category code or None, {channel: count}, total)
    rows: list[tuple[str | None, dict[str, int], int]]
    channel_totals: dict[str, int]
    total: int


def month_bounds(month: datetime.date) -> tuple[datetime.date, datetime.date]:
    """Return the first day of a month and the first day of the next one."""
    first = month.replace(day=1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    return first, following


def monthly_feedback_counts(month: datetime.date | None = None) -> FeedbackCounts:
    """Count the month's suggestions and complaints (kinds closed with a resolution) by category and channel."""
    first, following = month_bounds(month or today_local())
    query = (Interaction.select(Interaction.category, Interaction.channel).join(InteractionKind)
             .where((InteractionKind.needs_resolution == True)  # noqa: E712
                    & (Interaction.received_at >= utc_midnight(first))
                    & (Interaction.received_at < utc_midnight(following))).tuples())
    channels = codes(CHANNELS)
    table: dict[str | None, dict[str, int]] = {}
    for category, channel in query:
        row = table.setdefault(category, dict.fromkeys(channels, 0))
        row[channel] = row.get(channel, 0) + 1
    order = codes(INTERACTION_CATEGORIES) + [None]
    rows = [(code, table[code], sum(table[code].values())) for code in order if code in table]
    totals = {c: sum(counts[c] for _code, counts, _n in rows) for c in channels}
    return FeedbackCounts(first, channels, rows, totals, sum(totals.values()))


# ---- a beneficiary's whole story, for their page --------------------------------------------------
@dataclass
class TimelineEntry:
    at: datetime.datetime
    kind: str  # request, visit, notification, interaction, survey
    item: object


def timeline(beneficiary: Beneficiary, user: User) -> list[TimelineEntry]:
    """Return the beneficiary's requests, visits, messages, interactions and surveys the user may see, newest first."""
    entries: list[TimelineEntry] = []
    if can(user.role, "requests.read"):
        requests = visible_requests(ServiceRequest.select().where(ServiceRequest.beneficiary == beneficiary), user)
        entries += [TimelineEntry(r.submitted_at or r.created_at, "request", r) for r in requests]
    if can(user.role, "visits.read"):
        visits = visible_visits(VerificationVisit.select(VerificationVisit, ServiceRequest).join(ServiceRequest)
                                .where(ServiceRequest.beneficiary == beneficiary), user)
        entries += [TimelineEntry(v.performed_at or v.scheduled_at or v.created_at, "visit", v) for v in visits]
    if can(user.role, "notifications.read"):
        messages = visible_notifications(Notification.select().where(Notification.beneficiary == beneficiary), user)
        entries += [TimelineEntry(n.created_at, "notification", n) for n in messages]
    if can(user.role, "interactions.read"):
        interactions = visible_interactions(Interaction.select(Interaction, InteractionKind).join(InteractionKind)
                                            .where(Interaction.beneficiary == beneficiary), user)
        entries += [TimelineEntry(i.received_at, "interaction", i) for i in interactions]
    if can(user.role, "satisfaction.comments"):
        surveys = SatisfactionSurvey.select().where(SatisfactionSurvey.beneficiary == beneficiary)
        entries += [TimelineEntry(s.submitted_at, "survey", s) for s in surveys]
    return sorted(entries, key=lambda e: (e.at, e.kind), reverse=True)
