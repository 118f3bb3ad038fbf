"""Issue 9, "Hostile input and access": security headers and CSP on every screen, no inline code the CSP
would block, login throttling, a new session at login, Secure cookies over HTTPS, and Chromium reporting
no CSP violation on the panel (web/security.py)."""
import json
import re
import threading
from html.parser import HTMLParser

import pytest
from conftest import PASSWORD, free_port, login, make_beneficiary, make_request
from test_permissions import _url, _walk, rows  # noqa: F401  (rows: every screen's filler row, a fixture)

from app import create_app
from models import AuditLog
from web import security

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _directives(policy: str) -> dict:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


class InlineCode(HTMLParser):
    """Collect what a `script-src 'self'; style-src 'self'` policy would refuse, and assets from elsewhere."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…> (inline event handler)")
            if name == "style":
                self.found.append(f"<{tag} style=…> (inline style)")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                    "javascript:") and value.strip() != "javascript:void(0)":
                self.found.append(f"<{tag} {name}={value!r}> (javascript: URL)")
        if tag == "style":
            self.found.append("<style> block")
        if tag == "script":
            src = attributes.get("src")
            if not src and attributes.get("type") != "application/json":
                self.found.append("<script> without src (inline script)")
            elif src and not src.startswith("/"):
                self.found.append(f"<script src={src!r}> (not this application's)")
        if tag == "link" and not (attributes.get("href") or "/").startswith("/"):
            self.found.append(f"<link href={attributes['href']!r}> (not this application's)")


def inline_code(html: str) -> list[str]:
    """Return what the CSP would block in a page."""
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def _assert_headers(response, where):
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (where, name, response.headers.get(name))
    assert response.headers.get("Content-Security-Policy") == security.CONTENT_SECURITY_POLICY, where


def test_the_policy_allows_only_the_applications_own_assets():
    """Issue 9: a CSP that allows only the app's own assets; nothing inline or evaluated, no framing."""
    policy = _directives(security.CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert "unsafe" not in security.CONTENT_SECURITY_POLICY and "*" not in security.CONTENT_SECURITY_POLICY


def test_every_screen_has_the_headers_and_no_inline_code(app, client, staff, rows):  # noqa: F811
    """Issue 9: every URL of the URL map (panel as admin: lists, details, forms, letter, downloads; portal;
    login; errors) carries the headers, and no HTML page has inline script, handler or style."""
    problems, pages = [], 0
    response = client.get("/login")
    _assert_headers(response, "/login")
    problems += [("/login", p) for p in inline_code(response.get_data(as_text=True))]
    login(client, "admin")
    for endpoint, method, rule in sorted(_walk(app), key=lambda item: item[0] == "auth.logout"):
        if method != "GET":
            continue
        url = _url(endpoint, rule, rows)
        response = client.get(url)
        _assert_headers(response, url)
        if response.mimetype == "text/html" and response.status_code == 200:
            pages += 1
            problems += [(url, p) for p in inline_code(response.get_data(as_text=True))]
    for url in ("/admin/no-such-page/", "/static/css/mustafeed.css", f"/admin/beneficiary/edit/?id={rows['beneficiary']}"):
        _assert_headers(client.get(url), url)
    assert pages > 60  # the walk really rendered the screens
    assert not problems, problems


def test_the_inline_check_catches_what_the_policy_blocks():
    found = inline_code('<p style="x"><script>alert(1)</script><a onclick="f()" href="javascript:f()">'
                        '<script type="application/json">{}</script><script src="/static/a.js"></script>'
                        '<script src="https://cdn.example/x.js"></script><style>p{}</style>')
    assert len(found) == 6, found


# --- Login throttling ------------------------------------------------------------------------------

def _fail(client, username, ip="10.0.0.1"):
    return client.post("/login", data={"username": username, "password": "wrong-password-1"},
                       environ_base={"REMOTE_ADDR": ip})


def _sign_in(client, username, ip="10.0.0.1"):
    return client.post("/login", data={"username": username, "password": PASSWORD}, environ_base={"REMOTE_ADDR": ip})


def test_login_is_throttled_per_username_and_address(app, client, staff):
    """Issue 9: after 5 failures for one username from one address, even the right password is refused (429,
    a translated message, audited), while the same user from elsewhere and others from here still sign in."""
    client.get("/lang/en")
    for _ in range(5):
        assert _fail(client, "manager").status_code == 200
    refused = _sign_in(client, "manager")
    assert refused.status_code == 429
    assert re.search(r"Too many failed sign-ins\. Try again in \d+ minutes?\.", refused.get_data(as_text=True))
    row = AuditLog.select().where(AuditLog.action == "login_failed").order_by(AuditLog.id.desc()).first()
    assert json.loads(row.details) == {"username": "manager", "reason": "throttled"} and row.ip == "10.0.0.1"
    assert AuditLog.select().where(AuditLog.action == "login_failed").count() == 6  # five failures, one throttled
    assert _sign_in(client, "manager", ip="10.0.0.2").status_code == 302  # the user from another address
    client.post("/logout")
    assert _sign_in(client, "researcher").status_code == 302  # another user from this address


def test_login_is_throttled_per_address_whatever_the_username(app, client, staff):
    """Issue 9: 20 failures from one address, spread over usernames (4 each), close it for everyone."""
    for n in range(20):
        assert _fail(client, f"guess{n // 4}", ip="10.0.0.3").status_code == 200
    assert _sign_in(client, "admin", ip="10.0.0.3").status_code == 429
    assert _sign_in(client, "admin", ip="10.0.0.4").status_code == 302


def test_a_successful_sign_in_clears_its_own_count(app, client, staff):
    for _ in range(4):
        _fail(client, "manager")
    assert _sign_in(client, "manager").status_code == 302
    client.post("/logout")
    for _ in range(4):
        _fail(client, "manager")
    assert _sign_in(client, "manager").status_code == 302


def test_the_counts_live_in_the_shared_limiter_storage(app, client, staff):
    """Not a per-process dict: the failures are in Flask-Limiter's storage (RATELIMIT_STORAGE_URI, Redis when
    several workers run), where every worker reads them."""
    from limits import parse

    from web.limits import limiter
    _fail(client, "manager")
    keys = ("login-ip", "10.0.0.1")
    item = parse(app.config["LOGIN_LIMIT_IP"])
    assert security._strategy().get_window_stats(item, *keys).remaining == item.amount - 1
    assert security._strategy().storage is limiter.storage


@pytest.fixture
def redis_url():
    """A throw-away redis-server (Debian's) on a free port, nothing written to disk; stopped after the test."""
    import shutil
    import socket
    import subprocess
    import time
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/redis.sh start installs it)")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _worker_signs_in(database_url, instance_path, redis_url, password, attempts, results):
    """One web process (what a gunicorn worker is): its own app, the shared Redis; sign in `attempts` times."""
    import os
    os.environ["INSTANCE_PATH"] = instance_path
    from app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_STORAGE_URI": redis_url})
    client = app.test_client()
    results.put([client.post("/login", data={"username": "manager", "password": password},
                             environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code for _ in range(attempts)])


def test_the_throttle_is_shared_by_worker_processes_through_redis(app, staff, redis_url, tmp_path):
    """Issue 9: with several gunicorn workers the failures one counted are seen by the next (Redis)."""
    import multiprocessing
    results = multiprocessing.Queue()
    for password, attempts in (("wrong-password-1", 5), (PASSWORD, 1)):
        worker = multiprocessing.Process(target=_worker_signs_in, args=(
            app.config["DATABASE_URL"], str(tmp_path / "instance"), redis_url, password, attempts, results))
        worker.start()
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert results.get(timeout=5) == [200] * 5  # five failures in the first process
    assert results.get(timeout=5) == [429]  # the second refuses even the right password


def test_a_hostile_username_is_audited_cut_to_the_column(app, client, staff):
    """A 100 kB username with control characters is refused and audited without a 500."""
    name = "<script>x</script>\x00\u202e" + "ا" * 100_000
    response = client.post("/login", data={"username": name, "password": "x"})
    assert response.status_code == 200
    row = AuditLog.select().where(AuditLog.action == "login_failed").first()
    assert len(row.actor) <= 80 and len(json.loads(row.details)["username"]) <= 200


# --- Sessions and cookies --------------------------------------------------------------------------

def test_login_starts_a_new_session(client, staff):
    """Issue 9: a new session at login; whatever a fixation cookie carried is gone, only the language stays."""
    with client.session_transaction() as sess:
        sess.update({"planted": "by-an-attacker", "_sid": "fixed", "csrf_token": "known", "lang": "en"})
    planted = client.get_cookie("session").value
    login(client, "manager")
    assert client.get_cookie("session").value != planted
    with client.session_transaction() as sess:
        assert "planted" not in sess and "csrf_token" not in sess
        assert sess["_sid"] != "fixed" and len(sess["_sid"]) >= 16 and sess["lang"] == "en"
        assert sess["_user_id"] == str(staff["manager"].id)
        first = sess["_sid"]
    client.post("/logout")
    with client.session_transaction() as sess:
        assert dict(sess) == {"lang": "en"}
    login(client, "manager")
    with client.session_transaction() as sess:
        assert sess["_sid"] != first


def test_a_session_replayed_from_another_browser_is_logged_out(client, staff):
    """Flask-Login's strong session protection: the cookie is bound to the address and browser it was made for."""
    login(client, "manager")
    assert client.get("/admin/").status_code == 200
    response = client.get("/admin/", headers={"User-Agent": "another browser"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))


def test_cookies_are_secure_over_https_and_not_over_http(app, client, staff):
    over_http = _session_cookie(login(client, "manager"))
    assert "HttpOnly" in over_http and "SameSite=Lax" in over_http and "Secure" not in over_http
    client.post("/logout")
    response = client.post("/login", data={"username": "manager", "password": PASSWORD}, base_url="https://localhost")
    over_https = _session_cookie(response)
    assert "Secure" in over_https and "HttpOnly" in over_https and "SameSite=Lax" in over_https
    assert response.headers["Strict-Transport-Security"] == security.HSTS
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_force_https_makes_every_cookie_secure(monkeypatch, tmp_path):
    import config
    monkeypatch.setenv("FORCE_HTTPS", "1")
    settings = config.load_config(tmp_path)
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"]
    assert settings["PREFERRED_URL_SCHEME"] == "https"
    assert settings["SESSION_COOKIE_HTTPONLY"] and settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.delenv("FORCE_HTTPS")
    assert not config.load_config(tmp_path)["SESSION_COOKIE_SECURE"]


def test_the_secure_setting_marks_the_cookie_even_over_http(app, client, staff):
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "Secure" in _session_cookie(login(client, "manager"))


@pytest.fixture
def proxied(app, tmp_path):
    """The same database served behind one trusted proxy (TRUSTED_PROXIES=1)."""
    behind = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "WTF_CSRF_ENABLED": False,
                         "UPLOAD_DIR": app.config["UPLOAD_DIR"], "TRUSTED_PROXIES": 1})
    return behind.test_client()


