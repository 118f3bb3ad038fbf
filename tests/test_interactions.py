"""Interactions across the six channels (P3, P2.3, P2.7): validation, working-day due dates, handling, screens."""
import datetime

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, Beneficiary, Holiday, Interaction, InteractionKind, Notification, VerificationVisit, utcnow
from services import interactions, notifications
from services.dates import utc_midnight
from services.errors import PermissionDenied, TransitionRefused, ValidationError

SUNDAY = datetime.date(2026, 3, 1)  # 2026-03-01 is a Sunday
THURSDAY = datetime.date(2026, 3, 5)
FRIDAY = datetime.date(2026, 3, 6)


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")


def kind(code: str) -> InteractionKind:
    return InteractionKind.get(InteractionKind.code == code)


def record(actor=None, **fields) -> Interaction:
    data = dict(channel="phone", kind=kind("inquiry"), subject="موعد التسليم", text="متى تُسلَّم السلة؟")
    data.update(fields)
    if "beneficiary" not in data and "contact_name" not in data:
        data["beneficiary"] = Beneficiary.select().first() or make_beneficiary()
    return interactions.create(actor, **data)


# ---- working days ---------------------------------------------------------------------------------
@pytest.mark.parametrize("start, days, due", [
    (SUNDAY, 0, SUNDAY),
    (SUNDAY, 1, datetime.date(2026, 3, 2)),
    (SUNDAY, 4, THURSDAY),
    (THURSDAY, 1, datetime.date(2026, 3, 8)),   # Friday and Saturday are skipped
    (FRIDAY, 1, datetime.date(2026, 3, 8)),     # received on the weekend: counting starts on Sunday
    (THURSDAY, 5, datetime.date(2026, 3, 12)),  # a whole working week later
    (SUNDAY, 10, datetime.date(2026, 3, 15)),  # two working weeks
])
def test_response_due_counts_sunday_to_thursday(app, start, days, due):
    """P2.3: a response period is counted in working days, Sunday to Thursday."""
    assert interactions.response_due(start, days) == due


def test_response_due_skips_the_holidays_an_admin_keeps(app):
    """P2.3: holidays (a range of days) are not working days either."""
    Holiday.create(name_ar="إجازة عيد الفطر", first_day=datetime.date(2026, 3, 2), last_day=datetime.date(2026, 3, 10))
    # Monday 2 to Tuesday 10 are off; Wednesday 11 is the first working day after Sunday 1.
    assert interactions.response_due(SUNDAY, 1) == datetime.date(2026, 3, 11)
    assert interactions.response_due(SUNDAY, 3) == datetime.date(2026, 3, 15)


def test_a_negative_response_period_is_refused(app):
    with pytest.raises(ValidationError):
        interactions.response_due(SUNDAY, -1)


def test_due_date_comes_from_the_kinds_response_period_in_riyadh_days(app):
    """P2.3: an inquiry is due two working days after the Riyadh day it came in."""
    wednesday_evening = datetime.datetime(2026, 3, 4, 20, 30)  # 23:30 Wednesday in Riyadh
    after_midnight = datetime.datetime(2026, 3, 4, 21, 30)  # 00:30 Thursday in Riyadh
    a = record(received_at=wednesday_evening)
    b = record(received_at=after_midnight, beneficiary=a.beneficiary)
    assert kind("inquiry").response_days == 2
    assert a.due_date == datetime.date(2026, 3, 8)  # Thursday, then Sunday
    assert b.due_date == datetime.date(2026, 3, 9)  # Sunday, then Monday


def test_holiday_last_day_before_first_is_refused(app):
    with pytest.raises(ValidationError) as err:
        interactions.normalize_holiday(Holiday(name_ar="x", first_day=THURSDAY, last_day=SUNDAY))
    assert err.value.field == "last_day"


def test_one_day_holiday_needs_no_last_day(app):
    holiday = interactions.normalize_holiday(Holiday(name_ar="اليوم الوطني", first_day=THURSDAY))
    assert holiday.last_day == THURSDAY


