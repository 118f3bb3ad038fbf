"""List filters: options read per request, and dates counted in Riyadh days."""
import datetime
from functools import wraps

from flask import has_request_context
from flask_admin.contrib.peewee.filters import DateBetweenFilter

from services.dates import utc_midnight


def live_options(fn):
    """Wrap a filter-options query so it runs only inside a request (not at start-up)."""
    @wraps(fn)
    def options():
        return fn() if has_request_context() else []
    return options


class RiyadhDayBetweenFilter(DateBetweenFilter):
    """Select stored UTC times falling between two Riyadh days, both days included.

    Flask-Admin's DateBetweenFilter compares the stored UTC time with midnight UTC of the two
    dates: the last day is left out (SQLite compares "2025-05-31 10:00" > "2025-05-31") and a
    request made after 21:00 UTC lands on the wrong day. The annual statistics count Riyadh
    days, and their cells link to lists filtered with this class, so the two reconcile.
    """

    def apply(self, query, value):
        first, last = value
        return query.where((self.column >= utc_midnight(first)) &
                           (self.column < utc_midnight(last + datetime.timedelta(days=1))))
