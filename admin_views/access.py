"""The PDPL rights of access and correction on screen: a person's complete file as a ZIP, and the correction
form of a data-correction request (the rules are in services/access.py and services/corrections.py)."""
import datetime
import json
import tempfile
from functools import lru_cache
from pathlib import Path

import jinja2
from babel import Locale
from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext
from flask_login import current_user

from models import AuditLog, Beneficiary
from services import access, corrections, notifications
from services.dates import format_dual
from services.errors import DomainError
from services.validators import format_mobile
from web.filters import bdi

from .base import SecureView

# Past this size the ZIP being built moves from memory to a temporary file on disk.
_SPOOL_BYTES = 8 * 1024 * 1024


class AccessView(SecureView):
    """A manager produces a beneficiary's complete file (PDPL right of access); reached from the beneficiary's page."""

    capability = access.CAPABILITY

    def is_visible(self):
        return False

    @expose("/")
    def index(self):
        """List the latest complete files produced, and the correction requests still open."""
        exports = list(AuditLog.select().where(AuditLog.action == "access_export")
                       .order_by(AuditLog.id.desc()).limit(50))
        ids = {e.record_id for e in exports}
        people = {b.id: b for b in Beneficiary.select().where(Beneficiary.id.in_(ids or {0}))}
        rows = [(e, people.get(e.record_id), _details(e)) for e in exports]
        return self.render("admin/access_index.html", exports=rows, corrections=corrections.open_requests())

    @expose("/export/<int:id>")
    def export(self, id):
        """Send the beneficiary's complete file: summary.html, data.json and the documents, as one ZIP (audited)."""
        beneficiary = Beneficiary.get_or_none(Beneficiary.id == id)
        if beneficiary is None:
            abort(404)
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
        try:
            access.write_zip(beneficiary, current_app.config["UPLOAD_DIR"], spool,
                             current_user._get_current_object(), render_summary)
        except DomainError as err:
            spool.close()
            flash(err.translate(gettext), "error")
            return redirect(url_for("beneficiary.details_view", id=beneficiary.id))
        spool.seek(0)
        return send_file(spool, mimetype="application/zip", as_attachment=True,
                         download_name=access.download_name(beneficiary))


# ---- the summary inside the ZIP (services.access gathers what it shows) ------------------------------------
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def _summary_environment() -> jinja2.Environment:
    # An environment of its own, not the application's: the page is in the summary's language (Arabic)
    # whatever the staff member's, and self-contained (no url_for, no static files).
    language = access.SUMMARY_LANGUAGE
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                             extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(notifications.catalogue(language), newstyle=True)
    env.filters["dual"] = lambda value: format_dual(value, language, with_time=isinstance(value, datetime.datetime))
    env.filters["mobile"] = format_mobile
    env.filters["bdi"] = bdi
    env.filters["country"] = lambda code: Locale.parse(language).territories.get(code, code) if code else ""
    env.globals["label"] = _label
    return env


def _label(vocabulary: str, code) -> str:
    if code is None or code == "":
        return ""
    catalogue = notifications.catalogue(access.SUMMARY_LANGUAGE)
    return catalogue.gettext(dict(access.VOCABULARIES[vocabulary]).get(code, code))


def render_summary(data: dict) -> str:
    """Return the readable summary of a collected file: one Arabic, right-to-left, self-contained HTML page."""
    return _summary_environment().get_template("access/summary.html").render(
        data=data, b=data["beneficiary"], fields=access.BENEFICIARY_FIELDS, association=access.association_name())


def _details(entry: AuditLog) -> dict:
    try:
        return json.loads(entry.details or "{}")
    except ValueError:
        return {}


# ---- correction (on the page of a data-correction interaction, admin_views/interactions.py) --------------
def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    return format_mobile(text) if text.startswith("+9665") else text


def correction_context(interaction) -> dict:
    """Return the correction form's values for an open data-correction request linked to a file, else nothing."""
    if interaction.kind.code != corrections.KIND_CODE or interaction.status == "closed" \
            or interaction.beneficiary_id is None:
        return {}
    beneficiary = Beneficiary.get_by_id(interaction.beneficiary_id)
    return {"correction_fields": [(f.key, f.describe(gettext), _shown(f.current))
                                  for f in corrections.correctable(beneficiary)],
            "correction_beneficiary": beneficiary}


def apply_correction(interaction):
    """Apply the corrections typed on the interaction's page (pairs of field and value) and go back to it."""
    typed = {key: value for key, value in zip(request.form.getlist("field"), request.form.getlist("value")) if key}
    try:
        corrections.apply(interaction, typed, current_user._get_current_object(),
                          response=request.form.get("response"))
    except DomainError as err:
        flash(err.translate(gettext), "error")
    else:
        flash(gettext("The correction was applied to the file, the interaction closed and the person notified."),
              "success")
    return redirect(url_for("interaction.details_view", id=interaction.id))
