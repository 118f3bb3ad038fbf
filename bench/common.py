"""What the list, home and bulk benchmarks share: the app on a benchmark database, logins, timing, SQL capture."""
import logging
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import data  # noqa: E402


def database_urls(scale: float, which: str, log=print) -> list[tuple[str, str]]:
    """Return [(label, url)] of the benchmark databases asked for ("sqlite", "postgres" or "both")."""
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="mustafeed-bench-"))
    urls = []
    if which in ("sqlite", "both"):
        urls.append(("SQLite", data.sqlite_database(scale, log=log)))
    if which in ("postgres", "both"):
        url = data.postgres_database(scale, log=log)
        if url is None:
            log("PostgreSQL: not available (scripts/postgres.sh start failed); skipped")
        else:
            urls.append(("PostgreSQL", url))
    return urls


def make_app(url: str, **config):
    """Create the real application on a benchmark database (CSRF off: the test client posts forms)."""
    from app import create_app
    from models import db
    from models.database import open_database
    if db.obj is not None and not db.is_closed():
        db.close()
    app = create_app({"DATABASE_URL": url, "WTF_CSRF_ENABLED": False, **config})
    open_database(url)
    return app


def login(app, role: str):
    """Return a test client logged in as the benchmark user of a role (admin, manager1, researcher1 …)."""
    username = role if role == "admin" else f"{role}1"
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": data.PASSWORD})
    assert response.status_code == 302, (username, response.status_code)
    return client


def get(client, url: str) -> tuple[float, int, bytes]:
    """GET a URL; return (seconds in the app, status, body)."""
    start = time.perf_counter()
    response = client.get(url)
    body = response.get_data()
    return time.perf_counter() - start, response.status_code, body


def stats(samples: list[float]) -> dict:
    """Return median and p95 (nearest rank) in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, int(round(0.95 * len(ordered))) - 1))]
    return {"median": statistics.median(ordered) * 1000, "p95": p95 * 1000}


def repeat(fn, times: int, warmup: int = 2) -> dict:
    """Run fn warmup + times times; return median and p95 of its wall time and of this process's CPU time.

    The CPU time (time.process_time) is the app's own work, SQLite's included (it runs in-process):
    on a machine shared with other work it stays close to what an idle machine's wall time would be,
    while the wall time also counts the waits for a core. PostgreSQL's work is in its server: not in it.
    """
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(times):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    cpu_stats = stats(cpus)
    return {**stats(walls), "cpu_median": cpu_stats["median"], "cpu_p95": cpu_stats["p95"]}


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements = []

    def emit(self, record):
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.statements.append(record.msg)


@contextmanager
def captured_sql():
    """Collect the (sql, params) of every statement peewee runs inside the block."""
    logger = logging.getLogger("peewee")
    handler = _Capture()
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def machine() -> str:
    """Describe the machine and the moment, for the results."""
    import platform
    import sqlite3
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"load average {load[0]:.2f} at {time.strftime('%Y-%m-%d %H:%M')}")


def table(header: list[str], rows: list[list]) -> str:
    """Return a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value) -> str:
    return "–" if value is None else f"{value:.1f}"
