"""No column dropped in silence (issue 25): every column mapped or ignored, headers as people write them,
reasons that name the cell at fault."""
import csv
import datetime
import io
import sys
from pathlib import Path

import pytest

from models import AuditLog, Beneficiary, ColumnMapping, ImportBatch, ImportedRecord
from services import imports
from services.dates import hijri_to_gregorian
from services.import_columns import IGNORED, UnmappedColumns
from services.import_values import calendar_of, match_column, parse_date

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
import make_samples as samples  # noqa: E402

FIRST, SECOND = samples.national_id(31), samples.national_id(32, "2")


@pytest.fixture
def manager(staff):
    return staff["manager"]


@pytest.fixture
def import_dir(app):
    return app.config["IMPORT_DIR"]


def write_csv(path: Path, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh).writerows(rows)
    return path


@pytest.fixture
def old_file_numbers(tmp_path):
    """Two beneficiaries and a column no field matches: the association's old file numbers."""
    return write_csv(tmp_path / "old-numbers.csv", [
        ["الاسم", "رقم الهوية", "الجنسية", "رقم الملف"],
        ["محمد أحمد", FIRST, "سعودي", "A-17"],
        ["علي صالح", SECOND, "يمني", "A-18"],
    ])


def batch_of(path, manager, import_dir):
    return imports.create_batch(path, Path(path).name, import_dir, manager)


def nothing_written():
    return (Beneficiary.select().count(), ImportedRecord.select().count(),
            AuditLog.select().where(AuditLog.action == "import").count()) == (0, 0, 0)


# ---- every column mapped or ignored -----------------------------------------------------------------
def test_the_dry_run_names_a_column_no_field_matches_with_its_values(old_file_numbers, manager, import_dir):
    report = imports.analyse(batch_of(old_file_numbers, manager, import_dir), manager)
    assert report["columns"] == [{"sheet": "CSV", "index": 3, "letter": "D", "header": "رقم الملف",
                                  "ignored": False, "filled": 2, "samples": ["A-17", "A-18"]}]


def test_the_commit_is_refused_while_a_column_with_values_is_undecided_and_nothing_is_written(
        old_file_numbers, manager, import_dir):
    batch = batch_of(old_file_numbers, manager, import_dir)
    imports.analyse(batch, manager)
    with pytest.raises(UnmappedColumns) as refused:
        imports.commit(ImportBatch.get_by_id(batch.id), manager)
    assert "«رقم الملف» (D): A-17, A-18" in str(refused.value) and "mapping page" in str(refused.value)
    assert nothing_written() and ImportBatch.get_by_id(batch.id).status == "ready"
    imports.choose_columns(batch, [("رقم الملف", IGNORED)], manager)
    imports.analyse(ImportBatch.get_by_id(batch.id), manager)
    report = imports.commit(ImportBatch.get_by_id(batch.id), manager)
    assert report["counts"]["created"] == 2 and report["columns"][0]["ignored"]


def test_a_commit_without_a_dry_run_is_refused_too(old_file_numbers, manager, import_dir):
    with pytest.raises(UnmappedColumns):
        imports.commit(batch_of(old_file_numbers, manager, import_dir), manager)
    assert nothing_written()


def test_a_column_mapped_by_hand_is_imported_and_the_choice_is_remembered(old_file_numbers, manager, import_dir,
                                                                         tmp_path):
    batch = batch_of(old_file_numbers, manager, import_dir)
    imports.choose_columns(batch, [("رقم الملف", "notes")], manager)
    imports.commit(ImportBatch.get_by_id(batch.id), manager)
    assert Beneficiary.get(Beneficiary.id_number == FIRST).notes == "A-17"
    again = batch_of(write_csv(tmp_path / "next.csv", [["الاسم", "رقم الهوية", "الجنسية", "رقم الملف"]]), manager,
                     import_dir)
    sheet = imports.sheets_of(again)["CSV"]
    assert sheet["remembered"] and sheet["mapping"][3] == "notes" and ColumnMapping.select().count() == 1


def test_an_ignored_column_is_remembered_for_the_next_file_with_the_same_header(old_file_numbers, manager,
                                                                               import_dir):
    imports.choose_columns(batch_of(old_file_numbers, manager, import_dir), [("رقم الملف", IGNORED)], manager)
    report = imports.commit(batch_of(old_file_numbers, manager, import_dir), manager)
    assert report["counts"]["created"] == 2
    assert [(c["header"], c["ignored"], c["filled"]) for c in report["columns"]] == [("رقم الملف", True, 2)]


