"""Column formatters of the lists: translated choice labels, dual dates, codes isolated for RTL, plain for exports."""
from markupsafe import Markup

from web.filters import bdi, choice_label, dual_date


def plain_text(formatter):
    """Return a list formatter as plain text (an export's cell): the same value without its HTML wrappers."""
    def plain(view, context, model, name):
        value = formatter(view, context, model, name)
        return value.striptags() if isinstance(value, Markup) else value
    return plain


def choice_formatter(choices):
    """Return a list formatter showing a code's translated label."""
    return lambda view, context, model, name: choice_label(choices, getattr(model, name))


def date_formatter(view, context, model, name):
    """Show a date or datetime as Hijri and Gregorian, isolated for RTL."""
    value = getattr(model, name)
    return bdi(dual_date(value, with_time=hasattr(value, "hour"))) if value else ""


def bdi_formatter(view, context, model, name):
    """Show a number or code isolated so RTL text does not reorder it."""
    return bdi(getattr(model, name))
