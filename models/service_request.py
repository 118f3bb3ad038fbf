"""Service requests and the history of their status changes (policy P5, P6)."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, TextField

from .base import BaseModel, utcnow
from .beneficiary import Beneficiary
from .case_guard import CaseRecord
from .choices import ATTESTATION_METHODS, CHANNELS, DECISIONS, STATUSES
from .service import Service
from .user import User
from .versioned import VersionedModel


class ServiceRequest(CaseRecord, VersionedModel):
    # Written only through services (models/case_guard.py); the number and the notification time are not the case.
    free_fields = frozenset({"number", "notified_at"})

    # REQ-2026-000123
    number = CharField(max_length=30, unique=True, null=True)
    beneficiary = ForeignKeyField(Beneficiary, backref="requests", on_delete="RESTRICT")
    service = ForeignKeyField(Service, backref="requests", on_delete="RESTRICT")
    channel = CharField(max_length=20, choices=CHANNELS, index=True)
    status = CharField(max_length=30, choices=STATUSES, default="draft", index=True)
    researcher = ForeignKeyField(User, null=True, backref="assigned_requests", on_delete="SET NULL")
    submitted_at = DateTimeField(null=True, index=True)
    decision_due = DateField(null=True, index=True)
    # Policy P5.4: the applicant's attestation that the data is correct.
    attestation_method = CharField(max_length=20, choices=ATTESTATION_METHODS, null=True)
    attestation_version = CharField(max_length=20, null=True)
    attested_at = DateTimeField(null=True)
    attested_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    attestation_ip = CharField(max_length=64, null=True)
    decision = CharField(max_length=20, choices=DECISIONS, null=True)
    decision_reason = TextField(null=True)
    decided_at = DateTimeField(null=True)
    decided_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # An admin who took part in the case decided it anyway: the written reason (separation of duties, flagged).
    decision_override_reason = TextField(null=True)
    notified_at = DateTimeField(null=True)
    notes = TextField(null=True)

    class Meta:
        # Migration 0016 (issue 9 benchmarks, 300,000 requests); each serves these screens and queries:
        indexes = (
            # the list filtered by status and service, and saved views such as "open requests of a service";
            (("status", "service"), False),
            # overdue counts (home page, the Views menu, the list's Overdue filter) and "awaiting decision"
            # in due-date order: a range per open status instead of every row with a past due date;
            (("status", "decision_due"), False),
            # a researcher's scope (requests assigned to them): their list, home counts and open requests;
            (("researcher", "status"), False),
            # a volunteer's scope (requests they registered): their list, drafts and home counts.
            (("created_by", "status"), False),
        )

    def __str__(self):
        return self.number or f"#{self.id}"

    def case_request_id(self):
        return self.id


class RequestTransition(CaseRecord, BaseModel):
    """One status change: who moved the request, when, from where to where, and why."""

    request = ForeignKeyField(ServiceRequest, backref="transitions", on_delete="CASCADE")
    from_status = CharField(max_length=30)
    to_status = CharField(max_length=30)
    at = DateTimeField(default=utcnow)
    by = CharField(max_length=80, null=True)
    note = TextField(null=True)
