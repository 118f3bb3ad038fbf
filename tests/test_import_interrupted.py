"""A stuck import (issue 15, item 8): a commit killed with its worker writes nothing, and its batch does not
stay "importing" for ever. It is reconciled when the worker starts again and when the batch is opened, and
the user checks the file again and imports it."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from huey.storage import SqliteStorage

from models import AuditLog, Beneficiary, ImportBatch, ImportedRecord
from services import imports

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
import make_samples as samples  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 60  # seconds
ROWS = 6000


@pytest.fixture
def queue_file(monkeypatch, tmp_path):
    """Point the web side's queue at this test's own file (the worker below is started on the same one)."""
    from tasks.queue import huey
    path = tmp_path / "huey.db"
    monkeypatch.setattr(huey, "storage", SqliteStorage(name=huey.name, filename=str(path)))
    return path


@pytest.fixture
def start_worker(app, tmp_path, queue_file):
    """Return a function starting huey_consumer as its own process on the test's database and queue file."""
    processes = []
    env = {**os.environ, "INSTANCE_PATH": app.instance_path, "DATABASE_URL": app.config["DATABASE_URL"],
           "HUEY_DB": str(queue_file), "SMTP_HOST": "", "SMS_GATEWAY_URL": ""}
    env.pop("HUEY_REDIS_URL", None)
    env.pop("REDIS_URL", None)

    def start():
        log = open(tmp_path / f"worker-{len(processes)}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "worker.huey", "-w", "1", "-d", "0.05", "-m", "0.2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def worker_logs(tmp_path) -> str:
    return "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker-*.log")))


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["الاسم", "رقم الهوية", "الجنسية"])
        writer.writerows([f"مستفيد {i}", samples.national_id(700000 + i, "2"), "يمني"] for i in range(ROWS))
    return path


def nothing_written() -> bool:
    return (Beneficiary.select().count(), ImportedRecord.select().count(),
            AuditLog.select().where(AuditLog.action == "import").count()) == (0, 0, 0)


@pytest.fixture
def killed_mid_commit(app, client, login_as, big_file, start_worker, tmp_path):
    """A batch whose commit the background worker was running when the worker was killed (SIGKILL)."""
    app.config["IMPORT_BACKGROUND_ROWS"] = 1
    client.get("/lang/en")
    manager = login_as("manager")
    batch = imports.create_batch(big_file, "big.csv", app.config["IMPORT_DIR"], manager)
    imports.analyse(batch, manager)  # the preview here; the worker is killed in the commit
    client.post(f"/admin/imports/{batch.id}/commit")  # queued for the worker
    process = start_worker()
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        seen = client.get(f"/admin/imports/{batch.id}/progress").get_json()
        # Well inside the commit: rows written in its transaction, half of them still to come.
        if seen["status"] == "importing" and 1000 <= seen["processed"] <= ROWS // 2:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the worker never got into the commit; progress {seen}; log:\n{worker_logs(tmp_path)}")
    process.kill()
    process.wait()
    assert ImportBatch.get_by_id(batch.id).status == "importing"  # what it said for ever before
    return batch


def test_a_commit_killed_with_its_worker_writes_nothing_and_says_so_when_opened(app, client, killed_mid_commit):
    assert nothing_written()
    page = client.get(f"/admin/imports/{killed_mid_commit.id}/").get_data(as_text=True)
    assert "Interrupted before the end" in page and "Nothing was written" in page
    assert "Check the rows again" in page and 'data-running="1"' not in page
    batch = ImportBatch.get_by_id(killed_mid_commit.id)
    assert (batch.status, batch.error) == ("failed", "interrupted")
    listed = client.get("/admin/imports/").get_data(as_text=True)
    assert f"<td>{ROWS}</td>" not in listed  # the list no longer shows the preview's counts as written


def test_the_user_tries_again_after_an_interrupted_commit(app, client, killed_mid_commit):
    client.get(f"/admin/imports/{killed_mid_commit.id}/")
    app.config["IMPORT_BACKGROUND_ROWS"] = 0  # this time in the web process
    client.post(f"/admin/imports/{killed_mid_commit.id}/mapping/save")  # "Check the rows again"
    assert ImportBatch.get_by_id(killed_mid_commit.id).status == "ready"
    result = client.post(f"/admin/imports/{killed_mid_commit.id}/commit", follow_redirects=True)
    assert "Result" in result.get_data(as_text=True)
    assert ImportBatch.get_by_id(killed_mid_commit.id).status == "done" and Beneficiary.select().count() == ROWS


def test_the_restarted_worker_reconciles_a_commit_killed_mid_way(killed_mid_commit, start_worker, tmp_path):
    start_worker()
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end and ImportBatch.get_by_id(killed_mid_commit.id).status == "importing":
        time.sleep(0.1)
    batch = ImportBatch.get_by_id(killed_mid_commit.id)
    assert (batch.status, batch.error) == ("failed", "interrupted"), worker_logs(tmp_path)
    assert nothing_written()
    assert AuditLog.select().where((AuditLog.model == "ImportBatch") & (AuditLog.record_id == batch.id)
                                   & AuditLog.details.contains("interrupted")).count() == 1
