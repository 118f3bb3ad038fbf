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
from flask_admin.contrib.peewee.filters import DateBetweenFilter
from flask_admin.contrib.peewee.form import save_inline
from flask_admin.model.base import filter_char_re, filter_compact_re
from flask_admin.helpers import get_redirect_target
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext, lazy_gettext as _l, ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from peewee import BooleanField, DateField, DateTimeField, DecimalField, FloatField, IntegerField
from wtforms.validators import Optional

from models import db
from services import audit, export, records
from services.errors import DomainError
from services.dates import to_local, utc_midnight
from services.normalize import search_terms
from services.roles import can
from web.filters import bdi, choice_label, dual_date

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
    # Columns the role must not see (e.g. the board: ID, mobile, email).
    personal_columns: tuple[str, ...] = ()
    personal_capability: str | None = None

    page_size = 20
    can_view_details = True
    can_set_page_size = True
    export_types = ["csv", "xlsx"]
    named_filter_urls = True
    list_template = "admin/mustafeed_list.html"

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
        if not has_request_context() or not self.personal_capability:
            return set()
        if not self._can(self.personal_capability):
            return set(self.personal_columns)
        return set()

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
        query = self.scope_query(self.base_query())
        if has_request_context() and request.endpoint == f"{self.endpoint}.export":
            query = self.export_scope(query)
        return query

    def get_one(self, id):
        obj = super().get_one(id)
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

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        query = self.get_query()
        joins: set[str] = set(self.prejoined)
        for term in search_terms(search):
            clause = self.search_clause(term)
            if clause is not None:
                query = query.where(clause)
        for flt, _name, value in filters or ():
            f = self._filters[flt]
            query = self._handle_join(query, f.column, joins)
            query = f.apply(query, f.clean(value))
        count = query.count() if not self.simple_list_pager else None
        if sort_column is not None:
            query, joins = self._order_by(query, joins, [(self._sortable_columns[sort_column], sort_desc)])
        else:
            order = self._get_default_order()
            if order:
                query, joins = self._order_by(query, joins, order)
        page_size = self.page_size if page_size is None else page_size
        if page_size:
            query = query.limit(page_size)
            if page:
                query = query.offset(page * page_size)
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
        return self.prepare_form(super().edit_form(obj))

    # ---- writes: validated by services, one transaction, audited ------------
    def validate_model(self, model, is_created: bool) -> None:
        """Run the services' validation on the populated model; raise DomainError when invalid."""

    def after_insert(self, model) -> None:
        """Complete a new row inside its transaction (references, numbers)."""

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
        try:
            with db.atomic():
                form.populate_obj(model)
                self.validate_model(model, is_created)
                self.on_model_change(form, model, is_created)
                model.save(force_insert=is_created)
                if is_created:
                    self.after_insert(model)
                save_inline(form, model)
                changes = audit.diff(before, audit.snapshot(model))
                # Inline rows (a household member added, a visit's outcome changed) are part of
                # the same change: their before/after goes into the same audit row.
                changes.update(audit.diff(inline_before, self._inline_rows(model)))
                audit.record("create" if is_created else "update", model, changes=changes)
        except DomainError as err:
            self._show_domain_error(form, err)
            return False
        except Exception as ex:  # never a 500 on save: say so, keep nothing
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
        _count, query = self.get_list(0, None, None, view_args.search, view_args.filters, execute=False,
                                      page_size=0)
        pk = self.model._meta.primary_key
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
        from .jobs import over_threshold, submit_and_follow
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
        records.delete_record(model)

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
