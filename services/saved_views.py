"""Saved list views (private or shared with a role), built-in views per role, and remembered column choices."""
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from models import ColumnChoice, SavedView, User, db

from . import audit
from .errors import N_, PermissionDenied, ValidationError
from .normalize import clean_text
from .roles import ROLES, can

# Only these parts of a list's query string make a view; page numbers and return URLs do not.
_KEPT_ARGS = ("search", "sort", "desc", "page_size")


@dataclass(frozen=True)
class ListView:
    """A view as the menu shows it: built in (key set) or saved by someone (saved set)."""

    name: str
    endpoint: str
    query: str
    columns: tuple[str, ...] | None = None
    key: str | None = None
    saved: SavedView | None = None

    @property
    def param(self) -> str:
        """Return the value of the list's `view` argument that applies this view."""
        return self.key if self.key else str(self.saved.id)


# What each role finds out of the box. Names are message ids, translated when shown.
# A researcher's list is already narrowed to the requests assigned to them (roles.ROW_SCOPES).
BUILT_IN = (
    ("my_open", N_("My open requests"), "servicerequest", "flt_open_is=1", ("researcher",)),
    ("awaiting_decision", N_("Awaiting decision"), "servicerequest", "flt_status_equals=under_evaluation",
     ("admin", "manager")),
    ("overdue", N_("Overdue requests"), "servicerequest", "flt_overdue_is=1", ("admin", "manager", "researcher")),
    ("my_drafts", N_("My drafts"), "servicerequest", "flt_status_equals=draft", ("volunteer",)),
    ("open_referrals", N_("Open referrals"), "referral", "flt_status_equals=open", ("admin", "manager", "researcher")),
)


def clean_query(query: str) -> str:
    """Keep only the filters, search and sort of a list's query string, in a stable order."""
    pairs = [(k, v) for k, v in parse_qsl(query or "", keep_blank_values=False)
             if k.startswith("flt") or k in _KEPT_ARGS]
    return urlencode(sorted(pairs))


def visible_views(user: User, endpoints: set[str] | None = None) -> list[ListView]:
    """Return the built-in views of the user's role, then theirs and those shared with their role, by name."""
    views = [ListView(name=name, endpoint=endpoint, query=query, key=key)
             for key, name, endpoint, query, roles in BUILT_IN if user.role in roles]
    rows = SavedView.select().where((SavedView.owner == user.id) | (SavedView.shared_role == user.role))
    views += [ListView(name=row.name, endpoint=row.endpoint, query=row.query,
                       columns=tuple(json.loads(row.columns)) if row.columns else None, saved=row)
              for row in rows.order_by(SavedView.name, SavedView.id)]
    return [v for v in views if endpoints is None or v.endpoint in endpoints]


def find_view(user: User, endpoint: str, param: str | None) -> ListView | None:
    """Return the view the list's `view` argument names, if the user may use it."""
    if not param:
        return None
    return next((v for v in visible_views(user, {endpoint}) if v.param == param), None)


def save_view(user: User, name: str, endpoint: str, query: str, columns: list[str] | None,
              shared_role: str | None = None) -> SavedView:
    """Save the current list as a named view; sharing with a role needs views.share."""
    name = clean_text(name)
    if not name:
        raise ValidationError(N_("Give the view a name."), field="name")
    shared_role = shared_role or None
    if shared_role is not None:
        if shared_role not in ROLES:
            raise ValidationError(N_("Choose a role to share the view with."), field="shared_role")
        if not can(user.role, "views.share"):
            raise PermissionDenied(N_("Only a manager shares views with a role."))
    clash = SavedView.select().where((SavedView.owner == user.id) & (SavedView.endpoint == endpoint) &
                                     (SavedView.name == name)).exists()
    if clash:
        raise ValidationError(N_("You already have a view with this name on this list."), field="name")
    with db.atomic():
        view = SavedView.create(owner=user, name=name, endpoint=endpoint, query=clean_query(query),
                                columns=json.dumps(list(columns)) if columns else None, shared_role=shared_role)
        audit.record("create", view, changes=audit.diff(None, audit.snapshot(view)))
    return view


def delete_view(view: SavedView, user: User) -> None:
    """Delete a saved view: its owner may, and an administrator."""
    if view.owner_id != user.id and user.role != "admin":
        raise PermissionDenied(N_("Only the owner deletes a saved view."))
    with db.atomic():
        audit.record("delete", view, changes=audit.diff(audit.snapshot(view), None))
        view.delete_instance()


def hidden_columns(user: User, endpoint: str) -> set[str]:
    """Return the columns the user chose to hide on a list."""
    choice = ColumnChoice.get_or_none((ColumnChoice.user == user.id) & (ColumnChoice.endpoint == endpoint))
    return set(json.loads(choice.hidden)) if choice else set()


def choose_columns(user: User, endpoint: str, shown: list[str], available: list[str]) -> set[str]:
    """Remember which of a list's columns the user shows; at least one stays. Return the hidden ones."""
    shown_set = {c for c in shown if c in available}
    if not shown_set:
        raise ValidationError(N_("Keep at least one column."))
    hidden = [c for c in available if c not in shown_set]
    with db.atomic():
        choice, _created = ColumnChoice.get_or_create(user=user, endpoint=endpoint)
        choice.hidden = json.dumps(hidden)
        choice.save()
    return set(hidden)
