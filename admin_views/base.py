"""The base of every admin screen: role checks, row scopes, paging, one transaction per save, audit.

The model view's other concerns are mixed in: stale_edit.py (two people editing one record), bulk_actions.py
and export.py; its forms' fields are fields.py, its columns' formatters formatters.py, its filters filters.py.
"""
import logging
from collections import OrderedDict

from flask import abort, flash, has_request_context, redirect, request, url_for
from flask_admin import BaseView
from flask_admin.contrib.peewee import ModelView
from flask_admin.contrib.peewee.form import save_inline
from flask_admin.model.base import filter_char_re, filter_compact_re
from flask_babel import gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import SQL, ForeignKeyField, IntegerField, fn

from models import db, personal_data
from services import audit, concurrency, records
from services.errors import DomainError
from services.ids import parse_id
from services.normalize import search_terms
from services.roles import can
from services.search import count_rows

from .bulk_actions import BulkActionsMixin
from .export import ExportMixin
from .fields import SafeAjaxLoader, SafeModelConverter, labelled_form_args
from .formatters import plain_text
from .list_tools import ListToolsMixin
from .stale_edit import StaleEditMixin

log = logging.getLogger(__name__)


def valid_int(value) -> int | None:
    """Return a typed whole number that fits a database integer, or None."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if -2 ** 31 < number < 2 ** 31 else None


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


class SecureModelView(StaleEditMixin, BulkActionsMixin, ExportMixin, ListToolsMixin, ModelView):
    """A model screen that only the roles holding its capabilities can reach."""

    def __init__(self, model, *args, **kwargs):
        self.form_args = labelled_form_args(self.form_args, self.column_labels, getattr(self, "form_choices", None))
        super().__init__(model, *args, **kwargs)
        # Exports reuse the list formatters (translated labels, dual dates) but as plain text:
        # the <bdi> wrappers that keep numbers in order on screen must not reach a spreadsheet.
        self.column_formatters_export = {name: plain_text(f)
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
        obj = super().get_one(id) if parse_id(id) is not None else None  # ?id=abc: missing, not a 500
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
        return

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

    def delete_row(self, model) -> None:
        """Delete one row through the services; raise DomainError when it must stay."""
        records.delete_record(model, actor=current_user._get_current_object())
