"""Background jobs: bulk actions beyond BULK_BACKGROUND_THRESHOLD rows, their progress and outcome."""
from flask import abort, current_app, flash, jsonify, redirect, url_for
from flask_admin import expose
from flask_babel import gettext, ngettext
from flask_login import current_user

from models import BackgroundJob, User
from models.job import JOB_STATUSES
from services import jobs as svc
from services.errors import DomainError
from web.filters import choice_label

from .base import SecureView
from .request_workflow import _when

# Every role that can start a bulk action edits requests; the board starts none.
READ_CAPABILITY = "requests.edit"
RECENT = 50
# Refused rows listed on the progress page; all of them are in the summary audit entry.
REFUSED_SHOWN = 500


def over_threshold(count: int) -> bool:
    """Return whether a bulk action on this many rows goes to the background worker."""
    threshold = current_app.config.get("BULK_BACKGROUND_THRESHOLD") or 0
    return bool(threshold) and count > threshold


def submit_and_follow(kind: str, params: dict, ids, back_url: str):
    """Hand a bulk action to the worker and answer with its progress page; a refusal goes back to the list."""
    try:
        job = svc.submit(kind, params, [int(i) for i in ids if str(i).isdigit()], current_user._get_current_object())
    except DomainError as err:
        flash(err.translate(gettext), "error")
        return redirect(back_url)
    flash(ngettext("%(num)s row: this runs in the background; follow it here.",
                   "%(num)s rows: this runs in the background; follow it here.", job.total), "info")
    return redirect(url_for("jobs.details", id=job.id))


def _notify_params(form) -> dict:
    # Checked with the rest of the selection when the job is submitted (services.bulk.check_notify).
    return {"message": form.get("message")}


# The request list's confirmation pages (admin/bulk_*.html): posted kind → job kind and its fields.
REQUEST_JOBS = {
    "assign": ("ServiceRequest.assign_researcher", lambda form: {"researcher": form.get("researcher", type=int)}),
    "status": ("ServiceRequest.change_status", lambda form: {"target": form.get("status", ""),
                                                             "note": form.get("note")}),
    "visits": ("ServiceRequest.schedule_visits", lambda form: {"method": form.get("method", ""),
                                                               "when": _when("scheduled_at")}),
    "decide": ("ServiceRequest.decide", lambda form: {"decision": form.get("decision", ""),
                                                      "reason": form.get("reason")}),
    "notify": ("ServiceRequest.send_notification", _notify_params),
}


def submit_request_job(kind: str, form, ids, selection: dict, back_url: str):
    """Submit a confirmed bulk action of the request list as a background job."""
    if kind not in REQUEST_JOBS:
        flash(gettext("Unknown action."), "error")
        return redirect(back_url)
    job_kind, read_fields = REQUEST_JOBS[kind]
    try:
        params = read_fields(form)
    except DomainError as err:
        flash(err.translate(gettext), "error")
        return redirect(back_url)
    return submit_and_follow(job_kind, {**params, "selection": selection}, ids, back_url)


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
