"""Staff accounts: volunteers, researchers, managers, admins and board members."""
from peewee import BooleanField, CharField, DateTimeField, IntegerField

from .base import BaseModel
from .choices import ROLES


class User(BaseModel):
    username = CharField(max_length=80, unique=True)
    full_name = CharField(max_length=200, default="")
    role = CharField(max_length=20, choices=ROLES, index=True)
    password_hash = CharField(max_length=255)
    active = BooleanField(default=True)
    must_change_password = BooleanField(default=False)
    language = CharField(max_length=5, default="ar")
    last_login_at = DateTimeField(null=True)
    # Every session cookie carries the version it was made at; logout, a password change, deactivation and an
    # admin's "End all sessions" move it on, so every older cookie stops working at its next request.
    session_version = IntegerField(default=1)

    # Flask-Login's protocol, written out so models need no Flask import.
    @property
    def is_active(self):
        return self.active

    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return str(self.id)

    def __str__(self):
        return self.full_name or self.username
