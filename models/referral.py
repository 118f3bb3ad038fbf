"""Referrals to the social researcher (policy P5.3): the procedure was unclear to the beneficiary."""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from .base import BaseModel
from .beneficiary import Beneficiary
from .case_guard import NOT_A_CASE, CaseRecord
from .choices import N_
from .service_request import ServiceRequest
from .user import User

REFERRAL_STATUSES = [("open", N_("Open")), ("answered", N_("Answered"))]


class Referral(CaseRecord, BaseModel):
    beneficiary = ForeignKeyField(Beneficiary, backref="referrals", on_delete="RESTRICT")
    request = ForeignKeyField(ServiceRequest, null=True, backref="referrals", on_delete="SET NULL")
    reason = TextField()
    referred_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # Empty: any researcher may take it from the shared worklist.
    researcher = ForeignKeyField(User, null=True, backref="referrals", on_delete="SET NULL")
    status = CharField(max_length=10, choices=REFERRAL_STATUSES, default="open", index=True)
    answer = TextField(null=True)
    answered_at = DateTimeField(null=True)

    class Meta:
        # Migration 0016: the open referrals, oldest first, on every home page (issue 9 benchmarks).
        indexes = ((("status", "created_at"), False),)

    def case_request_id(self):
        return self.request_id if self.request_id is not None else NOT_A_CASE

    def __str__(self):
        return f"{self.beneficiary.reference or self.beneficiary_id}: {self.reason[:40]}"