def test_an_empty_column_no_field_matches_does_not_stop_the_import(tmp_path, manager, import_dir):
    path = write_csv(tmp_path / "empty-column.csv", [["الاسم", "رقم الهوية", "الجنسية", "ملاحظات المشرف"],
                                                     ["محمد أحمد", FIRST, "سعودي", ""]])
    report = imports.commit(batch_of(path, manager, import_dir), manager)
    assert report["counts"]["created"] == 1
    assert [(c["header"], c["filled"]) for c in report["columns"]] == [("ملاحظات المشرف", 0)]


def test_a_value_beyond_the_header_row_is_a_column_too(tmp_path, manager, import_dir):
    """A note typed in a column without a header, far below the first rows, is found and must be decided."""
    rows = [["الاسم", "رقم الهوية", "الجنسية"]]
    rows += [[f"مستفيد {i}", samples.national_id(100 + i, "2"), "يمني"] for i in range(20)]
    rows[18].append("انتقل إلى جدة")
    path = write_csv(tmp_path / "beyond.csv", rows)
    batch = batch_of(path, manager, import_dir)
    assert imports.sheets_of(batch)["CSV"]["headers"] == ["الاسم", "رقم الهوية", "الجنسية"]
    report = imports.analyse(batch, manager)
    assert [(c["letter"], c["header"], c["samples"]) for c in report["columns"]] == [("D", "", ["انتقل إلى جدة"])]
    assert imports.sheets_of(ImportBatch.get_by_id(batch.id))["CSV"]["headers"][3] == ""  # on the mapping page now
    with pytest.raises(UnmappedColumns):
        imports.commit(ImportBatch.get_by_id(batch.id), manager)
    imports.choose_columns(ImportBatch.get_by_id(batch.id), [("D", "notes")], manager)
    imports.commit(ImportBatch.get_by_id(batch.id), manager)
    assert Beneficiary.get(Beneficiary.full_name == "مستفيد 17").notes == "انتقل إلى جدة"
    assert imports.sheets_of(batch_of(path, manager, import_dir))["CSV"]["mapping"] == [
        "full_name", "id_number", "nationality", "notes"]  # remembered for the same layout


def test_command_line_names_the_column_and_refuses_until_it_is_mapped_or_ignored(app, old_file_numbers):
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import", str(old_file_numbers), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "«رقم الملف» (D): A-17, A-18" in dry.output and '--ignore "رقم الملف"' in dry.output
    refused = runner.invoke(args=["import", str(old_file_numbers)])
    assert refused.exit_code == 1 and "«رقم الملف» (D)" in refused.output
    assert '--map "رقم الملف=FIELD"' in refused.output and '--ignore "رقم الملف"' in refused.output
    assert nothing_written()
    done = runner.invoke(args=["import", str(old_file_numbers), "--map", "رقم الملف=notes"])
    assert done.exit_code == 0, done.output
    assert Beneficiary.get(Beneficiary.id_number == SECOND).notes == "A-18"


def test_command_line_refuses_a_column_the_file_does_not_have(app, old_file_numbers):
    result = app.test_cli_runner().invoke(args=["import", str(old_file_numbers), "--ignore", "رقم القيد"])
    assert result.exit_code == 1 and "رقم القيد" in result.output and nothing_written()


def upload(client, path):
    return client.post("/admin/imports/upload", data={"file": (io.BytesIO(Path(path).read_bytes()), Path(path).name)},
                       content_type="multipart/form-data")


def test_the_preview_lists_the_column_and_the_import_waits_until_it_is_decided(client, login_as, old_file_numbers):
    client.get("/lang/en")
    login_as("manager")
    upload(client, old_file_numbers)
    batch = ImportBatch.get()
    form = {"kind-0": "beneficiaries", **{f"col-0-{i}": f for i, f in
                                          enumerate(imports.sheets_of(batch)["CSV"]["mapping"])}}
    mapping = client.get(f"/admin/imports/{batch.id}/mapping").get_data(as_text=True)
    assert "not recognised" in mapping and "Ignore this column" in mapping
    preview = client.post(f"/admin/imports/{batch.id}/mapping/save", data=form,
                          follow_redirects=True).get_data(as_text=True)
    assert "Columns not imported" in preview and "رقم الملف" in preview and "A-17" in preview
    assert "Nothing can be imported while a column with values" in preview and "valid rows" not in preview
    refused = client.post(f"/admin/imports/{batch.id}/commit", follow_redirects=True).get_data(as_text=True)
    assert "not yet decided: «رقم الملف» (D): A-17, A-18" in refused and nothing_written()
    form["col-0-3"] = IGNORED
    preview = client.post(f"/admin/imports/{batch.id}/mapping/save", data=form,
                          follow_redirects=True).get_data(as_text=True)
    assert "Import the 2 valid rows" in preview and "Ignored" in preview
    client.post(f"/admin/imports/{batch.id}/commit")
    assert Beneficiary.select().count() == 2


