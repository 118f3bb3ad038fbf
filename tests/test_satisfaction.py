"""Satisfaction surveys (P2.5, P2.6): invitations through the outbox, one-time links, staff entry, the dashboard."""
import datetime
import json
import re

import pytest
from conftest import make_beneficiary, make_request

from models import (
    AuditLog,
    Notification,
    SatisfactionSurvey,
    Service,
    ServiceRequest,
    SurveyInvitation,
    User,
    VerificationVisit,
    utcnow,
)
from services import eligibility, surveys, users, workflow
from services.errors import PermissionDenied, TransitionRefused, ValidationError

ANSWERS = {"overall": "4", "speed": "3", "courtesy": "5", "clarity": "4", "would_recommend": "yes",
           "comment": "خدمة طيبة"}


@pytest.fixture(autouse=True)
def english(client, staff):
    """Show the interface in English, so messages are asserted in their msgid form; staff exist."""
    client.get("/lang/en")


def evaluated(service, **overrides):
    """A request under evaluation with its recommendation, ready for a manager's decision."""
    b = overrides.pop("beneficiary", None) or make_beneficiary()
    researcher = User.get(User.username == "researcher")
    r = make_request(b, service, status="under_evaluation", **{"researcher": researcher, **overrides})
    for method in service.required_methods():  # verified, as the decision checks again (P6.5)
        VerificationVisit.create(request=r, method=method, outcome="confirmed", performed_by=researcher,
                                 performed_at=utcnow())
    eligibility.recommend(r, "approve", None, researcher)
    return r


def finished(service, status="delivered", **overrides) -> ServiceRequest:
    """A request whose service is over, without going through the workflow."""
    b = overrides.pop("beneficiary", None) or make_beneficiary()
    return make_request(b, service, status=status, **overrides)


def invited(service, **overrides) -> SurveyInvitation:
    r = finished(service, **overrides)
    return surveys.invite(r, User.get(User.username == "manager"))


def token_of(link: str) -> str:
    return re.search(r"/portal/survey/([A-Za-z0-9_\-]+)$", link).group(1)


# ---- invitations after delivery or rejection -----------------------------------------------------------
def test_rejection_queues_the_survey_invitation_with_a_working_link(app, staff, service):
    """P2.5, P2.6: rating the service is the beneficiary's right, whatever the decision."""
    r = evaluated(service)
    eligibility.decide(r, "rejected", "الدخل أعلى من الحد", staff["manager"])
    invitation = SurveyInvitation.get(SurveyInvitation.request == r)
    message = Notification.get((Notification.kind == "survey_invitation") & (Notification.request == r))
    link = re.search(r"https?://\S+", message.body).group(0)
    assert link.startswith("http://127.0.0.1:5000/portal/survey/")
    assert invitation.notification_id == message.id
    assert surveys.invitation_for_token(token_of(link)).id == invitation.id
    assert r.number in message.body


def test_approval_alone_sends_no_survey(app, staff, service):
    r = evaluated(service)
    eligibility.decide(r, "approved", None, staff["manager"])
    assert SurveyInvitation.select().count() == 0


def test_the_first_delivery_invites_and_a_second_does_not_invite_again(app, staff, service):
    """P2.5: after the service is given, the beneficiary is asked once."""
    r = finished(service, status="approved", researcher=staff["researcher"])
    eligibility.record_delivery(r, "سلة غذائية", staff["researcher"])
    eligibility.record_delivery(ServiceRequest.get_by_id(r.id), "سلة ثانية", staff["researcher"])
    assert SurveyInvitation.select().where(SurveyInvitation.request == r).count() == 1
    assert Notification.select().where(Notification.kind == "survey_invitation").count() == 1


def test_the_link_uses_the_portal_base_url_setting(app, service):
    app.config["PORTAL_BASE_URL"] = "https://mustafeed.example.org/"
    invitation = invited(service)
    assert "https://mustafeed.example.org/portal/survey/" + invitation.token in invitation.notification.body


def test_tokens_are_long_random_and_never_in_the_audit_trail(app, service):
    first = invited(service)
    second = invited(service, beneficiary=make_beneficiary(full_name="سالم علي", id_number="1000000016"))
    assert first.token != second.token and len(first.token) >= 40
    trail = " ".join((a.changes or "") + (a.details or "") for a in AuditLog.select())
    assert first.token not in trail


def test_an_open_request_is_not_invited(app, service):
    r = make_request(make_beneficiary(), service, status="submitted")
    with pytest.raises(TransitionRefused):
        surveys.invite(r, "manager")


