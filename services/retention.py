"""Retention of personal data (Saudi PDPL): erase what a file no longer needs, keep what the statistics count.

**When a file is considered.** A file is a beneficiary and every row that points at them or at one of
their requests. It is considered only when every one of its requests is in a terminal status
(services.workflow.TERMINAL_STATUSES: closed, rejected, withdrawn); a beneficiary without any request
is considered too.

**The clock: last activity.** The latest change to the beneficiary's row or to any row pointing at it
or at one of its requests (requests, status changes, documents, visits, answers, evaluations,
deliveries, referrals, messages, interactions, surveys, consents, proposed changes …), found from
the models' foreign keys, so a table added later counts without a change here. Two things do not
count: possible-duplicate pairs (written when *someone else* registers) and the run's own writes
(rows it changed count with their creation time, and the clock it counted from is kept in
RetentionErasure, so erasing one category never restarts the clock of the others).

**What is erased when.** Each category of models/personal_data.py is erased when its own period has
passed since the last activity (a RetentionPeriod row, else the category's default years): messages
may go after three years while visit findings stay five. The file counts as *anonymised*
(Beneficiary.anonymised_at) once no category holds anything more. Two categories are rows, not fields:
* sensitive intake answers: the answers' values are erased;
* requests for a sensitive service (religion-related): the request itself must stay for the statistics,
  so what goes is *whose* it is: at that category's period the name, identifiers, contact details and
  household (IDENTITY_FIELDS) are erased too, even if their own period is longer.

**How.** Free texts become ERASED; mobiles, emails, Latin names and IP addresses become empty; the ID
number becomes a placeholder unique to the row (the unique index holds); the birth date becomes the
last day of its year (1 January stays), so the age on the first day of any year — what the
statistics count — is unchanged; household members and documents are deleted (the files from disk
too). Copies go in the same transaction: the values of those fields in the audit log's before/after
and details of every row of the file, the IP address of what the person did on the portal, and
open possible-duplicate pairs. Nationality, gender, city, family size, the requests' services,
statuses, dates, amounts and every row count stay, so services.statistics gives the same totals. The beneficiary row's
updated_at moves, so the board mirror rewrites the row at its next sync.

Each file is erased in one transaction; a run stopped half-way is resumed by the next one, which
finds from the data itself what is left to erase.

**Staff records.** A category marked about="staff" (the sign-in history) belongs to no file: each of its
rows is deleted whole by the run once the category's period has passed since the row was written.
"""
import datetime
import functools
import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from peewee import SQL, Case, ForeignKeyField, TextField, fn

from models import (
    ALL_MODELS,
    AuditLog,
    Beneficiary,
    DuplicateCandidate,
    IntakeAnswer,
    IntakeQuestion,
    Notification,
    RetentionErasure,
    RetentionPeriod,
    RetentionRun,
    Service,
    ServiceRequest,
    User,
    db,
    utcnow,
)
from models import personal_data as registry

from . import audit, workflow
from .errors import N_, PermissionDenied, ValidationError
from .normalize import to_ascii_digits
from .roles import can
from .workflow import TERMINAL_STATUSES

log = logging.getLogger(__name__)

# What an erased text reads; also what replaces a value in the audit log.
ERASED = "[erased]"
# The ID number of an anonymised beneficiary: unique per row, so the (ID type, ID number) index holds.
ERASED_ID = "[erased-{id}]"
# updated_by of the rows the run writes: their updated_at is not the person's activity.
RETENTION_ACTOR = "(retention)"
# The public portal's actor name (services.portal): the IP address on its audit rows is the person's.
PORTAL_ACTOR = "(portal)"

# Free texts and addresses about the person that models/personal_data.py (which decides who sees what)
# may not mark, erased with the category named here; where the registry marks one too, the registry's
# category wins (extra_fields()). Intake answers are handled apart: a sensitive question's answer under
# its row marker, the others as circumstances (ANSWER_CATEGORY).
EXTRA_FIELDS: dict[tuple[str, str], str] = {
    ("Beneficiary", "district"): "contact",
    ("ServiceRequest", "decision_reason"): "circumstances",
    ("ServiceRequest", "attestation_ip"): "identifiers",
    ("RequestTransition", "note"): "circumstances",
    ("MethodWaiver", "reason"): "circumstances",
    ("Consent", "note"): "circumstances",
    ("Interaction", "subject"): "communications",
    ("Interaction", "ip"): "identifiers",
    ("Notification", "subject"): "communications",
    ("Notification", "last_error"): "communications",
    ("SatisfactionSurvey", "ip"): "identifiers",
    ("ProposedChange", "ip"): "identifiers",
}
ANSWER_CATEGORY = "circumstances"

# Rows that are deleted rather than blanked: nothing in them is worth keeping once their personal data goes.
DELETED_MODELS = ("HouseholdMember", "Document")

