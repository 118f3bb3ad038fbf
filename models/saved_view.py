"""Saved list views and each user's choice of list columns (issue 3: power tools)."""
from peewee import CharField, ForeignKeyField, TextField

from .base import BaseModel
from .user import User


class SavedView(BaseModel):
    """A list's filters, search, sort and visible columns under a name; private, or shared with a role."""

    owner = ForeignKeyField(User, backref="saved_views", on_delete="CASCADE")
    name = CharField(max_length=100)
    # The list screen's endpoint, e.g. "servicerequest".
    endpoint = CharField(max_length=50, index=True)
    # The list's query string: filters (flt…), search, sort; nothing else is kept.
    query = TextField(default="")
    # JSON list of the visible columns; empty: the user's own column choice.
    columns = TextField(null=True)
    # A role code the view is shared with; empty: private to the owner.
    shared_role = CharField(max_length=20, null=True, index=True)

    def __str__(self):
        return self.name


class ColumnChoice(BaseModel):
    """The columns one user hides on one list, remembered between visits."""

    user = ForeignKeyField(User, backref="column_choices", on_delete="CASCADE")
    endpoint = CharField(max_length=50)
    # JSON list of hidden column names.
    hidden = TextField(default="[]")

    class Meta:
        indexes = ((("user", "endpoint"), True),)
