"""Imports of existing records from Excel and CSV: the file, how far it got, and what it wrote."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .beneficiary import Beneficiary
from .choices import N_
from .service_request import ServiceRequest
from .user import User

IMPORT_STATUSES = [
    ("uploaded", N_("Uploaded")),
    ("analysing", N_("Checking the rows")),
    ("ready", N_("Ready to import")),
    ("importing", N_("Importing")),
    ("done", N_("Imported")),
    ("failed", N_("Failed")),
]


class ImportBatch(BaseModel):
    """One uploaded file, from its dry run to its commit; the commit is audited as one import."""

    file_name = CharField(max_length=255)
    sha256 = CharField(max_length=64, index=True)
    # Where the uploaded file is kept (under IMPORT_DIR) until the import is done.
    stored_path = CharField(max_length=500)
    requested_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    status = CharField(max_length=12, choices=IMPORT_STATUSES, default="uploaded", index=True)
    # JSON {sheet name: {"kind": "beneficiaries"|"requests", "header_row": n, "columns": [...], "mapping": [...]}}.
    sheets = TextField(default="{}")
    total_rows = IntegerField(default=0)
    processed_rows = IntegerField(default=0)
    created_count = IntegerField(default=0)
    updated_count = IntegerField(default=0)
    unchanged_count = IntegerField(default=0)
    rejected_count = IntegerField(default=0)
    # JSON of the last dry run or commit: samples, rejected rows with reasons, possible duplicates.
    report = TextField(null=True)
    rejected_path = CharField(max_length=500, null=True)
    error = TextField(null=True)
    analysed_at = DateTimeField(null=True)
    committed_at = DateTimeField(null=True)

    def __str__(self):
        return self.file_name


class ImportedRecord(BaseModel):
    """A beneficiary or request written by an import, with the legacy consent basis (issue 8 migrates it)."""

    batch = ForeignKeyField(ImportBatch, backref="records", on_delete="CASCADE")
    # The provenance belongs to the record: it goes when the record is deleted (which is audited).
    beneficiary = ForeignKeyField(Beneficiary, null=True, backref="imports", on_delete="CASCADE")
    request = ForeignKeyField(ServiceRequest, null=True, backref="imports", on_delete="CASCADE")
    action = CharField(max_length=10)             # created, updated
    sheet = CharField(max_length=100)
    row_number = IntegerField()
    # Consent taken before the system existed, on paper: "legacy", with the file it came from.
    consent_basis = CharField(max_length=20, default="legacy")
    # An imported request: its legacy number, or a digest of its fields, so a re-import skips it.
    source_key = CharField(max_length=64, null=True, index=True)
