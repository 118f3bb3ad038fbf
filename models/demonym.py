"""Names of nationalities as people write them (سعودي، باكستانية، Filipino …), mapped to ISO codes."""
from peewee import CharField

from .base import BaseModel


class Demonym(BaseModel):
    """One written form of a nationality; CLDR country names are matched without a row here."""

    text = CharField(max_length=100)
    # services.normalize.name_key of text: how a cell is looked up.
    key = CharField(max_length=100, unique=True)
    country = CharField(max_length=2, index=True)

    def __str__(self):
        return f"{self.text} → {self.country}"
