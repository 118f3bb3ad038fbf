"""The base of every admin screen: role checks, row scopes, one transaction per save, audit."""
import datetime
import io
import logging
import tempfile
import time
from collections import OrderedDict
from functools import wraps

from flask import abort, current_app, flash, has_request_context, redirect, request, send_file, url_for
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.peewee import ModelView
from flask_admin.contrib.peewee.ajax import QueryAjaxModelLoader
from flask_admin.contrib.peewee.form import CustomModelConverter
from flask_admin.contrib.peewee.filters import DateBetweenFilter
from flask_admin.contrib.peewee.form import save_inline
from flask_admin.model.base import filter_char_re, filter_compact_re
from flask_admin.helpers import get_redirect_target
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext, lazy_gettext as _l, ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from peewee import (OP, SQL, AutoField, BigIntegerField, BooleanField, DateField, DateTimeField, DecimalField,
                    Expression, FloatField, ForeignKeyField, IntegerField, PostgresqlDatabase, fn)
from wtforms import HiddenField
from wtforms.validators import Optional, ValidationError as WTFormsValidationError
from wtfpeewee.fields import ModelSelectField

from models import Beneficiary, db, personal_data
from services import audit, concurrency, export, records
from services.errors import DomainError
from services.dates import to_local, utc_midnight
from services.normalize import search_terms
from services.roles import can
from web.filters import bdi, choice_label, dual_date

from .background import over_threshold, submit_and_follow
from .list_tools import ListToolsMixin

log = logging.getLogger(__name__)


def live_options(fn):
    """Wrap a filter-options query so it runs only inside a request (not at start-up)."""
    @wraps(fn)
    def options():
        return fn() if has_request_context() else []
    return options


def _plain_text(formatter):
    def plain(view, context, model, name):
        value = formatter(view, context, model, name)
        return value.striptags() if isinstance(value, Markup) else value
    return plain


def may_be_code(term: str) -> bool:
    """Return whether a search term could be part of a reference or a number (BEN-000123, REQ-2026-000123).

    Those are ASCII: an Arabic name fragment never matches one. Leaving the comparison out lets a
    name search read the name index alone instead of every row (issue 9 benchmarks: searching 300,000
    requests for a family name took 145 ms of CPU with the number compared, 18 ms without).
    """
    return term.isascii()


def key_contains(field, term: str):
    """Return `field LIKE '%term%'` for a column holding a normalised key (name_key, reference, number).

    The key and the term are already folded (services.normalize), so the comparison need not fold
    case: .contains() is ILIKE on PostgreSQL, six times slower on Arabic text (issue 9 benchmarks).
    SQLite's LIKE (what .contains() gives there) folds ASCII letters only, at no cost.
    """
    if isinstance(db.obj, PostgresqlDatabase):
        return Expression(field, OP.LIKE, field._escape_like_expr(term, "%%%s%%"))
    return field.contains(term)


def in_matching(field, subquery):
    """Return `field IN (subquery)` written so the database runs the subquery once, then the field's index.

    SQLite does that with IN. PostgreSQL instead walked the whole list in page order testing each row
    (1.7 s for a family name over 300,000 requests); `= ANY(ARRAY(subquery))` is computed once, then
    looked up in the field's index (0.14 s), issue 9 benchmarks.
    """
    if isinstance(db.obj, PostgresqlDatabase):
        return field == fn.ANY(fn.ARRAY(subquery))
    return field.in_(subquery)


def beneficiaries_matching(term: str):
    """Return the ids of the beneficiaries whose name (or, for a code-like term, reference) contains a term."""
    clause = key_contains(Beneficiary.name_key, term)
    if may_be_code(term):
        clause |= key_contains(Beneficiary.reference, term.upper())
    return Beneficiary.select(Beneficiary.id).where(clause)


def beneficiary_matches(field, term: str):
    """Return the condition "field's beneficiary has the term in their name (or reference)"."""
    return in_matching(field, beneficiaries_matching(term))


def request_matches(field, term: str):
    """Return the condition "field's request has the term in its number" (none for a term no number holds)."""
    from models import ServiceRequest
    numbered = ServiceRequest.select(ServiceRequest.id).where(key_contains(ServiceRequest.number, term.upper()))
    return in_matching(field, numbered) if may_be_code(term) else field.in_([])


def count_rows(query) -> int:
    """Return how many rows a query (no grouping, no limit) yields, as SELECT COUNT(*) FROM … WHERE ….

    peewee's count() wraps the query (SELECT COUNT(1) FROM (SELECT 1 …)), which SQLite steps through
    row by row: 15 ms for the 500,000 audit rows against 3 ms for a plain COUNT(*), its b-tree count
    (issue 9 benchmarks); PostgreSQL can answer COUNT(*) from an index alone.
    """
    return query.select(fn.COUNT(SQL("*"))).order_by().scalar()


