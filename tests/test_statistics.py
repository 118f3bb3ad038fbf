"""The annual statistics: every breakdown sums to its total, and cells equal the lists they link to."""
import datetime
import html as html_lib
import io
import json
import re

import pytest
from conftest import make_beneficiary, make_request
from openpyxl import load_workbook
from playhouse.test_utils import count_queries

from admin_views.filters import RiyadhDayBetweenFilter
from cli import demo
from models import AuditLog, Beneficiary, Delivery, Service, ServiceRequest
from services import statistics
from services.dates import to_hijri, to_local
from services.errors import ValidationError

# The demo data (cli.demo) is submitted between May and December 2025, i.e. in Hijri 1446 and 1447.
YEARS = [(2025, "gregorian"), (1447, "hijri"), (1446, "hijri")]
LINK = re.compile(r'<a href="(/admin/servicerequest/\?[^"]+)"><bdi dir="ltr">([\d,]+)</bdi></a>')
LIST_COUNT = re.compile(r'class="nav-link active">[^<]*?\((\d+)\)')


@pytest.fixture
def generated(app):
    """Demo data with requests in every status, visits and deliveries (P5, P6)."""
    return demo.generate(40, 7)


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def submitted(beneficiary, service, when: str, **fields) -> ServiceRequest:
    """Create a request submitted at a stored (UTC) time."""
    return make_request(beneficiary, service, status="submitted", submitted_at=utc(when), **fields)


def person(number: int, **fields) -> Beneficiary:
    """Register a beneficiary with a distinct valid national ID."""
    ids = ("1000000008", "1000000016", "1000000024", "1000000032", "1000000040", "1000000057", "1000000065")
    return make_beneficiary(id_number=ids[number], full_name=f"مستفيد {number}", mobile=f"05012345{60 + number}",
                            **fields)


# ---- the service layer ------------------------------------------------------------------------

@pytest.mark.parametrize("year, calendar", YEARS)
def test_every_breakdown_sums_to_the_same_total(generated, year, calendar):
    report = statistics.annual_report(year, calendar)
    assert report.requests > 0
    for name in statistics.REQUEST_BREAKDOWNS:
        assert report.by[name].total == report.requests, name
    for name in statistics.SERVED_BREAKDOWNS:
        assert report.served_by[name].total == report.beneficiaries_served, name


@pytest.mark.parametrize("year, calendar", YEARS)
def test_total_is_every_request_submitted_in_the_year_in_riyadh_days(generated, year, calendar):
    """Counted row by row in Python, the year's requests are the report's total."""
    def year_of(day):
        return to_hijri(day).year if calendar == "hijri" else day.year
    rows = ServiceRequest.select().where(ServiceRequest.submitted_at.is_null(False))
    expected = [r for r in rows if year_of(to_local(r.submitted_at).date()) == year]
    report = statistics.annual_report(year, calendar)
    assert report.requests == len(expected)
    assert report.beneficiaries_with_requests == len({r.beneficiary_id for r in expected})


@pytest.mark.parametrize("year, calendar", YEARS)
def test_every_cell_equals_the_count_of_its_list_query(generated, year, calendar):
    """Each grouped count equals the same cell selected row by row with plain conditions."""
    report = statistics.annual_report(year, calendar)
    p = report.period
    for name, breakdown in report.by.items():
        for cell in breakdown.cells:
            assert statistics.cell_requests(p, name, cell.key).count() == cell.count, (name, cell.key)
    for name, breakdown in report.served_by.items():
        for cell in breakdown.cells:
            assert statistics.cell_served(p, name, cell.key).count() == cell.count, (name, cell.key)


def test_hijri_year_is_its_umm_al_qura_days():
    p = statistics.period(1447, "hijri")
    assert (p.first, p.last) == (datetime.date(2025, 6, 26), datetime.date(2026, 6, 15))
    assert [m for m, _first, _last in p.months] == list(range(1, 13))
    # Consecutive months, no day lost or counted twice.
    for (_m, _f, last), (_n, first, _l) in zip(p.months, p.months[1:]):
        assert first - last == datetime.timedelta(days=1)
    assert p.bounds() == (datetime.datetime(2025, 6, 25, 21, 0), datetime.datetime(2026, 6, 15, 21, 0))