# ---- the one-time link ---------------------------------------------------------------------------------
def test_a_survey_is_submitted_once_from_its_link(app, service):
    """P2.5: the link works once; a second submission is refused."""
    invitation = invited(service)
    survey = surveys.submit(invitation.token, ANSWERS, ip="198.51.100.7", language="en")
    assert (survey.overall, survey.speed, survey.courtesy, survey.clarity) == (4, 3, 5, 4)
    assert survey.would_recommend is True and survey.comment == "خدمة طيبة"
    assert (survey.channel, survey.ip, survey.language, survey.taken_by_id) == ("portal", "198.51.100.7", "en", None)
    assert SurveyInvitation.get_by_id(invitation.id).used_at is not None
    with pytest.raises(surveys.SurveyUnavailable) as err:
        surveys.submit(invitation.token, ANSWERS)
    assert err.value.reason == "used"
    assert SatisfactionSurvey.select().count() == 1
    assert AuditLog.get(AuditLog.action == "survey").ip == "198.51.100.7"


def test_an_expired_link_is_refused(app, service):
    """P2.5: the link expires after SURVEY_TOKEN_DAYS."""
    invitation = invited(service)
    assert invitation.expires_at - invitation.created_at >= datetime.timedelta(days=29, hours=23)
    later = invitation.expires_at + datetime.timedelta(seconds=1)
    with pytest.raises(surveys.SurveyUnavailable) as err:
        surveys.invitation_for_token(invitation.token, now=later)
    assert err.value.reason == "expired"
    SurveyInvitation.update(expires_at=utcnow() - datetime.timedelta(minutes=1)).execute()
    with pytest.raises(surveys.SurveyUnavailable):
        surveys.submit(invitation.token, ANSWERS)
    assert SatisfactionSurvey.select().count() == 0


def test_survey_token_days_is_a_setting(app, service):
    app.config["SURVEY_TOKEN_DAYS"] = 3
    invitation = invited(service)
    assert invitation.expires_at - invitation.created_at < datetime.timedelta(days=3, minutes=1)


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 200, None])
def test_an_unknown_link_is_refused(app, token):
    with pytest.raises(surveys.SurveyUnavailable) as err:
        surveys.invitation_for_token(token)
    assert err.value.reason == "unknown"


@pytest.mark.parametrize("field, value", [("overall", "0"), ("speed", "6"), ("courtesy", ""), ("clarity", "four"),
                                          ("would_recommend", ""), ("would_recommend", "maybe")])
def test_a_rating_outside_one_to_five_or_a_missing_answer_is_refused(app, service, field, value):
    invitation = invited(service)
    with pytest.raises(ValidationError) as err:
        surveys.submit(invitation.token, {**ANSWERS, field: value})
    assert err.value.field == field
    assert SurveyInvitation.get_by_id(invitation.id).used_at is None


def test_arabic_digits_and_arabic_yes_are_understood(app):
    values = surveys.clean_answers({"overall": "٥", "speed": "١", "courtesy": "٣", "clarity": "٢",
                                    "would_recommend": "لا"})
    assert (values["overall"], values["speed"], values["would_recommend"], values["comment"]) == (5, 1, False, None)


def test_a_comment_longer_than_the_limit_is_refused(app):
    with pytest.raises(ValidationError) as err:
        surveys.clean_answers({**ANSWERS, "comment": "أ" * 2001})
    assert err.value.field == "comment"


# ---- staff enter a survey taken by phone or in person ----------------------------------------------------
def test_staff_enter_a_phone_survey_and_the_link_stops_working(app, staff, service):
    """P2.5: a survey taken by phone counts like one from the link, with the channel and who took it."""
    invitation = invited(service)
    survey = surveys.record_by_staff(invitation.request, ANSWERS, "phone", staff["volunteer"])
    assert (survey.channel, survey.taken_by_id, survey.invitation_id) == ("phone", staff["volunteer"].id,
                                                                          invitation.id)
    with pytest.raises(surveys.SurveyUnavailable) as err:
        surveys.submit(invitation.token, ANSWERS)
    assert err.value.reason == "used"


def test_staff_survey_rules(app, staff, service):
    done = finished(service, researcher=staff["researcher"])
    with pytest.raises(ValidationError):
        surveys.record_by_staff(done, ANSWERS, "portal", staff["manager"])  # the portal is the beneficiary's
    with pytest.raises(PermissionDenied):
        surveys.record_by_staff(done, ANSWERS, "phone", staff["board"])
    with pytest.raises(PermissionDenied):
        surveys.record_by_staff(done, ANSWERS, "phone", staff["researcher"])  # their own service
    open_request = make_request(make_beneficiary(full_name="سالم علي", id_number="1000000016"), service,
                                status="submitted")
    with pytest.raises(TransitionRefused):
        surveys.record_by_staff(open_request, ANSWERS, "in_person", staff["manager"])
    surveys.record_by_staff(done, ANSWERS, "in_person", staff["manager"])
    with pytest.raises(ValidationError):
        surveys.record_by_staff(done, ANSWERS, "phone", staff["manager"])
    assert SatisfactionSurvey.select().count() == 1


