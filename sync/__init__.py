"""The board mirror: a read-only copy of the tables in a Google Sheet, or instance/board.xlsx offline.

Entry point for the CLI, the worker and the admin page: run_sync(settings_from_config(...)).
Nothing here imports Flask.
"""
import datetime
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from models import SyncRun, utcnow
from services.dates import today_local
from services.errors import N_

from .engine import Engine, Report
from .rows import Context
from .writer import MESSAGES, SyncBusy, SyncError, SyncRefused, TargetUnavailable, Writer

__all__ = ["Settings", "settings_from_config", "make_writer", "run_sync", "Report", "SyncError", "SyncBusy",
           "SyncRefused", "TargetUnavailable"]


def _flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    spreadsheet_id: str = ""
    service_account_file: str = ""
    api_endpoint: str = ""
    include_names: bool = False
    requests_since: datetime.date | None = None
    xlsx_path: str = "instance/board.xlsx"
    lock_path: str = "instance/board-mirror.lock"
    interval_minutes: int = 10
    max_retries: int = 5
    timeout: float = 60.0
    backoff_base: float = 1.0
    writes_per_minute: int = 55
    reads_per_minute: int = 55
    max_payload: int = 2_000_000

    @property
    def uses_sheets(self) -> bool:
        return bool(self.spreadsheet_id)


def settings_from_config(config, instance_path) -> Settings:
    """Return the mirror's settings from the application config mapping (SHEETS_*, BOARD_XLSX_PATH).

    The tuning knobs not in config.py (backoff, pacing, payload size) may also come from the environment.
    """
    instance = Path(instance_path)

    def tuning(key, default):
        return config.get(key, os.environ.get(key, default))

    since = config.get("SHEETS_REQUESTS_SINCE") or None
    if isinstance(since, str):
        since = datetime.date.fromisoformat(since.strip())
    return Settings(
        spreadsheet_id=(config.get("SHEETS_SPREADSHEET_ID") or "").strip(),
        service_account_file=config.get("SHEETS_SERVICE_ACCOUNT_FILE") or "",
        api_endpoint=(config.get("SHEETS_API_ENDPOINT") or "").strip(),
        include_names=_flag(config.get("SHEETS_INCLUDE_NAMES", "0")),
        requests_since=since,
        xlsx_path=config.get("BOARD_XLSX_PATH") or str(instance / "board.xlsx"),
        lock_path=str(instance / "board-mirror.lock"),
        interval_minutes=int(config.get("SHEETS_SYNC_INTERVAL", 10)),
        max_retries=int(config.get("SHEETS_MAX_RETRIES", 5)),
        timeout=float(config.get("SHEETS_TIMEOUT", 60)),
        backoff_base=float(tuning("SHEETS_BACKOFF_BASE", 1.0)),
        writes_per_minute=int(tuning("SHEETS_WRITES_PER_MINUTE", 55)),
        reads_per_minute=int(tuning("SHEETS_READS_PER_MINUTE", 55)),
        max_payload=int(tuning("SHEETS_MAX_PAYLOAD", 2_000_000)),
    )


def make_writer(settings: Settings) -> Writer:
    """Return the Google Sheets writer when a spreadsheet is configured, else the board.xlsx writer."""
    if settings.uses_sheets:
        key = settings.service_account_file
        if not settings.api_endpoint and not (key and Path(key).is_file()):
            raise SyncError(N_("SHEETS_SPREADSHEET_ID is set but the service account key SHEETS_SERVICE_ACCOUNT_FILE "
                               "(%(path)s) is missing. Download the key as the README's Board mirror section "
                               "explains, or unset SHEETS_SPREADSHEET_ID to write board.xlsx."), path=key or "-")
        from .gsheets import GoogleSheetsWriter
        return GoogleSheetsWriter(
            settings.spreadsheet_id, settings.service_account_file or None, settings.api_endpoint or None,
            max_payload=settings.max_payload, max_retries=settings.max_retries, timeout=settings.timeout,
            backoff_base=settings.backoff_base, writes_per_minute=settings.writes_per_minute,
            reads_per_minute=settings.reads_per_minute)
    from .xlsx import XlsxWriter
    return XlsxWriter(settings.xlsx_path)


class _Lock:
    """An exclusive lock file, so the worker, the CLI and "sync now" never write at the same time."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise SyncBusy(MESSAGES["busy"]) from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def run_sync(settings: Settings, full: bool = False, dry_run: bool = False, progress=None,
             writer: Writer | None = None, today: datetime.date | None = None) -> Report:
    """Bring the board mirror up to date; raise SyncError (recorded in SyncRun) when it cannot."""
    ctx = Context(include_names=settings.include_names, today=today or today_local())
    with _Lock(settings.lock_path):
        try:
            writer = writer or make_writer(settings)
        except SyncError as err:
            # Shown on the Board mirror page like any failed run.
            now = utcnow()
            SyncRun.create(started_at=now, finished_at=now, mode="dry_run" if dry_run else "full", target="sheets",
                           ok=False, error=json.dumps([err.message, err.params], ensure_ascii=False))
            raise
        engine = Engine(writer, ctx, settings.requests_since, progress)
        return engine.run(full=full, dry_run=dry_run)
