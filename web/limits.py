"""The rate limiter every screen counts in: the portal's per-address budgets and the sign-in throttle.

One Flask-Limiter object for the process. Its storage comes from RATELIMIT_STORAGE_URI (memory for one
process, Redis once several workers run); it is initialised when the portal's blueprint is registered.
"""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# No default limits: only the routes that ask for one are limited.
limiter = Limiter(key_func=get_remote_address)
