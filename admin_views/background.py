"""Bulk actions handed to the background worker: when a selection is too long for one request, and how it is submitted.

Shared by the generic list actions (bulk_actions.BulkActionsMixin.apply_each) and the request list's confirmation pages;
the jobs' own screen (progress, outcome) is jobs.py.
"""
from flask import current_app, flash, redirect, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from services import jobs as svc
from services.errors import DomainError

from .posted import posted_when


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
                                                               "when": posted_when("scheduled_at")}),
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
