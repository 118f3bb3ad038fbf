"""Unit tests of services.normalize: digits, spaces, Arabic name keys and search terms."""
import decimal

import pytest

from services.normalize import clean_number, clean_text, name_key, parse_decimal, search_terms, to_ascii_digits


def test_arabic_indic_digits_become_ascii():
    """Convert Arabic-Indic digits (U+0660…) to ASCII, as typed on an Arabic keyboard (P5.2)."""
    assert to_ascii_digits("٠١٢٣٤٥٦٧٨٩") == "0123456789"


def test_eastern_arabic_indic_digits_become_ascii():
    """Convert Eastern Arabic-Indic (Persian/Urdu) digits (U+06F0…) to ASCII."""
    assert to_ascii_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789"


def test_mixed_digits_and_letters_keep_the_letters():
    assert to_ascii_digits("رقم ١٢3۴") == "رقم 1234"


def test_clean_text_trims_and_folds_spaces():
    assert clean_text("  أحمد \t  محمد\n ") == "أحمد محمد"


def test_clean_text_of_none_is_empty():
    assert clean_text(None) == ""


@pytest.mark.parametrize(("typed", "number"), [
    ("١٬٥٠٠٫٥", "1500.5"),   # Arabic digits, Arabic thousands separator and decimal point
    ("1٬500٫5", "1500.5"),
    ("١٥٠٠٫٥", "1500.5"),
    ("1,500.5", "1500.5"),   # Latin separators
    ("1,500", "1500"),
    (" ۲۵ ", "25"),           # Persian digits, spaces around
])
def test_a_decimal_is_read_with_any_digits_and_separators(typed, number):
    assert parse_decimal(typed) == decimal.Decimal(number)


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_an_empty_decimal_is_none(blank):
    assert parse_decimal(blank) is None


@pytest.mark.parametrize("typed", ["كثير", "12abc", "1..5", "NaN", "Infinity", "-inf"])
def test_text_that_is_not_a_number_is_refused(typed):
    with pytest.raises(ValueError):
        parse_decimal(typed)


def test_clean_number_drops_spaces_dashes_and_direction_marks():
    assert clean_number(" ٠٥٠-١٢٣ 4567\u200f") == "0501234567"


@pytest.mark.parametrize("a, b", [
    ("أحمد", "احمد"),
    ("إحمد", "احمد"),
    ("آمنة", "امنه"),
    ("فاطمه", "فاطمة"),
    ("عبد الله", "عبدالله"),
    ("عبد   الرحمن", "عبدالرحمن"),
    ("مُحَمَّد", "محمد"),
    ("محـــمد", "محمد"),
    ("مصطفى", "مصطفي"),
    ("  أحمد   محمد ", "احمد محمد"),
    ("MARIA Santos", "maria santos"),
])
def test_name_key_treats_spelling_variants_as_one_name(a, b):
    """Fold hamza, taa marbuta, alif maqsura, harakat, tatweel and the space in عبد ال… (P6.6 duplicates)."""
    assert name_key(a) == name_key(b)


def test_name_key_keeps_different_names_apart():
    assert name_key("محمد") != name_key("أحمد")


def test_name_key_does_not_join_abd_to_a_following_word_without_al():
    """Join عبد only before ال, so a name like "عبد ربه" keeps its space."""
    assert name_key("عبد ربه") == "عبد ربه"


@pytest.mark.parametrize("typed", [
    "050 123 4567",
    "0501234567",
    "+966501234567",
    "00966501234567",
    "966501234567",
    "٠٥٠١٢٣٤٥٦٧",
    "۰۵۰ ۱۲۳ ۴۵۶۷",
    "050-123-4567",
])
def test_search_terms_reduce_a_typed_mobile_to_one_national_term(typed):
    """Find a mobile however it is typed: one term, the 9 digits stored after +966."""
    assert search_terms(typed) == ["501234567"]


def test_search_terms_keep_an_id_number_whole():
    assert search_terms("١٠٠٠٠٠٠٠٠٨") == ["1000000008"]


def test_search_terms_split_a_name_into_normalised_words():
    assert search_terms("  أحمد   عبد الله ") == ["احمد", "عبدالله"]


def test_search_terms_of_blank_input_are_empty():
    assert search_terms("   ") == []
    assert search_terms(None) == []


# Issue 15 item 5: format characters nobody sees. Zero-width space, BOM, LRM/RLM, bidi embeddings, overrides
# and isolates defeat a comparison; ZWNJ and ZWJ are part of Urdu, Persian, Bengali and Malayalam spelling.
FORMAT_CHARACTERS = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d",
                     "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff"]
REMOVED_FROM_STORED_TEXT = ["\u200b", "\ufeff", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
                            "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("ch", FORMAT_CHARACTERS)
def test_name_key_ignores_every_format_character(ch):
    assert name_key(f"{ch}أح{ch}مد محمد{ch}") == name_key("أحمد محمد")


@pytest.mark.parametrize("ch", FORMAT_CHARACTERS)
def test_search_terms_ignore_every_format_character(ch):
    assert search_terms(f"أح{ch}مد") == search_terms("أحمد")
    assert search_terms(f"050{ch}1234567") == ["501234567"]


@pytest.mark.parametrize("ch", FORMAT_CHARACTERS)
def test_clean_number_removes_every_format_character(ch):
    assert clean_number(f"{ch}1000{ch}000{ch}008") == "1000000008"


@pytest.mark.parametrize("ch", FORMAT_CHARACTERS)
def test_id_and_mobile_with_a_format_character_are_the_plain_ones(ch):
    from services.validators import normalize_mobile, validate_id_number
    assert validate_id_number("national_id", f"10000{ch}00008") == "1000000008"
    assert normalize_mobile(f"050{ch}1234567") == normalize_mobile("0501234567")


@pytest.mark.parametrize("ch", REMOVED_FROM_STORED_TEXT)
def test_stored_text_loses_zero_width_space_bom_and_bidi_controls(ch):
    assert clean_text(f"{ch}سارة{ch} علي") == "سارة علي"


def test_stored_text_keeps_zwnj_zwj_and_direction_marks():
    """Persian نمی‌خواهم and Malayalam chillu need U+200C / U+200D; RLM/LRM place punctuation in mixed text."""
    for text in ("نمی\u200cخواهم", "ന\u200dല", "أحمد\u200f (Ahmad)", "Ali\u200e"):
        assert clean_text(text) == text
