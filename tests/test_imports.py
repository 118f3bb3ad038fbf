"""Import of existing records from Excel and CSV: preview, written rows, rejected rows, re-import (P6.2, P6.6)."""
import datetime
import io
import sys
from pathlib import Path

import pytest
from conftest import make_beneficiary
from openpyxl import load_workbook

from models import (
    AuditLog,
    Beneficiary,
    ColumnMapping,
    Demonym,
    DuplicateCandidate,
    ImportBatch,
    ImportedRecord,
    Notification,
    RequestTransition,
    ServiceRequest,
)
from services import imports
from services.dates import hijri_to_gregorian, utc_midnight
from services.errors import PermissionDenied, ValidationError
from services.import_columns import IGNORED
from services.import_values import nationality_lookup, parse_date

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
import make_samples as samples  # noqa: E402


@pytest.fixture
def files(tmp_path):
    return samples.make_all(tmp_path / "samples")


@pytest.fixture
def manager(staff):
    return staff["manager"]


@pytest.fixture
def import_dir(app):
    return app.config["IMPORT_DIR"]


def batch_of(path, manager, import_dir):
    return imports.create_batch(path, Path(path).name, import_dir, manager)


# The sample workbook's columns no field matches: its serial number, the unnamed half of a merged
# header and an old file number. A user ignores them on the mapping page before importing.
SAMPLE_UNMATCHED = ("م", "J", "رقم الملف القديم")


def decided(batch, manager, ignore=SAMPLE_UNMATCHED):
    """Ignore the columns no field matches, as a user does on the mapping page; return the batch."""
    imports.choose_columns(batch, [(column, IGNORED) for column in ignore], manager)
    return ImportBatch.get_by_id(batch.id)


def rejected_by_row(report, sheet):
    return {r["row"]: r for r in report["rejected"] if r["sheet"] == sheet}


# ---- the dry run ------------------------------------------------------------------------------------
def test_dry_run_classifies_every_row_of_a_messy_workbook_and_writes_nothing(files, manager, import_dir,
                                                                            service):
    """Merged title row, blank line, Arabic-Indic digits, Hijri dates, duplicates, formulas: a preview, no rows (P6.2)."""
    batch = batch_of(files["xlsx"], manager, import_dir)
    sheets = imports.sheets_of(batch)
    assert sheets["المستفيدين"]["header_row"] == 2  # the merged title row above was skipped
    assert sheets["المستفيدين"]["kind"] == "beneficiaries" and sheets["الطلبات"]["kind"] == "requests"
    report = imports.analyse(batch, manager)
    by_sheet = {s["name"]: s for s in report["sheets"]}
    assert by_sheet["المستفيدين"] == {"name": "المستفيدين", "kind": "beneficiaries", "created": 6, "updated": 0,
                                      "unchanged": 0, "rejected": 4}
    assert by_sheet["الطلبات"]["created"] == 3 and by_sheet["الطلبات"]["rejected"] == 3
    assert report["rows"] == 16  # the blank line is no row
    rejected = rejected_by_row(report, "المستفيدين")
    # An ID number is personal data: the reason names its column, not its value (the rejected-rows file has it)
    assert rejected[9]["column"] == "رقم الهوية" and rejected[9]["value"] == ""
    assert "check digit" in rejected[9]["message"]
    assert rejected[10]["column"] == "عدد أفراد الأسرة" and rejected[10]["value"] == "=2+3"
    assert "formula" in rejected[10]["message"]
    assert rejected[11]["column"] == "الجنسية" and rejected[11]["value"] == "مريخي"
    assert rejected[12]["params"] == {"row": 3}  # the duplicated row names the first
    assert Beneficiary.select().count() == 0 and ServiceRequest.select().count() == 0
    assert ImportBatch.get_by_id(batch.id).status == "ready"


