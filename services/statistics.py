"""Yearly figures for the annual report to the National Center for Non-Profit Sector, counted in SQL.

What is counted (the definitions the report and its reconciliation test rely on):

* The year is a Gregorian year or an Umm al-Qura Hijri year, made of whole days in Riyadh:
  from local midnight of its first day to local midnight after its last day (stored UTC times
  are compared against those two instants, so a request at 22:00 UTC on 31 December belongs to
  the next Gregorian year, as it does on the office clock).
* Requests of the year: every request whose submission time (``submitted_at``) falls in the
  year, whatever its status now. A draft that was never submitted has no submission time and
  is not counted. Each request is counted once in every breakdown (service, status,
  nationality, gender, age band, city, month), so every breakdown sums to the same total;
  values that are not recorded fall in the ``None`` ("not set") bucket instead of vanishing.
* Beneficiaries with requests: distinct beneficiaries with at least one request of the year.
* Beneficiaries served: distinct beneficiaries with at least one delivery (a ``Delivery`` row,
  P5.7) whose ``delivered_at`` falls in the year, whenever the request was submitted. A
  beneficiary served by two services, or several times, counts once; their breakdowns are by
  the beneficiary's own attributes only (nationality, gender, age band, city), so each of them
  sums to the served total too.
* Age is the age at the first day of the year, from ``Beneficiary.birth_date``; no birth date
  is the "not set" band.
* Sensitive services (``Service.sensitive``, e.g. care for new Muslims) are counted like every
  other service: these are aggregate numbers the association must report, and no person's row
  leaves the system. The breakdowns are one dimension at a time (no cross-tables), which keeps
  small cells from being combined into a profile of one person.

Every figure is one GROUP BY (or COUNT) query over indexed columns; nothing loops over rows in
Python, and the SQL (CASE, NULLIF, COUNT(DISTINCT), GROUP BY position) runs on SQLite and
PostgreSQL alike.
"""
import datetime
from dataclasses import dataclass, field

from hijridate import Hijri
from peewee import SQL, Case, fn

from models import Beneficiary, Delivery, Service, ServiceRequest
from models.choices import GENDERS, STATUSES, codes

from .dates import hijri_to_gregorian, to_hijri, today_local, utc_midnight
from .errors import N_, ValidationError
from .normalize import to_ascii_digits

CALENDARS = ("gregorian", "hijri")
# Hijri: the years hijridate's Umm al-Qura table covers (1343–1500 AH).
YEAR_RANGES = {"gregorian": (1900, 2100), "hijri": (1343, 1500)}

# Age at the first day of the year: (code, label, youngest age in the band).
AGE_BANDS = [
    ("under_18", N_("Under 18"), 0),
    ("18_29", N_("18 to 29"), 18),
    ("30_44", N_("30 to 44"), 30),
    ("45_59", N_("45 to 59"), 45),
    ("60_plus", N_("60 and over"), 60),
]

# The breakdowns of the requests of the year, and of the beneficiaries served, in report order.
REQUEST_BREAKDOWNS = ("service", "status", "nationality", "gender", "age_band", "city", "month")
# The beneficiary's own attributes (the breakdowns that need the join to Beneficiary).
PERSON_BREAKDOWNS = ("nationality", "gender", "age_band", "city")
SERVED_BREAKDOWNS = PERSON_BREAKDOWNS


@dataclass(frozen=True)
class Period:
    """A report year as Riyadh days, with its twelve months (Hijri months for a Hijri year)."""

    year: int
    calendar: str
    first: datetime.date
    last: datetime.date
    # (month number, first day, last day)
    months: tuple[tuple[int, datetime.date, datetime.date], ...]

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """Return the year as naive UTC instants [start, end), how times are stored."""
        return utc_midnight(self.first), utc_midnight(self.last + datetime.timedelta(days=1))


@dataclass
class Cell:
    key: object
    count: int


@dataclass
class Breakdown:
    name: str
    cells: list[Cell]

    @property
    def total(self) -> int:
        return sum(cell.count for cell in self.cells)

    def count(self, key) -> int:
        """Return the count of one key (0 when absent)."""
        return next((cell.count for cell in self.cells if cell.key == key), 0)


