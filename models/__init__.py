"""All entities; ALL_MODELS is in dependency order for table creation."""
from .audit import AuditLog
from .base import BaseModel, current_actor, db, utcnow
from .beneficiary import Beneficiary, HouseholdMember
from .document import Document
from .duplicate import DuplicateCandidate, SharedMobile
from .evaluation import CriterionAssessment, Delivery, EvaluationCriterion, MethodWaiver, Recommendation
from .intake import IntakeAnswer, IntakeQuestion
from .notification import Notification, NotificationTemplate
from .referral import Referral
from .saved_view import ColumnChoice, SavedView
from .service import DocumentType, Service, ServiceDocumentType
from .service_request import RequestTransition, ServiceRequest
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
]

__all__ = [m.__name__ for m in ALL_MODELS] + ["BaseModel", "current_actor", "db", "utcnow", "ALL_MODELS"]
