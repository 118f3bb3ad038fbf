"""Unit tests of services.validators: Saudi IDs, passports, border numbers, mobiles, masking."""
import phonenumbers
import pytest
from stdnum import luhn

from services.errors import ValidationError
from services.validators import (
    format_mobile,
    id_type_for_number,
    mask_digits,
    normalize_email,
    normalize_mobile,
    validate_id_number,
)


def valid_id(first: str, body: str = "23456789") -> str:
    """Return a 10-digit ID starting with `first` whose last digit is the Luhn check digit."""
    partial = first + body
    return partial + luhn.calc_check_digit(partial)


def wrong_check_digit(number: str) -> str:
    """Return the number with its check digit replaced by a wrong one."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def arabic_indic(number: str) -> str:
    return number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


# National ID and iqama (P6.2: the official document is checked at intake, P5.2)

@pytest.mark.parametrize("id_type, first", [("national_id", "1"), ("iqama", "2")])
def test_valid_saudi_id_is_accepted(id_type, first):
    """Accept a 10-digit number with the right first digit and Luhn check digit (P5.2)."""
    number = valid_id(first)
    assert validate_id_number(id_type, number) == number


@pytest.mark.parametrize("id_type, first", [("national_id", "1"), ("iqama", "2")])
def test_wrong_check_digit_is_refused(id_type, first):
    """Refuse a mistyped number: the Luhn check over all ten digits fails (P5.2)."""
    with pytest.raises(ValidationError, match="check digit"):
        validate_id_number(id_type, wrong_check_digit(valid_id(first)))


def test_national_id_starting_with_2_is_refused_as_an_iqama():
    with pytest.raises(ValidationError, match="starts with 1") as err:
        validate_id_number("national_id", valid_id("2"))
    assert err.value.field == "id_number"


def test_iqama_starting_with_1_is_refused_as_a_national_id():
    with pytest.raises(ValidationError, match="starts with 2"):
        validate_id_number("iqama", valid_id("1"))


@pytest.mark.parametrize("id_type", ["national_id", "iqama"])
@pytest.mark.parametrize("raw", ["123456789", "12345678901", "12345X7890", "ABCDEFGHIJ"])
def test_saudi_id_must_be_ten_digits(id_type, raw):
    with pytest.raises(ValidationError, match="exactly 10 digits"):
        validate_id_number(id_type, raw)


def test_nine_digit_id_with_valid_luhn_is_still_refused():
    partial = "10000000"
    nine = partial + luhn.calc_check_digit(partial)
    with pytest.raises(ValidationError, match="exactly 10 digits"):
        validate_id_number("national_id", nine)


@pytest.mark.parametrize("id_type, first", [("national_id", "1"), ("iqama", "2")])
def test_arabic_indic_digits_are_accepted_and_stored_as_ascii(id_type, first):
    number = valid_id(first, "98765432")
    assert validate_id_number(id_type, arabic_indic(number)) == number


def test_spaces_in_a_typed_id_are_dropped():
    number = valid_id("1")
    assert validate_id_number("national_id", f" {number[:3]} {number[3:7]} {number[7:]} ") == number


def test_empty_id_is_refused():
    with pytest.raises(ValidationError, match="required"):
        validate_id_number("national_id", "  ")


def test_unknown_id_type_is_refused():
    with pytest.raises(ValidationError) as err:
        validate_id_number("driving_licence", "1234567")
    assert err.value.field == "id_type"


# Passport and border number (residents who hold neither ID nor iqama)

@pytest.mark.parametrize("raw, stored", [("p1234567", "P1234567"), ("AB 123456", "AB123456"), ("12345", "12345")])
def test_passport_is_upper_cased_and_accepted(raw, stored):
    assert validate_id_number("passport", raw) == stored


@pytest.mark.parametrize("raw", ["A12", "P123-ABC*", "جواز12345", "A" * 21])
def test_malformed_passport_is_refused(raw):
    with pytest.raises(ValidationError, match="passport"):
        validate_id_number("passport", raw)


@pytest.mark.parametrize("raw", ["3123456789", "4000000001", "٣١٢٣٤٥٦٧٨٩"])
def test_border_number_with_ten_digits_starting_3_or_4_is_accepted(raw):
    assert validate_id_number("border_number", raw) == raw.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))


@pytest.mark.parametrize("raw", ["1123456789", "312345678", "31234567890", "3A23456789"])
def test_malformed_border_number_is_refused(raw):
    with pytest.raises(ValidationError, match="border number"):
        validate_id_number("border_number", raw)


@pytest.mark.parametrize("raw, expected", [
    ("1000000008", "national_id"), ("2000000006", "iqama"),
    ("3123456789", "border_number"), ("4123456789", "border_number"),
    ("5123456789", None), ("123", None),
])
def test_id_type_is_guessed_from_the_first_digit(raw, expected):
    assert id_type_for_number(raw) == expected


# Mobiles (stored E.164 so one number is one value whatever was typed)

@pytest.mark.parametrize("typed", [
    "0501234567", "501234567", "+966501234567", "00966501234567",
    "050 123 4567", "٠٥٠١٢٣٤٥٦٧", "+966 50 123 4567",
])
def test_saudi_mobile_is_accepted_and_stored_e164(typed):
    assert normalize_mobile(typed) == "+966501234567"


def test_052_prefix_is_not_a_mobile_in_the_installed_metadata():
    """Guard the premise of the next test: libphonenumber has no 052 mobile range."""
    parsed = phonenumbers.parse("0521234567", "SA")
    assert not phonenumbers.is_valid_number(parsed)


def test_unallocated_052_mobile_is_refused():
    with pytest.raises(ValidationError, match="not a valid Saudi mobile"):
        normalize_mobile("0521234567")


@pytest.mark.parametrize("landline", ["0112345678", "0126543210", "+966112345678"])
def test_landline_is_refused(landline):
    """Refuse a landline: notifications go by SMS/WhatsApp to a mobile (P3)."""
    with pytest.raises(ValidationError, match="not a valid Saudi mobile"):
        normalize_mobile(landline)


def test_foreign_mobile_is_refused():
    with pytest.raises(ValidationError, match="not a valid Saudi mobile"):
        normalize_mobile("+201001234567")


@pytest.mark.parametrize("typed", ["abc", "05012"])
def test_garbage_is_refused(typed):
    with pytest.raises(ValidationError):
        normalize_mobile(typed)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_empty_mobile_is_none(blank):
    assert normalize_mobile(blank) is None


def test_stored_mobile_is_shown_in_the_local_format():
    assert format_mobile("+966501234567") == "050 123 4567"


def test_a_stored_mobile_is_written_without_spaces_for_a_spreadsheet():
    assert format_mobile("+966501234567", spaced=False) == "0501234567"


def test_a_number_that_is_not_a_saudi_one_is_shown_as_stored():
    assert format_mobile("+12025550123") == "+12025550123"


def test_format_mobile_of_nothing_is_empty():
    assert format_mobile(None) == ""


def test_mask_digits_shows_only_the_last_four():
    assert mask_digits("1000000008") == "••••••0008"


def test_mask_digits_of_a_short_value_masks_nothing_and_empty_stays_empty():
    assert mask_digits("123") == "123"
    assert mask_digits(None) == ""


def test_email_is_trimmed_and_lower_cased():
    assert normalize_email("  Ali@Example.COM ") == "ali@example.com"


def test_malformed_email_is_refused():
    with pytest.raises(ValidationError, match="email"):
        normalize_email("ali@example")


def test_the_quick_way_for_saudi_mobile_shapes_answers_as_phonenumbers_parse_does():
    """05…, 5…, 966…, +966…, 00966…: read without phonenumbers.parse (imports), with the same answer, valid or not."""
    import random

    from services.validators import _parse_mobile
    rng = random.Random(7)
    for _ in range(20000):
        national = "5" + "".join(rng.choice("0123456789") for _ in range(8))
        typed = rng.choice(["0", "", "966", "+966", "00966"]) + national
        try:
            expected = _parse_mobile("+" + typed[2:] if typed.startswith("00") else typed, "mobile")
        except ValidationError as err:
            expected = err.message
        try:
            assert normalize_mobile(typed) == expected
        except ValidationError as err:
            assert err.message == expected