# The fields whose categories make up "who the person is" (erased with a sensitive-service request).
IDENTITY_FIELDS = (("Beneficiary", "full_name"), ("Beneficiary", "id_number"), ("Beneficiary", "mobile"),
                   ("HouseholdMember", "name"))

# The row markers of models/personal_data.py this module knows how to erase (see the module docstring).
ANSWER_MARKER = ("IntakeAnswer", "question.sensitive")
SERVICE_MARKER = ("ServiceRequest", "service.sensitive")

# The audit actions this module writes.
OWN_ACTIONS = ("retention_erase", "retention_run")

# Rows pointing at a file that are not the person's activity.
NOT_ACTIVITY = ("RetentionErasure", "DuplicateCandidate")

_CHUNK = 500


# ---- periods ------------------------------------------------------------------------------------------
MIN_YEARS, MAX_YEARS = 1, 100


def periods() -> dict[str, int]:
    """Return {category code: years kept}: the admin's RetentionPeriod rows over the registry's defaults."""
    years = {code: category.retention_years for code, category in registry.CATEGORIES.items()}
    for row in RetentionPeriod.select():
        if row.category in years:
            years[row.category] = row.years
    return years


def period_rows() -> dict[str, RetentionPeriod]:
    """Return the stored RetentionPeriod rows by category (a category without one keeps its default)."""
    return {row.category: row for row in RetentionPeriod.select()}


def parse_years(text) -> int:
    """Return a number of years typed (Arabic-Indic digits too), or raise ValidationError."""
    value = to_ascii_digits(str(text if text is not None else "")).strip()
    if not (value.isascii() and value.isdigit()) or not MIN_YEARS <= int(value) <= MAX_YEARS:
        raise ValidationError(N_("A retention period is a whole number of years from %(low)s to %(high)s."),
                              field="years", low=MIN_YEARS, high=MAX_YEARS)
    return int(value)


def set_periods(values: dict[str, object], actor: User) -> list[str]:
    """Store the periods typed for some categories (one transaction, audited); return the categories changed."""
    if not can(actor.role, "retention.manage"):
        raise PermissionDenied(N_("Only an administrator changes the retention periods."))
    current, rows = periods(), period_rows()
    wanted = {}
    for code, text in values.items():
        if code not in registry.CATEGORIES:
            raise ValidationError(N_("Unknown category of personal data: %(category)s."), category=code)
        wanted[code] = parse_years(text)
    changed = []
    with db.atomic():
        for code, years in wanted.items():
            row = rows.get(code)
            if row is None:
                if years == current[code]:
                    continue
                row = RetentionPeriod.create(category=code, years=years)
                audit.record("create", row, changes={"category": [None, code], "years": [None, years]},
                             actor=actor.username)
            elif row.years != years:
                before = row.years
                row.years = years
                row.save()
                audit.record("update", row, changes={"years": [before, years]}, actor=actor.username)
            else:
                continue
            changed.append(code)
    return changed


def add_years(moment: datetime.datetime, years: int) -> datetime.datetime:
    """Return the same instant `years` later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


# ---- what holds personal data ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One field of one model that the run erases under one category."""

    model: type
    field: str
    category: str
    # For intake answers: True for sensitive questions' answers, False for the others, None: every row.
    sensitive_question: bool | None = None

    @property
    def deletes_rows(self) -> bool:
        return self.model.__name__ in DELETED_MODELS


def extra_fields() -> dict[tuple[str, str], str]:
    """Return the EXTRA_FIELDS the registry does not mark itself."""
    return {key: code for key, code in EXTRA_FIELDS.items() if key not in registry.PERSONAL_FIELDS}


def field_category(model_name: str, field_name: str) -> str | None:
    """Return the category the run erases a field under: the registry's, else EXTRA_FIELDS', else None."""
    return registry.PERSONAL_FIELDS.get((model_name, field_name)) or EXTRA_FIELDS.get((model_name, field_name))


def _models() -> dict[str, type]:
    return {m.__name__: m for m in ALL_MODELS}


def check_markers() -> None:
    """Raise when models/personal_data.py marks rows this module does not know how to erase."""
    unknown = set(registry.ROW_MARKERS) - {ANSWER_MARKER, SERVICE_MARKER}
    if unknown:
        raise NotImplementedError(f"services.retention does not erase the row markers {sorted(unknown)}")


def targets() -> list[Target]:
    """Return every field the run erases, read from the registry at call time (so new fields count at once)."""
    check_markers()
    models = _models()
    out = [Target(models[m], f, c) for (m, f), c in {**registry.PERSONAL_FIELDS, **extra_fields()}.items()]
    if ANSWER_MARKER in registry.ROW_MARKERS:
        out.append(Target(IntakeAnswer, "value", registry.ROW_MARKERS[ANSWER_MARKER], sensitive_question=True))
        out.append(Target(IntakeAnswer, "value", ANSWER_CATEGORY, sensitive_question=False))
    return out


