"""The record of processing activities (PDPL): generated from the code, so it cannot drift from it.

Every line comes from somewhere the program itself reads: the categories and fields of
models/personal_data.py, the peewee models' table and column names, the retention periods in force
(services.retention), the fields the retention run erases besides (retention.EXTRA_FIELDS), and the
columns of the board mirror (sync/rows.py, handed in by the caller: the rules do not import the mirror).
"""
from dataclasses import dataclass, field

from models import ALL_MODELS
from models import personal_data as registry

from . import retention


@dataclass(frozen=True)
class Column:
    """One place in the database holding a kind of personal data."""

    model: str
    table: str
    column: str
    # For a row marker: the flag on a related row that makes the row personal data ("question.sensitive").
    where: str | None = None

    @property
    def location(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass
class Entry:
    """One category of personal data as the record of processing shows it."""

    code: str
    label: str                      # message id
    purpose: str                    # message id
    sensitive: bool
    roles: list[str]                # role codes, in the role table's order
    recipients: list[str]           # message ids
    years: int
    default_years: int
    columns: list[Column] = field(default_factory=list)
    rows: list[Column] = field(default_factory=list)
    # Free texts about the person that the retention run erases with this category.
    also_erased: list[Column] = field(default_factory=list)
    # Board mirror columns carrying this category: (tab title msgid, column header msgid).
    mirror: list[tuple[str, str]] = field(default_factory=list)


def _column(models: dict, model_name: str, field_name: str, where: str | None = None) -> Column:
    model = models.get(model_name)
    if model is None:
        return Column(model_name, model_name, field_name, where)
    f = model._meta.fields.get(field_name)
    return Column(model_name, model._meta.table_name, f.column_name if f is not None else field_name, where)


# The model each board mirror tab lists, to find its columns in the registry.
MIRROR_MODELS = {"beneficiaries": "Beneficiary", "requests": "ServiceRequest", "visits": "VerificationVisit"}


def _mirror_columns(tables) -> dict[str, list[tuple[str, str]]]:
    """Return {category: [(tab, column)]} for the board mirror's columns that carry personal data."""
    name_category = registry.PERSONAL_FIELDS.get(("Beneficiary", "full_name"))
    out: dict[str, list[tuple[str, str]]] = {}
    for table in tables:
        for column in table.columns:
            # A column marked names_only is a person's name, whatever its record field is called.
            code = registry.PERSONAL_FIELDS.get((MIRROR_MODELS.get(table.key, ""), column.field)) or \
                (name_category if column.names_only else None)
            if code:
                out.setdefault(code, []).append((table.title, column.header))
    return out


def record(mirror_tables) -> list[Entry]:
    """Return the record of processing: one entry per category of personal data, in the registry's order.

    mirror_tables: the board mirror's tabs (sync.rows.TABLES: each with a key, a title and its columns).
    """
    from .roles import ROLES
    models = {m.__name__: m for m in ALL_MODELS}
    years = retention.periods()
    mirror = _mirror_columns(mirror_tables)
    entries = {}
    for code, category in registry.CATEGORIES.items():
        entries[code] = Entry(code=code, label=category.label, purpose=category.purpose, sensitive=category.sensitive,
                              roles=[r for r in ROLES if r in category.roles], recipients=list(category.recipients),
                              years=years.get(code, category.retention_years), default_years=category.retention_years,
                              mirror=mirror.get(code, []))
    for (model_name, field_name), code in registry.PERSONAL_FIELDS.items():
        entries[code].columns.append(_column(models, model_name, field_name))
    for (model_name, flag), code in registry.ROW_MARKERS.items():
        model = models.get(model_name)
        table = model._meta.table_name if model is not None else model_name
        entries[code].rows.append(Column(model_name, table, "*", flag))
    for (model_name, field_name), code in retention.extra_fields().items():
        entries[code].also_erased.append(_column(models, model_name, field_name))
    entries[retention.ANSWER_CATEGORY].also_erased.append(
        _column(models, "IntakeAnswer", "value", "not question.sensitive"))
    return list(entries.values())


def mirror_tabs(mirror_tables) -> list[tuple[str, list[tuple[str, bool]]]]:
    """Return the board mirror's tabs with their columns (header msgid, only with names opted in)."""
    return [(table.title, [(c.header, c.names_only) for c in table.columns]) for table in mirror_tables]
