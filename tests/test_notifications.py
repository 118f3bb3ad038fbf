"""The notification outbox: templates, channel choice, senders against real local servers, staff screens (P6.4, P3)."""
import datetime
import json
import socket
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, Notification, NotificationTemplate, ServiceRequest, VerificationVisit, db, utcnow
from services import eligibility, notifications
from services.errors import ValidationError


# ---- local gateways ---------------------------------------------------------------------------
class Gateway:
    """A local SMS gateway: records each POST and answers with the configured status and text."""

    def __init__(self):
        self.requests = []
        self.status, self.reply = 200, '{"success": true}'
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                data = gateway.reply.encode()
                self.send_response(gateway.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms/send"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(app):
    """A gateway that answers 200, configured as the SMS gateway."""
    gw = Gateway()
    app.config.update(SMS_GATEWAY_URL=gw.url, SMS_SENDER="Bahra", SMS_AUTH_HEADER="Authorization: Bearer s3cret",
                      SMS_TIMEOUT=5, NOTIFY_MAX_ATTEMPTS=3, NOTIFY_RETRY_SECONDS=60)
    yield gw
    gw.close()


@pytest.fixture
def hanging_gateway(app):
    """A gateway that accepts connections and never answers, with a short SMS_TIMEOUT."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    app.config.update(SMS_GATEWAY_URL=f"http://127.0.0.1:{listener.getsockname()[1]}/send", SMS_TIMEOUT=0.3)
    yield accepted
    listener.close()
    for conn in accepted:
        conn.close()


@pytest.fixture
def smtp(app, smtp_server):
    recorder, port = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False, MAIL_FROM="noreply@example.org")
    return recorder


@pytest.fixture
def submitted(service):
    """A submitted request of an Arabic-speaking beneficiary, decision due 2026-03-01."""
    b = make_beneficiary(email="ahmad@example.org")
    return make_request(b, service, status="submitted", decision_due=datetime.date(2026, 3, 1))


# ---- templates ------------------------------------------------------------------------------------
def test_receipt_is_rendered_in_arabic_with_number_and_dual_due_date(submitted):
    """P5.5: the receipt tells the request number and when the answer is due, Hijri beside Gregorian."""
    n = notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    assert n.language == "ar"
    assert n.subject == f"تم استلام طلبك رقم {submitted.number}"
    assert "السلام عليكم أحمد محمد" in n.body
    assert "«سلة غذائية»" in n.body
    assert "12/09/1447 هـ — 01/03/2026 م" in n.body
    assert "{" not in n.body


def test_english_speaker_gets_the_english_template_and_latin_name(service):
    b = make_beneficiary(language="en", latin_name="Ahmad Mohammed")
    r = make_request(b, service, status="submitted", decision_due=datetime.date(2026, 3, 1))
    n = notifications.notify(b, "submission_receipt", request=r)
    assert (n.language, n.subject) == ("en", f"We received your request {r.number}")
    assert n.body.startswith("Dear Ahmad Mohammed,")
    assert '"Food basket"' in n.body and "12/09/1447 AH — 01/03/2026 CE" in n.body


def test_a_language_without_templates_falls_back_to_english(service):
    b = make_beneficiary(language="ur")
    n = notifications.notify(b, "survey_invitation")
    assert n.language == "en"


def test_rejection_tells_the_decision_and_the_reason_in_arabic(submitted):
    """P6.4: the beneficiary is told the decision and, on a rejection, why."""
    ServiceRequest.update(decision="rejected", decision_reason="الدخل أعلى من الحد").where(
        ServiceRequest.id == submitted.id).execute()
    request = ServiceRequest.get_by_id(submitted.id)
    n = notifications.notify(request.beneficiary, "decision", request=request)
    assert f"صدر القرار في طلبك رقم {request.number} لخدمة «سلة غذائية»: مرفوض." in n.body
    assert "الدخل أعلى من الحد" in n.body


def test_approval_leaves_no_blank_gap_for_the_missing_reason(submitted):
    ServiceRequest.update(decision="approved").where(ServiceRequest.id == submitted.id).execute()
    n = notifications.notify(submitted.beneficiary, "decision", request=ServiceRequest.get_by_id(submitted.id))
    assert "\n\n\n" not in n.body and "مقبول" in n.body


def test_visit_appointment_names_the_method_and_the_local_time(submitted):
    # 09:30 UTC is 12:30 in Riyadh.
    visit = VerificationVisit.create(request=submitted, method="field_visit",
                                     scheduled_at=datetime.datetime(2026, 3, 1, 9, 30))
    n = notifications.notify(submitted.beneficiary, "visit_appointment", request=submitted, visit=visit)
    assert "حُدد موعد زيارة ميدانية" in n.body
    assert "12/09/1447 هـ — 01/03/2026 م 12:30" in n.body


@pytest.mark.parametrize("body, message", [
    ("Hello {nmae}", "Unknown placeholder"),
    ("Hello {name", "is not closed"),
    ("Hello {name!r}", "without a format"),
    ("Hello {}", "Unknown placeholder"),
])
def test_template_with_a_bad_placeholder_is_refused(app, body, message):
    template = NotificationTemplate.get(kind="decision", language="en")
    template.body = body
    with pytest.raises(ValidationError) as err:
        notifications.validate_template(template)
    assert message in err.value.message and err.value.field == "body"


def test_admin_saving_an_unknown_placeholder_sees_the_error_and_nothing_changes(client, login_as):
    login_as("manager")
    client.get("/lang/en")
    template = NotificationTemplate.get(kind="decision", language="ar")
    response = client.post(f"/admin/notificationtemplate/edit/?id={template.id}", data={
        "kind": "decision", "language": "ar", "subject": "القرار", "body": "السلام عليكم {الاسم}"})
    assert response.status_code == 200
    assert "Unknown placeholder {الاسم}" in response.get_data(as_text=True)
    assert NotificationTemplate.get_by_id(template.id).body == template.body


def test_manager_edits_a_template_and_the_change_is_audited(client, login_as):
    login_as("manager")
    template = NotificationTemplate.get(kind="decision", language="ar")
    response = client.post(f"/admin/notificationtemplate/edit/?id={template.id}", data={
        "kind": "decision", "language": "ar", "subject": "قرار الطلب {request_number}", "body": "{name}: {decision}"})
    assert response.status_code == 302
    assert NotificationTemplate.get_by_id(template.id).body == "{name}: {decision}"
    entry = AuditLog.get((AuditLog.model == "NotificationTemplate") & (AuditLog.action == "update"))
    assert "{name}: {decision}" in entry.changes and entry.actor == "manager"


def test_template_editor_is_for_admin_and_manager_only(client, login_as):
    login_as("researcher")
    assert client.get("/admin/notificationtemplate/").status_code == 403
    login_as("manager")
    html = client.get("/admin/notificationtemplate/new/").get_data(as_text=True)
    assert "{request_number}" in html  # the placeholder help beside the form


def test_a_kind_without_any_template_is_a_clear_error(submitted):
    NotificationTemplate.delete().where(NotificationTemplate.kind == "missing_documents").execute()
    with pytest.raises(ValidationError) as err:
        notifications.notify(submitted.beneficiary, "missing_documents", request=submitted)
    assert "no message template" in err.value.message


def test_queued_message_disappears_with_the_callers_rolled_back_transaction(submitted):
    """Queueing is part of the caller's change: nothing is sent for a change that did not happen."""
    with pytest.raises(RuntimeError), db.atomic():
        notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
        raise RuntimeError("the caller's change failed")
    assert Notification.select().count() == 0


def test_a_step_whose_message_cannot_be_queued_does_not_happen(submitted, staff):
    """A step's message travels as a signal, received inside the step's transaction: both happen or neither."""
    NotificationTemplate.delete().where(NotificationTemplate.kind == "visit_appointment").execute()
    with pytest.raises(ValidationError):
        eligibility.schedule_visit(submitted, "field_visit", utcnow(), staff["manager"])
    assert VerificationVisit.select().count() == 0 and Notification.select().count() == 0


@pytest.mark.parametrize("first", ["services.eligibility", "services.workflow", "services.signals"])
def test_the_receivers_are_connected_whichever_module_is_imported_first(first):
    """The receipt, the decision and the survey invitation never depend on what a program imported before."""
    code = (f"import {first}\nfrom services import signals\n"
            "assert len(signals.request_decided.receivers) == 2 and signals.request_delivered.receivers\n"
            "assert signals.request_submitted.receivers and signals.decision_reopened.receivers\n")
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, check=True)


