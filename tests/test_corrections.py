"""The PDPL right of correction (issue 8): a data-correction request, applied, keeps the old value in the audit
trail, updates the file, closes the request and tells the person in their language."""
import datetime
import json

import pytest
from conftest import make_beneficiary

from models import (
    AuditLog,
    Beneficiary,
    HouseholdMember,
    Interaction,
    InteractionKind,
    Notification,
    NotificationTemplate,
)
from services import corrections, interactions, notifications
from services.errors import PermissionDenied, TransitionRefused, ValidationError


@pytest.fixture(autouse=True)
def english(client):
    """Staff pages in English, so flashed messages are asserted as their msgids."""
    client.get("/lang/en")


def _request(staff, beneficiary, code="data_correction", by="volunteer"):
    kind = InteractionKind.get(InteractionKind.code == code)
    return interactions.create(staff[by], beneficiary=beneficiary, channel="phone", kind=kind,
                               subject="رقم الجوال خطأ", text="رقمي الصحيح 0551234567")


def _audit(action):
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def test_applying_a_correction_updates_the_file_and_keeps_the_old_value(app, staff):
    """Issue 8, correction: the beneficiary changes through the form's validation; the audit row has old and new."""
    b = make_beneficiary()
    request = _request(staff, b)
    corrections.apply(request, {"mobile": "٠٥٥١٢٣٤٥٦٧"}, staff["researcher"])
    assert Beneficiary.get_by_id(b.id).mobile == "+966551234567"
    [update] = [row for row in _audit("update") if row.model == "Beneficiary"]
    assert json.loads(update.changes) == {"mobile": ["+966501234567", "+966551234567"]}
    assert (update.actor, json.loads(update.details)) == ("researcher", {"correction": request.id})
    [correct] = _audit("correct")
    assert (correct.model, correct.record_id) == ("Interaction", request.id)
    assert json.loads(correct.changes) == {"mobile": ["+966501234567", "+966551234567"]}