# ---- recording: channel, kind, who ------------------------------------------------------------------
@pytest.mark.parametrize("channel", ["interview", "phone", "social_media", "letter", "volunteer", "website"])
def test_each_of_the_six_channels_is_accepted(app, channel):
    """P3: the six channels of the policy, and only them."""
    assert record(channel=channel).channel == channel


@pytest.mark.parametrize("channel", ["email", "", None, "whatsapp"])
def test_a_channel_outside_the_six_is_refused(app, channel):
    """P3: an interaction comes through one of the six channels."""
    with pytest.raises(ValidationError) as err:
        record(channel=channel)
    assert err.value.field == "channel"
    assert Interaction.select().count() == 0


def test_an_inactive_kind_is_refused_for_new_interactions(app):
    follow_up = kind("follow_up")
    follow_up.active = False
    follow_up.save()
    with pytest.raises(ValidationError) as err:
        record(kind=follow_up)
    assert err.value.field == "kind"


def test_the_six_kinds_are_seeded_with_arabic_names_and_periods(app):
    rows = {k.code: (k.name_ar, k.response_days, k.needs_resolution, k.public) for k in InteractionKind.select()}
    assert rows["inquiry"] == ("استفسار", 2, False, True)
    assert rows["complaint"][0] == "شكوى" and rows["complaint"][2] and rows["complaint"][3]
    assert rows["suggestion"][0] == "مقترح" and rows["suggestion"][2]
    assert set(rows) == {"inquiry", "suggestion", "complaint", "follow_up", "appreciation", "data_correction"}


def test_an_anonymous_contact_leaves_a_name_and_a_valid_mobile(app):
    with pytest.raises(ValidationError) as err:
        record(contact_name="", contact_phone="0501234567")
    assert err.value.field == "contact_name"
    with pytest.raises(ValidationError) as err:
        record(contact_name="زائر", contact_phone="12345")
    assert err.value.field == "contact_phone"
    i = record(contact_name="  زائر   كريم ", contact_phone="٠٥٠١٢٣٤٥٦٧")
    assert (i.beneficiary_id, i.contact_name, i.contact_phone) == (None, "زائر كريم", "+966501234567")


def test_a_request_of_another_beneficiary_is_refused(app, service):
    other = make_beneficiary(full_name="سالم علي", id_number="1000000016", mobile="0551234567")
    request = make_request(other, service)
    with pytest.raises(ValidationError) as err:
        record(request=request, beneficiary=make_beneficiary())
    assert err.value.field == "request"


def test_recording_numbers_it_and_writes_the_audit_row(app, staff):
    """P2.3: every interaction is recorded, with who and when."""
    i = record(staff["volunteer"], received_at=datetime.datetime(2026, 3, 1, 9, 0))
    assert i.number == f"INT-2026-{i.id:06d}"
    assert i.status == "open" and i.source == "staff"
    row = AuditLog.get((AuditLog.model == "Interaction") & (AuditLog.record_id == i.id))
    assert (row.action, row.actor) == ("create", "volunteer")


def test_the_board_cannot_record_interactions(app, staff):
    with pytest.raises(PermissionDenied):
        record(staff["board"])


def test_a_day_typed_on_the_form_in_the_future_is_refused(app):
    with pytest.raises(ValidationError) as err:
        record(received_at=datetime.date.today() + datetime.timedelta(days=3))
    assert err.value.field == "received_at"


# ---- the portal's entry point --------------------------------------------------------------------------
def test_portal_message_from_a_registered_beneficiary_is_linked_without_telling_them(app):
    """P2.4: the ID number and the registered mobile together link the message; nothing stored is returned."""
    b = make_beneficiary()
    i = interactions.create_from_portal("complaint", "تأخر التسليم", name="اسم آخر", mobile="0501234567",
                                        id_number="1000000008", ip="203.0.113.9")
    assert (i.beneficiary_id, i.contact_name, i.contact_phone) == (b.id, None, None)
    assert (i.channel, i.source, i.ip, i.kind.code) == ("website", "portal", "203.0.113.9", "complaint")