# ---- headers as people write them ------------------------------------------------------------------
HEADERS = [
    # Arabic, beneficiaries
    ("رقم الهويه", "beneficiaries", "id_number", None),
    ("الجوال/الهاتف", "beneficiaries", "mobile", None),
    ("الإسم الرباعي", "beneficiaries", "full_name", None),
    ("تاريخ الميلاد (هجري)", "beneficiaries", "birth_date", "hijri"),
    ("تاريخ الميلاد (ميلادي)", "beneficiaries", "birth_date", "gregorian"),
    ("تاريخ الميلاد هـ", "beneficiaries", "birth_date", "hijri"),
    ("تاريخ الميلاد - هجري", "beneficiaries", "birth_date", "hijri"),
    ("تاريخ الميلاد/م", "beneficiaries", "birth_date", "gregorian"),
    ("تاريخ الميلاد (بالتقويم الهجري)", "beneficiaries", "birth_date", "hijri"),
    ("تاريخ ميلاد المستفيد", "beneficiaries", "birth_date", None),
    ("رقم الهوية / الإقامة", "beneficiaries", "id_number", None),
    ("رقم الهوية الوطنية", "beneficiaries", "id_number", None),
    ("السجل المدني", "beneficiaries", "id_number", None),
    ("رقم الاقامه", "beneficiaries", "id_number", None),
    ("اسم المستفيد (رباعي)", "beneficiaries", "full_name", None),
    ("الاسم الثلاثي", "beneficiaries", "full_name", None),
    ("الجنسيه", "beneficiaries", "nationality", None),
    ("الجنس (ذكر/أنثى)", "beneficiaries", "gender", None),
    ("رقم الجوال (واتساب)", "beneficiaries", "mobile", None),
    ("جوال المستفيد", "beneficiaries", "mobile", None),
    ("رقم الجوال 2", "beneficiaries", "mobile", None),
    ("عدد افراد الاسره", "beneficiaries", "family_size", None),
    ("المدينه", "beneficiaries", "city", None),
    ("الحي / المنطقة", "beneficiaries", "district", None),
    ("البريد الالكتروني", "beneficiaries", "email", None),
    ("نوع الهويه", "beneficiaries", "id_type", None),
    ("الاسم (بالإنجليزي)", "beneficiaries", "latin_name", None),
    ("الفئه", "beneficiaries", "category", None),
    ("الملاحظات:", "beneficiaries", "notes", None),
    # English, beneficiaries
    ("DOB (Hijri)", "beneficiaries", "birth_date", "hijri"),
    ("Date of Birth (Gregorian)", "beneficiaries", "birth_date", "gregorian"),
    ("Birth date [AH]", "beneficiaries", "birth_date", "hijri"),
    ("Date of birth - Hijri", "beneficiaries", "birth_date", "hijri"),
    ("Full Name", "beneficiaries", "full_name", None),
    ("Name (English)", "beneficiaries", "latin_name", None),
    ("Name (Arabic)", "beneficiaries", "full_name", None),
    ("Mobile/Phone", "beneficiaries", "mobile", None),
    ("Phone No.", "beneficiaries", "mobile", None),
    ("Mobile Number (WhatsApp)", "beneficiaries", "mobile", None),
    ("Beneficiary mobile", "beneficiaries", "mobile", None),
    ("ID / Iqama No.", "beneficiaries", "id_number", None),
    ("National ID No", "beneficiaries", "id_number", None),
    ("Nationality / الجنسية", "beneficiaries", "nationality", None),
    ("Gender (M/F)", "beneficiaries", "gender", None),
    ("E-mail address", "beneficiaries", "email", None),
    ("No. of family members", "beneficiaries", "family_size", None),
    ("City / Town", "beneficiaries", "city", None),
    ("Notes (optional)", "beneficiaries", "notes", None),
    # Past requests
    ("الخدمه", "requests", "service", None),
    ("حالة الطلب", "requests", "status", None),
    ("تاريخ الطلب (هجري)", "requests", "submitted_at", "hijri"),
    ("هوية المستفيد", "requests", "id_number", None),
    ("Service / الخدمة", "requests", "service", None),
    ("Decision date (Gregorian)", "requests", "decided_at", "gregorian"),
    # Not guessed: matched to nothing, or to two fields at once
    ("م", "beneficiaries", None, None),
    ("رقم الملف القديم", "beneficiaries", None, None),
    ("المدينة/الحي", "beneficiaries", None, None),
    ("الاسم / رقم الهوية", "beneficiaries", None, None),
    ("Serial No.", "beneficiaries", None, None),
]