def test_a_phone_survey_without_an_invitation_is_not_invited_afterwards(app, staff, service):
    done = finished(service)
    surveys.record_by_staff(done, ANSWERS, "phone", staff["manager"])
    assert surveys.invite(done, staff["manager"]) is None
    assert SurveyInvitation.select().count() == 0


def test_volunteer_enters_a_survey_through_the_form(client, login_as, service, staff):
    done = finished(service, status="rejected")
    login_as("volunteer")
    response = client.post("/admin/satisfactionsurvey/new/", data={
        "request": str(done.id), "channel": "phone", "language": "ar", "overall": "2", "speed": "1",
        "courtesy": "4", "clarity": "3", "comment": "الانتظار طويل"})
    assert response.status_code == 302, response.get_data(as_text=True)
    survey = SatisfactionSurvey.get()
    assert (survey.overall, survey.would_recommend, survey.taken_by_id) == (2, False, staff["volunteer"].id)


def test_the_form_refuses_an_open_request_with_the_reason(client, login_as, service):
    r = make_request(make_beneficiary(), service, status="submitted")
    login_as("manager")
    html = client.post("/admin/satisfactionsurvey/new/", data={
        "request": str(r.id), "channel": "phone", "language": "ar", "overall": "5", "speed": "5",
        "courtesy": "5", "clarity": "5"}).get_data(as_text=True)
    assert "A survey rates a finished service" in html
    assert SatisfactionSurvey.select().count() == 0


def test_researcher_sees_the_surveys_of_their_requests_only(client, login_as, staff, service):
    other = users.create_user("researcher2", "researcher", "correct-horse-42")
    mine = finished(service, researcher=staff["researcher"])
    theirs = finished(service, researcher=other, beneficiary=make_beneficiary(full_name="سالم علي",
                                                                           id_number="1000000016"))
    surveys.record_by_staff(mine, {**ANSWERS, "comment": "تعليق على خدمتي"}, "phone", staff["manager"])
    surveys.record_by_staff(theirs, {**ANSWERS, "comment": "تعليق على غيري"}, "phone", staff["manager"])
    login_as("researcher")
    html = client.get("/admin/satisfactionsurvey/").get_data(as_text=True)
    assert mine.number in html and theirs.number not in html


# ---- the dashboard -------------------------------------------------------------------------------------------
@pytest.fixture
def surveyed(app, staff, service):
    """Four invited requests in two services and two months; three rated (two portal, one phone)."""
    other_service = Service.create(name_ar="كسوة", name_en="Clothing")
    other = users.create_user("researcher2", "researcher", "correct-horse-42", full_name="Second researcher")
    beneficiaries = [make_beneficiary(full_name=name, id_number=number) for name, number in
                     (("أحمد", "1000000008"), ("سالم", "1000000016"), ("خالد", "1000000024"), ("علي", "1000000032"))]
    plan = [  # service, channel, researcher, month, answers (None: not rated)
        (service, "interview", staff["researcher"], 1, {**ANSWERS, "overall": "5", "comment": "ممتاز"}),
        (service, "website", staff["researcher"], 2, {**ANSWERS, "overall": "1", "would_recommend": "no",
                                                      "comment": "تأخر كثيراً"}),
        (other_service, "interview", other, 2, {**ANSWERS, "overall": "3", "comment": None}),
        (other_service, "phone", other, 2, None),
    ]
    for b, (svc, channel, researcher, month, answers) in zip(beneficiaries, plan):
        r = finished(svc, beneficiary=b, channel=channel, researcher=researcher)
        invitation = surveys.invite(r, staff["manager"])
        SurveyInvitation.update(created_at=datetime.datetime(2026, month, 10, 9)).where(
            SurveyInvitation.id == invitation.id).execute()
        if answers and channel == "interview" and researcher == other:
            surveys.record_by_staff(r, answers, "phone", staff["manager"])
        elif answers:
            surveys.submit(invitation.token, answers)
    return service, other_service, other


