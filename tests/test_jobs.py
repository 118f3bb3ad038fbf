"""Bulk actions beyond BULK_BACKGROUND_THRESHOLD run as background jobs with progress (issue 3)."""
import dataclasses
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import login, make_beneficiary, make_request
from huey.storage import SqliteStorage

from models import (
    AuditLog,
    BackgroundJob,
    BackgroundJobRow,
    Beneficiary,
    DocumentType,
    RequestTransition,
    Service,
    ServiceDocumentType,
    ServiceRequest,
    User,
    utcnow,
)
from services import jobs

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 30  # seconds
THRESHOLD = 10


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


@pytest.fixture(autouse=True)
def low_threshold(app):
    app.config["BULK_BACKGROUND_THRESHOLD"] = THRESHOLD


@pytest.fixture(autouse=True)
def queue_file(monkeypatch, tmp_path):
    """Point the web side's queue at this test's own file (the worker below is started on the same one)."""
    from tasks.queue import huey
    path = tmp_path / "huey.db"
    monkeypatch.setattr(huey, "storage", SqliteStorage(name=huey.name, filename=str(path)))
    return path


@pytest.fixture
def many(service):
    """25 submitted requests (more than the threshold and a page): 5 for a service whose document is missing."""
    strict = Service.create(name_ar="كفالة", name_en="Sponsorship")
    ServiceDocumentType.create(service=strict, document_type=DocumentType.create(name_ar="هوية", name_en="ID"))
    b = make_beneficiary()
    easy = [make_request(b, service, status="submitted") for _ in range(20)]
    blocked = [make_request(b, strict, status="submitted") for _ in range(5)]
    drafts = [make_request(b, service) for _ in range(3)]
    return easy, blocked, drafts


def _confirm_and_apply(client, action, query, **fields):
    """Choose the action for every row matching the query, confirm it; return the final response."""
    html = client.post(f"/admin/servicerequest/action/?{query}", data={
        "action": action, "all_matching": "1", "url": f"/admin/servicerequest/?{query}"}).get_data(as_text=True)
    ids = re.findall(r'name="rowid" value="(\d+)"', html)
    selection = re.search(r'name="selection" value="([^"]*)"', html).group(1).replace("&#34;", '"')
    return client.post("/admin/servicerequest/bulk/apply/", data={"rowid": ids, "selection": selection, **fields})


def _submit_status_job(client, query="flt_status_equals=submitted", status="under_verification"):
    response = _confirm_and_apply(client, "change_status", query, kind="status", status=status)
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/admin/jobs/(\d+)/", response.headers["Location"])
    assert match, response.headers["Location"]
    return BackgroundJob.get_by_id(int(match.group(1)))


def _statuses():
    return {r.id: r.status for r in ServiceRequest.select()}


# ---- submitting ----------------------------------------------------------------------------------
def test_all_matching_status_change_beyond_the_threshold_becomes_a_queued_job(client, login_as, many, queue_file):
    """25 rows > threshold 10: nothing changes in the request, a job is stored and queued, the user follows it."""
    easy, blocked, drafts = many
    manager = login_as("manager")
    before = _statuses()
    response = _confirm_and_apply(client, "change_status", "flt_status_equals=submitted",
                                  kind="status", status="under_verification")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "25 rows: this runs in the background; follow it here." in html
    assert "Change status" in html and "Queued" in html
    job = BackgroundJob.get()
    assert (job.kind, job.status, job.total, job.requested_by.id) == ("ServiceRequest.change_status", "queued",
                                                                    25, manager.id)
    assert sorted(r.row_id for r in job.rows) == sorted(r.id for r in easy + blocked)
    assert _statuses() == before
    assert SqliteStorage(name="mustafeed", filename=str(queue_file)).queue_size() == 1
    created = AuditLog.get((AuditLog.action == "create") & (AuditLog.model == "BackgroundJob"))
    assert created.actor == "manager" and json.loads(created.details)["target"] == "under_verification"


def test_at_the_threshold_the_action_still_runs_in_the_request(client, login_as, service, app):
    """Only a selection *beyond* the threshold goes to the worker."""
    b = make_beneficiary()
    rows = [make_request(b, service, status="submitted") for _ in range(THRESHOLD)]
    login_as("manager")
    html = _confirm_and_apply(client, "change_status", "flt_status_equals=submitted", kind="status",
                              status="awaiting_documents").get_data(as_text=True)
    assert BackgroundJob.select().count() == 0
    assert all(s == "awaiting_documents" for s in _statuses().values()), html
    assert len(rows) == THRESHOLD