def test_unmatched_columns_are_listed_for_mapping_by_hand(files, manager, import_dir):
    """The serial column, the unnamed half of a merged header and an unknown column are shown, not guessed."""
    batch = batch_of(files["xlsx"], manager, import_dir)
    assert imports.undecided_columns(batch)["المستفيدين"] == ["م", "", "رقم الملف القديم"]
    mapping = imports.sheets_of(batch)["المستفيدين"]["mapping"]
    assert mapping[0] == "" and mapping[9] == "" and mapping[10] == ""


def test_mapping_chosen_by_hand_is_remembered_for_the_same_headers(files, manager, import_dir):
    first = batch_of(files["bom"], manager, import_dir)
    mapping = imports.sheets_of(first)["CSV"]["mapping"]
    assert mapping[-1] == ""  # "Extra column"
    imports.set_mapping(first, "CSV", "beneficiaries", mapping[:-1] + ["notes"], manager)
    again = batch_of(files["cp1256"], manager, import_dir)  # same header row, other encoding
    sheet = imports.sheets_of(again)["CSV"]
    assert sheet["remembered"] and sheet["mapping"][-1] == "notes"
    assert ColumnMapping.select().count() == 1


def test_mapping_refuses_one_field_from_two_columns(files, manager, import_dir):
    batch = batch_of(files["bom"], manager, import_dir)
    with pytest.raises(ValidationError):
        imports.set_mapping(batch, "CSV", "beneficiaries", ["full_name", "full_name", "", "", "", ""], manager)


# ---- the commit ---------------------------------------------------------------------------------------
def test_commit_writes_normalised_beneficiaries_with_legacy_consent(files, manager, import_dir, service):
    """IDs and phones normalised as the forms do, Hijri and serial dates converted, nationalities to ISO codes."""
    batch = decided(batch_of(files["xlsx"], manager, import_dir), manager)
    report = imports.commit(batch, manager)
    assert report["counts"]["created"] == 9 and report["counts"]["rejected"] == 7
    saudi = Beneficiary.get(Beneficiary.id_number == samples.SAUDI)
    assert saudi.reference.startswith("BEN-") and saudi.id_type == "national_id" and saudi.nationality == "SA"
    assert saudi.mobile == "+966501234567" and saudi.family_size == 5 and saudi.category is None
    h = hijri_to_gregorian(1400, 5, 12)
    assert saudi.birth_date == datetime.date(h.year, h.month, h.day)
    yemeni = Beneficiary.get(Beneficiary.id_number == samples.YEMENI)
    assert yemeni.full_name == "علي صالح باوزير" and yemeni.id_type == "iqama" and yemeni.nationality == "YE"
    assert yemeni.birth_date == datetime.date(1985, 3, 15) and yemeni.mobile == "+966501234568"
    pakistani = Beneficiary.get(Beneficiary.id_number == samples.PAKISTANI)
    assert (pakistani.nationality, pakistani.gender, pakistani.family_size) == ("PK", "male", 4)
    filipina = Beneficiary.get(Beneficiary.id_number == samples.FILIPINO)
    assert filipina.nationality == "PH" and filipina.birth_date == datetime.date(1990, 5, 7)  # Excel serial 33000
    assert filipina.mobile == "+966501234570"  # typed in Arabic-Indic digits
    assert Beneficiary.get(Beneficiary.id_number == samples.EGYPTIAN).mobile == "+966501234571"  # typed as a number
    assert Beneficiary.get(Beneficiary.id_number == samples.NUMERIC_ID).birth_date == datetime.date(2024, 9, 18)
    record = ImportedRecord.get(ImportedRecord.beneficiary == saudi)
    assert (record.consent_basis, record.batch.file_name, record.batch.sha256) == (
        "legacy", "legacy_beneficiaries.xlsx", imports.file_sha256(files["xlsx"]))
    assert saudi.consent_at is not None
    summary = AuditLog.get((AuditLog.action == "import") & (AuditLog.model == "ImportBatch"))
    assert '"sha256": "%s"' % batch.sha256 in summary.details and "legacy_beneficiaries.xlsx" in summary.details
    assert AuditLog.select().where((AuditLog.action == "import") & (AuditLog.model == "Beneficiary")).count() == 6


