"""Beneficiaries and the members of their household (the civil-registry family card, P6.2)."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel
from .choices import GENDERS, ID_TYPES
from .versioned import VersionedModel


class Beneficiary(VersionedModel):
    # BEN-000123: used wherever the person must not be named.
    reference = CharField(max_length=20, unique=True, null=True)
    full_name = CharField(max_length=200)
    latin_name = CharField(max_length=200, null=True)
    # Search key of full_name (services.normalize.name_key); the typed name stays as typed.
    name_key = CharField(max_length=200, index=True, default="")
    id_type = CharField(max_length=20, choices=ID_TYPES)
    id_number = CharField(max_length=30)
    nationality = CharField(max_length=2)
    language = CharField(max_length=5, default="ar")
    gender = CharField(max_length=10, choices=GENDERS, null=True)
    birth_date = DateField(null=True)
    mobile = CharField(max_length=20, null=True, index=True)
    email = CharField(max_length=200, null=True)
    city = CharField(max_length=100, null=True, index=True)
    district = CharField(max_length=100, default="بحرة")
    category = CharField(max_length=100, null=True, index=True)
    family_size = IntegerField(null=True)
    consent_at = DateTimeField(null=True)
    notes = TextField(null=True)
    # When the retention run erased the last of this file's personal data (services.retention); empty: not yet.
    anonymised_at = DateTimeField(null=True, index=True)

    class Meta:
        indexes = ((("id_type", "id_number"), True),)

    def __str__(self):
        return f"{self.reference or ''} {self.full_name}".strip()


class HouseholdMember(BaseModel):
    beneficiary = ForeignKeyField(Beneficiary, backref="household", on_delete="CASCADE")
    name = CharField(max_length=200)
    relation = CharField(max_length=50)
    id_type = CharField(max_length=20, choices=ID_TYPES, null=True)
    id_number = CharField(max_length=30, null=True, index=True)
    birth_date = DateField(null=True)

    def __str__(self):
        return self.name