def test_a_wrong_field_is_said_at_once_and_no_job_is_stored(client, login_as, many):
    """A rejection without a reason is refused for the whole selection before anything is queued (P6.4)."""
    login_as("manager")
    response = _confirm_and_apply(client, "decide", "flt_status_equals=submitted", kind="decide",
                                  decision="rejected", reason=" ")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A rejection needs a reason the beneficiary can be told." in html
    assert BackgroundJob.select().count() == 0


def test_the_board_cannot_submit_a_job_nor_open_the_jobs(client, login_as, many):
    login_as("board")
    ids = [str(r.id) for r in many[0]]
    response = client.post("/admin/servicerequest/bulk/apply/", data={"kind": "status", "status": "closed",
                                                                      "rowid": ids})
    assert response.status_code == 403
    assert client.get("/admin/jobs/").status_code == 403
    assert BackgroundJob.select().count() == 0


# ---- running ---------------------------------------------------------------------------------------
def test_running_the_job_moves_the_rows_and_audits_like_the_request_does(app, client, login_as, many):
    """Rows that can move do, each audited as the requesting user; one summary keeps the filter and count."""
    easy, blocked, drafts = many
    login_as("manager")
    job = _submit_status_job(client)
    job = jobs.run(job.id, settings=app.config)
    assert (job.status, job.processed, job.done_count, job.refused_count) == ("done", 25, 20, 5)
    statuses = _statuses()
    assert all(statuses[r.id] == "under_verification" for r in easy)
    assert all(statuses[r.id] == "submitted" for r in blocked)
    assert all(statuses[r.id] == "draft" for r in drafts)
    rows = AuditLog.select().where(AuditLog.action == "status")
    assert rows.count() == 20 and {r.actor for r in rows} == {"manager"}
    assert RequestTransition.select().where(RequestTransition.by == "manager").count() == 20
    summary = AuditLog.get(AuditLog.action == "bulk")
    details = json.loads(summary.details)
    assert (summary.actor, summary.model) == ("manager", "ServiceRequest")
    assert (details["action"], details["count"], details["selection"]) == ("change_status", 25, "all_matching")
    assert details["filters"] == [["Status", "submitted"]] and details["target"] == "under_verification"
    assert sorted(details["done"]) == sorted(r.id for r in easy) and details["job"] == job.id
    assert sorted(map(int, details["refused"])) == sorted(r.id for r in blocked)
    assert all(reason.startswith("Required documents are not all verified") for reason in details["refused"].values())


def test_the_progress_page_lists_the_refused_rows_with_reasons_and_links(app, client, login_as, many):
    _easy, blocked, _drafts = many
    login_as("manager")
    job = _submit_status_job(client)
    jobs.run(job.id, settings=app.config)
    html = client.get(f"/admin/jobs/{job.id}/").get_data(as_text=True)
    assert "Done" in html and 'data-running="0"' in html
    assert re.search(r"Changed</th><td><bdi[^>]*>20<", html) and re.search(r"Refused</th><td><bdi[^>]*>5<", html)
    for r in blocked:
        assert f'href="/admin/servicerequest/details/?id={r.id}"><bdi>{r.number}</bdi>' in html
    assert html.count("Required documents are not all verified") == 5


def test_the_progress_page_shows_the_job_running_and_its_progress(app, client, login_as, many):
    login_as("manager")
    job = _submit_status_job(client)
    jobs.run(job.id, settings=app.config, chunk_size=7, max_chunks=1)
    html = client.get(f"/admin/jobs/{job.id}/").get_data(as_text=True)
    assert 'data-running="1"' in html and "Running" in html and "js/mustafeed-jobs.js" in html
    assert 'data-percent="28"' in html  # 7 of 25
    progress = client.get(f"/admin/jobs/{job.id}/progress").get_json()
    assert (progress["status"], progress["processed"], progress["total"], progress["running"]) == (
        "running", 7, 25, True)


