"""Saved views and the column chooser on every list (issue 3): thin over services/saved_views.py."""
from urllib.parse import parse_qsl

from flask import abort, flash, g, has_request_context, redirect, request
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from models import SavedView
from services import saved_views
from services.errors import DomainError
from services.roles import ROLES


class ListToolsMixin:
    """Column choice remembered per user, saved views applied with `?view=`, counts for the menu."""

    def _per_request(self, name, read):
        # The list's columns are asked for several times per page: read the user's choice once.
        cache = g.setdefault("list_tools", {})
        if (self.endpoint, name) not in cache:
            cache[(self.endpoint, name)] = read()
        return cache[(self.endpoint, name)]

    def current_view(self):
        """Return the saved or built-in view the list's `view` argument names, if any."""
        if not has_request_context() or not current_user.is_authenticated:
            return None
        if not request.args.get("view"):
            return None
        return self._per_request("view", lambda: saved_views.find_view(current_user, self.endpoint,
                                                                      request.args.get("view")))

    def chosen_columns(self, columns):
        """Narrow the list's columns to the view's, else drop the ones the user hid."""
        if not has_request_context() or not current_user.is_authenticated or \
                request.endpoint != f"{self.endpoint}.index_view":
            return columns
        view = self.current_view()
        if view is not None and view.columns:
            return [c for c in columns if c[0] in view.columns]
        hidden = self._per_request("hidden", lambda: saved_views.hidden_columns(current_user, self.endpoint))
        return [c for c in columns if c[0] not in hidden]

    def column_chooser_items(self):
        """Return (name, label, shown) for the column chooser."""
        available = self._visible(self.__dict__.get("_all_list_columns"))
        shown = {name for name, _label in self._list_columns}
        return [(name, label, name in shown) for name, label in available]

    def share_roles(self):
        """Return the roles a view may be shared with, if the user may share."""
        return ROLES if self._can("views.share") else ()

    def _back(self):
        return redirect(get_redirect_target() or self.get_url(".index_view"))

    @expose("/columns/", methods=["POST"])
    def choose_columns(self):
        """Remember the columns the user shows on this list."""
        available = [name for name, _label in self._visible(self.__dict__.get("_all_list_columns"))]
        try:
            saved_views.choose_columns(current_user, self.endpoint, request.form.getlist("column"), available)
        except DomainError as err:
            flash(err.translate(gettext), "error")
        return self._back()

    @expose("/views/save/", methods=["POST"])
    def save_list_view(self):
        """Save the list as it is now (filters, search, sort, columns) under a name."""
        columns = [name for name, _label in self._list_columns] if request.form.get("with_columns") else None
        try:
            view = saved_views.save_view(current_user, request.form.get("name", ""), self.endpoint,
                                         request.form.get("query", ""), columns,
                                         request.form.get("shared_role") or None)
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return self._back()
        flash(gettext("The view was saved; it is in the Views menu."), "success")
        return redirect(self.view_url(view.query, str(view.id)))

    @expose("/views/delete/<int:id>", methods=["POST"])
    def delete_list_view(self, id):
        """Delete one of the user's saved views."""
        view = SavedView.get_or_none((SavedView.id == id) & (SavedView.endpoint == self.endpoint))
        if view is None:
            abort(404)
        try:
            saved_views.delete_view(view, current_user)
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("The view was deleted."), "success")
        return redirect(self.get_url(".index_view"))

    def view_url(self, query: str, param: str) -> str:
        """Return the list's URL showing a view."""
        # An absolute endpoint: the Views menu builds these links on every screen, not only this one.
        return self.get_url(f"{self.endpoint}.index_view") + "?" + (query + "&" if query else "") + f"view={param}"

    def count_for(self, query: str) -> int:
        """Return how many rows the list shows for a saved query string, in the user's scope."""
        args = MultiDict(parse_qsl(query or ""))
        filters = []
        for arg, value in args.items(multi=True):
            if not arg.startswith("flt") or "_" not in arg:
                continue
            key = arg[3:].split("_", 1)[1]
            if key in (self._filter_args or {}):
                index, flt = self._filter_args[key]
                if flt.validate(value) and not self._filter_hidden(flt):  # as the list itself applies them
                    filters.append((index, flt.name, value))
        count, _query = self.get_list(0, None, None, args.get("search"), filters, execute=False, page_size=0)
        return count
