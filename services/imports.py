"""Bringing existing records in from Excel and CSV: mapping, dry run, one-transaction commit, rejected rows.

The flow: create_batch() keeps the uploaded file and maps its columns (a remembered mapping for
the same header row, else the column names); analyse() is the dry run: every row read, normalised
with the forms' validators and classified as created, updated (same ID number), unchanged or
rejected, with possible duplicates, and every column not mapped to a field listed with a few of its
values; commit() does the same and writes the valid rows in one transaction, audited as one import.
Both write the rejected rows, with an error column, to an .xlsx ready to fix and import again.

Rules:
- A matched beneficiary gets only the cells the file fills: an empty cell never blanks a value.
- Imported past requests keep their status and dates: the workflow table is walked with
  check_guards=False, and no message to the beneficiary is queued.
- An imported open request that clashes with another open request of the same service (in the
  database or earlier in the file) is rejected with the reason (services.fairness).
- Consent of imported records has the basis "legacy" and the file it came from (ImportedRecord).
- Importing the same file again changes nothing: matched rows are unchanged, requests already
  imported are recognised by their legacy number or a digest of their fields.
- No column is dropped in silence: the commit is refused while a column holding values is neither
  mapped nor ignored (services.import_columns).
- A reason names the column as the file spells it, and the cell's value unless it is personal data
  (models.personal_data): the rejected-rows file, not the report, carries the rows themselves.
"""
import datetime
import hashlib
import json
import shutil
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from peewee import CharField

from models import (
    AuditLog,
    Beneficiary,
    ColumnMapping,
    Demonym,
    ImportBatch,
    ImportedRecord,
    RequestTransition,
    Service,
    ServiceRequest,
    SharedMobile,
    db,
    utcnow,
)
from models.personal_data import PERSONAL_FIELDS

from . import audit, consent, duplicates, import_progress, workflow
from .beneficiaries import normalize_beneficiary
from .bulk_insert import insert_rows, update_column
from .dates import utc_midnight
from .errors import N_, DomainError, PermissionDenied, ValidationError
from .import_columns import IGNORED, Tally, UnmappedColumns, blocking, column_of, mapping_key, resolve, scan, widen
from .import_read import Formula, data_rows, file_format, read_sheet, sheet_names
from .import_values import (
    COLUMNS,
    FIELD_LABELS,
    REQUIRED,
    auto_mapping,
    calendar_of,
    cell_text,
    cldr_names,
    guess_kind,
    header_key,
    nationality_lookup,
    parse_channel,
    parse_date,
    parse_decision,
    parse_gender,
    parse_id_type,
    parse_int,
    parse_language,
    parse_status,
)
from .normalize import clean_number, clean_text, name_key
from .requests import assign_number, normalize_request
from .roles import can
from .validators import id_type_for_number, normalize_email, normalize_mobile

# Rows read, checked and written together: bounds memory and the size of one IN (...) look-up.
CHUNK = 500
# How much of the report is kept for the preview page (the rejected-rows file holds every row).
SHOWN_REJECTED = 500
SHOWN_SAMPLES = 20
SHOWN_DUPLICATES = 200
KINDS = ("beneficiaries", "requests")
# Fields whose cell values a reason does not repeat (the rejected-rows file has the row itself).
PERSONAL = frozenset(f for (model, f), _category in PERSONAL_FIELDS.items() if model in ("Beneficiary",
                                                                                           "ServiceRequest"))

Translate = Callable[..., str]


def plain(message: str, **params) -> str:
    """Translate nothing: the msgid with its parameters filled in."""
    return message % params if params else message


# ---- batches and column mappings ---------------------------------------------------------------------
def _check(actor) -> None:
    if actor is None or not can(actor.role, "import"):
        raise PermissionDenied(N_("Only a manager or an administrator imports records."))


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def header_hash(headers) -> str:
    """Return the key a column mapping is remembered under: the sha256 of the normalised header row."""
    keys = [header_key(h) for h in headers]
    while keys and not keys[-1]:
        keys.pop()  # unnamed columns at the end (values beyond the header) do not change the file's layout
    return hashlib.sha256("\x1f".join(keys).encode("utf-8")).hexdigest()


