"""The board mirror in the background worker: a schedule (SHEETS_SYNC_INTERVAL) and "sync now"."""
import datetime
import logging

from huey import crontab

from models import SyncRun, utcnow
from sync import Settings, SyncBusy, SyncError, run_sync, settings_from_config

from .queue import app_periodic_task, app_task, flask_app

log = logging.getLogger("mustafeed.sync")


def current_settings() -> Settings:
    """Return the mirror settings of the worker's application."""
    app = flask_app()
    return settings_from_config(app.config, app.instance_path)


def sync_due(settings: Settings, now: datetime.datetime | None = None) -> bool:
    """Return whether SHEETS_SYNC_INTERVAL minutes have passed since the last sync started (0: never)."""
    if settings.interval_minutes <= 0:
        return False
    last = (SyncRun.select(SyncRun.started_at).where(SyncRun.mode != "dry_run")
            .order_by(SyncRun.started_at.desc()).first())
    if last is None:
        return True
    # The schedule ticks every minute; a few seconds of slack keep "every 10 minutes" from slipping to 11.
    elapsed = (now or utcnow()) - last.started_at
    return elapsed >= datetime.timedelta(minutes=settings.interval_minutes) - datetime.timedelta(seconds=30)


def run_job(settings: Settings, full: bool = False):
    """Run one sync for the worker: failures are recorded in SyncRun and logged, never raised."""
    try:
        report = run_sync(settings, full=full)
    except SyncBusy:
        log.info("board mirror: another sync is running; skipped")
        return None
    except SyncError as err:
        log.warning("board mirror failed: %s", err)
        return None
    except Exception:
        log.exception("board mirror failed")
        return None
    log.info("board mirror: %s", report.summary_line())
    return report


@app_periodic_task(crontab(minute="*"))
def scheduled_sync():
    """Every minute, sync when the interval since the last run has passed."""
    settings = current_settings()
    if sync_due(settings):
        run_job(settings)


@app_task()
def sync_now(full: bool = False):
    """Run the sync a manager asked for on the "Board mirror" page."""
    run_job(current_settings(), full=full)


def request_sync(full: bool = False):
    """Queue a sync for the worker (the admin page's "sync now")."""
    return sync_now(full)