def identity_categories() -> set[str]:
    """Return the categories that say who the person is (erased with a sensitive-service request)."""
    return {registry.PERSONAL_FIELDS[key] for key in IDENTITY_FIELDS if key in registry.PERSONAL_FIELDS}


def _service_marker_category() -> str | None:
    return registry.ROW_MARKERS.get(SERVICE_MARKER)


def _beneficiary_fks(model) -> list:
    return [f for f in model._meta.sorted_fields if isinstance(f, ForeignKeyField) and f.rel_model is Beneficiary]


def _request_fks(model) -> list:
    return [f for f in model._meta.sorted_fields if isinstance(f, ForeignKeyField) and f.rel_model is ServiceRequest]


def _linked_models() -> list[type]:
    """Return the models whose rows belong to a file: a foreign key to the beneficiary or to a request."""
    return [m for m in ALL_MODELS if m is not Beneficiary and (_beneficiary_fks(m) or _request_fks(m))]


def _of_file(model, beneficiary_id: int):
    """Return the condition selecting a model's rows that belong to one file."""
    if model is Beneficiary:
        return Beneficiary.id == beneficiary_id
    requests = ServiceRequest.select(ServiceRequest.id).where(ServiceRequest.beneficiary == beneficiary_id)
    condition = None
    for fk in _beneficiary_fks(model):
        condition = (fk == beneficiary_id) if condition is None else condition | (fk == beneficiary_id)
    for fk in _request_fks(model):
        condition = fk.in_(requests) if condition is None else condition | fk.in_(requests)
    return condition


def _is_text(f) -> bool:
    return isinstance(f, TextField) or f.field_type in ("VARCHAR", "TEXT", "CHAR")


def _pending(target: Target):
    """Return the condition matching rows whose field still holds data the run has not erased."""
    model, name = target.model, target.field
    f = model._meta.fields[name]
    if target.deletes_rows:
        # The whole row goes: it is pending as long as it exists.
        condition = model._meta.primary_key.is_null(False)
    elif (model, name) == (Beneficiary, "id_number"):
        condition = ~f.startswith("[erased")
    elif (model, name) == (Beneficiary, "birth_date"):
        condition = f.is_null(False) & ~(((f.month == 12) & (f.day == 31)) | ((f.month == 1) & (f.day == 1)))
    elif _is_text(f):
        condition = (f != "") & (f != ERASED)
        if f.null:
            condition = f.is_null(False) & condition
    elif f.null:
        condition = f.is_null(False)
    else:
        raise NotImplementedError(f"services.retention cannot erase {model.__name__}.{name} (not null, not text)")
    if target.sensitive_question is not None:
        sensitive = IntakeQuestion.select(IntakeQuestion.id).where(IntakeQuestion.sensitive == True)  # noqa: E712
        in_sensitive = IntakeAnswer.question.in_(sensitive)
        condition = (condition & in_sensitive) if target.sensitive_question else (condition & ~in_sensitive)
    return condition


def _erased_value(target: Target, row_id: int | None = None):
    """Return what an erased field holds: ERASED for texts, empty for short identifiers, a placeholder for IDs."""
    model, name = target.model, target.field
    f = model._meta.fields[name]
    if (model, name) == (Beneficiary, "id_number"):
        return ERASED_ID.format(id=row_id)
    if (model, name) == (Beneficiary, "name_key"):
        return ""
    if not _is_text(f):
        return None
    if isinstance(f, TextField) or not f.null:
        return ERASED if isinstance(f, TextField) or (f.max_length or 255) >= len(ERASED) else ""
    return None


def generalised_birth_date(day: datetime.date) -> datetime.date:
    """Return the last day of the birth year (1 January stays): the age on any 1 January is unchanged."""
    return day if (day.month, day.day) == (1, 1) else datetime.date(day.year, 12, 31)


# ---- the clock ---------------------------------------------------------------------------------------------
def _as_datetime(value) -> datetime.datetime | None:
    if value is None or isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    return datetime.datetime.fromisoformat(str(value))


def _activity(model):
    """A row's activity time: updated_at, but the creation time for a row the run itself wrote last."""
    return Case(None, [(model.updated_by == RETENTION_ACTOR, model.created_at)], model.updated_at)


def _candidates():
    """Return the query of beneficiaries all of whose requests are terminal (or who have none)."""
    open_ = ServiceRequest.alias()
    busy = open_.select(open_.beneficiary).where(open_.status.not_in(sorted(TERMINAL_STATUSES)))
    return Beneficiary.select(Beneficiary.id).where(Beneficiary.id.not_in(busy))


def _union(queries):
    """Run several selects of the same shape as one UNION ALL (one round trip; each keeps its index)."""
    queries = list(queries)
    if not queries:
        return []
    return list(functools.reduce(lambda a, b: a.union_all(b), queries).tuples())


