"""What the board sees: the one column configuration of the mirror, and pure row builders.

Only the fields named here are read from the database for the sheet (sync/source.py selects
exactly these), so this file is where a column is added or removed. ID numbers, mobiles,
emails, categories, intake answers, notes and findings have no column; names need SHEETS_INCLUDE_NAMES=1.
"""
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.support import NullTranslations, Translations

from models.choices import CHANNELS, DECISIONS, STATUSES, VISIT_METHODS, VISIT_OUTCOMES
from services.dates import to_hijri, to_local
from services.errors import N_

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


@dataclass(frozen=True)
class Column:
    """One mirrored field: kind says how its value is written ("date" becomes two cells)."""

    field: str
    header: str
    kind: str = "text"          # text, number, date, label, country, flag
    choices: tuple = ()
    names_only: bool = False    # a person's name: only with SHEETS_INCLUDE_NAMES=1


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[Column, ...] = field(default_factory=tuple)


# The whole configuration of what leaves the system. Keep personal identifiers out.
BENEFICIARIES = Table("beneficiaries", N_("Beneficiaries"), (
    Column("reference", N_("Reference")),
    Column("full_name", N_("Full name"), names_only=True),
    Column("nationality", N_("Nationality"), kind="country"),
    Column("city", N_("City")),
    # No category: its values include "new Muslim" and "disabled" (religion, health), sensitive data
    # the board does not see (models/personal_data.py); a test checks every column against that registry.
    Column("family_size", N_("Family size"), kind="number"),
    Column("created_at", N_("Registered on"), kind="date"),
    Column("open_requests", N_("Open requests"), kind="number"),
))

REQUESTS = Table("requests", N_("Service requests"), (
    Column("number", N_("Request number")),
    Column("beneficiary_reference", N_("Beneficiary reference")),
    Column("beneficiary_name", N_("Beneficiary"), names_only=True),
    Column("service_name", N_("Service")),
    Column("channel", N_("Channel"), kind="label", choices=tuple(CHANNELS)),
    Column("status", N_("Status"), kind="label", choices=tuple(STATUSES)),
    Column("researcher_name", N_("Researcher")),
    Column("submitted_at", N_("Submitted at"), kind="date"),
    Column("decision_due", N_("Decision due"), kind="date"),
    Column("overdue", N_("Overdue"), kind="flag"),
    Column("decision", N_("Decision"), kind="label", choices=tuple(DECISIONS)),
    Column("decided_at", N_("Decided at"), kind="date"),
    Column("delivered_at", N_("Delivered on"), kind="date"),
))

VISITS = Table("visits", N_("Verification visits"), (
    Column("request_number", N_("Request number")),
    Column("method", N_("Method"), kind="label", choices=tuple(VISIT_METHODS)),
    Column("scheduled_at", N_("Scheduled at"), kind="date"),
    Column("performed_at", N_("Performed at"), kind="date"),
    Column("performed_by_name", N_("Performed by")),
    Column("outcome", N_("Outcome"), kind="label", choices=tuple(VISIT_OUTCOMES)),
))

# Row-by-row tabs, in tab order; the summary tab comes last.
TABLES = (BENEFICIARIES, REQUESTS, VISITS)
SUMMARY_KEY = "summary"
SUMMARY_TITLE = N_("Summary")
SUMMARY_HEADER = (N_("Item"), N_("Value"))
HIJRI_HEADER = N_("%(column)s (Hijri)")

# The Sheets API refuses a cell longer than this.
MAX_CELL_CHARS = 50_000


@lru_cache(maxsize=4)
def translations(lang: str = "ar") -> NullTranslations:
    """Return the compiled catalogue for a language, usable outside any request."""
    return Translations.load(str(TRANSLATIONS_DIR), [lang], "messages")


@dataclass(frozen=True)
class Context:
    """Everything a row builder needs besides the record: language, opt-ins, today."""

    include_names: bool = False
    today: datetime.date = field(default_factory=datetime.date.today)
    lang: str = "ar"

    def _(self, msgid: str, **params) -> str:
        text = translations(self.lang).gettext(msgid)
        return text % params if params else text


