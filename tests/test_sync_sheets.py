"""The board mirror against a local fake of the Sheets API, through real gspread and real HTTP."""
import datetime
import json
import math

import pytest
from conftest import make_beneficiary, make_request
from fake_sheets import FakeSheets, Formula, assert_exact_mirror, national_id

from models import (
    Beneficiary,
    Delivery,
    IntakeAnswer,
    IntakeQuestion,
    Service,
    SyncRow,
    SyncRun,
    SyncTab,
    VerificationVisit,
    utcnow,
)
from sync import SyncRefused, TargetUnavailable, make_writer, run_sync, settings_from_config
from sync import rows as R
from sync.gsheets import Pacer, quote_title

CTX = R.Context()


def make_settings(app, fake, **extra):
    config = {**app.config, "SHEETS_SPREADSHEET_ID": "sheet-1", "SHEETS_API_ENDPOINT": fake.url,
              "SHEETS_BACKOFF_BASE": 0.001, "SHEETS_TIMEOUT": 2, **extra}
    return settings_from_config(config, app.instance_path)


@pytest.fixture
def fake():
    with FakeSheets() as server:
        server.create()
        yield server


@pytest.fixture
def settings(app, fake):
    return make_settings(app, fake)


def populate(staff, service, n=4, start=1):
    """Register n beneficiaries, each with a request and a visit; every other one decided and delivered."""
    out = []
    for i in range(start, start + n):
        b = make_beneficiary(full_name=f"مستفيد رقم {i}", id_number=national_id(i), family_size=i,
                             category="أسرة", email=f"person{i}@example.org")
        decided = i % 2 == 0
        r = make_request(b, service, researcher=staff["researcher"], status="delivered" if decided else "submitted",
                         submitted_at=datetime.datetime(2026, 3, 1, 9), decision_due=datetime.date(2026, 3, 15),
                         decision="approved" if decided else None,
                         decided_at=datetime.datetime(2026, 3, 10, 9) if decided else None)
        VerificationVisit.create(request=r, method="field_visit", scheduled_at=datetime.datetime(2026, 3, 5, 8),
                                 performed_at=datetime.datetime(2026, 3, 5, 9), performed_by=staff["researcher"],
                                 outcome="confirmed", findings="المنزل بحاجة إلى ترميم")
        if decided:
            Delivery.create(request=r, description="سلة غذائية", delivered_at=datetime.datetime(2026, 3, 12, 9))
        out.append((b, r))
    return out


def title(table):
    return R.title(table, CTX)


def writes(fake):
    return fake.requests("write")


# ---- what a board member sees ----------------------------------------------------------------------
def test_first_sync_creates_right_to_left_tabs_with_a_bold_frozen_filtered_header(fake, settings, staff, service):
    populate(staff, service, n=2)
    run_sync(settings)
    for table in R.TABLES:
        tab = fake.tab(title(table))
        assert tab.props["rightToLeft"] is True
        assert tab.props["gridProperties"]["frozenRowCount"] == 1
        assert tab.bold_rows == {0}
        assert tab.basic_filter["range"]["startRowIndex"] == 0
        assert tab.basic_filter["range"]["endColumnIndex"] == len(R.header(table, CTX))
        assert [v["title"] for v in tab.filter_views] == [title(table)]
    assert fake.tab(CTX._(R.SUMMARY_TITLE)).props["rightToLeft"] is True


def test_tab_titles_and_labels_are_arabic_from_the_catalogue(fake, settings, staff, service):
    populate(staff, service, n=1)
    run_sync(settings)
    assert {"المستفيدون", "طلبات الخدمة", "زيارات التحقق"} <= set(fake.titles())
    request_row = fake.values("طلبات الخدمة")[1]
    assert "مقدَّم" in request_row            # status "submitted"
    assert "المقابلة الحضورية" in request_row  # channel "interview"
    assert fake.values("طلبات الخدمة")[0][:1] == ["رقم الطلب"]


