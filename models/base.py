"""Database proxy, base model and the acting-user context shared by every entity."""
import contextvars
import datetime

from peewee import CharField, DatabaseProxy, DateTimeField, IntegerField, Model

db = DatabaseProxy()

# Who is acting: set by the web layer per request and by CLI commands, read by save().
# A context variable keeps models free of Flask imports.
current_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_actor", default=None)


def utcnow() -> datetime.datetime:
    """Return the current UTC time as a naive datetime (how times are stored)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class BaseModel(Model):
    """Every table records when and by whom a row was created and last changed."""

    created_at = DateTimeField(default=utcnow, index=True)
    created_by = CharField(max_length=80, null=True)
    updated_at = DateTimeField(default=utcnow, index=True)
    updated_by = CharField(max_length=80, null=True)

    class Meta:
        database = db
        legacy_table_names = False

    def save(self, *args, **kwargs):
        actor = current_actor.get()
        if self._pk is None or kwargs.get("force_insert"):
            self.created_by = self.created_by or actor
        self.updated_at = utcnow()
        self.updated_by = actor
        return super().save(*args, **kwargs)


class VersionedModel(BaseModel):
    """A record people edit: every update is conditional on the version it was read at, and bumps it.

    Two people (or a person and a background job) saving the same row from the same starting point:
    the second UPDATE is `WHERE id = ? AND version = ?`, matches no row, and raises
    services.concurrency.StaleRecord instead of silently overwriting the first (issue 9).
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
            # Imported here: services import the models, so the models cannot import services at load time.
            from services.concurrency import stale
            raise stale(self)
        return rows