# ---- channel choice --------------------------------------------------------------------------------
def test_without_gateways_the_message_is_a_letter(submitted):
    """P3: letters are the channel that always works."""
    n = notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    assert (n.channel, n.recipient, n.status) == ("letter", "أحمد محمد", "queued")


def test_sms_is_chosen_when_a_gateway_is_configured_and_there_is_a_mobile(submitted, gateway, smtp):
    n = notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    assert (n.channel, n.recipient) == ("sms", "+966501234567")


def test_email_when_there_is_no_mobile_for_the_sms_gateway(service, gateway, smtp):
    b = make_beneficiary(mobile=None, email="sara@example.org")
    assert notifications.choose_channel(b) == ("email", "sara@example.org")


def test_email_when_smtp_is_configured_and_no_sms_gateway(submitted, smtp):
    assert notifications.choose_channel(submitted.beneficiary) == ("email", "ahmad@example.org")


def test_recipients_are_masked():
    assert notifications.mask_recipient("sms", "+966501234567") == "+9665•••••567"
    assert notifications.mask_recipient("email", "ahmad@example.org") == "a•••@example.org"


def test_outbox_list_shows_recipients_masked(client, login_as, submitted, gateway):
    notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    login_as("manager")
    html = client.get("/admin/notification/").get_data(as_text=True)
    assert "+9665•••••567" in html and submitted.number in html
    assert "501234567" not in html


