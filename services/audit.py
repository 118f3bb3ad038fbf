"""Writing the audit trail: field-level before/after for every change, and other actions."""
import contextvars
import datetime
import decimal
import json

from peewee import Model

from models import AuditLog, current_actor, utcnow

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
        # The version (optimistic concurrency) changes on every save: noise in a before/after list.
        if field.name in _NEVER_LOGGED or field.name in ("updated_at", "updated_by", "version"):
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


def record_many(action: str, model: str, changes: dict[int, dict], *, actor: str | None = None) -> None:
    """Append one audit row per record ({record id: changes}) in one batch: the rows record() would write.

    For set-based bulk changes (services/bulk.py): call it inside the transaction of the change.
    """
    from models import db
    now = utcnow()
    who = current_actor.get()
    fields = (AuditLog.at, AuditLog.actor, AuditLog.action, AuditLog.model, AuditLog.record_id, AuditLog.changes,
              AuditLog.details, AuditLog.ip, AuditLog.created_at, AuditLog.updated_at, AuditLog.created_by,
              AuditLog.updated_by)
    ip = _current_ip.get()
    rows = [(now, actor or who, action, model, record_id,
             json.dumps(change, ensure_ascii=False, default=_plain) if change else None, None, ip, now, now, who, who)
            for record_id, change in changes.items()]
    # peewee's INSERT for one row, executed for all of them: insert_many would render every value into
    # the SQL text in Python, most of the time of 10,000 audit rows (issue 9 benchmarks).
    sql, _params = AuditLog.insert_many([(None,) * len(fields)], fields=fields).sql()
    db.cursor().executemany(sql, [tuple(f.db_value(v) for f, v in zip(fields, row)) for row in rows])


def set_ip(ip: str | None):
    """Set the client address recorded on audit rows for the current context."""
    return _current_ip.set(ip)