def test_dates_are_iso_text_with_a_hijri_column(fake, settings, staff, service):
    _b, r = populate(staff, service, n=1)[0]
    run_sync(settings)
    header, row = fake.values(title(R.REQUESTS))[:2]
    due = header.index(CTX._("Decision due"))
    assert row[due] == "2026-03-15"
    assert header[due + 1] == CTX._(R.HIJRI_HEADER, column=CTX._("Decision due"))
    assert row[due + 1] == "1447-09-26"
    assert isinstance(row[due], str)


def test_writes_are_raw_so_formulas_stay_text_numbers_stay_numbers_and_zeros_survive(fake, settings, staff, service):
    b = make_beneficiary(city="=HYPERLINK(\"http://evil.example\",\"x\")", family_size=7)
    make_beneficiary(id_number=national_id(2), mobile="0501234568", city="00123")
    run_sync(settings)
    header, row, zeros = fake.values(title(R.BENEFICIARIES))[:3]
    city = row[header.index(CTX._("City"))]
    assert city == b.city and not isinstance(city, Formula)
    assert zeros[header.index(CTX._("City"))] == "00123"
    assert row[header.index(CTX._("Family size"))] == 7
    assert {e["valueInputOption"] for e in writes(fake) if "values" in e["path"]} == {"RAW"}


def test_the_fake_would_have_broken_the_cells_without_raw(fake):
    """The fake parses USER_ENTERED like Google: so the RAW test above can fail."""
    book = fake.book()
    fake._values_batch_update(book, {"valueInputOption": "USER_ENTERED",
                                     "data": [{"range": "Sheet1!A1:B1", "values": [["=1+1", "00123"]]}]})
    assert isinstance(fake.values("Sheet1")[0][0], Formula)
    assert fake.values("Sheet1")[0][1] == 123


# ---- what must never reach the sheet -----------------------------------------------------------------
FORBIDDEN_FIELDS = {"id_number", "id_type", "mobile", "email", "full_name", "latin_name", "name_key", "birth_date",
                    "notes", "findings", "decision_reason", "value", "attestation_ip", "consent_at"}


def test_the_column_configuration_holds_no_personal_identifier():
    for table in R.TABLES:
        for column in table.columns:
            assert column.field not in FORBIDDEN_FIELDS or column.names_only, (table.key, column.field)
    names = [c.field for t in R.TABLES for c in t.columns if c.names_only]
    assert names == ["full_name", "beneficiary_name"]


def _all_cells(fake):
    return [str(cell) for t in fake.titles() for row in fake.values(t) for cell in row]


def test_no_id_number_mobile_email_sensitive_answer_or_name_reaches_the_sheet(fake, settings, staff, service):
    """Personal data stays in the Kingdom unless the association opts in (names only)."""
    (b, r), = populate(staff, service, n=1)
    question = IntakeQuestion.create(service=service, label_ar="الدخل", label_en="Income", sensitive=True)
    IntakeAnswer.create(request=r, question=question, value="4321 ريال")
    run_sync(settings)
    text = "\n".join(_all_cells(fake))
    for secret in (b.id_number, "0501234567", "501234567", b.mobile, b.email, b.full_name, "4321 ريال",
                   "المنزل بحاجة إلى ترميم"):
        assert secret not in text, secret
    assert b.reference in text


def test_names_reach_the_sheet_only_with_the_opt_in(app, fake, staff, service):
    (b, _r), = populate(staff, service, n=1)
    run_sync(make_settings(app, fake, SHEETS_INCLUDE_NAMES="1"))
    ctx = R.Context(include_names=True)
    assert b.full_name in fake.values(title(R.BENEFICIARIES))[1]
    assert b.full_name in fake.values(title(R.REQUESTS))[1]
    assert fake.values(title(R.BENEFICIARIES))[0] == R.header(R.BENEFICIARIES, ctx)
    assert b.id_number not in "\n".join(_all_cells(fake))


