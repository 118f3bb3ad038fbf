"""Sessions can be ended (issue 15 item 3): logout, a password change and an admin's "End all sessions" end
every session of the user, a deactivated account is signed out, and each user sees their last sign-ins."""
import datetime

import pytest
from conftest import PASSWORD, login

from models import AuditLog, SignIn, User, utcnow
from services import retention, users

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.0.0 Mobile Safari/537.36")


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


def second_browser(app, client):
    """Return another test client holding a copy of this client's session cookie (a stolen or second copy)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def signed_in(browser) -> bool:
    response = browser.get("/admin/beneficiary/")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"], response.status_code
    return False


def test_a_cookie_copied_before_logout_no_longer_opens_the_panel(app, client, staff):
    login(client, "manager")
    copy = second_browser(app, client)
    assert signed_in(copy)
    client.post("/logout")
    assert not signed_in(copy)
    assert not signed_in(client)


def test_logging_out_in_one_browser_ends_the_session_in_the_other(app, staff):
    first, second = app.test_client(), app.test_client()
    login(first, "manager")
    login(second, "manager")
    first.post("/logout")
    assert not signed_in(second)


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client, staff):
    other = app.test_client()
    login(client, "manager")
    login(other, "manager")
    response = client.post("/change-password", data={"password": "New-password-2026", "confirm": "New-password-2026"})
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(other)
    assert login(other, "manager", "New-password-2026").status_code == 302
    assert signed_in(other)


def test_a_password_set_by_an_admin_ends_the_users_sessions(app, client, staff):
    victim = app.test_client()
    login(victim, "researcher")
    login(client, "admin")
    researcher = staff["researcher"]
    response = client.post(f"/admin/user/edit/?id={researcher.id}", data={
        "username": "researcher", "full_name": "researcher user", "role": "researcher", "active": "y",
        "language": "ar", "new_password": "Another-password-7"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert not signed_in(victim)
    assert signed_in(client)


def test_an_admin_ends_all_sessions_of_a_user(app, client, staff):
    victim, bystander = app.test_client(), app.test_client()
    login(victim, "researcher")
    login(bystander, "volunteer")
    login(client, "admin")
    response = client.post("/admin/user/action/", data={"action": "end_sessions",
                                                       "rowid": [str(staff["researcher"].id)]})
    assert response.status_code == 302
    assert not signed_in(victim)
    assert signed_in(bystander)
    assert signed_in(client)
    entry = AuditLog.get(AuditLog.action == "sessions_ended")
    assert (entry.record_id, entry.actor) == (staff["researcher"].id, "admin")
    assert login(victim, "researcher").status_code == 302 and signed_in(victim)


def test_only_an_admin_ends_sessions(app, client, staff):
    victim = app.test_client()
    login(victim, "researcher")
    login(client, "manager")
    client.post("/admin/user/action/", data={"action": "end_sessions", "rowid": [str(staff["researcher"].id)]})
    assert signed_in(victim)


def test_an_admin_ending_their_own_sessions_stays_signed_in_here(app, client, staff):
    elsewhere = app.test_client()
    login(elsewhere, "admin")
    login(client, "admin")
    client.post("/admin/user/action/", data={"action": "end_sessions", "rowid": [str(staff["admin"].id)]})
    assert signed_in(client)
    assert not signed_in(elsewhere)


def test_a_deactivated_user_is_signed_out_at_their_next_request(app, client, staff):
    victim = app.test_client()
    login(victim, "researcher")
    assert signed_in(victim)
    login(client, "admin")
    response = client.post(f"/admin/user/edit/?id={staff['researcher'].id}", data={
        "username": "researcher", "full_name": "researcher user", "role": "researcher", "language": "ar"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert not User.get_by_id(staff["researcher"].id).active
    assert not signed_in(victim)
    assert login(victim, "researcher").status_code == 200  # refused: the form again
    # Activated again later, the old cookie stays dead: deactivation ended its sessions too.
    User.update(active=True).where(User.id == staff["researcher"].id).execute()
    assert not signed_in(victim)


def test_a_session_made_before_session_versions_existed_is_refused(app, client, staff):
    login(client, "manager")
    with client.session_transaction() as session:
        session.pop("_session_version")
    assert not signed_in(client)


def test_users_see_their_last_sign_ins_with_time_address_and_browser(app, client, staff):
    client.post("/login", data={"username": "manager", "password": PASSWORD},
                headers={"User-Agent": ANDROID_CHROME}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    client.post("/logout")
    client.post("/login", data={"username": "manager", "password": PASSWORD},
                headers={"User-Agent": FIREFOX}, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    login(app.test_client(), "researcher")  # someone else's sign-in is not listed
    page = client.get("/account", headers={"User-Agent": FIREFOX}, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "10.1.2.3" in html and "192.0.2.44" in html
    assert "Chrome on Android" in html and "Firefox on Windows" in html
    assert html.index("192.0.2.44") < html.index("10.1.2.3")  # newest first
    rows = list(SignIn.select().where(SignIn.user == staff["manager"].id))
    assert len(rows) == 2 and {r.ip for r in rows} == {"10.1.2.3", "192.0.2.44"}
    assert SignIn.select().where(SignIn.user == staff["researcher"].id).count() == 1


def test_the_account_page_is_linked_from_the_panel_and_needs_a_login(client, staff):
    assert "/login" in client.get("/account").headers["Location"]
    login(client, "volunteer")
    assert 'href="/account"' in client.get("/admin/").get_data(as_text=True)


def test_a_failed_sign_in_is_not_in_the_history(client, staff):
    client.post("/login", data={"username": "manager", "password": "wrong-password-1"})
    assert SignIn.select().count() == 0


def test_a_hostile_user_agent_is_stored_cut_and_shown_escaped(client, staff):
    client.post("/login", data={"username": "manager", "password": PASSWORD},
                headers={"User-Agent": "<script>alert(1)</script>" + "x" * 5000})
    html = client.get("/account").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert len(SignIn.get().user_agent) <= 300


def test_sign_ins_past_their_retention_period_are_deleted_by_the_run(app, staff):
    """Sign-in history is personal data (models/personal_data.py): kept for its period, then deleted."""
    years = retention.periods()["sign_ins"]
    old = utcnow() - datetime.timedelta(days=366 * years + 1)
    kept = SignIn.create(user=staff["manager"], at=utcnow(), ip="192.0.2.1", user_agent=FIREFOX)
    gone = SignIn.create(user=staff["manager"], at=old, created_at=old, ip="192.0.2.2", user_agent=FIREFOX)
    report = retention.due()
    assert report.staff_rows == {"sign_ins": 1}
    result = retention.run("cli")
    assert SignIn.get_or_none(SignIn.id == gone.id) is None
    assert SignIn.get_or_none(SignIn.id == kept.id) is not None
    assert result.run.counts and "sign_ins" in result.run.counts
    entry = AuditLog.get(AuditLog.action == "retention_run")
    assert '"sign_ins": 1' in entry.details


def test_sign_in_history_is_in_the_record_of_processing(client, staff):
    login(client, "admin")
    html = client.get("/admin/processing/").get_data(as_text=True)
    assert "Staff sign-in history" in html and "sign_in.ip" in html and "sign_in.user_agent" in html


def test_end_sessions_service_bumps_the_version_and_audits(app, staff):
    before = User.get_by_id(staff["volunteer"].id).session_version
    users.end_sessions(staff["volunteer"], actor=staff["admin"])
    assert User.get_by_id(staff["volunteer"].id).session_version == before + 1
    assert AuditLog.get(AuditLog.action == "sessions_ended").actor == "admin"


def test_the_retention_screen_says_how_many_sign_ins_are_past_their_period(client, staff):
    old = utcnow() - datetime.timedelta(days=366 * retention.periods()["sign_ins"] + 1)
    SignIn.create(user=staff["manager"], at=old, created_at=old, ip="192.0.2.2")
    login(client, "admin")
    html = client.get("/admin/retention/").get_data(as_text=True)
    assert "Staff sign-in history (each sees their own): 1 record is past its period" in html
    assert 'name="years_sign_ins"' in html  # its period is set like the others
