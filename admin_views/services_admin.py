"""Services and document types: configuration an administrator edits (policy P1.2)."""
from flask_babel import lazy_gettext as _l

from models import DocumentType, Service, ServiceDocumentType
from services.errors import N_, ValidationError
from services.normalize import clean_text

from .base import Inline, SecureModelView

_SERVICE_LABELS = {
    "name_ar": _l("Name (Arabic)"), "name_en": _l("Name (English)"), "description": _l("Description"),
    "eligibility_conditions": _l("Eligibility conditions"),
    "requires_document_review": _l("Requires administrative review"),
    "requires_interview": _l("Requires a personal interview"), "requires_field_visit": _l("Requires a field visit"),
    "decision_days": _l("Days to a decision"), "sensitive": _l("Sensitive service"), "active": _l("Active"),
    "required_documents": _l("Required documents"), "document_type": _l("Document type"),
}


class RequiredDocumentInline(Inline):
    form_columns = ("id", "document_type")
    form_label = _l("Required document")
    column_labels = _SERVICE_LABELS


class ServiceView(SecureModelView):
    read_capability = "services.read"
    create_capability = "services.manage"
    edit_capability = "services.manage"

    column_list = ("name_ar", "name_en", "decision_days", "requires_document_review", "requires_interview",
                   "requires_field_visit", "sensitive", "active")
    form_columns = ("name_ar", "name_en", "description", "eligibility_conditions", "requires_document_review",
                    "requires_interview", "requires_field_visit", "decision_days", "sensitive", "active")
    inline_models = (RequiredDocumentInline(ServiceDocumentType),)
    column_labels = _SERVICE_LABELS

    def search_clause(self, term):
        return Service.name_ar.contains(term) | Service.name_en.contains(term)

    def validate_model(self, model, is_created):
        model.name_ar, model.name_en = clean_text(model.name_ar), clean_text(model.name_en)
        if not model.name_ar:
            raise ValidationError(N_("The Arabic name is required."), field="name_ar")
        if model.decision_days is None or not (1 <= model.decision_days <= 365):
            raise ValidationError(N_("Days to a decision must be between 1 and 365."), field="decision_days")


class DocumentTypeView(SecureModelView):
    read_capability = "services.read"
    create_capability = "services.manage"
    edit_capability = "services.manage"

    column_list = ("name_ar", "name_en", "active")
    form_columns = ("name_ar", "name_en", "active")
    column_labels = _SERVICE_LABELS

    def search_clause(self, term):
        return DocumentType.name_ar.contains(term) | DocumentType.name_en.contains(term)