def _per_file(model, value, among):
    """Return selects of (beneficiary id, value) over a model's rows, grouped by file, one per path to the file.

    among(column) restricts the beneficiary id column to the files wanted. A row that names both its
    beneficiary and its request is reached by the beneficiary only, so counts are not doubled.
    """
    if model is Beneficiary:
        return [Beneficiary.select(Beneficiary.id, value).where(among(Beneficiary.id)).group_by(Beneficiary.id)]
    out = []
    b_fks = _beneficiary_fks(model)
    for fk in b_fks:
        out.append(model.select(fk, value).where(among(fk)).group_by(fk))
    for fk in _request_fks(model):
        owner = ServiceRequest.alias()
        condition = among(owner.beneficiary)
        for b_fk in b_fks:
            condition &= b_fk.is_null()
        out.append(model.select(owner.beneficiary, value).join(owner, on=(fk == owner.id))
                   .where(condition).group_by(owner.beneficiary))
    return out


def _restrictions(beneficiary_ids):
    """Yield functions restricting a beneficiary id column: to the candidate files (None), or chunk by chunk."""
    if beneficiary_ids is None:
        yield lambda column: column.in_(_candidates())
        return
    for chunk in _chunks(sorted(beneficiary_ids)):
        yield lambda column, chunk=chunk: column.in_(chunk)


def _activity_queries(among) -> list:
    queries = [RetentionErasure.select(RetentionErasure.beneficiary, fn.MAX(RetentionErasure.last_activity))
               .where(among(RetentionErasure.beneficiary)).group_by(RetentionErasure.beneficiary)]
    for model in [Beneficiary] + _linked_models():
        if model.__name__ not in NOT_ACTIVITY:
            queries += _per_file(model, fn.MAX(_activity(model)), among)
    return queries


def last_activity(beneficiary_ids=None) -> dict[int, datetime.datetime]:
    """Return {beneficiary id: last activity} for the given files, or for every candidate file (None)."""
    if beneficiary_ids is not None and len(beneficiary_ids) == 1:
        rows = _for_one_file("activity", _activity_queries, next(iter(beneficiary_ids)))
    else:
        rows = [row for among in _restrictions(beneficiary_ids) for row in _union(_activity_queries(among))]
    clock: dict[int, datetime.datetime] = {}
    for bid, value in rows:
        value = _as_datetime(value)
        if value is not None and (clock.get(bid) is None or value > clock[bid]):
            clock[bid] = value
    return clock


# A file id no row has: where the id goes in a statement compiled once (_for_one_file).
_SENTINEL = -7_654_321
_COMPILED: dict = {}


def _shape() -> tuple:
    """Return what the statements of _for_one_file depend on besides the file: the registry and the models."""
    return (type(db.obj).__name__, tuple(m.__name__ for m in ALL_MODELS),
            tuple((t.model.__name__, t.field, t.category, t.sensitive_question) for t in targets()),
            _service_marker_category())


def _for_one_file(kind: str, build, beneficiary_id: int, *args) -> list[tuple]:
    """Run the UNION ALL of build(among, *args) for one file; its SQL is compiled once per registry shape.

    Building these statements (dozens of selects with subqueries) costs peewee far more than SQLite
    takes to run them, and a run erases file after file with the same statements.
    """
    key = (kind, _shape())
    compiled = _COMPILED.get(key)
    if compiled is None:
        queries = build(lambda column: column == _SENTINEL, *args)
        compiled = functools.reduce(lambda a, b: a.union_all(b), queries).sql() if queries else None
        _COMPILED[key] = compiled
    if compiled is None:
        return []
    sql, params = compiled
    return list(db.execute_sql(sql, [beneficiary_id if p == _SENTINEL else p for p in params]).fetchall())


def _chunks(ids: list, size: int = _CHUNK):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# ---- what each file still holds ---------------------------------------------------------------------------
def _pending_queries(among, all_targets: list[Target]) -> list:
    queries = []
    for i, target in enumerate(all_targets):
        count = fn.COUNT(target.model._meta.primary_key)
        for query in _per_file(target.model, count, among):
            queries.append(query.select_extend(SQL(str(i))).where(_pending(target)))
    if _service_marker_category():
        queries.append(ServiceRequest.select(ServiceRequest.beneficiary, fn.COUNT(ServiceRequest.id), SQL("-1"))
                       .join(Service).where(among(ServiceRequest.beneficiary) & (Service.sensitive == True))  # noqa: E712
                       .group_by(ServiceRequest.beneficiary))
    return queries


def pending_by_target(beneficiary_ids, all_targets: list[Target]) -> dict[int, Counter]:
    """Return {beneficiary id: Counter(target index → values not yet erased)}; index -1: sensitive-service requests."""
    if len(beneficiary_ids) == 1:
        rows = _for_one_file("pending", _pending_queries, next(iter(beneficiary_ids)), all_targets)
    else:
        rows = [row for among in _restrictions(beneficiary_ids) for row in _union(_pending_queries(among, all_targets))]
    out: dict[int, Counter] = defaultdict(Counter)
    for bid, n, index in rows:
        out[bid][int(index)] += n
    return out