def columns(table: Table, ctx: Context) -> tuple[Column, ...]:
    """Return the table's columns that go out under the context's opt-ins."""
    return tuple(c for c in table.columns if ctx.include_names or not c.names_only)


def source_fields(table: Table, ctx: Context) -> set[str]:
    """Return the record fields the sheet needs (the source reads nothing else)."""
    return {c.field for c in columns(table, ctx)}


def header(table: Table, ctx: Context) -> list[str]:
    """Return the header row: translated column titles, a Hijri column after each date."""
    cells = []
    for column in columns(table, ctx):
        title = ctx._(column.header)
        cells.append(title)
        if column.kind == "date":
            cells.append(ctx._(HIJRI_HEADER, column=title))
    return cells


def title(table: Table, ctx: Context) -> str:
    """Return the tab title in the mirror's language."""
    return ctx._(table.title)


def local_date(value) -> datetime.date | None:
    """Return the Riyadh calendar date of a stored datetime (dates pass through)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if isinstance(value, datetime.datetime):
        return to_local(value).date()
    return value


def hijri_text(day: datetime.date | None) -> str:
    """Return an Umm al-Qura date as YYYY-MM-DD text, or '' outside the calendar."""
    hijri = to_hijri(day) if day else None
    return f"{hijri.year:04d}-{hijri.month:02d}-{hijri.day:02d}" if hijri else ""


@lru_cache(maxsize=4)
def _territories(lang: str) -> dict:
    return dict(Locale.parse(lang).territories)


def _cells(column: Column, value, ctx: Context) -> list:
    if column.kind == "date":
        day = local_date(value)
        return [day.isoformat() if day else "", hijri_text(day)]
    if value is None:
        return [""]
    if column.kind == "number":
        # Numbers stay numbers in the sheet (RAW input keeps the JSON type).
        return [value if isinstance(value, (int, float)) else float(value)]
    if column.kind == "label":
        return [ctx._(dict(column.choices)[value]) if value in dict(column.choices) else str(value)]
    if column.kind == "country":
        return [_territories(ctx.lang).get(value, value)]
    if column.kind == "flag":
        return [ctx._("Yes") if value else ""]
    return [str(value)]


def build_row(table: Table, record: dict, ctx: Context) -> list:
    """Return the sheet cells of one record, in header order."""
    row = []
    for column in columns(table, ctx):
        row.extend(_cells(column, record.get(column.field), ctx))
    return row


def digest(row: list) -> str:
    """Return a short fingerprint of a row's cells (what was last written)."""
    data = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def summary_rows(data: dict, ctx: Context) -> list[list]:
    """Return the summary tab's rows (header first) from the aggregated counts."""
    _ = ctx._
    rows = [[_(SUMMARY_HEADER[0]), _(SUMMARY_HEADER[1])]]
    synced = local_date(data["synced_at"])
    rows.append([_("Last sync"), to_local(data["synced_at"]).strftime("%Y-%m-%d %H:%M")
                 + f" ({hijri_text(synced)})"])
    rows.append([_("Beneficiaries"), data["beneficiaries"]])
    rows.append([_("Service requests"), data["requests"]])
    rows.append([_("Overdue requests"), data["overdue"]])
    median = data.get("median_days_to_decision")
    rows.append([_("Median days to decision"), median if median is not None else ""])
    if data.get("satisfaction_average") is not None:
        rows.append([_("Satisfaction average"), data["satisfaction_average"]])
    rows.append(["", ""])
    rows.append([_("Requests by status"), ""])
    for code, label in STATUSES:
        rows.append([_(label), data["by_status"].get(code, 0)])
    rows.append(["", ""])
    rows.append([_("Requests by service"), ""])
    # Sensitive services appear here, as counts only (never row by row).
    for name, count in data["by_service"]:
        rows.append([name, count])
    return rows


def too_long_cells(rows, limit: int = MAX_CELL_CHARS) -> int:
    """Return how many cells exceed the per-cell character limit."""
    return sum(1 for row in rows for cell in row if isinstance(cell, str) and len(cell) > limit)
