"""The public portal (P2.4, P3 "website"): request a service, track it, write to the association, rate the service.

No login. Its languages are the setting PORTAL_LANGUAGES (the first is the default); a visitor
picks one with ?lang= and the choice is kept in the session. Every form sent and every tracking
look-up is limited per IP address (Flask-Limiter, counted in RATELIMIT_STORAGE_URI).
"""
from babel import Locale
from flask import Blueprint, current_app, render_template, request, session
from flask_wtf.csrf import CSRFError

from web.limits import limiter

bp = Blueprint("portal", __name__, url_prefix="/portal")

# The shared limiter (web/limits.py) is set up with the portal; its storage comes from RATELIMIT_STORAGE_URI.
bp.record_once(lambda state: limiter.init_app(state.app))

# One budget per address for every form sent on the portal, and one for tracking, both read per request
# so the settings (and tests) can change them.
post_limit = limiter.shared_limit(lambda: current_app.config["PORTAL_POST_LIMIT"], scope="portal-post",
                                  methods=["POST"])
track_limit = limiter.limit(lambda: current_app.config["PORTAL_TRACK_LIMIT"], methods=["POST"])


def portal_languages() -> list[str]:
    """Return the portal's language codes from PORTAL_LANGUAGES ("ar,en" or a list), the default first."""
    setting = current_app.config.get("PORTAL_LANGUAGES") or "ar"
    codes = setting.split(",") if isinstance(setting, str) else list(setting)
    return [c.strip() for c in codes if c.strip()] or ["ar"]


def portal_language() -> str:
    """Return the language of this portal page: ?lang=, else the session's portal choice, else the default."""
    languages = portal_languages()
    for code in (request.args.get("lang"), session.get("portal_lang"), session.get("lang")):
        if code in languages:
            return code
    return languages[0]


def language_links() -> list[tuple[str, str]]:
    """Return (code, name of the language in itself) for the switcher."""
    links = []
    for code in portal_languages():
        try:
            name = Locale.parse(code).get_display_name(code)
        except (ValueError, LookupError):
            name = code
        links.append((code, name[:1].upper() + name[1:]))
    return links


def portal_name(row, base: str = "name") -> str:
    """Return a row's name (name_ar / name_en, label_ar / label_en) in the portal's language."""
    arabic, other = getattr(row, f"{base}_ar"), getattr(row, f"{base}_en", None)
    return arabic if portal_language() == "ar" else (other or arabic)


@bp.before_request
def _remember_language():
    lang = request.args.get("lang")
    if lang in portal_languages():
        session["portal_lang"] = lang


@bp.context_processor
def _portal_globals():
    return {"portal_languages": language_links(), "portal_name": portal_name}


@bp.errorhandler(429)
def _too_many(e):
    return render_template("portal/too_many.html"), 429


@bp.errorhandler(CSRFError)
def _form_expired(e):
    return render_template("portal/form_expired.html"), 400


@bp.errorhandler(413)
def _too_large(e):
    return render_template("portal/too_large.html"), 413


from . import views  # noqa: E402,F401  (the routes attach themselves to bp)
