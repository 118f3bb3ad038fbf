"""Applying a data-correction request to a beneficiary's file (PDPL right of correction).

A person asks, on any channel, that wrong data be corrected: staff record it as an interaction of the
kind `data_correction`. Whoever answers and closes interactions (capability `interactions.handle`:
admin, manager and a researcher within their scope, each of whom also edits beneficiaries) opens it,
chooses the fields and writes the correct values. In one transaction the file is updated through the
same validation as the beneficiary form (so a wrong ID check digit is refused with the form's message
and nothing changes), the audit trail keeps each old and new value, the interaction records what was
corrected and is closed, and the person is told through the outbox in their language (the consent
rules of the outbox apply as to every message).
"""
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from models import Beneficiary, HouseholdMember, Interaction, InteractionKind, User, db

from . import audit, duplicates, interactions, notifications
from .beneficiaries import normalize_beneficiary, normalize_member
from .dates import today_local
from .errors import N_, PermissionDenied, TransitionRefused, ValidationError
from .import_values import parse_date
from .roles import can
from .validators import id_type_for_number

# The interaction kind (seeded by migration 0010) whose requests apply corrections.
KIND_CODE = "data_correction"
CAPABILITY = "interactions.handle"

# What a correction may change: identifying and contact data the person can prove or knows best. Other
# fields (category, family size, notes) are the association's assessment, not the person's data to set.
BENEFICIARY_FIELDS = {
    "full_name": N_("Full name"),
    "latin_name": N_("Name in Latin letters"),
    "id_number": N_("ID number"),
    "birth_date": N_("Birth date"),
    "mobile": N_("Mobile"),
    "email": N_("Email"),
    "city": N_("City"),
}
MEMBER_FIELDS = {"name": N_("Name"), "id_number": N_("ID number"), "birth_date": N_("Birth date")}
MEMBER_LABEL = N_("Household member %(name)s: %(field)s")
_DATES = {"birth_date"}


@dataclass
class Correctable:
    """One field a correction may change: its form key, label (message id and parameters) and current value."""

    key: str
    label: str
    current: object
    params: dict = dataclass_field(default_factory=dict)

    def describe(self, gettext) -> str:
        """Return the label in a language, given that language's gettext."""
        params = {name: gettext(value) if name == "field" else value for name, value in self.params.items()}
        return gettext(self.label) % params if params else gettext(self.label)


def correctable(beneficiary: Beneficiary) -> list[Correctable]:
    """Return the fields of the beneficiary's file a correction may change, with their current values."""
    fields = [Correctable(name, label, getattr(beneficiary, name)) for name, label in BENEFICIARY_FIELDS.items()]
    for member in beneficiary.household.order_by(HouseholdMember.id):
        fields += [Correctable(f"member:{member.id}:{name}", MEMBER_LABEL, getattr(member, name),
                               {"name": member.name, "field": label})
                   for name, label in MEMBER_FIELDS.items()]
    return fields


def _check(interaction: Interaction, actor: User) -> None:
    if not (can(actor.role, CAPABILITY) and can(actor.role, "beneficiaries.edit")):
        raise PermissionDenied(N_("Your role cannot apply corrections to a beneficiary's file."))
    # The scope of interactions.close: a researcher handles what is theirs or nobody's.
    if actor.role == "researcher" and interaction.handled_by_id not in (None, actor.id):
        raise PermissionDenied(N_("This interaction is assigned to someone else."))
    if interaction.kind.code != KIND_CODE:
        raise TransitionRefused(N_("Only a data-correction request changes the file this way."))
    if interaction.status == "closed":
        raise TransitionRefused(N_("The interaction is closed."))
    if interaction.beneficiary_id is None:
        raise ValidationError(N_("Link the interaction to the beneficiary's file before applying a correction."))


def _value(name: str, text: str | None, key: str):
    """Return a typed value as the field holds it: a date for dates, else the text (validated later)."""
    text = (text or "").strip()
    if name in _DATES:
        day = parse_date(text, field=key) if text else None
        if day is not None and day > today_local():
            raise ValidationError(N_("The birth date is in the future."), field=key)
        return day
    return text or None


