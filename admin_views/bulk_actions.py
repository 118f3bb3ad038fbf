"""Bulk actions of every list: on the ticked rows or all matching, row by row in the role's scope, audited once."""
from flask import abort, flash, redirect, request
from flask_admin.actions import action
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from services import audit
from services.errors import DomainError

from .background import over_threshold, submit_and_follow


class BulkActionsMixin:
    """Mixed into the secured model view: act on every row matching the list's filter and search, or the ticked ones.

    Long selections go to the background worker (background.py); deleting one row is the view's delete_row.
    """

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
