"""What every response and every sign-in go through: security headers, cookies, proxies, login throttling.

Content-Security-Policy (CSP). The browser runs only scripts and styles served by this application:
``script-src 'self'`` and ``style-src 'self'``, no ``'unsafe-inline'``, no ``'unsafe-eval'``, no nonces.
That works because nothing on our pages is inline any more:

- our templates load every script from ``static/js`` and every style from ``static/css`` (the portal's
  and the letter's ``<style>`` blocks became ``css/portal.css`` and ``css/letter.css``; ``style=``
  attributes became classes in ``css/mustafeed.css``; a progress bar's width is set by
  ``js/mustafeed-jobs.js`` from ``data-percent``, through the CSSOM, which CSP allows);
- Flask-Admin 2.2's bootstrap4 templates have no inline ``<script>`` on the screens we use (only its
  map widgets do, which are off), but four of them carry inline event handlers (``onclick=``), which
  no nonce can allow. Our copies in ``templates/admin/`` (``actions.html``, ``model/row_actions.html``,
  ``model/layout.html``, ``model/inline_list_base.html``) replace each with a ``data-`` attribute, and
  ``js/mustafeed-csp.js`` (loaded on every panel page) does what the handler did.
- ``<script type="application/json">`` data blocks are not run, so CSP does not concern them.

Nonces were the alternative; they would only have been needed for inline ``<script>`` blocks, and
they cannot cover event handlers, so they would not have spared the template copies.
``tests/test_security_headers.py`` renders every screen and fails on any inline script, handler or
style, and drives Chromium over several panel pages asserting it reports no CSP violation.

Cookies. The session cookie is HttpOnly and SameSite=Lax always, and Secure when the setting says
HTTPS (FORCE_HTTPS=1 or SESSION_COOKIE_SECURE=1) or when the request itself came over HTTPS (behind
a proxy that terminates TLS: set TRUSTED_PROXIES so X-Forwarded-Proto is believed).

Sessions. Flask keeps the session in the signed cookie itself, so there is no server-side session id
to rotate. ``new_session`` stands in for it at login: everything set before (a planted cookie, its
CSRF token) is dropped, and a random ``_sid`` makes the new cookie unlike any earlier one, so a
cookie fixed on a victim's browser before login is worth nothing after it. Flask-Login's session
protection is "strong": a session cookie replayed from another address or browser is logged out.
The panel never sets a remember-me cookie; its settings are hardened anyway (config.py).

Input. ``CleanRequest`` drops control characters (NUL and the other C0 codes but tab and newlines) from
every form field and query argument before any view reads them, and a URL value preprocessor from the
path's own arguments: PostgreSQL refuses NUL in text and
XLSX (XML) the others, and nobody types them.

Login throttling. Failed sign-ins are counted in Flask-Limiter's storage (web/limits.py, shared with the
portal, ``RATELIMIT_STORAGE_URI``: memory for one process, Redis once several workers run, so every worker
sees the same counts), per username and address (LOGIN_LIMIT_USER_IP, 5 in 15 minutes) and per
address whatever the username (LOGIN_LIMIT_IP, 20 in 15 minutes), in a moving window. Past either,
the password is not even checked: the form says how long to wait (429) and the attempt is audited as
a failed login with reason "throttled". There is deliberately no limit per username alone: anyone
could then lock the first "admin" out from a few addresses. A success clears its own
username-and-address count only, so a valid account cannot be used to reset an address's budget.
"""
import hashlib
import logging
import math
import re
import secrets
import time
from urllib.parse import urlsplit

from flask import (
    Flask,
    Request,
    abort,
    current_app,
    has_app_context,
    has_request_context,
    render_template,
    request,
    session,
)
from flask.sessions import SecureCookieSessionInterface
from limits import parse
from limits.storage import MovingWindowSupport
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property

from models import User
from services import audit
from services.ids import MAX_ID
from services.normalize import clean_text, strip_invisible

from .limits import limiter

log = logging.getLogger(__name__)

# Only this application's own files; data: images for Bootstrap's inline SVG icons (select arrows).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# Sent only over HTTPS (a browser ignores it over HTTP anyway): one year.
HSTS = "max-age=31536000"
# Session keys kept across login: the chosen languages only.
_KEPT_AT_LOGIN = ("lang", "portal_lang")


