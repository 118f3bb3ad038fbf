"""Build the Flask-Admin panel for an application."""
from flask_admin import Admin
from flask_admin import babel as admin_babel
from flask_admin import translations as admin_translations
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from models import (
    AuditLog,
    Beneficiary,
    Demonym,
    Document,
    DocumentType,
    Incident,
    Notification,
    NotificationTemplate,
    ProposedChange,
    Referral,
    Service,
    ServiceRequest,
    User,
    VerificationVisit,
)

from .access import AccessView
from .audit_log import AuditLogView
from .beneficiaries import BeneficiaryView
from .board_mirror import BoardMirrorView
from .documents import DocumentView
from .duplicates import DuplicatesView
from .home import HomeView
from .imports import DemonymView, ImportView
from .incidents import IncidentView
from .interactions import HolidayView, InteractionKindView, InteractionQueueView, InteractionView
from .jobs import JobsView
from .notifications import NotificationTemplateView, NotificationView
from .processing import ProcessingView
from .proposed_changes import ProposedChangeView
from .references import ReferenceDocumentView
from .referrals import ReferralView
from .requests import ServiceRequestView
from .retention import RetentionView
from .satisfaction import SatisfactionSurveyView, SatisfactionView
from .services_admin import DocumentTypeView, ServiceView
from .statistics import StatisticsView
from .users import UserView
from .visits import VerificationVisitView


def _prefer_our_admin_catalogue(directory: str) -> None:
    """Load Flask-Admin's own "admin" catalogue first and ours last, so our fixes win."""
    # Flask-Babel merges a domain's catalogues in directory order and the last one wins;
    # Admin(translations_path=...) puts ours first, so Flask-Admin's typos would override it.
    # No public hook exists for the order, hence the private attribute.
    admin_babel.domain._translation_directories = [admin_translations.__path__[0], directory]
    admin_babel.domain.cache.clear()


