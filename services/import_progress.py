"""How far a running import got and which process runs it: a small file beside the upload.

A file, not the batch row: the commit is one transaction, so progress written to the database
would be invisible until the very end. The file also names the process running the import (host,
pid and the process's start time), so a batch whose process was killed mid-commit (nothing
written: its transaction died with it) is not left "importing" for ever. reconcile() marks it
interrupted when the worker starts and when someone opens the batch; the user checks it again.
"""
import json
import os
import socket
import time
from pathlib import Path

from models import ImportBatch, db, utcnow

from . import audit
from .errors import N_

RUNNING = ("analysing", "importing")
# ImportBatch.error codes, shown as sentences by the import screen.
INTERRUPTED = "interrupted"   # the process running it stopped before the end; nothing was written
QUEUE_LOST = "queue"          # handed to the background worker, which never started it
ERRORS = {
    INTERRUPTED: N_("Interrupted before the end: the process running it stopped (the worker or the server was "
                    "restarted). Nothing was written. Check the rows again, then import."),
    QUEUE_LOST: N_("The background worker could not be reached. Try again in a moment."),
}
# A run whose file has not moved for this long is stuck even if its process lives on (a dead thread).
# Every chunk of rows moves it; no single step of a 50,000-row import takes a minute.
STALE_AFTER = 30 * 60
# Queued this long and never started: the queue lost it (the worker, when it runs, starts within seconds).
QUEUE_LOST_AFTER = 60 * 60


def _path(batch: ImportBatch) -> Path:
    return Path(batch.stored_path + ".progress")


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """Return (state, start time) of a process from /proc, or None when there is no such process or no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], fields[19]   # fields 3 and 22 of proc(5)


def _this_process() -> dict:
    stat = _proc_stat(os.getpid())
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": stat[1] if stat else None}


def _write(batch: ImportBatch, data: dict) -> None:
    path = _path(batch)
    partial = path.with_name(path.name + ".tmp")
    try:
        partial.write_text(json.dumps({**data, "at": time.time()}))
        os.replace(partial, path)  # a reader never sees half a file
    except OSError:
        pass


def claim(batch: ImportBatch, status: str) -> None:
    """Record this process as the one running the batch, then set its status (analysing, importing)."""
    _write(batch, {"processed": 0, "total": batch.total_rows, **_this_process()})
    ImportBatch.update(status=status, error=None, updated_at=utcnow()).where(ImportBatch.id == batch.id).execute()
    batch.status, batch.error = status, None


def queue(batch: ImportBatch, status: str) -> None:
    """Record that the batch waits for the background worker, then set its status."""
    _write(batch, {"processed": 0, "total": batch.total_rows, "queued": True})
    ImportBatch.update(status=status, error=None, updated_at=utcnow()).where(ImportBatch.id == batch.id).execute()
    batch.status, batch.error = status, None


def beat(batch: ImportBatch, processed: int, total: int) -> None:
    """Record how many rows the running process got through."""
    _write(batch, {"processed": processed, "total": max(total, processed), **_this_process()})


def clear(batch: ImportBatch) -> None:
    """Forget the run: call it once the batch's final status is committed."""
    _path(batch).unlink(missing_ok=True)


def _read(batch: ImportBatch) -> tuple[dict | None, float]:
    try:
        path = _path(batch)
        return json.loads(path.read_text()), path.stat().st_mtime
    except (OSError, ValueError):
        return None, 0.0


def progress(batch: ImportBatch) -> dict:
    """Return how far a running dry run or commit got: {"processed", "total"}."""
    data, _mtime = _read(batch)
    if data is None:
        return {"processed": batch.processed_rows, "total": batch.total_rows}
    return {"processed": data.get("processed", 0), "total": data.get("total", batch.total_rows)}


def _stopped(data: dict | None, mtime: float) -> str | None:
    """Return why a running batch has stopped (INTERRUPTED, QUEUE_LOST), or None while it runs or waits."""
    now = time.time()
    if data is None:
        return INTERRUPTED      # every run writes the file before its status: whoever ran it is gone
    if data.get("queued"):
        return QUEUE_LOST if now - data.get("at", mtime) > QUEUE_LOST_AFTER else None
    if now - mtime > STALE_AFTER:
        return INTERRUPTED
    if data.get("host") != socket.gethostname():
        return None             # another machine's process: only its silence tells
    stat = _proc_stat(data["pid"])
    if stat is None:
        if Path("/proc/self/stat").exists():
            return INTERRUPTED
        try:
            os.kill(data["pid"], 0)
        except ProcessLookupError:
            return INTERRUPTED
        except PermissionError:
            pass
        return None
    state, start = stat
    # A zombie is dead; another start time means the pid now belongs to another process.
    if state in ("Z", "X") or (data.get("start") and start != data["start"]):
        return INTERRUPTED
    return None


def reconcile(batch: ImportBatch) -> ImportBatch:
    """Mark a batch whose dry run or commit stopped with its process as failed (nothing written); return it fresh."""
    if batch.status not in RUNNING:
        return batch
    reason = _stopped(*_read(batch))
    if reason is None:
        return batch
    with db.atomic():
        # Only if it is still the same run: a commit finishing meanwhile has set its own status.
        changed = ImportBatch.update(status="failed", error=reason, updated_at=utcnow()).where(
            (ImportBatch.id == batch.id) & (ImportBatch.status == batch.status)).execute()
        if changed:
            audit.record("update", batch, changes={"status": [batch.status, "failed"], "error": [None, reason]},
                         details={"reconciled": reason})
    if changed:
        clear(batch)
    return ImportBatch.get_by_id(batch.id)


def reconcile_all() -> int:
    """Reconcile every running batch (at worker start); return how many had stopped."""
    stopped = 0
    for batch in ImportBatch.select().where(ImportBatch.status.in_(RUNNING)):
        stopped += reconcile(batch).status == "failed"
    return stopped
