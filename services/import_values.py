"""Reading the cells of hand-typed spreadsheets: column names, dates (Hijri or Gregorian), codes and nationalities.

Every parser takes what a cell held (text, number, date) and returns the stored value, None for
an empty cell, or raises ValidationError saying what is wrong, like the forms' validators do.
"""
import datetime
import re
from functools import lru_cache

from babel import Locale

from models.choices import CHANNELS, GENDERS, ID_TYPES, LANGUAGES, STATUSES

from .dates import hijri_to_gregorian, to_hijri, today_local
from .errors import N_, ValidationError
from .normalize import clean_text, name_key, to_ascii_digits

# ---- columns -------------------------------------------------------------------------------------
# Field → the headers volunteers write for it (Arabic and English, common variants).
BENEFICIARY_COLUMNS = {
    "full_name": ["الاسم", "اسم المستفيد", "الاسم الكامل", "الاسم الرباعي", "الاسم الثلاثي", "اسم", "المستفيد",
                  "الاسم بالعربي", "الاسم بالعربية", "Name", "Full name", "Beneficiary", "Beneficiary name",
                  "Arabic name", "Name in Arabic"],
    "latin_name": ["الاسم بالإنجليزي", "الاسم بالانجليزية", "الاسم الإنجليزي", "الاسم انجليزي", "الاسم اللاتيني",
                   "English name", "Latin name", "Name in English", "Name (English)"],
    "id_type": ["نوع الهوية", "نوع الإثبات", "نوع الاثبات", "نوع الوثيقة", "ID type", "Document type"],
    "id_number": ["رقم الهوية", "الهوية", "السجل المدني", "رقم السجل المدني", "رقم السجل", "رقم الإقامة", "الإقامة",
                  "رقم الهوية الوطنية", "الهوية الوطنية", "رقم الهوية/الإقامة", "رقم الهوية أو الإقامة", "رقم الإثبات",
                  "رقم الجواز", "رقم الحدود", "ID", "ID number", "ID No", "National ID", "National ID number",
                  "National ID No", "Iqama", "Iqama number", "Iqama No", "Civil ID", "Passport"],
    "nationality": ["الجنسية", "Nationality", "Country", "Citizenship"],
    "gender": ["الجنس", "النوع", "Gender", "Sex"],
    "birth_date": ["تاريخ الميلاد", "الميلاد", "Birth date", "Date of birth", "DOB", "Birthdate", "Born"],
    "mobile": ["الجوال", "رقم الجوال", "جوال", "الهاتف", "رقم الهاتف", "الجوال/الهاتف", "رقم التواصل", "التواصل",
               "Mobile", "Mobile number", "Mobile No", "Phone", "Phone number", "Phone No", "Tel", "Cell"],
    "email": ["البريد الإلكتروني", "البريد", "الإيميل", "الايميل", "Email", "E-mail", "Mail", "Email address",
              "E-mail address"],
    "city": ["المدينة", "City", "Town"],
    "district": ["الحي", "المحافظة", "المنطقة", "District", "Area"],
    "category": ["الفئة", "التصنيف", "Category", "Group"],
    "family_size": ["عدد أفراد الأسرة", "عدد افراد الاسرة", "عدد الأفراد", "حجم الأسرة", "أفراد الأسرة",
                    "Family size", "Household size", "Family members", "Number of family members",
                    "No of family members"],
    "language": ["اللغة", "لغة التواصل", "Language"],
    "notes": ["ملاحظات", "الملاحظات", "Notes", "Remarks", "Comments"],
}
REQUEST_COLUMNS = {
    "id_number": BENEFICIARY_COLUMNS["id_number"] + ["هوية المستفيد", "Beneficiary ID"],
    "id_type": BENEFICIARY_COLUMNS["id_type"],
    "service": ["الخدمة", "نوع الخدمة", "اسم الخدمة", "الخدمة المطلوبة", "Service", "Service name"],
    "channel": ["القناة", "قناة التواصل", "قناة الطلب", "طريقة التقديم", "Channel"],
    "status": ["الحالة", "حالة الطلب", "Status", "Request status"],
    "submitted_at": ["تاريخ الطلب", "تاريخ التقديم", "تاريخ التسجيل", "Request date", "Submitted", "Submitted on",
                     "Date"],
    "decision": ["القرار", "Decision"],
    "decided_at": ["تاريخ القرار", "Decision date", "Decided on"],
    "decision_reason": ["سبب القرار", "سبب الرفض", "Reason", "Decision reason"],
    "legacy_number": ["رقم الطلب", "Request number", "Request No", "Number"],
    "notes": BENEFICIARY_COLUMNS["notes"],
}
COLUMNS = {"beneficiaries": BENEFICIARY_COLUMNS, "requests": REQUEST_COLUMNS}
# A sheet cannot be imported without these columns.
REQUIRED = {"beneficiaries": ("full_name", "id_number"), "requests": ("id_number", "service")}