def test_a_sensitive_service_appears_only_in_the_summary_counts(fake, settings, staff, service):
    care = Service.create(name_ar="رعاية المهتدين الجدد", name_en="Care for new Muslims", sensitive=True)
    (b, _r), = populate(staff, service, n=1)
    hidden = make_request(b, care, status="submitted")
    VerificationVisit.create(request=hidden, method="interview")
    run_sync(settings)
    request_numbers = [row[0] for row in fake.values(title(R.REQUESTS))[1:]]
    assert hidden.number not in request_numbers
    assert hidden.number not in [row[0] for row in fake.values(title(R.VISITS))[1:]]
    summary = fake.values(CTX._(R.SUMMARY_TITLE))
    assert ["رعاية المهتدين الجدد", 1] in summary
    assert [CTX._("Service requests"), 2] in summary


def test_summary_counts_statuses_overdue_and_median_days_to_decision(fake, app, staff, service):
    populate(staff, service, n=4)
    run_sync(make_settings(app, fake), today=datetime.date(2026, 4, 1))
    summary = {row[0]: row[1] for row in fake.values(CTX._(R.SUMMARY_TITLE)) if len(row) == 2}
    assert summary[CTX._("Submitted")] == 2
    assert summary[CTX._("Delivered")] == 2
    assert summary[CTX._("Overdue requests")] == 2
    assert summary[CTX._("Median days to decision")] == 9


# ---- frugal with the API -------------------------------------------------------------------------------
def test_full_sync_packs_all_tabs_into_the_fewest_value_requests(app, fake, staff, service):
    populate(staff, service, n=12)
    settings = make_settings(app, fake, SHEETS_MAX_PAYLOAD=3000)
    run_sync(settings, full=True)
    structure = [e for e in writes(fake) if e["path"].endswith(":batchUpdate") and "values" not in e["path"]]
    values = [e for e in writes(fake) if "values" in e["path"]]
    assert len(structure) == 1
    assert all(e["bytes"] <= 3000 for e in values)
    rows_bytes = sum(len(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()) + 1
                     for e in values for item in json.loads(e["body"])["data"] for row in item["values"])
    assert len(values) <= math.ceil(rows_bytes / 3000) + 1
    # Tabs share requests: fewer requests than tabs with rows would need one by one.
    tabs_per_request = [len({item["range"].split("!")[0] for item in json.loads(e["body"])["data"]}) for e in values]
    assert max(tabs_per_request) > 1


def test_incremental_sync_of_a_few_edits_is_one_write_request(fake, settings, staff, service):
    people = populate(staff, service, n=6)
    run_sync(settings)
    fake.reset_log()
    b, r = people[2]
    b.city = "جدة"
    b.save()
    r.status = "under_verification"
    r.save()
    report = run_sync(settings)
    assert len(writes(fake)) == 1
    assert report.write_requests == 1
    header, *rows = fake.values(title(R.BENEFICIARIES))
    assert [row for row in rows if row[0] == b.reference][0][header.index(CTX._("City"))] == "جدة"
    assert_exact_mirror(fake, R.Context())


def test_nothing_changed_writes_only_the_summary(fake, settings, staff, service):
    populate(staff, service, n=3)
    run_sync(settings)
    fake.reset_log()
    report = run_sync(settings)
    assert len(writes(fake)) == 1
    assert report.rows == {"beneficiaries": 0, "requests": 0, "visits": 0, "summary": report.rows["summary"]}
    ranges = [item["range"] for item in json.loads(writes(fake)[0]["body"])["data"]]
    assert all(rng.startswith(quote_title(CTX._(R.SUMMARY_TITLE)) + "!") for rng in ranges)


def test_deleted_rows_leave_no_gap_no_duplicate_and_nothing_stale(fake, settings, staff, service):
    populate(staff, service, n=3)
    lonely = [make_beneficiary(full_name=f"وحيد {i}", id_number=national_id(100 + i)) for i in range(4)]
    run_sync(settings)
    Beneficiary.delete().where(Beneficiary.id.in_([lonely[0].id, lonely[2].id])).execute()
    run_sync(settings)
    assert_exact_mirror(fake, R.Context())
    assert len(fake.values(title(R.BENEFICIARIES))) == 1 + 5


