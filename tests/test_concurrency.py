"""Two people editing the same record: optimistic concurrency with a version column (issue 9).

The forms carry the version they were loaded with; the UPDATE is conditional on it, so the second of
two saves started from the same version is refused with what changed, and nothing is overwritten.
SQLite under several processes: a write that cannot get the lock is refused with a page, not a 500.
"""
import sqlite3
from html.parser import HTMLParser

import pytest
from conftest import login, make_beneficiary, make_request

from app import create_app
from models import AuditLog, Beneficiary, RequestTransition, ServiceRequest, current_actor, db
from services import concurrency, workflow
from services.concurrency import StaleRecord


class _FormReader(HTMLParser):
    """Read the fields of the first form of a page as a browser would send them."""

    def __init__(self, css_class: str = "admin-form"):
        super().__init__()
        self.css_class, self.inside, self.done = css_class, False, False
        self.fields: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self.done and self.css_class in (a.get("class") or "").split():
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def edit_form(client, url: str) -> dict:
    """Open an edit page and return the fields its form would post."""
    response = client.get(url)
    assert response.status_code == 200
    reader = _FormReader()
    reader.feed(response.get_data(as_text=True))
    assert "loaded_version" in reader.fields, "the edit form carries the version it was loaded with"
    return reader.fields


@pytest.fixture
def two_clients(app, staff):
    """A manager and a researcher, each logged in on their own client (two browsers), in English."""
    clients = {}
    for role in ("manager", "researcher"):
        c = app.test_client()
        c.get("/lang/en")
        assert login(c, role).status_code == 302
        clients[role] = c
    return clients


def test_second_save_of_a_beneficiary_is_refused_showing_what_changed(two_clients, staff):
    """Issue 9: both load the form, both save; the second is told who changed which field to what."""
    b = make_beneficiary(city="بحرة")
    url = f"/admin/beneficiary/edit/?id={b.id}"
    first, second = edit_form(two_clients["manager"], url), edit_form(two_clients["researcher"], url)
    assert first["loaded_version"] == second["loaded_version"] == str(b.version)

    saved = two_clients["manager"].post(url, data=dict(first, city="جدة"))
    assert saved.status_code == 302
    refused = two_clients["researcher"].post(url, data=dict(second, city="مكة", notes="زارنا اليوم"))
    html = refused.get_data(as_text=True)

    assert refused.status_code == 200  # the form again, not a redirect: nothing was saved
    assert "after you opened it. Nothing was saved." in html
    assert "manager user (manager)" in html  # who changed it
    assert "Their changes:" in html and "City" in html and "جدة" in html
    assert "Changed meanwhile to: جدة" in html  # beside the field itself
    stored = Beneficiary.get_by_id(b.id)
    assert (stored.city, stored.notes) == ("جدة", None)
    assert stored.version == b.version + 1
    # The researcher's typed values are still in the form.
    reader = _FormReader()
    reader.feed(html)
    assert reader.fields["city"] == "مكة" and reader.fields["notes"].strip() == "زارنا اليوم"
    assert AuditLog.select().where((AuditLog.action == "update") & (AuditLog.model == "Beneficiary")).count() == 1


def test_saving_again_after_the_refusal_is_a_deliberate_overwrite(two_clients):
    """After the message the form starts from the current version: a second press saves the typed values."""
    b = make_beneficiary(city="بحرة")
    url = f"/admin/beneficiary/edit/?id={b.id}"
    first, second = edit_form(two_clients["manager"], url), edit_form(two_clients["researcher"], url)
    two_clients["manager"].post(url, data=dict(first, city="جدة"))
    html = two_clients["researcher"].post(url, data=dict(second, city="مكة")).get_data(as_text=True)
    reader = _FormReader()
    reader.feed(html)
    assert reader.fields["loaded_version"] == str(Beneficiary.get_by_id(b.id).version)
    assert two_clients["researcher"].post(url, data=reader.fields).status_code == 302
    assert Beneficiary.get_by_id(b.id).city == "مكة"