# Field labels shown on the mapping screen and in the rejected-rows file.
FIELD_LABELS = {
    "full_name": N_("Name"), "latin_name": N_("Latin name"), "id_type": N_("ID type"),
    "id_number": N_("ID number"), "nationality": N_("Nationality"), "gender": N_("Gender"),
    "birth_date": N_("Birth date"), "mobile": N_("Mobile"), "email": N_("Email"), "city": N_("City"),
    "district": N_("District"), "category": N_("Category"), "family_size": N_("Family size"),
    "language": N_("Language"), "notes": N_("Notes"), "service": N_("Service"), "channel": N_("Channel"),
    "status": N_("Status"), "submitted_at": N_("Submitted at"), "decision": N_("Decision"),
    "decided_at": N_("Decided at"), "decision_reason": N_("Decision reason"),
    "legacy_number": N_("Request number"),
}

_NOT_WORD = re.compile(r"[^\w]+")
# What people add to a column name: a qualifier in brackets, a second name after a slash or a dash.
_BRACKETED = re.compile(r"[(\[{（«]([^)\]}）»]*)[)\]}）»]")
_SEPARATOR = re.compile(r"\s*[/\\|،؛;]\s*|\s+[-–—]\s+")
# Words naming a calendar, in a qualifier or at the end of a column name: «تاريخ الميلاد (هجري)», «DOB (H)».
CALENDAR_WORDS = {
    "hijri": ("هجري", "هجرية", "بالهجري", "هـ", "ه", "أم القرى", "Hijri", "Hijrah", "Hijra", "AH", "H",
              "Umm al-Qura"),
    "gregorian": ("ميلادي", "ميلادية", "بالميلادي", "م", "Gregorian", "Greg", "AD", "CE", "G"),
}
# Whose the value is, said in the name: «جوال المستفيد», «Beneficiary mobile».
_OWNER = re.compile(r"(مستفيده|مستفيد)$|^(beneficiarys|beneficiary)(?=.)")


def header_key(text) -> str:
    """Return the comparison key of a header: name_key without punctuation, spaces or a leading ال per word."""
    words = [w for w in _NOT_WORD.split(name_key(clean_text(text)).replace("_", " ")) if w]
    return "".join(w[2:] if w.startswith("ال") and len(w) > 3 else w for w in words)


@lru_cache(maxsize=1)
def _calendar_keys() -> dict[str, str]:
    return {header_key(word): calendar for calendar, words in CALENDAR_WORDS.items() for word in words}


def _calendar_word(text) -> str | None:
    return _calendar_keys().get(header_key(text))


def header_parts(header) -> tuple[list[str], list[str], str | None]:
    """Return a header's names (keys, one per part between slashes), its bracketed qualifiers, and the calendar named.

    «تاريخ الميلاد (هجري)» → (["تاريخميلاد"], [], "hijri"); «الجوال/الهاتف» → (["جوال", "هاتف"], [], None).
    """
    text = clean_text(header)
    qualifiers = _BRACKETED.findall(text)
    pieces = [p for p in _SEPARATOR.split(_BRACKETED.sub(" ", text)) if header_key(p)]
    parts, extra, calendar = [], [], None
    for piece in pieces:
        named = _calendar_word(piece)
        if named and len(pieces) + len(qualifiers) > 1:
            calendar = named
            continue
        words = piece.split()
        if len(words) > 1 and _calendar_word(words[-1]):
            calendar, piece = _calendar_word(words[-1]), " ".join(words[:-1])
        parts.append(header_key(piece))
    for qualifier in qualifiers:
        named = next((c for c in map(_calendar_word, [qualifier] + qualifier.split()) if c), None)
        if named:
            calendar = named
        elif header_key(qualifier):
            extra.append(header_key(qualifier))
    return parts, extra, calendar


