"""Configuration read from the environment; no secrets in code."""
import os
import secrets
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY from the environment, else a key kept in instance/secret_key."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # O_EXCL: of several workers starting at once, one writes the key and the others read it; two
        # keys would make each process refuse the others' sessions.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    for _ in range(50):  # a process that lost the race may read before the winner has written
        key = key_file.read_text().strip()
        if key:
            return key
        time.sleep(0.1)
    raise RuntimeError(f"{key_file} is empty: delete it and start again")


def load_config(instance_path: Path) -> dict:
    """Build the settings mapping from environment variables with safe defaults."""
    default_db = f"sqlite:///{instance_path / 'mustafeed.db'}"
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL", default_db),
        "SECRET_KEY": _secret_key(instance_path),
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR", str(instance_path / "uploads")),
        # Per-file upload limit; the request limit leaves room for the form around it.
        "UPLOAD_MAX_BYTES": int(os.environ.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)),
        "MAX_CONTENT_LENGTH": int(os.environ.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)) + 1024 * 1024,
        "EXPORT_MAX_ROWS": int(os.environ.get("EXPORT_MAX_ROWS", 100000)),
        # A bulk action on more rows than this runs in the background worker, with a progress page; 0: never.
        "BULK_BACKGROUND_THRESHOLD": int(os.environ.get("BULK_BACKGROUND_THRESHOLD", 5000)),
        # Imports from Excel/CSV: a file with more data rows than this is checked and written by the worker.
        "IMPORT_BACKGROUND_ROWS": int(os.environ.get("IMPORT_BACKGROUND_ROWS", 2000)),
        "IMPORT_DIR": os.environ.get("IMPORT_DIR", str(instance_path / "imports")),
        "IMPORT_MAX_BYTES": int(os.environ.get("IMPORT_MAX_BYTES", 50 * 1024 * 1024)),
        # The channel (P3) of an imported past request whose file has no channel column.
        "IMPORT_DEFAULT_CHANNEL": os.environ.get("IMPORT_DEFAULT_CHANNEL", "interview"),
        "TIMEZONE": "Asia/Riyadh",
        "BABEL_DEFAULT_LOCALE": "ar",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Riyadh",
        "BABEL_TRANSLATION_DIRECTORIES": str(BASE_DIR / "translations"),
        "LANGUAGES": ["ar", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies: FORCE_HTTPS=1 (or SESSION_COOKIE_SECURE=1) when served over HTTPS; a request that
        # arrives over HTTPS gets them anyway (web/security.py). TRUSTED_PROXIES: how many proxies in front
        # whose X-Forwarded-* headers are believed (client address for throttling and audit, scheme).
        "FORCE_HTTPS": _flag("FORCE_HTTPS"),
        "PREFERRED_URL_SCHEME": "https" if _flag("FORCE_HTTPS") else "http",
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE") or _flag("FORCE_HTTPS"),
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", 0)),
        # The panel sets no remember-me cookie; were one set, it would be as guarded as the session's.
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE") or _flag("FORCE_HTTPS"),
        "REMEMBER_COOKIE_DURATION": 14 * 24 * 3600,
        # Failed sign-ins before the form refuses to check more (Flask-Limiter syntax, moving window):
        # per username from one address, and per address whatever the username (web/security.py).
        "LOGIN_LIMIT_USER_IP": os.environ.get("LOGIN_LIMIT_USER_IP", "5 per 15 minutes"),
        "LOGIN_LIMIT_IP": os.environ.get("LOGIN_LIMIT_IP", "20 per 15 minutes"),
        "WTF_CSRF_TIME_LIMIT": None,
        "FLASK_ADMIN_SWATCH": "default",
        # Board mirror (sync/): a Google Sheet when a spreadsheet is set, else BOARD_XLSX_PATH.
        "SHEETS_SPREADSHEET_ID": os.environ.get("SHEETS_SPREADSHEET_ID", ""),
        "SHEETS_SERVICE_ACCOUNT_FILE": os.environ.get("SHEETS_SERVICE_ACCOUNT_FILE", ""),
        "SHEETS_API_ENDPOINT": os.environ.get("SHEETS_API_ENDPOINT", ""),
        "SHEETS_INCLUDE_NAMES": os.environ.get("SHEETS_INCLUDE_NAMES", "0") == "1",
        "SHEETS_SYNC_INTERVAL": int(os.environ.get("SHEETS_SYNC_INTERVAL", 10)),
        "SHEETS_REQUESTS_SINCE": os.environ.get("SHEETS_REQUESTS_SINCE", ""),
        "SHEETS_MAX_RETRIES": int(os.environ.get("SHEETS_MAX_RETRIES", 5)),
        "SHEETS_TIMEOUT": float(os.environ.get("SHEETS_TIMEOUT", 60)),
        "BOARD_XLSX_PATH": os.environ.get("BOARD_XLSX_PATH", str(instance_path / "board.xlsx")),
        # Satisfaction surveys (P2.5): the links in invitations point at the public portal, valid this many days.
        "PORTAL_BASE_URL": os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000"),
        "SURVEY_TOKEN_DAYS": int(os.environ.get("SURVEY_TOKEN_DAYS", 30)),
        # The public portal (/portal/): its languages, the first being the default (a new one needs only its catalogue).
        "PORTAL_LANGUAGES": os.environ.get("PORTAL_LANGUAGES", "ar,en"),
        # Per-IP limits of the portal (Flask-Limiter syntax): every form sent, and request tracking.
        "PORTAL_POST_LIMIT": os.environ.get("PORTAL_POST_LIMIT", "10 per minute"),
        "PORTAL_TRACK_LIMIT": os.environ.get("PORTAL_TRACK_LIMIT", "20 per minute"),
        # Several web processes (WEB_WORKERS > 1) share what one process kept in memory through Redis
        # (REDIS_URL): the rate limits here and the worker's queue (worker.py). check_workers() refuses to
        # start several workers without it: each would count failed logins and portal posts apart.
        "WEB_WORKERS": web_workers(),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # Where the limits are counted: memory:// for the single process `make run` serves by default,
        # REDIS_URL when set, or any Flask-Limiter storage named here.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://",
        **notification_settings(),
    }


