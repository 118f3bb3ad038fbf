"""Every write path × every status × every role does what the rules table says (issue 14).

A path is one way to write a case: a POST of the URL map (the case file's steps, the generic create,
edit and delete screens, the bulk actions), a background job, the portal, the import. For each path
and role, one database walks one request per status (built by `case_at` with the evidence a real one
has there) and tries the write; the case's rows must change exactly when services.workflow's tables
say the role may make that write in that state, and never a 500. A POST rule, bulk action, inline
form or job kind that can write a case without a path here fails `test_every_way_to_write_a_case_is_walked`.
"""
import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from conftest import _PASSWORD_HASH, make_beneficiary, valid_national_id

from models import (
    ALL_MODELS,
    Beneficiary,
    Document,
    IntakeQuestion,
    Referral,
    ServiceRequest,
    User,
    VerificationVisit,
    case_guard,
    utcnow,
)
from models.choices import STATUSES
from services import jobs, workflow
from services.dates import to_local
from services.errors import DomainError

ROLES = ("admin", "manager", "researcher", "volunteer", "board")
ALL = tuple(code for code, _label in STATUSES)
NEW = (workflow.NEW,)
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@dataclass
class Ctx:
    client: object
    app: object
    user: User
    other_researcher: User


@dataclass(frozen=True)
class Path:
    name: str
    # A rule of WRITE_RULES, "status:<target>" (the transition table) or "exempt:<name>" (always written).
    operation: str
    run: Callable
    statuses: tuple = ALL
    bare: bool = False


def _local(moment) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M")


def _post(ctx, url, **data):
    return ctx.client.post(url, data=data)


def _case(step, data):
    return lambda ctx, r: _post(ctx, f"/admin/servicerequest/case/{r.id}/{step}", **data(ctx, r))


def _visit(r, method="field_visit"):
    return VerificationVisit.get((VerificationVisit.request == r) & (VerificationVisit.method == method))


def _extra_document(r):
    return Document.get((Document.request == r) & (Document.original_name == "rent.png"))


def _remarks():
    return IntakeQuestion.get(IntakeQuestion.label_en == "Remarks")


def _request_form(r, **changes):
    return {"beneficiary": r.beneficiary_id, "service": r.service_id, "channel": r.channel,
            "researcher": r.researcher_id or "", "notes": r.notes or "", **changes}


def _bulk_with(kind, data):
    return lambda ctx, r: ctx.client.post("/admin/servicerequest/bulk/apply/",
                                          data={"kind": kind, "rowid": [r.id], **data(ctx, r)})


def _action(view, action, row):
    return lambda ctx, r: ctx.client.post(f"/admin/{view}/action/", data={"action": action, "rowid": [row(r).id]})


def _job(kind, params, row=lambda r: r):
    def run(ctx, r):
        try:
            job = jobs.submit(kind, params(ctx, r) if callable(params) else params, [row(r).id], ctx.user,
                              enqueue=False)
        except DomainError:
            return  # the role may not start it: refused before any row
        jobs.run(job.id, settings=ctx.app.config)
    return run


def _flashed(ctx) -> str:
    """Take the messages flashed by the last write (why it was refused), for a failure's report."""
    with ctx.client.session_transaction() as session:
        return " | ".join(str(message) for _category, message in session.pop("_flashes", []))


def _later(hours=24):
    return _local(utcnow() + datetime.timedelta(hours=hours))


def _earlier(hours=3):
    return _local(utcnow() - datetime.timedelta(hours=hours))


def _new_request(ctx, r):
    n = 900000 + ctx.user.id * 100 + ServiceRequest.select().count()
    b = make_beneficiary(full_name=f"جديد {n}", id_number=valid_national_id(n), mobile=None)
    service = ServiceRequest.select().first().service_id if ServiceRequest.select().exists() else None
    from models import Service
    service = service or Service.get(Service.name_en == "Family sponsorship").id
    return _post(ctx, "/admin/servicerequest/new/", beneficiary=b.id, service=service, channel="interview")


def _upload(ctx, r):
    from models import DocumentType
    extra = DocumentType.get(DocumentType.name_en == "Rent contract")
    return ctx.client.post("/admin/document/new/", content_type="multipart/form-data", data={
        "document_type": extra.id, "request": r.id, "file": (io.BytesIO(PNG), "contract.png")})


