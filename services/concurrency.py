"""Two people editing the same record: optimistic concurrency with a version number (issue 9).

The records people edit (beneficiaries, requests, visits, interactions, services) derive from
models.versioned.VersionedModel: every save is `UPDATE … WHERE id = ? AND version = ?` and adds one to
the version. A save that starts from an older version changes no row and raises StaleRecord,
so nothing is overwritten silently, in a form or in a service (a status change racing another).
StaleRecord and stale() live with the models; they are named here too, for the screens and services.

A form carries the version it was loaded with (and the values it showed); save_if_unchanged()
checks against that version instead of the one read when the form came back, and
changed_fields() says what the other person changed, for the refusal message.
"""
import datetime
import decimal
import json

# Named here too, so screens and services keep one import for the whole subject.
from models.errors import StaleRecord  # noqa: F401
from models.versioned import current_row, stale  # noqa: F401

from .errors import N_, DomainError
from .ids import parse_id


def is_versioned(model) -> bool:
    """Return whether a model class or row carries a version column."""
    meta = model._meta
    return "version" in meta.fields


def check_unchanged(row, loaded_version) -> None:
    """Raise StaleRecord when the row's stored version is no longer the one a page was shown with.

    For services acting on a row from a page (a status change from the case file): pass the version
    the page carried; None skips the check (callers without a page, such as the worker).
    """
    if loaded_version in (None, ""):
        return
    try:
        loaded = int(loaded_version)
    except (TypeError, ValueError):
        raise DomainError(N_("The form was damaged in transit; open the record again.")) from None
    if loaded != row.version:
        raise stale(row)


def save_if_unchanged(row, loaded_version) -> int:
    """Save the row only if it is still at the version the form was loaded with; else raise StaleRecord.

    The UPDATE itself carries the condition (`WHERE id = ? AND version = ?`), so two processes saving
    at the same moment cannot both pass: the database decides, not a read before the write.
    """
    if loaded_version not in (None, ""):
        version = parse_id(loaded_version)  # a version is a whole number a database integer holds, like an id
        if version is None:
            raise DomainError(N_("The form was damaged in transit; open the record again."))
        row.version = version
    return row.save()


def version_bump(model) -> dict:
    """Return the `version = version + 1` assignment for a bulk Model.update() of a versioned model ({} else).

    A bulk UPDATE bypasses save(); adding this keeps a form opened before it from overwriting its change.
    """
    return {model.version: model.version + 1} if is_versioned(model) else {}


def _plain(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def record_values(row, names) -> dict:
    """Return the stored values of the named fields, JSON-ready (foreign keys as ids)."""
    data = row.__data__
    return {name: _plain(data.get(name)) for name in names if name in row._meta.fields}


def encode_values(values: dict) -> str:
    """Return the values a form was loaded with as text for a hidden field."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)


def decode_values(text: str | None) -> dict:
    """Read encode_values()'s text back; anything unreadable is no values (the refusal then lists none)."""
    try:
        values = json.loads(text or "{}")
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def changed_fields(original: dict, current: dict) -> list[str]:
    """Return the names whose current value differs from the value the form was loaded with, in original's order."""
    return [name for name in original if name in current and original[name] != current[name]]


# ---- SQLite under several processes -------------------------------------------------------------
BUSY_MESSAGE = N_("The database is busy with other people's saves. Nothing was changed: please try again in a "
                  "moment.")


def is_database_busy(exc: BaseException) -> bool:
    """Return whether an error is SQLite's "database is locked" (another process held the write lock too long).

    Transactions start with BEGIN IMMEDIATE and wait up to the busy timeout, so this is rare; when it
    happens the transaction was rolled back whole and the user is told to try again, never shown a 500.
    """
    import sqlite3

    from peewee import OperationalError
    if not isinstance(exc, (OperationalError, sqlite3.OperationalError)):
        return False
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text
