"""Consent by purpose (PDPL): recording, current state, the outbox holding back messages, the screen, imports,
the portal and the migration of consent dates recorded before."""
import datetime
import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import make_beneficiary, make_request
from playhouse.migrate import SchemaMigrator

from models import AuditLog, Beneficiary, Consent, Notification, db, utcnow
from services import consent, imports, notifications
from services.errors import TransitionRefused, ValidationError

MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "0012_consent.py"


class Gateway:
    """A local SMS gateway that accepts every POST and remembers it."""

    def __init__(self):
        self.requests = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                gateway.requests.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(app):
    gw = Gateway()
    app.config.update(SMS_GATEWAY_URL=gw.url, SMS_SENDER="Bahra", SMS_TIMEOUT=5, NOTIFY_MAX_ATTEMPTS=3,
                      NOTIFY_RETRY_SECONDS=60)
    yield gw
    gw.close()


@pytest.fixture
def submitted(service):
    b = make_beneficiary(email="ahmad@example.org")
    return make_request(b, service, status="submitted", decision_due=datetime.date(2026, 3, 1))


# ---- the service ---------------------------------------------------------------------------------
def test_latest_row_of_a_purpose_is_its_state_and_earlier_rows_stay(app):
    b = make_beneficiary()
    assert consent.current(b) == {"registration": None, "contact_sms": None, "contact_email": None,
                                  "anonymised_reports": None}
    consent.record(b, "contact_sms", True, "interview", "manager")
    consent.record(b, "contact_sms", False, "phone", "researcher", note="asked by phone")
    consent.record(b, "anonymised_reports", True, "interview", "manager")
    assert consent.current(b) == {"registration": None, "contact_sms": False, "contact_email": None,
                                  "anonymised_reports": True}
    history = list(Consent.select().where(Consent.beneficiary == b).order_by(Consent.id))
    assert [(c.purpose, c.given, c.channel, c.recorded_by) for c in history] == [
        ("contact_sms", True, "interview", "manager"), ("contact_sms", False, "phone", "researcher"),
        ("anonymised_reports", True, "interview", "manager")]
    latest = consent.latest(b)["contact_sms"]
    assert (latest.note, latest.basis) == ("asked by phone", "consent")


def test_each_consent_event_is_audited_with_who_and_what(app):
    b = make_beneficiary()
    row = consent.record(b, "contact_email", False, "letter", "manager")
    log = AuditLog.get((AuditLog.action == "consent") & (AuditLog.model == "Consent") & (AuditLog.record_id == row.id))
    changes = json.loads(log.changes)
    assert log.actor == "manager"
    assert (changes["purpose"][1], changes["given"][1], changes["channel"][1]) == ("contact_email", False, "letter")


@pytest.mark.parametrize("purpose, given, channel, field", [
    ("marketing", True, "phone", "purpose"),
    ("contact_sms", None, "phone", "given"),
    ("contact_sms", True, "pigeon", "channel"),
])
def test_unknown_purpose_state_or_channel_is_refused_and_nothing_is_written(app, purpose, given, channel, field):
    b = make_beneficiary()
    with pytest.raises(ValidationError) as err:
        consent.record(b, purpose, given, channel, "manager")
    assert err.value.field == field
    assert not Consent.select().exists()
    assert not AuditLog.select().where(AuditLog.action == "consent").exists()


def test_contact_is_allowed_until_withdrawn_and_letters_are_never_blocked(app):
    """No row yet means allowed: beneficiaries registered before consent by purpose keep getting decisions."""
    b = make_beneficiary()
    assert consent.allows_contact(b, "sms") and consent.allows_contact(b, "email")
    consent.record(b, "contact_sms", False, "phone", "manager")
    assert not consent.allows_contact(b, "sms")
    assert consent.allows_contact(b, "email") and consent.allows_contact(b, "letter")
    consent.record(b, "contact_sms", True, "interview", "manager")
    assert consent.allows_contact(b.id, "sms")