def distinct_values(field, limit: int = 500) -> list:
    """Return a column's distinct values (not null) in order, through its index (a filter's choices).

    One index probe per value (a "loose index scan": the next value above the last one), not a read
    of the whole index: a city filter over 100,000 beneficiaries with six cities reads six entries.
    """
    table, column = field.model._meta.table_name, field.column_name
    sql = (f'WITH RECURSIVE v(x) AS (SELECT MIN("{column}") FROM "{table}" '
           f'UNION ALL SELECT (SELECT MIN("{column}") FROM "{table}" WHERE "{column}" > v.x) FROM v '
           f'WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL LIMIT {int(limit)}')
    return [value for (value,) in db.execute_sql(sql).fetchall()]


def lazy_choices(choices):
    """Return form choices whose labels are translated when rendered."""
    return [(code, _l(label)) for code, label in choices]


def choice_formatter(choices):
    """Return a list formatter showing a code's translated label."""
    return lambda view, context, model, name: choice_label(choices, getattr(model, name))


def date_formatter(view, context, model, name):
    """Show a date or datetime as Hijri and Gregorian, isolated for RTL."""
    value = getattr(model, name)
    return bdi(dual_date(value, with_time=hasattr(value, "hour"))) if value else ""


def bdi_formatter(view, context, model, name):
    """Show a number or code isolated so RTL text does not reorder it."""
    return bdi(getattr(model, name))


class RiyadhDayBetweenFilter(DateBetweenFilter):
    """Select stored UTC times falling between two Riyadh days, both days included.

    Flask-Admin's DateBetweenFilter compares the stored UTC time with midnight UTC of the two
    dates: the last day is left out (SQLite compares "2025-05-31 10:00" > "2025-05-31") and a
    request made after 21:00 UTC lands on the wrong day. The annual statistics count Riyadh
    days, and their cells link to lists filtered with this class, so the two reconcile.
    """

    def apply(self, query, value):
        first, last = value
        return query.where((self.column >= utc_midnight(first)) &
                           (self.column < utc_midnight(last + datetime.timedelta(days=1))))


class Inline(InlineFormAdmin):
    """An inline form whose hidden row id may be empty (a new row)."""

    def __init__(self, model, **kwargs):
        super().__init__(model, **kwargs)
        # wtf-peewee makes a peewee 4 AutoField a *required* hidden field (Flask-Admin's
        # handle_pk only catches the old PrimaryKeyField), so no new inline row could be saved.
        args = labelled_form_args(getattr(self, "form_args", None), getattr(self, "column_labels", None),
                                  getattr(self, "form_choices", None))
        args["id"] = {**args.get("id", {}), "validators": [Optional()]}
        self.form_args = args


def labelled_form_args(form_args, column_labels, form_choices=None) -> dict:
    """Return form_args with translated labels and choices for Flask-Admin's peewee forms.

    The peewee backend ignores column_labels and form_choices (both are SQLAlchemy-only),
    so the forms would show English field names and the models' English choice labels.
    Choices become a callable so WTForms translates them when the form is rendered.
    """
    args = {name: dict(value) for name, value in (form_args or {}).items()}
    for name, label in (column_labels or {}).items():
        args.setdefault(name, {}).setdefault("label", label)
    for name, choices in (form_choices or {}).items():
        args.setdefault(name, {}).setdefault("choices", _rendered_choices(choices))
    return args


def _rendered_choices(choices):
    pairs = list(choices)
    return lambda: [(code, str(label)) for code, label in pairs]


# The hidden fields of an edit form that carry what the form was loaded with (optimistic concurrency).
LOADED_FIELDS = ("loaded_version", "loaded_values")


class LoadedVersionForm:
    """Mixed into the edit form of a versioned model: the version and values it was loaded with, hidden."""

    loaded_version = HiddenField()
    loaded_values = HiddenField()

    def populate_obj(self, obj):
        # What the form was loaded with is not part of the record.
        for name, field in self._fields.items():
            if name not in LOADED_FIELDS:
                field.populate_obj(obj, name)


def valid_int(value) -> int | None:
    """Return a typed whole number that fits a database integer, or None."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if -2 ** 31 < number < 2 ** 31 else None


def valid_pk(value) -> int | None:
    """Return a posted or typed row id as a number, or None when it cannot name a row.

    Anything else sent to the database as an id is an error on PostgreSQL (a 500), not a miss.
    """
    try:
        pk = int(str(value).strip())
    except ValueError:
        return None
    return pk if 0 < pk < 2 ** 31 else None  # ids are SERIAL (32-bit) on PostgreSQL


class SafeModelSelectField(ModelSelectField):
    """wtf-peewee's choice of a related row; a posted id that is not a number is "Not a valid choice"."""

    def get_model(self, pk):
        pk = valid_pk(pk)
        return None if pk is None else super().get_model(pk)

    def pre_validate(self, form):
        # wtf-peewee queries whatever was posted when a filter reassigned the data; look it up safely instead.
        data = self.data
        if data is not None and not isinstance(data, self.model):
            model = self.get_model(data)
            if model is None:
                raise WTFormsValidationError(self.gettext("Not a valid choice."))
            self._set_data(model)
        super().pre_validate(form)


