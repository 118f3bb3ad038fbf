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
        "EXPORT_MAX_ROWS": int(os.environ.get("EXPORT_MAX_ROWS", 10000)),
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
    }