PATHS = [
    # ---- the case file (admin_views/request_workflow.py) --------------------------------------------------
    Path("servicerequest.case_answers", "request.answers",
         _case("answers", lambda ctx, r: {f"q{_remarks().id}": f"تغيير {r.id}"})),
    Path("servicerequest.case_attest", "request.attest", _case("attest", lambda ctx, r: {"attestation_method": "phone"})),
    Path("servicerequest.case_submit", "status:submitted", _case("submit", lambda ctx, r: {})),
    Path("servicerequest.case_status", "status:withdrawn", _case("status", lambda ctx, r: {"status": "withdrawn"})),
    Path("servicerequest.case_assign", "request.assign",
         _case("assign", lambda ctx, r: {"researcher": ctx.other_researcher.id})),
    Path("servicerequest.case_verify_document", "document.verify",
         _case("verify-document", lambda ctx, r: {"document": _extra_document(r).id})),
    Path("servicerequest.case_schedule_visit", "visit.schedule",
         _case("visit", lambda ctx, r: {"method": "interview", "scheduled_at": _later(), "notify": "0"})),
    Path("servicerequest.case_record_visit[record]", "visit.record",
         _case("record-visit", lambda ctx, r: {"visit": _visit(r).id, "performed_at": _earlier()})),
    Path("servicerequest.case_record_visit[outcome]", "visit.outcome",
         _case("record-visit", lambda ctx, r: {"visit": _visit(r).id, "outcome": "confirmed",
                                               "performed_at": _local(_visit(r).performed_at)})),
    Path("servicerequest.case_waive", "verification.waive",
         _case("waive", lambda ctx, r: {"method": "interview", "reason": "الأسرة معروفة"})),
    Path("servicerequest.case_assess", "evaluation.assess",
         _case("assess", lambda ctx, r: {f"c{r.service.criteria.get().id}": "0"})),
    Path("servicerequest.case_recommend", "evaluation.recommend",
         _case("recommend", lambda ctx, r: {"recommendation": "reject"})),
    Path("servicerequest.case_decide", "decision.decide", _case("decide", lambda ctx, r: {"decision": "approved"})),
    Path("servicerequest.case_reopen", "decision.reopen", _case("reopen", lambda ctx, r: {"reason": "معلومة جديدة"})),
    Path("servicerequest.case_deliver", "delivery.record", _case("deliver", lambda ctx, r: {"description": "سلة"})),
    Path("servicerequest.case_refer", "referral.refer", _case("refer", lambda ctx, r: {"reason": "لم يفهم"})),
    Path("referral.answer", "referral.answer", lambda ctx, r: _post(
        ctx, f"/admin/referral/answer/{Referral.get(Referral.request == r).id}", answer="شرحنا له")),
    # ---- the generic screens --------------------------------------------------------------------------
    Path("servicerequest.create_view", "request.create", _new_request, statuses=NEW),
    Path("servicerequest.edit_view[notes]", "request.notes", lambda ctx, r: _post(
        ctx, f"/admin/servicerequest/edit/?id={r.id}", **_request_form(r, notes=f"ملاحظة {r.id}"))),
    Path("servicerequest.edit_view[channel]", "request.register", lambda ctx, r: _post(
        ctx, f"/admin/servicerequest/edit/?id={r.id}", **_request_form(r, channel="phone"))),
    Path("servicerequest.edit_view[researcher]", "request.assign", lambda ctx, r: _post(
        ctx, f"/admin/servicerequest/edit/?id={r.id}", **_request_form(r, researcher=ctx.other_researcher.id))),
    Path("servicerequest.delete_view", "record.delete",
         lambda ctx, r: _post(ctx, "/admin/servicerequest/delete/", id=r.id), bare=True),
    Path("servicerequest.action_view[delete]", "record.delete", _action("servicerequest", "delete", lambda r: r),
         bare=True),
    Path("verificationvisit.create_view", "visit.schedule", lambda ctx, r: _post(
        ctx, "/admin/verificationvisit/new/", request=r.id, method="interview", scheduled_at=_later())),
    Path("verificationvisit.edit_view[record]", "visit.record", lambda ctx, r: _post(
        ctx, f"/admin/verificationvisit/edit/?id={_visit(r).id}", method="field_visit",
        scheduled_at=_local(_visit(r).scheduled_at), performed_at=_earlier(), performed_by=ctx.user.id)),
    Path("verificationvisit.edit_view[outcome]", "visit.outcome", lambda ctx, r: _post(
        ctx, f"/admin/verificationvisit/edit/?id={_visit(r).id}", method="field_visit",
        scheduled_at=_local(_visit(r).scheduled_at), performed_at=_local(_visit(r).performed_at),
        performed_by=_visit(r).performed_by_id, outcome="confirmed")),
    Path("verificationvisit.delete_view", "record.delete",
         lambda ctx, r: _post(ctx, "/admin/verificationvisit/delete/", id=_visit(r).id)),
    Path("verificationvisit.action_view[delete]", "record.delete", _action("verificationvisit", "delete", _visit)),
    Path("document.create_view", "document.file", _upload),
    Path("document.action_view[verify]", "document.verify", _action("document", "verify", _extra_document)),
    Path("document.delete_view", "record.delete",
         lambda ctx, r: _post(ctx, "/admin/document/delete/", id=_extra_document(r).id)),
    Path("document.action_view[delete]", "record.delete", _action("document", "delete", _extra_document)),
    Path("referral.action_view[delete]", "record.delete",
         _action("referral", "delete", lambda r: Referral.get(Referral.request == r))),
    Path("referral.delete_view", "record.delete",
         lambda ctx, r: _post(ctx, "/admin/referral/delete/", id=Referral.get(Referral.request == r).id)),
    # ---- the request list's bulk actions (servicerequest.bulk_apply, after the action's confirmation page) --
    Path("servicerequest.bulk_apply[assign]", "request.assign",
         _bulk_with("assign", lambda ctx, r: {"researcher": ctx.other_researcher.id})),
    Path("servicerequest.bulk_apply[status]", "status:withdrawn",
         _bulk_with("status", lambda ctx, r: {"status": "withdrawn"})),
    Path("servicerequest.bulk_apply[visits]", "visit.schedule",
         _bulk_with("visits", lambda ctx, r: {"method": "interview", "scheduled_at": _later()})),
    Path("servicerequest.bulk_apply[decide]", "decision.decide",
         _bulk_with("decide", lambda ctx, r: {"decision": "approved"})),
    # ---- the same actions in the background worker (services.jobs) ------------------------------------
    Path("job:ServiceRequest.assign_researcher", "request.assign",
         _job("ServiceRequest.assign_researcher", lambda ctx, r: {"researcher": ctx.other_researcher.id})),
    Path("job:ServiceRequest.change_status", "status:withdrawn",
         _job("ServiceRequest.change_status", {"target": "withdrawn"})),
    Path("job:ServiceRequest.schedule_visits", "visit.schedule", _job(
        "ServiceRequest.schedule_visits",
        lambda ctx, r: {"method": "interview", "when": (utcnow() + datetime.timedelta(days=1)).isoformat()})),
    Path("job:ServiceRequest.decide", "decision.decide", _job("ServiceRequest.decide", {"decision": "approved"})),
    Path("job:Document.verify", "document.verify", _job("Document.verify", {}, _extra_document)),
    Path("job:VerificationVisit.delete", "record.delete", _job("VerificationVisit.delete", {}, _visit)),
    Path("job:Document.delete", "record.delete", _job("Document.delete", {}, _extra_document)),
    Path("job:Referral.delete", "record.delete",
         _job("Referral.delete", {}, lambda r: Referral.get(Referral.request == r))),
    Path("job:ServiceRequest.delete", "record.delete", _job("ServiceRequest.delete", {}), bare=True),
]

