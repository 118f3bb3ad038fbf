"""Documents screen: upload (checked by content), list, verify, and the only way to open a file."""
from flask import abort, current_app, request, send_file
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee.filters import BasePeeweeFilter, FilterEqual
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from peewee import JOIN
from wtforms import FileField

from models import Beneficiary, Document, DocumentType, ServiceRequest, User
from services import documents as svc
from services import eligibility
from services.errors import N_, DomainError, PermissionDenied
from services.ids import parse_id
from services.scopes import visible_documents, visible_requests
from services.search import request_matches

from .base import SecureModelView
from .filters import RiyadhDayBetweenFilter, live_options
from .formatters import bdi_formatter, date_formatter
from .requests import ScopedRequestLoader


class VerifiedFilter(BasePeeweeFilter):
    """Documents that were (or were not yet) checked against the original."""

    def apply(self, query, value):
        return query.where(Document.verified_at.is_null(value != "1"))

    def operation(self):
        return _l("is")


@live_options
def _type_options():
    return [(t.id, t.name_ar) for t in DocumentType.select().order_by(DocumentType.name_ar)]


def _download_link(view, context, model, name):
    url = view.get_url(".download", id=model.id)
    return Markup('<a href="%s">%s</a>') % (url, model.original_name)


class DocumentView(SecureModelView):
    read_capability = "documents.read"
    create_capability = "documents.read"
    edit_capability = None
    action_capabilities = {"verify": "documents.verify"}

    column_list = ("original_name", "document_type", "request", "beneficiary", "content_type", "size",
                   "verified_by", "verified_at", "created_at", "created_by")
    column_details_list = column_list + ("sha256",)
    column_export_list = ("original_name", "document_type", "request", "beneficiary", "content_type", "size",
                          "sha256", "verified_by", "verified_at", "created_at", "created_by")
    column_default_sort = ("id", True)
    column_sortable_list = ("original_name", "size", "verified_at", "created_at")
    form_columns = ("document_type", "request", "beneficiary", "file")
    form_extra_fields = {"file": FileField(_l("File (PDF, JPEG or PNG)"))}
    form_ajax_refs = {
        "request": ScopedRequestLoader("request", ServiceRequest, fields=(ServiceRequest.number,), page_size=10),
        "beneficiary": {"fields": (Beneficiary.reference, Beneficiary.full_name), "page_size": 10},
    }
    column_labels = {"original_name": _l("File"), "document_type": _l("Document type"), "request": _l("Request"),
                     "beneficiary": _l("Beneficiary"), "content_type": _l("Type"), "size": _l("Size (bytes)"),
                     "sha256": _l("SHA-256"), "verified_by": _l("Verified by"), "verified_at": _l("Verified at"),
                     "created_at": _l("Uploaded at"), "created_by": _l("Uploaded by"), "file": _l("File")}
    column_formatters = {"original_name": _download_link, "size": bdi_formatter, "sha256": bdi_formatter,
                         "verified_at": date_formatter, "created_at": date_formatter,
                         "request": lambda v, c, m, n: m.request.number if m.request_id else "",
                         "beneficiary": lambda v, c, m, n: m.beneficiary.reference if m.beneficiary_id else ""}
    column_formatters_export = {"original_name": lambda v, c, m, n: m.original_name,
                                "request": lambda v, c, m, n: m.request.number if m.request_id else "",
                                "beneficiary": lambda v, c, m, n: m.beneficiary.reference if m.beneficiary_id else ""}

    # The list shows type, request, beneficiary and verifier of each row: joined once, not per row.
    prejoined = ("DocumentType",)

    def base_query(self):
        verifier = User.alias()
        return (Document.select(Document, DocumentType, ServiceRequest, Beneficiary, verifier)
                .join(DocumentType, on=(Document.document_type == DocumentType.id), attr="document_type")
                .switch(Document)
                .join(ServiceRequest, JOIN.LEFT_OUTER, on=(Document.request == ServiceRequest.id), attr="request")
                .switch(Document)
                .join(Beneficiary, JOIN.LEFT_OUTER, on=(Document.beneficiary == Beneficiary.id), attr="beneficiary")
                .switch(Document)
                .join(verifier, JOIN.LEFT_OUTER, on=(Document.verified_by == verifier.id), attr="verified_by"))

    def get_filters(self):
        return [
            FilterEqual(Document.document_type, _l("Document type"), options=_type_options),
            FilterEqual(Document.content_type, _l("Type"),
                        options=[(mime, mime) for mime in svc.ALLOWED_TYPES]),
            VerifiedFilter(Document.verified_at, _l("Verified"), options=[("1", _l("Yes")), ("0", _l("No"))]),
            RiyadhDayBetweenFilter(Document.created_at, _l("Uploaded at")),
        ]

    def search_clause(self, term):
        return Document.original_name.contains(term) | request_matches(Document.request, term)

    # ---- rows: a document follows its request's scope --------------------------------
    def scope_query(self, query):
        if self._role() is None:
            return query
        return visible_documents(query, current_user)

    def create_form(self, obj=None):
        form = super().create_form(obj)
        # "Upload a document" on a request's page opens this form with the request chosen.
        request_id = parse_id(request.args.get("request_id"))
        if request_id and request.method == "GET" and "request" in form._fields:
            form.request.data = visible_requests(ServiceRequest.select(), current_user).where(
                ServiceRequest.id == request_id).first()
        return form

    def create_model(self, form):
        upload = form.file.data
        try:
            chosen = form.request.data
            if chosen is not None and not visible_requests(
                    ServiceRequest.select().where(ServiceRequest.id == chosen.id), current_user).exists():
                raise PermissionDenied(N_("You cannot add documents to this request."), field="request")
            if upload is None or not getattr(upload, "filename", ""):
                raise svc.ValidationError(N_("Choose a file to upload."), field="file")
            return svc.store_upload(upload.stream, upload.filename, form.document_type.data,
                                    request=chosen, beneficiary=form.beneficiary.data,
                                    upload_dir=current_app.config["UPLOAD_DIR"],
                                    max_bytes=current_app.config["UPLOAD_MAX_BYTES"],
                                    actor=current_user._get_current_object())
        except DomainError as err:
            self._show_domain_error(form, err)
            return False

    def delete_row(self, model):
        super().delete_row(model)
        svc.remove_file(model, current_app.config["UPLOAD_DIR"])

    # ---- verify ----------------------------------------------------------------------
    @action("verify", _l("Mark as verified"), _l("Mark the selected documents as checked against the originals?"))
    def action_verify(self, ids):
        """Mark the selected documents verified; already verified ones are listed back."""
        actor = current_user._get_current_object()
        self.apply_each("verify", ids, lambda doc: eligibility.verify_document(doc, actor), lambda n: ngettext(
            "%(num)s document was marked as verified.", "%(num)s documents were marked as verified.", n))

    # ---- the only way a stored file leaves the server ------------------------------
    @expose("/download/<int:id>")
    def download(self, id):
        """Send a document's file to a user whose role and scope allow it, and audit it."""
        document = self.get_one(str(id))  # 403 outside the role's scope
        if document is None:
            abort(404)
        path = svc.stored_path(document, current_app.config["UPLOAD_DIR"])
        if not path.is_file():
            abort(404)
        svc.record_download(document)
        from web.filters import current_lang
        # Named by its type and request, never as uploaded (services.documents.served_name).
        return send_file(path, mimetype=document.content_type, as_attachment=True,
                         download_name=svc.served_name(document, current_lang()), max_age=0)