def test_imported_past_requests_keep_status_and_dates_and_queue_no_message(files, manager, import_dir, service):
    """History is recorded with check_guards=False; no message goes to a beneficiary (P6.4 is for live decisions)."""
    imports.commit(decided(batch_of(files["xlsx"], manager, import_dir), manager), manager)
    saudi = Beneficiary.get(Beneficiary.id_number == samples.SAUDI)
    closed = ServiceRequest.get(ServiceRequest.beneficiary == saudi)
    submitted = hijri_to_gregorian(1445, 1, 10)
    assert closed.status == "closed" and closed.decision == "approved"
    assert closed.submitted_at == utc_midnight(datetime.date(submitted.year, submitted.month, submitted.day))
    steps = [t.to_status for t in closed.transitions.order_by(RequestTransition.id)]
    assert steps == ["submitted", "under_verification", "under_evaluation", "approved", "delivered", "closed"]
    yemeni = Beneficiary.get(Beneficiary.id_number == samples.YEMENI)
    rejected = ServiceRequest.get(ServiceRequest.beneficiary == yemeni)
    assert (rejected.status, rejected.decision, rejected.decision_reason) == ("rejected", "rejected", "الدخل كاف")
    assert rejected.decided_at == utc_midnight(datetime.date(2023, 5, 10))
    assert Notification.select().count() == 0


def test_open_request_clashing_with_another_open_one_is_rejected_with_the_reason(files, manager, import_dir, service):
    """One open request per beneficiary and service (P6.6): the second open row of the file is refused."""
    report = imports.commit(decided(batch_of(files["xlsx"], manager, import_dir), manager), manager)
    clash = rejected_by_row(report, "الطلبات")[5]
    assert "already has an open request" in clash["message"] and clash["value"] == "قيد التحقق"
    pakistani = Beneficiary.get(Beneficiary.id_number == samples.PAKISTANI)
    assert [r.status for r in pakistani.requests] == ["under_evaluation"]


def test_open_request_clashing_with_the_database_is_rejected(tmp_path, manager, import_dir, service):
    from conftest import make_request
    b = make_beneficiary()
    make_request(b, service, status="submitted")
    path = tmp_path / "requests.csv"
    path.write_text(f"رقم الهوية,الخدمة,الحالة,تاريخ الطلب\n{b.id_number},سلة غذائية,قيد الدراسة,2024-01-01\n",
                    encoding="utf-8")
    report = imports.analyse(batch_of(path, manager, import_dir), manager)
    assert report["counts"]["rejected"] == 1
    assert "already has an open request" in report["rejected"][0]["message"]


def test_rejected_rows_come_back_as_xlsx_with_the_original_columns_and_an_error_column(files, manager, import_dir,
                                                                                       service):
    batch = decided(batch_of(files["xlsx"], manager, import_dir), manager)
    imports.commit(batch, manager)
    book = load_workbook(ImportBatch.get_by_id(batch.id).rejected_path)
    sheet = list(book["المستفيدين"].values)
    assert list(sheet[0]) == ["م", "الاسم", "رقم الهوية", "الجنسية", "الجوال", "تاريخ الميلاد", "الجنس",
                              "عدد أفراد الأسرة", "ملاحظات", None, "رقم الملف القديم", "Errors"]
    assert len(sheet) == 5
    bad = next(row for row in sheet if row[2] == samples.BAD_CHECK)
    assert bad[1] == "خالد الحربي" and "رقم الهوية" in bad[-1] and "check digit" in bad[-1]
    formula = next(row for row in sheet if row[1] == "سالم علي")
    assert formula[7] == "=2+3"  # kept as text, never evaluated
    assert book["المستفيدين"]["H3"].data_type == "s"
    assert len(list(book["الطلبات"].values)) == 4


