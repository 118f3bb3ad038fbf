"""Every list page runs a bounded number of SQL queries, whatever its page size (issue 9: benchmarks).

The list's data takes at most 3 queries (the rows with their related rows joined, the count, one
batched load); the page frame (the user, the menus, filter choices) a constant; and nothing runs
once per row: a page of 100 rows runs exactly the queries of a page of 20. Counted with
playhouse.test_utils.count_queries on the real pages, over data made by the benchmark generator
(bench/data.py) with more than 100 rows in each large list. This is a correctness test, not a timing.
"""
import sys
from pathlib import Path

import pytest
from playhouse.test_utils import count_queries

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import data  # noqa: E402  (bench/data.py: the benchmark's generator)

# The list's own data: rows (related rows joined), count, one batched load of related rows.
LIST_QUERIES = 3
# The page frame: the logged-in user, the saved views of the Views menu (no count: counted when opened),
# the user's column choice, a filter's choices (services, researchers, cities, categories …).
FRAME_QUERIES = 6
# A little more than the larger page of every big list.
COUNTS = {"beneficiaries": 130, "requests": 400, "visits": 130, "audit": 130, "documents": 130, "referrals": 130,
          "interactions": 130, "notifications": 130, "surveys": 130, "proposed_changes": 130, "incidents": 130}


@pytest.fixture
def filled(app):
    """The benchmark generator's rows at test size (its users too: admin, manager1 … with data.PASSWORD)."""
    data.generate(0, log=lambda *a: None, counts=COUNTS)
    return app


def _lists(app):
    from admin_views.base import SecureModelView
    admin = next(a for a in app.extensions["admin"] if a.endpoint == "admin")
    return [v for v in admin._views if isinstance(v, SecureModelView)]


def test_every_list_runs_a_bounded_number_of_queries_at_page_sizes_20_and_100(filled, client, monkeypatch):
    """Issue 9: at most 3 queries for the list's data plus a constant frame; no query per row (no N+1)."""
    from admin_views.base import SecureModelView
    assert client.post("/login", data={"username": "admin", "password": data.PASSWORD}).status_code == 302
    inside = []
    get_list = SecureModelView.get_list

    def counted_get_list(self, *args, **kwargs):
        with count_queries() as counter:
            result = get_list(self, *args, **kwargs)
        inside.append(counter.count)
        return result

    monkeypatch.setattr(SecureModelView, "get_list", counted_get_list)
    checked = []
    for view in _lists(filled):
        measured = {}
        first = view.__dict__["_all_list_columns"][0][0]  # a cell of it in each row shown
        for size in (20, 100):
            inside.clear()
            with count_queries() as counter:
                response = client.get(f"/admin/{view.endpoint}/?page_size={size}")
            assert response.status_code == 200, view.endpoint
            shown = response.get_data(as_text=True).count(f'<td class="col-{first}"')
            assert len(inside) == 1, (view.endpoint, inside)
            measured[size] = (counter.count, inside[0], shown)
        (total20, list20, shown20), (total100, list100, shown100) = measured[20], measured[100]
        assert list20 <= LIST_QUERIES and list100 <= LIST_QUERIES, (view.endpoint, measured)
        assert total20 - list20 <= FRAME_QUERIES, (view.endpoint, measured)
        assert total100 == total20, (view.endpoint, measured)  # 5 times the rows, not one query more
        if view.model.select().count() > 100:
            assert (shown20, shown100) == (20, 100), (view.endpoint, measured)
            checked.append(view.endpoint)
    # The big lists really showed 100 rows against 20, so a per-row query would have shown.
    assert {"beneficiary", "servicerequest", "verificationvisit", "document", "referral", "interaction",
            "notification", "auditlog", "satisfactionsurvey"} <= set(checked)


def test_a_search_a_filter_and_page_1000_keep_the_bound(filled, client):
    """The list's search, filters, sorting and a far page run the same few queries (issue 9)."""
    assert client.post("/login", data={"username": "manager1", "password": data.PASSWORD}).status_code == 302
    counts = {}
    for query in ("", "search=الحرب", "flt0_status_equals=under_verification&flt1_service_equals=1",
                  "sort=7", "page=12", "search=REQ"):
        with count_queries() as counter:
            response = client.get(f"/admin/servicerequest/?{query}")
        assert response.status_code == 200
        counts[query] = counter.count
    assert max(counts.values()) - min(counts.values()) <= 1, counts  # a search counts with its page: one less
    assert max(counts.values()) <= LIST_QUERIES + FRAME_QUERIES, counts


