"""Bulk actions in the background worker: stored with their rows, applied row by row, resumable, audited.

A bulk action on more rows than BULK_BACKGROUND_THRESHOLD is not applied in the web request:
submit() stores it as a BackgroundJob with one BackgroundJobRow per chosen id and hands it to the
worker; run() applies it. Each row is claimed (pending → done) in the same transaction that applies
it, so a crash undoes both and a second runner (the sweep, a retried task) skips what is done: no
row is ever applied twice, and running the job again continues where it stopped. The job acts as
the user who asked for it: their role and row scope are checked for every row, and the audit rows
carry their username. One summary "bulk" audit row, like the synchronous path's, ends the job.
"""
import datetime
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from peewee import InterfaceError, OperationalError, fn

from models import (
    ALL_MODELS,
    BackgroundJob,
    BackgroundJobRow,
    Document,
    Notification,
    ServiceRequest,
    User,
    current_actor,
    db,
    utcnow,
)
from models.choices import VISIT_METHODS, codes

from . import audit, bulk, documents, eligibility, notifications, records, signals
from .errors import N_, DomainError, PermissionDenied, ValidationError
from .roles import can
from .scopes import visible_documents, visible_notifications, visible_requests

log = logging.getLogger(__name__)

# Rows applied between two progress writes: small enough for a lively progress bar, large
# enough that counting the rows after each chunk costs little next to applying them.
CHUNK_SIZE = 100
# A queued job the queue has not delivered after this long is started by the sweep.
QUEUE_GRACE = datetime.timedelta(minutes=1)
# A running job whose progress has not moved for this long lost its worker; the sweep resumes it.
STALE_AFTER = datetime.timedelta(minutes=5)
# Whoever reads the audit log sees what every job did anyway, so they see every job.
SEE_ALL = "audit.read"


@dataclass(frozen=True)
class Context:
    """What one row's function gets besides the row: who acts, the action's fields, the settings."""

    actor: User
    params: dict
    settings: Mapping = field(default_factory=dict)


def _all_rows(query, actor):
    return query


def _no_check(actor: User, params: dict) -> None:
    return None


@dataclass(frozen=True)
class JobKind:
    """A bulk action the worker can run: the rows it applies to, and how to apply it to one."""

    model: type
    action: str                       # the action's name in the summary audit row, as the web path writes it
    label: str                        # msgid shown in the job list (the action's menu label)
    capability: str                   # checked for the whole job and again for every row
    apply: Callable                   # (row, Context) -> None; raise DomainError to refuse the row
    check: Callable = _no_check       # (actor, params) -> None; the whole selection's checks
    scope: Callable = _all_rows       # (query, actor) -> the rows the actor may act on
    summary: tuple = ()               # params copied into the summary audit row


def _when(params: dict) -> datetime.datetime | None:
    value = params.get("when")
    try:
        return datetime.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _check_visits(actor, params):
    bulk.check_visits(_when(params))
    if params.get("method") not in codes(VISIT_METHODS):
        raise ValidationError(N_("Choose the verification method."), field="method")


def _check_decide(actor, params):
    bulk.check_decide(params.get("decision"), params.get("reason"), actor)


def _check_notify(actor, params):
    bulk.check_notify(actor, params.get("message"))


def _delete(row, ctx: Context) -> None:
    records.delete_record(row, actor=ctx.actor)


def _delete_document(row, ctx: Context) -> None:
    records.delete_record(row, actor=ctx.actor)
    # As the documents screen does: the stored file goes once its row is gone. A crash before the
    # row's commit leaves the row pending without its file; the rerun deletes the row.
    if ctx.settings.get("UPLOAD_DIR"):
        documents.remove_file(row, ctx.settings["UPLOAD_DIR"])


