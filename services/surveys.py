"""Satisfaction surveys (policy P2.5, P2.6): rating the service is the beneficiary's right.

After a request is delivered or rejected the beneficiary gets a one-time link (an unguessable
token that expires after SURVEY_TOKEN_DAYS) through the outbox. The link's page (the public
portal) calls invitation_for_token() and submit(); staff enter a survey taken by phone or in
person with record_by_staff(). One survey per request, whichever way it came. dashboard()
gives the averages and response rates by service, channel, staff member and month.
"""
import datetime
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from models import SatisfactionSurvey, Service, ServiceRequest, SurveyInvitation, User, db, utcnow
from models.choices import CHANNELS, LANGUAGES, codes
from models.survey import SURVEY_CHANNELS, SURVEY_RATINGS

from . import audit, notifications, signals
from .dates import to_local, today_local, utc_midnight
from .errors import N_, PermissionDenied, TransitionRefused, ValidationError
from .normalize import clean_long_text, clean_text, to_ascii_digits
from .roles import can
from .scopes import visible_requests

RATINGS = codes(SURVEY_RATINGS)
FINISHED_STATUSES = ("delivered", "rejected", "closed")
COMMENT_MAX_CHARS = 2000
_YES = {"yes", "y", "true", "1", "on", "نعم"}
_NO = {"no", "n", "false", "0", "off", "لا"}


class SurveyUnavailable(ValidationError):
    """The survey link cannot be used; reason is "unknown", "expired" or "used"."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


# ---- invitations ---------------------------------------------------------------------------------
def token_days(settings: Mapping | None = None) -> int:
    """Return how many days a survey link stays valid (SURVEY_TOKEN_DAYS, default 30)."""
    settings = notifications.current_settings() if settings is None else settings
    return int(settings.get("SURVEY_TOKEN_DAYS") or 30)


def survey_link(token: str, settings: Mapping | None = None) -> str:
    """Return the public address of a survey: PORTAL_BASE_URL + /portal/survey/<token>."""
    settings = notifications.current_settings() if settings is None else settings
    base = (settings.get("PORTAL_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    return f"{base}/portal/survey/{token}"


def invite(request: ServiceRequest, actor) -> SurveyInvitation | None:
    """Create the request's one-time survey link and queue the invitation through the outbox (P2.5).

    Called inside the transaction that delivers or rejects the request. A request is invited once:
    a second call returns the existing invitation, and a request already surveyed (by phone) gets none.
    """
    if request.status not in ("delivered", "rejected"):
        raise TransitionRefused(N_("A survey is sent once the request is delivered or rejected."))
    existing = SurveyInvitation.get_or_none(SurveyInvitation.request == request)
    if existing is not None:
        return existing
    if SatisfactionSurvey.select().where(SatisfactionSurvey.request == request).exists():
        return None
    beneficiary = request.beneficiary
    token = secrets.token_urlsafe(32)
    with db.atomic():
        invitation = SurveyInvitation.create(
            request=request, beneficiary=beneficiary, token=token, language=beneficiary.language or "ar",
            expires_at=utcnow() + datetime.timedelta(days=token_days()))
        message = notifications.notify(beneficiary, "survey_invitation", request=request, actor=actor,
                                       survey_link=survey_link(token))
        invitation.notification = message
        invitation.save()
        # The token is a password to the survey: it stays out of the audit trail.
        audit.record("create", invitation, actor=getattr(actor, "username", actor), changes={
            "request": [None, request.id], "beneficiary": [None, beneficiary.id],
            "expires_at": [None, invitation.expires_at], "notification": [None, message.id]})
    return invitation


@signals.request_decided.connect
def _invite_after_rejection(request: ServiceRequest, actor) -> None:
    """A rejected request's beneficiary rates the service too (P2.5)."""
    if request.decision == "rejected":
        invite(request, actor)


@signals.request_delivered.connect
def _invite_after_delivery(request: ServiceRequest, actor) -> None:
    """The first delivery invites the beneficiary to rate the service (P2.5)."""
    invite(request, actor)


def invitation_for_token(token: str | None, now: datetime.datetime | None = None) -> SurveyInvitation:
    """Return the invitation a survey link names, or raise SurveyUnavailable (unknown, expired or used)."""
    now = now or utcnow()
    invitation = None
    if token and len(token) <= 64:
        invitation = SurveyInvitation.get_or_none(SurveyInvitation.token == token)
    if invitation is None:
        raise SurveyUnavailable(N_("This survey link is not valid. Check that the whole link was copied."),
                                "unknown")
    if invitation.used_at is not None or \
            SatisfactionSurvey.select().where(SatisfactionSurvey.request == invitation.request_id).exists():
        raise SurveyUnavailable(N_("This survey was already answered. Thank you."), "used")
    if invitation.expires_at <= now:
        raise SurveyUnavailable(N_("This survey link has expired."), "expired")
    return invitation