def test_a_job_stopped_midway_resumes_and_no_row_is_applied_twice(app, client, login_as, many):
    """Two chunks, then the worker "stops"; running the job again finishes the rest only."""
    easy, _blocked, _drafts = many
    login_as("manager")
    job = _submit_status_job(client)
    stopped = jobs.run(job.id, settings=app.config, chunk_size=6, max_chunks=2)
    assert (stopped.status, stopped.processed) == ("running", 12)
    assert BackgroundJobRow.select().where(BackgroundJobRow.state == "pending").count() == 13
    assert not AuditLog.select().where(AuditLog.action == "bulk").exists()
    finished = jobs.run(job.id, settings=app.config)
    assert (finished.status, finished.processed, finished.done_count) == ("done", 25, 20)
    again = jobs.run(job.id, settings=app.config)  # a late duplicate run changes nothing
    assert again.status == "done"
    for r in easy:
        assert RequestTransition.select().where(RequestTransition.request == r.id).count() == 1
    assert AuditLog.select().where(AuditLog.action == "status").count() == 20
    assert AuditLog.select().where(AuditLog.action == "bulk").count() == 1


def test_a_crash_inside_a_row_undoes_that_row_and_the_rerun_applies_it_once(app, client, login_as, many,
                                                                             monkeypatch):
    """The process dies after a row's change but before its commit: the change and its claim roll back together."""
    easy, _blocked, _drafts = many
    login_as("manager")
    job = _submit_status_job(client)
    real = jobs.KINDS["ServiceRequest.change_status"]
    calls = []

    def dies_on_the_third_row(row, ctx):
        real.apply(row, ctx)
        calls.append(row.id)
        if len(calls) == 3:
            raise SystemExit("worker killed")  # not an Exception: nothing in run() catches it

    crashing = dataclasses.replace(real, apply=dies_on_the_third_row)
    monkeypatch.setitem(jobs.KINDS, "ServiceRequest.change_status", crashing)
    with pytest.raises(SystemExit):
        jobs.run(job.id, settings=app.config)
    crashed = ServiceRequest.get_by_id(calls[2])
    assert crashed.status == "submitted"
    assert not RequestTransition.select().where(RequestTransition.request == crashed.id).exists()
    assert BackgroundJob.get_by_id(job.id).status == "running"
    monkeypatch.setitem(jobs.KINDS, "ServiceRequest.change_status", real)
    assert jobs.run(job.id, settings=app.config).status == "done"
    for r in easy:
        assert RequestTransition.select().where(RequestTransition.request == r.id).count() == 1
    assert ServiceRequest.get_by_id(crashed.id).status == "under_verification"


def test_visits_scheduled_by_a_job_are_at_the_chosen_riyadh_time(app, client, login_as, many):
    """A day of field visits for 20 requests (P6.5): each gets its visit and its appointment message (P6.4)."""
    from models import Notification, VerificationVisit
    easy, _blocked, _drafts = many
    login_as("manager")
    response = _confirm_and_apply(client, "schedule_visits", "flt_service_equals=%d" % easy[0].service_id,
                                  kind="visits", method="field_visit", scheduled_at="2030-01-05T10:00")
    assert response.headers["Location"].startswith("/admin/jobs/")
    job = jobs.run(BackgroundJob.get().id, settings=app.config)
    assert (job.done_count, job.refused_count) == (20, 3)  # the drafts are refused
    visits = VerificationVisit.select()
    assert {(v.method, v.scheduled_at) for v in visits} == {("field_visit", datetime.datetime(2030, 1, 5, 7, 0))}
    assert sorted(v.request_id for v in visits) == sorted(r.id for r in easy)
    assert Notification.select().where(Notification.kind == "visit_appointment").count() == 20
    details = json.loads(AuditLog.get(AuditLog.action == "bulk").details)
    assert (details["action"], details["method"], details["when"]) == ("schedule_visits", "field_visit",
                                                                        "2030-01-05T07:00:00")


def test_each_row_is_checked_against_the_requesting_user_when_it_runs(app, client, login_as, many, staff):
    """The job acts as its user: a role lost before the worker ran means no row changes."""
    login_as("manager")
    job = _submit_status_job(client)
    User.update(role="board").where(User.id == staff["manager"].id).execute()
    job = jobs.run(job.id, settings=app.config)
    assert (job.status, job.done_count, job.refused_count) == ("done", 0, 25)
    assert all(s in ("submitted", "draft") for s in _statuses().values())
    reasons = {jobs.reason(r.reason)[0] for r in BackgroundJobRow.select()}
    assert reasons == {"Your role cannot do this action."}