KINDS: dict[str, JobKind] = {
    "ServiceRequest.assign_researcher": JobKind(
        ServiceRequest, "assign_researcher", N_("Assign a researcher"), "requests.edit",
        apply=lambda row, c: bulk.assign_one(row, bulk.check_assign(c.params.get("researcher"), c.actor), c.actor),
        check=lambda actor, p: bulk.check_assign(p.get("researcher"), actor),
        scope=visible_requests, summary=("researcher",)),
    "ServiceRequest.change_status": JobKind(
        ServiceRequest, "change_status", N_("Change status"), "requests.edit",
        apply=lambda row, c: bulk.change_status_one(row, c.params["target"], c.actor, c.params.get("note")),
        scope=visible_requests, summary=("target",)),
    "ServiceRequest.schedule_visits": JobKind(
        ServiceRequest, "schedule_visits", N_("Schedule visits"), "visits.record",
        apply=lambda row, c: bulk.schedule_visit_one(row, c.params["method"], _when(c.params), c.actor),
        check=_check_visits, scope=visible_requests, summary=("method", "when")),
    "ServiceRequest.decide": JobKind(
        ServiceRequest, "decide", N_("Decide"), "decide",
        apply=lambda row, c: bulk.decide_one(row, c.params["decision"], c.params.get("reason"), c.actor),
        check=_check_decide, scope=visible_requests, summary=("decision", "reason")),
    "ServiceRequest.send_notification": JobKind(
        ServiceRequest, "send_notification", N_("Send a message to the beneficiaries"), "notify",
        apply=lambda row, c: bulk.notify_one(row, c.params["message"], c.actor),
        check=_check_notify, scope=visible_requests, summary=("message",)),
    "Document.verify": JobKind(
        Document, "verify", N_("Mark as verified"), "documents.verify",
        apply=lambda row, c: eligibility.verify_document(row, c.actor), scope=visible_documents),
    "Notification.resend": JobKind(
        Notification, "resend", N_("Send again"), "notifications.manage",
        apply=lambda row, c: notifications.resend(row, c.actor), scope=visible_notifications),
}
# Every table's delete action (admin only, every row in scope) goes through the same refusal rules.
for _model in ALL_MODELS:
    KINDS.setdefault(f"{_model.__name__}.delete", JobKind(
        _model, "delete", N_("Delete"), "delete", apply=_delete_document if _model is Document else _delete))


def has_kind(kind: str) -> bool:
    """Return whether the worker knows how to run this kind of bulk action."""
    return kind in KINDS


def kind_of(job: BackgroundJob) -> JobKind | None:
    """Return the job's kind, or None for one this version does not know."""
    return KINDS.get(job.kind)


def _check_actor(spec: JobKind, actor: User) -> None:
    if not actor.active:
        raise PermissionDenied(N_("The account that started this job is no longer active."))
    if not can(actor.role, spec.capability):
        raise PermissionDenied(N_("Your role cannot do this action."))


# ---- submitting ------------------------------------------------------------------------------------
def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def submit(kind: str, params: dict, ids: list[int], actor: User, enqueue: bool = True) -> BackgroundJob:
    """Store a bulk action and its rows for the worker, audited, then queue it.

    params holds the action's fields (as the synchronous bulk function takes them) and, under
    "selection", how the rows were chosen (for the summary audit row). The whole selection is
    checked here, so a wrong field is said at once; each row is checked again when applied.
    When the queue cannot be reached the job stays queued and the worker's sweep starts it.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise ValidationError(N_("Unknown action."))
    # Checked as the worker will read them back (dates as ISO text), so both sides agree.
    params = json.loads(_json(params))
    _check_actor(spec, actor)
    spec.check(actor, params)
    unique = list(dict.fromkeys(int(i) for i in ids))
    if not unique:
        raise ValidationError(N_("No rows were chosen."))
    with db.atomic():
        job = BackgroundJob.create(kind=kind, params=_json(params), requested_by=actor, total=len(unique))
        now = utcnow()
        # Rows go in batches: a statement holds a bounded number of parameters.
        for start in range(0, len(unique), 500):
            BackgroundJobRow.insert_many(
                [{"job": job.id, "row_id": row_id, "state": "pending", "created_at": now, "updated_at": now,
                  "created_by": actor.username} for row_id in unique[start:start + 500]]).execute()
        audit.record("create", job, actor=actor.username, changes={
            "kind": [None, kind], "total": [None, len(unique)], "status": [None, "queued"]}, details=params)
    if enqueue:
        queue(job.id)
    return job


def queue(job_id: int) -> bool:
    """Announce a stored job to the worker's queue (signals.job_submitted); False (logged) when none took it."""
    # Nothing is lost either way: the job is stored and the worker's sweep starts queued jobs.
    try:
        queued = any(taken for _receiver, taken in signals.job_submitted.send(job_id))
    except Exception:
        log.warning("background job %s could not be queued; the worker's sweep will start it", job_id,
                    exc_info=True)
        return False
    if not queued:
        log.warning("background job %s: no queue in this process; the worker's sweep will start it", job_id)
    return queued