def by_category(counts: Counter, all_targets: list[Target]) -> Counter:
    """Return Counter(category → values not yet erased) from per-target counts; a row deleted whole counts once."""
    out, seen = Counter(), set()
    for index, n in counts.items():
        if index < 0 or not n:
            continue
        target = all_targets[index]
        if target.deletes_rows:
            if (target.model, target.category) in seen:
                continue
            seen.add((target.model, target.category))
        out[target.category] += n
    marker = _service_marker_category()
    # Whose a sensitive-service request is stays known while any part of the identity does.
    if marker and counts.get(-1) and any(out[c] for c in identity_categories()):
        out[marker] += counts[-1]
    return +out


def pending_rows(beneficiary_ids) -> dict[int, Counter]:
    """Return {beneficiary id: Counter(category → values not yet erased)} for the files that hold any."""
    all_targets = targets()
    out = {}
    for bid, counts in pending_by_target(beneficiary_ids, all_targets).items():
        categories = by_category(counts, all_targets)
        if categories:
            out[bid] = categories
    return out


# ---- the plan ------------------------------------------------------------------------------------------------
@dataclass
class FilePlan:
    """What the run erases in one file now."""

    beneficiary_id: int
    reference: str | None
    last_activity: datetime.datetime
    # Categories due now, in the registry's order.
    categories: list[str]
    # Values per due category not yet erased (a row deleted whole counts once).
    rows: dict[str, int]
    # Nothing is left after this: the file becomes anonymised.
    complete: bool


def _order(codes) -> list[str]:
    order = list(registry.CATEGORIES)
    return sorted(codes, key=lambda c: order.index(c) if c in order else len(order))


def plan_for(beneficiary_id: int, last: datetime.datetime, pending: Counter, years: dict[str, int],
             now: datetime.datetime, reference: str | None = None) -> FilePlan | None:
    """Return what is due in one file (None: nothing), from its clock and what it still holds."""
    held = {c for c, n in pending.items() if n}
    due = {c for c in held if now >= add_years(last, years.get(c, _default_years(c)))}
    marker = _service_marker_category()
    if marker and marker in due:
        due |= identity_categories() & held
    if not due:
        return None
    return FilePlan(beneficiary_id, reference, last, _order(due), {c: pending[c] for c in _order(due)},
                    complete=held <= due)


def _default_years(code: str) -> int:
    category = registry.CATEGORIES.get(code)
    return category.retention_years if category else max(c.retention_years for c in registry.CATEGORIES.values())


@dataclass
class DueReport:
    """The files due now, and per category how many files and rows the run would erase."""

    files: list[FilePlan] = field(default_factory=list)
    periods: dict[str, int] = field(default_factory=dict)
    now: datetime.datetime | None = None
    # Staff records past their period, per category (not part of any file): deleted by the run too.
    staff_rows: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return len(self.files)

    @property
    def anonymised(self) -> int:
        return sum(1 for p in self.files if p.complete)

    def by_category(self) -> dict[str, tuple[int, int]]:
        """Return {category: (files, rows)} in the registry's order."""
        files, rows = Counter(), Counter()
        for plan in self.files:
            for code in plan.categories:
                files[code] += 1
                rows[code] += plan.rows.get(code, 0)
        return {code: (files[code], rows[code]) for code in _order(files)}


def due(now: datetime.datetime | None = None) -> DueReport:
    """Return every file with data due for erasure now (nothing is written)."""
    now = now or utcnow()
    years = periods()
    file_years = [y for code, y in years.items() if registry.CATEGORIES[code].about == "beneficiary"]
    shortest = min(file_years) if file_years else 1
    clocks = last_activity()
    # Only files past the shortest period can have anything due: the rest need no closer look.
    ripe = {bid: last for bid, last in clocks.items() if now >= add_years(last, shortest)}
    pending = pending_rows(ripe)
    references = {}
    for chunk in _chunks(sorted(pending)):
        references.update(Beneficiary.select(Beneficiary.id, Beneficiary.reference)
                          .where(Beneficiary.id.in_(chunk)).tuples())
    report = DueReport(periods=years, now=now, staff_rows=staff_rows_due(now, years))
    for bid in sorted(pending):
        plan = plan_for(bid, ripe[bid], pending[bid], years, now, references.get(bid))
        if plan is not None:
            report.files.append(plan)
    return report


# ---- staff records -----------------------------------------------------------------------------------------------
# Categories marked about="staff" in models/personal_data.py (the sign-in history) belong to no beneficiary's
# file: each row is deleted whole once its category's period has passed since it was written.
def _staff_models() -> dict[str, list[type]]:
    """Return {category: the models holding it} for the categories about staff."""
    models, out = _models(), defaultdict(list)
    for (model_name, _field), code in registry.PERSONAL_FIELDS.items():
        if registry.CATEGORIES[code].about == "staff" and models[model_name] not in out[code]:
            out[code].append(models[model_name])
    return out


def _staff_expired(model, years: int, now: datetime.datetime):
    return model.created_at < add_years(now, -years)


