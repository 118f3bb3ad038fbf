"""The personal data the system holds, marked in one place (Saudi PDPL).

Every model field that holds personal data is listed in PERSONAL_FIELDS with its category. A
category says why the data is held, which roles may see it, where it is sent and which retention
period applies. The screens (hiding columns per role), the exports, the board mirror, the retention
run and the record-of-processing page all read this module, so they cannot drift apart; a test
checks that every field named here exists on its model.

Two kinds of personal data are marked by rows rather than by columns, because whether they are
sensitive depends on the row:
* an intake answer is sensitive when its question is (``IntakeQuestion.sensitive``, e.g. income);
* a request is sensitive when its service is (``Service.sensitive``, e.g. care for new Muslims,
  which reveals religion). These are ROW_MARKERS.

Seeing is not writing. A role that may not see a field may still type it where its work collects
it and nothing stored is shown: a new record's form (a volunteer registering a beneficiary types the
notes they are told), a referral's reason, the answer to a sensitive intake question on a draft it
registered. It never reads a stored value back, and an edit page leaves the field out, so that
role's save keeps what is stored.
"""
from dataclasses import dataclass

from .choices import N_

STAFF_ROLES = frozenset({"admin", "manager", "researcher", "volunteer"})
# Sensitive data (PDPL art. 1: health, religion, financial situation …): the people who decide on
# eligibility, not volunteers registering files and never the board.
CASEWORK_ROLES = frozenset({"admin", "manager", "researcher"})
ALL_ROLES = STAFF_ROLES | {"board"}


@dataclass(frozen=True)
class DataCategory:
    code: str
    label: str                      # message id
    purpose: str                    # message id: why the association holds it
    sensitive: bool                 # PDPL "sensitive data"
    roles: frozenset[str]           # roles that see it on screens and in exports
    recipients: tuple[str, ...]     # message ids: where it is sent outside the database
    retention_years: int            # default period; admins edit it (RetentionPeriod rows)
    # Whose data: a beneficiary's file (erased with the file, services/retention.py), or staff records
    # (rows about staff members, each deleted once its period has passed since it was written).
    about: str = "beneficiary"


CATEGORIES: dict[str, DataCategory] = {c.code: c for c in (
    DataCategory("name", N_("Names"),
                 N_("Identify the person when registering, deciding and delivering a service (P6.2)."),
                 False, ALL_ROLES,
                 (N_("Google Sheet of the board: only if the association opts in to names"),), 5),
    DataCategory("identifiers", N_("Identity numbers and birth dates"),
                 N_("Check eligibility and prevent duplicate files (P6.2, P6.6)."),
                 False, STAFF_ROLES, (), 5),
    DataCategory("contact", N_("Contact details"),
                 N_("Tell the person about their request: receipt, documents, appointments, decision (P6.4)."),
                 False, STAFF_ROLES,
                 (N_("SMS gateway: mobile number and message text"), N_("Email server: address and message text")), 5),
    DataCategory("household", N_("Household members"),
                 N_("Assess the family's need and find duplicate files (P6.2, P6.6)."),
                 False, STAFF_ROLES, (), 5),
    DataCategory("circumstances", N_("Social circumstances and visit findings"),
                 N_("Verify eligibility by interview and home visit (P6.5) and record the evaluation (P6.3)."),
                 True, CASEWORK_ROLES, (), 5),
    DataCategory("sensitive_answers", N_("Sensitive intake answers (e.g. income, health)"),
                 N_("Decide on eligibility for services that ask them (P6.1)."),
                 True, CASEWORK_ROLES, (), 5),
    DataCategory("religion", N_("Requests for sensitive services (religion-related)"),
                 N_("Provide the dawah and care services the association exists for."),
                 True, CASEWORK_ROLES, (), 5),
    DataCategory("communications", N_("Messages and contacts"),
                 N_("Answer inquiries and complaints (P2.3, P2.7) and keep proof of what was sent (P6.4)."),
                 False, STAFF_ROLES,
                 (N_("SMS gateway: mobile number and message text"), N_("Email server: address and message text")), 3),
    DataCategory("documents", N_("Uploaded documents"),
                 N_("Prove what the applicant declared (P6.5 document review)."),
                 False, STAFF_ROLES, (), 5),
    # Each member of staff also sees their own (My sign-ins); administrators see everyone's in the audit log.
    DataCategory("sign_ins", N_("Staff sign-in history (each sees their own)"),
                 N_("Let staff and administrators see when and from where an account was used, to spot and stop a "
                    "sign-in that was not its owner's."),
                 False, frozenset({"admin"}), (), 1, about="staff"),
)}