def _fits_column(low: int, high: int):
    """Return a form validator refusing a whole number the database column cannot hold (other data: untouched)."""
    def check(form, field):
        if isinstance(field.data, int) and not isinstance(field.data, bool) and not low <= field.data <= high:
            raise WTFormsValidationError(gettext("This number is out of range."))
    return check


class SafeModelConverter(CustomModelConverter):
    """Flask-Admin's form builder, with the safe choice of related rows (main and inline forms) and bounded numbers."""

    def convert(self, model, field, field_args):
        if isinstance(field, IntegerField) and not isinstance(field, AutoField):
            # A number past what the column holds is the form's error, not the database's (a 500, issue 15).
            bits = 63 if isinstance(field, BigIntegerField) else 31
            field_args = dict(field_args or {})
            field_args["validators"] = [*field_args.get("validators", ()), _fits_column(-2 ** bits, 2 ** bits - 1)]
        return super().convert(model, field, field_args)

    def handle_foreign_key(self, model, field, **kwargs):
        if field.name in (getattr(self.view, "_form_ajax_refs", None) or {}) or field.choices is not None:
            return super().handle_foreign_key(model, field, **kwargs)
        if field.null:
            kwargs["allow_blank"] = True
        return field.name, SafeModelSelectField(model=field.rel_model, **kwargs)


class SafeAjaxLoader(QueryAjaxModelLoader):
    """Flask-Admin's look-up of a related row by typing, safe with any posted id.

    Flask-Admin's own get_one raises DoesNotExist for an unknown id (a 500), and on PostgreSQL a
    non-numeric one is a database error; here both give None, which the field refuses as "Not a valid
    choice". A loader that narrows the rows offered (scope) narrows the ids accepted the same way, so a
    hand-made POST cannot attach a row the list would not have offered.
    """

    def scope(self, query):
        """Return the query narrowed to the rows this user may pick (all of them here)."""
        return query

    def get_one(self, pk):
        pk = valid_pk(pk)
        if pk is None:
            return None
        return self.scope(self.model.select()).where(self.model._meta.primary_key == pk).first()

    def get_list(self, term, offset=0, limit=10):
        # A look-up sent without its ?query= (a tampered URL) is an empty search, not a 500.
        return super().get_list(term or "", offset, limit)


class SecureView(BaseView):
    """A screen that is not a table (dashboards, review pages): login, then one capability."""

    # Capability name from services.roles needed to open the screen.
    capability: str | None = None

    def _can(self, capability) -> bool:
        return current_user.is_authenticated and capability is not None and can(current_user.role, capability)

    def is_accessible(self):
        return self._can(self.capability)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)