def calendar_of(header) -> str | None:
    """Return "hijri" or "gregorian" when a column's name says which calendar its dates are in."""
    return header_parts(header)[2] if clean_text(header) else None


@lru_cache(maxsize=2)
def _alias_index(kind: str) -> dict[str, str]:
    return {header_key(alias): field for field, aliases in COLUMNS[kind].items() for alias in aliases + [field]}


def _field_of(index: dict, key: str) -> str | None:
    """Return the field a key names, also without a trailing number («الجوال 2») or whose it is («جوال المستفيد»)."""
    for candidate in (key, re.sub(r"\d+$", "", key), _OWNER.sub("", key), _OWNER.sub("", re.sub(r"\d+$", "", key))):
        if candidate in index:
            return index[candidate]
    return None


def _only(fields) -> str | None:
    named = {f for f in fields if f}
    return named.pop() if len(named) == 1 else None


def match_column(kind: str, header) -> str | None:
    """Return the field a header names for this kind of sheet, or None (also when its parts name different fields)."""
    if not clean_text(header):
        return None
    index = _alias_index(kind)
    found = index.get(header_key(header))
    if found:
        return found
    parts, qualifiers, _calendar = header_parts(header)
    return (_field_of(index, "".join(parts)) or _only(_field_of(index, p) for p in parts)
            or (None if any(_field_of(index, p) for p in parts) else _only(_field_of(index, q) for q in qualifiers)))


def guess_kind(headers) -> str:
    """Return "requests" when the headers name a service column, else "beneficiaries"."""
    return "requests" if any(match_column("requests", h) == "service" for h in headers) else "beneficiaries"


def auto_mapping(kind: str, headers) -> list[str]:
    """Return a field per column ("" for none), each field used once (the first column naming it wins)."""
    used, mapping = set(), []
    for header in headers:
        field = match_column(kind, header)
        if field and field not in used:
            used.add(field)
            mapping.append(field)
        else:
            mapping.append("")
    return mapping