def staff_rows_due(now: datetime.datetime | None = None, years: dict[str, int] | None = None) -> Counter:
    """Return Counter(category → staff records past their period) (nothing is written)."""
    now, years = now or utcnow(), years or periods()
    out = Counter()
    for code, models in _staff_models().items():
        for model in models:
            out[code] += model.select().where(_staff_expired(model, years[code], now)).count()
    return +out


def erase_staff_rows(now: datetime.datetime | None = None) -> Counter:
    """Delete the staff records past their period, in one transaction; return Counter(category → rows)."""
    now, years = now or utcnow(), periods()
    out = Counter()
    with db.atomic():
        for code, models in _staff_models().items():
            for model in models:
                out[code] += model.delete().where(_staff_expired(model, years[code], now)).execute()
    return +out


# ---- erasing one file ------------------------------------------------------------------------------------------
def _merged_ids(beneficiary_id: int) -> list[int]:
    """Return the ids of beneficiaries merged into this one: their old audit rows are the same person's."""
    out = []
    query = AuditLog.select(AuditLog.details).where((AuditLog.model == "Beneficiary") & (AuditLog.action == "merge")
                                                    & (AuditLog.record_id == beneficiary_id))
    for (details,) in query.tuples():
        try:
            merged = json.loads(details or "{}").get("merged") or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(merged.get("id"), int):
            out.append(merged["id"])
    return out


def _erase_targets(beneficiary_id: int, categories: set[str], upload_dir, now, all_targets: list[Target],
                   pending: Counter) -> Counter:
    """Blank or delete the file's fields of the given categories; return rows changed per category."""
    changed = Counter()
    for index, target in enumerate(all_targets):
        if target.category not in categories or not pending.get(index):
            continue
        model = target.model
        where = _of_file(model, beneficiary_id) & _pending(target)
        if target.deletes_rows:
            if upload_dir is not None and "stored_name" in model._meta.fields:
                _remove_files(model, where, upload_dir)
            changed[target.category] += model.delete().where(where).execute()
            continue
        values = {model._meta.fields[target.field]: _erased_value(target, beneficiary_id)}
        if (model, target.field) == (Beneficiary, "birth_date"):
            born = Beneficiary.select(Beneficiary.birth_date).where(where).scalar()
            if born is None:
                continue
            values = {Beneficiary.birth_date: generalised_birth_date(_as_date(born))}
        values.update(_stamp(model, now))
        changed[target.category] += model.update(values).where(where).execute()
    return changed


def _as_date(value) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value)[:10])


def _stamp(model, now) -> dict:
    """Return the columns that mark a row as written by the run (and bump its version, so an open edit form fails)."""
    fields = model._meta.fields
    values = {fields["updated_at"]: now, fields["updated_by"]: RETENTION_ACTOR}
    if "version" in fields:
        values[fields["version"]] = fields["version"] + 1
    return values


def _remove_files(model, where, upload_dir) -> None:
    """Delete the stored files of the rows about to be deleted (before the commit: see erase_file)."""
    folder = Path(upload_dir)
    for (stored,) in model.select(model.stored_name).where(where).tuples():
        name = Path(stored or "").name
        if name:
            (folder / name).unlink(missing_ok=True)


def _stop_messages(beneficiary_id: int, now) -> int:
    """Give up the file's messages not yet sent: their text is about to be erased."""
    where = _of_file(Notification, beneficiary_id) & (
        (Notification.status == "queued") | ((Notification.status == "failed") & Notification.next_attempt_at.is_null(False)))
    return (Notification.update({Notification.status: "failed", Notification.next_attempt_at: None,
                                 **_stamp(Notification, now)}).where(where).execute())


# ---- the audit log's copies -------------------------------------------------------------------------------------
def _name_categories() -> dict[str, set[str]]:
    """Return {field name: categories} over every target: how a value is recognised in free JSON."""
    names: dict[str, set[str]] = defaultdict(set)
    for target in targets():
        names[target.field].add(target.category)
    return names


def _key_categories(model_name: str, key: str, names: dict, answers: dict[int, bool]) -> set[str]:
    exact = field_category(model_name, key)
    if exact:
        return {exact}
    if key.startswith("answer:"):
        qid = key.split(":", 1)[1]
        sensitive = answers.get(int(qid)) if qid.isdigit() else True
        marker = registry.ROW_MARKERS.get(ANSWER_MARKER, ANSWER_CATEGORY)
        return {marker if sensitive in (True, None) else ANSWER_CATEGORY}
    if key.startswith("waiver:"):
        return {field_category("MethodWaiver", "reason")}
    return names.get(key, set())


