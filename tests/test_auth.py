"""Login over HTTP: redirects, forced password change, session cookie flags, no open redirect."""
import pytest

from models import User
from services import users

from conftest import PASSWORD, login


def test_anonymous_is_sent_to_login_and_back_after_it(client, staff):
    response = client.get("/admin/beneficiary/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/admin/beneficiary/")
    response = client.post("/login?next=/admin/beneficiary/", data={"username": "manager", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/beneficiary/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_next_never_leaves_the_site(client, staff, target):
    response = client.post(f"/login?next={target}", data={"username": "manager", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/"
    assert client.get(f"/lang/en?next={target}").headers["Location"] == "/admin/"


def test_a_generated_password_must_be_changed_first(client, app):
    user, password = users.ensure_admin()
    login(client, "admin", password)
    assert client.get("/admin/beneficiary/").headers["Location"].endswith("/change-password")
    client.post("/change-password", data={"password": "New-password-2026", "confirm": "New-password-2026"})
    assert not User.get_by_id(user.id).must_change_password
    assert client.get("/admin/beneficiary/").status_code == 200


def test_session_cookie_is_httponly_and_samesite(client, staff):
    response = login(client, "manager")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