def create_batch(source, file_name: str, import_dir, actor) -> ImportBatch:
    """Keep an uploaded file (a path or a binary stream) and map its sheets' columns; audited."""
    _check(actor)
    fmt = file_format(file_name)
    folder = Path(import_dir)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"upload-{utcnow():%Y%m%d%H%M%S%f}.{fmt}"
    if isinstance(source, (str, Path)):
        shutil.copyfile(source, partial)
    else:
        with open(partial, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    sha = file_sha256(partial)
    stored = folder / f"{sha[:16]}-{partial.name}"
    partial.rename(stored)
    try:
        sheets = _read_sheets(stored, fmt)
    except DomainError:
        stored.unlink(missing_ok=True)
        raise
    if not any(s["headers"] for s in sheets.values()):
        stored.unlink(missing_ok=True)
        raise ValidationError(N_("The file has no header row with column names."), field="file")
    with db.atomic():
        batch = ImportBatch.create(file_name=clean_text(file_name)[:255] or "import", sha256=sha,
                                   stored_path=str(stored), requested_by=getattr(actor, "id", None),
                                   sheets=json.dumps(sheets, ensure_ascii=False),
                                   total_rows=sum(s["estimated_rows"] for s in sheets.values() if s["kind"]))
        audit.record("create", batch, changes=audit.diff(None, audit.snapshot(batch)),
                     details={"file": batch.file_name, "sha256": sha}, actor=actor.username)
    return batch


def _read_sheets(path: Path, fmt: str) -> dict:
    sheets = {}
    for name in sheet_names(path, fmt):
        sheet = read_sheet(path, fmt, name)
        kind = guess_kind(sheet.headers) if sheet.headers else ""
        remembered = ColumnMapping.get_or_none(ColumnMapping.header_hash == header_hash(sheet.headers)) \
            if sheet.headers else None
        headers = sheet.headers
        if remembered is not None:
            kind, mapping = remembered.kind, json.loads(remembered.mapping)
            # The same layout: columns without a name that an earlier file had beyond its header are decided too.
            headers = headers + [""] * (len(mapping) - len(headers))
            mapping = (mapping + [""] * len(headers))[:len(headers)]
        else:
            mapping = auto_mapping(kind, headers) if kind else []
        sheets[name] = {"kind": kind, "header_row": sheet.header_row, "headers": headers,
                        "mapping": mapping, "samples": sheet.samples, "estimated_rows": sheet.estimated_rows,
                        "remembered": remembered is not None}
    return sheets


def sheets_of(batch: ImportBatch) -> dict:
    """Return the batch's sheets: kind, header row, headers, mapping (a field or "" per column), samples."""
    return json.loads(batch.sheets or "{}")


def undecided_columns(batch: ImportBatch) -> dict[str, list[str]]:
    """Return, per sheet to import, the headers of the columns neither mapped nor ignored (unnamed ones as "")."""
    return {name: [h for h, f in zip(s["headers"], s["mapping"]) if not f]
            for name, s in sheets_of(batch).items() if s["kind"]}


def set_mapping(batch: ImportBatch, sheet: str, kind: str, mapping: list[str], actor) -> None:
    """Map a sheet's columns by hand (IGNORED leaves a column out; kind "" skips the sheet) and remember it."""
    _check(actor)
    sheets = sheets_of(batch)
    if sheet not in sheets:
        raise ValidationError(N_("This file has no sheet named %(sheet)s."), sheet=sheet)
    if batch.status == "done":
        raise ValidationError(N_("This import has already been written; upload the file again to change it."))
    if batch.status in import_progress.RUNNING:
        raise ValidationError(N_("This file is being checked or imported: wait for the result."))
    info = sheets[sheet]
    if kind and kind not in KINDS:
        raise ValidationError(N_("Unknown kind of sheet."))
    allowed = set(COLUMNS.get(kind, {})) | {"", IGNORED}
    widen(info, len(mapping))  # a column beyond the header row, named by its letter
    mapping = [(m or "") for m in mapping][:len(info["headers"])]
    mapping += [""] * (len(info["headers"]) - len(mapping))
    for m in mapping:
        if m not in allowed:
            raise ValidationError(N_("Unknown field: %(name)s."), name=m)
    chosen = [m for m in mapping if m and m != IGNORED]
    if len(chosen) != len(set(chosen)):
        raise ValidationError(N_("Each field can be given by one column only."))
    info["kind"], info["mapping"] = kind, mapping
    with db.atomic():
        before = batch.sheets
        batch.sheets = json.dumps(sheets, ensure_ascii=False)
        batch.status = "uploaded"
        batch.save()
        if kind and info["headers"]:
            key = header_hash(info["headers"])
            row = ColumnMapping.get_or_none(ColumnMapping.header_hash == key) or ColumnMapping(header_hash=key)
            row.kind, row.headers = kind, json.dumps(info["headers"], ensure_ascii=False)
            row.mapping = json.dumps(mapping, ensure_ascii=False)
            row.save()
        audit.record("update", batch, changes={"sheets": [json.loads(before), sheets]}, actor=actor.username)


def choose_columns(batch: ImportBatch, choices: list[tuple[str, str]], actor, sheet: str | None = None) -> None:
    """Map or ignore columns named by header or letter: (column, field or IGNORED), as the command line does.

    Applied to each sheet to import that has such a column (or to the one sheet given), and
    remembered like a mapping chosen on screen.
    """
    sheets = {n: s for n, s in sheets_of(batch).items() if s["kind"] and sheet in (None, n)}
    for reference, _target in choices:
        if not any(_names_column(info, reference) for info in sheets.values()):
            raise ValidationError(N_("This file has no column named %(name)s."), name=reference)
    for name, info in sheets.items():
        own = [(reference, target) for reference, target in choices if _names_column(info, reference)]
        if own:
            set_mapping(batch, name, info["kind"], resolve(info, info["kind"], own), actor)


def _names_column(info: dict, reference: str) -> bool:
    try:
        column_of(dict(info), reference)
    except ValidationError:
        return False
    return True


def missing_required(batch: ImportBatch) -> list[tuple[str, str]]:
    """Return (sheet, field) for each required field no column gives."""
    missing = []
    for name, s in sheets_of(batch).items():
        if s["kind"]:
            missing += [(name, f) for f in REQUIRED[s["kind"]] if f not in s["mapping"]]
    return missing


def validate_demonym(d: Demonym) -> Demonym:
    """Validate a nationality name of the table: text, an ISO country code, not already listed."""
    d.text = clean_text(d.text)
    if not d.text:
        raise ValidationError(N_("Write the nationality as people write it."), field="text")
    d.key = name_key(d.text)
    d.country = clean_text(d.country).upper()
    if d.country not in set(cldr_names().values()):
        raise ValidationError(N_("Write the country's two-letter ISO code (SA, YE, PK …)."), field="country")
    other = Demonym.select().where(Demonym.key == d.key)
    if d.id is not None:
        other = other.where(Demonym.id != d.id)
    if other.exists():
        raise ValidationError(N_("This name is already in the table."), field="text")
    return d


# ---- the report -----------------------------------------------------------------------------------------
@dataclass
class Report:
    """What a dry run found or a commit wrote; kept as JSON on the batch for the preview page."""

    sheets: list = field(default_factory=list)
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    rejected: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)
    counts: dict = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0})
    rows: int = 0
    same_file: dict | None = None
    # Columns neither mapped nor ignored, and ignored ones: sheet, letter, header, filled cells, a few values.
    columns: list = field(default_factory=list)
    # The mapping these findings hold for (services.import_columns.mapping_key).
    mapping_key: str = ""

    def sample(self, bucket: list, item: dict, limit: int) -> None:
        if len(bucket) < limit:
            bucket.append(item)

    def as_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, default=str)