# ---- cells ----------------------------------------------------------------------------------------
def cell_text(value) -> str:
    """Return a cell as trimmed text with ASCII digits; whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return to_ascii_digits(clean_text(value))


def _lookup(table: dict, value, message: str, field: str):
    text = cell_text(value)
    if not text:
        return None
    found = table.get(name_key(text))
    if found is None:
        raise ValidationError(message, field=field)
    return found


def _table(choices, *extra_pairs) -> dict:
    table = {}
    for code, label in choices:
        table[name_key(code)] = code
        table[name_key(code.replace("_", " "))] = code
        table[name_key(label)] = code
    for text, code in extra_pairs:
        table[name_key(text)] = code
    return table


_GENDERS = _table(GENDERS, ("ذكر", "male"), ("أنثى", "female"), ("انثى", "female"), ("رجل", "male"),
                  ("امرأة", "female"), ("m", "male"), ("f", "female"))
_ID_TYPES = _table(ID_TYPES, ("هوية وطنية", "national_id"), ("هوية", "national_id"), ("سجل مدني", "national_id"),
                   ("مواطن", "national_id"), ("national", "national_id"), ("إقامة", "iqama"), ("اقامة", "iqama"),
                   ("مقيم", "iqama"), ("resident", "iqama"), ("جواز", "passport"), ("جواز سفر", "passport"),
                   ("رقم حدود", "border_number"), ("حدود", "border_number"), ("border", "border_number"))
_CHANNELS = _table(CHANNELS, ("مقابلة", "interview"), ("المقابلة", "interview"), ("حضوري", "interview"),
                   ("هاتف", "phone"), ("اتصال", "phone"), ("الاتصالات الهاتفية", "phone"),
                   ("وسائل التواصل الاجتماعي", "social_media"), ("واتساب", "social_media"),
                   ("whatsapp", "social_media"), ("خطاب", "letter"), ("الخطابات", "letter"),
                   ("خدمة التطوع", "volunteer"), ("متطوع", "volunteer"), ("الموقع", "website"),
                   ("الموقع الإلكتروني", "website"), ("خدمة الموقع الإلكتروني", "website"))
_STATUSES = _table(STATUSES, ("مسودة", "draft"), ("مقدم", "submitted"), ("جديد", "submitted"),
                   ("بانتظار المستندات", "awaiting_documents"), ("قيد التحقق", "under_verification"),
                   ("قيد الدراسة", "under_evaluation"), ("قيد التقييم", "under_evaluation"),
                   ("مقبول", "approved"), ("موافق", "approved"), ("مرفوض", "rejected"), ("تم التسليم", "delivered"),
                   ("مسلم", "delivered"), ("تم الصرف", "delivered"), ("مغلق", "closed"), ("منتهي", "closed"),
                   ("ملغي", "withdrawn"), ("منسحب", "withdrawn"), ("مسحوب", "withdrawn"))
_DECISIONS = _table([("approved", "Approved"), ("rejected", "Rejected")], ("مقبول", "approved"),
                    ("موافقة", "approved"), ("قبول", "approved"), ("مرفوض", "rejected"), ("رفض", "rejected"))
_LANGUAGES = _table(LANGUAGES, ("عربي", "ar"), ("العربية", "ar"), ("إنجليزي", "en"), ("انجليزي", "en"),
                    ("أردو", "ur"), ("اردو", "ur"), ("بنغالي", "bn"), ("تاغالوغ", "tl"), ("فلبيني", "tl"),
                    ("إندونيسي", "id"), ("هندي", "hi"), ("فرنسي", "fr"))


def parse_gender(value):
    """Return male/female from ذكر، أنثى، Male, F …"""
    return _lookup(_GENDERS, value, N_("Write the gender as ذكر or أنثى (male or female)."), "gender")


def parse_id_type(value):
    """Return the ID type code from هوية وطنية، إقامة، جواز سفر، Passport …"""
    return _lookup(_ID_TYPES, value, N_("Unknown ID type: write national ID, iqama, passport or border number."),
                   "id_type")


def parse_channel(value):
    """Return one of the policy's six channel codes (P3)."""
    return _lookup(_CHANNELS, value, N_("Unknown channel: use one of the six channels of the policy."), "channel")


def parse_status(value):
    """Return a request status code from its Arabic or English name."""
    return _lookup(_STATUSES, value, N_("Unknown request status."), "status")


def parse_decision(value):
    """Return approved/rejected from مقبول، مرفوض, Approved …"""
    return _lookup(_DECISIONS, value, N_("Write the decision as approved or rejected."), "decision")


def parse_language(value):
    """Return a language code from its code or name."""
    return _lookup(_LANGUAGES, value, N_("Unknown language."), "language")


def parse_int(value, field: str):
    """Return a whole number, or raise ValidationError."""
    text = cell_text(value)
    if not text:
        return None
    if not text.isdigit():
        raise ValidationError(N_("Write a whole number."), field=field)
    return int(text)


# ---- dates -----------------------------------------------------------------------------------------
_EXCEL_EPOCH = datetime.date(1899, 12, 30)
_DATE_SUFFIX = re.compile(r"\s*(هـ|ه|م|AH|CE|H|G)\.?$", re.IGNORECASE)
_SUFFIX_CALENDAR = {"هـ": "hijri", "ه": "hijri", "ah": "hijri", "h": "hijri", "م": "gregorian", "ce": "gregorian",
                    "g": "gregorian"}
_THREE_PARTS = re.compile(r"^(\d{1,4})[/\-.](\d{1,2})[/\-.](\d{1,4})$")


def _is_hijri_year(year: int) -> bool:
    return 1300 <= year <= 1500


def _build(year: int, month: int, day: int, field: str) -> datetime.date:
    try:
        if _is_hijri_year(year):
            day_ = hijri_to_gregorian(year, month, day)
            # hijridate's Gregorian is a date subclass the database drivers do not know.
            return datetime.date(day_.year, day_.month, day_.day)
        return datetime.date(year, month, day)
    except (ValueError, OverflowError):
        raise ValidationError(N_("This date does not exist."), field=field)