def test_the_request_is_closed_with_what_was_corrected(app, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    corrections.apply(request, {"mobile": "0551234567", "city": "مكة المكرمة"}, staff["manager"])
    saved = Interaction.get_by_id(request.id)
    assert saved.status == "closed" and saved.closed_at is not None
    assert saved.handled_by_id == staff["manager"].id
    # Written in the request's language (Arabic here); the values themselves are in the audit log.
    assert "الجوال" in saved.resolution and "المدينة" in saved.resolution
    assert saved.response == saved.resolution


def test_the_person_is_notified_in_their_language(app, staff):
    b = make_beneficiary(language="en", latin_name="Ahmad Mohammed")
    request = _request(staff, b)
    corrections.apply(request, {"email": "ahmad@example.org"}, staff["manager"])
    [message] = Notification.select().where(Notification.kind == "correction")
    assert (message.beneficiary_id, message.language, message.status) == (b.id, "en", "queued")
    assert message.subject.startswith("Your details were corrected")
    assert "Ahmad Mohammed" in message.body and request.number in message.body and "Email" in message.body
    assert "ahmad@example.org" not in message.body  # the fields corrected, never their values


def test_an_arabic_speaker_gets_the_arabic_notice(app, staff):
    b = make_beneficiary()
    corrections.apply(_request(staff, b), {"full_name": "أحمد محمد علي"}, staff["manager"])
    message = Notification.get(Notification.kind == "correction")
    assert message.language == "ar"
    assert "تصحيح" in message.subject and "أحمد محمد علي" in message.body and "الاسم الكامل" in message.body


def test_a_wrong_check_digit_is_refused_and_nothing_changes(app, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    audit_rows = AuditLog.select().count()
    with pytest.raises(ValidationError) as refused:
        corrections.apply(request, {"id_number": "1000000009", "mobile": "0551234567"}, staff["manager"])
    assert "check digit" in str(refused.value)
    assert Beneficiary.get_by_id(b.id).id_number == "1000000008"
    assert Beneficiary.get_by_id(b.id).mobile == "+966501234567"
    assert Interaction.get_by_id(request.id).status == "open"
    assert not Notification.select().where(Notification.kind == "correction").exists()
    assert AuditLog.select().count() == audit_rows


def test_an_id_number_of_someone_else_is_refused_naming_them(app, staff):
    b = make_beneficiary()
    other = make_beneficiary(full_name="سالم علي", id_number="1000000016", mobile="0559876543")
    with pytest.raises(ValidationError) as refused:
        corrections.apply(_request(staff, b), {"id_number": "1000000016"}, staff["manager"])
    assert other.reference in str(refused.value)


def test_a_household_member_is_corrected_too(app, staff):
    b = make_beneficiary()
    member = HouseholdMember.create(beneficiary=b, name="فاطمة", relation="ابنة")
    [field] = [f for f in corrections.correctable(b) if f.key == f"member:{member.id}:id_number"]
    corrections.apply(_request(staff, b), {field.key: "1000000016", f"member:{member.id}:birth_date": "1440/01/01"},
                      staff["manager"])
    saved = HouseholdMember.get_by_id(member.id)
    assert (saved.id_type, saved.id_number) == ("national_id", "1000000016")
    assert saved.birth_date == datetime.date(2018, 9, 11)  # 1 Muharram 1440 (Umm al-Qura)
    [update] = [row for row in _audit("update") if row.model == "HouseholdMember"]
    assert json.loads(update.changes)["id_number"] == [None, "1000000016"]


def test_a_member_of_another_file_cannot_be_corrected(app, staff):
    b = make_beneficiary()
    stranger = make_beneficiary(full_name="سالم علي", id_number="1000000016", mobile="0559876543")
    member = HouseholdMember.create(beneficiary=stranger, name="خالد", relation="ابن")
    with pytest.raises(ValidationError):
        corrections.apply(_request(staff, b), {f"member:{member.id}:name": "خالد سالم"}, staff["manager"])
    assert HouseholdMember.get_by_id(member.id).name == "خالد"


@pytest.mark.parametrize("key", ["notes", "category", "member:x:name", "reference"])
def test_only_listed_fields_are_corrected(app, staff, key):
    b = make_beneficiary()
    with pytest.raises(ValidationError):
        corrections.apply(_request(staff, b), {key: "x"}, staff["manager"])


def test_the_same_value_is_nothing_to_correct(app, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    with pytest.raises(ValidationError):
        corrections.apply(request, {"mobile": "0501234567"}, staff["manager"])
    assert Interaction.get_by_id(request.id).status == "open"


def test_a_future_birth_date_is_refused(app, staff):
    b = make_beneficiary()
    with pytest.raises(ValidationError):
        corrections.apply(_request(staff, b), {"birth_date": "2999-01-01"}, staff["manager"])


def test_only_a_data_correction_request_corrects(app, staff):
    b = make_beneficiary()
    with pytest.raises(TransitionRefused):
        corrections.apply(_request(staff, b, code="inquiry"), {"mobile": "0551234567"}, staff["manager"])
    assert Beneficiary.get_by_id(b.id).mobile == "+966501234567"


def test_volunteers_and_the_board_do_not_apply_corrections(app, staff):
    """Applying takes interactions.handle (who answers and closes interactions), as the role table says."""
    b = make_beneficiary()
    request = _request(staff, b)
    for role in ("volunteer", "board"):
        with pytest.raises(PermissionDenied):
            corrections.apply(request, {"mobile": "0551234567"}, staff[role])
    assert Beneficiary.get_by_id(b.id).mobile == "+966501234567"


def test_a_researcher_does_not_apply_a_request_assigned_to_someone_else(app, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    interactions.assign(request, staff["manager"], staff["manager"])
    with pytest.raises(PermissionDenied):
        corrections.apply(request, {"mobile": "0551234567"}, staff["researcher"])


def test_a_closed_request_is_not_applied_twice(app, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    corrections.apply(request, {"mobile": "0551234567"}, staff["manager"])
    with pytest.raises(TransitionRefused):
        corrections.apply(Interaction.get_by_id(request.id), {"city": "جدة"}, staff["manager"])


def test_the_notice_has_templates_in_both_languages_and_is_never_sent_by_hand(app):
    assert {t.language for t in NotificationTemplate.select().where(NotificationTemplate.kind == "correction")} \
        == {"ar", "en"}
    assert "correction" not in dict(notifications.MANUAL_KINDS)


# ---- on screen ------------------------------------------------------------------------------------
def test_the_request_page_offers_the_correction_form(client, login_as, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    login_as("researcher")
    html = client.get(f"/admin/interaction/details/?id={request.id}").get_data(as_text=True)
    assert 'id="correction-form"' in html and 'value="mobile"' in html and "050 123 4567" in html


def test_the_form_is_not_offered_on_other_kinds_nor_to_volunteers(client, login_as, staff):
    b = make_beneficiary()
    inquiry = _request(staff, b, code="inquiry")
    correction = _request(staff, b)
    login_as("manager")
    assert 'id="correction-form"' not in client.get(f"/admin/interaction/details/?id={inquiry.id}").get_data(
        as_text=True)
    login_as("volunteer")
    assert 'id="correction-form"' not in client.get(f"/admin/interaction/details/?id={correction.id}").get_data(
        as_text=True)


def test_applying_on_screen(client, login_as, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    login_as("researcher")
    response = client.post(f"/admin/interaction/correct/{request.id}",
                           data={"field": ["mobile", ""], "value": ["0551234567", ""]}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The correction was applied to the file, the interaction closed and the person notified." in html
    assert Beneficiary.get_by_id(b.id).mobile == "+966551234567"
    assert Interaction.get_by_id(request.id).status == "closed"


def test_a_bad_value_on_screen_says_why_and_changes_nothing(client, login_as, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    login_as("manager")
    html = client.post(f"/admin/interaction/correct/{request.id}", data={"field": "id_number", "value": "1000000009"},
                       follow_redirects=True).get_data(as_text=True)
    assert "check digit is wrong" in html
    assert Beneficiary.get_by_id(b.id).id_number == "1000000008"
    assert Interaction.get_by_id(request.id).status == "open"


def test_a_volunteer_posting_the_form_gets_403(client, login_as, staff):
    b = make_beneficiary()
    request = _request(staff, b)
    login_as("volunteer")
    assert client.post(f"/admin/interaction/correct/{request.id}",
                       data={"field": "mobile", "value": "0551234567"}).status_code == 403
    assert Beneficiary.get_by_id(b.id).mobile == "+966501234567"
