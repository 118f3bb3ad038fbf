"""The queue every background task is registered on, and the application context tasks run in.

Tasks import this module, never the program that starts the worker (as indico's `core/celery`): the
program gives the application factory with use_app(create_app) and imports the task modules.

The queue is SQLite (HUEY_DB, default instance/huey.db) unless REDIS_URL (or HUEY_REDIS_URL) names a
Redis server. `app_task` / `app_periodic_task` run the function inside the Flask application context with
the database open, acting as the user "worker" in the audit log.
"""
import os
import threading
from collections.abc import Callable
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey

from models import current_actor, db
from services.files import close_umask

# Its queue, the board's workbook and the import files are personal data: the worker's own only (issue 15).
close_umask()

ROOT = Path(__file__).resolve().parent.parent


def _instance_path() -> Path:
    # The same rule as app.create_app, so the worker and the web server share the instance folder.
    return Path(os.environ.get("INSTANCE_PATH", ROOT / "instance"))


def make_huey():
    """Return the queue the environment names: Redis (HUEY_REDIS_URL or REDIS_URL), else SQLite in instance/."""
    # REDIS_URL is the store several web workers share (config.check_workers); HUEY_REDIS_URL, the older
    # name, still wins when both are set (a queue kept on another Redis database).
    url = os.environ.get("HUEY_REDIS_URL") or os.environ.get("REDIS_URL")
    if url:
        return RedisHuey("mustafeed", url=url)
    path = Path(os.environ.get("HUEY_DB") or _instance_path() / "huey.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("mustafeed", filename=str(path))


class Queue(Huey):
    """The process's queue: tasks register on it when imported, its store opens on first use (make_huey).

    So importing a task (a screen does) opens nothing, and the store is the one the environment names when the
    program first hands work over or consumes it, not when the module happened to be imported.
    """

    _storage = None
    _storage_lock = threading.Lock()

    def create_storage(self):
        if self._immediate and self.immediate_use_memory:
            return self.get_immediate_storage()
        return None

    @property
    def storage(self):
        with self._storage_lock:
            if self._storage is None:
                self._storage = make_huey().storage
            return self._storage

    @storage.setter
    def storage(self, value):
        self._storage = value


huey = Queue("mustafeed")

_factory: Callable | None = None
_app = None
_app_lock = threading.Lock()


def use_app(factory: Callable) -> None:
    """Set the application factory the tasks' application is made with (called by the program starting the worker)."""
    global _factory
    _factory = factory


def flask_app():
    """Return this process's Flask application, made once by the factory given to use_app()."""
    global _app
    with _app_lock:
        if _app is None:
            if _factory is None:
                raise RuntimeError("no application factory: the program running tasks calls tasks.queue.use_app()")
            _app = _factory()
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