# Writes of these endpoints, actions and job kinds never touch a case's rows, each for its reason.
NOT_CASE_WRITES = {
    "servicerequest.case_notify": "queues a message to the beneficiary (the outbox), changes nothing of the case",
    "servicerequest.bulk_apply[notify]": "the same message queued for each row",
    "job:ServiceRequest.send_notification": "the same, in the background",
    "servicerequest.action_view": "renders the confirmation page of a bulk action (bulk_apply writes)",
    "referral.create_view": "a referral from the Referrals screen is filed on the person, not on a request",
    "document.create_view[beneficiary]": "a document filed on the person belongs to no request",
}


# ---- the walk ----------------------------------------------------------------------------------------------
def _expected(path: Path, role: str, status: str) -> bool:
    kind, _, target = path.operation.partition(":")
    if kind == "status":
        return status != workflow.NEW and target in workflow.allowed_targets(status, role)
    if kind == "exempt":
        return True
    return status in workflow.states_for(path.operation, role)


_IGNORED = {"updated_at", "updated_by", "version", "notified_at"}
CASE_TABLES = [m for m in ALL_MODELS if issubclass(m, case_guard.CaseRecord) and m is not ServiceRequest]


def _fingerprints(cases: dict) -> dict:
    """Return, for each status, everything of its case a write could change (for a new request: how many).

    One query per table for all the test's cases at once: the cases are built first, each write is made on
    its own case, then all are compared; a write that changed another case than its own shows there too.
    """
    ids = [r.id for r in cases.values() if r is not None]
    parts = {row.id: [sorted((k, str(v)) for k, v in row.__data__.items() if k not in _IGNORED)]
             for row in ServiceRequest.select().where(ServiceRequest.id.in_(ids))}
    for model in CASE_TABLES:
        for key in parts:
            parts[key].append([])
        for x in model.select().where(model.request.in_(ids)).order_by(model.id):
            if x.request_id in parts:
                parts[x.request_id][-1].append(sorted((k, str(v)) for k, v in x.__data__.items() if k not in _IGNORED))
    return {status: ServiceRequest.select().count() if r is None else parts.get(r.id, "deleted")
            for status, r in cases.items()}


