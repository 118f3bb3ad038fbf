"""Service request screens over HTTP: 403 outside the scope, filters, bulk actions, CSRF."""
import datetime
import re

import pytest
from conftest import csrf_token, make_beneficiary, make_request

from models import AuditLog, Service, ServiceRequest, VerificationVisit
from services import users


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def _other_researcher():
    return users.create_user("researcher2", "researcher", "correct-horse-42")


def test_researcher_gets_403_on_another_researchers_request(client, login_as, service):
    theirs = make_request(make_beneficiary(), service, researcher=_other_researcher())
    visit = VerificationVisit.create(request=theirs, method="interview")
    login_as("researcher")
    assert client.get(f"/admin/servicerequest/details/?id={theirs.id}").status_code == 403
    assert client.get(f"/admin/servicerequest/edit/?id={theirs.id}").status_code == 403
    assert client.get(f"/admin/verificationvisit/details/?id={visit.id}").status_code == 403


def test_volunteer_cannot_edit_a_request_once_submitted(client, login_as, service):
    r = make_request(make_beneficiary(), service, status="submitted")
    ServiceRequest.update(created_by="volunteer").where(ServiceRequest.id == r.id).execute()
    login_as("volunteer")
    assert client.get(f"/admin/servicerequest/details/?id={r.id}").status_code == 200
    assert client.get(f"/admin/servicerequest/edit/?id={r.id}").status_code == 403


def _list(client, **args):
    return client.get("/admin/servicerequest/", query_string=args).get_data(as_text=True)


def test_list_filters_by_status_service_and_overdue(client, login_as, service):
    other_service = Service.create(name_ar="كفالة", name_en="Sponsorship")
    b = make_beneficiary()
    late = make_request(b, service, status="submitted", decision_due=datetime.date(2020, 1, 1))
    draft = make_request(b, other_service)
    login_as("manager")
    html = _list(client, flt_status_equals="submitted")
    assert late.number in html and draft.number not in html
    html = _list(client, flt_service_equals=other_service.id)
    assert draft.number in html and late.number not in html
    html = _list(client, flt_overdue_is="1")
    assert late.number in html and draft.number not in html


def test_bulk_status_change_moves_the_allowed_rows_and_lists_the_refused(client, login_as, service):
    b = make_beneficiary()
    ok1, ok2 = make_request(b, service), make_request(b, service)
    closed = make_request(b, service, status="closed")
    login_as("manager")
    html = client.post("/admin/servicerequest/bulk/apply/", data={
        "kind": "status", "status": "submitted", "rowid": [ok1.id, ok2.id, closed.id]},
        follow_redirects=True).get_data(as_text=True)
    statuses = {r.id: r.status for r in ServiceRequest.select()}
    assert statuses == {ok1.id: "submitted", ok2.id: "submitted", closed.id: "closed"}
    assert closed.number in html and "cannot move" in html
    assert "2 requests were changed." in html
    moved = AuditLog.select().where((AuditLog.action == "status") & (AuditLog.model == "ServiceRequest"))
    assert sorted(a.record_id for a in moved) == sorted([ok1.id, ok2.id])


def test_bulk_assign_researcher(client, login_as, staff, service):
    b = make_beneficiary()
    rows = [make_request(b, service), make_request(b, service)]
    login_as("manager")
    client.post("/admin/servicerequest/bulk/apply/", data={
        "kind": "assign", "researcher": staff["researcher"].id, "rowid": [r.id for r in rows]})
    assert {r.researcher_id for r in ServiceRequest.select()} == {staff["researcher"].id}
    assert AuditLog.select().where((AuditLog.action == "update") & (AuditLog.model == "ServiceRequest")).count() == 2


def test_board_cannot_apply_bulk_actions(client, login_as, service):
    r = make_request(make_beneficiary(), service)
    login_as("board")
    response = client.post("/admin/servicerequest/bulk/apply/", data={
        "kind": "status", "status": "withdrawn", "rowid": [r.id]})
    assert response.status_code == 403
    assert ServiceRequest.get_by_id(r.id).status == "draft"


def test_post_without_csrf_token_is_refused_and_with_it_accepted(app, client, login_as, service):
    b = make_beneficiary()
    login_as("volunteer")
    app.config["WTF_CSRF_ENABLED"] = True
    data = {"beneficiary": b.id, "service": service.id, "channel": "phone"}
    assert client.post("/admin/servicerequest/new/", data=data).status_code == 400
    assert ServiceRequest.select().count() == 0
    token = csrf_token(client.get("/admin/servicerequest/new/").get_data(as_text=True))
    response = client.post("/admin/servicerequest/new/", data=dict(data, csrf_token=token))
    assert response.status_code == 302
    assert ServiceRequest.select().count() == 1


def test_request_list_queries_do_not_grow_with_the_rows(client, login_as, staff, service):
    """The list loads beneficiary, service and researcher with the rows, not one query per row."""
    from playhouse.test_utils import count_queries
    login_as("manager")
    b = make_beneficiary()

    def queries_for_list():
        with count_queries() as counter:
            assert client.get("/admin/servicerequest/").status_code == 200
        return counter.count

    for _ in range(2):
        make_request(b, service, researcher=staff["researcher"])
    few = queries_for_list()
    for _ in range(15):
        make_request(b, service, researcher=staff["researcher"])
    assert queries_for_list() == few


def test_filters_keep_their_url_names_in_arabic(client, login_as, service):
    """The filter form in Arabic posts the same names the list understands (flt_status_equals …)."""
    b = make_beneficiary()
    late = make_request(b, service, status="submitted", decision_due=datetime.date(2020, 1, 1))
    draft = make_request(b, service)
    login_as("manager")
    client.get("/lang/ar")
    html = client.get("/admin/servicerequest/").get_data(as_text=True)
    args = re.findall(r'"arg": "([^"]*)"', html)
    assert "status_equals" in args and "overdue_is" in args and len(args) == len(set(args))
    html = _list(client, flt_overdue_is="1")
    assert late.number in html and draft.number not in html