def parse_date(value, field: str = "birth_date", calendar: str | None = None) -> datetime.date | None:
    """Return a Gregorian date from a date cell, an Excel serial, ISO, day/month/year or a Hijri date.

    A year between 1300 and 1500 is Hijri (Umm al-Qura): 1446/03/15 and 15/03/1446 both work.
    Slashed dates are read day/month/year, as Saudi spreadsheets write them. A two-digit year is
    read only when the column's name or the cell (هـ, م) says the calendar: 15/03/46 in a Hijri
    column is 1446, the latest such year not after this one.
    """
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _compact(int(value), field) if value >= 10_000_000 else _serial(value, field)
    text = cell_text(value)
    if re.match(r"^\d{4}-\d{2}-\d{2}[ T]\d", text):
        text = text[:10]  # a date with a time of day: the day is what is kept
    suffix = _DATE_SUFFIX.search(text)
    if suffix:
        calendar = _SUFFIX_CALENDAR[suffix.group(1).lower()]
        text = text[:suffix.start()].strip()
    if not text:
        return None
    if re.fullmatch(r"\d{8}", text):
        return _compact(int(text), field)
    if re.fullmatch(r"\d{4,5}(\.\d+)?", text) and not _is_hijri_year(int(float(text))):
        return _serial(float(text), field)
    match = _THREE_PARTS.match(text)
    if not match:
        raise ValidationError(N_("Unreadable date: write it as 15/03/1446 or 2024-09-18."), field=field)
    a, b, c = (int(part) for part in match.groups())
    if len(match.group(1)) == 4:
        return _build(a, b, c, field)           # year first: 2024-09-18, 1446/03/15
    if len(match.group(3)) == 4:
        return _build(c, b, a, field)           # day/month/year: 18/09/2024, 15/03/1446
    if len(match.group(3)) == 2 and calendar:
        return _build(_full_year(c, calendar), b, a, field)
    raise ValidationError(N_("Write the year with four digits."), field=field)


def _full_year(two_digits: int, calendar: str) -> int:
    """Return the latest year ending in these two digits that is not after this year, in that calendar."""
    today = today_local()
    current = to_hijri(today).year if calendar == "hijri" else today.year
    year = current // 100 * 100 + two_digits
    return year if year <= current else year - 100


def _compact(number: int, field: str) -> datetime.date:
    # 14050302 or 19850315: year, month and day without separators, as some systems export them.
    year = number // 10_000
    if not (_is_hijri_year(year) or 1900 <= year <= 2100):
        raise ValidationError(N_("Unreadable date: write it as 15/03/1446 or 2024-09-18."), field=field)
    return _build(year, number // 100 % 100, number % 100, field)


def _serial(number: float, field: str) -> datetime.date:
    # Excel's day numbers; 1 to 80,000 covers 1900 to 2119.
    if not 1 <= number < 80000:
        raise ValidationError(N_("Unreadable date: write it as 15/03/1446 or 2024-09-18."), field=field)
    return _EXCEL_EPOCH + datetime.timedelta(days=int(number))


# ---- nationalities ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def cldr_names() -> dict[str, str]:
    """Return {name key: ISO code} for every country name in Arabic and English (Babel's CLDR data)."""
    names = {}
    for lang in ("en", "ar"):
        for code, name in Locale.parse(lang).territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(name_key(name), code)
    return names


def nationality_lookup(demonyms: dict[str, str]):
    """Return a function reading a nationality cell with the given {key: code} demonym table and CLDR names."""
    cldr = cldr_names()
    iso = set(cldr.values())

    def find(key: str):
        return demonyms.get(key) or cldr.get(key)

    def parse(value):
        text = cell_text(value)
        if not text:
            return None
        if len(text) == 2 and text.upper() in iso:
            return text.upper()
        key = name_key(text)
        candidates = [key]
        # Feminine سعودية → سعودي; with or without the article (اليمن / يمن).
        if key.endswith("يه"):
            candidates.append(key[:-1])
        candidates += [c[2:] for c in list(candidates) if c.startswith("ال")] + ["ال" + c for c in candidates]
        for candidate in candidates:
            code = find(candidate)
            if code:
                return code
        raise ValidationError(N_("Unknown nationality: add this name under Settings → Nationality names."),
                              field="nationality")

    return parse