def report_of(batch: ImportBatch) -> dict | None:
    """Return the stored report of the batch's last dry run or commit."""
    return json.loads(batch.report) if batch.report else None


@dataclass
class RowIssue:
    column: str
    value: str
    message: str
    params: dict


class RejectedWriter:
    """The rejected rows, streamed into an .xlsx: the original columns plus an error column."""

    def __init__(self, path: Path, translate: Translate):
        from openpyxl import Workbook
        self.path, self.translate = path, translate
        self.book = Workbook(write_only=True)
        self.sheets = {}
        self.count = 0

    def _cell(self, sheet, value):
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        c = WriteOnlyCell(sheet)
        if isinstance(value, (datetime.date, int, float)) and not isinstance(value, bool):
            c.value = value
            if isinstance(value, datetime.date):
                c.number_format = "yyyy-mm-dd"
        else:
            # As exports do: text stays text, a formula's text included (never run).
            c.value = ILLEGAL_CHARACTERS_RE.sub("", "" if value is None else str(value))
            c.data_type = "s"
        return c

    def add(self, sheet_name: str, headers: list, cells: list, issues: list[RowIssue]) -> None:
        sheet = self.sheets.get(sheet_name)
        if sheet is None:
            from .export import _sheet_title
            sheet = self.book.create_sheet(title=_sheet_title(sheet_name))
            sheet.sheet_view.rightToLeft = True
            sheet.append([self._cell(sheet, h) for h in headers] + [self._cell(sheet, self.translate(N_("Errors")))])
            self.sheets[sheet_name] = sheet
        reasons = "؛ ".join(f"{i.column}: {self.translate(i.message, **i.params)}" if i.column
                           else self.translate(i.message, **i.params) for i in issues)
        # The error column stays under its header; a value beyond the header row follows it.
        width = len(headers)
        beyond = list(cells[width:])
        while beyond and beyond[-1] is None:
            beyond.pop()
        own = list(cells[:width]) + [None] * (width - len(cells))
        sheet.append([self._cell(sheet, v) for v in own] + [self._cell(sheet, reasons)]
                     + [self._cell(sheet, v) for v in beyond])
        self.count += 1

    def close(self) -> str | None:
        if not self.count:
            self.path.unlink(missing_ok=True)
            return None
        self.book.save(self.path)
        return str(self.path)


# ---- reading one row ------------------------------------------------------------------------------------
@dataclass
class Context:
    """What processing a file needs besides its rows."""

    batch: ImportBatch
    actor: object
    write: bool
    translate: Translate
    default_channel: str = "interview"
    progress: Callable | None = None
    now: datetime.datetime = field(default_factory=utcnow)
    nationality: Callable = None
    services: dict = field(default_factory=dict)
    # In-file memory for duplicates: (id_type, id_number) → first row, mobiles, name+birth keys.
    seen_ids: dict = field(default_factory=dict)
    planned: set = field(default_factory=set)
    seen_mobiles: dict = field(default_factory=dict)
    seen_names: dict = field(default_factory=dict)
    seen_requests: dict = field(default_factory=dict)
    open_requests: dict = field(default_factory=dict)
    shared_mobiles: set = field(default_factory=set)
    done_rows: int = 0
    # The current sheet's date columns whose names say their calendar: {field: "hijri" | "gregorian"}.
    calendars: dict = field(default_factory=dict)
    # What a text of a field with few distinct values was read as: {(field, text): value}.
    known: dict = field(default_factory=dict)


def _raw(mapping, cells, fld):
    """Return the cell as the file has it for a field (what the rejected row shows)."""
    return next((c for m, c in zip(mapping, cells) if m == fld and fld), "")


def _issue(ctx, headers, mapping, fld, value, err: DomainError) -> RowIssue:
    """Return the reason a cell is refused, naming its column as the file spells it; its value unless personal."""
    column = err.field or fld
    header = next((h for h, m in zip(headers, mapping) if m == column and h), None)
    if header is None:
        header = ctx.translate(FIELD_LABELS[column]) if column in FIELD_LABELS else ""
    shown = value if err.field in (None, fld) and column not in PERSONAL else ""
    return RowIssue(header, cell_text(shown) if not isinstance(shown, Formula) else str(shown), err.message,
                    err.params)


_PARSERS = {
    "gender": parse_gender, "id_type": parse_id_type, "language": parse_language, "channel": parse_channel,
    "status": parse_status, "decision": parse_decision,
    "family_size": lambda v: parse_int(v, "family_size"),
    "mobile": normalize_mobile, "email": normalize_email,
}
DATES = ("birth_date", "submitted_at", "decided_at")
REPEATED = frozenset({"nationality", "gender", "id_type", "language", "channel", "status", "decision"})


