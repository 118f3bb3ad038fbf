"""All entities; ALL_MODELS is in dependency order for table creation."""
from . import case_guard
from .audit import AuditLog
from .base import BaseModel, current_actor, db, utcnow
from .beneficiary import Beneficiary, HouseholdMember
from .column_mapping import ColumnMapping
from .consent import Consent
from .demonym import Demonym
from .document import Document
from .duplicate import DuplicateCandidate, SharedMobile
from .evaluation import CriterionAssessment, Delivery, EvaluationCriterion, MethodWaiver, Recommendation
from .import_batch import ImportBatch, ImportedRecord
from .incident import Incident
from .intake import IntakeAnswer, IntakeQuestion
from .interaction import Holiday, Interaction, InteractionKind
from .job import BackgroundJob, BackgroundJobRow
from .notification import Notification, NotificationTemplate
from .proposed_change import ProposedChange
from .reference_document import ReferenceDocument, ReferenceDocumentVersion
from .referral import Referral
from .retention import RetentionErasure, RetentionPeriod, RetentionRun
from .saved_view import ColumnChoice, SavedView
from .service import DocumentType, Service, ServiceDocumentType
from .service_request import RequestTransition, ServiceRequest
from .sign_in import SignIn
from .survey import SatisfactionSurvey, SurveyInvitation
from .sync_state import SyncRow, SyncRun, SyncTab
from .user import User
from .visit import VerificationVisit

ALL_MODELS = [
    User,
    AuditLog,
    DocumentType,
    Service,
    ServiceDocumentType,
    Beneficiary,
    HouseholdMember,
    ServiceRequest,
    RequestTransition,
    Document,
    VerificationVisit,
    IntakeQuestion,
    IntakeAnswer,
    EvaluationCriterion,
    CriterionAssessment,
    Recommendation,
    MethodWaiver,
    Delivery,
    SyncTab, SyncRow, SyncRun,
    Referral,
    SavedView,
    ColumnChoice,
    DuplicateCandidate, SharedMobile,
    NotificationTemplate, Notification,
    InteractionKind, Holiday, Interaction, SurveyInvitation, SatisfactionSurvey,
    ReferenceDocument, ReferenceDocumentVersion,
    ProposedChange,
    BackgroundJob, BackgroundJobRow,
    ImportBatch, ImportedRecord, ColumnMapping, Demonym,
    Consent,
    Incident,
    RetentionPeriod, RetentionRun, RetentionErasure,
    SignIn,
]

__all__ = [m.__name__ for m in ALL_MODELS] + ["BaseModel", "current_actor", "db", "utcnow", "ALL_MODELS"]
