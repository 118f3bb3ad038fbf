"""Staff accounts: creation, password rules, authentication, sessions and the sign-in history."""
import re
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from models import SignIn, User, db, utcnow
from models.sign_in import USER_AGENT_LENGTH

from . import audit
from .errors import N_, PermissionDenied, ValidationError
from .normalize import clean_text
from .roles import ROLES, can

MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"[a-z0-9._-]+")
# scrypt is werkzeug's default and deliberately slow; stated so a library change cannot weaken it.
HASH_METHOD = "scrypt"
# Verified against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method=HASH_METHOD)


def check_password_strength(password: str, username: str = "") -> None:
    """Raise ValidationError when a password is too weak to protect personal data."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(N_("The password must have at least %(n)s characters."), field="password",
                              n=MIN_PASSWORD_LENGTH)
    if password.isdigit() or password.isalpha():
        raise ValidationError(N_("The password must mix letters with digits or symbols."), field="password")
    if username and username.lower() in password.lower():
        raise ValidationError(N_("The password must not contain the username."), field="password")


def validate_role(role: str) -> str:
    """Return the role, or raise ValidationError listing the known roles."""
    if role not in ROLES:
        raise ValidationError(N_("Unknown role “%(role)s”. Choose one of: %(roles)s."), field="role",
                              role=role, roles=", ".join(ROLES))
    return role


def create_user(username: str, role: str, password: str, full_name: str = "",
                must_change_password: bool = False) -> User:
    """Create a staff account after checking the role, the username and the password."""
    username = clean_text(username).lower()
    # str.isalnum() would also accept Arabic letters and digits; the message promises Latin.
    if not _USERNAME.fullmatch(username):
        raise ValidationError(N_("A username is made of Latin letters, digits, dots, dashes and underscores."),
                              field="username")
    validate_role(role)
    check_password_strength(password, username)
    if User.select().where(User.username == username).exists():
        raise ValidationError(N_("The username “%(username)s” is taken."), field="username", username=username)
    with db.atomic():
        user = User.create(username=username, role=role, full_name=full_name,
                           password_hash=generate_password_hash(password, method=HASH_METHOD),
                           must_change_password=must_change_password)
        audit.record("create", user, changes={"username": [None, username], "role": [None, role]})
    return user


def set_password(user: User, password: str) -> None:
    """Set a new password after the strength check and clear the forced-change flag."""
    check_password_strength(password, user.username)
    if check_password_hash(user.password_hash, password):
        raise ValidationError(N_("Choose a password different from the current one."), field="password")
    with db.atomic():
        user.password_hash = generate_password_hash(password, method=HASH_METHOD)
        user.must_change_password = False
        user.save()
        # Whoever knew the old password may hold a session: every one of them ends (the caller keeps its own).
        _bump_session_version(user)
        audit.record("password_changed", user, actor=user.username)


def apply_account_edit(user: User, new_password: str | None, is_created: bool) -> None:
    """Apply an admin's edit of an account before it is saved: a new password (checked, hashed), and the end of
    every session the account had when it gets a new password or is deactivated (a reactivated account's old
    cookies stay dead)."""
    if new_password:
        check_password_strength(new_password, user.username)
        user.password_hash = generate_password_hash(new_password, method=HASH_METHOD)
    if not is_created and (new_password or not user.active):
        user.session_version = (user.session_version or 1) + 1


def _bump_session_version(user: User) -> int:
    """Move the user's session version on in the database (one statement, so two at once both count)."""
    User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()
    user.session_version = User.select(User.session_version).where(User.id == user.id).scalar()
    return user.session_version


def end_sessions(user: User, actor: User | str | None = None) -> int:
    """End every session of the user (logout, an admin's "End all sessions"), audited; return the new version."""
    name = actor.username if isinstance(actor, User) else (actor or user.username)
    with db.atomic():
        version = _bump_session_version(user)
        audit.record("sessions_ended", user, actor=name, details={"session_version": version})
    return version


def end_sessions_of(users: list[User], actor: User) -> int:
    """End every session of each user (the users screen's action, admins only); return how many users."""
    if not can(actor.role, "users.manage"):
        raise PermissionDenied(N_("Only an administrator ends other people's sessions."))
    with db.atomic():
        for user in users:
            end_sessions(user, actor)
    return len(users)


def recent_sign_ins(user: User, limit: int = 20) -> list[SignIn]:
    """Return the user's latest successful sign-ins, newest first."""
    return list(SignIn.select().where(SignIn.user == user.id).order_by(SignIn.at.desc(), SignIn.id.desc()).limit(limit))


# The first match names the browser, then the system: enough for a person to recognise their own device.
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser/", "Samsung Internet"), ("Firefox/", "Firefox"),
             ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def browser_of(user_agent: str | None) -> tuple[str, str]:
    """Return (browser, system) named by a User-Agent, e.g. ("Firefox", "Windows"); "" for what it does not name."""
    text = user_agent or ""
    return (next((name for marker, name in _BROWSERS if marker in text), ""),
            next((name for marker, name in _SYSTEMS if marker in text), ""))


def authenticate(username: str, password: str, ip: str | None = None, user_agent: str | None = None) -> User | None:
    """Return the active user whose password matches, auditing success and failure; a success joins the history."""
    username = clean_text(username).lower()
    user = User.get_or_none(User.username == username)
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is None or not ok or not user.active:
        # Whatever was typed is kept, cut to the columns' sizes (actor is 80 characters; PostgreSQL refuses more).
        audit.record("login_failed", model="User", record_id=user.id if user else None,
                     details={"username": username[:200],
                              "reason": "inactive" if (user and ok) else "bad_credentials"},
                     actor=username[:80] or None, ip=ip)
        return None
    with db.atomic():
        user.last_login_at = utcnow()
        user.save(only=[User.last_login_at])
        SignIn.create(user=user, at=user.last_login_at, ip=(ip or "")[:64] or None,
                      user_agent=clean_text(user_agent)[:USER_AGENT_LENGTH] or None)
        audit.record("login", user, actor=user.username, ip=ip)
    return user


def generate_password() -> str:
    """Return a random password that passes the strength check."""
    while True:
        candidate = secrets.token_urlsafe(12)
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


def ensure_admin(password: str | None = None) -> tuple[User | None, str | None]:
    """Create the first admin when there is no user; return it and the password to show once."""
    if User.select().exists():
        return None, None
    generated = password is None
    password = password or generate_password()
    user = create_user("admin", "admin", password, full_name="مدير النظام", must_change_password=generated)
    return user, password
