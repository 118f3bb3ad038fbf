"""Satisfaction surveys (policy P2.5, P2.6): one-time invitations and the answers."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, SmallIntegerField, TextField

from .base import BaseModel, utcnow
from .beneficiary import Beneficiary
from .choices import N_
from .notification import Notification
from .service_request import ServiceRequest
from .user import User

# How the survey was taken: the beneficiary through the link, or staff by phone or in person.
SURVEY_CHANNELS = [("portal", N_("Portal link")), ("phone", N_("Phone call")), ("in_person", N_("In person"))]

# The four ratings of a survey, 1 (very dissatisfied) to 5 (very satisfied).
SURVEY_RATINGS = [
    ("overall", N_("Overall satisfaction")),
    ("speed", N_("Speed of the service")),
    ("courtesy", N_("Courtesy of the staff")),
    ("clarity", N_("Clarity of the information")),
]


class SurveyInvitation(BaseModel):
    """The one-time link a beneficiary gets after their request is delivered or rejected."""

    request = ForeignKeyField(ServiceRequest, unique=True, backref="survey_invitations", on_delete="RESTRICT")
    beneficiary = ForeignKeyField(Beneficiary, backref="survey_invitations", on_delete="RESTRICT")
    # secrets.token_urlsafe: unguessable, so the link alone identifies the survey.
    token = CharField(max_length=64, unique=True)
    language = CharField(max_length=5, default="ar")
    expires_at = DateTimeField(index=True)
    used_at = DateTimeField(null=True)
    notification = ForeignKeyField(Notification, null=True, backref="+", on_delete="SET NULL")

    def __str__(self):
        return f"{self.request}"


class SatisfactionSurvey(BaseModel):
    """One beneficiary's rating of the service on one request."""

    request = ForeignKeyField(ServiceRequest, unique=True, backref="surveys", on_delete="RESTRICT")
    beneficiary = ForeignKeyField(Beneficiary, backref="surveys", on_delete="RESTRICT")
    invitation = ForeignKeyField(SurveyInvitation, null=True, backref="surveys", on_delete="SET NULL")
    overall = SmallIntegerField()
    speed = SmallIntegerField()
    courtesy = SmallIntegerField()
    clarity = SmallIntegerField()
    would_recommend = BooleanField()
    comment = TextField(null=True)
    language = CharField(max_length=5, default="ar")
    channel = CharField(max_length=10, choices=SURVEY_CHANNELS, index=True)
    submitted_at = DateTimeField(default=utcnow, index=True)
    # The staff member who took a phone or in-person survey; empty on the portal.
    taken_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    ip = CharField(max_length=64, null=True)

    def __str__(self):
        return f"{self.request} ({self.overall}/5)"
