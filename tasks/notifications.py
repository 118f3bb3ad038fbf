"""The outbox (services.notifications, P6.4) in the worker: recovery at start, then a send every minute."""
import logging
import threading

from huey import crontab

from services import notifications

from .queue import app_context, app_periodic_task, flask_app, huey

# Under "huey", so the consumer's log settings (-l, -v, -q) and format apply to these lines too.
log = logging.getLogger("huey.mustafeed")

_started = threading.Event()
_start_lock = threading.Lock()


@huey.on_startup()
def recover_and_sweep():
    """At worker start: messages cut off mid-send become unknown, then what is due goes out at once."""
    # Every worker thread calls the startup hooks; the first does the work, the others wait for it.
    with _start_lock:
        if _started.is_set():
            return
        with app_context():
            stuck = notifications.recover_interrupted()
        if stuck:
            log.warning("%s messages were interrupted while sending: marked unknown for staff to check", stuck)
        send_notifications()
        _started.set()


@app_periodic_task(crontab(minute="*"))
def send_notifications():
    """Send the messages due now (queued, and failed ones whose retry time has come)."""
    counts = notifications.send_due(settings=flask_app().config)
    if any(counts.values()):
        log.info("notifications: %s", ", ".join(f"{n} {outcome}" for outcome, n in counts.items()))
