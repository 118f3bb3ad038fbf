"""Unit tests of services.workflow: the transition table, who may move a request, what is recorded."""
import datetime
import json

import pytest
from conftest import ROLE_NAMES, make_beneficiary, make_request

from models import AuditLog, RequestTransition, ServiceRequest
from models.choices import STATUSES, codes
from services import workflow
from services.dates import to_local
from services.errors import TransitionRefused
from services.workflow import OPEN_STATUSES, TRANSITIONS, allowed_targets, check_transition

PAIRS = {(t.source, t.target) for t in TRANSITIONS}

ALLOWED = [pytest.param(t.source, t.target, role, id=f"{t.source}-{t.target}-{role}")
           for t in TRANSITIONS for role in sorted(t.roles)]
REFUSED_ROLE = [pytest.param(t.source, t.target, role, id=f"{t.source}-{t.target}-{role}")
                for t in TRANSITIONS for role in ROLE_NAMES if role not in t.roles]
LABEL = dict(STATUSES)  # refusals name statuses by their label, translated where shown

NOT_IN_TABLE = [pytest.param(s, t, id=f"{s}-{t}")
                for s in codes(STATUSES) for t in codes(STATUSES) if (s, t) not in PAIRS]


@pytest.mark.parametrize("source, target, role", ALLOWED)
def test_transition_is_allowed_for_its_roles(source, target, role):
    assert check_transition(source, target, role).target == target
    assert target in allowed_targets(source, role)


@pytest.mark.parametrize("source, target, role", REFUSED_ROLE)
def test_transition_is_refused_for_other_roles(source, target, role):
    with pytest.raises(TransitionRefused) as err:
        check_transition(source, target, role)
    assert str(err.value) == f"Your role cannot move a request from “{LABEL[source]}” to “{LABEL[target]}”."
    assert target not in allowed_targets(source, role)


@pytest.mark.parametrize("source, target", NOT_IN_TABLE)
def test_pair_outside_the_table_is_refused_for_everyone(source, target):
    for role in ROLE_NAMES:
        with pytest.raises(TransitionRefused) as err:
            check_transition(source, target, role)
        assert str(err.value) == f"A request cannot move from “{LABEL[source]}” to “{LABEL[target]}”."


def test_draft_cannot_jump_to_approved():
    """A decision comes only after verification and evaluation (P6 order)."""
    assert ("draft", "approved") not in PAIRS


@pytest.mark.parametrize("final", ["closed", "withdrawn"])
def test_final_status_has_no_way_out(final):
    assert not [t for t in TRANSITIONS if t.source == final]


def test_board_moves_nothing():
    assert not [t for t in TRANSITIONS if "board" in t.roles]


def test_only_admin_and_manager_decide():
    """Approval and rejection belong to the deciders (P6.4); researchers recommend."""
    for target in ("approved", "rejected"):
        roles = {r for t in TRANSITIONS if t.target == target for r in t.roles}
        assert roles == {"admin", "manager"}


# Through the database

@pytest.fixture
def request_in(app, service, staff):
    """Return a function that makes a request in the given status, registered by the volunteer, assigned to the researcher."""
    beneficiary = make_beneficiary()

    def _make(status="draft"):
        return make_request(beneficiary, service, status=status, created_by="volunteer",
                            researcher=staff["researcher"])
    return _make


def test_change_status_writes_a_transition_and_an_audit_row(request_in, staff):
    r = request_in("submitted")
    workflow.change_status(r, "under_verification", staff["researcher"], note="documents complete")
    assert ServiceRequest.get_by_id(r.id).status == "under_verification"
    transition = RequestTransition.get(RequestTransition.request == r)
    assert (transition.from_status, transition.to_status, transition.by, transition.note) == \
        ("submitted", "under_verification", "researcher", "documents complete")
    row = AuditLog.get((AuditLog.action == "status") & (AuditLog.record_id == r.id))
    assert row.model == "ServiceRequest" and row.actor == "researcher"
    assert json.loads(row.changes) == {"status": ["submitted", "under_verification"]}


def test_refused_change_leaves_no_trace(request_in, staff):
    r = request_in("draft")
    with pytest.raises(TransitionRefused):
        workflow.change_status(r, "approved", staff["admin"])
    assert ServiceRequest.get_by_id(r.id).status == "draft"
    assert r.status == "draft"
    assert RequestTransition.select().count() == 0
    assert AuditLog.select().where(AuditLog.action == "status").count() == 0


def test_volunteer_cannot_verify_through_change_status(request_in, staff):
    r = request_in("submitted")
    with pytest.raises(TransitionRefused, match="Your role cannot"):
        workflow.change_status(r, "under_verification", staff["volunteer"])
    assert ServiceRequest.get_by_id(r.id).status == "submitted"


def test_submitting_sets_submitted_at_and_decision_due(request_in, staff, service):
    """Submission starts the decision period: due = Riyadh date of submission + service days (P5.5)."""
    r = request_in("draft")
    workflow.change_status(r, "submitted", staff["volunteer"])
    saved = ServiceRequest.get_by_id(r.id)
    assert saved.submitted_at is not None
    assert saved.decision_due == to_local(saved.submitted_at).date() + datetime.timedelta(days=service.decision_days)