# ---- answers -----------------------------------------------------------------------------------
def clean_answers(answers: Mapping) -> dict:
    """Return the survey's answers checked: four ratings 1–5, would recommend yes/no, an optional comment."""
    values = {}
    for name in RATINGS:
        raw = clean_text(to_ascii_digits(str(answers.get(name) or "")))
        if raw not in ("1", "2", "3", "4", "5"):
            raise ValidationError(N_("Choose a rating from 1 to 5 for each question."), field=name)
        values[name] = int(raw)
    recommend = answers.get("would_recommend")
    if isinstance(recommend, bool):
        values["would_recommend"] = recommend
    else:
        text = clean_text(str(recommend or "")).lower()
        if text not in _YES | _NO:
            raise ValidationError(N_("Say whether you would recommend the association's service to others."),
                                  field="would_recommend")
        values["would_recommend"] = text in _YES
    comment = clean_long_text(answers.get("comment"))
    if len(comment) > COMMENT_MAX_CHARS:
        raise ValidationError(N_("The comment is longer than %(limit)s characters."), field="comment",
                              limit=COMMENT_MAX_CHARS)
    values["comment"] = comment or None
    return values


def _language(code: str | None, default: str) -> str:
    return code if code in codes(LANGUAGES) else default


def submit(token: str, answers: Mapping, ip: str | None = None, language: str | None = None) -> SatisfactionSurvey:
    """Store the beneficiary's answers from their survey link; the link works once (P2.5, P2.6)."""
    invitation = invitation_for_token(token)
    values = clean_answers(answers)
    now = utcnow()
    with db.atomic():
        # Claimed with a condition, so two submissions racing each other store one survey.
        claimed = (SurveyInvitation.update(used_at=now, updated_at=now)
                   .where((SurveyInvitation.id == invitation.id) & SurveyInvitation.used_at.is_null()
                          & (SurveyInvitation.expires_at > now)).execute())
        if not claimed:
            raise SurveyUnavailable(N_("This survey was already answered. Thank you."), "used")
        survey = SatisfactionSurvey.create(
            request=invitation.request_id, beneficiary=invitation.beneficiary_id, invitation=invitation,
            channel="portal", language=_language(language, invitation.language), submitted_at=now, ip=ip, **values)
        audit.record("survey", survey, changes=audit.diff(None, audit.snapshot(survey)), ip=ip)
    return survey


def record_by_staff(request: ServiceRequest, answers: Mapping, channel: str, actor: User,
                    language: str | None = None) -> SatisfactionSurvey:
    """Store a survey a staff member took by phone or in person; the request's link then stops working."""
    if not can(actor.role, "satisfaction.record"):
        raise PermissionDenied(N_("Your role cannot enter satisfaction surveys."))
    if request is None:
        raise ValidationError(N_("Choose the request whose service was rated."), field="request")
    if channel not in ("phone", "in_person"):
        raise ValidationError(N_("Choose how the survey was taken: by phone or in person."), field="channel")
    if request.status not in FINISHED_STATUSES:
        raise TransitionRefused(N_("A survey rates a finished service: the request must be delivered, rejected "
                                   "or closed."), field="request")
    if request.researcher_id == actor.id:
        # P2.5 rates the staff member who served: they do not take their own rating.
        raise PermissionDenied(N_("This survey rates your own service: another staff member takes it."),
                               field="request")
    if SatisfactionSurvey.select().where(SatisfactionSurvey.request == request).exists():
        raise ValidationError(N_("This request already has a satisfaction survey."), field="request")
    values = clean_answers(answers)
    now = utcnow()
    with db.atomic():
        invitation = SurveyInvitation.get_or_none(SurveyInvitation.request == request)
        if invitation is not None and invitation.used_at is None:
            invitation.used_at = now
            invitation.save()
            audit.record("update", invitation, changes={"used_at": [None, now]}, actor=actor.username,
                         details="survey taken by staff")
        survey = SatisfactionSurvey.create(
            request=request, beneficiary=request.beneficiary_id, invitation=invitation, channel=channel,
            language=_language(language, request.beneficiary.language or "ar"), submitted_at=now, taken_by=actor,
            **values)
        audit.record("survey", survey, changes=audit.diff(None, audit.snapshot(survey)), actor=actor.username)
    return survey


def visible_surveys(query, user: User):
    """Narrow a survey query to the surveys the user took and those of the requests in their scope."""
    # Comments are personal: only roles holding satisfaction.comments read every survey.
    if can(user.role, "satisfaction.comments"):
        return query
    if not can(user.role, "satisfaction.record"):
        return query.where(SatisfactionSurvey.id.is_null())
    mine = visible_requests(ServiceRequest.select(ServiceRequest.id), user)
    return query.where((SatisfactionSurvey.taken_by == user.id) | SatisfactionSurvey.request.in_(mine))