def _scrub(value, model_name: str, categories: set[str], names: dict, answers: dict, key: str | None = None):
    """Return a JSON value with the values of the given categories replaced by ERASED."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            inner = model_name
            if ":" in k and k.split(":", 1)[0] in _models():
                inner = k.split(":", 1)[0]      # an inline row's snapshot: "HouseholdMember:12"
            if isinstance(v, (dict, list)):
                out[k] = _scrub(v, inner, categories, names, answers, k)
            elif v is not None and _key_categories(model_name, k, names, answers) & categories:
                out[k] = ERASED
            else:
                out[k] = v
        return out
    if isinstance(value, list):
        if key is not None and _key_categories(model_name, key, names, answers) & categories:
            # {field: [before, after]}
            return [ERASED if v is not None and not isinstance(v, (dict, list)) else
                    _scrub(v, model_name, categories, names, answers) for v in value]
        return [_scrub(v, model_name, categories, names, answers) for v in value]
    return value


_AUDIT_COLUMNS = (AuditLog.id, AuditLog.action, AuditLog.actor, AuditLog.model, AuditLog.changes, AuditLog.details,
                  AuditLog.ip)


def _audit_queries(among) -> list:
    queries = []
    for model in _linked_models():
        rows = model.select(model._meta.primary_key).where(_of_file(model, _SENTINEL))
        queries.append(AuditLog.select(*_AUDIT_COLUMNS).where((AuditLog.model == model.__name__)
                                                              & AuditLog.record_id.in_(rows)))
    return queries


def _audit_rows(beneficiary_id: int) -> list[AuditLog]:
    """Return the audit rows of every record of the file, the beneficiaries merged into it included."""
    own = (AuditLog.select(*_AUDIT_COLUMNS).where((AuditLog.model == "Beneficiary") & AuditLog.record_id.in_(
        [beneficiary_id] + _merged_ids(beneficiary_id))).tuples())
    rows = list(own) + _for_one_file("audit", _audit_queries, beneficiary_id)
    return [AuditLog(**dict(zip([c.name for c in _AUDIT_COLUMNS], values))) for values in rows]


def _scrub_audit(beneficiary_id: int, categories: set[str]) -> int:
    """Erase the given categories' values from the audit rows of the file's records; return rows changed."""
    names = _name_categories()
    answers = dict(IntakeQuestion.select(IntakeQuestion.id, IntakeQuestion.sensitive).tuples())
    identifiers = {field_category("Interaction", "ip")} & categories
    free_text = {field_category("RequestTransition", "note")} & categories
    changed = 0
    for row in _audit_rows(beneficiary_id):
        if row.action in OWN_ACTIONS:
            continue  # the run's own entries hold counts and category codes, never personal data
        model_name = row.model
        values = {}
        if row.changes:
            new = _scrub_text(row.changes, model_name, categories, names, answers)
            if new != row.changes:
                values[AuditLog.changes] = new
        if row.details:
            new = _scrub_text(row.details, model_name, categories, names, answers)
            # A status change's details are the free note typed with it.
            if new == row.details and free_text and row.action == "status" and row.details != ERASED \
                    and not _is_json(row.details):
                new = ERASED
            if new != row.details:
                values[AuditLog.details] = new
        if identifiers and row.actor == PORTAL_ACTOR and row.ip:
            values[AuditLog.ip] = None
        if values:
            changed += AuditLog.update(values).where(AuditLog.id == row.id).execute()
    return changed


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


def _scrub_text(text: str, model_name: str, categories: set[str], names: dict, answers: dict) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, (dict, list)):
        return text
    return json.dumps(_scrub(data, model_name, categories, names, answers), ensure_ascii=False)


# ---- the run -------------------------------------------------------------------------------------------------------
@dataclass
class FileResult:
    beneficiary_id: int
    reference: str | None
    categories: list[str]
    rows: dict[str, int]
    audit_rows: int
    complete: bool


def erase_file(beneficiary_id: int, *, actor: str, upload_dir=None, now: datetime.datetime | None = None,
               run: RetentionRun | None = None) -> FileResult | None:
    """Erase what is due in one file, in one transaction; return what was erased (None: nothing was due).

    What is due is worked out again inside the transaction, so a request opened since the list was
    made keeps the file whole. Documents' files are deleted from disk before the commit: if the commit
    then fails the rows stay with their files gone, and the next run, finding them still due, finishes.
    """
    now = now or utcnow()
    # Decided files' personal data goes too, when its period has passed: the rules table's "retention" exemption.
    with db.atomic(), workflow.exempt("retention"):
        beneficiary = Beneficiary.get_or_none(Beneficiary.id == beneficiary_id)
        if beneficiary is None or not _candidates().where(Beneficiary.id == beneficiary_id).exists():
            return None
        last = last_activity([beneficiary_id]).get(beneficiary_id, beneficiary.created_at)
        all_targets = targets()
        pending = pending_by_target([beneficiary_id], all_targets).get(beneficiary_id, Counter())
        plan = plan_for(beneficiary_id, last, by_category(pending, all_targets), periods(), now,
                        beneficiary.reference)
        if plan is None:
            return None
        categories = set(plan.categories)
        audit_rows = _scrub_audit(beneficiary_id, categories)
        if registry.PERSONAL_FIELDS.get(("Notification", "body")) in categories:
            _stop_messages(beneficiary_id, now)
        rows = _erase_targets(beneficiary_id, categories, upload_dir, now, all_targets, pending)
        if categories & identity_categories():
            # A pair to review says nothing once the identity is gone; a dismissed pair stays as it is.
            DuplicateCandidate.delete().where(((DuplicateCandidate.beneficiary_a == beneficiary_id)
                                               | (DuplicateCandidate.beneficiary_b == beneficiary_id))
                                              & (DuplicateCandidate.status == "open")).execute()
        RetentionErasure.insert_many([
            {"beneficiary": beneficiary_id, "category": code, "last_activity": last, "erased_at": now,
             "run": run.id if run else None, "created_at": now, "updated_at": now, "created_by": actor,
             "updated_by": RETENTION_ACTOR} for code in plan.categories]).execute()
        values = _stamp(Beneficiary, now)
        if plan.complete:
            values[Beneficiary.anonymised_at] = now
        Beneficiary.update(values).where(Beneficiary.id == beneficiary_id).execute()
        audit.record("retention_erase", model="Beneficiary", record_id=beneficiary_id, actor=actor, details={
            "categories": plan.categories, "last_activity": last, "rows": dict(rows), "audit_rows": audit_rows,
            "anonymised": plan.complete, "run": run.id if run else None})
    return FileResult(beneficiary_id, plan.reference, plan.categories, dict(rows), audit_rows, plan.complete)


@dataclass
class RunResult:
    report: DueReport
    done: list[FileResult] = field(default_factory=list)
    failed: int = 0
    run: RetentionRun | None = None

    @property
    def remaining(self) -> int:
        return self.report.total - len(self.done) - self.failed


def check_can_run(actor) -> None:
    """Raise PermissionDenied unless the user may run the retention (the command line may)."""
    if isinstance(actor, User) and not can(actor.role, "retention.run"):
        raise PermissionDenied(N_("Only a manager or an administrator runs the retention."))


def check_confirmation(typed, expected: int) -> None:
    """Raise ValidationError unless the number typed is the number of files due (Arabic-Indic digits too)."""
    value = to_ascii_digits(str(typed or "")).strip()
    if not value:
        raise ValidationError(N_("Type the number of files to anonymise to confirm: the erasure cannot be undone."),
                              field="confirm")
    if value != str(expected):
        raise ValidationError(N_("The number typed is not the number of files due now (%(count)s): check the list "
                                 "again, it may have changed."), field="confirm", count=expected)


def run(actor, *, upload_dir=None, now: datetime.datetime | None = None, limit: int | None = None,
        dry_run: bool = False, confirm=None, progress=None) -> RunResult:
    """List the files due and, unless dry_run, erase them one transaction each; audited as one run.

    actor: the User who asked (their role is checked) or a name such as "cli". confirm: when not None,
    the number of files typed by the person as confirmation (check_confirmation). limit: erase at
    most this many files (the screen's; the rest wait for the next run).
    """
    check_can_run(actor)
    actor_name = actor.username if isinstance(actor, User) else (actor or "cli")
    now = now or utcnow()
    report = due(now)
    result = RunResult(report)
    if dry_run:
        return result
    if confirm is not None:
        check_confirmation(confirm, report.total)
    todo = report.files if limit is None else report.files[:limit]
    with db.atomic():
        result.run = RetentionRun.create(started_at=now, actor=actor_name, files_due=report.total)
    counts, error = Counter(), None
    for i, plan in enumerate(todo, 1):
        try:
            done = erase_file(plan.beneficiary_id, actor=actor_name, upload_dir=upload_dir, now=now, run=result.run)
        except Exception as err:  # one broken file must not keep the others past their period
            log.exception("retention: file %s could not be erased", plan.beneficiary_id)
            result.failed += 1
            error = error or f"{plan.reference or plan.beneficiary_id}: {type(err).__name__}: {err}"
            continue
        if done is not None:
            result.done.append(done)
            counts.update(done.categories)
        if progress:
            progress(i, len(todo))
    try:
        counts.update(erase_staff_rows(now))
    except Exception as err:  # the files' erasures stand; the next run deletes these
        log.exception("retention: staff records could not be deleted")
        error = error or f"staff records: {type(err).__name__}: {err}"
    with db.atomic():
        r = result.run
        r.finished_at, r.files_done, r.counts = utcnow(), len(result.done), json.dumps(dict(counts))
        r.partial, r.error = len(todo) < report.total, error
        r.save()
        audit.record("retention_run", r, actor=actor_name, details={
            "files_due": report.total, "files_erased": len(result.done), "failed": result.failed,
            "anonymised": sum(1 for d in result.done if d.complete), "categories": dict(counts),
            "remaining": result.remaining})
    return result


def last_runs(limit: int = 10) -> list[RetentionRun]:
    """Return the latest real runs, newest first."""
    return list(RetentionRun.select().order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc()).limit(limit))