# ---- running -----------------------------------------------------------------------------------------
def run(job_id: int, settings: Mapping | None = None, chunk_size: int = CHUNK_SIZE,
        max_chunks: int | None = None) -> BackgroundJob | None:
    """Apply a job's pending rows chunk by chunk; finish it with the summary audit row.

    Safe to call again at any time (after a crash, from the sweep, twice at once): rows already
    applied or refused are skipped. max_chunks stops early (the job stays running), for tests.
    An unexpected failure marks the job failed with the error; calling run again resumes it.
    """
    job = BackgroundJob.get_or_none(BackgroundJob.id == job_id)
    if job is None or job.status == "done":
        return job
    spec = KINDS.get(job.kind)
    if spec is None:
        return _fail(job, f"unknown job kind {job.kind!r}")
    params = json.loads(job.params or "{}")
    token = current_actor.set(job.requested_by.username)
    try:
        now = utcnow()
        with db.atomic():
            BackgroundJob.update(status="running", heartbeat_at=now, error=None, updated_at=now,
                                 started_at=fn.COALESCE(BackgroundJob.started_at, now)).where(
                (BackgroundJob.id == job.id) & (BackgroundJob.status != "done")).execute()
        chunks = 0
        while max_chunks is None or chunks < max_chunks:
            pending = list(BackgroundJobRow.select(BackgroundJobRow.id, BackgroundJobRow.row_id)
                           .where((BackgroundJobRow.job == job.id) & (BackgroundJobRow.state == "pending"))
                           .order_by(BackgroundJobRow.id).limit(chunk_size).tuples())
            if not pending:
                return _finish(job, spec, params)
            # Fresh each chunk: a role changed or an account closed meanwhile applies from here on.
            ctx = Context(User.get_by_id(job.requested_by_id), params, settings or {})
            for job_row_id, row_id in pending:
                _apply_row(spec, ctx, job_row_id, row_id)
            _write_progress(job.id)
            chunks += 1
        return BackgroundJob.get_by_id(job.id)
    except Exception as exc:
        log.exception("background job %s stopped", job.id)
        return _fail(job, f"{type(exc).__name__}: {exc}")
    finally:
        current_actor.reset(token)


def _apply_row(spec: JobKind, ctx: Context, job_row_id: int, row_id: int) -> None:
    """Apply the action to one row, claiming it in the same transaction; a refusal is kept with its reason."""
    with db.atomic():
        claimed = (BackgroundJobRow.update(state="done", updated_at=utcnow())
                   .where((BackgroundJobRow.id == job_row_id) & (BackgroundJobRow.state == "pending")).execute())
        if not claimed:
            return  # another runner applied it
        try:
            with db.atomic():  # a savepoint: a refused row leaves nothing behind but its refusal
                _check_actor(spec, ctx.actor)
                pk = spec.model._meta.primary_key
                row = spec.scope(spec.model.select(), ctx.actor).where(pk == row_id).first()
                if row is None:
                    raise PermissionDenied(N_("This record no longer exists or is outside what you may change."))
                spec.apply(row, ctx)
        except DomainError as err:
            _refuse(job_row_id, err.message, err.params)
        except (OperationalError, InterfaceError):
            raise  # the database itself failed: stop the job (resumable) rather than refuse every row
        except Exception:
            log.exception("background job row %s (%s %s) failed", job_row_id, spec.model.__name__, row_id)
            _refuse(job_row_id, N_("An unexpected error stopped the change of this record; nothing was changed."), {})


def _refuse(job_row_id: int, message: str, params: dict) -> None:
    BackgroundJobRow.update(state="refused", reason=_json([message, params]), updated_at=utcnow()).where(
        BackgroundJobRow.id == job_row_id).execute()


