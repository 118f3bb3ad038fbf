"""Verification visits: administrative review, interview or field visit (policy P6.5)."""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from .case_guard import CaseRecord
from .choices import VISIT_METHODS, VISIT_OUTCOMES
from .service_request import ServiceRequest
from .user import User
from .versioned import VersionedModel


class VerificationVisit(CaseRecord, VersionedModel):
    request = ForeignKeyField(ServiceRequest, backref="visits", on_delete="RESTRICT")
    method = CharField(max_length=20, choices=VISIT_METHODS, index=True)
    scheduled_at = DateTimeField(null=True, index=True)
    performed_at = DateTimeField(null=True)
    performed_by = ForeignKeyField(User, null=True, backref="visits", on_delete="SET NULL")
    findings = TextField(null=True)
    outcome = CharField(max_length=20, choices=VISIT_OUTCOMES, null=True)
    # Who set the outcome that counts for eligibility, and when (separation of duties: not the decider).
    outcome_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    outcome_at = DateTimeField(null=True)

    def __str__(self):
        return f"{self.request} / {self.method}"
