"""Every look at a beneficiary's full record is logged, and a manager finds it in the audit log (PDPL)."""
import json
import re

import pytest
from conftest import make_beneficiary

from models import AuditLog


def _views():
    return list(AuditLog.select().where(AuditLog.action == "view").order_by(AuditLog.id))


def _cells(html: str, column: str) -> list[str]:
    return [cell.strip() for cell in re.findall(rf'<td class="col-{column}">(.*?)</td>', html, re.S)]


def test_details_page_writes_one_view_row_with_who_and_which_record(client, login_as, staff):
    b = make_beneficiary()
    login_as("researcher")
    assert client.get(f"/admin/beneficiary/details/?id={b.id}").status_code == 200
    [row] = _views()
    assert (row.actor, row.model, row.record_id) == ("researcher", "Beneficiary", b.id)
    assert row.at is not None and json.loads(row.details) == {"page": "details"}


def test_edit_page_is_a_view_of_the_full_record(client, login_as, staff):
    b = make_beneficiary()
    login_as("volunteer")
    assert client.get(f"/admin/beneficiary/edit/?id={b.id}").status_code == 200
    [row] = _views()
    assert (row.actor, row.record_id, json.loads(row.details)) == ("volunteer", b.id, {"page": "edit"})


def test_board_view_is_logged_too(client, login_as, staff):
    b = make_beneficiary()
    login_as("board")
    assert client.get(f"/admin/beneficiary/details/?id={b.id}").status_code == 200
    assert [(r.actor, r.record_id) for r in _views()] == [("board", b.id)]


def test_refused_edit_page_writes_no_view(client, login_as, staff):
    b = make_beneficiary()
    login_as("board")
    assert client.get(f"/admin/beneficiary/edit/?id={b.id}").status_code == 403
    assert _views() == []


@pytest.mark.parametrize("page", ["details", "edit"])
def test_missing_record_writes_no_view(client, login_as, staff, page):
    login_as("manager")
    response = client.get(f"/admin/beneficiary/{page}/?id=999")
    assert response.status_code in (302, 404)
    assert _views() == []


def test_list_and_anonymous_visits_write_no_view(client, login_as, staff):
    b = make_beneficiary()
    assert client.get(f"/admin/beneficiary/details/?id={b.id}").status_code == 302  # to the login page
    login_as("manager")
    assert client.get("/admin/beneficiary/").status_code == 200
    assert _views() == []


def test_saving_the_edit_form_is_not_logged_as_a_view(client, login_as, staff):
    b = make_beneficiary()
    login_as("manager")
    response = client.post(f"/admin/beneficiary/edit/?id={b.id}", data={"full_name": ""})
    assert response.status_code == 200  # refused and shown again: a name is required
    assert _views() == []


def test_manager_finds_the_views_in_the_audit_log_by_action_and_record(client, login_as, staff):
    seen, other = make_beneficiary(), make_beneficiary(full_name="سالم علي", id_number="1000000016")
    login_as("board")
    client.get(f"/admin/beneficiary/details/?id={seen.id}")
    login_as("researcher")
    client.get(f"/admin/beneficiary/details/?id={other.id}")
    login_as("manager")
    client.get("/lang/en")
    html = client.get(f"/admin/auditlog/?flt0_action_equals=view&flt1_record_equals={seen.id}").get_data(
        as_text=True)
    assert _cells(html, "actor") == ["board"]
    assert _cells(html, "action") == ["Full record viewed"]
    assert _cells(html, "record_id") == [str(seen.id)]
    html = client.get("/admin/auditlog/?flt0_action_equals=view").get_data(as_text=True)
    assert sorted(_cells(html, "actor")) == ["board", "researcher"]


@pytest.mark.parametrize("role", ["researcher", "volunteer", "board"])
def test_only_managers_and_admins_read_the_log(client, login_as, staff, role):
    login_as(role)
    assert client.get("/admin/auditlog/?flt0_action_equals=view").status_code == 403
