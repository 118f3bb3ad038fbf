"""Database proxy, base model and the acting-user context shared by every entity."""
import contextvars
import datetime
from zoneinfo import ZoneInfo

from peewee import CharField, DatabaseProxy, DateTimeField, Model

db = DatabaseProxy()

# Who is acting: set by the web layer per request and by CLI commands, read by save().
# A context variable keeps models free of Flask imports.
current_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_actor", default=None)


RIYADH = ZoneInfo("Asia/Riyadh")


def utcnow() -> datetime.datetime:
    """Return the current UTC time as a naive datetime (how times are stored)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def to_local(value: datetime.datetime) -> datetime.datetime:
    """Convert a stored naive-UTC datetime to Riyadh time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(RIYADH)


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
