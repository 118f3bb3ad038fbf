"""Services the association offers, and the document types they may require (policy P1.2)."""
from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .versioned import VersionedModel


class DocumentType(BaseModel):
    name_ar = CharField(max_length=200)
    name_en = CharField(max_length=200)
    active = BooleanField(default=True)

    def __str__(self):
        return self.name_ar


class Service(VersionedModel):
    name_ar = CharField(max_length=200)
    name_en = CharField(max_length=200)
    description = TextField(default="")
    eligibility_conditions = TextField(default="")
    # Policy P6.5: which verification mechanisms this service requires.
    requires_document_review = BooleanField(default=True)
    requires_interview = BooleanField(default=False)
    requires_field_visit = BooleanField(default=False)
    # Policy P5.5: calendar days within which a decision is due.
    decision_days = IntegerField(default=14)
    # Policy P6.6: days that must pass between two approvals for the same beneficiary;
    # a request decided sooner is flagged to the manager. Empty: no minimum.
    min_approval_interval_days = IntegerField(null=True)
    # Sensitive services (e.g. care for new Muslims) never leave the system row by row.
    sensitive = BooleanField(default=False)
    active = BooleanField(default=True)

    def __str__(self):
        return self.name_ar

    def required_methods(self) -> list[str]:
        """Return the verification method codes this service requires."""
        flags = [
            ("document_review", self.requires_document_review),
            ("interview", self.requires_interview),
            ("field_visit", self.requires_field_visit),
        ]
        return [code for code, needed in flags if needed]


class ServiceDocumentType(BaseModel):
    """A document type a service requires (its checklist)."""

    service = ForeignKeyField(Service, backref="required_documents", on_delete="CASCADE")
    document_type = ForeignKeyField(DocumentType, backref="services")

    class Meta:
        indexes = ((("service", "document_type"), True),)
