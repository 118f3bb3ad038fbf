"""Nationality choices from Babel's CLDR territory names, in a given language (the screens pass their own)."""
from functools import lru_cache

from babel import Locale

# Countries whose nationals the association most often serves come first in the list.
COMMON = ("SA", "YE", "EG", "PK", "IN", "BD", "ID", "PH", "SD", "ET", "NG", "SY", "JO", "AF", "MM", "LK", "NP")


@lru_cache(maxsize=8)
def country_choices(lang: str) -> list[tuple[str, str]]:
    """Return (ISO code, localised name) pairs: common ones first, then the rest by name."""
    names = Locale.parse(lang).territories
    codes = [c for c in names if len(c) == 2 and c.isalpha() and c not in ("ZZ", "EU", "EZ", "UN", "QO", "XA", "XB")]
    common = [(c, names[c]) for c in COMMON if c in names]
    rest = sorted(((c, names[c]) for c in codes if c not in COMMON), key=lambda p: p[1])
    return common + rest


def country_name(code: str | None, lang: str) -> str:
    """Return the localised name of an ISO country code."""
    if not code:
        return ""
    return Locale.parse(lang).territories.get(code, code)
