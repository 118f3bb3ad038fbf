"""The annual statistics screen and its XLSX: the year's figures, each linked to the list it counts."""
import datetime
import io
from dataclasses import dataclass

from babel import Locale
from flask import flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from hijridate import Hijri

from models import db
from models.choices import GENDERS, STATUSES, label
from services import audit, statistics
from services.countries import country_name
from services.errors import DomainError
from services.roles import can
from web.filters import current_lang

from .base import SecureView

# Breakdown → (table title, header of its first column).
REQUEST_TABLES = {
    "service": (_l("Requests by service"), _l("Service")),
    "status": (_l("Requests by status"), _l("Status")),
    "nationality": (_l("Requests by nationality"), _l("Nationality")),
    "gender": (_l("Requests by gender"), _l("Gender")),
    "age_band": (_l("Requests by age band"), _l("Age band")),
    "city": (_l("Requests by city"), _l("City")),
    "month": (_l("Requests by month"), _l("Month")),
}
SERVED_TABLES = {
    "nationality": (_l("Served by nationality"), _l("Nationality")),
    "gender": (_l("Served by gender"), _l("Gender")),
    "age_band": (_l("Served by age band"), _l("Age band")),
    "city": (_l("Served by city"), _l("City")),
}
CALENDAR_LABELS = {"hijri": _l("Hijri (Umm al-Qura)"), "gregorian": _l("Gregorian")}
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Row:
    label: str
    count: int
    url: str | None = None


@dataclass
class Table:
    name: str
    title: str
    header: str
    measure: str
    rows: list[Row]
    total: int
    total_url: str | None = None


class StatisticsView(SecureView):
    """The annual report's figures for a Hijri or Gregorian year, on screen and as XLSX."""

    capability = "reports.read"


    def _choice(self) -> tuple[str, str]:
        """Return the (year text, calendar) asked for, defaulting to this year in the calendar."""
        calendar = request.args.get("calendar") or "gregorian"
        year = request.args.get("year") or ""
        if not year.strip() and calendar in statistics.CALENDARS:
            year = str(statistics.current_year(calendar))
        return year, calendar

    @expose("/")
    def index(self):
        year, calendar = self._choice()
        report = tables = served = None
        try:
            report = statistics.annual_report(year, calendar)
        except DomainError as err:
            flash(err.translate(gettext), "error")
        if report is not None:
            links = can(current_user.role, "requests.read")
            tables, served = build_tables(report, current_lang(), links)
        return self.render("admin/statistics.html", report=report, tables=tables, served=served, year=year,
                           calendar=calendar, calendars=CALENDAR_LABELS,
                           year_url=self._year_url(report) if report else None,
                           xlsx_url=url_for(".xlsx", year=year, calendar=calendar))

    def _year_url(self, report):
        p = report.period
        return lambda delta: url_for(".index", year=p.year + delta, calendar=p.calendar)

    @expose("/xlsx/")
    def xlsx(self):
        year, calendar = self._choice()
        try:
            report = statistics.annual_report(year, calendar)
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return redirect(url_for(".index"))
        # The file goes to the National Center as it is: Arabic whatever the screen's language.
        with force_locale("ar"):
            tables, served = build_tables(report, "ar", links=False)
            data = write_workbook(report, tables + served)
        p = report.period
        with db.atomic():
            audit.record("export", model="Statistics", details={
                "view": self.endpoint, "format": "xlsx", "year": p.year, "calendar": p.calendar,
                "first": p.first.isoformat(), "last": p.last.isoformat(), "requests": report.requests,
                "beneficiaries_served": report.beneficiaries_served, "sheets": len(tables + served) + 1})
        return send_file(io.BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=f"statistics_{p.calendar}_{p.year}.xlsx")


# ---- the tables, shared by the screen and the file -------------------------------------------

def build_tables(report, lang: str, links: bool) -> tuple[list[Table], list[Table]]:
    """Return the report's request tables and beneficiaries-served tables, labelled in the language."""
    requests = [_table(report, name, cells, title, header, gettext("Service requests"), lang, links)
                for name, (title, header) in REQUEST_TABLES.items()
                for cells in [report.by[name].cells]]
    served = [_table(report, name, cells, title, header, gettext("Beneficiaries served"), lang, False)
              for name, (title, header) in SERVED_TABLES.items()
              for cells in [report.served_by[name].cells]]
    return requests, served