@cache
def _max_length(fld: str) -> int | None:
    """Return the column length of the field an import column fills, if it is a limited text column."""
    for model in (Beneficiary, ServiceRequest):
        column = model._meta.fields.get(fld)
        if isinstance(column, CharField) and column.max_length:
            return column.max_length
    return None


def _parse_row(ctx: Context, headers, mapping, cells) -> tuple[dict, list[RowIssue]]:
    """Return {field: parsed value} of the filled cells, and an issue per unreadable cell."""
    values, issues = {}, []
    for fld, value in zip(mapping, cells):
        if not fld or fld == IGNORED:
            continue
        if isinstance(value, Formula):
            issues.append(_issue(ctx, headers, mapping, fld, value, ValidationError(
                N_("A formula without a computed value: open the file in Excel and save it, or paste the values."),
                field=fld)))
            continue
        text = cell_text(value)
        if not text:
            continue
        try:
            if fld in REPEATED:
                # A handful of distinct texts in the whole file (ذكر، أنثى، سعودي …): each is read once.
                known = ctx.known.get((fld, text))
                if known is None:
                    known = ctx.known[(fld, text)] = (ctx.nationality(value) if fld == "nationality"
                                                      else _PARSERS[fld](value))
                values[fld] = known
            elif fld in DATES:
                values[fld] = parse_date(value, fld, ctx.calendars.get(fld))
            elif fld in _PARSERS:
                values[fld] = _PARSERS[fld](value)
            elif fld == "id_number":
                values[fld] = clean_number(text).upper()
            else:
                values[fld] = text
            # SQLite stores a longer text anyway; PostgreSQL refuses it, which would fail the whole import.
            limit = _max_length(fld)
            if limit and isinstance(values[fld], str) and len(values[fld]) > limit:
                del values[fld]
                raise ValidationError(N_("Longer than %(limit)s characters."), field=fld, limit=limit)
        except ValidationError as err:
            issues.append(_issue(ctx, headers, mapping, fld, value, err))
    # The ID number before its type: a row without a number is refused for the number, in its own column.
    if "id_number" not in values:
        if not any(m == "id_number" and isinstance(c, Formula) for m, c in zip(mapping, cells)):
            issues.insert(0, _issue(ctx, headers, mapping, "id_number", "", ValidationError(
                N_("The ID number is required."), field="id_number")))
    elif not values.get("id_type"):
        number = values["id_number"]
        guessed = id_type_for_number(number) or ("passport" if any(c.isalpha() for c in number) else None)
        if guessed:
            values["id_type"] = guessed
        else:
            issues.append(_issue(ctx, headers, mapping, "id_number", number, ValidationError(
                N_("The ID type cannot be told from this number: add an ID type column.") if "id_type" not in mapping
                else N_("The ID type cannot be told from this number: write it in the ID type column."),
                field="id_number")))
    return values, issues


# ---- beneficiaries ----------------------------------------------------------------------------------------
_WRITABLE = ("full_name", "latin_name", "id_type", "id_number", "nationality", "gender", "birth_date", "mobile",
             "email", "city", "district", "category", "family_size", "language", "notes")


def _label(b: Beneficiary) -> str:
    return f"{b.reference or ''} {b.full_name}".strip()


def _beneficiary_chunk(ctx: Context, report: Report, sheet: str, headers, mapping, chunk, rejected) -> None:
    parsed = [(number, cells, *_parse_row(ctx, headers, mapping, cells)) for number, cells in chunk]
    keys = {(v.get("id_type"), v.get("id_number")) for _n, _c, v, _i in parsed if v.get("id_number")}
    numbers = list({k[1] for k in keys})
    existing = {(b.id_type, b.id_number): b for b in Beneficiary.select().where(Beneficiary.id_number.in_(numbers))}
    counts = report.counts
    # First every row is checked and normalised, in order; then the accepted ones are compared and written.
    accepted = []
    for number, cells, values, issues in parsed:
        ctx.done_rows += 1
        key = (values.get("id_type"), values.get("id_number"))
        if not issues and values.get("id_number"):
            first = ctx.seen_ids.get(key)
            if first is not None:
                err = ValidationError(N_("The same ID number is on row %(row)s of this file."), field="id_number",
                                      row=first)
                issues.append(_issue(ctx, headers, mapping, "id_number", _raw(mapping, cells, "id_number"), err))
        if not issues:
            target = existing.get(key)
            b = Beneficiary(**{f: getattr(target, f) for f in Beneficiary._meta.fields}) if target else Beneficiary()
            before = audit.snapshot(b) if target else None
            for fld in _WRITABLE:
                if fld in values:
                    setattr(b, fld, values[fld])
            if not target:
                if not b.nationality and b.id_type == "national_id":
                    b.nationality = "SA"
                b.language = b.language or "ar"
            if b.consent_at is None:
                b.consent_at = ctx.now
            try:
                # Uniqueness was looked up for the whole chunk above (existing), not row by row.
                normalize_beneficiary(b, check_unique=False)
            except ValidationError as err:
                issues.append(_issue(ctx, headers, mapping, err.field, _raw(mapping, cells, err.field), err))
        if issues:
            _reject_row(counts, report, rejected, sheet, number, headers, cells, issues)
            continue
        ctx.seen_ids[key] = number
        accepted.append((number, key, b, target, before))
    # Possible duplicates (P6.6): the chunk's mobiles and name keys looked up at once.
    by_mobile, by_name = {}, {}
    mobiles = list({b.mobile for _n, _k, b, _t, _b in accepted if b.mobile} - ctx.shared_mobiles)
    for other in Beneficiary.select(Beneficiary.id, Beneficiary.reference, Beneficiary.mobile, Beneficiary.id_type,
                                    Beneficiary.id_number).where(Beneficiary.mobile.in_(mobiles)):
        by_mobile.setdefault(other.mobile, other)
    names = list({b.name_key for _n, _k, b, _t, _b in accepted if b.name_key and b.birth_date})
    for other in Beneficiary.select(Beneficiary.reference, Beneficiary.name_key, Beneficiary.birth_date,
                                    Beneficiary.id_type, Beneficiary.id_number).where(
            Beneficiary.name_key.in_(names) & Beneficiary.birth_date.is_null(False)):
        by_name.setdefault((other.name_key, other.birth_date), []).append(other)
    creates = []
    for number, key, b, target, before in accepted:
        _possible_duplicates(ctx, report, sheet, number, b, by_mobile, by_name)
        if target is None:
            counts["created"] += 1
            ctx.planned.add(key)
            report.sample(report.created, {"sheet": sheet, "row": number, "label": b.full_name}, SHOWN_SAMPLES)
            creates.append((number, b))
            continue
        changes = audit.diff(before, audit.snapshot(b))
        if not changes:
            counts["unchanged"] += 1
            continue
        counts["updated"] += 1
        report.sample(report.updated, {"sheet": sheet, "row": number, "label": _label(target),
                                       "fields": sorted(changes)}, SHOWN_SAMPLES)
        if ctx.write:
            b.save(only=[Beneficiary._meta.fields[f] for f in changes] + [Beneficiary.updated_at,
                                                                          Beneficiary.updated_by])
            audit.record("import", b, changes=changes, details={"batch": ctx.batch.id}, actor=ctx.actor.username)
            ImportedRecord.create(batch=ctx.batch, beneficiary=b, action="updated", sheet=sheet, row_number=number)
    if ctx.write and creates:
        _insert_beneficiaries(ctx, sheet, creates)


