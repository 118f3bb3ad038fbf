"""Several web processes (issue 9): SQLite writers at once, and what they share through a real Redis.

Each process is what a gunicorn worker is: its own create_app() on the same database file, its own
connections. They start together (a barrier) and write as fast as they can. Every acknowledged write
must be in the database, and no "database is locked" (nor any 5xx) may reach a user. With REDIS_URL the
rate limits are counted once for all processes, and the worker's queue is in Redis.
"""
import multiprocessing
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PASSWORD, free_port, make_beneficiary
from stdnum import luhn

from models import AuditLog, Beneficiary, db

PROCESSES = 4
CREATES = 12
EDITS = 6
ROLES = ("admin", "manager", "researcher", "volunteer")
MOBILE_PREFIXES = ("050", "053", "054", "055")


def _id_number(process: int, i: int) -> str:
    partial = f"1{process + 50:02d}{i:06d}"  # never 1000000008, the shared record's
    return partial + luhn.calc_check_digit(partial)


def _writer(process: int, database_url: str, instance_path: str, shared_id: int, barrier, results) -> None:
    """One web process: log in as its own user, then register beneficiaries and edit a shared one."""
    import os
    os.environ["INSTANCE_PATH"] = instance_path
    os.environ.pop("WEB_WORKERS", None)
    from app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.get("/lang/en")
    outcome = {"process": process, "created": [], "edits_saved": 0, "edits_refused": 0, "problems": []}
    login = client.post("/login", data={"username": ROLES[process], "password": PASSWORD})
    if login.status_code != 302:
        outcome["problems"].append(f"login {login.status_code}")
    barrier.wait()
    for i in range(CREATES):
        id_number = _id_number(process, i)
        response = client.post("/admin/beneficiary/new/", data={
            "full_name": f"مستفيد {process} {i}", "id_type": "national_id", "id_number": id_number,
            "nationality": "SA", "language": "ar", "gender": "male", "city": "بحرة", "district": "بحرة",
            "mobile": f"{MOBILE_PREFIXES[process]}{i:07d}"})
        body = response.get_data(as_text=True)
        if response.status_code == 302:
            outcome["created"].append(id_number)
        else:
            alerts = re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>|class="help-block[^"]*"[^>]*>(.*?)<', body, re.S)
            outcome["problems"].append(f"create {i}: {response.status_code} {alerts}")
        if "locked" in body or response.status_code >= 500:
            outcome["problems"].append(f"create {i}: {body[:300]}")
        if i < EDITS:
            # Everyone edits the same record from the version they just read: the database lets one of
            # two saves from the same version through and refuses the other, never both.
            url = f"/admin/beneficiary/edit/?id={shared_id}"
            page = client.get(url).get_data(as_text=True)
            version = re.search(r'name="loaded_version" type="hidden" value="(\d+)"', page).group(1)
            values = re.search(r'name="loaded_values" type="hidden" value="([^"]*)"', page).group(1)
            import html
            response = client.post(url, data={
                "full_name": "أحمد محمد", "id_type": "national_id", "id_number": "1000000008", "nationality": "SA",
                "language": "ar", "gender": "male", "mobile": "0501234567", "city": "بحرة", "district": "بحرة",
                "notes": f"process {process} edit {i}", "loaded_version": version,
                "loaded_values": html.unescape(values)})
            body = response.get_data(as_text=True)
            if response.status_code == 302:
                outcome["edits_saved"] += 1
            elif "after you opened it. Nothing was saved." in body:
                outcome["edits_refused"] += 1
            else:
                outcome["problems"].append(f"edit {i}: {response.status_code} {body[:300]}")
            if "locked" in body:
                outcome["problems"].append(f"edit {i}: locked")
    results.put(outcome)


