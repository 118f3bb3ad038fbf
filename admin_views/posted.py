"""Values posted by the case file's small forms: trimmed text, and a local date and time."""
from flask import request

from services.dates import parse_local
from services.errors import N_, ValidationError


def posted_text(name: str) -> str:
    """Return the posted field, trimmed ("" when missing)."""
    return request.form.get(name, "").strip()


def posted_when(name: str):
    """Return the posted local date and time as UTC, None when empty; refuse any other form."""
    text = posted_text(name)
    if not text:
        return None
    try:
        return parse_local(text)
    except ValueError:
        raise ValidationError(N_("Enter the date and time as YYYY-MM-DD HH:MM."), field=name) from None