def test_rows_outside_the_requesting_users_scope_are_refused(app, login_as, staff, service):
    """A researcher's job touches only requests assigned to them, whatever ids it was given."""
    b = make_beneficiary()
    mine = [make_request(b, service, status="submitted", researcher=staff["researcher"]) for _ in range(2)]
    other = make_request(b, service, status="submitted")
    job = jobs.submit("ServiceRequest.change_status", {"target": "awaiting_documents"},
                      [r.id for r in mine + [other]], staff["researcher"], enqueue=False)
    job = jobs.run(job.id, settings=app.config)
    assert (job.done_count, job.refused_count) == (2, 1)
    assert ServiceRequest.get_by_id(other.id).status == "submitted"
    row = BackgroundJobRow.get(BackgroundJobRow.state == "refused")
    assert row.row_id == other.id
    assert jobs.reason(row.reason)[0] == "This record no longer exists or is outside what you may change."


def test_delete_of_all_matching_rows_beyond_the_threshold_runs_as_a_job(app, client, login_as, service):
    """The list's own actions (apply_each) go to the worker too; dependants still block a delete."""
    kept = make_beneficiary()
    make_request(kept, service)
    numbers = ["1000000016", "1000000024", "1000000032", "1000000040", "1000000057", "1000000065",
               "1000000073", "1000000081", "1000000099", "1000000107", "1000000115"]
    free = [make_beneficiary(full_name=f"سالم {n}", id_number=number, mobile=None)
            for n, number in enumerate(numbers)]
    login_as("admin")
    response = client.post("/admin/beneficiary/action/?search=", data={
        "action": "delete", "all_matching": "1", "url": "/admin/beneficiary/"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/jobs/")
    assert Beneficiary.select().count() == 12
    job = jobs.run(BackgroundJob.get().id, settings=app.config)
    assert (job.kind, job.done_count, job.refused_count) == ("Beneficiary.delete", 11, 1)
    assert [b.id for b in Beneficiary.select()] == [kept.id]
    assert AuditLog.select().where((AuditLog.action == "delete") & (AuditLog.actor == "admin")).count() == 11
    details = json.loads(AuditLog.get(AuditLog.action == "bulk").details)
    assert (details["action"], details["selection"], details["count"]) == ("delete", "all_matching", 12)
    assert sorted(details["done"]) == sorted(b.id for b in free)
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "12 rows: this runs in the background; follow it here." in html
    assert kept.reference in html and "linked records depend on it" in html


def test_documents_verified_by_a_job_name_the_verifier(app, client, login_as, staff, service):
    """The documents list's "Mark as verified" beyond the threshold (administrative review, P6.5)."""
    from test_permissions import PNG

    from models import Document
    from services.documents import store_upload
    r = make_request(make_beneficiary(), service)
    dtype = DocumentType.create(name_ar="الهوية", name_en="ID card")
    docs = [store_upload(PNG, f"id{n}.png", dtype, request=r, upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
            for n in range(THRESHOLD + 1)]
    login_as("researcher")  # not assigned to the request: outside the researcher's scope
    client.post("/admin/document/action/?search=", data={"action": "verify", "all_matching": "1",
                                                         "url": "/admin/document/"})
    assert BackgroundJob.select().count() == 0  # nothing in scope, nothing to hand over
    login_as("manager")
    response = client.post("/admin/document/action/?search=", data={"action": "verify", "all_matching": "1",
                                                                    "url": "/admin/document/"})
    assert response.headers["Location"].startswith("/admin/jobs/")
    job = jobs.run(BackgroundJob.get().id, settings=app.config)
    assert (job.kind, job.done_count) == ("Document.verify", len(docs))
    assert {d.verified_by_id for d in Document.select()} == {staff["manager"].id}


# ---- the queue and the sweep ---------------------------------------------------------------------------
def test_a_job_the_queue_never_got_is_stored_and_started_by_the_sweep(app, client, login_as, many, monkeypatch,
                                                                      tmp_path):
    from tasks.queue import huey
    # A queue file in a folder that does not exist: the real SQLite queue cannot be opened.
    monkeypatch.setattr(huey, "storage", SqliteStorage(
        name=huey.name, filename=str(tmp_path / "gone" / "huey.db"), create_tables=False))
    login_as("manager")
    job = _submit_status_job(client)
    assert BackgroundJob.get_by_id(job.id).status == "queued"
    assert jobs.runnable() == []  # the queue may still deliver it: give it a minute
    assert jobs.run_pending(app.config, now=utcnow() + datetime.timedelta(minutes=2)) == [job.id]
    assert BackgroundJob.get_by_id(job.id).status == "done"


def test_the_sweep_resumes_a_running_job_whose_worker_went_silent(app, client, login_as, many):
    login_as("manager")
    job = _submit_status_job(client)
    jobs.run(job.id, settings=app.config, chunk_size=5, max_chunks=1)
    assert jobs.runnable(utcnow() + datetime.timedelta(minutes=1)) == []  # still alive, as far as we know
    later = utcnow() + datetime.timedelta(minutes=10)
    assert jobs.run_pending(app.config, now=later) == [job.id]
    assert BackgroundJob.get_by_id(job.id).processed == 25


@pytest.fixture
def start_worker(app, tmp_path, queue_file):
    """Start huey_consumer as its own process on the test's database and queue file."""
    processes = []
    env = {**os.environ, "INSTANCE_PATH": app.instance_path, "DATABASE_URL": app.config["DATABASE_URL"],
           "HUEY_DB": str(queue_file), "SMTP_HOST": "", "SMS_GATEWAY_URL": ""}
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
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_the_real_worker_runs_the_submitted_job(client, login_as, many, start_worker, tmp_path):
    """Submitted over HTTP, queued in the shared SQLite queue, run by a huey_consumer process."""
    easy, blocked, _drafts = many
    login_as("manager")
    job = _submit_status_job(client)
    start_worker()
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end and BackgroundJob.get_by_id(job.id).status != "done":
        time.sleep(0.2)
    job = BackgroundJob.get_by_id(job.id)
    assert job.status == "done", (tmp_path / "worker.log").read_text()
    assert (job.done_count, job.refused_count) == (20, 5)
    statuses = _statuses()
    assert all(statuses[r.id] == "under_verification" for r in easy)
    summary = AuditLog.get(AuditLog.action == "bulk")
    assert summary.actor == "manager" and json.loads(summary.details)["count"] == 25
    assert {r.actor for r in AuditLog.select().where(AuditLog.action == "status")} == {"manager"}


# ---- who sees what ---------------------------------------------------------------------------------------
@pytest.fixture
def researchers_job(app, client, staff, service):
    """A job of the researcher on the 12 requests assigned to them."""
    b = make_beneficiary()
    for _ in range(12):
        make_request(b, service, status="submitted", researcher=staff["researcher"])
    login(client, "researcher")
    job = _submit_status_job(client, status="awaiting_documents")
    client.post("/logout")
    return job


def test_another_researcher_cannot_see_my_job(client, researchers_job):
    from services import users
    users.create_user("researcher2", "researcher", "correct-horse-42")
    login(client, "researcher2")
    assert client.get(f"/admin/jobs/{researchers_job.id}/").status_code == 403
    assert client.get(f"/admin/jobs/{researchers_job.id}/progress").status_code == 403
    html = client.get("/admin/jobs/").get_data(as_text=True)
    assert f"/admin/jobs/{researchers_job.id}/" not in html


def test_the_owner_and_the_managers_see_the_job(client, researchers_job, staff):
    for username in ("researcher", "manager", "admin"):
        client.post("/logout")
        login(client, username)
        assert client.get(f"/admin/jobs/{researchers_job.id}/").status_code == 200, username
        assert f"/admin/jobs/{researchers_job.id}/" in client.get("/admin/jobs/").get_data(as_text=True), username
    assert client.get("/admin/jobs/999999/").status_code == 404


def test_a_failed_job_says_so_on_its_page(app, client, login_as, staff):
    """A job this version cannot run is marked failed with the reason, never left waiting silently."""
    job = BackgroundJob.create(kind="Gone.kind", requested_by=staff["manager"], total=0)
    assert jobs.run(job.id, settings=app.config).status == "failed"
    login_as("manager")
    html = client.get(f"/admin/jobs/{job.id}/").get_data(as_text=True)
    assert "The job stopped because of an unexpected error." in html and "unknown job kind" in html
    assert "Failed" in client.get("/admin/jobs/").get_data(as_text=True)
