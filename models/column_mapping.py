"""Column mappings remembered for the next file with the same header row."""
from peewee import CharField, TextField

from .base import BaseModel


class ColumnMapping(BaseModel):
    # sha256 of the normalised header row (services.imports.header_hash).
    header_hash = CharField(max_length=64, unique=True)
    kind = CharField(max_length=20)               # beneficiaries, requests
    headers = TextField()                         # JSON list, as typed in the file
    mapping = TextField()                         # JSON list: a field name per column, "" = ignored