def test_the_header_table_has_forty_spellings_or_more():
    assert len(HEADERS) >= 40 and len({h for h, *_ in HEADERS}) == len(HEADERS)


@pytest.mark.parametrize("header, kind, field, calendar", HEADERS)
def test_headers_as_people_write_them(header, kind, field, calendar):
    """A qualifier in brackets or after a slash still matches; a calendar qualifier is kept as a hint."""
    assert (match_column(kind, header), calendar_of(header)) == (field, calendar)


@pytest.mark.parametrize("value, calendar, expected", [
    ("15/03/46", "hijri", (1446, 3, 15)), ("15/03/05", "hijri", (1405, 3, 15)),
    ("15/03/85", "gregorian", datetime.date(1985, 3, 15)), ("15/03/24", "gregorian", datetime.date(2024, 3, 15)),
    ("15/03/46 هـ", None, (1446, 3, 15)), ("14460315", None, (1446, 3, 15)),
    ("15/03/1985", "hijri", datetime.date(1985, 3, 15)),  # four digits: the year decides, not the header
])
def test_a_calendar_in_the_header_reads_two_digit_years(value, calendar, expected):
    if isinstance(expected, tuple):
        h = hijri_to_gregorian(*expected)
        expected = datetime.date(h.year, h.month, h.day)
    assert parse_date(value, "birth_date", calendar) == expected


def test_a_two_digit_year_without_a_calendar_is_refused():
    with pytest.raises(Exception, match="four digits"):
        parse_date("15/03/46", "birth_date")


# ---- the volunteers' file --------------------------------------------------------------------------
@pytest.fixture
def volunteers(tmp_path, manager, import_dir):
    """400 rows laid out as volunteers keep them, imported with the serial column ignored."""
    path = samples.volunteers_xlsx(tmp_path / "volunteers.xlsx", 400)
    return imports.import_file(path, manager, import_dir, columns=[("م", IGNORED)])


def test_every_birth_date_under_a_hijri_qualified_header_is_imported(volunteers):
    """«تاريخ الميلاد (هجري)»: Hijri and Gregorian text, Excel day numbers, date cells, two-digit Hijri years."""
    assert volunteers.status == "done" and volunteers.created_count == 395  # 1 without ID, 4 wrong check digits
    assert Beneficiary.select().where(Beneficiary.birth_date.is_null()).count() == 0

    def born(i):
        return Beneficiary.get(Beneficiary.id_number == samples.national_id(500000 + i, "1" if i % 8 == 0 else "2"))
    first = hijri_to_gregorian(1380, 1, 1)
    two_digit = hijri_to_gregorian(1404, 5, 5)
    assert born(0).birth_date == datetime.date(first.year, first.month, first.day)      # 1380/01/01
    assert born(1).birth_date == datetime.date(1951, 2, 2)                               # 02/02/1951
    assert born(2).birth_date == datetime.date(1954, 10, 5)                              # Excel day 20002
    assert born(3).birth_date == datetime.date(1963, 4, 4)                               # a date cell
    assert born(4).birth_date == datetime.date(two_digit.year, two_digit.month, two_digit.day)  # 05/05/04 (هجري)
    assert Beneficiary.get(Beneficiary.id_number == samples.national_id(500001, "2")).mobile == "+966540000001"


def test_a_missing_id_number_is_refused_for_the_id_number_column_as_the_file_spells_it(volunteers):
    report = imports.report_of(volunteers)
    (missing,) = [r for r in report["rejected"] if r["row"] == 10]  # row i=7: header on row 2, data from row 3
    assert (missing["column"], missing["message"], missing["value"]) == (
        "رقم الهويه", "The ID number is required.", "")
    assert not any("ID type" in r["message"] for r in report["rejected"])


def test_a_reason_repeats_the_cell_only_when_it_is_not_personal_data(tmp_path, manager, import_dir):
    path = write_csv(tmp_path / "reasons.csv", [
        ["الاسم", "رقم الهويه", "الجنسيه", "الجوال", "عدد افراد الاسره"],
        ["محمد أحمد", FIRST, "سعودي", "12345", "3"],
        ["علي صالح", SECOND, "مريخي", "0501234567", "كثير"],
    ])
    report = imports.analyse(batch_of(path, manager, import_dir), manager)
    reasons = {(r["row"], r["column"]): r["value"] for r in report["rejected"]}
    assert reasons == {(2, "الجوال"): "", (3, "الجنسيه"): "مريخي", (3, "عدد افراد الاسره"): "كثير"}
