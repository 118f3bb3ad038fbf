"""All entities; ALL_MODELS is in dependency order for table creation."""
from .audit import AuditLog
from .base import BaseModel, current_actor, db, utcnow
from .beneficiary import Beneficiary, HouseholdMember
from .document import Document
from .evaluation import CriterionAssessment, Delivery, EvaluationCriterion, MethodWaiver, Recommendation
from .intake import IntakeAnswer, IntakeQuestion
from .service import DocumentType, Service, ServiceDocumentType
from .service_request import RequestTransition, ServiceRequest
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
]

__all__ = [m.__name__ for m in ALL_MODELS] + ["BaseModel", "current_actor", "db", "utcnow", "ALL_MODELS"]
