"""The personal-data incident register: validation, the 72-hour deadline, who may use it, and its audit (PDPL)."""
import datetime
import json

import pytest

from models import AuditLog, Incident, utcnow
from services import incidents
from services.errors import TransitionRefused, ValidationError

NOW = datetime.datetime(2026, 3, 1, 9, 0)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def _create(staff, now=NOW, **fields):
    values = {"what": "A laptop with the visit reports was stolen", "discovered_at": NOW - 10 * HOUR}
    return incidents.create(staff["manager"], now=now, **{**values, **fields})


def test_deadline_is_72_hours_after_discovery(staff):
    incident = _create(staff)
    assert incidents.deadline(incident) == NOW - 10 * HOUR + 72 * HOUR
    assert incidents.remaining(incident, NOW) == 62 * HOUR


def test_countdown_runs_turns_urgent_under_24_hours_then_overdue(staff):
    incident = _create(staff)
    assert incidents.countdown(incident, NOW) == ("running", 62)
    assert incidents.countdown(incident, NOW + 40 * HOUR) == ("urgent", 22)
    assert incidents.countdown(incident, NOW + 65 * HOUR) == ("overdue", 3)


def test_countdown_stops_once_the_authority_is_notified(staff):
    incident = _create(staff, authority_notified_at=NOW - HOUR)
    assert incidents.countdown(incident, NOW + 100 * HOUR) == ("notified", None)


@pytest.mark.parametrize("fields, field", [
    ({"what": "  "}, "what"),
    ({"discovered_at": None}, "discovered_at"),
    ({"discovered_at": NOW + 2 * HOUR}, "discovered_at"),
    ({"affected_count": -1}, "affected_count"),
    ({"authority_notified_at": NOW - 11 * HOUR}, "authority_notified_at"),
    ({"persons_notified_at": NOW + 3 * HOUR}, "persons_notified_at"),
])
def test_invalid_incident_is_refused_and_nothing_is_saved(staff, fields, field):
    with pytest.raises(ValidationError) as err:
        _create(staff, **fields)
    assert err.value.field == field
    assert Incident.select().count() == 0


def test_create_records_who_and_an_audit_row(staff):
    incident = _create(staff, affected="Beneficiaries visited in 2025", affected_count=40)
    assert incident.status == "open" and incident.recorded_by_id == staff["manager"].id
    row = AuditLog.get(AuditLog.action == "create", AuditLog.model == "Incident")
    assert row.record_id == incident.id and row.actor == "manager"
    assert json.loads(row.changes)["affected_count"] == [None, 40]


def test_update_keeps_before_and_after_in_the_audit(staff):
    incident = _create(staff)
    incidents.update(incident, staff["admin"], now=NOW, authority_notified_at=NOW - HOUR)
    row = AuditLog.get(AuditLog.action == "update", AuditLog.model == "Incident")
    assert json.loads(row.changes)["authority_notified_at"] == [None, (NOW - HOUR).isoformat()]
    assert row.actor == "admin"


def test_close_needs_the_actions_taken(staff):
    incident = _create(staff)
    with pytest.raises(ValidationError):
        incidents.close(incident, staff["manager"], now=NOW)
    assert Incident.get_by_id(incident.id).status == "open"


def test_closed_incident_is_audited_and_can_no_longer_change(staff):
    incident = _create(staff, actions_taken="Passwords changed, device wiped remotely")
    incidents.close(incident, staff["manager"], now=NOW)
    stored = Incident.get_by_id(incident.id)
    assert stored.status == "closed" and stored.closed_at == NOW
    assert AuditLog.get(AuditLog.action == "close", AuditLog.model == "Incident").record_id == incident.id
    with pytest.raises(TransitionRefused):
        incidents.update(stored, staff["manager"], now=NOW, affected_count=3)
    with pytest.raises(TransitionRefused):
        incidents.close(stored, staff["manager"], now=NOW)