def test_new_records_are_added_below_the_data(fake, settings, staff, service):
    populate(staff, service, n=2)
    run_sync(settings)
    populate(staff, service, n=2, start=10)
    run_sync(settings)
    assert_exact_mirror(fake, R.Context())


def test_a_request_turns_overdue_as_days_pass_without_any_edit(app, fake, staff, service):
    (_b, r), = populate(staff, service, n=1)
    settings = make_settings(app, fake)
    run_sync(settings, today=datetime.date(2026, 3, 14))
    header, row = fake.values(title(R.REQUESTS))[:2]
    assert len(row) <= header.index(CTX._("Overdue")) or row[header.index(CTX._("Overdue"))] == ""
    SyncTab.update(synced_from=datetime.datetime(2026, 3, 14, 9)).execute()
    run_sync(settings, today=datetime.date(2026, 3, 16))
    header, row = fake.values(title(R.REQUESTS))[:2]
    assert row[header.index(CTX._("Overdue"))] == CTX._("Yes")


# ---- tabs and columns changed by hand -------------------------------------------------------------------
def test_a_tab_deleted_by_hand_is_recreated_with_a_warning(fake, settings, staff, service):
    populate(staff, service, n=2)
    run_sync(settings)
    book = fake.book()
    book.sheets = [s for s in book.sheets if s.props["title"] != title(R.VISITS)]
    report = run_sync(settings)
    assert title(R.VISITS) in fake.titles()
    assert report.warnings[0][0].startswith("The tab %(tab)s was renamed or deleted")
    assert_exact_mirror(fake, R.Context())


def test_a_tab_renamed_by_hand_is_recreated_and_the_renamed_one_left_alone(fake, settings, staff, service):
    populate(staff, service, n=2)
    run_sync(settings)
    fake.tab(title(R.REQUESTS)).props["title"] = "نسختي"
    run_sync(settings)
    assert "نسختي" in fake.titles()
    assert_exact_mirror(fake, R.Context())


def test_columns_added_by_hand_are_reported_and_kept(fake, settings, staff, service):
    populate(staff, service, n=2)
    run_sync(settings)
    tab = fake.tab(title(R.BENEFICIARIES))
    width = len(R.header(R.BENEFICIARIES, CTX))
    tab.props["gridProperties"]["columnCount"] = width + 1
    tab.cells[0] = tab.cells[0] + [""] * (width - len(tab.cells[0])) + ["ملاحظات المجلس"]
    tab.cells[1] = tab.cells[1] + [""] * (width - len(tab.cells[1])) + ["اتصل به"]
    Beneficiary.update(city="الطائف").execute()
    report = run_sync(settings)
    assert fake.values(title(R.BENEFICIARIES))[0][width] == "ملاحظات المجلس"
    assert fake.values(title(R.BENEFICIARIES))[1][width] == "اتصل به"
    assert any("ملاحظات المجلس" in w[1].get("columns", "") for w in report.warnings)
    assert all("الطائف" in row for row in fake.values(title(R.BENEFICIARIES))[1:])


# ---- quotas, faults and retries -----------------------------------------------------------------------
def test_a_burst_of_429_is_retried_after_the_retry_after_pause(fake, settings, staff, service):
    populate(staff, service, n=2)
    fake.throttle(3, retry_after=0.05)
    started = datetime.datetime.now()
    run_sync(settings)
    assert (datetime.datetime.now() - started).total_seconds() >= 0.15
    assert [e["status"] for e in fake.log[:4]] == [429, 429, 429, 200]
    assert_exact_mirror(fake, R.Context())


def test_a_persistent_429_gives_up_after_a_bounded_number_of_tries(app, fake, staff, service):
    populate(staff, service, n=1)
    fake.throttle(1000)
    with pytest.raises(TargetUnavailable) as err:
        run_sync(make_settings(app, fake, SHEETS_MAX_RETRIES=3))
    assert len(fake.log) == 4
    assert err.value.params["attempts"] == 4
    run = SyncRun.select().order_by(SyncRun.id.desc()).first()
    assert run.ok is False and "429" in run.error