# (model name, field name) → category code.
PERSONAL_FIELDS: dict[tuple[str, str], str] = {
    ("Beneficiary", "full_name"): "name",
    ("Beneficiary", "latin_name"): "name",
    ("Beneficiary", "name_key"): "name",
    ("Beneficiary", "id_number"): "identifiers",
    ("Beneficiary", "birth_date"): "identifiers",
    ("Beneficiary", "mobile"): "contact",
    ("Beneficiary", "email"): "contact",
    ("Beneficiary", "notes"): "circumstances",
    # The association's own classification: its values include "new Muslim" and "disabled" (see
    # cli/demo.py), i.e. religion and health, so it is sensitive, and never in the board mirror.
    ("Beneficiary", "category"): "circumstances",
    ("HouseholdMember", "name"): "household",
    ("HouseholdMember", "id_number"): "household",
    ("HouseholdMember", "birth_date"): "household",
    ("VerificationVisit", "findings"): "circumstances",
    ("CriterionAssessment", "note"): "circumstances",
    ("Recommendation", "note"): "circumstances",
    ("Referral", "reason"): "circumstances",
    ("Referral", "answer"): "circumstances",
    ("ServiceRequest", "notes"): "circumstances",
    # A reason ("income above the sufficiency threshold") tells the person's situation; a decision's
    # reason is also written as the note of its status change.
    ("ServiceRequest", "decision_reason"): "circumstances",
    ("RequestTransition", "note"): "circumstances",
    ("MethodWaiver", "reason"): "circumstances",
    ("Document", "original_name"): "documents",
    ("Notification", "recipient"): "contact",
    ("Notification", "body"): "communications",
    ("Interaction", "contact_name"): "name",
    ("Interaction", "contact_phone"): "contact",
    ("Interaction", "text"): "communications",
    ("Interaction", "response"): "communications",
    ("Interaction", "resolution"): "communications",
    ("SatisfactionSurvey", "comment"): "communications",
    ("ProposedChange", "recorded_value"): "identifiers",
    ("ProposedChange", "proposed_value"): "identifiers",
    ("SignIn", "ip"): "sign_ins",
    ("SignIn", "user_agent"): "sign_ins",
}

# Rows whose mere existence is sensitive: (model, flag on the related row that marks it) → category.
ROW_MARKERS: dict[tuple[str, str], str] = {
    ("IntakeAnswer", "question.sensitive"): "sensitive_answers",
    ("ServiceRequest", "service.sensitive"): "religion",
}


def category_of(model_name: str, field: str) -> DataCategory | None:
    """Return the category of a model's field, or None when it holds no personal data."""
    code = PERSONAL_FIELDS.get((model_name, field))
    return CATEGORIES[code] if code else None


def fields_of(model_name: str) -> dict[str, DataCategory]:
    """Return {field: category} for one model."""
    return {f: CATEGORIES[c] for (m, f), c in PERSONAL_FIELDS.items() if m == model_name}


def hidden_fields(model_name: str, role: str | None) -> set[str]:
    """Return the fields of a model the role may not see (on screens, in exports)."""
    return {f for f, category in fields_of(model_name).items() if role not in category.roles}


def sees(role: str | None, category_code: str) -> bool:
    """Return whether the role may see data of this category."""
    return role in CATEGORIES[category_code].roles


def hidden_row_markers(model_name: str, role: str | None) -> set[str]:
    """Return the ROW_MARKERS flags (e.g. "service.sensitive") whose flagged rows of the model the role may not see."""
    return {marker for (m, marker), code in ROW_MARKERS.items() if m == model_name and not sees(role, code)}


# The roles in the order of the role table (services/roles.py ROLES; a test keeps them equal).
TABLE_ROLES = ("admin", "manager", "researcher", "volunteer", "board")


def who_sees_markdown() -> str:
    """Return the table "who sees which personal data" as the README shows it: one row per category.

    Generated from CATEGORIES, so the README cannot drift from what the screens, exports and the
    board mirror enforce; tests/test_sensitive_fields.py checks the README holds this text.
    """
    lines = ["| personal data | " + " | ".join(TABLE_ROLES) + " |",
             "|---|" + "---|" * len(TABLE_ROLES)]
    for category in CATEGORIES.values():
        label = category.label + (" — sensitive" if category.sensitive else "")
        cells = ["✓" if role in category.roles else "–" for role in TABLE_ROLES]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