def _counts(job_id: int) -> dict:
    return dict(BackgroundJobRow.select(BackgroundJobRow.state, fn.COUNT(BackgroundJobRow.id))
                .where(BackgroundJobRow.job == job_id).group_by(BackgroundJobRow.state).tuples())


def _write_progress(job_id: int, **more) -> None:
    counts = _counts(job_id)
    now = utcnow()
    with db.atomic():
        BackgroundJob.update(processed=counts.get("done", 0) + counts.get("refused", 0),
                             done_count=counts.get("done", 0), refused_count=counts.get("refused", 0),
                             heartbeat_at=now, updated_at=now, **more).where(BackgroundJob.id == job_id).execute()


def _finish(job: BackgroundJob, spec: JobKind, params: dict) -> BackgroundJob:
    """Mark the job done and write its summary audit row, once even if two runners get here."""
    counts = _counts(job.id)
    now = utcnow()
    with db.atomic():
        finished = BackgroundJob.update(
            status="done", finished_at=now, heartbeat_at=now, updated_at=now,
            processed=counts.get("done", 0) + counts.get("refused", 0), done_count=counts.get("done", 0),
            refused_count=counts.get("refused", 0)).where(
            (BackgroundJob.id == job.id) & (BackgroundJob.status != "done")).execute()
        if finished:
            done = [r for r, in BackgroundJobRow.select(BackgroundJobRow.row_id).where(
                (BackgroundJobRow.job == job.id) & (BackgroundJobRow.state == "done"))
                .order_by(BackgroundJobRow.id).tuples()]
            refused = {row_id: _reason_text(reason) for row_id, reason in refusals(job.id).tuples()}
            audit.record("bulk", model=spec.model.__name__, actor=job.requested_by.username, details={
                "action": spec.action, "count": len(done) + len(refused), "done": done, "refused": refused,
                **{key: params.get(key) for key in spec.summary},
                **(params.get("selection") or {"selection": "ticked"}), "job": job.id})
    return BackgroundJob.get_by_id(job.id)


def _fail(job: BackgroundJob, error: str) -> BackgroundJob:
    _write_progress(job.id, status="failed", error=error[:2000])
    return BackgroundJob.get_by_id(job.id)


def _reason_text(raw: str | None) -> str:
    message, params = reason(raw)
    return message % params if params else message


# ---- the sweep ---------------------------------------------------------------------------------------
def runnable(now: datetime.datetime | None = None) -> list[int]:
    """Return the jobs the worker should start: queued ones the queue never delivered, running ones abandoned."""
    now = now or utcnow()
    return [job_id for job_id, in BackgroundJob.select(BackgroundJob.id).where(
        ((BackgroundJob.status == "queued") & (BackgroundJob.created_at <= now - QUEUE_GRACE))
        | ((BackgroundJob.status == "running") & (BackgroundJob.heartbeat_at <= now - STALE_AFTER))
    ).order_by(BackgroundJob.id).tuples()]


def run_pending(settings: Mapping | None = None, now: datetime.datetime | None = None) -> list[int]:
    """Run every job the queue lost or a dead worker left; return their ids."""
    started = runnable(now)
    for job_id in started:
        run(job_id, settings)
    return started


# ---- what users see ----------------------------------------------------------------------------------
def visible_jobs(query, user):
    """Narrow a job query: each user sees their own jobs; whoever reads the audit log sees them all."""
    if can(user.role, SEE_ALL):
        return query
    return query.where(BackgroundJob.requested_by == user.id)


def refusals(job_id: int):
    """Return the query of a job's refused rows (row_id, reason JSON), in the order they were chosen."""
    return (BackgroundJobRow.select(BackgroundJobRow.row_id, BackgroundJobRow.reason)
            .where((BackgroundJobRow.job == job_id) & (BackgroundJobRow.state == "refused"))
            .order_by(BackgroundJobRow.id))


def reason(raw: str | None) -> tuple[str, dict]:
    """Return a stored refusal as (msgid, params), for the viewer's language."""
    message, params = json.loads(raw or '["", {}]')
    return message, params or {}