def _table(report, name, cells, title, header, measure, lang, links) -> Table:
    rows = [Row(cell_label(report, name, c.key, lang), c.count, list_url(report, name, c.key) if links else None)
            for c in cells]
    total_url = list_url(report, None, None) if links else None
    return Table(name, str(title), str(header), measure, rows, sum(r.count for r in rows), total_url)


def cell_label(report, name: str, key, lang: str) -> str:
    """Return the label of one breakdown key in the language."""
    if key is None:
        return gettext("Not set")
    if name == "service":
        service = report.services.get(key)
        return (service.name_ar if lang == "ar" else service.name_en) if service else f"#{key}"
    if name == "status":
        return gettext(label(STATUSES, key))
    if name == "gender":
        return gettext(label(GENDERS, key))
    if name == "age_band":
        return gettext(label([(code, text) for code, text, _age in statistics.AGE_BANDS], key))
    if name == "nationality":
        return country_name(key, lang)
    if name == "month":
        return month_name(report.period, key, lang)
    return str(key)


def month_name(period, month: int, lang: str) -> str:
    """Return a month's name: Umm al-Qura month names for a Hijri year, Gregorian ones otherwise."""
    if period.calendar == "hijri":
        return Hijri(period.year, month, 1).month_name("ar" if lang == "ar" else "en")
    return Locale.parse(lang).months["format"]["wide"][month]


def list_url(report, name: str | None, key) -> str | None:
    """Return the request list filtered to one cell (None: the year's total), or None if no filter selects it.

    The list has no filter for gender, age band or a missing nationality or city, so those
    cells are not linked.
    """
    p = report.period
    first, last = p.first, p.last
    args = {}
    if name == "month":
        _m, first, last = next(month for month in p.months if month[0] == key)
    elif name in ("service", "status", "nationality", "city"):
        if key is None:
            return None
        args[f"flt_{name}_equals"] = key
    elif name is not None:
        return None
    args["flt_submitted_at_between"] = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
    return url_for("servicerequest.index_view", **args)


# ---- the workbook ---------------------------------------------------------------------------

def write_workbook(report, tables: list[Table]) -> bytes:
    """Return the XLSX: a summary sheet, then one right-to-left sheet per table, counts as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from services.export import _sheet_title

    bold = Font(bold=True)
    workbook = Workbook()
    summary = workbook.active
    summary.title = _sheet_title(gettext("Summary"))
    p = report.period
    summary_rows = [
        (gettext("Year"), p.year),
        (gettext("Calendar"), str(CALENDAR_LABELS[p.calendar])),
        (gettext("First day"), p.first),
        (gettext("Last day"), p.last),
        (gettext("Service requests"), report.requests),
        (gettext("Beneficiaries with requests"), report.beneficiaries_with_requests),
        (gettext("Beneficiaries served"), report.beneficiaries_served),
        (gettext("Deliveries"), report.deliveries),
    ]
    for row in summary_rows:
        summary.append(row)
    for cell in summary["A"]:
        cell.font = bold
    _finish(summary, date_column="B")
    for table in tables:
        sheet = workbook.create_sheet(_sheet_title(table.title))
        sheet.append([table.header, table.measure])
        for row in table.rows:
            sheet.append([row.label, row.count])
        sheet.append([gettext("Total"), table.total])
        for cell in list(sheet[1]) + list(sheet[sheet.max_row]):
            cell.font = bold
        _finish(sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _finish(sheet, date_column: str | None = None) -> None:
    sheet.sheet_view.rightToLeft = True
    # A service or city typed as "=…" stays text: the file must never run a formula.
    for cell in sheet["A"]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 18
    if date_column:
        for cell in sheet[date_column]:
            if isinstance(cell.value, datetime.date):
                cell.number_format = "yyyy-mm-dd"


# ---- the list filter the reconciliation needs --------------------------------------------------

