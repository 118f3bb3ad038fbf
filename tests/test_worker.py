"""The real background worker (huey_consumer worker.huey) sends the outbox through a real SMTP server (P6.4)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_beneficiary, make_request

from models import Notification
from services import notifications

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 20  # seconds


@pytest.fixture
def email_settings(app, smtp_server):
    recorder, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False, MAIL_FROM="noreply@example.org")
    return recorder, port


@pytest.fixture
def start_worker(app, tmp_path, email_settings):
    """Return a function starting the consumer as its own process on the test's database and queue."""
    _recorder, port = email_settings
    processes = []
    env = {**os.environ, "INSTANCE_PATH": app.instance_path, "DATABASE_URL": app.config["DATABASE_URL"],
           "HUEY_DB": str(tmp_path / "huey.db"), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
           "SMTP_STARTTLS": "0", "MAIL_FROM": "noreply@example.org", "SMS_GATEWAY_URL": ""}
    env.pop("HUEY_REDIS_URL", None)
    env.pop("REDIS_URL", None)

    def start():
        log = open(tmp_path / "worker.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "worker.huey", "-w", "1", "-d", "0.05", "-m", "0.2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append((process, log))
        return process

    yield start
    for process, log in processes:
        process.send_signal(signal.SIGINT)  # huey's graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_for_status(notification_id: int, status: str, log_path: Path) -> Notification:
    """Poll the database until the message reaches the status, or fail with the worker's log."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        row = Notification.get_by_id(notification_id)
        if row.status == status:
            return row
        time.sleep(0.1)
    pytest.fail(f"message {notification_id} is {row.status}, not {status}, after {DEADLINE} s; worker log:\n"
                + log_path.read_text())


@pytest.fixture
def arabic_request(service):
    b = make_beneficiary(mobile=None, email="ahmad@example.org")
    return make_request(b, service, status="submitted")


def test_worker_sends_the_queued_arabic_email(tmp_path, arabic_request, email_settings, start_worker):
    """A message queued while the worker was down goes out when it starts, in UTF-8 Arabic, to the right address."""
    recorder, _port = email_settings
    queued = notifications.notify(arabic_request.beneficiary, "submission_receipt", request=arabic_request)
    assert queued.channel == "email"
    start_worker()
    sent = wait_for_status(queued.id, "sent", tmp_path / "worker.log")
    assert sent.attempts == 1 and sent.sent_at is not None
    (recipients, message), = recorder.messages
    assert recipients == ["ahmad@example.org"]
    assert message["To"] == "ahmad@example.org"
    assert message["Subject"] == f"تم استلام طلبك رقم {arabic_request.number}"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().startswith("السلام عليكم أحمد محمد")
    assert "جمعية الدعوة والإرشاد" in message["From"]


def test_other_processes_enqueue_a_sweep_on_the_running_worker(tmp_path, monkeypatch, arabic_request, start_worker):
    """Any process may hand work to the worker through the shared queue (`tasks.queue.huey`)."""
    from huey.storage import SqliteStorage

    from tasks import notifications as notification_tasks
    from tasks.queue import huey
    first = notifications.notify(arabic_request.beneficiary, "submission_receipt", request=arabic_request)
    start_worker()
    wait_for_status(first.id, "sent", tmp_path / "worker.log")  # the start-up sweep is over
    queued = notifications.notify(arabic_request.beneficiary, "decision", request=arabic_request)
    # This test process and the worker must share the queue file the worker was started on.
    monkeypatch.setattr(huey, "storage", SqliteStorage(name=huey.name, filename=str(tmp_path / "huey.db")))
    notification_tasks.send_notifications()
    wait_for_status(queued.id, "sent", tmp_path / "worker.log")


def test_message_cut_off_mid_send_becomes_unknown_at_worker_start(tmp_path, arabic_request, email_settings,
                                                                  start_worker):
    """A crash mid-call leaves `sending`: the restarted worker never resends it blindly."""
    recorder, _port = email_settings
    interrupted = notifications.notify(arabic_request.beneficiary, "decision", request=arabic_request)
    Notification.update(status="sending", attempts=1).where(Notification.id == interrupted.id).execute()
    waiting = notifications.notify(arabic_request.beneficiary, "submission_receipt", request=arabic_request)
    start_worker()
    wait_for_status(waiting.id, "sent", tmp_path / "worker.log")
    row = Notification.get_by_id(interrupted.id)
    assert row.status == "unknown" and "interrupted" in row.last_error
    assert [m["Subject"] for _to, m in recorder.messages] == [f"تم استلام طلبك رقم {arabic_request.number}"]