def test_several_processes_write_at_once_and_every_write_lands(app, staff):
    """Issue 9: SQLite with WAL, BEGIN IMMEDIATE and a busy timeout under four writing processes."""
    shared = make_beneficiary()
    start_version = shared.version
    db.close()
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, like gunicorn's workers
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=_writer, args=(n, app.config["DATABASE_URL"], app.instance_path, shared.id,
                                                       barrier, results)) for n in range(PROCESSES)]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    db.connect(reuse_if_open=True)

    assert [o["problems"] for o in outcomes] == [[]] * PROCESSES
    acknowledged = sorted(n for o in outcomes for n in o["created"])
    assert len(acknowledged) == PROCESSES * CREATES
    stored = sorted(b.id_number for b in Beneficiary.select().where(Beneficiary.id != shared.id))
    assert stored == acknowledged
    assert AuditLog.select().where((AuditLog.action == "create") & (AuditLog.model == "Beneficiary")).count() \
        == PROCESSES * CREATES
    # Every edit was either saved (and counted in the version) or refused: none overwrote another silently.
    saved = sum(o["edits_saved"] for o in outcomes)
    assert saved + sum(o["edits_refused"] for o in outcomes) == PROCESSES * EDITS
    assert Beneficiary.get_by_id(shared.id).version == start_version + saved
    assert AuditLog.select().where((AuditLog.action == "update") & (AuditLog.record_id == shared.id)).count() == saved


# ---- what several processes share through Redis ----------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server (Debian's, installed if missing) on a free port, started by scripts/redis.sh."""
    port = free_port()
    env = {**os.environ, "REDIS_RUN_DIR": str(tmp_path / "redis")}
    started = subprocess.run(["bash", str(ROOT / "scripts" / "redis.sh"), "start", str(port)], env=env,
                             capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stderr
    yield started.stdout.strip().splitlines()[-1]
    subprocess.run(["bash", str(ROOT / "scripts" / "redis.sh"), "stop", str(port)], env=env, capture_output=True)


def _tracker(database_url: str, instance_path: str, redis_url: str, barrier, results) -> None:
    """One web process of two, posting the portal's tracking form three times from the same address."""
    os.environ.update(INSTANCE_PATH=instance_path, REDIS_URL=redis_url, WEB_WORKERS="2")
    os.environ.pop("RATELIMIT_STORAGE_URI", None)
    from app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
                      "PORTAL_TRACK_LIMIT": "3 per hour"})
    client = app.test_client()
    barrier.wait()
    results.put([client.post("/portal/track", data={"request_number": "REQ-2026-000001", "id_number": "1000000008",
                                                    "mobile": "4567"}).status_code for _ in range(3)])


def test_rate_limits_are_counted_once_for_every_process_through_redis(app, redis_url):
    """Issue 9: with REDIS_URL, two processes share one budget; counted apart each would allow three."""
    db.close()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_tracker, args=(app.config["DATABASE_URL"], app.instance_path, redis_url,
                                                        barrier, results)) for _ in range(2)]
    for p in processes:
        p.start()
    statuses = sorted(s for _ in processes for s in results.get(timeout=300))
    for p in processes:
        p.join(timeout=60)
    db.connect(reuse_if_open=True)
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_the_workers_queue_follows_redis_url(redis_url, monkeypatch):
    """REDIS_URL moves the huey queue to Redis (HUEY_REDIS_URL, the older name, still wins when set)."""
    from huey import RedisHuey

    from tasks.queue import make_huey
    monkeypatch.delenv("HUEY_REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    queue = make_huey()
    assert isinstance(queue, RedisHuey)
    queue.storage.flush_queue()
    queue.storage.enqueue(b"job")
    assert make_huey().storage.queue_size() == 1  # another process's view of the same queue
    queue.storage.flush_queue()


def test_several_workers_without_redis_refuse_to_start_and_say_why(app, monkeypatch):
    from app import create_app
    from config import ConfigurationError
    monkeypatch.setenv("WEB_WORKERS", "4")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    with pytest.raises(ConfigurationError, match="WEB_WORKERS=4 needs REDIS_URL"):
        create_app({"DATABASE_URL": app.config["DATABASE_URL"]})
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    shared = create_app({"DATABASE_URL": app.config["DATABASE_URL"]})
    assert shared.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