def init_admin(app) -> Admin:
    """Create the admin panel with its RTL theme and register every screen."""
    admin = Admin(
        name=_l("Mustafeed"),
        theme=Bootstrap4Theme(base_template="admin/rtl_base.html", fluid=True),
        index_view=HomeView(name=_l("Home"), url="/admin"),
    )
    _prefer_our_admin_catalogue(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    admin.add_view(BeneficiaryView(Beneficiary, name=_l("Beneficiaries"), endpoint="beneficiary"))
    admin.add_view(ServiceRequestView(ServiceRequest, name=_l("Service requests"), endpoint="servicerequest"))
    admin.add_view(VerificationVisitView(VerificationVisit, name=_l("Verification visits"),
                                         endpoint="verificationvisit"))
    admin.add_view(DocumentView(Document, name=_l("Documents"), endpoint="document"))
    admin.add_view(ReferralView(Referral, name=_l("Referrals"), endpoint="referral"))
    _add_voice_views(admin)
    admin.add_view(DuplicatesView(name=_l("Possible duplicates"), endpoint="duplicates"))
    admin.add_view(ProposedChangeView(ProposedChange, name=_l("Proposed changes"), endpoint="proposedchange"))
    admin.add_view(NotificationView(Notification, name=_l("Outbox"), endpoint="notification"))
    admin.add_view(StatisticsView(name=_l("Annual statistics"), endpoint="statistics"))
    admin.add_view(ServiceView(Service, name=_l("Services"), endpoint="service", category=_l("Settings")))
    admin.add_view(DocumentTypeView(DocumentType, name=_l("Document types"), endpoint="documenttype",
                                    category=_l("Settings")))
    admin.add_view(UserView(User, name=_l("Users"), endpoint="user", category=_l("Settings")))
    admin.add_view(NotificationTemplateView(NotificationTemplate, name=_l("Message templates"),
                                            endpoint="notificationtemplate", category=_l("Settings")))
    admin.add_view(AuditLogView(AuditLog, name=_l("Audit log"), endpoint="auditlog", category=_l("Settings")))
    admin.add_view(BoardMirrorView(name=_l("Board mirror"), endpoint="boardmirror", category=_l("Settings")))
    admin.add_view(JobsView(name=_l("Background jobs"), endpoint="jobs", category=_l("Settings")))
    admin.add_view(ImportView(name=_l("Import from Excel"), endpoint="imports", category=_l("Settings")))
    admin.add_view(DemonymView(Demonym, name=_l("Nationality names"), endpoint="demonym", category=_l("Settings")))
    admin.add_view(IncidentView(Incident, name=_l("Personal-data incidents"), endpoint="incident",
                                category=_l("Settings")))
    admin.add_view(RetentionView(name=_l("Retention of personal data"), endpoint="retention", category=_l("Settings")))
    admin.add_view(ProcessingView(name=_l("Record of processing"), endpoint="processing", category=_l("Settings")))
    _add_voice_settings(admin)
    # PDPL right of access: reached from a beneficiary's page, not from the menu.
    admin.add_view(AccessView(name=_l("Personal data: access and correction"), endpoint="access"))
    admin.init_app(app)
    _register_views_menu(app, admin)
    return admin


def _add_voice_views(admin: Admin) -> None:
    """Register the beneficiary-voice screens: interactions, satisfaction, reference documents (P2, P3, P4)."""
    from models import Interaction, ReferenceDocument, SatisfactionSurvey
    voice = _l("Beneficiary voice")
    admin.add_view(InteractionView(Interaction, name=_l("Interactions"), endpoint="interaction", category=voice))
    admin.add_view(InteractionQueueView(name=_l("Open and overdue interactions"), endpoint="interactionqueue",
                                        category=voice))
    admin.add_view(SatisfactionView(name=_l("Satisfaction"), endpoint="satisfaction", category=voice))
    admin.add_view(SatisfactionSurveyView(SatisfactionSurvey, name=_l("Satisfaction surveys"),
                                          endpoint="satisfactionsurvey", category=voice))
    admin.add_view(ReferenceDocumentView(ReferenceDocument, name=_l("Reference documents"),
                                         endpoint="referencedocument"))


def _add_voice_settings(admin: Admin) -> None:
    """Register the settings behind response due dates: interaction kinds and holidays (P1.2)."""
    from models import Holiday, InteractionKind
    admin.add_view(InteractionKindView(InteractionKind, name=_l("Interaction kinds"), endpoint="interactionkind",
                                       category=_l("Settings")))
    admin.add_view(HolidayView(Holiday, name=_l("Holidays"), endpoint="holiday", category=_l("Settings")))


def _register_views_menu(app, admin: Admin) -> None:
    """Offer templates the current user's views (the navbar's Views menu); their live counts on request.

    Every page shows the menu, but counting each view (a COUNT over up to 300,000 requests, or a
    search) on every page cost more than the page itself (issue 9 benchmarks). The page lists the
    views; their counts are fetched (admin.views_menu) when the menu is opened, and are live then.
    """
    from flask_babel import gettext
    from flask_login import current_user

    from services import saved_views
    from web.filters import choice

    def saved_view_menu(counts: bool = False):
        lists = {view.endpoint: view for view in admin._views if hasattr(view, "count_for")}
        items = []
        for v in saved_views.visible_views(current_user, set(lists)):
            screen = lists[v.endpoint]
            if not screen.is_accessible():
                continue
            shared = choice(v.saved.shared_role, "ROLES") if v.saved and v.saved.shared_role else ""
            item = {"name": gettext(v.name) if v.key else v.name, "url": screen.view_url(v.query, v.param),
                    "shared": shared, "key": f"{v.endpoint}:{v.param}"}
            if counts:
                item["count"] = screen.count_for(v.query)
            items.append(item)
        return items

    app.jinja_env.globals["saved_view_menu"] = saved_view_menu