def test_server_errors_and_timeouts_are_retried(app, fake, staff, service):
    populate(staff, service, n=2)
    settings = make_settings(app, fake, SHEETS_TIMEOUT=0.3, SHEETS_MAX_PAYLOAD=800)
    fake.fault_at(1, "status:500")    # reading the tabs
    fake.fault_at(3, "status:503")    # creating the tabs
    fake.fault_at(6, "status:500")    # writing values
    fake.fault_at(8, "delay:0.6")     # answered too late: the client times out and asks again
    run_sync(settings)
    statuses = [e["status"] for e in fake.log]
    assert statuses[:8] == [500, 200, 503, 200, 200, 500, 200, 200]
    assert len(fake.log) > 9
    assert_exact_mirror(fake, R.Context())


def test_writes_are_paced_under_the_per_minute_quota(app, fake, staff, service):
    populate(staff, service, n=8)
    fake.quota = (3, 1.0)
    writer = make_writer(make_settings(app, fake, SHEETS_MAX_PAYLOAD=1500))
    # Under the quota with a margin, as in production (55 of Google's 60 a minute): the pacer's
    # window runs on the client's clock and the fake's on the server's, so equal limits could
    # meet at the window's edge and let scheduling jitter decide.
    writer.http.writes = Pacer(2, period=1.0)
    run_sync(make_settings(app, fake), writer=writer)
    assert len(writes(fake)) > 3
    assert all(e["status"] == 200 for e in fake.log)
    assert writer.http.writes.waited > 0


def test_pacer_waits_for_the_oldest_call_to_leave_the_minute():
    now, slept = [0.0], []
    pacer = Pacer(60, clock=lambda: now[0], sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))
    for _ in range(60):
        pacer.wait()
        now[0] += 0.5
    pacer.wait()
    assert slept == [pytest.approx(30.0)]


def test_an_unknown_spreadsheet_fails_with_the_setting_to_check(app, fake, staff, service):
    with pytest.raises(TargetUnavailable) as err:
        run_sync(make_settings(app, fake, SHEETS_SPREADSHEET_ID="nope"))
    assert "SHEETS_SPREADSHEET_ID" in err.value.message


# ---- limits ---------------------------------------------------------------------------------------------
def test_too_many_cells_is_refused_before_any_write_with_the_setting_to_change(app, fake, staff, service):
    populate(staff, service, n=3)
    writer = make_writer(make_settings(app, fake))
    writer.max_cells = 27_000    # Sheet1 alone holds 26,000
    with pytest.raises(SyncRefused) as err:
        run_sync(make_settings(app, fake), writer=writer)
    assert "SHEETS_REQUESTS_SINCE" in err.value.message
    assert writes(fake) == []


@pytest.mark.sqlite_only("PostgreSQL refuses a city over varchar(100), so no such cell can reach the sync")
def test_a_cell_over_50000_characters_is_refused_before_any_write(fake, settings, staff, service):
    make_beneficiary(city="x" * 50_001)
    with pytest.raises(SyncRefused):
        run_sync(settings)
    assert writes(fake) == []


def test_requests_since_leaves_older_requests_out(app, fake, staff, service):
    (_b, old), = populate(staff, service, n=1)
    from models import ServiceRequest
    ServiceRequest.update(created_at=datetime.datetime(2020, 1, 1)).where(ServiceRequest.id == old.id).execute()
    populate(staff, service, n=1, start=5)
    run_sync(make_settings(app, fake, SHEETS_REQUESTS_SINCE="2025-01-01"))
    numbers = [row[0] for row in fake.values(title(R.REQUESTS))[1:]]
    assert old.number not in numbers and len(numbers) == 1
    assert_exact_mirror(fake, R.Context(), requests_since=datetime.date(2025, 1, 1))


def test_dry_run_reports_and_writes_nothing(fake, settings, staff, service):
    populate(staff, service, n=3)
    report = run_sync(settings, dry_run=True)
    assert writes(fake) == []
    assert report.tab_rows["beneficiaries"] == 3
    assert report.write_requests == 2
    assert SyncRow.select().count() == 0


