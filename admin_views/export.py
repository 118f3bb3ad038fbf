"""Exports of every list: capped, audited, CSV or XLSX, safe to open in a spreadsheet."""
import datetime
import io
import tempfile
import time

from flask import current_app, flash, redirect, send_file
from flask_admin import expose
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext
from peewee import BooleanField, DateField, DateTimeField, DecimalField, FloatField, IntegerField

from services import audit, export
from services.dates import to_local


class ExportMixin:
    """Mixed into the secured model view: the export endpoint (CSV and XLSX), streamed through a temporary file."""

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