def test_edits_of_different_records_do_not_disturb_each_other(two_clients):
    a, b = make_beneficiary(), make_beneficiary(id_number="1000000016", mobile="0501234568")
    form_a = edit_form(two_clients["manager"], f"/admin/beneficiary/edit/?id={a.id}")
    form_b = edit_form(two_clients["researcher"], f"/admin/beneficiary/edit/?id={b.id}")
    assert two_clients["manager"].post(f"/admin/beneficiary/edit/?id={a.id}", data=dict(form_a, city="جدة")).status_code == 302
    assert two_clients["researcher"].post(f"/admin/beneficiary/edit/?id={b.id}",
                                          data=dict(form_b, city="مكة")).status_code == 302
    assert (Beneficiary.get_by_id(a.id).city, Beneficiary.get_by_id(b.id).city) == ("جدة", "مكة")


def test_request_edit_form_is_refused_after_a_bulk_assignment(two_clients, staff, service):
    """A bulk action bumps the version too: a form opened before it cannot undo the assignment."""
    r = make_request(make_beneficiary(), service)
    url = f"/admin/servicerequest/edit/?id={r.id}"
    stale_form = edit_form(two_clients["manager"], url)
    done = two_clients["manager"].post("/admin/servicerequest/bulk/apply/", data={
        "kind": "assign", "researcher": staff["researcher"].id, "rowid": [r.id]})
    assert done.status_code == 302
    stored = ServiceRequest.get_by_id(r.id)
    assert stored.researcher_id == staff["researcher"].id and stored.version == r.version + 1

    html = two_clients["manager"].post(url, data=dict(stale_form, notes="ملاحظة")).get_data(as_text=True)
    assert "Nothing was saved." in html and "Researcher" in html and "researcher user" in html
    stored = ServiceRequest.get_by_id(r.id)
    assert (stored.researcher_id, stored.notes) == (staff["researcher"].id, None)


def test_bulk_status_change_still_works_and_bumps_every_version(two_clients, service):
    b = make_beneficiary()
    rows = [make_request(b, service), make_request(b, service)]
    response = two_clients["manager"].post("/admin/servicerequest/bulk/apply/", data={
        "kind": "status", "status": "submitted", "rowid": [r.id for r in rows]}, follow_redirects=True)
    assert "2 requests were changed." in response.get_data(as_text=True)
    for r in rows:
        stored = ServiceRequest.get_by_id(r.id)
        assert (stored.status, stored.version) == ("submitted", r.version + 1)


def test_a_service_level_change_from_an_old_copy_is_refused(app, staff, service):
    """Issue 9: two status changes started from the same reading; the second raises StaleRecord, no trace of it."""
    r = make_request(make_beneficiary(), service)
    mine, theirs = ServiceRequest.get_by_id(r.id), ServiceRequest.get_by_id(r.id)
    token = current_actor.set("manager")  # as the web layer sets it for the manager's request
    workflow.change_status(theirs, "withdrawn", staff["manager"], check_guards=False)
    current_actor.reset(token)
    with pytest.raises(StaleRecord) as refused:
        workflow.change_status(mine, "submitted", staff["researcher"], check_guards=False)
    assert "manager user (manager)" in refused.value.translate(lambda m, **p: m % p)
    assert refused.value.current.status == "withdrawn"
    assert ServiceRequest.get_by_id(r.id).status == "withdrawn"
    assert [t.to_status for t in RequestTransition.select().where(RequestTransition.request == r.id)] == ["withdrawn"]


