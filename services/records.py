"""Rules shared by every entity: refusing deletes that would orphan or erase other records."""
from peewee import Model

from models import db

from . import audit
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


def delete_record(instance: Model, actor: str | None = None) -> None:
    """Delete a row and its parts, or raise DependentRecords naming what still depends on it."""
    blocking = dependents(instance)
    if blocking:
        raise DependentRecords(
            N_("This record cannot be deleted: %(count)s linked records depend on it (%(tables)s)."),
            count=sum(blocking.values()), tables=", ".join(sorted(blocking)))
    with db.atomic():
        before = audit.snapshot(instance)
        audit.record("delete", instance, changes=audit.diff(before, None), actor=actor)
        instance.delete_instance(recursive=True, delete_nullable=False)