def test_a_request_belongs_to_the_riyadh_day_it_was_made(app, service):
    """22:00 UTC on 31 December is 1 January in Riyadh: next year, month 1."""
    b = person(0)
    submitted(b, service, "2024-12-31 22:00")
    submitted(b, service, "2025-12-31 20:59")
    submitted(b, service, "2025-12-31 21:00")
    report = statistics.annual_report(2025, "gregorian")
    assert report.requests == 2
    assert report.by["month"].count(1) == 1 and report.by["month"].count(12) == 1
    assert statistics.annual_report(2026, "gregorian").requests == 1
    assert statistics.annual_report(2024, "gregorian").requests == 0


def test_a_draft_never_submitted_is_not_counted(app, service):
    make_request(person(0), service, status="draft", submitted_at=None)
    assert statistics.annual_report(statistics.current_year("gregorian"), "gregorian").requests == 0


def test_age_band_is_the_age_on_the_first_day_of_the_year(app, service):
    born = {"18_29": "2007-01-01", "under_18": "2007-01-02", "60_plus": "1965-01-01", "45_59": "1965-01-02"}
    for number, (band, day) in enumerate(born.items()):
        submitted(person(number, birth_date=datetime.date.fromisoformat(day)), service, "2025-03-01 09:00")
    submitted(person(5, birth_date=None), service, "2025-03-01 09:00")
    ages = statistics.annual_report(2025, "gregorian").by["age_band"]
    assert {c.key: c.count for c in ages.cells} == {
        "under_18": 1, "18_29": 1, "30_44": 0, "45_59": 1, "60_plus": 1, None: 1}


def test_missing_city_gender_and_nationality_are_counted_as_not_set(app, service):
    submitted(person(0, city=None, gender=None), service, "2025-03-01 09:00")
    b = person(1)
    Beneficiary.update(city="", nationality="").where(Beneficiary.id == b.id).execute()
    submitted(b, service, "2025-03-02 09:00")
    report = statistics.annual_report(2025, "gregorian")
    assert report.by["city"].count(None) == 2
    assert report.by["gender"].count(None) == 1
    assert report.by["nationality"].count(None) == 1
    assert all(report.by[name].total == 2 for name in statistics.REQUEST_BREAKDOWNS)


def test_sensitive_services_are_counted(app, service):
    """Aggregate numbers include sensitive services; only their rows never leave the system."""
    care = Service.create(name_ar="رعاية المهتدين الجدد", name_en="Care for new Muslims", sensitive=True)
    submitted(person(0), care, "2025-03-01 09:00")
    submitted(person(1), service, "2025-03-01 09:00")
    report = statistics.annual_report(2025, "gregorian")
    assert report.requests == 2
    assert report.by["service"].count(care.id) == 1


def test_served_are_distinct_beneficiaries_with_a_delivery_in_the_year(app, service, staff):
    """P5.7: served means something was delivered in the year, whenever the request was made."""
    other = Service.create(name_ar="كفالة", name_en="Sponsorship")
    twice, late, next_year = person(0), person(1), person(2)
    for r in (submitted(twice, service, "2025-02-01 09:00"), submitted(twice, other, "2025-03-01 09:00")):
        Delivery.create(request=r, description="سلة", delivered_at=utc("2025-04-01 09:00"))
        Delivery.create(request=r, description="سلة", delivered_at=utc("2025-05-01 09:00"))
    r = submitted(late, service, "2024-11-01 09:00")
    Delivery.create(request=r, description="سلة", delivered_at=utc("2025-01-10 09:00"))
    r = submitted(next_year, service, "2025-12-01 09:00")
    Delivery.create(request=r, description="سلة", delivered_at=utc("2025-12-31 21:30"))  # 1 January in Riyadh
    report = statistics.annual_report(2025, "gregorian")
    assert report.beneficiaries_served == 2
    assert report.deliveries == 5
    assert report.beneficiaries_with_requests == 2
    assert statistics.annual_report(2026, "gregorian").beneficiaries_served == 1


