"""Template filters and globals: dual dates, mobiles, translated choice labels."""
import functools
import re

from flask import Flask
from flask_babel import get_locale, gettext
from markupsafe import Markup, escape

from services.dates import format_dual
from services.validators import format_mobile

# Hebrew, Arabic, Syriac, Thaana, N'Ko and the Arabic presentation forms.
_RTL_LETTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def current_lang() -> str:
    """Return the active language code ('ar' or 'en')."""
    locale = get_locale()
    return locale.language if locale else "ar"


def text_direction() -> str:
    """Return 'rtl' for right-to-left languages, else 'ltr'."""
    return "rtl" if current_lang() in ("ar", "ur", "fa", "he") else "ltr"


def dual_date(value, with_time: bool = False) -> str:
    """Format a date or datetime as Hijri and Gregorian in the active language."""
    return format_dual(value, current_lang(), with_time=with_time)


def bdi(value) -> Markup:
    """Isolate numbers, dates and IDs inside RTL text so they keep their order."""
    if value is None or value == "":
        return Markup("")
    text = str(value)
    if _RTL_LETTER.search(text):
        return Markup("<bdi>%s</bdi>") % escape(text)
    # Digits and spaces have no direction of their own: in an RTL page "050 123 4567" would
    # come out as "4567 123 050" unless the isolate is told it runs left to right.
    return Markup('<bdi dir="ltr">%s</bdi>') % escape(text)


def join_terms(terms) -> str:
    """Translate several message ids (services.errors.Terms: roles, methods) and join them."""
    return gettext(", ").join(gettext(term) for term in terms or ())


def translated(value) -> str:
    """Return a domain error or a case-file step (anything with translate(gettext)) in the viewer's language."""
    return value.translate(gettext)


def local_input(value) -> str:
    """Return a stored UTC time as a datetime-local input's value in Riyadh time (empty for none)."""
    from services.dates import to_local
    return to_local(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def choice_label(choices, code) -> str:
    """Return the translated label of a stored code."""
    if code is None:
        return ""
    return gettext(dict(choices).get(code, code))


@functools.cache
def _named_choices() -> dict:
    """Return every closed vocabulary by name, for templates ({{ code|choice('STATUSES') }})."""
    import models.choices as vocabularies
    from models import notification
    from models.evaluation import RECOMMENDATIONS
    from models.referral import REFERRAL_STATUSES
    named = {name: value for name, value in vars(vocabularies).items() if name.isupper() and isinstance(value, list)}
    named.update({name: value for name, value in vars(notification).items()
                  if name.isupper() and isinstance(value, list)})
    named.update(RECOMMENDATIONS=RECOMMENDATIONS, REFERRAL_STATUSES=REFERRAL_STATUSES)
    return named


def choice(code, name: str) -> str:
    """Return the translated label of a code from the named vocabulary."""
    return choice_label(_named_choices()[name], code)


def choices(name: str) -> list[tuple[str, str]]:
    """Return the named vocabulary as (code, translated label) pairs."""
    return [(code, gettext(label)) for code, label in _named_choices()[name]]


def sees_field(model_name: str, field: str) -> bool:
    """Return whether the logged-in user's role may see a personal field (models/personal_data.py)."""
    from flask_login import current_user

    from models.personal_data import hidden_fields
    role = current_user.role if current_user.is_authenticated else None
    return field not in hidden_fields(model_name, role)


def register(app: Flask) -> None:
    """Register the filters and globals with Jinja."""
    app.jinja_env.filters["dual_date"] = dual_date
    app.jinja_env.filters["mobile"] = format_mobile
    app.jinja_env.filters["bdi"] = bdi
    app.jinja_env.filters["choice"] = choice
    app.jinja_env.filters["join_terms"] = join_terms
    app.jinja_env.filters["translated"] = translated
    app.jinja_env.filters["local_input"] = local_input
    app.jinja_env.globals["choices"] = choices
    app.jinja_env.globals["current_lang"] = current_lang
    app.jinja_env.globals["text_direction"] = text_direction
    app.jinja_env.globals["sees_field"] = sees_field
