"""Settings → Retention of personal data: the periods (admin), the files due (a dry run, the default view) and the run."""
from flask import abort, current_app, flash, redirect, request
from flask_admin import expose
from flask_babel import gettext, ngettext
from flask_login import current_user

from models import personal_data as registry
from services import retention
from services.errors import DomainError

from .base import SecureView

# Files erased per click: each is its own transaction, so the rest simply wait for the next click
# (or the command line, which has no limit) and a web request stays short.
WEB_RUN_LIMIT = 100
# Files listed on the page; the counts above the list cover all of them.
LISTED_FILES = 200


class RetentionView(SecureView):
    capability = "retention.run"

    def _can_manage(self) -> bool:
        return self._can("retention.manage")

    @expose("/")
    def index(self):
        report = retention.due()
        rows = retention.period_rows()
        categories = [{"code": code, "category": category, "years": report.periods[code],
                       "default": category.retention_years, "row": rows.get(code)}
                      for code, category in registry.CATEGORIES.items()]
        return self.render("admin/retention.html", report=report, files=report.files[:LISTED_FILES],
                           by_category=report.by_category(), categories=categories,
                           labels={code: c.label for code, c in registry.CATEGORIES.items()},
                           runs=retention.last_runs(), can_manage=self._can_manage(), limit=WEB_RUN_LIMIT)

    @expose("/periods", methods=["POST"])
    def save_periods(self):
        if not self._can_manage():
            abort(403)
        values = {code: request.form[f"years_{code}"] for code in registry.CATEGORIES
                  if f"years_{code}" in request.form}
        try:
            changed = retention.set_periods(values, current_user._get_current_object())
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            if changed:
                flash(gettext("Retention periods saved."), "success")
            else:
                flash(gettext("Nothing was changed."), "info")
        return redirect(self.get_url(".index"))

    @expose("/run", methods=["POST"])
    def run(self):
        try:
            result = retention.run(current_user._get_current_object(), confirm=request.form.get("confirm", ""),
                                   upload_dir=current_app.config["UPLOAD_DIR"], limit=WEB_RUN_LIMIT)
        except DomainError as err:
            flash(err.translate(gettext), "error")
            return redirect(self.get_url(".index"))
        done = len(result.done)
        flash(ngettext("%(num)s file erased.", "%(num)s files erased.", done), "success")
        if result.failed:
            flash(ngettext("%(num)s file could not be erased; see the last runs.",
                           "%(num)s files could not be erased; see the last runs.", result.failed), "error")
        if result.remaining > 0:
            flash(ngettext("%(num)s more file is due: run again.", "%(num)s more files are due: run again.",
                           result.remaining), "info")
        return redirect(self.get_url(".index"))
