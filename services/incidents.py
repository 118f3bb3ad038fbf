"""The personal-data incident register: record, update, close, and the 72-hour notification deadline (PDPL)."""
import datetime

from models import Incident, User, db, utcnow
from models.incident import INCIDENT_STATUSES

from . import audit
from .errors import N_, TransitionRefused, ValidationError
from .normalize import clean_long_text

# The PDPL implementing regulation: the authority is told within 72 hours of becoming aware.
NOTIFICATION_HOURS = 72
# Under this many hours left the countdown is shown as urgent.
URGENT_HOURS = 24
# Clocks of staff PCs drift; a time a few minutes ahead is not "in the future".
_CLOCK_SLACK = datetime.timedelta(minutes=5)

# Fields a caller of create() and update() may set.
EDITABLE = ("what", "discovered_at", "affected", "affected_count", "data_kinds", "actions_taken",
            "authority_notified_at", "persons_notified_at")
_TEXTS = ("what", "affected", "data_kinds", "actions_taken")


def deadline(incident: Incident) -> datetime.datetime:
    """Return when the authority must have been notified: 72 hours after discovery."""
    return incident.discovered_at + datetime.timedelta(hours=NOTIFICATION_HOURS)


def remaining(incident: Incident, now: datetime.datetime | None = None) -> datetime.timedelta:
    """Return the time left until the deadline (negative when overdue)."""
    return deadline(incident) - (now or utcnow())


def countdown(incident: Incident, now: datetime.datetime | None = None) -> tuple[str, int | None]:
    """Return the countdown state (notified, closed, overdue, urgent, running) and whole hours left or overdue."""
    if incident.authority_notified_at is not None:
        return "notified", None
    if incident.status == "closed":
        return "closed", None
    left = remaining(incident, now)
    hours = int(abs(left.total_seconds()) // 3600)
    if left.total_seconds() <= 0:
        return "overdue", hours
    return ("urgent" if hours < URGENT_HOURS else "running"), hours


def normalize_incident(incident: Incident, now: datetime.datetime | None = None) -> Incident:
    """Clean and validate an incident's fields; raise ValidationError naming the field."""
    now = now or utcnow()
    for name in _TEXTS:
        setattr(incident, name, clean_long_text(getattr(incident, name)) or None)
    if not incident.what:
        raise ValidationError(N_("Describe what happened."), field="what")
    if incident.discovered_at is None:
        raise ValidationError(N_("Give when the incident was discovered."), field="discovered_at")
    if incident.discovered_at > now + _CLOCK_SLACK:
        raise ValidationError(N_("The time of discovery cannot be in the future."), field="discovered_at")
    if incident.affected_count is not None and incident.affected_count < 0:
        raise ValidationError(N_("The number of people affected cannot be negative."), field="affected_count")
    for name in ("authority_notified_at", "persons_notified_at"):
        value = getattr(incident, name)
        if value is None:
            continue
        if value < incident.discovered_at:
            raise ValidationError(N_("A notification cannot come before the incident was discovered."), field=name)
        if value > now + _CLOCK_SLACK:
            raise ValidationError(N_("A notification time cannot be in the future."), field=name)
    if incident.status not in dict(INCIDENT_STATUSES):
        raise ValidationError(N_("Choose open or closed."), field="status")
    return incident


def check_editable(incident: Incident) -> None:
    """Refuse changes to a closed incident: the register keeps what was concluded."""
    if incident.status == "closed":
        raise TransitionRefused(N_("The incident is closed; it can no longer be changed."))


def _set(incident: Incident, fields: dict) -> None:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(incident, name, value)


def create(actor: User, *, now: datetime.datetime | None = None, **fields) -> Incident:
    """Record a new incident, open, audited."""
    incident = Incident(status="open", recorded_by=actor)
    _set(incident, fields)
    normalize_incident(incident, now)
    with db.atomic():
        incident.save(force_insert=True)
        audit.record("create", incident, changes=audit.diff(None, audit.snapshot(incident)), actor=actor.username)
    return incident


def update(incident: Incident, actor: User, *, now: datetime.datetime | None = None, **fields) -> Incident:
    """Change an open incident's fields, audited with their before and after values."""
    check_editable(incident)
    before = audit.snapshot(incident)
    _set(incident, fields)
    normalize_incident(incident, now)
    with db.atomic():
        incident.save()
        audit.record("update", incident, changes=audit.diff(before, audit.snapshot(incident)), actor=actor.username)
    return incident


def close(incident: Incident, actor: User, *, now: datetime.datetime | None = None) -> Incident:
    """Close an incident once the actions taken are written down, audited."""
    if incident.status == "closed":
        raise TransitionRefused(N_("The incident is already closed."))
    if not clean_long_text(incident.actions_taken):
        raise ValidationError(N_("Write the actions taken before closing the incident."), field="actions_taken")
    before = audit.snapshot(incident)
    with db.atomic():
        incident.status, incident.closed_at = "closed", now or utcnow()
        incident.save()
        audit.record("close", incident, changes=audit.diff(before, audit.snapshot(incident)), actor=actor.username)
    return incident