def test_outbox_is_searched_by_request_number(client, login_as, submitted, service):
    other = make_request(make_beneficiary(full_name="سالم علي", id_number="1000000016"), service, status="submitted")
    notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    notifications.notify(other.beneficiary, "submission_receipt", request=other)
    login_as("manager")
    html = client.get(f"/admin/notification/?search={submitted.number}").get_data(as_text=True)
    assert submitted.number in html and other.number not in html


def test_researcher_sees_only_messages_of_requests_assigned_to_them(client, login_as, staff, submitted, service):
    other = make_request(make_beneficiary(full_name="سالم علي", id_number="1000000016"), service, status="submitted",
                         researcher=staff["researcher"])
    notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    notifications.notify(other.beneficiary, "submission_receipt", request=other)
    login_as("researcher")
    html = client.get("/admin/notification/").get_data(as_text=True)
    assert other.number in html and submitted.number not in html


# ---- the SMS gateway ------------------------------------------------------------------------------
def test_gateway_receives_the_form_post_with_sender_recipient_body_and_auth(app, submitted, gateway):
    n = notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    assert notifications.send_due() == {"sent": 1, "failed": 0, "unknown": 0, "skipped": 0}
    (posted,) = gateway.requests
    assert posted["path"] == "/sms/send"
    assert posted["headers"]["Authorization"] == "Bearer s3cret"
    assert posted["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert urllib.parse.parse_qs(posted["body"].decode()) == {
        "sender": ["Bahra"], "recipient": ["966501234567"], "body": [n.body]}
    n = Notification.get_by_id(n.id)
    assert (n.status, n.attempts, n.last_error) == ("sent", 1, None) and n.sent_at is not None