def test_the_update_carries_the_condition(app):
    """save_if_unchanged: the loaded version wins over the one read later; the row's own save bumps it."""
    b = make_beneficiary()
    version = b.version
    b.city = "جدة"
    concurrency.save_if_unchanged(b, version)
    assert Beneficiary.get_by_id(b.id).version == version + 1
    b.city = "مكة"
    with pytest.raises(StaleRecord):
        concurrency.save_if_unchanged(b, version)  # a form loaded at the old version
    assert Beneficiary.get_by_id(b.id).city == "جدة"
    stored = Beneficiary.get_by_id(b.id)
    with pytest.raises(StaleRecord):
        concurrency.check_unchanged(stored, version)  # a page shown at the old version
    concurrency.check_unchanged(stored, version + 1)


def test_a_record_deleted_meanwhile_is_reported_as_deleted(app):
    b = make_beneficiary()
    copy = Beneficiary.get_by_id(b.id)
    Beneficiary.delete().where(Beneficiary.id == b.id).execute()
    copy.city = "جدة"
    with pytest.raises(StaleRecord) as refused:
        copy.save()
    assert refused.value.current is None and "was deleted" in refused.value.message


def test_bulk_update_queries_can_bump_the_version(app):
    b = make_beneficiary()
    (Beneficiary.update({Beneficiary.city: "جدة", **concurrency.version_bump(Beneficiary)})
     .where(Beneficiary.id == b.id).execute())
    assert Beneficiary.get_by_id(b.id).version == b.version + 1
    b.city = "مكة"
    with pytest.raises(StaleRecord):
        b.save()


# ---- a write that cannot get SQLite's lock --------------------------------------------------------
@pytest.fixture
def short_busy_timeout(app):
    """Make the app's connections give up after 50 ms instead of 10 s, and hold the write lock elsewhere."""
    database = db.obj
    saved = database._pragmas
    database._pragmas = [(k, 50 if k == "busy_timeout" else v) for k, v in saved]
    db.close()
    holder = sqlite3.connect(app.config["DATABASE_URL"].removeprefix("sqlite:///"), timeout=0)

    def hold():
        holder.execute("BEGIN IMMEDIATE")
    yield hold
    if holder.in_transaction:
        holder.rollback()
    holder.close()
    database._pragmas = saved


@pytest.mark.sqlite_only("holds SQLite's write lock from another connection")
def test_edit_form_while_the_database_is_locked_says_so_and_keeps_nothing(app, client, login_as, short_busy_timeout):
    """Issue 9: "database is locked" never reaches a user as a 500; the save is refused whole."""
    login_as("manager")
    client.get("/lang/en")
    b = make_beneficiary(city="بحرة")
    url = f"/admin/beneficiary/edit/?id={b.id}"
    form = edit_form(client, url)
    app.config["FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION"] = False
    short_busy_timeout()
    response = client.post(url, data=dict(form, city="جدة"))
    assert response.status_code == 200
    assert "The database is busy with other people&#39;s saves. Nothing was changed" in response.get_data(as_text=True)
    assert Beneficiary.get_by_id(b.id).city == "بحرة"


@pytest.mark.sqlite_only("holds SQLite's write lock from another connection")
def test_other_writes_while_the_database_is_locked_get_a_503_page(app, client, login_as, short_busy_timeout):
    login_as("manager")
    client.get("/lang/en")
    b = make_beneficiary()
    short_busy_timeout()
    response = client.post(f"/admin/beneficiary/consent/{b.id}",
                           data={"purpose": "contact_sms", "given": "withdrawn", "channel": "phone"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Nothing was changed: please try again in a moment." in response.get_data(as_text=True)


def test_other_database_errors_are_not_dressed_up_as_busy(app):
    from peewee import OperationalError
    assert concurrency.is_database_busy(OperationalError("database is locked"))
    assert not concurrency.is_database_busy(OperationalError("no such table: x"))
    fresh = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "PROPAGATE_EXCEPTIONS": False})

    @fresh.route("/broken")
    def broken():
        raise OperationalError("no such table: x")
    assert fresh.test_client().get("/broken").status_code == 500
