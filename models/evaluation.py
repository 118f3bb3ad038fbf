"""Evaluation against the service's criteria (P6.3), waivers of verification methods, deliveries (P5.7)."""
from peewee import BooleanField, CharField, DateTimeField, DecimalField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel, utcnow
from .case_guard import CaseRecord
from .choices import N_, VISIT_METHODS
from .service import Service
from .service_request import ServiceRequest
from .user import User

RECOMMENDATIONS = [("approve", N_("Approve")), ("reject", N_("Reject"))]


class EvaluationCriterion(BaseModel):
    service = ForeignKeyField(Service, backref="criteria", on_delete="CASCADE")
    text_ar = CharField(max_length=500)
    text_en = CharField(max_length=500)
    position = IntegerField(default=0)
    active = BooleanField(default=True)

    def __str__(self):
        return self.text_ar


class CriterionAssessment(CaseRecord, BaseModel):
    request = ForeignKeyField(ServiceRequest, backref="assessments", on_delete="CASCADE")
    criterion = ForeignKeyField(EvaluationCriterion, backref="assessments", on_delete="RESTRICT")
    met = BooleanField(null=True)
    note = TextField(null=True)
    assessed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    assessed_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("request", "criterion"), True),)


class Recommendation(CaseRecord, BaseModel):
    """The researcher's recommendation closing the evaluation of a request."""

    request = ForeignKeyField(ServiceRequest, backref="recommendations", unique=True, on_delete="CASCADE")
    recommendation = CharField(max_length=10, choices=RECOMMENDATIONS)
    note = TextField(null=True)
    given_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    given_at = DateTimeField(default=utcnow)


class MethodWaiver(CaseRecord, BaseModel):
    """A manager's written waiver of one required verification method for one request."""

    request = ForeignKeyField(ServiceRequest, backref="waivers", on_delete="CASCADE")
    method = CharField(max_length=20, choices=VISIT_METHODS)
    reason = TextField()
    waived_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    waived_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("request", "method"), True),)


class Delivery(CaseRecord, BaseModel):
    """One delivery of an approved service: monthly aid is many."""

    request = ForeignKeyField(ServiceRequest, backref="deliveries", on_delete="RESTRICT")
    description = CharField(max_length=300)
    quantity = DecimalField(max_digits=12, decimal_places=2, null=True)
    amount = DecimalField(max_digits=12, decimal_places=2, null=True)
    delivered_at = DateTimeField(default=utcnow)
    delivered_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
