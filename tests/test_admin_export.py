"""CSV export over HTTP: role-gated, audited, capped, UTF-8 with BOM, formulas neutralised."""
import csv
import datetime
import io
import json

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, Service
from services.export import csv_text, neutralise_cell


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def _rows(response):
    body = response.get_data()
    assert body.startswith("\ufeff".encode("utf-8"))
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_neutralise_cell_prefixes_formula_starts_only():
    assert [neutralise_cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "أحمد", None, 5)] == \
        ["'=1+1", "'+1", "'-2", "'@SUM(A1)", "أحمد", "", "5"]


def test_csv_text_starts_with_a_bom():
    assert csv_text(["a"], [["=x"]]) == "\ufeffa\r\n'=x\r\n"


def test_beneficiary_export_is_utf8_with_bom_escaped_and_audited(client, login_as):
    make_beneficiary(full_name='=HYPERLINK("x")', latin_name="Ahmad")
    login_as("manager")
    response = client.get("/admin/beneficiary/export/csv/?search=Ahmad")
    assert response.status_code == 200
    header, row = _rows(response)
    assert row[header.index("Full name")] == "'=HYPERLINK(\"x\")"
    # The mobile is written locally, so it is data and needs no escaping.
    assert row[header.index("Mobile")] == "0501234567"
    log = AuditLog.get(AuditLog.action == "export")
    details = json.loads(log.details)
    assert (log.actor, details["view"], details["rows"], details["search"]) == ("manager", "beneficiary", 1, "Ahmad")


def test_volunteer_cannot_export(client, login_as):
    make_beneficiary()
    login_as("volunteer")
    assert client.get("/admin/beneficiary/export/csv/").status_code == 403
    assert AuditLog.select().where(AuditLog.action == "export").count() == 0


def test_export_larger_than_the_cap_is_refused_with_a_message(app, client, login_as):
    make_beneficiary()
    make_beneficiary(full_name="سالم", id_number="1000000016", mobile=None)
    app.config["EXPORT_MAX_ROWS"] = 1
    login_as("admin")
    response = client.get("/admin/beneficiary/export/csv/", follow_redirects=True)
    assert "an export holds at most 1" in response.get_data(as_text=True)
    assert AuditLog.select().where(AuditLog.action == "export").count() == 0


def test_requests_of_sensitive_services_are_left_out_of_the_export(client, login_as, service):
    b = make_beneficiary()
    plain = make_request(b, service)
    hidden = make_request(b, Service.create(name_ar="رعاية المهتدين", name_en="New Muslims", sensitive=True))
    login_as("manager")
    text = client.get("/admin/servicerequest/export/csv/").get_data().decode("utf-8-sig")
    assert plain.number in text and hidden.number not in text


def test_exported_cells_are_plain_text_not_html(client, login_as, service):
    """Formatting that keeps numbers in order on screen (<bdi>) must not reach a spreadsheet."""
    make_request(make_beneficiary(), service)
    login_as("manager")
    text = client.get("/admin/servicerequest/export/csv/").get_data(as_text=True)
    assert "REQ-" in text and "<bdi" not in text


def _sheet(response):
    from openpyxl import load_workbook
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.get_data())).active


def test_xlsx_export_is_rtl_with_arabic_headers_real_dates_and_text_kept_as_text(client, login_as):
    make_beneficiary(full_name='=HYPERLINK("http://x")', latin_name="Ahmad", birth_date=datetime.date(1980, 5, 1))
    login_as("manager")
    client.get("/lang/ar")
    sheet = _sheet(client.get("/admin/beneficiary/export/xlsx/"))
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header, row = rows
    assert sheet.sheet_view.rightToLeft and sheet.freeze_panes == "A2"
    assert "الاسم الكامل" in header
    name = sheet.cell(row=2, column=header.index("الاسم الكامل") + 1)
    assert (name.value, name.data_type) == ('=HYPERLINK("http://x")', "s")
    assert row[header.index("الجوال")] == "0501234567"
    assert row[header.index("تاريخ الميلاد")] == datetime.datetime(1980, 5, 1)
    assert isinstance(row[header.index("تاريخ التسجيل")], datetime.datetime)
    log = AuditLog.get(AuditLog.action == "export")
    assert json.loads(log.details)["format"] == "xlsx"


def test_xlsx_export_follows_the_filter_and_the_cap(app, client, login_as, service):
    b = make_beneficiary()
    make_request(b, service, status="submitted")
    make_request(b, service)
    login_as("manager")
    sheet = _sheet(client.get("/admin/servicerequest/export/xlsx/?flt_status_equals=submitted"))
    assert sheet.max_row == 2
    app.config["EXPORT_MAX_ROWS"] = 1
    assert client.get("/admin/servicerequest/export/xlsx/").status_code == 302


def test_board_xlsx_export_has_no_id_mobile_or_email_column(client, login_as, service):
    make_beneficiary(email="a@example.org")
    make_request(make_beneficiary(id_number="1000000016", mobile="0501234568"), service, status="submitted")
    login_as("board")
    sheet = _sheet(client.get("/admin/beneficiary/export/xlsx/"))
    header = [c.value for c in next(sheet.iter_rows())]
    assert "Reference" in header and "ID number" not in header and "Mobile" not in header and "Email" not in header
    cells = {str(c.value) for row in sheet.iter_rows() for c in row}
    assert not {"1000000008", "1000000016", "0501234567", "a@example.org"} & cells
    requests = _sheet(client.get("/admin/servicerequest/export/xlsx/"))
    names = {str(c.value) for row in requests.iter_rows() for c in row}
    assert "أحمد محمد" not in " ".join(names)  # the board sees references, not names, on requests
