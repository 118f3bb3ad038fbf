"""One normaliser for every validator and search: digits, numbers, spaces and Arabic name keys."""
import decimal
import re
import unicodedata

from babel.numbers import NumberFormatError
from babel.numbers import parse_decimal as _babel_decimal

# Arabic-Indic (U+0660…) and Eastern Arabic-Indic / Persian (U+06F0…) digits to ASCII.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Letter folds for the search key: hamza forms to bare alif, taa marbuta to haa,
# alif maqsura to yaa, and the hamza carriers on waw and yaa to their bare letters.
_LETTERS = str.maketrans({
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ء": "ا",
    "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي",
})
_TATWEEL = "\u0640"
# Format characters nobody sees (issue 15): zero-width space, ZWNJ, ZWJ, LRM, RLM, the bidi embeddings and
# overrides, the isolates and the BOM. A name or number with one inside looks the same and compares different,
# so keys, searches and numbers drop them all.
_FORMAT = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# What stored text drops: the zero-width space, the BOM and the bidi overrides and isolates (which can make
# "gnp.exe" read "exe.png"). ZWNJ and ZWJ stay (Urdu, Persian, Bengali, Malayalam spell with them), as do LRM
# and RLM (they place punctuation in mixed Arabic and Latin text).
_INVISIBLE = re.compile("[\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
# "عبد الله", "عبد الرحمن": the space after عبد is written both ways.
_ABD = re.compile(r"\bعبد\s+(?=ال)")


def to_ascii_digits(text: str) -> str:
    """Return text with Arabic-Indic and Eastern Arabic-Indic digits as ASCII digits."""
    return text.translate(_DIGITS)


def without_format_characters(text: str) -> str:
    """Return text without any zero-width or bidi control character (for keys, searches and numbers)."""
    return _FORMAT.sub("", text)


def strip_invisible(text: str) -> str:
    """Return text to store without zero-width spaces, BOMs and bidi overrides or isolates (ZWNJ, ZWJ, LRM, RLM stay)."""
    return _INVISIBLE.sub("", text)


def clean_text(text: str | None) -> str:
    """Trim and fold runs of whitespace into one space, dropping invisible characters; None becomes ''."""
    if text is None:
        return ""
    return _SPACES.sub(" ", strip_invisible(str(text))).strip()


def clean_long_text(text: str | None) -> str:
    """Trim a free text, keeping its line breaks but not runs of blank lines."""
    lines = [clean_text(line) for line in str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# How a typed number is read once its digits are ASCII: Arabic separators first (١٬٥٠٠٫٥ → 1٬500٫5), then
# Latin ones (1,500.5). A group separator is dropped wherever it stands, as a person types it.
_NUMBER_FORMATS = (("ar", "arab"), ("en", "latn"))


def parse_decimal(text) -> decimal.Decimal | None:
    """Return a number typed with any digits and Arabic or Latin separators; None when empty; ValueError if not one."""
    text = clean_text(to_ascii_digits(str(text))) if text is not None else ""
    if not text:
        return None
    for locale, numbering_system in _NUMBER_FORMATS:
        try:
            number = _babel_decimal(text, locale, numbering_system=numbering_system)
        except NumberFormatError:
            continue
        # "NaN" and "Infinity" parse as Decimals, but no amount or answer the association keeps is either.
        if not number.is_finite():
            break
        return number
    raise ValueError(f"not a number: {text!r}")


def clean_number(text: str | None) -> str:
    """Return a typed number with ASCII digits and no spaces, dashes, dots or format characters."""
    return re.sub(r"[\s\-.]", "", without_format_characters(to_ascii_digits(clean_text(text))))


def name_key(name: str | None) -> str:
    """Return the search key of a name: no diacritics or tatweel, letters folded, spaces folded."""
    text = unicodedata.normalize("NFKC", clean_text(without_format_characters(name or "")))
    # Harakat and other combining marks (fatha, damma, shadda, sukun …).
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text).replace(_TATWEEL, "")
    text = text.translate(_LETTERS)
    text = _ABD.sub("عبد", text)
    return to_ascii_digits(text).casefold()


# Nobody types more into a search box; a longer entry (a tampered URL) would only make patterns the database
# refuses (SQLite: "LIKE or GLOB pattern too complex" past 50,000 bytes).
SEARCH_MAX_LENGTH = 200
SEARCH_MAX_TERMS = 10


def search_terms(raw: str | None) -> list[str]:
    """Split a search box entry into terms, each normalised like the stored keys (the first 200 characters)."""
    text = clean_text(without_format_characters(to_ascii_digits((raw or "")[:SEARCH_MAX_LENGTH])))
    if not text:
        return []
    compact = re.sub(r"[\s\-+]", "", text)
    if compact.isdigit():
        # A number typed with spaces ("050 123 4567") is one term; a mobile's leading
        # 0, 966 or 00966 is dropped so it matches the stored E.164 form.
        return [re.sub(r"^(00966|966|0)(?=5\d{8}$)", "", compact)]
    return [t for t in name_key(text).split(" ") if t][:SEARCH_MAX_TERMS]
