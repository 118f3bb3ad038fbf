"""Referrals to the social researcher (P5.3) and the home worklists, tested without HTTP."""
import datetime

import pytest
from conftest import make_beneficiary, make_request

from models import AuditLog, Referral, User, VerificationVisit
from services import referrals, worklists
from services.errors import PermissionDenied, ValidationError


def test_any_staff_member_refers_with_a_reason(staff, service):
    """P5.3: the volunteer at the desk refers; the reason is required."""
    b = make_beneficiary()
    with pytest.raises(ValidationError):
        referrals.refer(b, "   ", staff["volunteer"])
    with pytest.raises(PermissionDenied):
        referrals.refer(b, "لم يفهم الإجراء", staff["board"])
    referral = referrals.refer(b, "لم يفهم الإجراء", staff["volunteer"])
    assert (referral.status, referral.researcher_id) == ("open", None)
    assert AuditLog.get(AuditLog.model == "Referral").action == "create"


def test_a_referral_goes_to_the_requests_researcher_and_only_researchers_are_chosen(staff, service):
    b = make_beneficiary()
    r = make_request(b, service, researcher=staff["researcher"], created_by="volunteer")
    assert referrals.refer(b, "سؤال", staff["volunteer"], request=r).researcher_id == staff["researcher"].id
    with pytest.raises(ValidationError):
        referrals.refer(b, "سؤال", staff["volunteer"], researcher=staff["manager"])


def test_unassigned_referrals_are_on_every_researchers_worklist_until_one_answers(staff, service):
    b = make_beneficiary()
    other = User.create(username="r2", role="researcher", full_name="r2", password_hash="x")
    referral = referrals.refer(b, "سؤال", staff["volunteer"])
    assert list(referrals.open_referrals(staff["researcher"])) == [referral]
    assert list(referrals.open_referrals(other)) == [referral]
    assert list(referrals.open_referrals(staff["board"])) == []
    referrals.answer(referral, "شرحت الشروط", staff["researcher"])
    assert Referral.get().researcher_id == staff["researcher"].id
    assert list(referrals.open_referrals(other)) == []
    with pytest.raises(ValidationError):
        referrals.answer(Referral.get(), "مرة أخرى", staff["researcher"])


def test_a_referral_assigned_to_one_researcher_is_not_answered_by_another(staff, service):
    b = make_beneficiary()
    other = User.create(username="r2", role="researcher", full_name="r2", password_hash="x")
    referral = referrals.refer(b, "سؤال", staff["volunteer"], researcher=staff["researcher"])
    assert list(referrals.open_referrals(other)) == []
    with pytest.raises(PermissionDenied):
        referrals.answer(referral, "x", other)
    with pytest.raises(PermissionDenied):
        referrals.answer(referral, "x", staff["volunteer"])


def test_week_runs_sunday_to_saturday():
    thursday = datetime.date(2026, 11, 26)
    assert worklists.week_bounds(thursday) == (datetime.date(2026, 11, 22), datetime.date(2026, 11, 28))
    sunday = datetime.date(2026, 11, 29)
    assert worklists.week_bounds(sunday) == (sunday, datetime.date(2026, 12, 5))


def test_my_open_requests_nearest_due_first_within_the_researchers_scope(staff, service):
    b = make_beneficiary()
    later = make_request(b, service, status="submitted", researcher=staff["researcher"],
                         decision_due=datetime.date(2027, 2, 1))
    sooner = make_request(b, service, status="under_verification", researcher=staff["researcher"],
                          decision_due=datetime.date(2027, 1, 1))
    make_request(b, service, status="closed", researcher=staff["researcher"])
    make_request(b, service, status="submitted")
    assert worklists.my_open_requests(staff["researcher"]) == [sooner, later]


def test_visits_this_week_counts_riyadh_days(staff, service):
    """A visit at 01:00 Riyadh on Sunday is stored on Saturday in UTC, and still belongs to the new week."""
    r = make_request(make_beneficiary(), service, status="submitted", researcher=staff["researcher"])
    sunday_1am_riyadh = datetime.datetime(2026, 11, 28, 22, 0)  # UTC
    saturday_before = datetime.datetime(2026, 11, 28, 20, 0)    # 23:00 Riyadh on Saturday
    inside = VerificationVisit.create(request=r, method="interview", scheduled_at=sunday_1am_riyadh)
    VerificationVisit.create(request=r, method="interview", scheduled_at=saturday_before)
    assert worklists.my_visits_this_week(staff["researcher"], datetime.date(2026, 12, 1)) == [inside]
    assert worklists.my_visits_this_week(staff["volunteer"], datetime.date(2026, 12, 1)) == []


def test_awaiting_decision_and_overdue(staff, service):
    b = make_beneficiary()
    make_request(b, service, status="under_evaluation", decision_due=datetime.date(2020, 1, 1))
    make_request(b, service, status="approved", decision_due=datetime.date(2020, 1, 1))
    count, rows = worklists.awaiting_decision()
    assert count == 1 and rows[0].status == "under_evaluation"
    assert worklists.overdue_count(staff["manager"]) == 1
    assert worklists.overdue_count(staff["researcher"]) == 0
