"""One normaliser for every validator and search: digits, spaces and Arabic name keys."""
import re
import unicodedata

# Arabic-Indic (U+0660…) and Eastern Arabic-Indic / Persian (U+06F0…) digits to ASCII.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Letter folds for the search key: hamza forms to bare alif, taa marbuta to haa,
# alif maqsura to yaa, and the hamza carriers on waw and yaa to their bare letters.
_LETTERS = str.maketrans({
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ء": "ا",
    "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي",
})
_TATWEEL = "\u0640"
_SPACES = re.compile(r"\s+")
# "عبد الله", "عبد الرحمن": the space after عبد is written both ways.
_ABD = re.compile(r"\bعبد\s+(?=ال)")


def to_ascii_digits(text: str) -> str:
    """Return text with Arabic-Indic and Eastern Arabic-Indic digits as ASCII digits."""
    return text.translate(_DIGITS)


def clean_text(text: str | None) -> str:
    """Trim and fold runs of whitespace into one space; None becomes ''."""
    if text is None:
        return ""
    return _SPACES.sub(" ", str(text)).strip()


def clean_number(text: str | None) -> str:
    """Return a typed number with ASCII digits and no spaces, dashes or dots."""
    return re.sub(r"[\s\-.\u200f\u200e]", "", to_ascii_digits(clean_text(text)))


def name_key(name: str | None) -> str:
    """Return the search key of a name: no diacritics or tatweel, letters folded, spaces folded."""
    text = unicodedata.normalize("NFKC", clean_text(name))
    # Harakat and other combining marks (fatha, damma, shadda, sukun …).
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text).replace(_TATWEEL, "")
    text = text.translate(_LETTERS)
    text = _ABD.sub("عبد", text)
    return to_ascii_digits(text).casefold()


def search_terms(raw: str | None) -> list[str]:
    """Split a search box entry into terms, each normalised like the stored keys."""
    text = clean_text(to_ascii_digits(raw or ""))
    if not text:
        return []
    compact = re.sub(r"[\s\-+]", "", text)
    if compact.isdigit():
        # A number typed with spaces ("050 123 4567") is one term; a mobile's leading
        # 0, 966 or 00966 is dropped so it matches the stored E.164 form.
        return [re.sub(r"^(00966|966|0)(?=5\d{8}$)", "", compact)]
    return [t for t in name_key(text).split(" ") if t]
