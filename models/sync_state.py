"""What the board mirror last wrote: tabs, which record sits in which sheet row, and each run."""
from peewee import BooleanField, CharField, DateTimeField, IntegerField, TextField

from .base import BaseModel


class SyncTab(BaseModel):
    """One mirrored tab: where it is, how many data rows it holds, and any unfinished write."""

    key = CharField(max_length=30, unique=True)
    sheet_id = IntegerField(null=True)
    title = CharField(max_length=100, default="")
    # Data rows the sheet holds below the header, as of the last successful sync.
    row_count = IntegerField(default=0)
    # The highest sheet row any write (even an unfinished one) may have reached: rows
    # between row_count and here are blanked on the next run.
    high_water = IntegerField(default=0)
    # Sheet rows an unfinished run was about to write (JSON list); rewritten on the next run.
    pending_rows = TextField(default="[]")
    # Set before a full rewrite starts and cleared when it committed.
    needs_full = BooleanField(default=True)
    # Start of the last successful run: rows changed since then are candidates.
    synced_from = DateTimeField(null=True)


class SyncRow(BaseModel):
    """One database record mirrored in one sheet row, with a digest of the cells written."""

    table = CharField(max_length=30)
    record_id = IntegerField()
    sheet_row = IntegerField()
    digest = CharField(max_length=16)

    class Meta:
        indexes = ((("table", "record_id"), True),)


class SyncRun(BaseModel):
    """One run of the sync, shown on the "Board mirror" page."""

    started_at = DateTimeField()
    finished_at = DateTimeField(null=True)
    mode = CharField(max_length=12)          # full, incremental, dry_run
    target = CharField(max_length=10)        # sheets, xlsx
    ok = BooleanField(null=True)             # None while running
    rows = TextField(default="{}")           # {tab key: data rows written}
    write_requests = IntegerField(default=0)
    read_requests = IntegerField(default=0)
    bytes_sent = IntegerField(default=0)
    warnings = TextField(default="[]")       # JSON list of [msgid, params]
    error = TextField(null=True)


SYNC_MODELS = [SyncTab, SyncRow, SyncRun]
