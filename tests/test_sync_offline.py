"""Without a Google spreadsheet: instance/board.xlsx, the CLI, the worker jobs and the "Board mirror" page."""
import datetime
import json

import pytest
from conftest import make_beneficiary, make_request
from fake_sheets import FakeSheets, national_id
from openpyxl import load_workbook

from models import AuditLog, SyncRun, utcnow
from sync import rows as R
from sync import run_sync, settings_from_config

CTX = R.Context()


@pytest.fixture
def settings(app):
    return settings_from_config(app.config, app.instance_path)


def test_board_xlsx_has_the_same_tabs_columns_and_masking(app, settings, service):
    b = make_beneficiary(city="=1+1", category="00123", family_size=5, email="x@example.org")
    make_request(b, service, status="submitted", decision_due=datetime.date(2026, 3, 15))
    report = run_sync(settings)
    assert report.target == "xlsx"
    book = load_workbook(settings.xlsx_path)
    assert book.sheetnames == [R.title(t, CTX) for t in R.TABLES] + [CTX._(R.SUMMARY_TITLE)]
    sheet = book[R.title(R.BENEFICIARIES, CTX)]
    assert sheet.sheet_view.rightToLeft is True
    assert sheet.freeze_panes == "A2"
    assert sheet.cell(1, 1).font.b is True
    header = [c.value for c in sheet[1]]
    assert header == R.header(R.BENEFICIARIES, CTX)
    row = [c.value for c in sheet[2]]
    assert row[header.index(CTX._("City"))] == "=1+1"
    assert sheet.cell(2, header.index(CTX._("City")) + 1).data_type == "s"
    assert CTX._("Category") not in header and "00123" not in row  # sensitive (models/personal_data.py)
    assert row[header.index(CTX._("Family size"))] == 5
    text = json.dumps([[c.value for c in r] for ws in book for r in ws.iter_rows()], ensure_ascii=False, default=str)
    for secret in (b.id_number, "501234567", "x@example.org", b.full_name):
        assert secret not in text


def test_board_xlsx_is_rewritten_whole_and_never_keeps_deleted_rows(app, settings, service):
    from models import Beneficiary
    people = [make_beneficiary(full_name=f"م {i}", id_number=national_id(i)) for i in range(3)]
    run_sync(settings)
    Beneficiary.delete().where(Beneficiary.id == people[1].id).execute()
    run_sync(settings)
    sheet = load_workbook(settings.xlsx_path)[R.title(R.BENEFICIARIES, CTX)]
    assert [r[0].value for r in sheet.iter_rows(min_row=2)] == [people[0].reference, people[2].reference]


def test_each_run_is_recorded_and_audited(app, settings, service):
    make_beneficiary()
    run_sync(settings)
    run = SyncRun.get()
    assert run.ok is True and json.loads(run.rows)["beneficiaries"] == 1
    assert AuditLog.select().where(AuditLog.action == "sheets_sync").count() == 1


# ---- command line ----------------------------------------------------------------------------------
def test_cli_prints_one_summary_line_when_not_on_a_terminal(app, service):
    make_beneficiary()
    result = app.test_cli_runner().invoke(args=["sheets-sync"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("full sync to xlsx: rows written beneficiaries 1/1")


def test_cli_dry_run_against_sheets_reports_without_writing(app, service):
    make_beneficiary()
    with FakeSheets() as fake:
        fake.create()
        app.config.update(SHEETS_SPREADSHEET_ID="sheet-1", SHEETS_API_ENDPOINT=fake.url)
        result = app.test_cli_runner().invoke(args=["sheets-sync", "--dry-run"])
        assert fake.requests("write") == []
    assert result.exit_code == 0, result.output
    assert "dry_run sync to sheets" in result.output


def test_cli_exits_non_zero_with_the_reason_on_failure(app, service):
    with FakeSheets() as fake:
        app.config.update(SHEETS_SPREADSHEET_ID="missing", SHEETS_API_ENDPOINT=fake.url)
        result = app.test_cli_runner().invoke(args=["sheets-sync", "--full"])
    assert result.exit_code == 1
    assert "SHEETS_SPREADSHEET_ID" in result.output


# ---- the worker's jobs ------------------------------------------------------------------------------
def test_scheduled_sync_runs_once_the_interval_has_passed(app, settings):
    from tasks.sync import sync_due
    assert sync_due(settings)
    SyncRun.create(started_at=utcnow(), mode="incremental", target="xlsx", ok=True)
    assert not sync_due(settings)
    assert sync_due(settings, now=utcnow() + datetime.timedelta(minutes=settings.interval_minutes))
    settings.interval_minutes = 0
    assert not sync_due(settings, now=utcnow() + datetime.timedelta(days=1))


def test_a_failing_job_is_recorded_not_raised(app):
    from tasks.sync import run_job
    with FakeSheets() as fake:
        bad = settings_from_config({**app.config, "SHEETS_SPREADSHEET_ID": "missing",
                                    "SHEETS_API_ENDPOINT": fake.url}, app.instance_path)
        assert run_job(bad) is None
    run = SyncRun.get()
    assert run.ok is False
    message, params = json.loads(run.error)
    assert "SHEETS_SPREADSHEET_ID" in message and "404" in params["reason"]


# ---- the "Board mirror" page ------------------------------------------------------------------------
@pytest.fixture
def worker(app, monkeypatch):
    """Run queued jobs at once, inside this test's application."""
    from tasks import queue
    monkeypatch.setattr(queue, "_app", app)
    monkeypatch.setattr(queue.huey, "immediate", True)
    return queue


def test_manager_sees_the_last_run_with_rows_and_requests(client, login_as, settings, service):
    make_beneficiary()
    run_sync(settings)
    login_as("manager")
    html = client.get("/admin/boardmirror/").get_data(as_text=True)
    assert "board.xlsx" in html
    assert "المستفيدون: <bdi>1</bdi>" in html
    assert "نجحت" in html


def test_sync_now_queues_a_run_that_the_page_then_shows(client, login_as, worker, service):
    make_beneficiary()
    login_as("manager")
    response = client.post("/admin/boardmirror/sync")
    assert response.status_code == 302
    assert SyncRun.select().where(SyncRun.ok == True).count() == 1  # noqa: E712
    assert AuditLog.select().where(AuditLog.action == "sheets_sync_requested").count() == 1
    download = client.get("/admin/boardmirror/board.xlsx")
    assert download.status_code == 200 and download.data[:2] == b"PK"


@pytest.mark.parametrize("role", ["researcher", "volunteer", "board"])
def test_other_roles_may_not_open_or_trigger_the_mirror(client, login_as, role):
    login_as(role)
    assert client.get("/admin/boardmirror/").status_code == 403
    assert client.post("/admin/boardmirror/sync").status_code == 403
    assert SyncRun.select().count() == 0


def test_a_spreadsheet_without_its_key_fails_with_the_steps_to_fix_it(app):
    from sync import SyncError
    settings = settings_from_config({**app.config, "SHEETS_SPREADSHEET_ID": "1AbC",
                                     "SHEETS_SERVICE_ACCOUNT_FILE": "/nowhere/key.json"}, app.instance_path)
    with pytest.raises(SyncError) as err:
        run_sync(settings)
    assert "SHEETS_SERVICE_ACCOUNT_FILE" in err.value.message
    assert SyncRun.get().ok is False