def test_behind_a_trusted_proxy_its_headers_are_believed(proxied, staff):
    """The client address (audit, throttling) and the scheme (Secure cookie) come from X-Forwarded-*."""
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    proxied.post("/login", data={"username": "manager", "password": "wrong"}, headers=forwarded)
    assert AuditLog.select().where(AuditLog.action == "login_failed").first().ip == "203.0.113.9"
    response = proxied.post("/login", data={"username": "manager", "password": PASSWORD}, headers=forwarded)
    assert "Secure" in _session_cookie(response)


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(client, staff):
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    client.post("/login", data={"username": "manager", "password": "wrong"}, headers=forwarded)
    assert AuditLog.select().where(AuditLog.action == "login_failed").first().ip == "127.0.0.1"
    response = client.post("/login", data={"username": "manager", "password": PASSWORD}, headers=forwarded)
    assert "Secure" not in _session_cookie(response)


# --- In a real browser -----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BROWSER_PASSWORD = "Browser-test-2026"


@pytest.fixture
def live_server(tmp_path, monkeypatch):
    """The real app (CSRF on) in a thread, with a beneficiary, a request and a letter; yields (url, ids)."""
    from werkzeug.serving import make_server

    from cli import upgrade
    from models import Service, current_actor, db
    from services import notifications, users
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}", "UPLOAD_DIR": str(tmp_path / "uploads")})
    db.connect(reuse_if_open=True)
    upgrade()
    token = current_actor.set("test")
    users.create_user("admin1", "admin", BROWSER_PASSWORD, full_name="مدير")
    service = Service.create(name_ar="سلة غذائية", name_en="Food basket", decision_days=14)
    b = make_beneficiary()
    r = make_request(b, service)
    letter = notifications.notify(b, "decision", request=r)
    current_actor.reset(token)
    db.close()
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", {"beneficiary": b.id, "request": r.id, "letter": letter.id,
                                                      "service": service.id}
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.heavy
def test_chromium_reports_no_csp_violation_and_the_moved_handlers_work(live_server):
    """Issue 9: with the CSP on, Chromium logs no violation on panel and portal pages (dropdowns opened), and
    what Flask-Admin did inline still works: delete asks first, actions run, inline rows are added."""
    from playwright import sync_api
    base, ids = live_server
    pages = ["/admin/", "/admin/beneficiary/", f"/admin/beneficiary/details/?id={ids['beneficiary']}",
             f"/admin/beneficiary/edit/?id={ids['beneficiary']}", "/admin/servicerequest/",
             f"/admin/servicerequest/details/?id={ids['request']}", "/admin/service/new/", "/admin/satisfaction/",
             "/admin/statistics/", "/admin/auditlog/", f"/admin/notification/letter/{ids['letter']}",
             "/portal/", f"/portal/request/{ids['service']}", "/portal/contact", "/portal/track"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            console, dialogs = [], []
            page.on("console", lambda m: console.append((page.url, m.type, m.text)))
            page.on("pageerror", lambda e: console.append((page.url, "pageerror", str(e))))

            def answer(dialog):
                dialogs.append(dialog.message)
                dialog.dismiss()
            page.on("dialog", answer)

            page.goto(f"{base}/login")
            page.fill("#username", "admin1")
            page.fill("#password", BROWSER_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/admin/$"))
            for path in pages:
                assert page.goto(base + path).status == 200, path
                for toggle in page.query_selector_all("[data-toggle=dropdown]"):
                    if toggle.is_visible():
                        toggle.click()
                        toggle.click()
                assert page.evaluate("document.styleSheets.length") >= 1, path

            # The row's delete button asks first; dismissed, nothing is deleted.
            page.goto(f"{base}/admin/beneficiary/")
            page.click("button[data-confirm-click]")
            assert dialogs and dialogs[-1]
            page.goto(f"{base}/admin/beneficiary/")
            assert page.query_selector("button[data-confirm-click]") is not None
            # "With selected" → an action with a confirmation: the confirmation is asked.
            asked = len(dialogs)
            page.check("input.action-checkbox")
            page.click("li.dropdown:has([data-model-action]) > a.dropdown-toggle")
            page.click("[data-model-action=delete]")
            assert len(dialogs) == asked + 1
            # The household's "Add" button adds an inline row.
            page.goto(f"{base}/admin/beneficiary/edit/?id={ids['beneficiary']}")
            before = page.locator(".inline-field-list > .inline-field").count()
            page.click("[data-inline-add]")
            assert page.locator(".inline-field-list > .inline-field").count() == before + 1
        finally:
            browser.close()
    violations = [m for m in console if "Content Security Policy" in m[2] or m[1] == "pageerror"]
    assert not violations, violations