def test_portal_message_with_a_mobile_that_is_not_the_registered_one_stays_a_contact(app):
    """P2.4: a right ID number with another mobile is not enough to attach the message to a file."""
    make_beneficiary()
    i = interactions.create_from_portal("inquiry", "سؤال", name="زائر", mobile="0551234567", id_number="1000000008")
    assert i.beneficiary_id is None
    assert (i.contact_name, i.contact_phone) == ("زائر", "+966551234567")


def test_portal_offers_only_public_kinds(app):
    with pytest.raises(ValidationError) as err:
        interactions.create_from_portal("follow_up", "نص", name="زائر", mobile="0551234567")
    assert err.value.field == "kind"
    assert [k.code for k in interactions.public_kinds()] == ["inquiry", "suggestion", "complaint"]


def test_portal_message_needs_a_mobile(app):
    with pytest.raises(ValidationError) as err:
        interactions.create_from_portal("inquiry", "سؤال", name="زائر", mobile="")
    assert err.value.field == "mobile"


# ---- handling ------------------------------------------------------------------------------------------
def test_responding_records_the_answer_and_who_gave_it(app, staff):
    """P2.3: each answer is recorded."""
    i = record()
    interactions.respond(i, "تُسلَّم يوم الأحد", staff["researcher"])
    i = Interaction.get_by_id(i.id)
    assert (i.status, i.response, i.handled_by_id) == ("answered", "تُسلَّم يوم الأحد", staff["researcher"].id)
    assert i.responded_at is not None
    assert AuditLog.get((AuditLog.action == "respond") & (AuditLog.record_id == i.id)).actor == "researcher"


def test_an_empty_response_is_refused(app, staff):
    i = record()
    with pytest.raises(ValidationError):
        interactions.respond(i, "   ", staff["manager"])
    assert Interaction.get_by_id(i.id).status == "open"


def test_a_complaint_is_closed_with_a_category_and_a_resolution(app, staff):
    """P2.7: every suggestion and complaint is followed up to a resolution."""
    i = record(kind=kind("complaint"))
    with pytest.raises(ValidationError) as err:
        interactions.close(i, staff["manager"], response="نعتذر")
    assert err.value.field == "category"
    with pytest.raises(ValidationError) as err:
        interactions.close(i, staff["manager"], response="نعتذر", category="waiting_time")
    assert err.value.field == "resolution"
    interactions.close(i, staff["manager"], response="نعتذر", category="waiting_time", resolution="رُتّب موعد جديد")
    i = Interaction.get_by_id(i.id)
    assert (i.status, i.category, i.resolution) == ("closed", "waiting_time", "رُتّب موعد جديد")
    assert i.closed_at is not None
    with pytest.raises(TransitionRefused):
        interactions.close(i, staff["manager"], response="مرة أخرى")


def test_an_inquiry_is_closed_with_its_response(app, staff):
    i = record()
    with pytest.raises(ValidationError) as err:
        interactions.close(i, staff["manager"])
    assert err.value.field == "response"
    interactions.respond(i, "الجواب", staff["manager"])
    assert interactions.close(Interaction.get_by_id(i.id), staff["manager"]).status == "closed"


def test_a_researcher_answers_only_their_own_or_unassigned_interactions(app, staff):
    from services import users
    other = users.create_user("researcher2", "researcher", "correct-horse-42")
    i = record()
    interactions.assign(i, other, staff["manager"])
    with pytest.raises(PermissionDenied):
        interactions.respond(i, "الجواب", staff["researcher"])
    with pytest.raises(PermissionDenied):
        interactions.respond(record(), "الجواب", staff["volunteer"])


def test_only_managers_assign(app, staff):
    with pytest.raises(PermissionDenied):
        interactions.check_assignee(staff["researcher"].id, staff["researcher"])
    with pytest.raises(ValidationError):
        interactions.check_assignee(staff["volunteer"].id, staff["manager"])  # volunteers do not answer
    assert interactions.check_assignee(staff["researcher"].id, staff["manager"]) == staff["researcher"]