@pytest.fixture
def other_researcher(app):
    return User.create(username="researcher2", role="researcher", full_name="second researcher",
                       password_hash=_PASSWORD_HASH)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_each_write_path_obeys_the_rules_table_in_every_status(app, client, login_as, case_at, other_researcher,
                                                               path, role):
    user = login_as(role)
    ctx = Ctx(client, app, user, other_researcher)
    cases = {status: None if status == workflow.NEW else case_at(status, bare=path.bare) for status in path.statuses}
    before = _fingerprints(cases)
    said = {}
    for status, r in cases.items():
        with case_guard.closed():  # as in production: nothing is arranged, every write passes the rules
            response = path.run(ctx, r)
        assert response is None or response.status_code < 500, (path.name, status, response.get_data(as_text=True))
        said[status] = _flashed(ctx)
    after = _fingerprints(cases)
    wrong = []
    for status in cases:
        written = after[status] != before[status]
        if written != _expected(path, role, status):
            wrong.append(f"{status}: {'written' if written else 'refused'} {said[status]}")
    assert not wrong, f"{path.name} as {role} ({path.operation}): " + "; ".join(wrong)


def test_the_portal_registers_a_request_for_anyone_as_the_applicant(client, full_service):
    """The portal's applicant holds the intake role: a request is registered (request.create), then submitted."""
    before = ServiceRequest.select().count()
    with case_guard.closed():
        response = client.post(f"/portal/request/{full_service.id}", content_type="multipart/form-data", data={
            "full_name": "سارة علي", "id_type": "iqama", "id_number": "2000000014", "nationality": "YE",
            "gender": "female", "mobile": "0551234567", "city": "بحرة", "attestation": "y",
            f"q{IntakeQuestion.get(IntakeQuestion.label_en == 'Monthly income').id}": "900",
            f"doc{full_service.required_documents.get().document_type_id}": (io.BytesIO(PNG), "id.png")})
    assert response.status_code < 500
    assert ServiceRequest.select().count() == before + 1
    r = ServiceRequest.select().order_by(ServiceRequest.id.desc()).get()
    assert (r.created_by, r.status, r.channel) == ("(portal)", "submitted", "website")


@pytest.mark.parametrize("status", ["approved", "rejected", "closed", "withdrawn", "under_verification"])
def test_the_import_records_past_requests_through_its_named_exemption(app, staff, full_service, tmp_path, status,
                                                                       strict_cases):
    """History that happened outside the system is recorded as it happened (the "import" exemption)."""
    from services import imports
    path = tmp_path / "past.csv"
    decision = {"approved": "approved", "rejected": "rejected", "closed": "approved"}.get(status, "")
    path.write_text("ID number,Service,Status,Submitted at,Decision,Decided at\n"
                    f"1000000008,{full_service.name_ar},{status},2024-01-10,{decision},"
                    f"{'2024-02-01' if decision else ''}\n", encoding="utf-8")
    make_beneficiary()
    batch = imports.create_batch(path, path.name, app.config["IMPORT_DIR"], staff["manager"])
    imports.commit(batch, staff["manager"])
    r = ServiceRequest.get(ServiceRequest.beneficiary == Beneficiary.get(Beneficiary.id_number == "1000000008"))
    assert r.status == status


def test_demo_data_walks_requests_through_its_named_exemption(app, strict_cases):
    from cli import demo
    demo.generate(3, seed=7)
    assert {r.status for r in ServiceRequest.select()} and ServiceRequest.select().count() >= 3


