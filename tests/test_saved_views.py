"""Saved views per user and role, built-in views, and remembered column choices (issue 3)."""
import datetime
import re

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, ColumnChoice, SavedView
from services import saved_views
from services.errors import PermissionDenied, ValidationError


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


def _menu(client):
    """Return {name: count} of the navbar's Views menu: its names on the page, its counts as opening it fetches them."""
    html = client.get("/admin/").get_data(as_text=True)
    names = set()
    if ">Views<" in html:
        menu = html[html.index(">Views<"):]
        menu = menu[:menu.index("</div>")]
        names = {name.strip() for name in re.findall(r"<span>([^<]+?)(?:\s*<small[^>]*>[^<]*</small>)?</span>", menu)}
    counts = {item["name"]: item["count"] for item in client.get("/admin/views-menu/").get_json()["items"]}
    assert set(counts) == names
    return counts


def _header(html):
    """Return the list table's header row."""
    return html[html.index("<thead"):html.index("</thead>")]


def test_each_role_gets_its_built_in_views_with_live_counts(client, login_as, staff, service):
    b = make_beneficiary()
    make_request(b, service, status="under_evaluation")
    make_request(b, service, status="submitted", decision_due=datetime.date(2020, 1, 1), researcher=staff["researcher"])
    make_request(b, service, status="submitted", researcher=staff["researcher"])
    login_as("manager")
    menu = _menu(client)
    assert menu["Awaiting decision"] == 1 and menu["Overdue requests"] == 1
    login_as("researcher")
    menu = _menu(client)
    assert menu["My open requests"] == 2 and menu["Overdue requests"] == 1
    assert "Awaiting decision" not in menu


def test_a_saved_view_keeps_filters_search_and_columns_and_is_private(client, login_as, staff, service):
    b = make_beneficiary()
    wanted = make_request(b, service, status="submitted", channel="phone")
    make_request(b, service, status="submitted")
    login_as("researcher")
    response = client.post("/admin/servicerequest/views/save/", data={
        "name": "هاتفية", "query": "flt_channel_equals=phone&page=2&url=/x", "with_columns": "1"})
    view = SavedView.get()
    assert view.query == "flt_channel_equals=phone" and view.owner_id == staff["researcher"].id
    assert response.headers["Location"].endswith(f"?flt_channel_equals=phone&view={view.id}")
    login_as("manager")
    assert "هاتفية" not in client.get("/admin/").get_data(as_text=True)
    login_as("researcher")
    ServiceRequestCount = _menu(client)["هاتفية"]
    assert ServiceRequestCount == 0  # the researcher sees only requests assigned to them
    from models import ServiceRequest
    ServiceRequest.update(researcher=staff["researcher"]).execute()
    assert _menu(client)["هاتفية"] == 1
    html = client.get(f"/admin/servicerequest/?flt_channel_equals=phone&view={view.id}").get_data(as_text=True)
    assert wanted.number in html


def test_a_manager_shares_a_view_with_a_role_and_a_researcher_cannot(client, login_as, staff, service):
    login_as("manager")
    client.post("/admin/servicerequest/views/save/", data={
        "name": "Field visits", "query": "flt_status_equals=under_verification", "shared_role": "researcher"})
    login_as("researcher")
    assert "Field visits" in _menu(client)
    html = client.post("/admin/servicerequest/views/save/", data={
        "name": "Mine for all", "query": "", "shared_role": "volunteer"}, follow_redirects=True).get_data(as_text=True)
    assert "Only a manager shares views with a role." in html
    assert SavedView.select().count() == 1


def test_only_the_owner_deletes_a_view(client, login_as, staff, service):
    view = saved_views.save_view(staff["manager"], "Mine", "servicerequest", "", None, "researcher")
    with pytest.raises(PermissionDenied):
        saved_views.delete_view(view, staff["researcher"])
    login_as("researcher")
    client.post(f"/admin/servicerequest/views/delete/{view.id}")
    assert SavedView.select().count() == 1
    login_as("manager")
    client.post(f"/admin/servicerequest/views/delete/{view.id}")
    assert not SavedView.select().exists()
    assert AuditLog.select().where((AuditLog.model == "SavedView") & (AuditLog.action == "delete")).count() == 1


def test_view_names_are_required_and_unique_per_list(staff):
    with pytest.raises(ValidationError):
        saved_views.save_view(staff["manager"], "  ", "servicerequest", "", None)
    saved_views.save_view(staff["manager"], "A", "servicerequest", "", None)
    with pytest.raises(ValidationError):
        saved_views.save_view(staff["manager"], "A", "servicerequest", "", None)
    saved_views.save_view(staff["manager"], "A", "beneficiary", "", None)


def test_column_choice_is_remembered_per_user(client, login_as, staff, service):
    make_request(make_beneficiary(), service, status="submitted")
    login_as("manager")
    header = client.get("/admin/servicerequest/").get_data(as_text=True)
    assert "Decision due" in header and "Channel" in header
    client.post("/admin/servicerequest/columns/", data={"column": ["number", "beneficiary", "status"]})
    header = _header(client.get("/admin/servicerequest/").get_data(as_text=True))
    assert "Channel" not in header and "Decision due" not in header and "Status" in header
    assert ColumnChoice.get().user_id == staff["manager"].id
    login_as("admin")
    assert "Decision due" in _header(client.get("/admin/servicerequest/").get_data(as_text=True))


def test_hiding_every_column_is_refused(client, login_as):
    login_as("manager")
    html = client.post("/admin/servicerequest/columns/", data={"column": ["nonsense"]},
                       follow_redirects=True).get_data(as_text=True)
    assert "Keep at least one column." in html and not ColumnChoice.select().exists()


def test_the_board_cannot_choose_columns_it_may_not_see(client, login_as):
    make_beneficiary()
    login_as("board")
    client.post("/admin/beneficiary/columns/", data={"column": ["reference", "id_number", "mobile"]})
    html = client.get("/admin/beneficiary/").get_data(as_text=True)
    assert "1000000008" not in html and "ID number" not in _header(html)
