"""Imports (services.imports) in the background worker, for files beyond IMPORT_BACKGROUND_ROWS rows.

Not a services.jobs kind: a job applies each row in its own transaction, while an import's dry run
must hold no write lock for its whole length and its commit must be one transaction.
"""
import logging

from flask_babel import force_locale, gettext

from models import ImportBatch, current_actor
from services import import_progress, imports

from .queue import app_context, app_task, flask_app, huey

log = logging.getLogger("huey.mustafeed.imports")
STEPS = {"analyse": "analysing", "commit": "importing"}


@huey.on_startup()
def reconcile_interrupted_imports():
    """At worker start: a dry run or commit whose process was killed is marked interrupted (nothing was written)."""
    with app_context():
        stopped = import_progress.reconcile_all()
    if stopped:
        log.warning("%s imports were interrupted by a stopped process: marked failed, to be checked again", stopped)


@app_task()
def run_import(batch_id: int, step: str):
    """Run a batch's dry run ("analyse") or commit ("commit") as the user who asked for it."""
    batch = ImportBatch.get_or_none(ImportBatch.id == batch_id)
    if batch is None or batch.requested_by is None:
        return
    if batch.status != STEPS[step]:
        # Reconciled meanwhile (the queue was taken for lost) or already run: the user starts it again.
        log.warning("import %s (%s) skipped: its status is %s", batch_id, step, batch.status)
        return
    actor = batch.requested_by
    token = current_actor.set(actor.username)
    try:
        run = imports.analyse if step == "analyse" else imports.commit
        config = flask_app().config
        # Messages in the default language (Arabic), as the user would read them on screen.
        with force_locale(config["BABEL_DEFAULT_LOCALE"]):
            run(batch, actor, gettext, config["IMPORT_DEFAULT_CHANNEL"])
    except Exception:
        # The batch is marked failed with the reason; the import page shows it.
        log.exception("import %s (%s) failed", batch_id, step)
    finally:
        current_actor.reset(token)
