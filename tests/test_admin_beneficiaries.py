"""Beneficiary screens over HTTP: forms, household inline, duplicates, audit, search, delete."""
import json

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, Beneficiary, HouseholdMember


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")

FORM = {"full_name": "أحمد محمد", "id_type": "national_id", "id_number": "١٠٠٠٠٠٠٠٠٨", "nationality": "SA",
        "language": "ar", "gender": "male", "mobile": "٠٥٠ ١٢٣ ٤٥٦٧", "city": "بحرة", "district": "بحرة"}


def _create(client, **changes):
    data = dict(FORM, **changes)
    return client.post("/admin/beneficiary/new/", data=data, follow_redirects=True)


def test_create_with_arabic_indic_digits_stores_them_normalised(client, login_as):
    login_as("volunteer")
    response = _create(client)
    assert response.status_code == 200
    b = Beneficiary.get()
    assert (b.id_number, b.mobile, b.reference) == ("1000000008", "+966501234567", f"BEN-{b.id:06d}")


def test_invalid_check_digit_is_explained_and_nothing_saved(client, login_as):
    login_as("volunteer")
    html = _create(client, id_number="1000000009").get_data(as_text=True)
    assert "check digit is wrong" in html
    assert Beneficiary.select().count() == 0


def test_duplicate_id_names_and_links_the_existing_record_and_saves_nothing(client, login_as):
    existing = make_beneficiary()
    login_as("researcher")
    html = _create(client, full_name="شخص آخر").get_data(as_text=True)
    assert f"already registered for beneficiary {existing.reference}" in html
    assert f'href="/admin/beneficiary/details/?id={existing.id}"' in html
    assert Beneficiary.select().count() == 1


def test_household_is_saved_with_the_beneficiary(client, login_as):
    login_as("volunteer")
    _create(client, **{"household-0-name": "فاطمة", "household-0-relation": "زوجة",
                       "household-0-id_type": "national_id", "household-0-id_number": "1000000016"})
    member = HouseholdMember.get()
    assert (member.beneficiary.full_name, member.id_number) == ("أحمد محمد", "1000000016")


def test_household_members_are_in_the_beneficiarys_audit_row(client, login_as):
    login_as("volunteer")
    _create(client, **{"household-0-name": "فاطمة", "household-0-relation": "زوجة"})
    member = HouseholdMember.get()
    changes = json.loads(AuditLog.get((AuditLog.action == "create") & (AuditLog.model == "Beneficiary")).changes)
    assert changes[f"HouseholdMember:{member.id}"][0] is None
    assert changes[f"HouseholdMember:{member.id}"][1]["name"] == "فاطمة"


def test_bad_household_member_id_saves_neither_beneficiary_nor_members(client, login_as):
    login_as("volunteer")
    html = _create(client, **{"household-0-name": "فاطمة", "household-0-relation": "زوجة",
                              "household-0-id_type": "national_id", "household-0-id_number": "1000000017",
                              "household-1-name": "علي", "household-1-relation": "ابن"}).get_data(as_text=True)
    assert "check digit is wrong" in html
    assert Beneficiary.select().count() == 0
    assert HouseholdMember.select().count() == 0


def _audit(action, record_id):
    row = AuditLog.get((AuditLog.action == action) & (AuditLog.model == "Beneficiary") & (AuditLog.record_id == record_id))
    return json.loads(row.changes)


def test_create_update_delete_are_audited_field_by_field(client, login_as):
    login_as("admin")
    _create(client)
    b = Beneficiary.get()
    assert _audit("create", b.id)["id_number"] == [None, "1000000008"]
    client.post(f"/admin/beneficiary/edit/?id={b.id}", data=dict(FORM, city="جدة"), follow_redirects=True)
    assert Beneficiary.get_by_id(b.id).city == "جدة"
    changes = _audit("update", b.id)
    assert changes["city"] == ["بحرة", "جدة"]
    assert "id_number" not in changes
    client.post("/admin/beneficiary/delete/", data={"id": b.id}, follow_redirects=True)
    assert Beneficiary.get_or_none(Beneficiary.id == b.id) is None
    assert _audit("delete", b.id)["full_name"] == ["أحمد محمد", None]


def test_delete_of_a_beneficiary_with_a_request_is_refused_and_explained(client, login_as, service):
    b = make_beneficiary()
    make_request(b, service)
    login_as("admin")
    html = client.post("/admin/beneficiary/delete/", data={"id": b.id}, follow_redirects=True).get_data(as_text=True)
    assert "cannot be deleted" in html and "ServiceRequest" in html
    assert Beneficiary.get_or_none(Beneficiary.id == b.id) is not None


def test_bulk_delete_deletes_the_free_rows_and_lists_the_refused(client, login_as, service):
    free = make_beneficiary(full_name="سالم", id_number="1000000016", mobile=None)
    held = make_beneficiary()
    make_request(held, service)
    login_as("admin")
    html = client.post("/admin/beneficiary/action/", data={"action": "delete", "rowid": [free.id, held.id]},
                       follow_redirects=True).get_data(as_text=True)
    assert Beneficiary.get_or_none(Beneficiary.id == free.id) is None
    assert Beneficiary.get_or_none(Beneficiary.id == held.id) is not None
    assert held.reference in html and "cannot be deleted" in html


def test_manager_cannot_delete_even_by_posting_the_action(client, login_as):
    b = make_beneficiary()
    login_as("manager")
    client.post("/admin/beneficiary/action/", data={"action": "delete", "rowid": [b.id]})
    assert client.post("/admin/beneficiary/delete/", data={"id": b.id}).status_code == 403
    assert Beneficiary.get_or_none(Beneficiary.id == b.id) is not None


def _search(client, term):
    return client.get("/admin/beneficiary/", query_string={"search": term}).get_data(as_text=True)


def test_search_finds_name_variants(client, login_as):
    make_beneficiary(full_name="أحمد عبدالله")
    make_beneficiary(full_name="سالم", id_number="1000000016", mobile=None)
    login_as("researcher")
    assert "أحمد عبدالله" in _search(client, "احمد")
    assert "أحمد عبدالله" in _search(client, "عبد الله")
    assert "أحمد عبدالله" not in _search(client, "سالم")


def test_search_by_last_id_digits_and_by_spaced_mobile(client, login_as):
    make_beneficiary(full_name="أحمد")
    make_beneficiary(full_name="سالم", id_number="1000000016", mobile="0551112222")
    login_as("researcher")
    html = _search(client, "0008")
    assert "أحمد" in html and "سالم" not in html
    html = _search(client, "050 123 4567")
    assert "أحمد" in html and "سالم" not in html
