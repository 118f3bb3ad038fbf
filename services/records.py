"""Rules shared by every entity: refusing deletes that would orphan or erase other records."""
from contextlib import nullcontext

from peewee import Model

from models import User, case_guard, db

from . import audit, workflow
from .errors import N_, DependentRecords


def dependents(instance: Model) -> dict[str, int]:
    """Count rows of other tables that point at this row and would block its deletion.

    Rows that are part of the record (foreign key ON DELETE CASCADE, e.g. household
    members) do not block; everything else does. Found from the model metadata, so
    tables added later are covered without changes here.
    """
    counts = {}
    for fk in instance._meta.backrefs:
        if (fk.on_delete or "").upper() in ("CASCADE", "SET NULL"):
            continue
        n = fk.model.select().where(fk == instance.get_id()).count()
        if n:
            counts[fk.model.__name__] = counts.get(fk.model.__name__, 0) + n
    return counts


def delete_record(instance: Model, actor=None) -> None:
    """Delete a row and its parts, or raise DependentRecords naming what still depends on it.

    A row of a request's file (the request itself, a visit, a document filed on it …) is a write to the
    case: the rules table's "delete" rule applies (never once decided). actor: a User or a username.
    """
    user = actor if isinstance(actor, User) or actor is None else User.get_or_none(User.username == actor)
    request_id = instance.case_request_id() if isinstance(instance, case_guard.CaseRecord) else case_guard.NOT_A_CASE
    gate = nullcontext()
    if request_id is not case_guard.NOT_A_CASE and request_id is not None and user is not None:
        from models import ServiceRequest
        gate = workflow.gate("record.delete", ServiceRequest.get_by_id(request_id), user)
    blocking = dependents(instance)
    if blocking:
        raise DependentRecords(
            N_("This record cannot be deleted: %(count)s linked records depend on it (%(tables)s)."),
            count=sum(blocking.values()), tables=", ".join(sorted(blocking)))
    with db.atomic(), gate:
        before = audit.snapshot(instance)
        audit.record("delete", instance, changes=audit.diff(before, None),
                     actor=user.username if user is not None else actor)
        with (case_guard.cascade() if not isinstance(instance, case_guard.CaseRecord) else nullcontext()):
            instance.delete_instance(recursive=True, delete_nullable=False)