def test_reimporting_the_same_file_changes_nothing(files, manager, import_dir, service):
    imports.commit(decided(batch_of(files["xlsx"], manager, import_dir), manager), manager)
    stamps = {b.id: b.updated_at for b in Beneficiary.select()}
    counts = (Beneficiary.select().count(), ServiceRequest.select().count(), RequestTransition.select().count())
    audits = AuditLog.select().where(AuditLog.model.in_(["Beneficiary", "ServiceRequest"])).count()
    again = imports.commit(batch_of(files["xlsx"], manager, import_dir), manager)  # the choice is remembered
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 9, "rejected": 7}
    assert again["same_file"]["file"] == "legacy_beneficiaries.xlsx"
    assert {b.id: b.updated_at for b in Beneficiary.select()} == stamps
    assert (Beneficiary.select().count(), ServiceRequest.select().count(),
            RequestTransition.select().count()) == counts
    assert AuditLog.select().where(AuditLog.model.in_(["Beneficiary", "ServiceRequest"])).count() == audits


def test_matched_beneficiary_gets_only_the_cells_the_file_fills(tmp_path, manager, import_dir):
    """An empty cell never blanks a stored value; the update is audited field by field."""
    b = make_beneficiary(email="ahmad@example.org", city="بحرة", family_size=3)
    path = tmp_path / "update.csv"
    path.write_text(f"الاسم,السجل المدني,الجوال,المدينة,البريد الإلكتروني\n"
                    f"أحمد محمد,{b.id_number},0559876543,,\n", encoding="utf-8")
    report = imports.commit(batch_of(path, manager, import_dir), manager)
    assert report["counts"]["updated"] == 1
    b = Beneficiary.get_by_id(b.id)
    assert (b.mobile, b.city, b.email, b.family_size) == ("+966559876543", "بحرة", "ahmad@example.org", 3)
    entry = AuditLog.get((AuditLog.action == "import") & (AuditLog.model == "Beneficiary"))
    assert "+966559876543" in entry.changes and "city" not in entry.changes
    assert ImportedRecord.get(ImportedRecord.beneficiary == b).action == "updated"


