"""Configuration read from the environment; no secrets in code."""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY from the environment, else a key kept in instance/secret_key."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


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
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
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
        # Where the limits are counted: memory:// for the single process `make run` serves; a shared store
        # such as redis://host:6379 once several workers or servers run (each would count apart otherwise).
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        **notification_settings(),
    }


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
