"""Unit tests of services.users: password rules, account creation, login auditing, the first admin."""
import json

import pytest
from conftest import PASSWORD
from werkzeug.security import check_password_hash

from models import AuditLog, User
from services import users
from services.errors import ValidationError


@pytest.mark.parametrize("password, reason", [
    ("short-1", "at least 10 characters"),
    ("", "at least 10 characters"),
    ("1234567890123", "mix letters"),
    ("onlyletterspassword", "mix letters"),
    ("xx-samira-2026", "must not contain the username"),
    ("XX-SAMIRA-2026", "must not contain the username"),
])
def test_weak_password_is_refused(password, reason):
    with pytest.raises(ValidationError, match=reason) as err:
        users.check_password_strength(password, "samira")
    assert err.value.field == "password"


def test_strong_password_passes():
    users.check_password_strength("correct-horse-42", "samira")


def test_generated_password_passes_the_strength_check():
    for _ in range(20):
        users.check_password_strength(users.generate_password(), "admin")


def test_create_user_stores_a_hash_and_audits(app):
    user = users.create_user("  Samira ", "researcher", PASSWORD, full_name="سميرة")
    saved = User.get_by_id(user.id)
    assert (saved.username, saved.role, saved.full_name) == ("samira", "researcher", "سميرة")
    assert saved.password_hash != PASSWORD and check_password_hash(saved.password_hash, PASSWORD)
    row = AuditLog.get(AuditLog.action == "create")
    assert json.loads(row.changes) == {"role": [None, "researcher"], "username": [None, "samira"]}
    assert "password" not in (row.changes + (row.details or ""))


def test_create_user_with_an_unknown_role_is_refused(app):
    with pytest.raises(ValidationError, match="Unknown role") as err:
        users.create_user("samira", "superuser", PASSWORD)
    assert err.value.field == "role"
    assert User.select().count() == 0


def test_create_user_with_a_weak_password_is_refused(app):
    with pytest.raises(ValidationError, match="at least"):
        users.create_user("samira", "researcher", "short")
    assert User.select().count() == 0


def test_taken_username_is_refused(app):
    users.create_user("samira", "researcher", PASSWORD)
    with pytest.raises(ValidationError, match="taken"):
        users.create_user("SAMIRA", "volunteer", PASSWORD)


@pytest.mark.parametrize("username", ["", "sam ira", "سميرة", "sam١٢", "sam@ira"])
def test_malformed_username_is_refused(app, username):
    with pytest.raises(ValidationError) as err:
        users.create_user(username, "researcher", PASSWORD)
    assert err.value.field == "username"


def test_authenticate_success_is_audited(app, staff):
    user = users.authenticate(" Researcher ", PASSWORD, ip="10.0.0.5")
    assert user.id == staff["researcher"].id
    assert User.get_by_id(user.id).last_login_at is not None
    row = AuditLog.get(AuditLog.action == "login")
    assert (row.actor, row.record_id, row.ip) == ("researcher", user.id, "10.0.0.5")


def test_wrong_password_is_refused_and_audited(app, staff):
    assert users.authenticate("researcher", "wrong-password-1", ip="10.0.0.5") is None
    row = AuditLog.get(AuditLog.action == "login_failed")
    assert row.record_id == staff["researcher"].id
    assert json.loads(row.details) == {"username": "researcher", "reason": "bad_credentials"}
    assert AuditLog.select().where(AuditLog.action == "login").count() == 0


def test_unknown_username_is_refused_and_audited(app):
    assert users.authenticate("nobody", PASSWORD) is None
    row = AuditLog.get(AuditLog.action == "login_failed")
    assert row.record_id is None and json.loads(row.details)["username"] == "nobody"


def test_deactivated_user_cannot_log_in(app, staff):
    volunteer = staff["volunteer"]
    volunteer.active = False
    volunteer.save()
    assert users.authenticate("volunteer", PASSWORD) is None
    row = AuditLog.get(AuditLog.action == "login_failed")
    assert json.loads(row.details)["reason"] == "inactive"


def test_set_password_clears_the_forced_change(app):
    user = users.create_user("samira", "researcher", PASSWORD, must_change_password=True)
    users.set_password(user, "another-horse-77")
    saved = User.get_by_id(user.id)
    assert not saved.must_change_password
    assert users.authenticate("samira", "another-horse-77") is not None


def test_set_password_refuses_the_current_one(app):
    user = users.create_user("samira", "researcher", PASSWORD)
    with pytest.raises(ValidationError, match="different"):
        users.set_password(user, PASSWORD)


def test_ensure_admin_without_password_generates_one_to_change(app):
    user, password = users.ensure_admin()
    saved = User.get_by_id(user.id)
    assert (saved.username, saved.role, saved.must_change_password) == ("admin", "admin", True)
    assert check_password_hash(saved.password_hash, password)


def test_ensure_admin_with_a_password_does_not_force_a_change(app):
    user, password = users.ensure_admin("given-password-9")
    assert password == "given-password-9"
    assert not User.get_by_id(user.id).must_change_password


def test_ensure_admin_does_nothing_when_a_user_exists(app):
    users.create_user("samira", "researcher", PASSWORD)
    assert users.ensure_admin() == (None, None)
    assert [u.username for u in User.select()] == ["samira"]
