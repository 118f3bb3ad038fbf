"""Services and document types: configuration an administrator edits (policy P1.2)."""
from flask_babel import lazy_gettext as _l

from models import DocumentType, EvaluationCriterion, IntakeQuestion, Service, ServiceDocumentType
from models.intake import QUESTION_KINDS
from services.errors import N_, ValidationError
from services.normalize import clean_text

from .base import SecureModelView
from .fields import Inline, lazy_choices

_SERVICE_LABELS = {
    "name_ar": _l("Name (Arabic)"), "name_en": _l("Name (English)"), "description": _l("Description"),
    "eligibility_conditions": _l("Eligibility conditions"),
    "requires_document_review": _l("Requires administrative review"),
    "requires_interview": _l("Requires a personal interview"), "requires_field_visit": _l("Requires a field visit"),
    "decision_days": _l("Days to a decision"),
    "min_approval_interval_days": _l("Minimum days between two approvals for one beneficiary"),
    "sensitive": _l("Sensitive service"), "active": _l("Active"),
    "required_documents": _l("Required documents"), "document_type": _l("Document type"),
}


class RequiredDocumentInline(Inline):
    form_columns = ("id", "document_type")
    form_label = _l("Required document")
    column_labels = _SERVICE_LABELS


class QuestionInline(Inline):
    """The service's intake questions (P6.1): what the request must answer."""

    form_columns = ("id", "label_ar", "label_en", "kind", "options", "required", "sensitive", "position", "active")
    form_label = _l("Intake question")
    form_choices = {"kind": lazy_choices(QUESTION_KINDS)}
    column_labels = {"label_ar": _l("Question (Arabic)"), "label_en": _l("Question (English)"),
                     "kind": _l("Answer type"), "options": _l("Options (one per line, for a choice)"),
                     "required": _l("Required"), "sensitive": _l("Sensitive"), "position": _l("Order"),
                     "active": _l("Active")}

    def on_model_change(self, form, model, is_created):
        model.label_ar, model.label_en = clean_text(model.label_ar), clean_text(model.label_en)
        if not model.label_ar:
            raise ValidationError(N_("Each question needs its Arabic text."))
        if model.kind == "choice" and not model.option_list():
            raise ValidationError(N_("A choice question needs its options, one per line."))


class CriterionInline(Inline):
    """The service's evaluation criteria (P6.3): the regulations and professional criteria."""

    form_columns = ("id", "text_ar", "text_en", "position", "active")
    form_label = _l("Evaluation criterion")
    column_labels = {"text_ar": _l("Criterion (Arabic)"), "text_en": _l("Criterion (English)"),
                     "position": _l("Order"), "active": _l("Active")}

    def on_model_change(self, form, model, is_created):
        model.text_ar, model.text_en = clean_text(model.text_ar), clean_text(model.text_en)
        if not model.text_ar:
            raise ValidationError(N_("Each criterion needs its Arabic text."))


class ServiceView(SecureModelView):
    read_capability = "services.read"
    create_capability = "services.manage"
    edit_capability = "services.manage"

    column_list = ("name_ar", "name_en", "decision_days", "requires_document_review", "requires_interview",
                   "requires_field_visit", "sensitive", "active")
    form_columns = ("name_ar", "name_en", "description", "eligibility_conditions", "requires_document_review",
                    "requires_interview", "requires_field_visit", "decision_days", "min_approval_interval_days",
                    "sensitive", "active")
    inline_models = (RequiredDocumentInline(ServiceDocumentType), QuestionInline(IntakeQuestion),
                     CriterionInline(EvaluationCriterion))
    column_labels = _SERVICE_LABELS

    def search_clause(self, term):
        return Service.name_ar.contains(term) | Service.name_en.contains(term)

    def validate_model(self, model, is_created):
        model.name_ar, model.name_en = clean_text(model.name_ar), clean_text(model.name_en)
        if not model.name_ar:
            raise ValidationError(N_("The Arabic name is required."), field="name_ar")
        if model.decision_days is None or not (1 <= model.decision_days <= 365):
            raise ValidationError(N_("Days to a decision must be between 1 and 365."), field="decision_days")
        if model.min_approval_interval_days is not None and not (1 <= model.min_approval_interval_days <= 3650):
            raise ValidationError(N_("The minimum days between two approvals must be between 1 and 3650, "
                                     "or empty for no minimum."), field="min_approval_interval_days")


class DocumentTypeView(SecureModelView):
    read_capability = "services.read"
    create_capability = "services.manage"
    edit_capability = "services.manage"

    column_list = ("name_ar", "name_en", "active")
    form_columns = ("name_ar", "name_en", "active")
    column_labels = _SERVICE_LABELS

    def search_clause(self, term):
        return DocumentType.name_ar.contains(term) | DocumentType.name_en.contains(term)