def test_gateway_receives_json_with_its_own_field_names_and_a_plus_recipient(app, submitted, gateway):
    app.config.update(SMS_BODY_FORMAT="json", SMS_RECIPIENT_FORMAT="+9665", SMS_FIELD_SENDER="AppSid",
                      SMS_FIELD_RECIPIENT="Recipient", SMS_FIELD_BODY="Body")
    n = notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    notifications.send_due()
    (posted,) = gateway.requests
    assert posted["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(posted["body"]) == {"AppSid": "Bahra", "Recipient": "+966501234567", "Body": n.body}


def test_gateway_body_template_carries_fixed_fields_and_escaped_values(app, submitted, gateway):
    app.config.update(SMS_BODY_FORMAT="json",
                      SMS_BODY_TEMPLATE='{{"sender": "{sender}", "numbers": ["{recipient}"], "msg": "{body}", "unicode": 1}}')
    n = notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    notifications.send_due()
    assert json.loads(gateway.requests[0]["body"]) == {"sender": "Bahra", "numbers": ["966501234567"],
                                                       "msg": n.body, "unicode": 1}


def test_refusing_gateway_fails_with_the_error_and_retries_later_up_to_the_limit(app, submitted, gateway):
    """A clear refusal is retried with growing waits, then left failed for staff (NOTIFY_MAX_ATTEMPTS=3)."""
    gateway.status, gateway.reply = 503, "gateway busy"
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    assert notifications.send_due()["failed"] == 1
    n = Notification.get_by_id(n.id)
    assert n.status == "failed" and n.attempts == 1
    assert n.last_error == "SMS gateway HTTP 503: gateway busy"
    first_wait = n.next_attempt_at - n.last_attempt_at
    assert datetime.timedelta(seconds=59) < first_wait <= datetime.timedelta(seconds=61)

    assert notifications.send_due() == {"sent": 0, "failed": 0, "unknown": 0, "skipped": 0}  # not yet due
    assert notifications.send_due(now=n.next_attempt_at)["failed"] == 1
    n = Notification.get_by_id(n.id)
    assert n.attempts == 2 and n.next_attempt_at - n.last_attempt_at > first_wait * 1.9  # backoff doubles

    notifications.send_due(now=n.next_attempt_at)
    n = Notification.get_by_id(n.id)
    assert (n.status, n.attempts, n.next_attempt_at) == ("failed", 3, None)
    assert notifications.send_due(now=utcnow() + datetime.timedelta(days=30))["failed"] == 0
    assert len(gateway.requests) == 3
    assert notifications.needing_attention_count() == 1


def test_hanging_gateway_leaves_the_message_unknown_and_it_is_never_retried(app, submitted, hanging_gateway):
    """A timeout may have delivered the message: it waits for staff instead of being sent twice."""
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    assert notifications.send_due()["unknown"] == 1
    n = Notification.get_by_id(n.id)
    assert n.status == "unknown" and "timed out" in n.last_error and n.next_attempt_at is None
    assert notifications.send_due(now=utcnow() + datetime.timedelta(days=30))["unknown"] == 0
    assert len(hanging_gateway) == 1
    assert notifications.needing_attention_count() == 1


def test_unreachable_gateway_is_a_refusal_to_retry(app, submitted):
    from conftest import free_port
    app.config.update(SMS_GATEWAY_URL=f"http://127.0.0.1:{free_port()}/send")
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    notifications.send_due()
    n = Notification.get_by_id(n.id)
    assert n.status == "failed" and "unreachable" in n.last_error and n.next_attempt_at is not None


def test_smtp_refusal_fails_with_the_servers_reply(app, submitted, smtp):
    smtp.refuse = "550 No such mailbox"
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    assert n.channel == "email"
    notifications.send_due()
    n = Notification.get_by_id(n.id)
    assert n.status == "failed" and "550" in n.last_error and "No such mailbox" in n.last_error


def test_sent_decision_records_when_the_beneficiary_was_notified(app, submitted, gateway):
    """P6.4: the request shows when the beneficiary was told the decision."""
    notifications.notify(submitted.beneficiary, "decision", request=submitted)
    notifications.send_due()
    assert ServiceRequest.get_by_id(submitted.id).notified_at is not None


def test_message_left_sending_by_a_crash_becomes_unknown(submitted):
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    Notification.update(status="sending").where(Notification.id == n.id).execute()
    assert notifications.recover_interrupted() == 1
    assert Notification.get_by_id(n.id).status == "unknown"


def test_letters_are_not_sent_by_the_sweep(submitted):
    notifications.notify(submitted.beneficiary, "decision", request=submitted)
    assert notifications.send_due() == {"sent": 0, "failed": 0, "unknown": 0, "skipped": 0}


# ---- the command ----------------------------------------------------------------------------------
def test_send_notifications_command_sends_what_is_due_and_prints_a_summary(app, submitted, gateway):
    notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    result = app.test_cli_runner().invoke(args=["send-notifications"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 sent, 0 failed, 0 unknown, 0 skipped"
    assert len(gateway.requests) == 1


def test_send_notifications_command_exits_non_zero_when_it_cannot_run(app):
    # Renamed rather than dropped: PostgreSQL refuses to drop a table other tables' foreign keys point at.
    db.execute_sql("ALTER TABLE notification RENAME TO notification_gone")
    result = app.test_cli_runner().invoke(args=["send-notifications"])
    assert result.exit_code == 1
    assert "send-notifications failed" in result.output


# ---- staff actions over HTTP ------------------------------------------------------------------------
@pytest.fixture
def unknown_message(submitted, hanging_gateway):
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    notifications.send_due()
    return Notification.get_by_id(n.id)


def test_manager_resends_an_unknown_message(client, login_as, unknown_message):
    login_as("manager")
    response = client.post(f"/admin/notification/resend/{unknown_message.id}")
    assert response.status_code == 302
    n = Notification.get_by_id(unknown_message.id)
    assert (n.status, n.attempts, n.last_error) == ("queued", 0, None)
    entry = AuditLog.get((AuditLog.action == "resend") & (AuditLog.record_id == n.id))
    assert entry.actor == "manager" and '"unknown", "queued"' in entry.changes


def test_volunteer_and_researcher_cannot_resend(client, login_as, unknown_message):
    for role in ("volunteer", "researcher"):
        login_as(role)
        assert client.post(f"/admin/notification/resend/{unknown_message.id}").status_code == 403
    assert Notification.get_by_id(unknown_message.id).status == "unknown"


def test_resending_a_sent_message_is_refused_with_a_message(client, login_as, submitted, gateway):
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    notifications.send_due()
    login_as("manager")
    client.get("/lang/en")
    html = client.post(f"/admin/notification/resend/{n.id}", follow_redirects=True).get_data(as_text=True)
    assert "Only a message that failed or whose delivery is unknown can be sent again." in html
    assert Notification.get_by_id(n.id).status == "sent"


def test_resend_action_on_the_list_queues_the_selected_rows(client, login_as, unknown_message):
    login_as("admin")
    response = client.post("/admin/notification/action/", data={"action": "resend", "rowid": [unknown_message.id]})
    assert response.status_code == 302
    assert Notification.get_by_id(unknown_message.id).status == "queued"


# ---- letters ------------------------------------------------------------------------------------------
def test_letter_page_is_an_arabic_rtl_a4_page_with_the_associations_header(app, client, login_as, submitted):
    app.config.update(ASSOCIATION_PHONE="0125550000")
    n = notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)
    login_as("manager")
    client.get("/lang/en")  # the letter keeps the beneficiary's language whatever the staff's
    html = client.get(f"/admin/notification/letter/{n.id}").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "css/letter.css" in html  # the page's own styles, a file (Content-Security-Policy)
    assert "size: A4" in (Path(app.root_path) / "static/css/letter.css").read_text()
    assert "<h1>جمعية الدعوة والإرشاد وتوعية الجاليات ببحرة</h1>" in html
    assert "0125550000" in html
    assert "السلام عليكم أحمد محمد" in html and submitted.number in html


def test_english_letter_is_left_to_right(client, login_as, service):
    b = make_beneficiary(language="en")
    n = notifications.notify(b, "survey_invitation")
    login_as("manager")
    assert '<html lang="en" dir="ltr">' in client.get(f"/admin/notification/letter/{n.id}").get_data(as_text=True)


def test_only_letters_have_a_letter_page(client, login_as, submitted, gateway):
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    login_as("manager")
    assert client.get(f"/admin/notification/letter/{n.id}").status_code == 404


def test_letter_handed_over_counts_as_sent(client, login_as, submitted):
    """P3 letters, P6.4: handing the printed decision over is telling the beneficiary."""
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    login_as("manager")
    assert client.post(f"/admin/notification/letter/{n.id}/handed-over").status_code == 302
    n = Notification.get_by_id(n.id)
    assert (n.status, n.sent_by) == ("sent", "manager") and n.sent_at is not None
    assert ServiceRequest.get_by_id(submitted.id).notified_at is not None


def test_outbox_is_closed_to_volunteers_and_the_board(client, login_as, submitted):
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    for role in ("volunteer", "board"):
        login_as(role)
        assert client.get("/admin/notification/").status_code == 403
        assert client.get(f"/admin/notification/letter/{n.id}").status_code == 403


def test_details_show_the_text_and_the_way_to_print_the_letter(client, login_as, submitted):
    n = notifications.notify(submitted.beneficiary, "decision", request=submitted)
    login_as("researcher")  # not assigned to the request: outside the researcher's scope
    assert client.get(f"/admin/notification/details/?id={n.id}").status_code == 403
    login_as("manager")
    html = client.get(f"/admin/notification/details/?id={n.id}").get_data(as_text=True)
    assert f"/admin/notification/letter/{n.id}" in html and "السلام عليكم أحمد محمد" in html


def test_messages_to_check_are_listed_by_the_status_filter(client, login_as, unknown_message, submitted):
    """The home page's "messages to check" link (flt_status_equals=unknown) lists only those, masked."""
    notifications.notify(submitted.beneficiary, "submission_receipt", request=submitted)  # queued, not to check
    login_as("manager")
    html = client.get("/admin/notification/?flt_status_equals=unknown").get_data(as_text=True)
    assert html.count("+9665•••••567") == 1
    details = client.get(f"/admin/notification/details/?id={unknown_message.id}").get_data(as_text=True)
    assert "+9665•••••567" in details and "501234567" not in details


def test_a_template_broken_behind_the_editors_back_is_a_clear_error_not_a_crash(submitted):
    NotificationTemplate.update(body="{nmae}").where(NotificationTemplate.kind == "decision").execute()
    with pytest.raises(ValidationError) as err:
        notifications.notify(submitted.beneficiary, "decision", request=submitted)
    assert "is not valid" in err.value.message and Notification.select().count() == 0