# ---- no way to write a case is left out -------------------------------------------------------------------
def _covered() -> set[str]:
    return {p.name for p in PATHS} | set(NOT_CASE_WRITES)


def test_every_way_to_write_a_case_is_walked(app):
    """A POST rule, a bulk action, an inline form or a background job that can write a case needs a path here."""
    from flask_admin.model.base import BaseModelView
    admin = app.extensions["admin"][0]
    views = {view.endpoint: view for view in admin._views}
    covered = {name.split("[")[0] for name in _covered()}
    missing = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint in covered or rule.endpoint in NOT_A_CASE_ENDPOINTS:
            continue
        prefix, _, name = rule.endpoint.partition(".")
        view = views.get(prefix)
        model = getattr(view, "model", None)
        if name in LIST_TOOLS:
            continue  # saved views and chosen columns of a list (services.saved_views): not a case
        if isinstance(view, BaseModelView) and not issubclass(model, case_guard.CaseRecord) and (
                name in GENERIC or prefix in OTHER_TABLES):
            continue  # a screen over a table that is not a case's (its rows' models hold no case row)
        if isinstance(view, BaseModelView) and name == "edit_view" and view.edit_capability is None:
            continue  # nobody edits these rows (403 for every role: test_permissions.py)
        if isinstance(view, BaseModelView) and name == "ajax_update" and not view.column_editable_list:
            continue  # no column is editable in the list (403: admin_views/base.py)
        missing.append(rule.endpoint)
    # Bulk actions of the screens over a case's tables, and their inline forms.
    for view in views.values():
        model = getattr(view, "model", None)
        if not isinstance(view, BaseModelView):
            continue
        for inline in view.inline_models or ():
            if issubclass(getattr(inline, "model", inline), case_guard.CaseRecord):
                missing.append(f"{view.endpoint} inline {getattr(inline, 'model', inline).__name__}")
        if issubclass(model, case_guard.CaseRecord):
            for action, *_rest in view._actions:
                if f"{view.endpoint}.action_view[{action}]" not in _covered() and \
                        f"{view.endpoint}.bulk_apply[{BULK_KIND.get(action, action)}]" not in _covered():
                    missing.append(f"{view.endpoint} action {action}")
    listed = {getattr(view, "model", None) for view in views.values()}
    for kind, spec in jobs.KINDS.items():
        # A job is submitted from its screen's bulk action: a table without a screen has none to start it.
        if issubclass(spec.model, case_guard.CaseRecord) and spec.model in listed and f"job:{kind}" not in _covered():
            missing.append(f"job {kind}")
    assert not missing, "write paths without an expectation in tests/test_case_matrix.py:\n" + "\n".join(missing)


GENERIC = {"create_view", "edit_view", "delete_view", "action_view", "ajax_update"}
LIST_TOOLS = {"choose_columns", "save_list_view", "delete_list_view"}
# Screens over tables that are not a case's, whose own steps change only their rows (or the beneficiary's).
OTHER_TABLES = {"beneficiary", "interaction", "referencedocument", "proposedchange", "notification", "incident"}

# The request list's actions open a confirmation page; bulk_apply then writes with this kind.
BULK_KIND = {"assign_researcher": "assign", "change_status": "status", "schedule_visits": "visits",
             "decide": "decide", "send_notification": "notify"}

# POST endpoints outside the admin's generic screens that write no case row (each for its reason), or
# write one only through a named exemption that other tests walk.
NOT_A_CASE_ENDPOINTS = {
    "auth.login": "signs in", "auth.logout": "signs out", "auth.change_password": "a password",
    "auth.set_language": "the language of the screens",
    "portal.apply": "registers a request as the applicant (test_the_portal_registers_a_request…)",
    "portal.track": "reads", "portal.contact": "an inquiry, a suggestion or a complaint",
    "portal.survey": "a satisfaction survey",
    "duplicates.merge": "moves requests unchanged: the merge exemption (tests/test_duplicates.py)",
    "imports.commit": "past requests: the import exemption (test_the_import_records_past_requests…)",
    "retention.run": "erases personal data: the retention exemption (tests/test_retention.py)",
    "retention.save_periods": "retention periods", "boardmirror.sync_now": "queues the board mirror's sync",
    "imports.upload": "keeps a file to import", "imports.save_mapping": "maps a file's columns",
    "duplicates.dismiss": "marks a pair of beneficiaries not a duplicate",
    "duplicates.shared_mobile": "marks a mobile shared", "duplicates.unshare_mobile": "unmarks a shared mobile",
}