# C0 control characters other than tab, line feed and carriage return, and DEL: nobody types them,
# PostgreSQL refuses NUL in text, and XML (so XLSX exports and the board mirror) refuses the others.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_control_characters(text: str) -> str:
    """Return the text without C0 controls, zero-width spaces, BOMs and bidi overrides (tab, newlines, RLM stay)."""
    return strip_invisible(CONTROL_CHARACTERS.sub("", text))


# What a browser ignores inside a URL (ASCII tabs and newlines) and the rest of C0, DEL and spaces: none belongs
# in a path this application made, and left in, "/\t/evil.example" reads as "//evil.example".
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")


def safe_next(target: str | None) -> str | None:
    """Return a path on this site to go back to, or None when the target could lead anywhere else.

    Only a path is accepted: it starts with one "/", and neither a second "/" nor a backslash (which
    browsers read as "/") follows; no scheme (https:, javascript:), no host.
    """
    if not target or _URL_NOISE.search(target):
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target.rstrip("?")


# The longest query string accepted (bytes): twice what gunicorn lets through in a whole request line.
MAX_QUERY_STRING = 8192

# Endpoints whose body may exceed MAX_CONTENT_LENGTH, and the setting that bounds it instead. The CSRF check
# reads the body before any view runs, so the limit is chosen from the URL alone, before anything is read.
BODY_LIMITS = {"imports.upload": "IMPORT_MAX_BYTES"}
# Room around the file in a multipart body: boundaries, the part headers, the CSRF token.
FORM_ROOM = 64 * 1024


class CleanRequest(Request):
    """A request whose form fields and query arguments carry no control or invisible characters.

    One place for every way text comes in over HTTP (the panel's forms, the portal, the login, views
    reading request.form directly), so none reaches a service, the database or an export. Uploaded
    files are left as they are: their content is checked by type, not read as text.
    """

    @staticmethod
    def _clean(values):
        return ImmutableMultiDict([(strip_control_characters(key), strip_control_characters(value))
                                   for key, value in values.items(multi=True)])

    def _load_form_data(self) -> None:
        loaded = "form" in self.__dict__
        super()._load_form_data()
        if not loaded:
            self.__dict__["form"] = self._clean(self.__dict__["form"])

    @cached_property
    def args(self):
        return self._clean(super().args)

    @property
    def max_content_length(self) -> int | None:
        """Return the largest body this request may have: its endpoint's own limit (BODY_LIMITS), else the app's."""
        if self._max_content_length is None and self.url_rule is not None and has_app_context():
            setting = BODY_LIMITS.get(self.url_rule.endpoint)
            if setting:
                return int(current_app.config[setting]) + FORM_ROOM
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Return the setting, or True for a request served over HTTPS."""
        return bool(super().get_cookie_secure(app) or (has_request_context() and request.is_secure))


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in a URL: a number a row id can be (up to services.ids.MAX_ID); a larger one is a 404.

    Werkzeug's own converter takes any number of digits, and a 20-digit id then reached the database
    (SQLite: OverflowError, a 500) from every URL with an id in it (issue 15).
    """

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Install the headers, the cookie policy, the proxy fix, strong session protection and bounded URL ids."""
    app.session_interface = HttpsAwareSessionInterface()
    app.request_class = CleanRequest
    # Before any blueprint registers its rules: every <int:id> of the application is bounded.
    app.url_map.converters["int"] = RowIdConverter

    @app.url_value_preprocessor
    def _clean_path_arguments(endpoint, values):
        # The path's own text (a survey token, a language code) is input like a query argument (CleanRequest).
        for name, value in (values or {}).items():
            if isinstance(value, str):
                values[name] = strip_control_characters(value)

    @app.before_request
    def _query_string_not_too_long():
        # gunicorn refuses a request line past 4 KB before the application sees it; any other server gets
        # the same answer here, before a 100,000-character search is echoed into every link of a page.
        if len(request.query_string) > MAX_QUERY_STRING:
            abort(414)

    @app.errorhandler(414)
    def _uri_too_long(e):
        return render_template("errors/414.html"), 414
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Believe X-Forwarded-For/-Proto/-Host from that many proxies in front: the real client address
        # (throttling, audit) and scheme (Secure cookies). Without a proxy they would be forgeable.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    if getattr(app, "login_manager", None) is not None:
        app.login_manager.session_protection = "strong"

    @app.after_request
    def _security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def new_session() -> None:
    """Start a fresh session at login: drop everything set before it, keep only the language choice.

    Call it before ``login_user``. See the module docstring for why this replaces a session id.
    """
    kept = {key: session[key] for key in _KEPT_AT_LOGIN if key in session}
    session.clear()
    session.update(kept)
    session["_sid"] = secrets.token_urlsafe(16)


def end_session() -> None:
    """Forget everything at logout except the language choice."""
    kept = {key: session[key] for key in _KEPT_AT_LOGIN if key in session}
    session.clear()
    session.update(kept)


# --- Ending sessions ---------------------------------------------------------------------------------
# The cookie is the session, so a copy of it works as long as it is signed. Each user has a session version
# (models/user.py); the session keeps the version it was made at, and every request compares the two.
# Logout, a password change, deactivation and an admin's "End all sessions" move the version on
# (services/users.py), so every session made before (copied, stolen, or open in another browser) ends.
SESSION_VERSION = "_session_version"


def bind_session(user) -> None:
    """Mark this session as made at the user's current session version (at sign-in, after a password change)."""
    session[SESSION_VERSION] = user.session_version