def test_the_views_menu_counts_only_when_opened(filled, client):
    """Issue 9: the navbar's Views menu does not count its views on every page; opening it fetches the counts."""
    from models import ServiceRequest
    from services.dates import today_local
    from services.workflow import OPEN_STATUSES
    assert client.post("/login", data={"username": "manager1", "password": data.PASSWORD}).status_code == 302
    with count_queries() as plain:
        html = client.get("/admin/service/").get_data(as_text=True)
    assert 'data-view-count="servicerequest:overdue"' in html
    assert plain.count <= LIST_QUERIES + FRAME_QUERIES
    menu = client.get("/admin/views-menu/").get_json()
    overdue = ServiceRequest.select().where(ServiceRequest.status.in_(OPEN_STATUSES)
                                            & (ServiceRequest.decision_due < today_local())).count()
    assert overdue
    assert menu["counts"]["servicerequest:overdue"] == overdue
    assert len(menu["counts"]) >= 7  # the manager's three built-in views and the generator's four saved ones


# ---- the bulk "assign a researcher": set-based, one transaction (issue 9) ----------------------------------
def _loaded(ids):
    from models import ServiceRequest
    return list(ServiceRequest.select().where(ServiceRequest.id.in_(ids)).order_by(ServiceRequest.id))


def test_bulk_assign_is_set_based_audited_per_row_and_refuses_closed_and_stale_rows(app, staff, service):
    """Issue 9: 10,000 requests in one go means no query per row; each request still gets its audit row."""
    from conftest import make_beneficiary, make_request

    from models import AuditLog, ServiceRequest
    from services import bulk
    b = make_beneficiary()
    rows = [make_request(b, service, status="submitted") for _ in range(30)]
    closed = make_request(b, service, status="closed")
    stale = make_request(b, service, status="submitted")
    loaded = _loaded([r.id for r in rows] + [closed.id, stale.id])
    ServiceRequest.update(notes="changed meanwhile", version=ServiceRequest.version + 1).where(
        ServiceRequest.id == stale.id).execute()
    before = AuditLog.select().count()
    with count_queries() as counter:
        result = bulk.assign_researcher(loaded, staff["researcher"].id, staff["manager"])
    assert counter.count <= 8  # the researcher, then per 500 rows: read, update, audit; the summary
    assert sorted(r.id for r in result.done) == sorted(r.id for r in rows)
    assert {r.id: str(e) for r, e in result.refused}.keys() == {closed.id, stale.id}
    stored = {r.id: r for r in ServiceRequest.select()}
    assert all(stored[r.id].researcher_id == staff["researcher"].id and stored[r.id].version == r.version + 1
               for r in rows)
    assert stored[closed.id].researcher_id is None and stored[stale.id].researcher_id is None
    assert stored[stale.id].notes == "changed meanwhile"  # nothing overwritten
    updates = AuditLog.select().where((AuditLog.action == "update") & (AuditLog.model == "ServiceRequest"))
    assert sorted(a.record_id for a in updates) == sorted(r.id for r in rows)
    assert updates.first().changes == f'{{"researcher": [null, {staff["researcher"].id}]}}'
    assert AuditLog.select().count() == before + len(rows) + 1  # and the bulk summary


def test_bulk_assign_failing_midway_changes_nothing(app, staff, service, monkeypatch):
    """One transaction: the audit write failing after the UPDATE leaves every request as it was (issue 9)."""
    from conftest import make_beneficiary, make_request

    from models import AuditLog, ServiceRequest
    from services import audit, bulk
    b = make_beneficiary()
    rows = [make_request(b, service, status="submitted") for _ in range(600)]  # two chunks of 500
    before = AuditLog.select().count()
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return record_many(*args, **kwargs)

    record_many = audit.record_many
    monkeypatch.setattr(audit, "record_many", failing)
    with pytest.raises(RuntimeError):
        bulk.assign_researcher(_loaded([r.id for r in rows]), staff["researcher"].id, staff["manager"])
    assert ServiceRequest.select().where(ServiceRequest.researcher.is_null(False)).count() == 0
    assert AuditLog.select().count() == before
