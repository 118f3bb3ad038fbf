"""The reference library (P4): the bylaws, this policy, the selection mechanism …, every version kept."""
from flask import abort, current_app, flash, redirect, request, send_file
from flask_admin import expose
from flask_admin.contrib.peewee.filters import FilterEqual
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import FileField, TextAreaField

from models import ReferenceDocument, ReferenceDocumentVersion
from models.reference_document import REFERENCE_KINDS
from services import records
from services import references as svc
from services.errors import N_, DomainError, ValidationError
from services.ids import parse_id
from web.filters import current_lang

from .base import SecureModelView
from .fields import lazy_choices
from .formatters import choice_formatter, date_formatter


def _title(view, context, model, name):
    title = model.title_ar if current_lang() == "ar" or not model.title_en else model.title_en
    return Markup('<a href="%s">%s</a>') % (view.get_url(".details_view", id=model.id), title)


def _latest(view, context, model, name):
    """Link the version in force (the newest) for download."""
    newest = model.versions.order_by(ReferenceDocumentVersion.number.desc()).first()
    if newest is None:
        return ""
    return Markup('<a href="%s">%s %s</a>') % (view.get_url(".download", id=model.id), gettext("Version"),
                                              newest.number)


def _upload(form) -> tuple:
    upload = form.file.data if "file" in form._fields else None
    if upload is None or not getattr(upload, "filename", ""):
        raise ValidationError(N_("Choose a file to upload."), field="file")
    return upload.stream, upload.filename


class ReferenceDocumentView(SecureModelView):
    read_capability = "references.read"
    create_capability = "references.manage"
    edit_capability = "references.manage"
    details_template = "admin/reference_details.html"

    column_list = ("title_ar", "kind", "latest", "updated_at")
    column_details_list = ("title_ar", "title_en", "kind", "description", "created_at", "created_by")
    column_default_sort = ("kind", False)
    column_sortable_list = ("title_ar", "kind", "updated_at")
    form_columns = ("kind", "title_ar", "title_en", "description")
    form_choices = {"kind": lazy_choices(REFERENCE_KINDS)}
    form_overrides = {"description": TextAreaField}
    form_extra_fields = {"file": FileField(_l("File (PDF, JPEG or PNG)")),
                         "note": TextAreaField(_l("What changed in this version"))}
    column_labels = {"title_ar": _l("Title (Arabic)"), "title_en": _l("Title (English)"), "kind": _l("Kind"),
                     "description": _l("Description"), "latest": _l("Version in force"),
                     "updated_at": _l("Last changed at"), "created_at": _l("Created at"),
                     "created_by": _l("Created by"), "file": _l("File"), "note": _l("What changed in this version")}
    column_formatters = {"title_ar": _title, "kind": choice_formatter(REFERENCE_KINDS), "latest": _latest,
                         "updated_at": date_formatter, "created_at": date_formatter}

    def get_filters(self):
        return [FilterEqual(ReferenceDocument.kind, _l("Kind"), options=lazy_choices(REFERENCE_KINDS))]

    def search_clause(self, term):
        return (ReferenceDocument.title_ar.contains(term) | ReferenceDocument.title_en.contains(term)
                | ReferenceDocument.description.contains(term))

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        # A new file is a new version, uploaded from the document's page; editing changes the title only.
        for name in ("file", "note"):
            if name in form._fields:
                delattr(form, name)
        return form

    def validate_model(self, model, is_created):
        svc.normalize_document(model)

    def create_model(self, form):
        try:
            stream, filename = _upload(form)
            document = ReferenceDocument(kind=form.kind.data, title_ar=form.title_ar.data, title_en=form.title_en.data,
                                         description=form.description.data)
            return svc.create(document, stream, filename, current_user._get_current_object(),
                              upload_dir=current_app.config["UPLOAD_DIR"],
                              max_bytes=current_app.config["UPLOAD_MAX_BYTES"], note=form.note.data)
        except DomainError as err:
            self._show_domain_error(form, err)
            return False

    def delete_row(self, model):
        names = [v.stored_name for v in svc.versions(model)]
        records.delete_record(model)
        svc.remove_files(names, current_app.config["UPLOAD_DIR"])

    @expose("/details/")
    def details_view(self):
        model = self.get_one(request.args.get("id", ""))
        if model is not None:
            self._template_args.update(versions=svc.versions(model), can_manage=self._can("references.manage"))
        return super().details_view()

    @expose("/upload/<int:id>", methods=["POST"])
    def upload_version(self, id):
        """Upload a new version of the document; the older ones stay."""
        if not self._can("references.manage"):
            abort(403)
        document = self.get_one(str(id))
        if document is None:
            abort(404)
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValidationError(N_("Choose a file to upload."), field="file")
            version = svc.add_version(document, upload.stream, upload.filename, current_user._get_current_object(),
                                      upload_dir=current_app.config["UPLOAD_DIR"],
                                      max_bytes=current_app.config["UPLOAD_MAX_BYTES"], note=request.form.get("note"))
        except DomainError as err:
            flash(err.translate(gettext), "error")
        else:
            flash(gettext("Version %(number)s was uploaded.", number=version.number), "success")
        return redirect(self.get_url(".details_view", id=document.id))

    @expose("/download/<int:id>")
    def download(self, id):
        """Send a version of the document (the newest unless ?version=N), and audit it."""
        document = self.get_one(str(id))
        if document is None:
            abort(404)
        query = ReferenceDocumentVersion.select().where(ReferenceDocumentVersion.document == document)
        if request.args.get("version"):
            number = parse_id(request.args["version"])
            if number is None:
                abort(404)
            query = query.where(ReferenceDocumentVersion.number == number)
        version = query.order_by(ReferenceDocumentVersion.number.desc()).first()
        if version is None:
            abort(404)
        path = svc.version_path(version, current_app.config["UPLOAD_DIR"])
        if not path.is_file():
            abort(404)
        svc.record_download(version)
        # Named by its title and version, never as uploaded (services.references.served_name).
        return send_file(path, mimetype=version.content_type, as_attachment=True,
                         download_name=svc.served_name(version, current_lang()), max_age=0)
