"""Closed vocabularies stored as codes; labels are message ids translated at display time."""


def N_(message: str) -> str:
    """Mark a string for translation without translating it here."""
    return message


ID_TYPES = [
    ("national_id", N_("National ID")),
    ("iqama", N_("Iqama (resident ID)")),
    ("passport", N_("Passport")),
    ("border_number", N_("Border number")),
]

GENDERS = [("male", N_("Male")), ("female", N_("Female"))]

# Policy P3: exactly these six channels.
CHANNELS = [
    ("interview", N_("In-person interview")),
    ("phone", N_("Phone call")),
    ("social_media", N_("Social media")),
    ("letter", N_("Letter")),
    ("volunteer", N_("Volunteer service")),
    ("website", N_("Website")),
]

STATUSES = [
    ("draft", N_("Draft")),
    ("submitted", N_("Submitted")),
    ("awaiting_documents", N_("Awaiting documents")),
    ("under_verification", N_("Under verification")),
    ("under_evaluation", N_("Under evaluation")),
    ("approved", N_("Approved")),
    ("rejected", N_("Rejected")),
    ("delivered", N_("Delivered")),
    ("closed", N_("Closed")),
    ("withdrawn", N_("Withdrawn")),
]

# Policy P6.5: the three verification mechanisms.
VISIT_METHODS = [
    ("document_review", N_("Administrative review")),
    ("interview", N_("Personal interview")),
    ("field_visit", N_("Field visit")),
]

VISIT_OUTCOMES = [
    ("confirmed", N_("Confirmed")),
    ("not_confirmed", N_("Not confirmed")),
    ("more_information", N_("More information needed")),
]

DECISIONS = [("approved", N_("Approved")), ("rejected", N_("Rejected"))]

ATTESTATION_METHODS = [
    ("in_person", N_("In person")),
    ("portal", N_("Portal")),
    ("phone", N_("Phone")),
]

LANGUAGES = [
    ("ar", N_("Arabic")),
    ("en", N_("English")),
    ("ur", N_("Urdu")),
    ("bn", N_("Bengali")),
    ("tl", N_("Tagalog")),
    ("id", N_("Indonesian")),
    ("hi", N_("Hindi")),
    ("fr", N_("French")),
]

ROLES = [
    ("admin", N_("Administrator")),
    ("manager", N_("Manager")),
    ("researcher", N_("Social researcher")),
    ("volunteer", N_("Volunteer")),
    ("board", N_("Board member")),
]


def codes(choices) -> list[str]:
    """Return the stored codes of a choices list."""
    return [code for code, _ in choices]


def label(choices, code):
    """Return the untranslated label of a code, or the code itself."""
    return dict(choices).get(code, code)