def test_decision_due_counts_from_the_riyadh_day_of_submission(request_in, staff, service, monkeypatch):
    """A request sent at 22:30 UTC is submitted on the next Riyadh day (UTC+3), and counted from it (P5.5)."""
    late_evening_utc = datetime.datetime(2026, 3, 1, 22, 30)
    monkeypatch.setattr(workflow, "utcnow", lambda: late_evening_utc)
    service.decision_days = 21
    service.save()
    r = request_in("draft")
    workflow.change_status(r, "submitted", staff["researcher"])
    saved = ServiceRequest.get_by_id(r.id)
    assert saved.submitted_at == late_evening_utc
    assert saved.decision_due == datetime.date(2026, 3, 2) + datetime.timedelta(days=21)


def test_known_submission_time_is_kept_and_counted_from(request_in, staff):
    """A paper request entered later keeps its submission time and still gets a due date (P5.5)."""
    first = datetime.datetime(2026, 1, 10, 8, 0)
    r = request_in("draft")
    r.submitted_at = first
    r.save()
    workflow.change_status(r, "submitted", staff["manager"])
    saved = ServiceRequest.get_by_id(r.id)
    assert saved.submitted_at == first
    assert saved.decision_due == datetime.date(2026, 1, 24)


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_any_open_request_can_be_withdrawn(request_in, staff, status):
    r = request_in(status)
    workflow.change_status(r, "withdrawn", staff["manager"], note="the applicant asked")
    assert ServiceRequest.get_by_id(r.id).status == "withdrawn"


def test_volunteer_may_withdraw_only_a_draft(request_in, staff):
    workflow.change_status(request_in("draft"), "withdrawn", staff["volunteer"])
    with pytest.raises(TransitionRefused):
        workflow.change_status(request_in("submitted"), "withdrawn", staff["volunteer"])


@pytest.mark.parametrize("status", ["approved", "delivered", "rejected", "closed", "withdrawn"])
def test_decided_or_final_request_cannot_be_withdrawn(request_in, staff, status):
    with pytest.raises(TransitionRefused, match="cannot move"):
        workflow.change_status(request_in(status), "withdrawn", staff["admin"])


def test_full_path_from_draft_to_closed(request_in, staff):
    """Walk the policy order P5 → P6 → P5.7, with the evidence each gate asks for, and record every step."""
    from models import VerificationVisit
    from services import eligibility
    r = request_in("draft")
    for target, role in [("submitted", "volunteer"), ("awaiting_documents", "researcher"),
                         ("under_verification", "researcher")]:
        workflow.change_status(r, target, staff[role])
    VerificationVisit.create(request=r, method="document_review", outcome="confirmed",
                             performed_by=staff["researcher"])
    workflow.change_status(r, "under_evaluation", staff["researcher"])
    eligibility.recommend(r, "approve", None, staff["researcher"])
    eligibility.decide(r, "approved", None, staff["manager"])
    eligibility.record_delivery(r, "سلة غذائية", staff["researcher"])
    workflow.change_status(r, "closed", staff["manager"])
    steps = ["draft", "submitted", "awaiting_documents", "under_verification", "under_evaluation", "approved",
             "delivered", "closed"]
    history = [(t.from_status, t.to_status) for t in
               RequestTransition.select().where(RequestTransition.request == r).order_by(RequestTransition.id)]
    assert history == list(zip(steps, steps[1:]))
    assert ServiceRequest.get_by_id(r.id).status == "closed"


# Bulk status changes (services.bulk)

def test_bulk_change_moves_what_it_may_and_refuses_the_rest_with_reasons(request_in, staff):
    from services import bulk
    drafts = [request_in("draft"), request_in("draft")]
    closed, evaluated = request_in("closed"), request_in("under_evaluation")
    result = bulk.change_status(drafts + [closed, evaluated], "submitted", staff["researcher"])
    assert [r.id for r in result.done] == [r.id for r in drafts]
    assert {r.id: str(e) for r, e in result.refused} == {
        closed.id: "A request cannot move from “Closed” to “Submitted”.",
        evaluated.id: "A request cannot move from “Under evaluation” to “Submitted”.",
    }
    statuses = {r.id: r.status for r in ServiceRequest.select()}
    assert statuses == {drafts[0].id: "submitted", drafts[1].id: "submitted",
                        closed.id: "closed", evaluated.id: "under_evaluation"}


def test_bulk_change_refuses_by_role(request_in, staff):
    from services import bulk
    rows = [request_in("under_evaluation"), request_in("under_evaluation")]
    result = bulk.change_status(rows, "approved", staff["researcher"])
    assert result.done == [] and len(result.refused) == 2
    assert all("Your role cannot" in str(e) for _, e in result.refused)


def test_bulk_change_writes_one_summary_row_with_the_counts(request_in, staff):
    from services import bulk
    moved, refused = request_in("submitted"), request_in("withdrawn")
    bulk.change_status([moved, refused], "under_verification", staff["manager"], note="batch")
    rows = list(AuditLog.select().where(AuditLog.action == "bulk"))
    assert len(rows) == 1
    details = json.loads(rows[0].details)
    assert (rows[0].actor, rows[0].model) == ("manager", "ServiceRequest")
    assert details["action"] == "change_status" and details["target"] == "under_verification"
    assert details["count"] == 2
    assert details["done"] == [moved.id]
    assert list(details["refused"]) == [str(refused.id)]
    # Each moved row also has its own status row, like a single change.
    assert AuditLog.select().where(AuditLog.action == "status").count() == 1
