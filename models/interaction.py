"""Inquiries, suggestions, complaints and other contacts across the six channels (policy P3, P2.3, P2.7)."""
from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel, utcnow
from .beneficiary import Beneficiary
from .choices import CHANNELS, N_
from .service_request import ServiceRequest
from .user import User
from .versioned import VersionedModel

INTERACTION_DIRECTIONS = [("incoming", N_("From the beneficiary")), ("outgoing", N_("To the beneficiary"))]

# answered: a response was given; closed: nothing more to do (a suggestion or complaint with its resolution).
INTERACTION_STATUSES = [("open", N_("Open")), ("answered", N_("Answered")), ("closed", N_("Closed"))]

# What a suggestion or complaint is about, for the monthly count (P2.6: improvement from opinions).
INTERACTION_CATEGORIES = [
    ("service_quality", N_("Quality of the service")),
    ("procedures", N_("Procedures and requirements")),
    ("waiting_time", N_("Waiting and response time")),
    ("staff_conduct", N_("Staff conduct")),
    ("communication", N_("Communication and information")),
    ("facilities", N_("Premises and facilities")),
    ("other", N_("Other")),
]

# Where the interaction was recorded: by staff in the panel, or by the person on the public portal.
INTERACTION_SOURCES = [("staff", N_("Staff")), ("portal", N_("Portal"))]


class InteractionKind(BaseModel):
    """A kind of contact an administrator edits, with its response period in working days."""

    # Set for the kinds other code names (the portal offers inquiry, suggestion, complaint); empty for added ones.
    code = CharField(max_length=30, unique=True, null=True)
    name_ar = CharField(max_length=100)
    name_en = CharField(max_length=100)
    # Working days (Sunday to Thursday, minus holidays) within which a response is due; 0: the same day.
    response_days = IntegerField(default=5)
    # Suggestions and complaints get a category and are closed with a resolution (P2.7).
    needs_resolution = BooleanField(default=False)
    # Offered to the public on the portal's contact form.
    public = BooleanField(default=False)
    position = IntegerField(default=0)
    active = BooleanField(default=True)

    def __str__(self):
        return self.name_ar


class Holiday(BaseModel):
    """Days off that are not weekends (Eid, National Day …); they do not count as working days."""

    name_ar = CharField(max_length=100)
    name_en = CharField(max_length=100, default="")
    first_day = DateField(index=True)
    last_day = DateField(index=True)

    def __str__(self):
        return f"{self.name_ar} ({self.first_day} – {self.last_day})"


class Interaction(VersionedModel):
    # INT-2026-000123: the number the person is given to refer to their message.
    number = CharField(max_length=30, unique=True, null=True)
    # Empty for an anonymous contact, who leaves a name and a phone instead.
    beneficiary = ForeignKeyField(Beneficiary, null=True, backref="interactions", on_delete="RESTRICT")
    contact_name = CharField(max_length=200, null=True)
    contact_phone = CharField(max_length=20, null=True)
    request = ForeignKeyField(ServiceRequest, null=True, backref="interactions", on_delete="SET NULL")
    channel = CharField(max_length=20, choices=CHANNELS, index=True)
    direction = CharField(max_length=10, choices=INTERACTION_DIRECTIONS, default="incoming")
    kind = ForeignKeyField(InteractionKind, backref="interactions", on_delete="RESTRICT")
    category = CharField(max_length=30, choices=INTERACTION_CATEGORIES, null=True, index=True)
    subject = CharField(max_length=200)
    text = TextField()
    # The language the person wrote or spoke in, to answer in it.
    language = CharField(max_length=5, default="ar")
    received_at = DateTimeField(default=utcnow, index=True)
    due_date = DateField(null=True, index=True)
    handled_by = ForeignKeyField(User, null=True, backref="interactions", on_delete="SET NULL")
    response = TextField(null=True)
    responded_at = DateTimeField(null=True)
    resolution = TextField(null=True)
    status = CharField(max_length=10, choices=INTERACTION_STATUSES, default="open", index=True)
    closed_at = DateTimeField(null=True)
    source = CharField(max_length=10, choices=INTERACTION_SOURCES, default="staff")
    ip = CharField(max_length=64, null=True)

    class Meta:
        # Migration 0016: open interactions past their due date, counted on every home page and by the
        # list's Overdue filter (issue 9 benchmarks).
        indexes = ((("status", "due_date"), False),)

    def __str__(self):
        return self.number or f"#{self.id}"