def _insert_beneficiaries(ctx: Context, sheet: str, creates) -> None:
    """Insert new beneficiaries in one statement, then give references, audit rows and their provenance."""
    fields = [f.name for f in Beneficiary._meta.sorted_fields if f.name != "id"]
    rows = []
    for _number, b in creates:
        b.created_by = b.updated_by = ctx.actor.username
        b.created_at = b.updated_at = ctx.now
        data = b.__data__   # the field values, as getattr would return them one by one
        rows.append({f: data.get(f) for f in fields})
    insert_rows(Beneficiary, rows)
    ids = {(t, n): i for i, t, n in Beneficiary.select(Beneficiary.id, Beneficiary.id_type, Beneficiary.id_number)
           .where(Beneficiary.id_number.in_([b.id_number for _n, b in creates])).tuples()}
    references = {}
    for _number, b in creates:
        b.id = ids[(b.id_type, b.id_number)]
        references[b.id] = reference_for(b.id)
        b.reference = references[b.id]
    # One prepared statement for the chunk's references instead of one UPDATE per row (assign_reference).
    update_column(Beneficiary, Beneficiary.reference, references)
    common = {"created_at": ctx.now, "updated_at": ctx.now, "created_by": ctx.actor.username}
    insert_rows(ImportedRecord, [{"batch": ctx.batch.id, "beneficiary": b.id, "action": "created", "sheet": sheet,
                                  "row_number": number, "consent_basis": "legacy", **common}
                                 for number, b in creates])
    consent.record_imported([b.id for _n, b in creates], ctx.batch.file_name, ctx.actor.username, ctx.now)
    # The same audit rows audit.record writes (audit.diff(None, snapshot): every value set), one statement per chunk.
    insert_rows(AuditLog, [{
        "at": ctx.now, "actor": ctx.actor.username, "action": "import", "model": "Beneficiary", "record_id": b.id,
        "changes": json.dumps({k: [None, v] for k, v in sorted(audit.snapshot(b).items()) if v is not None},
                              ensure_ascii=False, default=str),
        "details": json.dumps({"batch": ctx.batch.id, "row": number}), **common} for number, b in creates])


def _possible_duplicates(ctx, report, sheet, number, b: Beneficiary, by_mobile, by_name) -> None:
    """Note a row sharing a mobile, or a name and birth date, with another row or a registered beneficiary."""
    found = []
    if b.mobile and b.mobile not in ctx.shared_mobiles:
        other = by_mobile.get(b.mobile)
        if other is not None and (other.id_type, other.id_number) != (b.id_type, b.id_number):
            found.append(("mobile", other.reference))
        first = ctx.seen_mobiles.setdefault(b.mobile, number)
        if first != number:
            found.append(("mobile", ("row", first)))
    if b.birth_date and b.name_key:
        key = (b.name_key, b.birth_date)
        first = ctx.seen_names.setdefault(key, number)
        if first != number:
            found.append(("name_birth", ("row", first)))
        else:
            other = next((o for o in by_name.get(key, ()) if (o.id_type, o.id_number) != (b.id_type, b.id_number)),
                         None)
            if other is not None:
                found.append(("name_birth", other.reference))
    for reason, other in found:
        report.sample(report.duplicates, {"sheet": sheet, "row": number, "label": b.full_name, "reason": reason,
                                          "other_row": other[1] if isinstance(other, tuple) else None,
                                          "other": None if isinstance(other, tuple) else other},
                      SHOWN_DUPLICATES)