def session_user(user_id) -> User | None:
    """Return the session's user, or None when the account is deactivated or its sessions were ended since."""
    try:
        pk = int(user_id)
    except (TypeError, ValueError):
        return None
    user = User.get_or_none((User.id == pk) & (User.active == True))  # noqa: E712
    if user is None or session.get(SESSION_VERSION) != user.session_version:
        return None
    return user


# --- Login throttling -------------------------------------------------------------------------------

def _strategy():
    """Return a moving-window counter over the shared limiter's storage (the same Redis when shared)."""
    if not limiter.enabled:
        return None
    storage = limiter.storage
    if isinstance(storage, MovingWindowSupport):
        return MovingWindowRateLimiter(storage)
    return FixedWindowRateLimiter(storage)


def _username_key(username: str | None) -> str:
    # Hashed: a hostile 100 kB "username" must not become a 100 kB storage key.
    return hashlib.sha256(clean_text(username or "").lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _limits(username: str | None, ip: str | None) -> list:
    config = current_app.config
    address = ip or "unknown"
    return [(parse(config["LOGIN_LIMIT_USER_IP"]), ("login-user-ip", _username_key(username), address)),
            (parse(config["LOGIN_LIMIT_IP"]), ("login-ip", address))]


def login_wait_seconds(username: str | None, ip: str | None) -> int:
    """Return how many seconds this username from this address must wait before trying again (0: go ahead)."""
    try:
        strategy = _strategy()
        if strategy is None:
            return 0
        wait = 0.0
        for item, keys in _limits(username, ip):
            if not strategy.test(item, *keys):
                reset_at = strategy.get_window_stats(item, *keys).reset_time
                wait = max(wait, reset_at - time.time(), 1)
        return math.ceil(wait)
    except Exception:  # noqa: BLE001 — a storage outage must not lock every member of staff out
        log.exception("login throttle storage unavailable; not throttling")
        return 0


def count_login_failure(username: str | None, ip: str | None) -> None:
    """Count one failed sign-in against the username-and-address and the address budgets."""
    try:
        strategy = _strategy()
        if strategy is not None:
            for item, keys in _limits(username, ip):
                strategy.hit(item, *keys)
    except Exception:  # noqa: BLE001
        log.exception("login throttle storage unavailable; failure not counted")


def clear_login_failures(username: str | None, ip: str | None) -> None:
    """Forget the failures of this username from this address after it signed in (not the address's)."""
    try:
        strategy = _strategy()
        if strategy is not None:
            item, keys = _limits(username, ip)[0]
            strategy.clear(item, *keys)
    except Exception:  # noqa: BLE001
        log.exception("login throttle storage unavailable; failures not cleared")


def audit_throttled_login(username: str | None, ip: str | None) -> None:
    """Audit a refused sign-in attempt that was not even checked because of the throttle."""
    name = clean_text(username or "").lower()
    audit.record("login_failed", model="User", details={"username": name[:200], "reason": "throttled"},
                 actor=name[:80] or None, ip=ip)