@pytest.mark.parametrize("year, calendar", [("abc", "gregorian"), ("1300", "hijri"), ("2025", "julian"),
                                            ("99999", "gregorian"), ("", "hijri")])
def test_a_bad_year_or_calendar_is_refused_with_a_message(app, year, calendar):
    with pytest.raises(ValidationError):
        statistics.annual_report(year, calendar)


def test_arabic_indic_digits_are_a_year(app):
    assert statistics.period("١٤٤٧", "hijri").year == 1447


def test_the_report_runs_a_fixed_number_of_queries_whatever_the_data(app, service):
    """GROUP BY in SQL, not a loop over rows: more data, the same queries."""
    with count_queries() as empty:
        statistics.annual_report(2025, "gregorian")
    for number in range(4):
        submitted(person(number), service, f"2025-0{number + 1}-01 09:00")
    with count_queries() as filled:
        statistics.annual_report(2025, "gregorian")
    assert filled.count == empty.count + 1  # the names of the services counted


# ---- the list each cell links to (over HTTP, as a manager) ---------------------------------------

def _cells(html: str, table: str) -> list[tuple[str, int]]:
    """Return (list URL, number) of every linked number in one table of the report page."""
    start = html.index(f'id="table-{table}"')
    section = html[start:html.index("</table>", start)]
    return [(html_lib.unescape(url), int(n.replace(",", ""))) for url, n in LINK.findall(section)]


def _list_count(client, url: str) -> int:
    page = client.get(url)
    assert page.status_code == 200, url
    match = LIST_COUNT.search(page.get_data(as_text=True))
    return int(match.group(1)) if match else 0


@pytest.mark.parametrize("year, calendar", [(2025, "gregorian"), (1447, "hijri")])
def test_year_cells_equal_the_filtered_request_list(generated, client, login_as, year, calendar):
    """Service, status, nationality and city cells and the total each equal their list's row count."""
    login_as("manager")
    page = client.get(f"/admin/statistics/?year={year}&calendar={calendar}").get_data(as_text=True)
    report = statistics.annual_report(year, calendar)
    checked = 0
    for table in ("service", "status", "nationality", "city"):
        cells = _cells(page, table)
        # Every cell but "not set" links to a list (zeros too), and so does the total (last).
        assert len(cells) == sum(1 for c in report.by[table].cells if c.key is not None) + 1
        assert cells[-1][1] == report.requests
        for url, number in cells:
            assert _list_count(client, url) == number, url
            checked += 1
    assert checked > 20


def _month_edges(service):
    """Requests on the edges of Riyadh days: the last day of May, and 1 August made before 03:00 Riyadh."""
    submitted(person(0), service, "2025-05-31 09:00")
    submitted(person(1), service, "2025-07-31 21:30")
    submitted(person(2), service, "2025-06-15 09:00")


def test_month_cells_equal_the_filtered_request_list(client, login_as, service):
    login_as("manager")
    _month_edges(service)
    page = client.get("/admin/statistics/?year=2025&calendar=gregorian").get_data(as_text=True)
    cells = _cells(page, "month")
    assert [n for _url, n in cells] == [0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 3]  # May, June, August; the total
    for url, number in cells:
        assert _list_count(client, url) == number, url


def test_riyadh_day_filter_selects_what_each_month_cell_counts(app, service):
    """The proposed list filter, applied to the request list's query, gives every month's count."""
    _month_edges(service)
    report = statistics.annual_report(2025, "gregorian")
    flt = RiyadhDayBetweenFilter(ServiceRequest.submitted_at, "Submitted at")
    for month, first, last in report.period.months:
        value = flt.clean(f"{first:%Y-%m-%d} to {last:%Y-%m-%d}")
        assert flt.apply(ServiceRequest.select(), value).count() == report.by["month"].count(month), month


# ---- the screen ---------------------------------------------------------------------------------------

