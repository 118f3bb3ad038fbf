"""Registering and updating beneficiaries: validation, search keys, references, duplicates."""
from models import Beneficiary, HouseholdMember, db

from .errors import N_, ValidationError
from .normalize import clean_text, name_key
from .validators import normalize_email, normalize_mobile, validate_id_number


class DuplicateBeneficiary(ValidationError):
    """The ID number already belongs to a registered beneficiary."""

    def __init__(self, existing: Beneficiary):
        super().__init__(N_("This ID number is already registered for beneficiary %(reference)s."),
                         field="id_number", reference=existing.reference)
        self.existing = existing


class AnonymisedFile(ValidationError):
    """The file was anonymised by the retention run: what is left is statistics, not a person to edit."""

    def __init__(self):
        super().__init__(N_("This file was anonymised at the end of its retention period; it can no longer be changed."))


def normalize_beneficiary(b: Beneficiary, check_unique: bool = True) -> Beneficiary:
    """Validate and normalise a beneficiary's fields in place; raise ValidationError on bad input.

    check_unique=False leaves the ID number's uniqueness to the caller: the import looks up a whole
    chunk of rows in one query instead of one query per row.
    """
    # Every path that changes a person (edit form, correction, accepted portal change, import) comes
    # through here, so an anonymised file cannot be refilled with personal data by any of them.
    if b.anonymised_at is not None:
        raise AnonymisedFile()
    b.full_name = clean_text(b.full_name)
    if not b.full_name:
        raise ValidationError(N_("The name is required."), field="full_name")
    b.latin_name = clean_text(b.latin_name) or None
    b.name_key = name_key(b.full_name)
    if not b.id_type:
        raise ValidationError(N_("The ID type is required."), field="id_type")
    b.id_number = validate_id_number(b.id_type, b.id_number)
    if not clean_text(b.nationality):
        raise ValidationError(N_("The nationality is required."), field="nationality")
    b.nationality = clean_text(b.nationality).upper()
    if b.id_type == "national_id" and b.nationality != "SA":
        raise ValidationError(N_("A national ID belongs to a Saudi citizen: set the nationality to Saudi Arabia or choose iqama."), field="nationality")
    b.mobile = normalize_mobile(b.mobile)
    b.email = normalize_email(b.email)
    for attr in ("city", "district", "category", "notes"):
        setattr(b, attr, clean_text(getattr(b, attr)) or None)
    b.district = b.district or "بحرة"
    if b.family_size is not None and not (1 <= int(b.family_size) <= 60):
        raise ValidationError(N_("The family size must be between 1 and 60."), field="family_size")
    if not check_unique:
        return b
    existing = (Beneficiary.select().where((Beneficiary.id_type == b.id_type) &
                                           (Beneficiary.id_number == b.id_number)))
    if b.id is not None:
        existing = existing.where(Beneficiary.id != b.id)
    existing = existing.first()
    if existing is not None:
        raise DuplicateBeneficiary(existing)
    return b


def normalize_member(m: HouseholdMember) -> HouseholdMember:
    """Validate a household member; the ID, when given, follows the same rules as the beneficiary's."""
    m.name = clean_text(m.name)
    if not m.name:
        raise ValidationError(N_("A household member needs a name."), field="name")
    m.relation = clean_text(m.relation)
    if m.id_number:
        if not m.id_type:
            raise ValidationError(N_("Choose the ID type of the household member's ID number."), field="id_type")
        m.id_number = validate_id_number(m.id_type, m.id_number)
    else:
        m.id_number = None
    return m


def assign_reference(b: Beneficiary) -> None:
    """Give a saved beneficiary its reference BEN-000123 (from its row id)."""
    if not b.reference:
        b.reference = f"BEN-{b.id:06d}"
        Beneficiary.update(reference=b.reference).where(Beneficiary.id == b.id).execute()


def register(b: Beneficiary) -> Beneficiary:
    """Validate, save and give a reference to a new beneficiary in one transaction."""
    normalize_beneficiary(b)
    with db.atomic():
        b.save(force_insert=True)
        assign_reference(b)
    return b
