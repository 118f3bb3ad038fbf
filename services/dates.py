"""Times are stored in UTC; they are shown, and counted in days, in Asia/Riyadh with Hijri beside."""
import datetime

from hijridate import Gregorian, Hijri

# The stored-to-local conversion lives with the models (a stale-record message names the time); used from here.
from models.base import RIYADH, to_local


def today_local() -> datetime.date:
    """Return today's date in Riyadh."""
    return datetime.datetime.now(RIYADH).date()


def utc_midnight(day: datetime.date) -> datetime.datetime:
    """Return Riyadh midnight at the start of a day as a naive UTC datetime (how times are stored)."""
    local = datetime.datetime.combine(day, datetime.time(), tzinfo=RIYADH)
    return local.astimezone(datetime.UTC).replace(tzinfo=None)


def to_hijri(day: datetime.date) -> Hijri | None:
    """Return the Umm al-Qura date, or None outside the calendar's range."""
    try:
        return Gregorian(day.year, day.month, day.day).to_hijri()
    except (ValueError, OverflowError):
        return None


def hijri_to_gregorian(year: int, month: int, day: int) -> datetime.date:
    """Convert an Umm al-Qura date to Gregorian; ValueError when it does not exist."""
    return Hijri(year, month, day).to_gregorian()


def format_dual(value, lang: str = "ar", with_time: bool = False) -> str:
    """Format a date or stored datetime as '12/09/1447 هـ — 01/03/2026 م' (Hijri first)."""
    if value is None:
        return ""
    time_part = ""
    if isinstance(value, datetime.datetime):
        local = to_local(value)
        day = local.date()
        if with_time:
            time_part = " " + local.strftime("%H:%M")
    else:
        day = value
    greg = day.strftime("%d/%m/%Y")
    hijri = to_hijri(day)
    ah, ce = ("هـ", "م") if lang == "ar" else ("AH", "CE")
    if hijri is None:
        return f"{greg} {ce}{time_part}"
    return f"{hijri.day:02d}/{hijri.month:02d}/{hijri.year} {ah} — {greg} {ce}{time_part}"


def parse_local(text: str) -> datetime.datetime:
    """Parse a Riyadh date and time typed as 'YYYY-MM-DD HH:MM' (any digits) into naive UTC; ValueError if bad."""
    from .normalize import to_ascii_digits
    value = datetime.datetime.fromisoformat(to_ascii_digits(text or "").strip().replace("T", " "))
    if value.tzinfo is None:
        value = value.replace(tzinfo=RIYADH)
    return value.astimezone(datetime.UTC).replace(tzinfo=None)
