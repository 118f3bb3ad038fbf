"""The background worker: one huey queue for every job that must not run inside a web request.

Run it with `.venv/bin/huey_consumer worker.huey` (`make run` starts it beside gunicorn).
The queue is SQLite (HUEY_DB, default instance/huey.db) unless REDIS_URL (or HUEY_REDIS_URL) names a
Redis server.

Adding a job elsewhere: in your module, `from worker import app_task` (or `huey` for a plain task),
decorate the function, and add the module's name to TASK_MODULES below so the consumer imports it.
`app_task` / `app_periodic_task` run the function inside the Flask application context with the
database open, acting as the user "worker" in the audit log.
"""
import importlib
import logging
import os
import threading
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

from huey import RedisHuey, SqliteHuey, crontab

from models import current_actor, db
from services.files import close_umask

# Its queue, the board's workbook and the import files are personal data: the worker's own only (issue 15).
close_umask()

# Under "huey", so the consumer's log settings (-l, -v, -q) and format apply to these lines too.
log = logging.getLogger("huey.mustafeed")

# Modules holding more tasks (e.g. "sync.tasks"); imported at the end of this module.
TASK_MODULES: list[str] = ["sync.tasks", "services.job_tasks", "services.import_tasks"]


def _instance_path() -> Path:
    # The same rule as app.create_app, so the worker and the web server share the instance folder.
    return Path(os.environ.get("INSTANCE_PATH", Path(__file__).resolve().parent / "instance"))


def make_huey():
    """Return the queue named by the environment: Redis for HUEY_REDIS_URL or REDIS_URL, else SQLite in the instance folder."""
    # REDIS_URL is the store several web workers share (config.check_workers); HUEY_REDIS_URL, the older
    # name, still wins when both are set (a queue kept on another Redis database).
    url = os.environ.get("HUEY_REDIS_URL") or os.environ.get("REDIS_URL")
    if url:
        return RedisHuey("mustafeed", url=url)
    path = Path(os.environ.get("HUEY_DB") or _instance_path() / "huey.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("mustafeed", filename=str(path))


huey = make_huey()

_app = None
_app_lock = threading.Lock()


def flask_app():
    """Return this process's Flask application, created once with create_app() (settings from the environment)."""
    global _app
    with _app_lock:
        if _app is None:
            from app import create_app
            _app = create_app()
        return _app


@contextmanager
def app_context():
    """Run a block inside the application context with the database connected, acting as "worker"."""
    with flask_app().app_context():
        db.connect(reuse_if_open=True)
        token = current_actor.set("worker")
        try:
            yield
        finally:
            current_actor.reset(token)
            if not db.is_closed():
                db.close()


def _in_app(fn):
    @wraps(fn)
    def run(*args, **kwargs):
        with app_context():
            return fn(*args, **kwargs)
    return run


def app_task(**task_options):
    """Register a huey task that runs inside the application context (options as for huey.task)."""
    return lambda fn: huey.task(**task_options)(_in_app(fn))


def app_periodic_task(schedule, **task_options):
    """Register a periodic huey task (schedule: a huey crontab) that runs inside the application context."""
    return lambda fn: huey.periodic_task(schedule, **task_options)(_in_app(fn))


# ---- notifications (P6.4) ----------------------------------------------------------------------
_started = threading.Event()
_start_lock = threading.Lock()


@huey.on_startup()
def recover_and_sweep():
    """At worker start: messages cut off mid-send become unknown, then what is due goes out at once."""
    # Every worker thread calls the startup hooks; the first does the work, the others wait for it.
    with _start_lock:
        if _started.is_set():
            return
        from services import notifications
        with app_context():
            stuck = notifications.recover_interrupted()
        if stuck:
            log.warning("%s messages were interrupted while sending: marked unknown for staff to check", stuck)
        send_notifications()
        _started.set()


@app_periodic_task(crontab(minute="*"))
def send_notifications():
    """Send the messages due now (queued, and failed ones whose retry time has come)."""
    from services import notifications
    counts = notifications.send_due(settings=flask_app().config)
    if any(counts.values()):
        log.info("notifications: %s", ", ".join(f"{n} {outcome}" for outcome, n in counts.items()))


for _module in TASK_MODULES:
    importlib.import_module(_module)