@pytest.mark.parametrize("name", ["cp1256", "bom"])
def test_csv_in_windows_1256_or_utf8_with_bom_reads_arabic(files, manager, import_dir, name):
    report = imports.commit(decided(batch_of(files[name], manager, import_dir), manager, ["Extra column"]), manager)
    assert report["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert Beneficiary.get(Beneficiary.id_number == samples.CSV_IDS[1]).full_name == "نورة الزهراني"
    assert Beneficiary.get(Beneficiary.id_number == samples.CSV_IDS[0]).nationality == "SA"
    assert report["rejected"][0]["row"] == 5 and report["rejected"][0]["column"] == "Mobile"


def test_possible_duplicates_within_the_file_and_against_the_database(tmp_path, manager, import_dir):
    """Same mobile, or same name and birth date: listed in the preview, stored for review after the commit (P6.6)."""
    make_beneficiary(mobile="0501111111")
    path = tmp_path / "dups.csv"
    path.write_text("Name,ID,Mobile,الجنسية,تاريخ الميلاد\n"
                    f"سالم,{samples.national_id(40, '2')},0501111111,يمني,1990-01-01\n"
                    f"هند,{samples.national_id(41, '2')},0502222222,يمني,1991-01-01\n"
                    f"هنـد,{samples.national_id(42, '2')},0503333333,يمني,1991-01-01\n", encoding="utf-8")
    batch = batch_of(path, manager, import_dir)
    report = imports.analyse(batch, manager)
    found = {(d["row"], d["reason"]): d for d in report["duplicates"]}
    assert found[(2, "mobile")]["other"] == "BEN-000001"
    assert found[(4, "name_birth")]["other_row"] == 3
    imports.commit(ImportBatch.get_by_id(batch.id), manager)
    assert DuplicateCandidate.select().count() == 2


def test_nationality_names_from_cldr_and_the_editable_table():
    parse = nationality_lookup(dict(Demonym.select(Demonym.key, Demonym.country).tuples()))
    assert [parse(v) for v in ("سعودي", "سعودية", "السعودية", "باكستانية", "Filipino", "Pakistan", "الفلبين",
                               "eg", "اليمن")] == ["SA", "SA", "SA", "PK", "PH", "PK", "PH", "EG", "YE"]
    with pytest.raises(ValidationError):
        parse("مريخي")


def test_an_administrator_adds_a_nationality_name(client, login_as):
    login_as("manager")
    response = client.post("/admin/demonym/new/", data={"text": "مريخي", "country": "sa"})
    assert response.status_code == 302
    assert Demonym.get(Demonym.text == "مريخي").country == "SA"
    assert client.post("/admin/demonym/new/", data={"text": "مريخى", "country": "SA"}).status_code == 200
    assert Demonym.select().where(Demonym.country == "SA", Demonym.text.startswith("مريخ")).count() == 1


@pytest.mark.parametrize("value, expected", [
    ("1446/03/15", datetime.date(2024, 9, 18)), ("15/03/1446", datetime.date(2024, 9, 18)),
    ("١٤٤٦/٠٣/١٥ هـ", datetime.date(2024, 9, 18)), ("18/09/2024", datetime.date(2024, 9, 18)),
    ("2024-09-18", datetime.date(2024, 9, 18)), (45553, datetime.date(2024, 9, 18)),
    ("45553", datetime.date(2024, 9, 18)), (datetime.datetime(2024, 9, 18, 10, 0), datetime.date(2024, 9, 18)),
    ("", None),
])
def test_dates_are_read_as_hijri_or_gregorian(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["31/02/2024", "18/09/24", "next week", "1446/13/01"])
def test_unreadable_dates_are_refused(value):
    with pytest.raises(ValidationError):
        parse_date(value)


def test_only_managers_and_admins_import(files, staff, import_dir):
    with pytest.raises(PermissionDenied):
        imports.create_batch(files["bom"], "x.csv", import_dir, staff["researcher"])


def test_a_file_that_is_not_a_workbook_is_refused_with_a_message(tmp_path, manager, import_dir):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValidationError, match="cannot be read"):
        batch_of(path, manager, import_dir)
    assert ImportBatch.select().count() == 0


# ---- the screen -------------------------------------------------------------------------------------------
def upload(client, path):
    return client.post("/admin/imports/upload", data={"file": (io.BytesIO(Path(path).read_bytes()), Path(path).name)},
                       content_type="multipart/form-data")


def test_manager_uploads_maps_previews_confirms_and_downloads_the_rejected_rows(client, login_as, files, service):
    client.get("/lang/en")
    login_as("manager")
    response = upload(client, files["xlsx"])
    assert response.status_code == 302 and "/mapping" in response.headers["Location"]
    batch = ImportBatch.get()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not recognised" in page and "رقم الملف القديم" in page
    form = {"kind-0": "beneficiaries", "kind-1": "requests"}
    for sheet_index, sheet in enumerate(imports.sheets_of(batch).values()):
        for i, field in enumerate(sheet["mapping"]):
            form[f"col-{sheet_index}-{i}"] = field
    for index in (0, 9, 10):  # the serial, the unnamed and the old file number columns: ignored by hand
        form[f"col-0-{index}"] = IGNORED
    preview = client.post(f"/admin/imports/{batch.id}/mapping/save", data=form, follow_redirects=True)
    html = preview.get_data(as_text=True)
    assert "Preview: nothing has been written yet" in html
    # A nationality is shown as the file has it; an ID number (personal data) is not repeated.
    assert "check digit" in html and "مريخي" in html and samples.BAD_CHECK not in html
    assert Beneficiary.select().count() == 0
    result = client.post(f"/admin/imports/{batch.id}/commit", follow_redirects=True).get_data(as_text=True)
    assert "Result" in result and Beneficiary.select().count() == 6
    download = client.get(f"/admin/imports/{batch.id}/rejected.xlsx")
    assert download.status_code == 200
    assert load_workbook(io.BytesIO(download.data))["المستفيدين"].max_row == 5