# ---- the outbox ----------------------------------------------------------------------------------
def test_withdrawn_sms_consent_stops_a_queued_sms_for_good_while_a_letter_still_goes(app, staff, submitted):
    """P6.4 through the outbox, but never on a channel the person withdrew: held back, reason recorded, no retry."""
    b = submitted.beneficiary
    letter = notifications.notify(b, "decision", request=submitted)  # no gateway yet: a letter
    gw = Gateway()
    try:
        app.config.update(SMS_GATEWAY_URL=gw.url, SMS_SENDER="Bahra", SMS_TIMEOUT=5)
        sms = notifications.notify(b, "submission_receipt", request=submitted)
        assert (letter.channel, sms.channel) == ("letter", "sms")
        consent.record(b, "contact_sms", False, "phone", staff["manager"])

        counts = notifications.send_due()
        assert counts["sent"] == 0 and counts["cancelled"] == 1
        assert gw.requests == []
        sms = Notification.get_by_id(sms.id)
        assert (sms.status, sms.attempts, sms.next_attempt_at, sms.sent_at) == ("cancelled", 0, None, None)
        assert sms.last_error == notifications.CONSENT_WITHDRAWN
        log = AuditLog.get((AuditLog.action == "send") & (AuditLog.record_id == sms.id))
        assert json.loads(log.changes)["status"] == ["queued", "cancelled"] and log.details == "consent withdrawn"

        # Never tried again, by the sweep or by hand.
        assert notifications.send_due(now=utcnow() + datetime.timedelta(days=30)) == {
            "sent": 0, "failed": 0, "unknown": 0, "skipped": 0}
        with pytest.raises(TransitionRefused):
            notifications.resend(sms, staff["manager"])
        assert gw.requests == []

        notifications.mark_letter_sent(letter, staff["manager"])
        assert Notification.get_by_id(letter.id).status == "sent"
    finally:
        gw.close()


def test_sms_goes_out_when_consent_was_never_withdrawn(app, submitted, gateway):
    consent.record(submitted.beneficiary, "contact_email", False, "phone", "manager")  # another channel
    notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    assert notifications.send_due() == {"sent": 1, "failed": 0, "unknown": 0, "skipped": 0}
    assert len(gateway.requests) == 1


def test_withdrawn_email_consent_holds_back_an_email(app, service, smtp_server):
    recorder, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False, MAIL_FROM="noreply@example.org")
    b = make_beneficiary(mobile=None, email="sara@example.org")
    r = make_request(b, service, status="submitted", decision_due=datetime.date(2026, 3, 1))
    n = notifications.notify(b, "submission_receipt", request=r)
    assert n.channel == "email"
    consent.record(b, "contact_email", False, "letter", "manager")
    notifications.send_due()
    assert Notification.get_by_id(n.id).status == "cancelled"
    assert not recorder.messages


