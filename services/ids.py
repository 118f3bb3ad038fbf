"""Row ids typed or tampered with in URLs and forms: a whole number a database key can hold, or nothing."""
import re

# Ids are SERIAL (32-bit) on PostgreSQL; SQLite's are 64-bit, but no row of ours gets past this. A larger
# number sent to the database is an error on either (SQLite: OverflowError past 64 bits), never a miss.
MAX_ID = 2 ** 31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_id(value) -> int | None:
    """Return a row id (1 … MAX_ID) from text or a number, or None when it cannot name a row."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def parse_ids(values) -> list[int]:
    """Return the row ids among several values (a form's ticked rows), dropping those that cannot name a row."""
    return [number for number in (parse_id(v) for v in values or ()) if number is not None]
