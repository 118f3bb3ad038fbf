"""Retention of personal data (Saudi PDPL): the period of each category, the runs, and what each run erased.

The categories themselves (what data, why, who sees it) are in models/personal_data.py; a
category without a RetentionPeriod row keeps the default years written there. The rules of
the run are in services/retention.py.
"""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel, utcnow
from .beneficiary import Beneficiary


class RetentionPeriod(BaseModel):
    """How many years a category of personal data is kept after a file's last activity; an admin edits it."""

    # A code of models.personal_data.CATEGORIES.
    category = CharField(max_length=30, unique=True)
    years = IntegerField()

    def __str__(self):
        return f"{self.category}: {self.years}"


class RetentionRun(BaseModel):
    """One real (not dry) run of the retention: who started it, what it erased, whether it finished."""

    started_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)
    actor = CharField(max_length=80, null=True)
    # Files found due when the run started, and files erased by it (each in its own transaction).
    files_due = IntegerField(default=0)
    files_done = IntegerField(default=0)
    # JSON {category: files whose data of that category was erased}.
    counts = TextField(default="{}")
    # Stopped at the run's file limit (the screen's): more files wait for the next run.
    partial = BooleanField(default=False)
    error = TextField(null=True)

    def __str__(self):
        return f"#{self.id}"


class RetentionErasure(BaseModel):
    """One category of one file erased, with the last activity the period was counted from.

    The erasure itself writes to the file's rows, so their times no longer tell when the person
    was last active; the clock kept here does (services.retention.last_activity).
    """

    beneficiary = ForeignKeyField(Beneficiary, backref="retention_erasures", on_delete="CASCADE")
    category = CharField(max_length=30)
    last_activity = DateTimeField()
    erased_at = DateTimeField(default=utcnow)
    run = ForeignKeyField(RetentionRun, null=True, backref="erasures", on_delete="SET NULL")

    class Meta:
        indexes = ((("beneficiary", "category"), False),)


RETENTION_MODELS = [RetentionPeriod, RetentionRun, RetentionErasure]