def web_workers() -> int:
    """Return WEB_WORKERS, the number of gunicorn processes `make run` starts (1 by default)."""
    try:
        return max(1, int(os.environ.get("WEB_WORKERS") or 1))
    except ValueError:
        raise ConfigurationError(f"WEB_WORKERS must be a whole number, not {os.environ['WEB_WORKERS']!r}.") from None


class ConfigurationError(RuntimeError):
    """A combination of settings the application refuses to start with; the message says what to set."""


def check_workers(settings: dict) -> None:
    """Refuse several web workers without a shared store for what each would otherwise keep to itself.

    Rate limits (failed logins, portal posts) counted per process would let N processes allow N times
    as many tries; the decision is to refuse rather than to start weakened.
    """
    if settings["WEB_WORKERS"] > 1 and not settings["REDIS_URL"] \
            and settings["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        raise ConfigurationError(
            f"WEB_WORKERS={settings['WEB_WORKERS']} needs REDIS_URL (e.g. redis://127.0.0.1:6379/0): several web "
            "processes share rate limits and the worker's queue through Redis. Start one with "
            "`scripts/redis.sh start 6379`, or set WEB_WORKERS=1.")


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def notification_settings() -> dict:
    """Return the settings of the outbox and its senders (SMTP, SMS gateway, letters); worker.py reads HUEY_*."""
    env = os.environ.get
    return {
        "SMTP_HOST": env("SMTP_HOST", ""),
        "SMTP_PORT": int(env("SMTP_PORT", 587)),
        "SMTP_USER": env("SMTP_USER", ""),
        "SMTP_PASSWORD": env("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _flag("SMTP_STARTTLS", "1"),
        "SMTP_TIMEOUT": float(env("SMTP_TIMEOUT", 30)),
        "MAIL_FROM": env("MAIL_FROM", ""),
        "SMS_GATEWAY_URL": env("SMS_GATEWAY_URL", ""),
        # One header line, e.g. "Authorization: Bearer xyz".
        "SMS_AUTH_HEADER": env("SMS_AUTH_HEADER", ""),
        "SMS_BODY_FORMAT": env("SMS_BODY_FORMAT", "form"),
        "SMS_FIELD_SENDER": env("SMS_FIELD_SENDER", "sender"),
        "SMS_FIELD_RECIPIENT": env("SMS_FIELD_RECIPIENT", "recipient"),
        "SMS_FIELD_BODY": env("SMS_FIELD_BODY", "body"),
        # Overrides the three fields: the whole request body with {sender}, {recipient}, {body}.
        "SMS_BODY_TEMPLATE": env("SMS_BODY_TEMPLATE", ""),
        "SMS_SENDER": env("SMS_SENDER", ""),
        "SMS_RECIPIENT_FORMAT": env("SMS_RECIPIENT_FORMAT", "9665"),
        "SMS_TIMEOUT": float(env("SMS_TIMEOUT", 15)),
        "NOTIFY_MAX_ATTEMPTS": int(env("NOTIFY_MAX_ATTEMPTS", 5)),
        "NOTIFY_RETRY_SECONDS": float(env("NOTIFY_RETRY_SECONDS", 60)),
        "ASSOCIATION_NAME": env("ASSOCIATION_NAME", "جمعية الدعوة والإرشاد وتوعية الجاليات ببحرة"),
        "ASSOCIATION_ADDRESS": env("ASSOCIATION_ADDRESS", "بحرة، منطقة مكة المكرمة، المملكة العربية السعودية"),
        "ASSOCIATION_PHONE": env("ASSOCIATION_PHONE", ""),
    }
