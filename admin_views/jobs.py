"""Background jobs: bulk actions beyond BULK_BACKGROUND_THRESHOLD rows (background.py submits them), their progress."""
from flask import abort, jsonify, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user

from models import BackgroundJob, User
from models.job import JOB_STATUSES
from services import jobs as svc
from web.filters import choice_label

from .base import SecureView

# Every role that can start a bulk action edits requests; the board starts none.
READ_CAPABILITY = "requests.edit"
RECENT = 50
# Refused rows listed on the progress page; all of them are in the summary audit entry.
REFUSED_SHOWN = 500


class JobsView(SecureView):
    """The background jobs a user started (all of them for whoever reads the audit log)."""

    capability = READ_CAPABILITY

    def _load(self, id: int) -> BackgroundJob:
        job = BackgroundJob.get_or_none(BackgroundJob.id == id)
        if job is None:
            abort(404)
        # Someone else's job is forbidden, not missing, as rows outside a role's scope are.
        if not svc.visible_jobs(BackgroundJob.select().where(BackgroundJob.id == id), current_user).exists():
            abort(403)
        return job

    def _describe(self, job: BackgroundJob) -> dict:
        spec = svc.kind_of(job)
        return {"job": job, "label": gettext(spec.label) if spec else job.kind,
                "status": choice_label(JOB_STATUSES, job.status),
                "percent": int(100 * job.processed / job.total) if job.total else 100,
                "running": job.status in ("queued", "running")}

    @expose("/")
    def index(self):
        query = (BackgroundJob.select(BackgroundJob, User).join(User, on=(BackgroundJob.requested_by == User.id))
                 .order_by(BackgroundJob.id.desc()).limit(RECENT))
        return self.render("admin/jobs.html", jobs=[self._describe(j) for j in svc.visible_jobs(query, current_user)])

    @expose("/<int:id>/")
    def details(self, id):
        job = self._load(id)
        return self.render("admin/job_details.html", **self._describe(job), refused=self._refused(job))

    @expose("/<int:id>/progress")
    def progress(self, id):
        """Answer the progress page's script: how far the job got."""
        job = self._load(id)
        info = self._describe(job)
        return jsonify(status=job.status, status_label=info["status"], processed=job.processed, total=job.total,
                       done=job.done_count, refused=job.refused_count, percent=info["percent"],
                       running=info["running"])

    def _refused(self, job: BackgroundJob) -> list[dict]:
        """Return the first refused rows: label, link to the record, reason in the viewer's language."""
        spec = svc.kind_of(job)
        shown = list(svc.refusals(job.id).limit(REFUSED_SHOWN).tuples())
        if spec is None or not shown:
            return []
        pk = spec.model._meta.primary_key
        rows = {row.get_id(): row for row in spec.model.select().where(pk.in_([row_id for row_id, _r in shown]))}
        screen = next((v for v in self.admin._views if getattr(v, "model", None) is spec.model), None)
        refused = []
        for row_id, raw in shown:
            message, params = svc.reason(raw)
            row = rows.get(row_id)
            refused.append({
                "id": row_id, "label": str(row) if row is not None else f"#{row_id}",
                "url": url_for(f"{screen.endpoint}.details_view", id=row_id) if row is not None and screen else None,
                "reason": gettext(message, **params) if params else gettext(message)})
        return refused