# ---- the dashboard --------------------------------------------------------------------------------
@dataclass
class Group:
    """The surveys of one service, channel, staff member or month, against the requests invited."""

    key: object
    label: str = ""
    invited: int = 0
    surveyed: int = 0
    sums: dict = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))
    recommend: int = 0

    def add(self, survey: SatisfactionSurvey | None, invited: bool = True) -> None:
        self.invited += 1 if invited else 0
        if survey is None:
            return
        self.surveyed += 1
        for name in RATINGS:
            self.sums[name] += getattr(survey, name)
        self.recommend += 1 if survey.would_recommend else 0

    def average(self, name: str = "overall") -> float | None:
        """Return the average of one rating, 2 decimals, or None without surveys."""
        return round(self.sums[name] / self.surveyed, 2) if self.surveyed else None

    @property
    def averages(self) -> dict:
        return {name: self.average(name) for name in RATINGS}

    @property
    def response_rate(self) -> float | None:
        """Return the share of invited requests that were rated (0–1), or None when none was invited."""
        return round(self.surveyed / self.invited, 4) if self.invited else None

    @property
    def recommend_rate(self) -> float | None:
        return round(self.recommend / self.surveyed, 4) if self.surveyed else None


@dataclass
class Dashboard:
    first: datetime.date
    last: datetime.date
    total: Group
    by_service: list[Group]
    by_channel: list[Group]
    by_staff: list[Group]
    by_month: list[Group]
    by_survey_channel: list[Group]
    lowest: list[SatisfactionSurvey]


def default_period(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """Return the last twelve months up to today: the first day of the month a year ago, and today."""
    today = today or today_local()
    return datetime.date(today.year - 1, today.month, 1), today


def dashboard(first: datetime.date, last: datetime.date, lang: str = "ar", lowest: int = 10) -> Dashboard:
    """Aggregate the satisfaction of requests invited (or surveyed) between two Riyadh days (P2.5, P2.6).

    A request counts once, on the day its invitation was created (a request surveyed by staff without
    an invitation: the day of the survey). Response rate = requests rated / requests counted.
    """
    if first > last:
        raise ValidationError(N_("The first day of the period is after its last day."), field="first")
    start, end = utc_midnight(first), utc_midnight(last + datetime.timedelta(days=1))
    cases: dict[int, datetime.datetime] = dict(
        SurveyInvitation.select(SurveyInvitation.request, SurveyInvitation.created_at)
        .where((SurveyInvitation.created_at >= start) & (SurveyInvitation.created_at < end)).tuples())
    uninvited = (SatisfactionSurvey.select(SatisfactionSurvey.request, SatisfactionSurvey.submitted_at)
                 .where((SatisfactionSurvey.submitted_at >= start) & (SatisfactionSurvey.submitted_at < end)
                        & SatisfactionSurvey.request.not_in(SurveyInvitation.select(SurveyInvitation.request))))
    cases.update(dict(uninvited.tuples()))
    requests = {r.id: r for r in ServiceRequest.select(ServiceRequest.id, ServiceRequest.service,
                                                       ServiceRequest.channel, ServiceRequest.researcher)
                .where(ServiceRequest.id.in_(list(cases)))} if cases else {}
    surveys = {s.request_id: s for s in SatisfactionSurvey.select().where(
        SatisfactionSurvey.request.in_(list(cases)))} if cases else {}
    services = {s.id: (s.name_ar if lang == "ar" else s.name_en) for s in Service.select()}
    staff = {u.id: str(u) for u in User.select()}

    total = Group("all")
    groups = {name: {} for name in ("service", "channel", "staff", "month", "survey_channel")}

    def bucket(name, key, label):
        return groups[name].setdefault(key, Group(key, label))

    for request_id, at in cases.items():
        request, survey = requests[request_id], surveys.get(request_id)
        month = to_local(at).strftime("%Y-%m")
        total.add(survey)
        bucket("service", request.service_id, services.get(request.service_id, "")).add(survey)
        bucket("channel", request.channel, request.channel).add(survey)
        bucket("staff", request.researcher_id, staff.get(request.researcher_id, "")).add(survey)
        bucket("month", month, month).add(survey)
        if survey is not None:
            bucket("survey_channel", survey.channel, survey.channel).add(survey, invited=False)

    def ordered(name, key=None):
        return sorted(groups[name].values(), key=key or (lambda g: g.label))

    channel_order = {code: i for i, code in enumerate(codes(CHANNELS))}
    survey_order = {code: i for i, code in enumerate(codes(SURVEY_CHANNELS))}
    worst = (SatisfactionSurvey.select().where(SatisfactionSurvey.request.in_(list(cases))
                                               & SatisfactionSurvey.comment.is_null(False))
             .order_by(SatisfactionSurvey.overall, SatisfactionSurvey.submitted_at.desc()).limit(lowest)) \
        if cases else []
    return Dashboard(
        first=first, last=last, total=total,
        by_service=ordered("service"),
        by_channel=ordered("channel", lambda g: channel_order.get(g.key, 99)),
        by_staff=ordered("staff", lambda g: (g.key is None, g.label)),
        by_month=ordered("month", lambda g: g.key),
        by_survey_channel=ordered("survey_channel", lambda g: survey_order.get(g.key, 99)),
        lowest=list(worst))