def reference_for(beneficiary_id: int) -> str:
    """Return the reference of a beneficiary row, in the format services.beneficiaries.assign_reference writes."""
    return f"BEN-{beneficiary_id:06d}"


# ---- past requests ------------------------------------------------------------------------------------------
def _request_key(values: dict, service_id: int) -> str:
    if values.get("legacy_number"):
        return "n:" + name_key(values["legacy_number"])[:60]
    parts = [values.get("id_type"), values.get("id_number"), service_id, values.get("status"),
             values.get("submitted_at"), values.get("decided_at"), values.get("decision")]
    return "h:" + hashlib.sha256(repr(parts).encode()).hexdigest()[:40]


def _path_to(target: str, decision: str | None) -> list[str]:
    """Return the statuses from draft to the target along the workflow table (closed via the decision)."""
    if target == "closed":
        return _path_to("delivered" if decision == "approved" else "rejected", decision) + ["closed"]
    graph = {}
    for t in workflow.TRANSITIONS:
        graph.setdefault(t.source, []).append(t.target)
    queue, seen = deque([["draft"]]), {"draft"}
    while queue:
        path = queue.popleft()
        if path[-1] == target:
            return path[1:]
        for nxt in graph.get(path[-1], []):
            if nxt not in seen and nxt != "withdrawn" or nxt == target:
                seen.add(nxt)
                queue.append(path + [nxt])
    raise ValidationError(N_("Unknown request status."), field="status")


def _request_chunk(ctx: Context, report: Report, sheet: str, headers, mapping, chunk, rejected) -> None:
    parsed = [(number, cells, *_parse_row(ctx, headers, mapping, cells)) for number, cells in chunk]
    numbers = list({v["id_number"] for _n, _c, v, _i in parsed if v.get("id_number")})
    people = {(b.id_type, b.id_number): b for b in Beneficiary.select(
        Beneficiary.id, Beneficiary.id_type, Beneficiary.id_number, Beneficiary.reference)
        .where(Beneficiary.id_number.in_(numbers))}
    counts = report.counts
    for number, cells, values, issues in parsed:
        ctx.done_rows += 1
        key = (values.get("id_type"), values.get("id_number"))
        person = people.get(key)
        if not issues and person is None and key not in ctx.planned:
            issues.append(_issue(ctx, headers, mapping, "id_number", _raw(mapping, cells, "id_number"), ValidationError(
                N_("No beneficiary has this ID number: import the beneficiary first."), field="id_number")))
        service = ctx.services.get(name_key(values.get("service", "")))
        if not issues and service is None:
            issues.append(_issue(ctx, headers, mapping, "service", _raw(mapping, cells, "service"), ValidationError(
                N_("No service has this name."), field="service")))
        if not issues and not values.get("status"):
            issues.append(_issue(ctx, headers, mapping, "status", "", ValidationError(
                N_("The request's status is required."), field="status")))
        if not issues and values["status"] == "closed" and not values.get("decision"):
            # Closed after a delivery or after a rejection: the history is not made up.
            issues.append(_issue(ctx, headers, mapping, "decision", "", ValidationError(
                N_("A closed request needs its decision (approved or rejected)."), field="decision")))
        if not issues:
            status = values["status"]
            decision = values.get("decision") or {"approved": "approved", "delivered": "approved",
                                                  "rejected": "rejected"}.get(status)
            source = _request_key(values, service.id)
            first = ctx.seen_requests.get(source)
            if first is not None:
                issues.append(_issue(ctx, headers, mapping, "legacy_number", _raw(mapping, cells, "legacy_number"),
                                     ValidationError(N_("The same request is on row %(row)s of this file."),
                                                     field="legacy_number", row=first)))
        if not issues and ImportedRecord.select().where(ImportedRecord.source_key == source).exists():
            ctx.seen_requests[source] = number
            counts["unchanged"] += 1
            continue
        if not issues:
            r = ServiceRequest(beneficiary=person.id if person else None, service=service.id, status=status,
                               channel=values.get("channel") or ctx.default_channel, notes=values.get("notes"))
            try:
                if status in workflow.OPEN_STATUSES:
                    clash = ctx.open_requests.get((key, service.id))
                    if clash is not None:
                        raise ValidationError(N_("This beneficiary already has an open request for this service "
                                                 "on row %(row)s of this file."), field="status", row=clash)
                if person is not None:
                    normalize_request(r)
                if status not in ("draft",) and not values.get("submitted_at"):
                    raise ValidationError(N_("The submission date of a past request is required."),
                                          field="submitted_at")
            except ValidationError as err:
                issues.append(_issue(ctx, headers, mapping, err.field, _raw(mapping, cells, err.field), err))
        if issues:
            _reject_row(counts, report, rejected, sheet, number, headers, cells, issues)
            continue
        ctx.seen_requests[source] = number
        if status in workflow.OPEN_STATUSES:
            ctx.open_requests[(key, service.id)] = number
        counts["created"] += 1
        report.sample(report.created, {"sheet": sheet, "row": number,
                                       "label": f"{values['id_number']} — {service.name_ar}"}, SHOWN_SAMPLES)
        if ctx.write:
            _write_request(ctx, sheet, number, values, r, decision, source,
                           person or Beneficiary.get((Beneficiary.id_type == key[0])
                                                     & (Beneficiary.id_number == key[1])))


def _write_request(ctx, sheet, number, values, r: ServiceRequest, decision, source, person) -> None:
    """Create a past request and walk its history to the imported status, without guards or messages."""
    # History that happened outside the system, recorded as it happened: the rules table's "import" exemption.
    with workflow.exempt("import"):
        _write_past_request(ctx, sheet, number, values, r, decision, source, person)


