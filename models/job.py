"""Bulk actions too long for a web request: the job, the rows it applies to, and how far it got."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .choices import N_
from .user import User

JOB_STATUSES = [("queued", N_("Queued")), ("running", N_("Running")), ("done", N_("Done")), ("failed", N_("Failed"))]


class BackgroundJob(BaseModel):
    """One bulk action handed to the worker, acting as the user who asked for it."""

    kind = CharField(max_length=60)                 # a key of services.jobs.KINDS
    params = TextField(default="{}")                # JSON: the action's fields and how the rows were chosen
    requested_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT")
    status = CharField(max_length=10, choices=JOB_STATUSES, default="queued", index=True)
    total = IntegerField(default=0)
    # Counters copied from the rows after every chunk, so the progress page reads one row.
    processed = IntegerField(default=0)
    done_count = IntegerField(default=0)
    refused_count = IntegerField(default=0)
    error = TextField(null=True)
    started_at = DateTimeField(null=True)
    # Written with every chunk: a running job silent for long was abandoned by a dead worker.
    heartbeat_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)


class BackgroundJobRow(BaseModel):
    """One chosen row of a job; its state changes in the transaction that applies it, so no row runs twice."""

    job = ForeignKeyField(BackgroundJob, backref="rows", on_delete="CASCADE")
    row_id = IntegerField()
    state = CharField(max_length=10, default="pending")  # pending, done or refused
    # JSON [msgid, params] of a refusal, translated when shown.
    reason = TextField(null=True)

    class Meta:
        indexes = ((("job", "row_id"), True), (("job", "state"), False))


JOB_MODELS = [BackgroundJob, BackgroundJobRow]
