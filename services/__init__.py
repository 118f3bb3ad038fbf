"""The association's policy as plain functions: no Flask imports, domain errors only.

The services that receive signals are imported here, so their receivers are connected whatever module a
caller imports first (services/signals.py).
"""
from . import notifications, surveys  # noqa: F401  (connect their receivers)
