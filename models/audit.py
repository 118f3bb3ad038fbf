"""The append-only audit trail."""
from peewee import CharField, DateTimeField, IntegerField, TextField

from .base import BaseModel, utcnow


class AuditLog(BaseModel):
    at = DateTimeField(default=utcnow, index=True)
    actor = CharField(max_length=80, null=True, index=True)
    # create, update, delete, status, bulk, export, download, login, login_failed, logout …
    action = CharField(max_length=40, index=True)
    model = CharField(max_length=60, null=True, index=True)
    record_id = IntegerField(null=True, index=True)
    # JSON: {field: [before, after]} for changes, or free details for other actions.
    changes = TextField(null=True)
    details = TextField(null=True)
    ip = CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("model", "record_id"), False),)
