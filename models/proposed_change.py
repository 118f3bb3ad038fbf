"""Changes to a beneficiary's record that a person typed on the public portal, waiting for staff (P5.2)."""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from .base import BaseModel
from .beneficiary import Beneficiary
from .choices import N_
from .service_request import ServiceRequest
from .user import User

PROPOSED_CHANGE_STATUSES = [("pending", N_("Waiting for a decision")), ("accepted", N_("Accepted")),
                            ("rejected", N_("Rejected"))]


class ProposedChange(BaseModel):
    """One field of a beneficiary's record as typed on the portal, different from what is on file.

    The portal never writes these into the record: a staff member who matched the data (P5.2)
    accepts the change, which applies it, or rejects it.
    """

    beneficiary = ForeignKeyField(Beneficiary, backref="proposed_changes", on_delete="CASCADE")
    # The portal request during which it was typed.
    request = ForeignKeyField(ServiceRequest, null=True, backref="proposed_changes", on_delete="SET NULL")
    field = CharField(max_length=30)
    # The record's value when the change was proposed, and the typed value (both normalised, as text).
    recorded_value = TextField(null=True)
    proposed_value = TextField()
    status = CharField(max_length=10, choices=PROPOSED_CHANGE_STATUSES, default="pending", index=True)
    decided_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    decided_at = DateTimeField(null=True)
    ip = CharField(max_length=64, null=True)

    def __str__(self):
        return f"{self.field}: {self.proposed_value}"
