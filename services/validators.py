"""Validation of identity numbers, mobiles and emails, shared by forms, imports and the portal."""
import re

import phonenumbers
from phonenumbers.phonenumberutil import _number_type_helper
from stdnum import luhn

from .errors import N_, ValidationError
from .normalize import clean_number, clean_text

# First digit of a Saudi 10-digit ID says who holds it.
_ID_FIRST_DIGIT = {"national_id": "1", "iqama": "2"}
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
_BORDER = re.compile(r"^[34]\d{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_id_number(id_type: str, raw: str | None, field: str = "id_number") -> str:
    """Return the normalised ID number, or raise ValidationError saying what is wrong."""
    number = clean_number(raw).upper()
    if not number:
        raise ValidationError(N_("The ID number is required."), field=field)
    if id_type in _ID_FIRST_DIGIT:
        if not number.isdigit() or len(number) != 10:
            raise ValidationError(N_("A national ID or iqama number has exactly 10 digits."), field=field)
        expected = _ID_FIRST_DIGIT[id_type]
        if number[0] != expected:
            if id_type == "national_id":
                raise ValidationError(N_("A national ID number starts with 1; a number starting with 2 is an iqama."), field=field)
            raise ValidationError(N_("An iqama number starts with 2; a number starting with 1 is a national ID."), field=field)
        if not luhn.is_valid(number):
            raise ValidationError(N_("The ID number's check digit is wrong: please re-read the number from the card."), field=field)
        return number
    if id_type == "passport":
        if not _PASSPORT.match(number):
            raise ValidationError(N_("A passport number has 5 to 20 Latin letters and digits."), field=field)
        return number
    if id_type == "border_number":
        if not _BORDER.match(number):
            raise ValidationError(N_("A border number has 10 digits and starts with 3 or 4."), field=field)
        return number
    raise ValidationError(N_("Unknown ID type."), field="id_type")


def id_type_for_number(raw: str | None) -> str | None:
    """Guess the ID type from a 10-digit number's first digit (1 citizen, 2 resident)."""
    number = clean_number(raw)
    if len(number) == 10 and number.isdigit():
        return {"1": "national_id", "2": "iqama", "3": "border_number", "4": "border_number"}.get(number[0])
    return None


# Mobiles this process normalised lately, and their E.164 forms: checking one again skips the parse
# (an import checks each row's mobile as a cell, then again with the whole record).
_NORMALISED: dict[str, str] = {}
_NORMALISED_MAX = 4096
# The shapes a Saudi mobile is typed in (05…, 5…, 966…, +966…; 00966… once 00 became +): the national
# number is classified with phonenumbers' own tables without parsing the text in general, which is most
# of the time of a 50,000-row import. Same answers as parse() (tests/test_validators.py compares them).
_SAUDI_SHAPE = re.compile(r"(?:\+?966|0)?(5\d{8})")
_SA = phonenumbers.PhoneMetadata.metadata_for_region("SA")


def normalize_mobile(raw: str | None, field: str = "mobile") -> str | None:
    """Return a Saudi mobile in E.164 (+9665XXXXXXXX); None when empty; ValidationError when wrong."""
    text = clean_number(raw)
    if not text:
        return None
    key = text
    known = _NORMALISED.get(key)
    if known is not None:
        return known
    if text.startswith("00"):
        text = "+" + text[2:]
    shape = _SAUDI_SHAPE.fullmatch(text)
    if shape:
        if _number_type_helper(shape.group(1), _SA) != phonenumbers.PhoneNumberType.MOBILE:
            raise ValidationError(N_("This is not a valid Saudi mobile number. Write it like 0501234567."),
                                  field=field)
        e164 = "+966" + shape.group(1)
    else:
        e164 = _parse_mobile(text, field)
    if len(_NORMALISED) >= _NORMALISED_MAX:
        _NORMALISED.clear()
    _NORMALISED[key] = _NORMALISED[e164] = e164
    return e164


def _parse_mobile(text: str, field: str) -> str:
    """Return the E.164 form of any other way of writing a number, if it is a Saudi mobile."""
    try:
        parsed = phonenumbers.parse(text, "SA")
    except phonenumbers.NumberParseException:
        raise ValidationError(N_("This is not a phone number. Write a Saudi mobile like 0501234567."), field=field)
    # number_type is MOBILE only for a valid number (is_valid_number would classify it a second time).
    if parsed.country_code != 966 or phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.MOBILE:
        raise ValidationError(N_("This is not a valid Saudi mobile number. Write it like 0501234567."), field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_mobile(e164: str | None, spaced: bool = True) -> str:
    """Show a stored E.164 Saudi number the national way: '050 123 4567' (spaced=False: '0501234567').

    The one place a phone number is written out (screens, exports, the access file); anything that is not
    a Saudi nine-digit number is shown as stored. Masking is mask_digits' (services.notifications for the
    outbox's recipients); the board's mirror never carries a phone number (models/personal_data.py).
    """
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "SA")
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code != 966 or len(phonenumbers.national_significant_number(number)) != 9:
        return e164
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return national if spaced else national.replace(" ", "")


def mask_digits(value: str | None, keep: int = 4) -> str:
    """Mask all but the last `keep` characters of an ID or phone number."""
    if not value:
        return ""
    return "•" * max(len(value) - keep, 0) + value[-keep:]


def normalize_email(raw: str | None, field: str = "email") -> str | None:
    """Return a trimmed, lower-cased email; None when empty; ValidationError when malformed."""
    text = clean_text(raw).lower()
    if not text:
        return None
    if not _EMAIL.match(text):
        raise ValidationError(N_("This email address is not valid."), field=field)
    return text
