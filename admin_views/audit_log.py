"""The audit trail: read-only, filterable."""
import json

from flask_admin.contrib.peewee.filters import FilterEqual, FilterLike
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from models import AuditLog, User
from services.search import in_matching

from .base import SecureModelView
from .filters import RiyadhDayBetweenFilter
from .formatters import date_formatter


def _changes(view, context, model, name):
    if not model.changes:
        return ""
    try:
        data = json.loads(model.changes)
    except ValueError:
        return model.changes
    rows = Markup("").join(Markup("<tr><td>%s</td><td><bdi>%s</bdi></td><td><bdi>%s</bdi></td></tr>")
                           % (k, v[0] if v[0] is not None else "", v[1] if v[1] is not None else "")
                           for k, v in data.items())
    return Markup('<table class="table table-sm mb-0">%s</table>') % rows


# Labels for the codes services write into AuditLog.action and AuditLog.model.
ACTIONS = {
    "create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"), "status": _l("Status changed"),
    "bulk": _l("Bulk action"), "export": _l("Export"), "download": _l("File downloaded"), "login": _l("Logged in"),
    "login_failed": _l("Failed login"), "logout": _l("Logged out"), "password_changed": _l("Password changed"),
    "attestation": _l("Attestation taken"), "verify": _l("Document verified"), "waiver": _l("Method waived"),
    "assess": _l("Criterion assessed"), "recommend": _l("Recommendation given"),
    "flagged_decision": _l("Decision flagged for review"), "reopen": _l("Decided request reopened"),
    "send": _l("Message sent"),
    "resend": _l("Message queued again"), "duplicate_check": _l("Possible duplicates checked"),
    "dismiss_duplicate": _l("Marked not a duplicate"), "shared_mobile": _l("Shared mobile marked"),
    "merge": _l("Beneficiaries merged"), "sheets_sync": _l("Board mirror synced"),
    "sheets_sync_requested": _l("Board mirror sync requested"), "import": _l("Records imported"),
    "respond": _l("Response recorded"), "close": _l("Closed"), "survey": _l("Satisfaction survey received"),
    "portal_request": _l("Request sent on the portal"), "portal_track": _l("Request tracked on the portal"),
    "portal_spam": _l("Robot submission on the portal ignored"), "propose_change": _l("Change proposed"),
    "accept_change": _l("Proposed change accepted"), "reject_change": _l("Proposed change rejected"),
    "consent": _l("Consent recorded"),
    "view": _l("Full record viewed"),
    "retention_run": _l("Retention run"), "retention_erase": _l("Personal data erased (retention)"),
    "access_export": _l("Complete personal file produced"), "correct": _l("Correction applied"),
    "sessions_ended": _l("Sessions ended"),
}
TABLES = {
    "Beneficiary": _l("Beneficiary"), "ServiceRequest": _l("Service request"), "VerificationVisit": _l("Verification visit"),
    "Document": _l("Document"), "User": _l("User"), "Service": _l("Service"), "DocumentType": _l("Document type"),
    "Delivery": _l("Delivery"), "HouseholdMember": _l("Household member"), "Referral": _l("Referral"),
    "IntakeAnswer": _l("Intake answer"), "IntakeQuestion": _l("Intake question"),
    "EvaluationCriterion": _l("Evaluation criterion"), "CriterionAssessment": _l("Criterion assessment"),
    "Recommendation": _l("Recommendation"), "MethodWaiver": _l("Method waiver"),
    "ServiceDocumentType": _l("Required document"), "RequestTransition": _l("Status change"),
    "Notification": _l("Message"), "NotificationTemplate": _l("Message template"),
    "DuplicateCandidate": _l("Possible duplicate"), "SharedMobile": _l("Shared mobile"),
    "Statistics": _l("Annual statistics"), "SyncRun": _l("Board mirror"), "SyncTab": _l("Board mirror"),
    "SyncRow": _l("Board mirror"), "AuditLog": _l("Audit log"), "SavedView": _l("Saved view"),
    "ColumnChoice": _l("Column choice"), "ImportBatch": _l("Import"), "ImportedRecord": _l("Import"),
    "ColumnMapping": _l("Column mapping"), "Demonym": _l("Nationality name"), "BackgroundJob": _l("Background job"),
    "BackgroundJobRow": _l("Background job"),
    "Interaction": _l("Interaction"), "InteractionKind": _l("Interaction kind"), "Holiday": _l("Holiday"),
    "SurveyInvitation": _l("Survey invitation"), "SatisfactionSurvey": _l("Satisfaction survey"),
    "Consent": _l("Consent"),
    "ReferenceDocument": _l("Reference document"), "ReferenceDocumentVersion": _l("Reference document version"),
    "ProposedChange": _l("Proposed change"), "Portal": _l("Public portal"),
    "Incident": _l("Personal-data incident"),
    "RetentionPeriod": _l("Retention period"), "RetentionRun": _l("Retention run"),
    "RetentionErasure": _l("Retention run"),
    "SignIn": _l("Sign-in"),
}


def _label(mapping):
    return lambda view, context, model, name: str(mapping.get(getattr(model, name), getattr(model, name) or ""))


class AuditLogView(SecureModelView):
    read_capability = "audit.read"
    create_capability = None
    edit_capability = None
    delete_capability = None
    export_capability = "export"

    column_list = ("at", "actor", "action", "model", "record_id", "ip")
    column_details_list = ("at", "actor", "action", "model", "record_id", "changes", "details", "ip")
    column_default_sort = ("id", True)
    column_sortable_list = ("at", "actor", "action", "model")
    column_labels = {"at": _l("When"), "actor": _l("Who"), "action": _l("Action"), "model": _l("Table"),
                     "record_id": _l("Record"), "changes": _l("Changes"), "details": _l("Details"),
                     "ip": _l("IP address")}
    column_formatters = {"at": date_formatter, "changes": _changes, "action": _label(ACTIONS), "model": _label(TABLES),
                         "details": lambda v, c, m, n: Markup("<bdi>%s</bdi>") % escape(m.details or "")}
    column_formatters_export = {"changes": lambda v, c, m, n: m.changes or ""}

    def get_filters(self):
        return [
            FilterLike(AuditLog.actor, _l("Who")),
            FilterEqual(AuditLog.action, _l("Action"), options=list(ACTIONS.items())),
            FilterEqual(AuditLog.model, _l("Table"), options=list(TABLES.items())),
            FilterEqual(AuditLog.record_id, _l("Record")),
            RiyadhDayBetweenFilter(AuditLog.at, _l("When")),
        ]

    def search_clause(self, term):
        # Who: the staff whose username or name contains the term (a few rows of the user table), then
        # their rows through the actor index; an action or table code exactly. Comparing the term
        # with every one of 500,000 rows took 156 ms of CPU (issue 9 benchmarks).
        staff = User.select(User.username).where(User.username.contains(term) | User.full_name.contains(term))
        return (in_matching(AuditLog.actor, staff) | (AuditLog.actor == term) | (AuditLog.action == term)
                | (AuditLog.model == term))
