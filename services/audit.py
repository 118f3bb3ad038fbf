"""Writing the audit trail: field-level before/after for every change, and other actions."""
import contextvars
import datetime
import decimal
import json

from models import AuditLog, current_actor
from peewee import Model

# Never copied into the audit trail, even as before/after values.
_NEVER_LOGGED = {"password_hash"}

# The web layer sets the client address here so services need not know about requests.
_current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_ip", default=None)


def _plain(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Model):
        return value.get_id()
    return value


def snapshot(instance: Model) -> dict:
    """Return the row's stored values as JSON-ready data (foreign keys as ids)."""
    data = {}
    for field in instance._meta.sorted_fields:
        if field.name in _NEVER_LOGGED or field.name in ("updated_at", "updated_by"):
            continue
        # __data__ holds foreign keys as ids, so no related row is loaded.
        data[field.name] = _plain(instance.__data__.get(field.name))
    return data


def diff(before: dict | None, after: dict | None) -> dict:
    """Return {field: [before, after]} for the fields whose value differs."""
    before, after = before or {}, after or {}
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)}


def record(action: str, instance: Model | None = None, *, model: str | None = None,
           record_id: int | None = None, changes: dict | None = None, details=None,
           actor: str | None = None, ip: str | None = None) -> AuditLog:
    """Append one audit row; call it inside the transaction of the change it describes."""
    if instance is not None:
        model = model or type(instance).__name__
        record_id = record_id if record_id is not None else instance.get_id()
    if details is not None and not isinstance(details, str):
        details = json.dumps(details, ensure_ascii=False, default=_plain)
    return AuditLog.create(
        actor=actor or current_actor.get(),
        action=action,
        model=model,
        record_id=record_id,
        changes=json.dumps(changes, ensure_ascii=False, default=_plain) if changes else None,
        details=details,
        ip=ip or _current_ip.get(),
    )



def set_ip(ip: str | None):
    """Set the client address recorded on audit rows for the current context."""
    return _current_ip.set(ip)