def _write_past_request(ctx, sheet, number, values, r: ServiceRequest, decision, source, person) -> None:
    target = r.status
    submitted = utc_midnight(values["submitted_at"]) if values.get("submitted_at") else None
    decided = utc_midnight(values["decided_at"]) if values.get("decided_at") else None
    r.beneficiary, r.status, r.submitted_at = person.id, "draft", submitted
    r.save(force_insert=True)
    assign_number(r)
    audit.record("import", r, changes=audit.diff(None, audit.snapshot(r)), details={"batch": ctx.batch.id},
                 actor=ctx.actor.username)
    for step in _path_to(target, decision):
        workflow.change_status(r, step, ctx.actor, note=ctx.translate(N_("Imported from %(file)s"),
                                                                       file=ctx.batch.file_name),
                               check_guards=False)
    if decision or values.get("decision_reason"):
        before = audit.snapshot(r)
        r.decision, r.decided_at = decision, decided or submitted
        r.decision_reason = values.get("decision_reason")
        r.save()
        audit.record("import", r, changes=audit.diff(before, audit.snapshot(r)), details={"batch": ctx.batch.id},
                     actor=ctx.actor.username)
    # The history keeps the dates the file gives, not the moment of the import.
    RequestTransition.update(at=submitted or ctx.now).where(RequestTransition.request == r.id).execute()
    if decided:
        RequestTransition.update(at=decided).where(
            (RequestTransition.request == r.id) & RequestTransition.to_status.in_(
                ("approved", "rejected", "delivered", "closed"))).execute()
    ImportedRecord.create(batch=ctx.batch, request=r, beneficiary=person.id, action="created", sheet=sheet,
                          row_number=number, source_key=source)


# ---- running a batch ----------------------------------------------------------------------------------------
def _order(sheets: dict, only_sheet: str | None) -> list[str]:
    # Beneficiaries first, so the requests of people registered by the same file find them.
    return sorted((n for n, s in sheets.items() if s["kind"] and (only_sheet is None or n == only_sheet)),
                  key=lambda n: KINDS.index(sheets[n]["kind"]))


def undecided_with_values(batch: ImportBatch, sheet: str | None = None) -> list[dict]:
    """Return the columns holding values that are neither mapped nor ignored.

    From the dry run when it was made with this mapping, else read from the file (stopping at the
    first such value; nothing to read when every column is decided).
    """
    sheets = sheets_of(batch)
    names = _order(sheets, sheet)
    report = report_of(batch)
    if (report and report.get("mapping_key") == mapping_key(sheets)
            and set(names) <= {s["name"] for s in report["sheets"]}):
        return blocking([c for c in report["columns"] if c["sheet"] in names])
    found = scan(Path(batch.stored_path), file_format(batch.stored_path), sheets, names)
    if found:
        # Columns found beyond the header row are shown on the mapping page from now on.
        batch.sheets = json.dumps(sheets, ensure_ascii=False)
        ImportBatch.update(sheets=batch.sheets).where(ImportBatch.id == batch.id).execute()
    return found


def _run(batch: ImportBatch, ctx: Context, only_sheet: str | None = None) -> Report:
    report = Report()
    same = (ImportBatch.select().where((ImportBatch.sha256 == batch.sha256) & (ImportBatch.id != batch.id)
                                       & (ImportBatch.status == "done")).order_by(ImportBatch.id.desc()).first())
    if same is not None:
        report.same_file = {"batch": same.id, "at": same.committed_at, "file": same.file_name}
    ctx.nationality = nationality_lookup(dict(Demonym.select(Demonym.key, Demonym.country).tuples()))
    for s in Service.select():
        for name in (s.name_ar, s.name_en, str(s.id)):
            ctx.services.setdefault(name_key(name), s)
    ctx.shared_mobiles = {m for m, in SharedMobile.select(SharedMobile.mobile).tuples()}
    fmt = file_format(batch.stored_path)
    path = Path(batch.stored_path)
    rejected = RejectedWriter(path.with_name(path.stem + "-rejected.xlsx"), ctx.translate)
    sheets = sheets_of(batch)
    order = _order(sheets, only_sheet)
    total = sum(sheets[n]["estimated_rows"] for n in order) or 1
    for name in order:
        s = sheets[name]
        missing = [f for f in REQUIRED[s["kind"]] if f not in s["mapping"]]
        if missing:
            raise ValidationError(N_("Sheet %(sheet)s has no column for: %(fields)s."), sheet=name,
                                  fields=", ".join(ctx.translate(FIELD_LABELS[f]) for f in missing))
        handle = _beneficiary_chunk if s["kind"] == "beneficiaries" else _request_chunk
        headers, mapping = s["headers"], s["mapping"]
        ctx.calendars = {f: calendar_of(h) for h, f in zip(headers, mapping) if f in DATES and calendar_of(h)}
        # Every row passes the tally: a value in a column nobody decided on is never dropped unseen.
        tally = Tally(headers, mapping)
        before = dict(report.counts)
        chunk = []
        for number, cells in data_rows(path, fmt, name, s["header_row"], len(headers)):
            tally.add(cells)
            chunk.append((number, cells))
            if len(chunk) >= CHUNK:
                handle(ctx, report, name, headers, mapping, chunk, rejected)
                chunk = []
                _report_progress(ctx, batch, total)
        if chunk:
            handle(ctx, report, name, headers, mapping, chunk, rejected)
        report.columns += tally.columns(name, s)
        report.sheets.append({"name": name, "kind": s["kind"],
                              **{k: report.counts[k] - before[k] for k in report.counts}})
    report.rows = ctx.done_rows
    # Widened by the tally when a value stood beyond the header row: the mapping page then shows that column.
    batch.sheets = json.dumps(sheets, ensure_ascii=False)
    report.mapping_key = mapping_key(sheets)
    if ctx.write and blocking(report.columns):
        raise UnmappedColumns(blocking(report.columns))
    batch.rejected_path = rejected.close()
    return report


