"""Login over HTTP: redirects, forced password change, session cookie flags, no open redirect."""
import pytest
from conftest import PASSWORD, login

from models import User
from services import users


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


# Issue 15 item 2: what browsers read as another site once they drop tabs and newlines from a URL.
HOSTILE_NEXT = ["/\t/evil.example", "\t//evil.example", "/\r\n/evil.example", "/\n/evil.example",
                "\r\n//evil.example", "/\\evil.example", "\\\\evil.example", "//evil.example", "/\t\\evil.example",
                "https:evil.example", "https://evil.example", "HTTPS://evil.example", "javascript:alert(1)",
                "java\tscript:alert(1)", " //evil.example", "/\x00/evil.example", "/%2F/evil.example",
                "\u3000//evil.example", "///evil.example"]


def _stays_on_the_site(location: str) -> bool:
    from urllib.parse import urljoin, urlsplit
    # What a browser does with the header: drop ASCII tabs and newlines, then resolve against the page.
    cleaned = "".join(ch for ch in location if ch not in "\t\r\n")
    return urlsplit(urljoin("http://localhost/lang/en", cleaned)).netloc == "localhost" and cleaned.startswith("/")


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_language_switch_never_sends_elsewhere(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert _stays_on_the_site(response.headers["Location"]), response.headers["Location"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_sends_elsewhere(client, staff, target):
    response = client.post("/login", query_string={"next": target}, data={"username": "manager", "password": PASSWORD})
    assert response.status_code == 302
    assert _stays_on_the_site(response.headers["Location"]), response.headers["Location"]


def test_a_local_next_with_its_query_is_kept(client, staff):
    target = "/admin/beneficiary/?search=%D8%A3%D8%AD%D9%85%D8%AF&page=2"
    assert client.get("/lang/en", query_string={"next": target}).headers["Location"] == target
    response = client.post("/login", query_string={"next": target}, data={"username": "manager", "password": PASSWORD})
    assert response.headers["Location"] == target


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
