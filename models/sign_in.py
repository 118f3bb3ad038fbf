"""Staff sign-ins: when, from which address and which browser (personal data: models/personal_data.py)."""
from peewee import CharField, DateTimeField, ForeignKeyField

from .base import BaseModel, utcnow
from .user import User

# A browser's User-Agent is kept this long; the rest says nothing a person needs to recognise it.
USER_AGENT_LENGTH = 300


class SignIn(BaseModel):
    """One successful sign-in, shown to its user so they can spot one that was not theirs."""

    user = ForeignKeyField(User, backref="sign_ins", on_delete="CASCADE")
    at = DateTimeField(default=utcnow, index=True)
    ip = CharField(max_length=64, null=True)
    user_agent = CharField(max_length=USER_AGENT_LENGTH, null=True)

    class Meta:
        indexes = ((("user", "at"), False),)
