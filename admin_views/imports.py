"""Import from Excel: upload → column mapping → preview (dry run) → confirm → result with the rejected rows."""
import logging
from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, request, send_file
from flask_admin import expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models import ImportBatch, User
from models.import_batch import IMPORT_STATUSES
from services import import_progress
from services import imports as svc
from services.errors import DomainError
from services.import_columns import IGNORED, blocking, column_letter
from services.import_values import COLUMNS, FIELD_LABELS
from tasks.imports import run_import
from web.filters import choice_label

from .base import SecureModelView, SecureView

log = logging.getLogger(__name__)

CAPABILITY = "import"
RECENT = 30
KIND_LABELS = {"beneficiaries": _l("Beneficiaries"), "requests": _l("Past requests"), "": _l("Do not import")}


class ImportView(SecureView):
    """The import screen for managers and administrators (capability "import")."""

    capability = CAPABILITY

    def _batch(self, id: int) -> ImportBatch:
        batch = ImportBatch.get_or_none(ImportBatch.id == id)
        if batch is None:
            abort(404)
        # A dry run or commit whose process was killed says so here, instead of running for ever.
        return import_progress.reconcile(batch)

    def _actor(self) -> User:
        return current_user._get_current_object()

    def _background(self, batch: ImportBatch) -> bool:
        threshold = current_app.config.get("IMPORT_BACKGROUND_ROWS") or 0
        return bool(threshold) and batch.total_rows > threshold

    def _run(self, batch: ImportBatch, step: str):
        """Run the dry run or the commit here, or hand it to the worker when the file is large."""
        if self._background(batch):
            import_progress.queue(batch, "analysing" if step == "analyse" else "importing")
            try:
                run_import(batch.id, step)
            except Exception:
                log.exception("import %s could not be queued", batch.id)
                ImportBatch.update(status="failed", error=import_progress.QUEUE_LOST).where(
                    ImportBatch.id == batch.id).execute()
                import_progress.clear(batch)
                flash(gettext("The background worker could not be reached. Try again in a moment."), "error")
                return
            flash(gettext("%(num)s rows: this runs in the background; follow it here.", num=batch.total_rows), "info")
            return
        run = svc.analyse if step == "analyse" else svc.commit
        try:
            run(batch, self._actor(), gettext, current_app.config["IMPORT_DEFAULT_CHANNEL"])
        except DomainError as err:
            flash(err.translate(gettext), "error")
        except Exception:
            log.exception("import %s failed", batch.id)
            flash(gettext("The import stopped because of an unexpected error. Nothing was written."), "error")

    # ---- pages ------------------------------------------------------------------------------------------
    @expose("/")
    def index(self):
        batches = [import_progress.reconcile(b) for b in ImportBatch.select().order_by(ImportBatch.id.desc())
                   .limit(RECENT)]
        return self.render("admin/import_index.html", batches=batches, status=self._status,
                           max_mb=current_app.config["IMPORT_MAX_BYTES"] // (1024 * 1024))

    def _status(self, batch: ImportBatch) -> str:
        return choice_label(IMPORT_STATUSES, batch.status)

    @expose("/upload", methods=["POST"])
    def upload(self):
        """Keep the uploaded file, map its columns, and show the mapping."""
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(gettext("Choose the file to import."), "error")
            return redirect(self.get_url(".index"))
        try:
            batch = svc.create_batch(upload.stream, upload.filename, current_app.config["IMPORT_DIR"], self._actor())
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return redirect(self.get_url(".index"))
        return redirect(self.get_url(".mapping", id=batch.id))

    @expose("/<int:id>/mapping")
    def mapping(self, id):
        batch = self._batch(id)
        fields = {kind: [("", gettext("— Choose a field, or ignore the column —")),
                         (IGNORED, gettext("Ignore this column"))]
                  + [(f, gettext(FIELD_LABELS[f])) for f in columns] for kind, columns in COLUMNS.items()}
        report = svc.report_of(batch) or {}
        # What the last check found in the columns nobody decided on: {(sheet, index): column}.
        found = {(c["sheet"], c["index"]): c for c in report.get("columns", [])}
        return self.render("admin/import_mapping.html", batch=batch, sheets=svc.sheets_of(batch), fields=fields,
                           kinds=[(k, str(v)) for k, v in KIND_LABELS.items()], found=found,
                           letter=column_letter,
                           missing=[(sheet, gettext(FIELD_LABELS[f])) for sheet, f in svc.missing_required(batch)])

    @expose("/<int:id>/mapping/save", methods=["POST"])
    def save_mapping(self, id):
        """Store the mapping chosen by hand (remembered for the same header row), then run the dry run."""
        batch = self._batch(id)
        try:
            for index, (name, sheet) in enumerate(svc.sheets_of(batch).items()):
                if f"kind-{index}" not in request.form:
                    continue
                mapping = [request.form.get(f"col-{index}-{i}", "") for i in range(len(sheet["headers"]))]
                svc.set_mapping(batch, name, request.form.get(f"kind-{index}", ""), mapping, self._actor())
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return redirect(self.get_url(".mapping", id=id))
        missing = svc.missing_required(batch)
        if missing:
            flash(gettext("Sheet %(sheet)s has no column for: %(fields)s.", sheet=missing[0][0],
                          fields=", ".join(gettext(FIELD_LABELS[f]) for s, f in missing if s == missing[0][0])),
                  "error")
            return redirect(self.get_url(".mapping", id=id))
        if batch.status == "done":
            flash(gettext("This import has already been written."), "error")
        elif batch.status in import_progress.RUNNING:
            flash(gettext("This file is being checked or imported: wait for the result."), "error")
        else:
            self._run(batch, "analyse")
        return redirect(self.get_url(".details", id=id))

    @expose("/<int:id>/")
    def details(self, id):
        batch = self._batch(id)
        report = svc.report_of(batch)
        running = batch.status in import_progress.RUNNING
        done = import_progress.progress(batch) if running else {"processed": batch.processed_rows,
                                                               "total": batch.total_rows}
        columns = (report or {}).get("columns", [])
        return self.render("admin/import_details.html", batch=batch, report=report, running=running,
                           status=self._status(batch), progress=done, percent=self._percent(done),
                           translate=self._translate, kinds=KIND_LABELS, columns=columns,
                           undecided=blocking(columns), error=self._error(batch))

    @staticmethod
    def _error(batch: ImportBatch) -> str:
        """Return why the batch failed, in the user's language (a code the service stored, or its message)."""
        message = import_progress.ERRORS.get(batch.error or "")
        return gettext(message) if message else (batch.error or "")

    @staticmethod
    def _percent(done: dict) -> int:
        return min(100, int(100 * done["processed"] / done["total"])) if done.get("total") else 0

    @staticmethod
    def _translate(message: str, params: dict | None = None) -> str:
        return gettext(message, **params) if params else gettext(message)

    @expose("/<int:id>/progress")
    def progress(self, id):
        """Answer the progress script (js/mustafeed-jobs.js): how far the dry run or commit got."""
        batch = self._batch(id)
        running = batch.status in import_progress.RUNNING
        done = import_progress.progress(batch) if running else {"processed": batch.processed_rows,
                                                               "total": batch.total_rows}
        # Rows written are known once the commit is: before that the counts are the preview's.
        written = batch.created_count + batch.updated_count if batch.status == "done" else 0
        return jsonify(status=batch.status, status_label=self._status(batch), processed=done["processed"],
                       total=done["total"], done=written, refused=batch.rejected_count if batch.status == "done" else 0,
                       percent=self._percent(done), running=running)

    @expose("/<int:id>/commit", methods=["POST"])
    def commit(self, id):
        """Write the valid rows in one transaction, after the preview was confirmed."""
        batch = self._batch(id)
        if batch.status != "ready":
            flash(gettext("Check the file first: the preview must be ready before importing."), "error")
            return redirect(self.get_url(".details", id=id))
        undecided = svc.undecided_with_values(batch)
        if undecided:
            flash(svc.UnmappedColumns(undecided).translate(gettext), "error")
            return redirect(self.get_url(".mapping", id=id))
        self._run(batch, "commit")
        return redirect(self.get_url(".details", id=id))

    @expose("/<int:id>/rejected.xlsx")
    def rejected(self, id):
        """Download the rejected rows with their error column, to fix and import again."""
        batch = self._batch(id)
        if not batch.rejected_path or not Path(batch.rejected_path).exists():
            abort(404)
        from services import audit
        audit.record("download", batch, details={"file": "rejected rows", "rows": batch.rejected_count})
        name = f"{Path(batch.file_name).stem}-rejected.xlsx"
        return send_file(batch.rejected_path, as_attachment=True, download_name=name,
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


class DemonymView(SecureModelView):
    """Settings → Nationality names: written forms of nationalities an import reads (سعودي، Filipino …)."""

    read_capability = CAPABILITY
    create_capability = CAPABILITY
    edit_capability = CAPABILITY
    delete_capability = "delete"
    column_list = ("text", "country")
    column_searchable_list = ()
    form_columns = ("text", "country")
    column_labels = {"text": _l("Written as"), "country": _l("Country code")}
    column_default_sort = "text"

    def search_clause(self, term: str):
        from models import Demonym
        return (Demonym.key.contains(term)) | (Demonym.country == term.upper())

    def validate_model(self, model, is_created: bool) -> None:
        svc.validate_demonym(model)