@dataclass
class Report:
    period: Period
    requests: int
    beneficiaries_with_requests: int
    beneficiaries_served: int
    deliveries: int
    # Requests of the year by REQUEST_BREAKDOWNS; beneficiaries served by SERVED_BREAKDOWNS.
    by: dict[str, Breakdown] = field(default_factory=dict)
    served_by: dict[str, Breakdown] = field(default_factory=dict)
    # The services named in the service breakdown, by id.
    services: dict[int, Service] = field(default_factory=dict)


def current_year(calendar: str) -> int:
    """Return this year (Riyadh today) in the calendar."""
    today = today_local()
    if calendar == "hijri":
        hijri = to_hijri(today)
        if hijri is not None:
            return hijri.year
    return today.year


def period(year, calendar: str) -> Period:
    """Return the report year; raise ValidationError for an unknown calendar or a year out of range."""
    if calendar not in CALENDARS:
        raise ValidationError(N_("Choose the Hijri or the Gregorian calendar."), field="calendar")
    low, high = YEAR_RANGES[calendar]
    try:
        year = int(to_ascii_digits(str(year)).strip())
    except ValueError:
        raise ValidationError(N_("Enter the year as a number, e.g. %(example)s."), field="year",
                              example=current_year(calendar)) from None
    if not low <= year <= high:
        raise ValidationError(N_("Enter a year from %(low)s to %(high)s."), field="year", low=low, high=high)
    if calendar == "gregorian":
        months = tuple((m, datetime.date(year, m, 1), _month_end(datetime.date(year, m, 1))) for m in range(1, 13))
    else:
        months = tuple((m, _gregorian(year, m, 1), _gregorian(year, m, Hijri(year, m, 1).month_length()))
                       for m in range(1, 13))
    return Period(year=year, calendar=calendar, first=months[0][1], last=months[-1][2], months=months)


def _gregorian(year: int, month: int, day: int) -> datetime.date:
    """Return an Umm al-Qura day as a plain date (hijridate's date subclass is no database parameter)."""
    day = hijri_to_gregorian(year, month, day)
    return datetime.date(day.year, day.month, day.day)


def _month_end(first: datetime.date) -> datetime.date:
    following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return following - datetime.timedelta(days=1)