# ---- the screen ----------------------------------------------------------------------------------
def test_consent_card_shows_each_purpose_and_staff_record_a_withdrawal(client, login_as):
    client.get("/lang/en")  # messages asserted in their msgid form
    b = make_beneficiary()
    consent.record(b, "registration", True, "interview", "manager")
    login_as("volunteer")
    html = client.get(f"/admin/beneficiary/details/?id={b.id}").get_data(as_text=True)
    assert 'id="consent"' in html and "Contact by SMS" in html and "/admin/beneficiary/consent/" in html
    response = client.post(f"/admin/beneficiary/consent/{b.id}",
                           data={"purpose": "contact_sms", "given": "withdrawn", "channel": "phone", "note": "ترك"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#consent")
    row = consent.latest(b)["contact_sms"]
    assert (row.given, row.channel, row.recorded_by, row.note) == (False, "phone", "volunteer", "ترك")
    assert AuditLog.select().where((AuditLog.action == "consent") & (AuditLog.record_id == row.id)
                                   & (AuditLog.actor == "volunteer")).exists()
    html = client.get(f"/admin/beneficiary/details/?id={b.id}").get_data(as_text=True)
    sms_row = html.split('class="consent-contact_sms"', 1)[1].split("</tr>", 1)[0]
    assert "badge-danger" in sms_row and "volunteer" in sms_row and "ترك" in sms_row


def test_incomplete_consent_form_is_a_message_and_writes_nothing(client, login_as):
    client.get("/lang/en")  # messages asserted in their msgid form
    b = make_beneficiary()
    login_as("manager")
    response = client.post(f"/admin/beneficiary/consent/{b.id}", data={"purpose": "contact_sms", "channel": "phone"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Choose whether consent is given or withdrawn." in response.get_data(as_text=True)
    assert not Consent.select().exists()


def test_board_sees_no_consent_card_and_cannot_record_one(client, login_as):
    b = make_beneficiary()
    login_as("board")
    html = client.get(f"/admin/beneficiary/details/?id={b.id}").get_data(as_text=True)
    assert 'id="consent"' not in html
    response = client.post(f"/admin/beneficiary/consent/{b.id}",
                           data={"purpose": "contact_sms", "given": "withdrawn", "channel": "phone"})
    assert response.status_code == 403
    assert not Consent.select().exists()


# ---- where beneficiaries are created -----------------------------------------------------------
def test_import_records_a_legacy_registration_consent_with_its_file(app, staff, tmp_path):
    sample = tmp_path / "old-files.csv"
    sample.write_text("Name,ID\nمحمد,1000000024\n", encoding="utf-8")
    imports.import_file(sample, staff["admin"], app.config["IMPORT_DIR"])
    b = Beneficiary.get(Beneficiary.id_number == "1000000024")
    row = consent.latest(b)["registration"]
    assert (row.given, row.basis, row.channel, row.source, row.recorded_by) == (
        True, "legacy", "import", "old-files.csv", "admin")
    assert AuditLog.select().where((AuditLog.action == "consent") & (AuditLog.record_id == row.id)).exists()


def test_portal_registration_records_consent_on_the_portal(client, service):
    response = client.post(f"/portal/request/{service.id}", content_type="multipart/form-data", data=dict(
        full_name="سارة علي", id_type="iqama", id_number="2000000014", nationality="YE", gender="female",
        mobile="0551234567", city="بحرة", attestation="y"))
    assert response.status_code == 200
    b = Beneficiary.get(Beneficiary.id_number == "2000000014")
    row = consent.latest(b)["registration"]
    assert (row.given, row.basis, row.channel) == (True, "consent", "portal")


# ---- the migration ------------------------------------------------------------------------------
def _run_migration_data_step():
    """Drop the consent table and run migrations/0012_consent.py's up() again on today's data."""
    db.drop_tables([Consent])
    spec = importlib.util.spec_from_file_location("migration_0012", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with db.atomic():
        module.up(SchemaMigrator.from_database(db.obj), db.obj)


def test_migration_gives_imported_records_legacy_consent_and_others_consent(app, staff, tmp_path):
    sample = tmp_path / "paper.csv"
    sample.write_text("Name,ID\nمحمد,1000000024\n", encoding="utf-8")
    imports.import_file(sample, staff["admin"], app.config["IMPORT_DIR"])
    imported = Beneficiary.get(Beneficiary.id_number == "1000000024")
    given_at = datetime.datetime(2024, 5, 1, 9, 30)
    registered = make_beneficiary(consent_at=given_at)
    never = make_beneficiary(full_name="سالم علي", id_number="1000000016", mobile="0551234567")
    assert imported.consent_at is not None and never.consent_at is None

    _run_migration_data_step()

    legacy = Consent.get(Consent.beneficiary == imported)
    assert (legacy.purpose, legacy.given, legacy.basis, legacy.channel, legacy.source) == (
        "registration", True, "legacy", "import", "paper.csv")
    assert legacy.at == imported.consent_at
    own = Consent.get(Consent.beneficiary == registered)
    assert (own.purpose, own.given, own.basis, own.channel, own.at) == ("registration", True, "consent", "interview",
                                                                        given_at)
    assert not Consent.select().where(Consent.beneficiary == never).exists()