def test_the_report_is_arabic_and_right_to_left_first(generated, client, login_as):
    login_as("manager")
    html = client.get("/admin/statistics/?year=2025&calendar=gregorian").get_data(as_text=True)
    assert 'dir="rtl"' in html
    assert "الخدمة" in html and "الجنسية" in html and "طلبات الخدمة" in html
    assert "اليمن" in html  # nationality names, not codes
    assert "ديسمبر" in html


def test_hijri_months_are_named(generated, client, login_as):
    login_as("manager")
    html = client.get("/admin/statistics/?year=1447&calendar=hijri").get_data(as_text=True)
    assert "محرم" in html and "جمادى الآخرة" in html


def test_the_board_reads_the_report(generated, client, login_as):
    """The figures are aggregate, so the board reads them (no ID, mobile or name in them)."""
    login_as("board")
    response = client.get("/admin/statistics/?year=2025")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert any(b.full_name in html for b in Beneficiary.select()) is False


@pytest.mark.parametrize("role", ["researcher", "volunteer"])
def test_staff_without_the_capability_are_refused(client, login_as, role):
    login_as(role)
    assert client.get("/admin/statistics/").status_code == 403
    assert client.get("/admin/statistics/xlsx/").status_code == 403


def test_a_bad_year_shows_a_message_not_an_error(client, login_as):
    login_as("manager")
    client.get("/lang/en")
    response = client.get("/admin/statistics/?year=abc&calendar=hijri")
    assert response.status_code == 200
    assert "Enter the year as a number" in response.get_data(as_text=True)
    response = client.get("/admin/statistics/xlsx/?year=1&calendar=gregorian", follow_redirects=True)
    assert "Enter a year from 1900 to 2100." in response.get_data(as_text=True)
    assert not AuditLog.select().where(AuditLog.model == "Statistics").exists()


# ---- the XLSX -------------------------------------------------------------------------------------------

def test_xlsx_has_one_right_to_left_sheet_per_breakdown_with_arabic_headers_and_numbers(generated, client, login_as):
    login_as("manager")
    client.get("/lang/en")  # the file is Arabic whatever the screen's language
    response = client.get("/admin/statistics/xlsx/?year=1447&calendar=hijri")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith("statistics_hijri_1447.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    report = statistics.annual_report(1447, "hijri")
    assert len(book.worksheets) == 1 + len(statistics.REQUEST_BREAKDOWNS) + len(statistics.SERVED_BREAKDOWNS)
    assert all(sheet.sheet_view.rightToLeft for sheet in book.worksheets)
    sheets = book.worksheets[1:1 + len(statistics.REQUEST_BREAKDOWNS)]
    headers = [sheet["A1"].value for sheet in sheets]
    assert headers[:3] == ["الخدمة", "الحالة", "الجنسية"] and headers[5] == "المدينة"
    for name, sheet in zip(statistics.REQUEST_BREAKDOWNS, sheets):
        assert sheet["B1"].value == "طلبات الخدمة"
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        counts = [count for _label, count in rows[:-1]]
        assert all(isinstance(count, int) for count in counts), name
        assert sum(counts) == rows[-1][1] == report.requests, name
    served = book.worksheets[-1]
    assert served.cell(served.max_row, 2).value == report.beneficiaries_served
    nationality = dict(sheets[2].iter_rows(min_row=2, values_only=True))
    assert nationality["المملكة العربية السعودية"] == report.by["nationality"].count("SA")
    summary = dict(book.worksheets[0].iter_rows(values_only=True))
    assert summary["طلبات الخدمة"] == report.requests


def test_xlsx_download_is_audited(generated, client, login_as):
    login_as("board")
    assert client.get("/admin/statistics/xlsx/?year=2025&calendar=gregorian").status_code == 200
    entry = AuditLog.get((AuditLog.action == "export") & (AuditLog.model == "Statistics"))
    assert entry.actor == "board"
    details = json.loads(entry.details)
    assert (details["year"], details["calendar"], details["format"]) == (2025, "gregorian", "xlsx")
    assert details["requests"] == statistics.annual_report(2025, "gregorian").requests
