"""The "Board mirror" page: the last runs of the Google Sheet / board.xlsx sync, and "sync now"."""
import json
import logging
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, send_file
from flask_admin import expose
from flask_babel import gettext

from models import SyncRun, db
from services import audit
from sync import settings_from_config
from sync.rows import SUMMARY_KEY, SUMMARY_TITLE, TABLES
from tasks.sync import request_sync

from .base import SecureView

log = logging.getLogger(__name__)

TAB_TITLES = {**{t.key: t.title for t in TABLES}, SUMMARY_KEY: SUMMARY_TITLE}


def _message(pair) -> str:
    """Translate a stored [msgid, params] pair."""
    if not pair:
        return ""
    message, params = pair
    return gettext(message, **params) if params else gettext(message)


class BoardMirrorView(SecureView):
    capability = "sync.manage"

    def _settings(self):
        return settings_from_config(current_app.config, current_app.instance_path)

    @expose("/")
    def index(self):
        settings = self._settings()
        runs = []
        for run in SyncRun.select().order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(10):
            runs.append({
                "run": run,
                "rows": [(gettext(TAB_TITLES.get(k, k)), n) for k, n in json.loads(run.rows or "{}").items()],
                "warnings": [_message(w) for w in json.loads(run.warnings or "[]")],
                "error": _message(json.loads(run.error)) if run.error else "",
            })
        xlsx = Path(settings.xlsx_path)
        return self.render("admin/board_mirror.html", runs=runs, settings=settings,
                           xlsx_exists=not settings.uses_sheets and xlsx.exists())

    @expose("/sync", methods=["POST"])
    def sync_now(self):
        full = request.form.get("full") == "1"
        try:
            request_sync(full)
        except Exception:  # the queue is down: say so rather than a 500
            log.exception("could not queue the board mirror sync")
            flash(gettext("The sync could not be queued: the background worker is not reachable."), "error")
            return redirect(self.get_url(".index"))
        with db.atomic():
            audit.record("sheets_sync_requested", model="SyncRun", details={"full": full})
        flash(gettext("The sync was queued; this page shows it when it has run."), "success")
        return redirect(self.get_url(".index"))

    @expose("/board.xlsx")
    def download(self):
        settings = self._settings()
        path = Path(settings.xlsx_path)
        if settings.uses_sheets or not path.exists():
            abort(404)
        with db.atomic():
            audit.record("export", model="SyncRun", details={"file": path.name})
        return send_file(path.resolve(), as_attachment=True, download_name="board.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
