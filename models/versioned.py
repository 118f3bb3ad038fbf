"""Records people edit: optimistic concurrency with a version number (issue 9; peewee's optimistic-locking recipe).

Every save is `UPDATE … WHERE id = ? AND version = ?` and adds one to the version. A save that starts
from an older version changes no row and raises StaleRecord (models.errors), so nothing is overwritten
silently, in a form or in a service. services.concurrency builds the form-side checks on this.
"""
from peewee import IntegerField

from .base import BaseModel, to_local
from .errors import N_, StaleRecord
from .user import User


class VersionedModel(BaseModel):
    """A record people edit: every update is conditional on the version it was read at, and bumps it.

    Two people (or a person and a background job) saving the same row from the same starting point:
    the second UPDATE is `WHERE id = ? AND version = ?`, matches no row, and raises StaleRecord
    instead of silently overwriting the first.
    """

    version = IntegerField(default=1)

    def _pk_expr(self):
        expected = self.__dict__.get("_expected_version")
        expr = super()._pk_expr()
        return expr if expected is None else expr & (type(self).version == expected)

    def save(self, *args, **kwargs):
        force_insert = kwargs.get("force_insert") or (args and args[0])
        if self._pk is None or force_insert:
            return super().save(*args, **kwargs)
        expected = self.version or 1
        self.version = expected + 1
        if kwargs.get("only") is not None:
            kwargs["only"] = [*kwargs["only"], type(self).version]
        self.__dict__["_expected_version"] = expected
        try:
            rows = super().save(*args, **kwargs)
        except BaseException:
            self.version = expected
            raise
        finally:
            self.__dict__.pop("_expected_version", None)
        if not rows:
            self.version = expected
            raise stale(self)
        return rows


def current_row(row):
    """Return the row as stored now (a fresh read), or None when it was deleted."""
    model = type(row)
    return model.get_or_none(model._meta.primary_key == row.get_id())


def _when(value) -> str:
    if not value:
        return "—"
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def _who(username: str | None) -> str:
    if not username:
        return "—"
    user = User.get_or_none(User.username == username)
    return f"{user.full_name} ({username})" if user is not None and user.full_name else username


def stale(row) -> StaleRecord:
    """Return the StaleRecord describing who changed the row and when (or that it was deleted)."""
    current = current_row(row)
    if current is None:
        return StaleRecord(N_("“%(record)s” was deleted by someone else after you opened it. Nothing was saved."),
                           record=str(row))
    return StaleRecord(N_("“%(record)s” was changed by %(who)s at %(when)s, after you opened it. "
                          "Nothing was saved."),
                       current=current, record=str(current), who=_who(current.updated_by),
                       when=_when(current.updated_at))