def test_scopes_researcher_sees_theirs_and_unassigned_volunteer_what_they_recorded(app, staff):
    from services import users
    other = users.create_user("researcher2", "researcher", "correct-horse-42")
    mine, unassigned, theirs = record(), record(), record()
    interactions.assign(mine, staff["researcher"], staff["manager"])
    interactions.assign(theirs, other, staff["manager"])
    recorded = record(staff["volunteer"])
    Interaction.update(created_by="volunteer").where(Interaction.id == recorded.id).execute()

    def seen(role):
        return {i.id for i in interactions.visible_interactions(Interaction.select(), staff[role])}
    assert seen("researcher") == {mine.id, unassigned.id, recorded.id}
    assert seen("volunteer") == {recorded.id}
    assert seen("manager") == {mine.id, unassigned.id, theirs.id, recorded.id}
    assert seen("board") == set()


def test_overdue_means_open_past_its_due_date(app, staff):
    late = record(received_at=datetime.datetime(2026, 1, 4, 9, 0))
    answered = record(received_at=datetime.datetime(2026, 1, 4, 9, 0))
    interactions.respond(answered, "تم", staff["manager"])
    record()
    today = datetime.date(2026, 2, 1)
    assert [i.id for i in Interaction.select().where(interactions.overdue_clause(today))] == [late.id]
    loads, overdue = interactions.open_and_overdue(today)
    assert [i.id for i in overdue] == [late.id]
    unassigned = loads[0]
    assert (unassigned.handler, unassigned.open, unassigned.overdue) == (None, 2, 1)


def test_monthly_counts_of_suggestions_and_complaints_by_category_and_channel(app, staff):
    """P2.6: continuous improvement from beneficiaries' opinions: what they raised this month, where."""
    march = datetime.datetime(2026, 3, 10, 9, 0)
    record(kind=kind("complaint"), channel="phone", category="waiting_time", received_at=march)
    record(kind=kind("complaint"), channel="website", category="waiting_time", received_at=march)
    record(kind=kind("suggestion"), channel="phone", received_at=march)
    record(kind=kind("inquiry"), channel="phone", category="waiting_time", received_at=march)  # not counted
    record(kind=kind("complaint"), channel="phone", category="waiting_time",
           received_at=datetime.datetime(2026, 2, 28, 20, 0))  # 23:00 in Riyadh: February
    counts = interactions.monthly_feedback_counts(datetime.date(2026, 3, 15))
    rows = {category: (by_channel, total) for category, by_channel, total in counts.rows}
    assert rows["waiting_time"][1] == 2
    assert (rows["waiting_time"][0]["phone"], rows["waiting_time"][0]["website"]) == (1, 1)
    assert rows[None][1] == 1
    assert counts.total == 3 and counts.channel_totals["phone"] == 2


# ---- screens -------------------------------------------------------------------------------------------
def _form(**overrides):
    data = {"beneficiary": "", "contact_name": "زائر", "contact_phone": "0551234567", "channel": "letter",
            "direction": "incoming", "kind": str(kind("suggestion").id), "category": "__None", "subject": "اقتراح",
            "text": "نقترح فتح المكتب مساءً", "language": "ar", "received_at": "2026-03-01"}
    data.update(overrides)
    return data