def _report_progress(ctx: Context, batch: ImportBatch, total: int) -> None:
    if ctx.progress is not None:
        ctx.progress(ctx.done_rows, total)
    import_progress.beat(batch, ctx.done_rows, total)


def _finish(batch: ImportBatch, report: Report, status: str, actor) -> None:
    batch.status = status
    batch.report = report.as_json()
    batch.processed_rows = report.rows
    batch.total_rows = max(batch.total_rows, report.rows)
    batch.created_count, batch.updated_count = report.counts["created"], report.counts["updated"]
    batch.unchanged_count, batch.rejected_count = report.counts["unchanged"], report.counts["rejected"]
    batch.save()


def _fail(batch: ImportBatch, err: Exception, translate: Translate) -> None:
    message = err.translate(translate) if isinstance(err, DomainError) else f"{type(err).__name__}: {err}"
    more = {"sheets": batch.sheets} if isinstance(err, UnmappedColumns) else {}
    with db.atomic():
        ImportBatch.update(status="failed", error=message[:2000], updated_at=utcnow(), **more).where(
            ImportBatch.id == batch.id).execute()
    import_progress.clear(batch)


def analyse(batch: ImportBatch, actor, translate: Translate = plain, default_channel: str = "interview",
            progress: Callable | None = None, sheet: str | None = None) -> dict:
    """Dry run: classify every row (created, updated, unchanged, rejected), find possible duplicates; write no record."""
    _check(actor)
    import_progress.claim(batch, "analysing")
    ctx = Context(batch, actor, False, translate, default_channel, progress)
    try:
        report = _run(batch, ctx, sheet)
    except Exception as err:
        _fail(batch, err, translate)
        raise
    with db.atomic():
        batch.analysed_at = utcnow()
        batch.error = None
        _finish(batch, report, "ready", actor)
    import_progress.clear(batch)
    return json.loads(report.as_json())


def commit(batch: ImportBatch, actor, translate: Translate = plain, default_channel: str = "interview",
           progress: Callable | None = None, sheet: str | None = None) -> dict:
    """Write the valid rows in one transaction, audited as one import (file name and sha256); return the report.

    Refused first, with nothing written, while a column holding values is neither mapped nor
    ignored. The rows are checked again as they are written (the database may have changed since
    the dry run). Anything unexpected undoes the whole import: nothing is half-written.
    """
    _check(actor)
    if batch.status == "done":
        raise ValidationError(N_("This import has already been written."))
    undecided = undecided_with_values(batch, sheet)
    if undecided:
        refused = UnmappedColumns(undecided)
        if batch.status in import_progress.RUNNING:
            _fail(batch, refused, translate)  # queued for the worker: the batch's page says why
        raise refused
    import_progress.claim(batch, "importing")
    ctx = Context(batch, actor, True, translate, default_channel, progress)
    try:
        with db.atomic():
            report = _run(batch, ctx, sheet)
            batch.committed_at = utcnow()
            batch.error = None
            _finish(batch, report, "done", actor)
            audit.record("import", batch, actor=actor.username, details={
                "file": batch.file_name, "sha256": batch.sha256, "rows": report.rows, **report.counts,
                "sheets": report.sheets})
    except Exception as err:
        _fail(batch, err, translate)
        raise
    import_progress.clear(batch)
    # Candidate pairs for the review list (P6.6): one scan, not a check per imported row.
    if report.counts["created"] or report.counts["updated"]:
        duplicates.rescan()
    # The upload is no longer needed; the rejected rows stay for download.
    Path(batch.stored_path).unlink(missing_ok=True)
    return json.loads(report.as_json())


def import_file(path, actor, import_dir, dry_run: bool = False, sheet: str | None = None,
                translate: Translate = plain, default_channel: str = "interview",
                progress: Callable | None = None, columns: list[tuple[str, str]] = ()) -> ImportBatch:
    """Import a file in one go with the remembered or automatic mapping (the command line).

    columns: (column by header or letter, field or IGNORED) chosen on the command line, remembered
    for the next file with the same header row.
    """
    batch = create_batch(Path(path), Path(path).name, import_dir, actor)
    if sheet is not None and sheet not in sheets_of(batch):
        raise ValidationError(N_("This file has no sheet named %(sheet)s."), sheet=sheet)
    if columns:
        choose_columns(batch, list(columns), actor, sheet)
        batch = ImportBatch.get_by_id(batch.id)
    run = analyse if dry_run else commit
    run(batch, actor, translate, default_channel, progress, sheet)
    return ImportBatch.get_by_id(batch.id)


def _reject_row(counts: dict, report, rejected, sheet: str, number: int, headers, cells, issues: list) -> None:
    """Count a refused row, show its first reasons in the preview, and keep it for the rejected-rows file."""
    counts["rejected"] += 1
    for issue in issues:
        report.sample(report.rejected, {"sheet": sheet, "row": number, **issue.__dict__}, SHOWN_REJECTED)
    rejected.add(sheet, headers, cells, issues)