class SecureModelView(ListToolsMixin, ModelView):
    """A model screen that only the roles holding its capabilities can reach."""

    def __init__(self, model, *args, **kwargs):
        self.form_args = labelled_form_args(self.form_args, self.column_labels, getattr(self, "form_choices", None))
        super().__init__(model, *args, **kwargs)
        # Exports reuse the list formatters (translated labels, dual dates) but as plain text:
        # the <bdi> wrappers that keep numbers in order on screen must not reach a spreadsheet.
        self.column_formatters_export = {name: _plain_text(f)
                                         for name, f in (self.column_formatters_export or {}).items()}

    form_base_class = FlaskForm
    # Capability names from services.roles; None means "nobody".
    read_capability: str | None = None
    create_capability: str | None = None
    edit_capability: str | None = None
    delete_capability: str | None = "delete"
    export_capability: str | None = None
    # Which columns a role must not see comes from models/personal_data.py, by this view's model and
    # the column's name. A column showing a personal field under another name (a related model's
    # field, a formatted or masked value) maps here to the field it shows: {column: (model, field)}.
    personal_columns: dict[str, tuple[str, str]] = {}

    page_size = 20
    can_view_details = True
    can_set_page_size = True
    export_types = ["csv", "xlsx"]
    named_filter_urls = True
    list_template = "admin/mustafeed_list.html"

    model_form_converter = SafeModelConverter

    def _typed_filter_args(self):
        # A filter on a number or a related row (?flt0_researcher_equals=abc, typed or tampered) with a value
        # that is not a whole number is dropped with Flask-Admin's "invalid value" message: PostgreSQL would
        # refuse it in the query (a 500), SQLite would silently match nothing.
        filters, kept = super()._get_list_filter_args(), []
        for idx, name, value in filters or ():
            column = getattr(self._filters[idx], "column", None)
            if isinstance(column, (IntegerField, ForeignKeyField)):
                if valid_int(value) is None:
                    flash(self.get_invalid_value_msg(value, self._filters[idx]), "error")
                    continue
                value = str(valid_int(value))  # "٣" is 3 to Python, but not to PostgreSQL
            kept.append((idx, name, value))
        return kept if filters is not None else None

    def _create_ajax_loader(self, name, options):
        # Every dict-configured form_ajax_refs entry gets the safe loader (see SafeAjaxLoader).
        return SafeAjaxLoader(name, getattr(self.model, name).rel_model, **options)

    # ---- who may do what -------------------------------------------------
    def _role(self):
        if not has_request_context() or not current_user.is_authenticated:
            return None
        return current_user.role

    def _can(self, capability):
        return capability is not None and can(self._role(), capability)

    def is_accessible(self):
        return current_user.is_authenticated and self._can(self.read_capability)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)

    def _handle_view(self, name, **kwargs):
        # Flask-Admin answers a screen the role may not use with a redirect and a flash;
        # a typed URL of a forbidden screen is refused outright, like a forbidden row.
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        allowed = {
            "create_view": self.can_create,
            "edit_view": self.can_edit,
            "delete_view": self.can_delete,
            "export": self.can_export,
            "details_view": self.can_view_details,
            "ajax_lookup": self.can_create or self.can_edit,
            "ajax_update": self.can_edit and bool(self.column_editable_list),
        }.get(name, True)
        if not allowed:
            abort(403)
        return None

    @property
    def can_create(self):
        return self._can(self.create_capability)

    @property
    def can_edit(self):
        return self._can(self.edit_capability)

    @property
    def can_delete(self):
        return self._can(self.delete_capability)

    @property
    def can_export(self):
        return self._can(self.export_capability)

    # Bulk actions other than delete need this capability (the view's edit one unless named).
    action_capabilities: dict = {}

    def is_action_allowed(self, name):
        # Flask-Admin hides the delete action from the list without can_delete, but a posted
        # action=delete would still run it; every action is checked against the role here.
        if name == "delete":
            allowed = self.can_delete
        else:
            allowed = self._can(self.action_capabilities.get(name, self.edit_capability))
        return allowed and super().is_action_allowed(name)

    def _hidden_columns(self) -> set[str]:
        """Return the columns and form fields the current role may not see (models/personal_data.py)."""
        if not has_request_context():
            return set()
        role = self._role()
        hidden = personal_data.hidden_fields(self.model.__name__, role)
        hidden.update(column for column, (model, field) in self.personal_columns.items()
                      if field in personal_data.hidden_fields(model, role))
        return hidden

    def _filter_hidden(self, flt) -> bool:
        # A filter on a field the role may not see would tell it the value (category = "new Muslim").
        column = getattr(flt, "column", None)
        model = getattr(column, "model", None)
        return model is not None and column.name in personal_data.hidden_fields(model.__name__, self._role())

    def _get_list_filter_args(self):
        # A filter in the URL (or a saved view) on a hidden field is ignored, as if it were not there.
        filters = self._typed_filter_args()
        return filters if filters is None else [f for f in filters if not self._filter_hidden(self._filters[f[0]])]

    def without_hidden_fields(self, form):
        """Leave out of an edit form the fields the role may not see, in existing inline rows too.

        A field left out is neither shown nor populated, so that role's save keeps the stored value.
        Create forms (and new inline rows) keep them: nothing stored is shown there, and the role's
        work may be to collect the value (models/personal_data.py: seeing is not writing).
        """
        role, hidden_here = self._role(), self._hidden_columns()
        for name in list(form._fields):
            field = form._fields[name]
            if name in hidden_here:
                del form[name]
            elif getattr(field, "type", None) == "InlineModelFormList":
                hidden = personal_data.hidden_fields(field.model.__name__, role)
                for entry in field.entries:
                    if entry.get_pk():
                        for inline_name in hidden & set(entry.form._fields):
                            del entry.form[inline_name]
        return form

    def visible_inline_rows(self, model) -> dict:
        """Return _inline_rows() without the fields the role may not see (for what a page carries)."""
        role = self._role()
        return {key: {name: value for name, value in row.items()
                      if name not in personal_data.hidden_fields(key.split(":", 1)[0], role)}
                for key, row in self._inline_rows(model).items()}

    # Flask-Admin computes column lists once at start-up; these properties filter the
    # cached lists per request so a role never sees (or exports) a column it must not.
    def _visible(self, columns):
        hidden = self._hidden_columns()
        return [c for c in columns or [] if c[0] not in hidden]

    @property
    def _list_columns(self):
        return self.chosen_columns(self._visible(self.__dict__.get("_all_list_columns")))

    @_list_columns.setter
    def _list_columns(self, value):
        self.__dict__["_all_list_columns"] = value

    @property
    def _details_columns(self):
        return self._visible(self.__dict__.get("_all_details_columns"))

    @_details_columns.setter
    def _details_columns(self, value):
        self.__dict__["_all_details_columns"] = value

    @property
    def _export_columns(self):
        return self._visible(self.__dict__.get("_all_export_columns"))

    @_export_columns.setter
    def _export_columns(self, value):
        self.__dict__["_all_export_columns"] = value

    def get_filter_arg(self, index, flt):
        """Name a filter in URLs from its untranslated label and operation (flt_status_equals).

        Flask-Admin builds the name from the label in the current language and keeps only
        a-z and digits, so in Arabic every filter became "_equals" and they collided.
        """
        def msgid(text):
            return getattr(text, "_args", (text,))[0]
        name = f"{msgid(flt.name)} {msgid(flt.operation())}".lower()
        return filter_compact_re.sub("_", filter_char_re.sub("", name))

    # Flask-Admin evaluates filter options once at start-up; services, researchers and
    # cities change while the server runs, so the options are rebuilt for each page.
    def _get_filter_groups(self):
        if not self._filters:
            return None
        groups = OrderedDict()
        for i, flt in enumerate(self._filters):
            if self._filter_hidden(flt):
                continue
            options = flt.get_options(self) or None
            groups.setdefault(str(flt.name), []).append({
                "index": i, "arg": self.get_filter_arg(i, flt), "operation": str(flt.operation()),
                "options": [(k, str(v)) for k, v in options] if options else None, "type": flt.data_type,
            })
        return groups

    # ---- which rows ------------------------------------------------------
    def scope_query(self, query):
        """Narrow a query to the rows the current role may see (default: all)."""
        return query

    def row_editable(self, obj) -> bool:
        """Return whether the current user may change this row (beyond the view's capability)."""
        return True

    def export_scope(self, query):
        """Narrow the query of an export further (e.g. rows that must never leave the system)."""
        return query

    def base_query(self):
        """Return the unscoped query of the list (a view may join what its columns show)."""
        return self.model.select()

    def get_query(self):
        return self._scoped(self.base_query())

    def get_count_query(self):
        """Return the list's rows in the role's scope without the joins that only feed its columns.

        What the pager counts and the page's ids are chosen from (issue 9 benchmarks): a count over
        the list's own table (an index), not over 300,000 rows joined to their beneficiary and service.
        """
        return self._scoped(self.model.select(self.model._meta.primary_key))

    def _scoped(self, query):
        query = self.scope_query(query)
        if has_request_context() and request.endpoint == f"{self.endpoint}.export":
            query = self.export_scope(query)
        return query

    def get_one(self, id):
        obj = super().get_one(id) if valid_pk(id) is not None else None  # ?id=abc: missing, not a 500
        if obj is None:
            return None
        # A row that exists but lies outside the role's scope is forbidden, not missing.
        if not self.scope_query(self.model.select().where(self.model._meta.primary_key == obj.get_id())).exists():
            abort(403)
        if request.endpoint and request.endpoint.endswith("edit_view") and not self.row_editable(obj):
            abort(403)
        return obj

    # ---- search through the normaliser ------------------------------------
    def search_clause(self, term: str):
        """Return the peewee expression matching one normalised search term, or None."""
        return None

    def init_search(self):
        self._search_supported = True
        return True

    def search_placeholder(self):
        return gettext("Search")

    # Models get_query() already joins (by name), so filters on them do not join twice.
    prejoined: tuple[str, ...] = ()

    def _narrow(self, query, joins: set[str], search, filters):
        """Apply the search box's terms and the filters to a query (joining what a filter needs)."""
        for term in search_terms(search):
            clause = self.search_clause(term)
            if clause is not None:
                query = query.where(clause)
        for flt, _name, value in filters or ():
            f = self._filters[flt]
            query = self._handle_join(query, f.column, joins)
            query = f.apply(query, f.clean(value))
        return query

    def _sorted(self, query, joins: set[str], sort_column, sort_desc):
        # A column the list does not offer to sort by (a tampered ?sort=) gets the default order, not a 500.
        if sort_column is not None and sort_column in self._sortable_columns:
            return self._order_by(query, joins, [(self._sortable_columns[sort_column], sort_desc)])
        order = self._get_default_order()
        return self._order_by(query, joins, order) if order else (query, joins)

    def matching(self, search, filters):
        """Return the ids query of every row the list shows for a search and filters, in the role's scope."""
        return self._narrow(self.get_count_query(), set(), search, filters)

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """Return (count, rows) of a list page: three queries however many rows and columns.

        The count and the page's ids come from the list's own table (get_count_query: no join but
        those a filter needs), so page 1,000 skips 20,000 ids in an index instead of 20,000 joined
        rows; the page's rows are then read with their columns' related rows joined in one query
        (base_query). page_size 0 (exports, all matching rows): one joined query, streamed by the caller.
        """
        page_size = self.page_size if page_size is None else page_size
        # A typed ?page= far past any list (or negative) is the empty page past the end, not an offset the
        # database cannot hold (SQLite: OverflowError, a 500).
        page = min(max(page or 0, 0), 10 ** 9)
        matching = self.matching(search, filters)
        counted = not self.simple_list_pager
        pk = self.model._meta.primary_key
        ids, _joins = self._sorted(matching, set(), sort_column, sort_desc)
        order = list(ids._order_by or ())
        count = None
        if page_size and all(getattr(getattr(o, "node", None), "model", None) is self.model for o in order):
            if not any(getattr(o, "node", None) is pk for o in order):
                # Ties (equal due dates) in a stable order, so a row never shows on two pages.
                order.append(pk.desc() if order and order[0].direction == "DESC" else pk.asc())
            ids = ids.order_by(*order).limit(page_size).offset((page or 0) * page_size)
            if counted and search_terms(search):
                # A search reads every row (LIKE '%…%' has no index): the count rides on the page's
                # ids (COUNT(*) OVER ()), so the rows are read once, not once to count and once to page.
                found = list(ids.select(pk, fn.COUNT(SQL("*")).over()).tuples())
                # Nothing on the first page: nothing at all. Past the last page: counted apart.
                count = found[0][1] if found else (count_rows(matching) if page else 0)
                ids = [row_id for row_id, _total in found]
            elif counted:
                count = count_rows(matching)
            query = self.get_query().where(pk.in_(ids)).order_by(*order)
        else:
            count = count_rows(matching) if counted else None
            # Every matching row (exports), or sorted by another table's column: one joined query.
            joins = set(self.prejoined)
            query, _joins = self._sorted(self._narrow(self.get_query(), joins, search, filters), joins,
                                         sort_column, sort_desc)
            if page_size:
                query = query.limit(page_size).offset((page or 0) * page_size)
        if execute:
            query = list(query.execute())
        return count, query

    # ---- forms ------------------------------------------------------------------
    # Field name → function returning a fresh peewee query for a foreign-key select.
    # wtf-peewee keeps the query given at start-up (and its cached rows); a fresh one per
    # form keeps the choices current (new researchers appear without a restart).
    form_queries: dict = {}

    def prepare_form(self, form):
        """Adjust a form instance for the current request (live choices, role-specific fields)."""
        for name, make_query in self.form_queries.items():
            if name in form._fields:
                form._fields[name].query = make_query()
        return form

    def create_form(self, obj=None):
        return self.prepare_form(super().create_form(obj))

    def edit_form(self, obj=None):
        form = self.prepare_form(self.without_hidden_fields(super().edit_form(obj)))
        # Shown for the first time (or posted by a client without the fields): remember what was loaded.
        if obj is not None and "loaded_version" in form._fields and not form.loaded_version.data:
            self._remember_loaded(form, obj)
        return form

    # ---- two people editing the same record (optimistic concurrency, issue 9) ----------------------
    def get_edit_form(self):
        form_class = super().get_edit_form()
        if concurrency.is_versioned(self.model):
            form_class = type(form_class.__name__, (LoadedVersionForm, form_class), {})
        return form_class

    def _form_values(self, model, form) -> dict:
        """Return the stored values the edit form shows (its own fields and the inline rows), JSON-ready."""
        values = concurrency.record_values(model, [n for n in form._fields if n not in LOADED_FIELDS])
        values.update(self.visible_inline_rows(model))
        return values

    def _remember_loaded(self, form, model) -> None:
        form.loaded_version.data = model.version
        form.loaded_values.data = concurrency.encode_values(self._form_values(model, form))

    def _display_value(self, form, row, name) -> str:
        """Return a stored value as the form would offer it: a choice's label, a related row's name, a dual date."""
        value = getattr(row, name, None)
        if value is None or value == "":
            return "—"
        field = form._fields.get(name)
        for choice in getattr(field, "choices", None) or ():
            if str(choice[0]) == str(value):
                return str(choice[1])
        model_field = row._meta.fields.get(name)
        if model_field is not None and model_field.choices:
            return choice_label(model_field.choices, value)
        if isinstance(value, (datetime.datetime, datetime.date)):
            return dual_date(value, with_time=isinstance(value, datetime.datetime))
        if isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        return str(value)

    def _describe_inline_row(self, key: str) -> tuple[str, str]:
        """Return (the inline form's label, the row as it is now, or "removed") for a key "Model:id"."""
        model_name, row_id = key.split(":", 1)
        for inline in self.inline_models or ():
            inline_model = getattr(inline, "model", inline)
            if inline_model.__name__ == model_name:
                row = inline_model.get_or_none(inline_model._meta.primary_key == int(row_id))
                return (str(getattr(inline, "form_label", None) or model_name),
                        str(row) if row is not None else gettext("removed"))
        return model_name, ""

    def _show_stale(self, form, err: "concurrency.StaleRecord") -> None:
        """Refuse a save begun from an older version: say who changed which fields to what; keep the typed values."""
        current = err.current
        message = Markup("%s") % err.translate(gettext)
        if current is None or "loaded_version" not in form._fields:
            flash(message, "error")
            return
        now = self._form_values(current, form)
        items = []
        for name in concurrency.changed_fields(concurrency.decode_values(form.loaded_values.data), now):
            if ":" in name:  # an inline row ("HouseholdMember:12") added, removed or changed
                items.append(self._describe_inline_row(name))
                continue
            field = form._fields.get(name)
            value = self._display_value(form, current, name)
            if field is not None:
                field.errors = list(field.errors or []) + [gettext("Changed meanwhile to: %(value)s", value=value)]
            items.append((field.label.text if field is not None else name, value))
        if items:
            message += Markup(" %s<ul>%s</ul>") % (
                gettext("Their changes:"),
                Markup("").join(Markup("<li>%s: <bdi>%s</bdi></li>") % (label, value) for label, value in items))
        message += " " + gettext("Your values are still in the form: check them, then save again to replace theirs.")
        flash(message, "error")
        # Saving again is now a choice made knowing the other change: it starts from the current version.
        form.loaded_version.data = current.version
        form.loaded_values.data = concurrency.encode_values(now)

    # ---- writes: validated by services, one transaction, audited ------------
    def validate_model(self, model, is_created: bool) -> None:
        """Run the services' validation on the populated model; raise DomainError when invalid."""

    def after_insert(self, model) -> None:
        """Complete a new row inside its transaction (references, numbers)."""

    def save_row(self, model, is_created: bool, loaded_version) -> None:
        """Write the populated row; a screen whose rows have rules of their own saves through its service.

        The default: an insert, or `UPDATE … WHERE id = ? AND version = <the version the form was loaded
        with>` for a versioned row.
        """
        if is_created or not concurrency.is_versioned(model):
            model.save(force_insert=is_created)
        else:
            concurrency.save_if_unchanged(model, loaded_version)

    def _show_domain_error(self, form, err: DomainError) -> None:
        message = err.translate(gettext)
        field = form._fields.get(err.field) if err.field else None
        if field is not None:
            field.errors = list(field.errors or []) + [message]
        flash(message, "error")

    def _inline_rows(self, model) -> dict:
        """Snapshot the rows edited inline (household, visits …) as {"Model:id": values}."""
        rows = {}
        if model.get_id() is None:
            return rows
        for inline in self.inline_models or ():
            inline_model = getattr(inline, "model", inline)
            for fk in inline_model._meta.refs:
                if fk.rel_model is self.model:
                    for row in inline_model.select().where(fk == model.get_id()):
                        rows[f"{inline_model.__name__}:{row.get_id()}"] = audit.snapshot(row)
        return rows

    def _save(self, form, model, is_created: bool):
        before = None if is_created else audit.snapshot(model)
        inline_before = self._inline_rows(model)
        loaded_version = form.loaded_version.data if "loaded_version" in form._fields and not is_created else None
        try:
            with db.atomic():
                form.populate_obj(model)
                self.validate_model(model, is_created)
                self.on_model_change(form, model, is_created)
                self.save_row(model, is_created, loaded_version)
                if is_created:
                    self.after_insert(model)
                save_inline(form, model)
                changes = audit.diff(before, audit.snapshot(model))
                # Inline rows (a household member added, a visit's outcome changed) are part of
                # the same change: their before/after goes into the same audit row.
                changes.update(audit.diff(inline_before, self._inline_rows(model)))
                audit.record("create" if is_created else "update", model, changes=changes)
        except concurrency.StaleRecord as err:
            self._show_stale(form, err)
            return False
        except DomainError as err:
            self._show_domain_error(form, err)
            return False
        except Exception as ex:  # never a 500 on save: say so, keep nothing
            if concurrency.is_database_busy(ex):
                flash(gettext(concurrency.BUSY_MESSAGE), "error")
                return False
            if not self.handle_view_exception(ex):
                log.exception("Failed to save %s", self.model.__name__)
                flash(gettext("The record could not be saved. Nothing was changed."), "error")
            return False
        self.after_model_change(form, model, is_created)
        return model if is_created else True

    def create_model(self, form):
        return self._save(form, self.model(), True)

    def update_model(self, form, model):
        if not self.row_editable(model):
            abort(403)
        return self._save(form, model, False)

    def delete_model(self, model):
        try:
            self.delete_row(model)
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return False
        return True

    # ---- act on every row that matches the list's filter and search ------------------
    def matching_ids(self) -> list[str]:
        """Return the ids of every row of the list as filtered and searched in the request's query string."""
        view_args = self._get_list_extra_args()
        pk = self.model._meta.primary_key
        query = self.matching(view_args.search, view_args.filters)
        return [str(row[0]) for row in query.select(pk).order_by(pk).tuples()]

    def selection_details(self) -> dict:
        """Describe how the rows of a bulk action were chosen, for its audit entry."""
        if request.form.get("all_matching") != "1":
            return {"selection": "ticked"}
        view_args = self._get_list_extra_args()
        return {"selection": "all_matching", "search": view_args.search or None,
                "filters": [[str(name), value] for _i, name, value in view_args.filters or ()]}

    def handle_action(self, return_view=None):
        """Run a bulk action on the ticked rows, or on every row matching the list's filter and search."""
        if request.form.get("all_matching") != "1":
            return super().handle_action(return_view)
        form = self.action_form()
        name = form.action.data if self.validate_form(form) else None
        handler = self._actions_data.get(name)
        if handler is None or not self.is_action_allowed(name):
            abort(403)
        response = handler[0](self.matching_ids())
        return response if response is not None else redirect(get_redirect_target() or self.get_url(".index_view"))

    def apply_each(self, name: str, ids, apply, done_message) -> list:
        """Apply a service function to each chosen row in the role's scope.

        Refused rows are flashed with the reason and the others proceed; one audit entry sums
        up the action, how the rows were chosen, and the outcome. Returns the ids done.
        """
        from services.jobs import has_kind
        kind = f"{self.model.__name__}.{name}"
        if over_threshold(len(ids)) and has_kind(kind):
            # Too many rows for one web request: the worker applies them. The actions ignore what
            # apply_each returns, so the progress page is answered by aborting with its redirect.
            abort(submit_and_follow(kind, {"selection": self.selection_details()}, ids,
                                    get_redirect_target() or self.get_url(".index_view")))
        done, refused = [], {}
        for row in self.get_query().where(self.model._meta.primary_key.in_(ids)):
            row_id = row.get_id()
            try:
                apply(row)
            except DomainError as err:
                flash(f"{row}: {err.translate(gettext)}", "error")
                refused[row_id] = err.translate(lambda m, **p: m % p if p else m)
            else:
                done.append(row_id)
        audit.record("bulk", model=self.model.__name__, details={
            "action": name, "count": len(done) + len(refused), "done": done, "refused": refused,
            **self.selection_details()})
        if done:
            flash(done_message(len(done)), "success")
        return done

    @action("delete", _l("Delete"), _l("Delete the selected records?"))
    def action_delete(self, ids):
        """Delete the selected rows one by one; rows with dependants are refused and listed."""
        self.apply_each("delete", ids, self.delete_row, lambda n: ngettext(
            "%(num)s record was deleted.", "%(num)s records were deleted.", n))

    def delete_row(self, model) -> None:
        """Delete one row through the services; raise DomainError when it must stay."""
        records.delete_record(model, actor=current_user._get_current_object())

    # ---- export: capped, audited, safe to open in a spreadsheet ---------------------
    @property
    def export_max_rows(self):
        return current_app.config["EXPORT_MAX_ROWS"]

    def get_export_name(self, export_type="csv"):
        return f"{self.endpoint}_{time.strftime('%Y-%m-%d_%H-%M')}.{export_type}"

    @expose("/export/<export_type>/")
    def export(self, export_type):
        # Flask-Admin knows only CSV and tablib; XLSX is written here, row by row.
        if export_type == "xlsx" and self.can_export:
            return self._export_file("xlsx", get_redirect_target() or self.get_url(".index_view"))
        return super().export(export_type)

    def _export_csv(self, return_url):
        return self._export_file("csv", return_url)

    def get_xlsx_value(self, model, name):
        """Return a cell for the spreadsheet: dates and numbers as themselves (Riyadh time), the rest as shown."""
        field = self.model._meta.fields.get(name)
        if isinstance(field, (DateTimeField, DateField)):
            value = getattr(model, name)
            return to_local(value).replace(tzinfo=None) if isinstance(value, datetime.datetime) else value
        if isinstance(field, (IntegerField, DecimalField, FloatField, BooleanField)) and not field.choices \
                and name not in (self.column_formatters_export or {}):
            return getattr(model, name)
        return self.get_export_value(model, name)

    def _export_file(self, export_type, return_url):
        """Export the filtered list as CSV or XLSX, streamed from the database through a temporary file.

        CSV: UTF-8 with BOM, formula cells neutralised. XLSX: right-to-left, dates as dates,
        every text kept as text. A list longer than EXPORT_MAX_ROWS is refused with a message
        asking the user to narrow it (filters, search) rather than exported truncated: a partial
        file that looks complete is worse than none. Columns hidden from the role
        (_export_columns) are left out, as on the screen. Every export is audited.
        """
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        count, query = self.get_list(0, sort[0] if sort else None, view_args.sort_desc, view_args.search,
                                     view_args.filters, execute=False, page_size=0)
        limit = self.export_max_rows
        if limit and count > limit:
            flash(gettext("The list has %(count)s rows; an export holds at most %(limit)s. "
                          "Narrow the list with filters or search, then export again.",
                          count=count, limit=limit), "error")
            return redirect(return_url)
        columns = self._export_columns
        header = [str(label) for _name, label in columns]
        value = self.get_xlsx_value if export_type == "xlsx" else self.get_export_value
        rows = ([value(row, name) for name, _label in columns] for row in query.iterator())
        # Rows go to disk as they are read, so a 100,000-row export does not sit in memory.
        spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
        if export_type == "xlsx":
            written = export.write_xlsx(spool, str(self.name), header, rows)
            mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            written = export.write_csv(text, header, rows)
            text.flush()
            text.detach()
            mimetype = "text/csv; charset=utf-8"
        audit.record("export", model=self.model.__name__, details={
            "view": self.endpoint, "format": export_type, "rows": written, "search": view_args.search or None,
            "filters": [[str(name), value] for _i, name, value in view_args.filters or ()],
            "columns": [name for name, _label in columns]})
        spool.seek(0)
        return send_file(spool, mimetype=mimetype, as_attachment=True,
                         download_name=self.get_export_name(export_type))
