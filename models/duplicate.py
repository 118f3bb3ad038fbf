"""Possible duplicate beneficiaries, the reviewer's verdicts, and mobiles shared on purpose (policy P6.6)."""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from .base import BaseModel
from .beneficiary import Beneficiary
from .choices import N_
from .user import User

# Why two registrations may be one person. The same ID number is refused at registration,
# so it never becomes a candidate.
DUPLICATE_REASONS = [
    ("household_id", N_("One is a household member of the other")),
    ("mobile", N_("Same mobile")),
    ("name_birth", N_("Same name and birth date")),
]

CANDIDATE_STATUSES = [("open", N_("To review")), ("dismissed", N_("Not a duplicate"))]


class DuplicateCandidate(BaseModel):
    """A pair of beneficiaries that may be one person, stored once: beneficiary_a has the lower id.

    Kept as rows (filled when a beneficiary is saved) rather than computed per page view, so
    the review list and the home-page count are one indexed query on `status` however many
    beneficiaries there are. A dismissed pair stays, so it is never proposed again.
    """

    beneficiary_a = ForeignKeyField(Beneficiary, backref="+", on_delete="CASCADE")
    beneficiary_b = ForeignKeyField(Beneficiary, backref="+", on_delete="CASCADE")
    # Comma-separated codes of DUPLICATE_REASONS, in that order.
    reason_codes = CharField(max_length=100)
    status = CharField(max_length=10, choices=CANDIDATE_STATUSES, default="open", index=True)
    reviewed_by = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    reviewed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("beneficiary_a", "beneficiary_b"), True),)

    @property
    def reasons(self) -> list[str]:
        return [code for code in self.reason_codes.split(",") if code]

    def __str__(self):
        return f"{self.beneficiary_a_id}–{self.beneficiary_b_id}"


class SharedMobile(BaseModel):
    """A mobile that several beneficiaries use (expatriate workers often share one): it pairs nobody."""

    mobile = CharField(max_length=20, unique=True)
    note = TextField(null=True)

    def __str__(self):
        return self.mobile