def years_before(day: datetime.date, years: int) -> datetime.date:
    """Return the same calendar day `years` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# ---- the buckets, as SQL expressions ------------------------------------------------------

def _age_band(p: Period):
    """CASE giving the age band code at the first day of the year; NULL when no birth date."""
    # Age >= a exactly when born on or before the first day minus a years; bands go youngest
    # first, so "born after the 18-year cut-off" means under 18, and so on.
    whens = [(Beneficiary.birth_date > years_before(p.first, AGE_BANDS[i + 1][2]), code)
             for i, (code, _label, _age) in enumerate(AGE_BANDS[:-1])]
    whens.append((Beneficiary.birth_date.is_null(False), AGE_BANDS[-1][0]))
    return Case(None, whens, None)


def _month(p: Period, column):
    """CASE giving the month number (1–12) of a stored time inside the year, by Riyadh days."""
    whens = [(column < utc_midnight(p.months[i + 1][1]), p.months[i][0]) for i in range(11)]
    return Case(None, whens, 12)


def _request_key(name: str, p: Period):
    keys = {
        "service": lambda: ServiceRequest.service,
        "status": lambda: ServiceRequest.status,
        "month": lambda: _month(p, ServiceRequest.submitted_at),
    }
    return keys[name]() if name in keys else _person_key(name, p)


def _person_key(name: str, p: Period):
    # NULLIF: an empty text is "not set" like a missing one, so the two share one bucket.
    keys = {
        "nationality": lambda: fn.NULLIF(Beneficiary.nationality, ""),
        "gender": lambda: fn.NULLIF(Beneficiary.gender, ""),
        "city": lambda: fn.NULLIF(Beneficiary.city, ""),
        "age_band": lambda: _age_band(p),
    }
    return keys[name]()


# ---- the rows counted ----------------------------------------------------------------------

def requests_of(p: Period, with_beneficiary: bool = True):
    """Return the requests submitted in the year, joined to their beneficiary unless told not to."""
    start, end = p.bounds()
    query = ServiceRequest.select()
    if with_beneficiary:
        query = query.join(Beneficiary)
    return query.where((ServiceRequest.submitted_at >= start) & (ServiceRequest.submitted_at < end))


def served_of(p: Period):
    """Return the beneficiaries with at least one delivery in the year."""
    start, end = p.bounds()
    served = (Delivery.select(ServiceRequest.beneficiary).join(ServiceRequest)
              .where((Delivery.delivered_at >= start) & (Delivery.delivered_at < end)))
    return Beneficiary.select().where(Beneficiary.id.in_(served))


def _grouped(query, key, fixed=()) -> list[Cell]:
    """Count the query's rows per key value: the fixed keys first (zeros kept), then the rest by count."""
    # GROUP BY the select list's position: PostgreSQL does not match a parameterised CASE in
    # GROUP BY to the same CASE in SELECT (their parameters are numbered apart); SQLite accepts both.
    rows = query.select(key.alias("bucket"), fn.COUNT(SQL("*")).alias("n")).group_by(SQL("1")).tuples()
    counts = {bucket: n for bucket, n in rows}
    unknown = counts.pop(None, 0)
    cells = [Cell(k, counts.pop(k, 0)) for k in fixed if k is not None]
    cells += [Cell(k, n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    if unknown or None in fixed:
        cells.append(Cell(None, unknown))
    return cells


def _fixed_keys(name: str, p: Period) -> tuple:
    return {
        "status": tuple(codes(STATUSES)),
        "gender": tuple(codes(GENDERS)) + (None,),
        "age_band": tuple(code for code, _label, _age in AGE_BANDS) + (None,),
        "month": tuple(m for m, _first, _last in p.months),
    }.get(name, ())


def annual_report(year: int | str, calendar: str = "gregorian") -> Report:
    """Count the year's requests by each of REQUEST_BREAKDOWNS and the beneficiaries served (see the module)."""
    p = period(year, calendar)
    # The join to the beneficiary costs a lookup per request: only the person breakdowns pay it.
    requests, own = requests_of(p), requests_of(p, with_beneficiary=False)
    served = served_of(p)
    start, end = p.bounds()
    report = Report(
        period=p,
        requests=own.count(),
        beneficiaries_with_requests=own.select(fn.COUNT(fn.DISTINCT(ServiceRequest.beneficiary))).scalar(),
        beneficiaries_served=served.count(),
        deliveries=Delivery.select().where((Delivery.delivered_at >= start) & (Delivery.delivered_at < end)).count(),
    )
    for name in REQUEST_BREAKDOWNS:
        query = requests if name in PERSON_BREAKDOWNS else own
        report.by[name] = Breakdown(name, _grouped(query, _request_key(name, p), _fixed_keys(name, p)))
    for name in SERVED_BREAKDOWNS:
        report.served_by[name] = Breakdown(name, _grouped(served, _person_key(name, p), _fixed_keys(name, p)))
    ids = [cell.key for cell in report.by["service"].cells]
    report.services = {s.id: s for s in Service.select().where(Service.id.in_(ids))} if ids else {}
    return report


def cell_requests(p: Period, name: str, key):
    """Return the requests of one cell by plain conditions (no grouping): the list a cell must equal."""
    query = requests_of(p)
    if name == "service":
        return query.where(ServiceRequest.service == key)
    if name == "status":
        return query.where(ServiceRequest.status == key)
    if name == "month":
        _m, first, last = next(month for month in p.months if month[0] == key)
        return query.where((ServiceRequest.submitted_at >= utc_midnight(first)) &
                           (ServiceRequest.submitted_at < utc_midnight(last + datetime.timedelta(days=1))))
    return query.where(_person_condition(p, name, key))


def _person_condition(p: Period, name: str, key):
    if name == "age_band":
        if key is None:
            return Beneficiary.birth_date.is_null()
        index = next(i for i, band in enumerate(AGE_BANDS) if band[0] == key)
        # Age >= youngest: born on or before the cut-off; below the next band: born after its cut-off.
        # The youngest band has no lower bound: someone born during the year is "under 18" too.
        condition = Beneficiary.birth_date.is_null(False)
        if index > 0:
            condition &= Beneficiary.birth_date <= years_before(p.first, AGE_BANDS[index][2])
        if index + 1 < len(AGE_BANDS):
            condition &= Beneficiary.birth_date > years_before(p.first, AGE_BANDS[index + 1][2])
        return condition
    column = {"nationality": Beneficiary.nationality, "gender": Beneficiary.gender, "city": Beneficiary.city}[name]
    return (column.is_null() | (column == "")) if key is None else (column == key)


def cell_served(p: Period, name: str, key):
    """Return the beneficiaries served in the year that fall in one cell, by plain conditions."""
    return served_of(p).where(_person_condition(p, name, key))