# ---- the screen ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role, status", [("admin", 200), ("manager", 200), ("researcher", 403),
                                          ("volunteer", 403), ("board", 403)])
def test_only_admin_and_manager_open_the_register(client, login_as, staff, role, status):
    login_as(role)
    assert client.get("/admin/incident/").status_code == status


def test_list_shows_the_countdown_red_when_under_24_hours(client, login_as, staff):
    now = utcnow()
    _create(staff, now=None, what="Urgent one", discovered_at=now - 60 * HOUR)
    login_as("manager")
    html = client.get("/admin/incident/").get_data(as_text=True)
    assert 'class="text-danger font-weight-bold" data-countdown="urgent"' in html
    assert "11 h left" in html or "12 h left" in html


def test_list_shows_overdue_and_notified(client, login_as, staff):
    now = utcnow()
    _create(staff, now=None, what="Late", discovered_at=now - 80 * HOUR)
    _create(staff, now=None, what="Told", discovered_at=now - 80 * HOUR, authority_notified_at=now - 20 * HOUR)
    login_as("manager")
    html = client.get("/admin/incident/").get_data(as_text=True)
    assert 'data-countdown="overdue"' in html and "Overdue by 8 h" in html
    assert 'data-countdown="notified"' in html and "Authority notified" in html


def test_list_filters_by_status(client, login_as, staff):
    _create(staff, what="Still open")
    closed = _create(staff, what="Already closed", actions_taken="Done")
    incidents.close(closed, staff["manager"])
    login_as("manager")
    html = client.get("/admin/incident/?flt0_status_equals=closed").get_data(as_text=True)
    assert "Already closed" in html and "Still open" not in html


def test_form_takes_riyadh_time_and_stores_utc(client, login_as, staff):
    login_as("manager")
    response = client.post("/admin/incident/new/", data={
        "what": "Email sent to the wrong list", "discovered_at": "2025-03-01T12:00", "affected_count": "12"})
    assert response.status_code == 302
    incident = Incident.get()
    assert incident.discovered_at == datetime.datetime(2025, 3, 1, 9, 0)  # Riyadh is UTC+3
    assert incident.recorded_by_id == staff["manager"].id
    assert AuditLog.select().where(AuditLog.action == "create", AuditLog.model == "Incident").count() == 1


def test_form_refuses_a_discovery_in_the_future_with_a_message(client, login_as, staff):
    login_as("manager")
    response = client.post("/admin/incident/new/", data={"what": "x", "discovered_at": "2999-01-01T00:00"})
    assert response.status_code == 200
    assert "The time of discovery cannot be in the future." in response.get_data(as_text=True)
    assert Incident.select().count() == 0


def test_close_button_closes_or_says_what_is_missing(client, login_as, staff):
    incident = _create(staff)
    login_as("manager")
    response = client.post(f"/admin/incident/close/{incident.id}", follow_redirects=True)
    assert "Write the actions taken before closing the incident." in response.get_data(as_text=True)
    incidents.update(incident, staff["manager"], actions_taken="Reported to the police")
    response = client.post(f"/admin/incident/close/{incident.id}", follow_redirects=True)
    assert "The incident was closed." in response.get_data(as_text=True)
    assert Incident.get_by_id(incident.id).status == "closed"


def test_closed_incident_edit_page_is_refused(client, login_as, staff):
    incident = _create(staff, actions_taken="Done")
    incidents.close(incident, staff["manager"])
    login_as("manager")
    assert client.get(f"/admin/incident/edit/?id={incident.id}").status_code == 403


def test_edit_form_shows_the_stored_time_in_riyadh_time(client, login_as, staff):
    incident = _create(staff, discovered_at=datetime.datetime(2025, 3, 1, 9, 0))
    login_as("manager")
    html = client.get(f"/admin/incident/edit/?id={incident.id}").get_data(as_text=True)
    assert 'type="datetime-local"' in html and 'value="2025-03-01T12:00"' in html
