"""Bulk actions on every row matching the list's filter and search, across pages (issue 3)."""
import json
import re

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, DocumentType, Service, ServiceDocumentType, ServiceRequest


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


@pytest.fixture
def many(service):
    """25 submitted requests (more than a page of 20): 5 for a service whose document is missing."""
    strict = Service.create(name_ar="كفالة", name_en="Sponsorship")
    ServiceDocumentType.create(service=strict, document_type=DocumentType.create(name_ar="هوية", name_en="ID"))
    b = make_beneficiary()
    easy = [make_request(b, service, status="submitted") for _ in range(20)]
    blocked = [make_request(b, strict, status="submitted") for _ in range(5)]
    drafts = [make_request(b, service) for _ in range(3)]
    return easy, blocked, drafts


def _confirmation(client, action, query):
    """Choose an action with "all matching rows" ticked on the filtered list; return the confirmation page."""
    response = client.post(f"/admin/servicerequest/action/?{query}", data={
        "action": action, "all_matching": "1", "url": f"/admin/servicerequest/?{query}"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_list_offers_all_matching_rows_with_the_count(client, login_as, many):
    login_as("manager")
    html = client.get("/admin/servicerequest/?flt_status_equals=submitted").get_data(as_text=True)
    assert "Act on all 25 matching rows" in html
    assert 'action="/admin/servicerequest/action/?flt_status_equals=submitted"' in html


def test_status_change_on_all_matching_rows_moves_every_page_and_lists_the_refused(client, login_as, many):
    easy, blocked, drafts = many
    login_as("manager")
    html = _confirmation(client, "change_status", "flt_status_equals=submitted")
    assert "25 requests selected." in html
    ids = re.findall(r'name="rowid" value="(\d+)"', html)
    assert sorted(map(int, ids)) == sorted(r.id for r in easy + blocked)
    selection = json.loads(re.search(r'name="selection" value="([^"]*)"', html).group(1).replace("&#34;", '"'))
    html = client.post("/admin/servicerequest/bulk/apply/", data={
        "kind": "status", "status": "under_verification", "rowid": ids, "selection": json.dumps(selection)},
        follow_redirects=True).get_data(as_text=True)
    assert "20 requests were changed." in html
    for r in blocked:
        assert f"{r.number}: Required documents are not all verified" in html
    statuses = {r.id: r.status for r in ServiceRequest.select()}
    assert all(statuses[r.id] == "under_verification" for r in easy)
    assert all(statuses[r.id] == "submitted" for r in blocked)
    assert all(statuses[r.id] == "draft" for r in drafts)
    summary = json.loads(AuditLog.get(AuditLog.action == "bulk").details)
    assert summary["selection"] == "all_matching" and summary["count"] == 25
    assert summary["filters"] == [["Status", "submitted"]]
    assert len(summary["done"]) == 20 and len(summary["refused"]) == 5
    assert AuditLog.select().where(AuditLog.action == "status").count() == 20


def test_all_matching_follows_the_search_too(client, login_as, many):
    easy, _blocked, _drafts = many
    login_as("manager")
    html = _confirmation(client, "change_status", f"search={easy[3].number}")
    assert re.findall(r'name="rowid" value="(\d+)"', html) == [str(easy[3].id)]


def test_all_matching_stays_inside_the_role_scope(client, login_as, staff, many):
    easy, _blocked, _drafts = many
    ServiceRequest.update(researcher=staff["researcher"]).where(ServiceRequest.id == easy[0].id).execute()
    login_as("researcher")
    html = _confirmation(client, "change_status", "flt_status_equals=submitted")
    assert re.findall(r'name="rowid" value="(\d+)"', html) == [str(easy[0].id)]


def test_an_action_the_role_may_not_use_is_refused_for_all_matching(client, login_as, many):
    login_as("researcher")
    response = client.post("/admin/servicerequest/action/?flt_status_equals=submitted", data={
        "action": "decide", "all_matching": "1", "url": "/admin/servicerequest/"})
    assert response.status_code == 403


def test_delete_of_all_matching_rows_refuses_those_with_dependants_and_audits_the_filter(client, login_as, service):
    kept = make_beneficiary()
    make_request(kept, service)
    free = [make_beneficiary(full_name=f"سالم {n}", id_number=number, mobile=None)
            for n, number in enumerate(("1000000016", "1000000024"))]
    login_as("admin")
    response = client.post("/admin/beneficiary/action/?search=", data={
        "action": "delete", "all_matching": "1", "url": "/admin/beneficiary/"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "2 records were deleted." in html
    assert kept.reference in html
    summary = json.loads(AuditLog.get(AuditLog.action == "bulk").details)
    assert (summary["action"], summary["selection"], summary["count"]) == ("delete", "all_matching", 3)
    assert sorted(summary["done"]) == sorted(b.id for b in free)
