"""The association's reference documents at hand for staff (policy P4), each with its versions."""
from peewee import CharField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .choices import N_
from .user import User

# The three documents P4 names, and anything else an administrator uploads.
REFERENCE_KINDS = [
    ("bylaws", N_("The association's bylaws")),
    ("beneficiary_policy", N_("Beneficiary-relations policy")),
    ("selection_mechanism", N_("Beneficiary-selection mechanism")),
    ("other", N_("Other")),
]


class ReferenceDocument(BaseModel):
    kind = CharField(max_length=30, choices=REFERENCE_KINDS, default="other", index=True)
    title_ar = CharField(max_length=200)
    title_en = CharField(max_length=200, default="")
    description = TextField(default="")

    def __str__(self):
        return self.title_ar


class ReferenceDocumentVersion(BaseModel):
    """One uploaded file of a reference document; a new version never replaces an old one."""

    document = ForeignKeyField(ReferenceDocument, backref="versions", on_delete="CASCADE")
    number = IntegerField()
    original_name = CharField(max_length=255)
    # Name under UPLOAD_DIR/references; random, never derived from what the user sent.
    stored_name = CharField(max_length=100, unique=True)
    content_type = CharField(max_length=100)
    size = IntegerField()
    sha256 = CharField(max_length=64)
    note = TextField(default="")
    uploaded_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = ((("document", "number"), True),)

    def __str__(self):
        return f"{self.document} v{self.number}"