# ---- crashes at every point converge --------------------------------------------------------------------
def _crash_loop(app, fake, prepare, full, payload=1200):
    """For every request k of a sync, crash there (before or after it applies), rerun, check the mirror."""
    settings = make_settings(app, fake, SHEETS_MAX_RETRIES=0, SHEETS_MAX_PAYLOAD=payload)
    prepare()
    fake.reset_log()
    run_sync(settings, full=full)
    total = len(fake.log)
    assert total >= 5
    checked = 0
    for k in range(1, total + 1):
        for action in ("drop_before", "drop_after"):
            prepare()
            fake.reset_log()
            fake.fault_at(k, action)
            with pytest.raises(TargetUnavailable):
                run_sync(settings, full=full)
            run_sync(settings)
            assert_exact_mirror(fake, R.Context())
            checked += 1
    return checked


def test_a_full_sync_killed_after_any_request_converges_on_the_next_run(app, fake, staff, service):
    populate(staff, service, n=8)

    def prepare():
        fake.create()
        SyncRow.delete().execute()
        SyncTab.delete().execute()
    assert _crash_loop(app, fake, prepare, full=True) >= 10


def test_an_incremental_sync_killed_after_any_request_converges_on_the_next_run(app, fake, staff, service):
    import copy

    from models import db
    people = populate(staff, service, n=8)
    settings = make_settings(app, fake, SHEETS_MAX_PAYLOAD=1200)
    run_sync(settings)
    saved = copy.deepcopy(fake.book())
    counter = [0]

    def prepare():
        # Back to the synced sheet and state, then a new round of edits, deletions and additions.
        fake.spreadsheets["sheet-1"] = copy.deepcopy(saved)
        for model in (SyncRow, SyncTab):
            model.delete().execute()
        with db.atomic():
            for tab in saved_state["tabs"]:
                SyncTab.create(**tab)
            SyncRow.insert_many(saved_state["rows"]).execute()
        counter[0] += 1
        n = counter[0]
        b, r = people[n % len(people)]
        Beneficiary.update(city=f"مدينة {n}", updated_at=utcnow()).where(Beneficiary.id == b.id).execute()
        extra = make_beneficiary(full_name=f"جديد {n}", id_number=national_id(1000 + n))
        lonely = make_beneficiary(full_name=f"عابر {n}", id_number=national_id(5000 + n))
        Beneficiary.delete().where(Beneficiary.id == lonely.id).execute()
        VerificationVisit.delete().where(VerificationVisit.request == people[(n + 1) % len(people)][1].id).execute()
        VerificationVisit.create(request=r, method="interview", outcome="more_information")
        assert extra.id

    saved_state = {"tabs": [dict(t.__data__) for t in SyncTab.select()],
                   "rows": [dict(r.__data__) for r in SyncRow.select()]}
    for row in saved_state["rows"]:
        row.pop("id")
    assert _crash_loop(app, fake, prepare, full=False, payload=500) >= 10


def test_a_process_killed_mid_sync_converges_on_the_next_run(app, fake, staff, service, tmp_path):
    """A real kill -9 of `flask sheets-sync` while it writes: the next run repairs the sheet."""
    import os
    import subprocess
    import sys
    populate(staff, service, n=10)
    env = dict(os.environ, INSTANCE_PATH=app.instance_path, DATABASE_URL=app.config["DATABASE_URL"],
               SHEETS_SPREADSHEET_ID="sheet-1", SHEETS_API_ENDPOINT=fake.url, SHEETS_MAX_RETRIES="0",
               SHEETS_MAX_PAYLOAD="1200", SECRET_KEY="x")
    from models import db
    db.close()
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "sheets-sync", "--full"], env=env,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fake.fault_at(4, f"kill:{proc.pid}")
    proc.wait(timeout=60)
    db.connect(reuse_if_open=True)
    assert proc.returncode == -9
    assert len(fake.log) == 4
    run_sync(make_settings(app, fake))
    assert_exact_mirror(fake, R.Context())
