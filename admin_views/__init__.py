"""Build the Flask-Admin panel for an application."""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from models import AuditLog, Beneficiary, Document, DocumentType, Service, ServiceRequest, User, VerificationVisit

from .audit_log import AuditLogView
from .beneficiaries import BeneficiaryView
from .documents import DocumentView
from .home import HomeView
from .requests import ServiceRequestView
from .services_admin import DocumentTypeView, ServiceView
from .users import UserView
from .visits import VerificationVisitView


def init_admin(app) -> Admin:
    """Create the admin panel with its RTL theme and register every screen."""
    admin = Admin(
        name=_l("Mustafeed"),
        theme=Bootstrap4Theme(base_template="admin/rtl_base.html", fluid=True),
        index_view=HomeView(name=_l("Home"), url="/admin"),
        translations_path=app.config["BABEL_TRANSLATION_DIRECTORIES"],
    )
    admin.add_view(BeneficiaryView(Beneficiary, name=_l("Beneficiaries"), endpoint="beneficiary"))
    admin.add_view(ServiceRequestView(ServiceRequest, name=_l("Service requests"), endpoint="servicerequest"))
    admin.add_view(VerificationVisitView(VerificationVisit, name=_l("Verification visits"),
                                         endpoint="verificationvisit"))
    admin.add_view(DocumentView(Document, name=_l("Documents"), endpoint="document"))
    admin.add_view(ServiceView(Service, name=_l("Services"), endpoint="service", category=_l("Settings")))
    admin.add_view(DocumentTypeView(DocumentType, name=_l("Document types"), endpoint="documenttype",
                                    category=_l("Settings")))
    admin.add_view(UserView(User, name=_l("Users"), endpoint="user", category=_l("Settings")))
    admin.add_view(AuditLogView(AuditLog, name=_l("Audit log"), endpoint="auditlog", category=_l("Settings")))
    admin.init_app(app)
    return admin
