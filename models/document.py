"""Uploaded documents, on a request or on a beneficiary (policy P6.2)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

from .base import BaseModel
from .beneficiary import Beneficiary
from .case_guard import NOT_A_CASE, CaseRecord
from .service import DocumentType
from .service_request import ServiceRequest
from .user import User


class Document(CaseRecord, BaseModel):
    # Filing a document on a request and verifying it are changes to the case (models/case_guard.py).
    case_fields = frozenset({"request", "verified_by", "verified_at"})

    request = ForeignKeyField(ServiceRequest, null=True, backref="documents", on_delete="RESTRICT")
    beneficiary = ForeignKeyField(Beneficiary, null=True, backref="documents", on_delete="RESTRICT")
    document_type = ForeignKeyField(DocumentType, backref="documents")
    original_name = CharField(max_length=255)
    # Name under UPLOAD_DIR; random, never derived from what the user sent.
    stored_name = CharField(max_length=100, unique=True)
    content_type = CharField(max_length=100)
    size = IntegerField()
    sha256 = CharField(max_length=64)
    verified_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # Indexed (migration 0016): the documents list's "Verified: no" filter is the verifiers' worklist.
    verified_at = DateTimeField(null=True, index=True)

    def __str__(self):
        return self.original_name

    def case_request_id(self):
        return self.request_id if self.request_id is not None else NOT_A_CASE