def test_dashboard_averages_and_response_rates_by_service_channel_staff_and_month(surveyed, staff):
    """P2.5: satisfaction is measured by service, channel, staff member and month."""
    service, other_service, other = surveyed
    board = surveys.dashboard(datetime.date(2026, 1, 1), datetime.date(2026, 2, 28), "en")
    assert (board.total.invited, board.total.surveyed, board.total.response_rate) == (4, 3, 0.75)
    assert board.total.average("overall") == 3.0
    assert board.total.recommend_rate == round(2 / 3, 4)
    by_service = {g.label: g for g in board.by_service}
    assert (by_service["Food basket"].average(), by_service["Food basket"].response_rate) == (3.0, 1.0)
    assert (by_service["Clothing"].average(), by_service["Clothing"].response_rate) == (3.0, 0.5)
    by_staff = {g.label: (g.invited, g.surveyed, g.average()) for g in board.by_staff}
    assert by_staff == {"researcher user": (2, 2, 3.0), "Second researcher": (2, 1, 3.0)}
    assert [(g.label, g.invited, g.average()) for g in board.by_month] == [("2026-01", 1, 5.0), ("2026-02", 3, 2.0)]
    assert [(g.key, g.surveyed) for g in board.by_channel] == [("interview", 2), ("phone", 0), ("website", 1)]
    assert [(g.key, g.surveyed) for g in board.by_survey_channel] == [("portal", 2), ("phone", 1)]
    assert [s.comment for s in board.lowest] == ["تأخر كثيراً", "ممتاز"]


def test_dashboard_period_leaves_out_other_months(surveyed):
    board = surveys.dashboard(datetime.date(2026, 1, 1), datetime.date(2026, 1, 31))
    assert (board.total.invited, board.total.surveyed, board.total.average()) == (1, 1, 5.0)


def test_a_reversed_period_is_refused(app):
    with pytest.raises(ValidationError):
        surveys.dashboard(datetime.date(2026, 2, 1), datetime.date(2026, 1, 1))


def test_dashboard_page_shows_tables_charts_data_and_the_lowest_comments(client, login_as, surveyed):
    """P2.6: the numbers as tables and as charts drawn from data in the page; Chart.js served locally."""
    login_as("manager")
    html = client.get("/admin/satisfaction/?first=2026-01-01&last=2026-02-28").get_data(as_text=True)
    service_table = html[html.index('id="table-service"'):html.index('id="table-channel"')]
    assert "Food basket" in service_table and "100%" in service_table and "3.00" in service_table
    assert "75%" in html[html.index('id="summary"'):]
    assert "/static/vendor/chartjs/chart.umd.min.js" in html and "cdn" not in html.lower()
    data = json.loads(re.search(r'<script type="application/json" id="satisfaction-data">(.*?)</script>', html,
                                re.S).group(1))
    assert [row["label"] for row in data["groups"]["month"]] == ["2026-01", "2026-02"]
    lowest = html[html.index('id="lowest"'):]
    assert lowest.index("تأخر كثيراً") < lowest.index("ممتاز")


def test_board_sees_the_averages_but_never_a_comment(client, login_as, surveyed):
    """Survey comments are personal: the board reads aggregates only."""
    login_as("board")
    html = client.get("/admin/satisfaction/?first=2026-01-01&last=2026-02-28").get_data(as_text=True)
    assert 'id="table-staff"' in html
    assert "تأخر كثيراً" not in html and "ممتاز" not in html and 'id="lowest"' not in html
    assert client.get("/admin/satisfactionsurvey/").status_code == 403


def test_researcher_does_not_open_the_dashboard(client, login_as):
    login_as("researcher")
    assert client.get("/admin/satisfaction/").status_code == 403


def test_bad_dates_on_the_dashboard_are_a_message_not_a_500(client, login_as, surveyed):
    login_as("manager")
    response = client.get("/admin/satisfaction/?first=2026-13-45&last=2026-01-01")
    assert response.status_code == 200
    html = client.get("/admin/satisfaction/?first=2026-03-01&last=2026-01-01").get_data(as_text=True)
    assert "The first day of the period is after its last day." in html


def test_board_mirror_summary_shows_the_overall_average(surveyed):
    """P2.5 for the board: the mirror's summary carries the average overall rating."""
    from sync.source import satisfaction_average
    assert satisfaction_average() == 3.0


def test_no_survey_no_average(app):
    from sync.source import satisfaction_average
    assert satisfaction_average() is None


def test_workflow_is_unchanged_for_a_request_already_surveyed(app, staff, service):
    """A survey taken before closing does not block closing the request."""
    done = finished(service)
    surveys.record_by_staff(done, ANSWERS, "phone", staff["manager"])
    workflow.change_status(done, "closed", staff["manager"])
    assert ServiceRequest.get_by_id(done.id).status == "closed"
