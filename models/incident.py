"""The register of personal-data incidents (Saudi PDPL: the authority is notified within 72 hours)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .choices import N_
from .user import User

INCIDENT_STATUSES = [("open", N_("Open")), ("closed", N_("Closed"))]


class Incident(BaseModel):
    """A breach, loss or unauthorised disclosure of personal data, and what was done about it."""

    what = TextField()
    # Stored in UTC like every time; the 72-hour deadline counts from here.
    discovered_at = DateTimeField(index=True)
    # Who is affected, in words, and roughly how many people.
    affected = TextField(null=True)
    affected_count = IntegerField(null=True)
    # The kinds of personal data involved (ID numbers, mobiles, visit findings …), in words.
    data_kinds = TextField(null=True)
    actions_taken = TextField(null=True)
    authority_notified_at = DateTimeField(null=True)
    persons_notified_at = DateTimeField(null=True)
    status = CharField(max_length=10, default="open", index=True)
    closed_at = DateTimeField(null=True)
    recorded_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    def __str__(self):
        return f"#{self.id}"