def test_volunteer_records_a_letter_through_the_form(client, login_as):
    """P3: a letter received last week is recorded with its day, and its due date counts from that day."""
    login_as("volunteer")
    response = client.post("/admin/interaction/new/", data=_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    i = Interaction.get()
    assert (i.channel, i.contact_phone, i.created_by) == ("letter", "+966551234567", "volunteer")
    assert i.due_date == interactions.response_due(SUNDAY, kind("suggestion").response_days)


def test_manager_records_a_complaint_with_its_category_through_the_form(client, login_as):
    login_as("manager")
    client.post("/admin/interaction/new/", data=_form(kind=str(kind("complaint").id), category="procedures",
                                                      channel="social_media"))
    i = Interaction.get()
    assert (i.kind.code, i.category, i.channel) == ("complaint", "procedures", "social_media")


def test_a_bad_channel_on_the_form_is_a_message_not_a_500(client, login_as):
    login_as("researcher")
    response = client.post("/admin/interaction/new/", data=_form(channel="email"))
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert Interaction.select().count() == 0


def test_a_bad_phone_on_the_form_says_what_is_wrong_and_saves_nothing(client, login_as):
    login_as("researcher")
    response = client.post("/admin/interaction/new/", data=_form(contact_phone="123"))
    assert "This is not a valid Saudi mobile number" in response.get_data(as_text=True)
    assert Interaction.select().count() == 0


def test_responding_and_closing_from_the_details_page(client, login_as, staff):
    i = record(kind=kind("complaint"))
    login_as("researcher")
    client.post(f"/admin/interaction/respond/{i.id}", data={"response": "نعتذر عن التأخير"})
    assert Interaction.get_by_id(i.id).status == "answered"
    html = client.post(f"/admin/interaction/close/{i.id}", data={"category": "waiting_time"},
                       follow_redirects=True).get_data(as_text=True)
    assert "A suggestion or complaint is closed with its resolution" in html
    client.post(f"/admin/interaction/close/{i.id}", data={"category": "waiting_time", "resolution": "موعد جديد"})
    assert Interaction.get_by_id(i.id).status == "closed"


def test_list_filters_by_channel_status_and_overdue(client, login_as):
    by_phone = record(channel="phone", subject="هاتفي")
    record(channel="letter", subject="خطابي")
    late = record(channel="letter", subject="متأخر", received_at=datetime.datetime(2025, 1, 5, 9, 0))
    login_as("manager")
    html = client.get("/admin/interaction/?flt_channel_equals=phone").get_data(as_text=True)
    assert by_phone.number in html and late.number not in html
    html = client.get("/admin/interaction/?flt_overdue_is=1").get_data(as_text=True)
    assert late.number in html and by_phone.number not in html
    assert "text-danger" in html


def test_bulk_assign_gives_each_row_to_the_staff_member(client, login_as, staff):
    rows = [record(), record()]
    login_as("manager")
    page = client.post("/admin/interaction/action/", data={"action": "assign", "rowid": [str(r.id) for r in rows]})
    assert "2 interactions selected." in page.get_data(as_text=True)
    client.post("/admin/interaction/bulk/", data={"kind": "assign", "handled_by": staff["researcher"].id,
                                                  "rowid": [str(r.id) for r in rows]})
    assert {i.handled_by_id for i in Interaction.select()} == {staff["researcher"].id}
    summary = AuditLog.get((AuditLog.action == "bulk") & (AuditLog.model == "Interaction"))
    assert '"count": 2' in summary.details


def test_bulk_close_with_one_response_lists_back_the_complaint_without_a_resolution(client, login_as):
    """P2.7: closing many at once still needs each suggestion or complaint's resolution."""
    inquiry, complaint = record(), record(kind=kind("complaint"))
    login_as("manager")
    html = client.post("/admin/interaction/bulk/", data={
        "kind": "close", "response": "شكراً لتواصلكم", "rowid": [str(inquiry.id), str(complaint.id)]},
        follow_redirects=True).get_data(as_text=True)
    assert Interaction.get_by_id(inquiry.id).status == "closed"
    assert Interaction.get_by_id(inquiry.id).response == "شكراً لتواصلكم"
    assert Interaction.get_by_id(complaint.id).status == "open"
    assert f"{complaint.number}: A suggestion or complaint is closed with its category." in html


def test_volunteer_cannot_bulk_close(client, login_as):
    i = record()
    login_as("volunteer")
    response = client.post("/admin/interaction/bulk/", data={"kind": "close", "response": "x", "rowid": [str(i.id)]})
    assert response.status_code == 403
    assert Interaction.get_by_id(i.id).status == "open"


def test_manager_queue_shows_open_and_overdue_per_staff_member(client, login_as, staff):
    late = record(received_at=datetime.datetime(2025, 1, 5, 9, 0), subject="قديم")
    interactions.assign(late, staff["researcher"], staff["manager"])
    record()
    login_as("manager")
    html = client.get("/admin/interactionqueue/").get_data(as_text=True)
    assert "researcher user" in html and "Not assigned" in html
    assert late.number in html


def test_kind_screen_refuses_a_negative_response_period(client, login_as):
    login_as("manager")
    k = kind("inquiry")
    response = client.post(f"/admin/interactionkind/edit/?id={k.id}", data={
        "name_ar": "استفسار", "name_en": "Inquiry", "code": "inquiry", "response_days": "-2", "position": "0",
        "active": "y", "public": "y"})
    assert "between 0 and 365 working days" in response.get_data(as_text=True)
    assert kind("inquiry").response_days == 2


def test_manager_adds_a_holiday_and_due_dates_follow(client, login_as):
    login_as("manager")
    client.post("/admin/holiday/new/", data={"name_ar": "يوم التأسيس", "name_en": "Founding Day",
                                             "first_day": "2026-03-02", "last_day": ""})
    assert Holiday.get().last_day == datetime.date(2026, 3, 2)
    assert interactions.response_due(SUNDAY, 1) == datetime.date(2026, 3, 3)


# ---- the beneficiary's timeline and the home page ----------------------------------------------------------
def test_beneficiary_page_shows_requests_visits_messages_and_interactions_newest_first(client, login_as, service,
                                                                                       staff):
    """P2.3, P2.7: the whole story of a beneficiary on their page."""
    b = make_beneficiary()
    r = make_request(b, service, status="submitted", researcher=staff["researcher"])
    from models import ServiceRequest
    ServiceRequest.update(submitted_at=datetime.datetime(2026, 1, 1, 9)).where(ServiceRequest.id == r.id).execute()
    VerificationVisit.create(request=r, method="interview", scheduled_at=datetime.datetime(2026, 1, 5, 9))
    n = notifications.notify(b, "submission_receipt", request=r)
    Notification.update(created_at=datetime.datetime(2026, 1, 2, 9)).where(Notification.id == n.id).execute()
    i = record(beneficiary=b, subject="سؤال عن الموعد", received_at=datetime.datetime(2026, 1, 10, 9))
    login_as("manager")
    html = client.get(f"/admin/beneficiary/details/?id={b.id}").get_data(as_text=True)
    timeline = html[html.index('id="timeline"'):]
    order = [timeline.index(s) for s in ("سؤال عن الموعد", "Personal interview", "Submission receipt", "Food basket")]
    assert order == sorted(order)
    assert i.number in timeline


def test_board_sees_the_requests_on_the_timeline_but_not_the_interactions(client, login_as, service):
    """Interaction texts are personal: the board reads aggregates only."""
    b = make_beneficiary()
    r = make_request(b, service)
    record(beneficiary=b, subject="شكوى شخصية")
    login_as("board")
    html = client.get(f"/admin/beneficiary/details/?id={b.id}").get_data(as_text=True)
    assert r.number in html
    assert "شكوى شخصية" not in html


def test_home_page_shows_the_months_suggestions_and_complaints_and_open_counts(client, login_as):
    """P2.6: the month's count by category and channel is on the home page."""
    record(kind=kind("complaint"), channel="social_media", category="staff_conduct", received_at=utcnow())
    login_as("manager")
    html = client.get("/admin/").get_data(as_text=True)
    feedback = html[html.index('id="feedback"'):]
    assert "Staff conduct" in feedback and "Social media" in feedback
    assert "Open interactions" in html


def test_board_sees_the_monthly_counts_but_no_interaction_cards(client, login_as):
    record(kind=kind("suggestion"), category="facilities", received_at=utcnow())
    login_as("board")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Premises and facilities" in html
    assert "Open interactions" not in html


def test_the_first_of_the_month_in_riyadh_starts_the_count(app):
    """Months are Riyadh months: 21:30 UTC on the last day is already the next month."""
    record(kind=kind("complaint"), category="other", received_at=utc_midnight(datetime.date(2026, 4, 1)))
    assert interactions.monthly_feedback_counts(datetime.date(2026, 4, 20)).total == 1
    assert interactions.monthly_feedback_counts(datetime.date(2026, 3, 20)).total == 0