def test_upload_without_a_file_or_of_another_format_says_so(client, login_as, tmp_path):
    client.get("/lang/en")
    login_as("manager")
    assert "Choose the file to import." in client.post("/admin/imports/upload", follow_redirects=True).get_data(
        as_text=True)
    other = tmp_path / "notes.pdf"
    other.write_bytes(b"%PDF")
    assert "Choose an Excel file" in client.post(
        "/admin/imports/upload", data={"file": (io.BytesIO(b"%PDF"), "notes.pdf")},
        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)


def test_a_large_file_runs_in_the_background_worker_with_progress(app, client, login_as, files, monkeypatch, service):
    """Beyond IMPORT_BACKGROUND_ROWS the dry run and the commit go through the huey task (immediate mode here)."""
    from tasks import queue
    monkeypatch.setattr(queue, "_app", app)
    monkeypatch.setattr(queue.huey, "immediate", True)
    app.config["IMPORT_BACKGROUND_ROWS"] = 1
    client.get("/lang/en")
    login_as("manager")
    response = upload(client, files["bom"])
    batch = ImportBatch.get()
    page = client.post(f"/admin/imports/{batch.id}/mapping/save", data={"kind-0": "beneficiaries", **{
        f"col-0-{i}": f or IGNORED for i, f in enumerate(imports.sheets_of(batch)["CSV"]["mapping"])}},
        follow_redirects=True)
    assert "this runs in the background" in page.get_data(as_text=True)
    assert ImportBatch.get_by_id(batch.id).status == "ready"
    progress = client.get(f"/admin/imports/{batch.id}/progress").get_json()
    assert progress["running"] is False and progress["processed"] == 3
    client.post(f"/admin/imports/{batch.id}/commit")
    assert ImportBatch.get_by_id(batch.id).status == "done" and Beneficiary.select().count() == 2
    assert response.status_code == 302


# ---- the command line ----------------------------------------------------------------------------------------
def test_command_line_dry_run_and_import(app, files, service):
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import", str(files["xlsx"]), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would create 9" in dry.output and "rejected 7" in dry.output and Beneficiary.select().count() == 0
    done = runner.invoke(args=["import", str(files["xlsx"]), "--sheet", "المستفيدين", "--ignore", "م",
                               "--ignore", "J", "--ignore", "رقم الملف القديم"])
    assert done.exit_code == 0, done.output
    assert "created 6" in done.output and ServiceRequest.select().count() == 0
    assert Beneficiary.select().count() == 6


def test_command_line_exits_non_zero_on_an_unreadable_file(app, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"junk")
    result = app.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code == 1 and "import failed" in result.output


def test_a_text_longer_than_its_column_is_a_rejected_row_not_a_failed_import(app, manager, import_dir, tmp_path):
    """PostgreSQL refuses a value longer than its column (SQLite stores it): the row is refused with the reason."""
    import csv
    path = tmp_path / "long.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(["الاسم", "نوع الهوية", "رقم الهوية", "الجنسية", "المدينة"])
        writer.writerow(["أحمد محمد", "هوية وطنية", "1000000008", "سعودي", "ب" * 101])
        writer.writerow(["مريم علي", "إقامة", "2000000006", "يمني", "بحرة"])
    batch = batch_of(path, manager, import_dir)
    report = imports.commit(batch, manager)
    assert report["counts"]["created"] == 1 and report["counts"]["rejected"] == 1
    (refused,) = report["rejected"]
    assert refused["row"] == 2 and refused["params"] == {"limit": 100}
    assert [b.full_name for b in Beneficiary.select()] == ["مريم علي"]