def _parse(beneficiary: Beneficiary, corrections: dict[str, str]):
    """Apply the typed values to the beneficiary and members in memory (validated); return the members changed."""
    members: dict[int, HouseholdMember] = {}
    for key, text in corrections.items():
        if key in BENEFICIARY_FIELDS:
            setattr(beneficiary, key, _value(key, text, key))
            continue
        parts = key.split(":")
        if len(parts) != 3 or parts[0] != "member" or parts[2] not in MEMBER_FIELDS or not parts[1].isdigit():
            raise ValidationError(N_("This data cannot be corrected here: choose one of the listed fields."),
                                  field=key)
        member_id, name = int(parts[1]), parts[2]
        if member_id not in members:
            member = HouseholdMember.get_or_none((HouseholdMember.id == member_id)
                                                 & (HouseholdMember.beneficiary == beneficiary.id))
            if member is None:
                raise ValidationError(N_("This household member is not in the beneficiary's file."), field=key)
            members[member_id] = member
        member = members[member_id]
        value = _value(name, text, key)
        if name == "id_number" and value and not member.id_type:
            member.id_type = id_type_for_number(value)
        setattr(member, name, value)
    normalize_beneficiary(beneficiary)
    for member in members.values():
        normalize_member(member)
    return list(members.values())


def apply(interaction: Interaction, corrections: dict[str, str], actor: User, response: str | None = None,
          category: str | None = None) -> Interaction:
    """Correct the beneficiary's file as the interaction asks, close it and notify the person, in one transaction.

    corrections maps a field key of correctable() to the value typed. A value the beneficiary form
    would refuse is refused here with the same message, and nothing is written.
    """
    _check(interaction, actor)
    corrections = {key: value for key, value in (corrections or {}).items() if key}
    if not corrections:
        raise ValidationError(N_("Choose the data to correct and write the correct value."), field="field")
    beneficiary = Beneficiary.get_by_id(interaction.beneficiary_id)
    before = audit.snapshot(beneficiary)
    member_rows = {m.id: audit.snapshot(m) for m in beneficiary.household}
    members = _parse(beneficiary, corrections)
    changes = audit.diff(before, audit.snapshot(beneficiary))
    member_changes = {m.id: audit.diff(member_rows[m.id], audit.snapshot(m)) for m in members}
    corrected = {key: change for key, change in changes.items() if key in BENEFICIARY_FIELDS}
    for member in members:
        corrected.update({f"member:{member.id}:{name}": change
                          for name, change in member_changes[member.id].items() if name in MEMBER_FIELDS})
    if not corrected:
        raise ValidationError(N_("The file already holds these values: nothing to correct."), field="value")
    labels = {f.key: f for f in correctable(beneficiary)}
    with db.atomic():
        if changes:
            beneficiary.save()
            audit.record("update", beneficiary, changes=changes, actor=actor.username,
                         details={"correction": interaction.id})
        for member in members:
            if member_changes[member.id]:
                member.save()
                audit.record("update", member, changes=member_changes[member.id], actor=actor.username,
                             details={"correction": interaction.id})
        # A corrected ID, mobile, name or birth date may match (or stop matching) someone else.
        duplicates.refresh(beneficiary)
        resolution = _summary(labels, corrected, interaction.language)
        interactions.close(interaction, actor, response=response or resolution, resolution=resolution,
                           category=category)
        audit.record("correct", interaction, changes=corrected, actor=actor.username,
                     details={"beneficiary": beneficiary.id})
        template = notifications.template_for("correction", beneficiary.language)
        notifications.notify(beneficiary, "correction", actor=actor, interaction_number=interaction.number,
                             corrected=_names(labels, corrected, template.language))
    return interaction


def _names(labels: dict[str, Correctable], corrected: dict, lang: str) -> str:
    gettext = notifications.catalogue(lang).gettext
    return ("، " if lang == "ar" else ", ").join(labels[key].describe(gettext) for key in corrected)


def _summary(labels: dict[str, Correctable], corrected: dict, lang: str) -> str:
    """Return what was corrected, by field name, in the interaction's language (the values are in the audit log)."""
    text = notifications.catalogue(lang).gettext(N_("Corrected in the file: %(fields)s."))
    return text % {"fields": _names(labels, corrected, lang)}


def open_requests(limit: int = 100) -> list[Interaction]:
    """Return the open data-correction requests, oldest due first."""
    return list(Interaction.select(Interaction, InteractionKind).join(InteractionKind)
                .where((InteractionKind.code == KIND_CODE) & (Interaction.status != "closed"))
                .order_by(Interaction.due_date, Interaction.id).limit(limit))
