"""Every URL of the application, for every role, against the role table (services.roles)."""
import pytest
from conftest import login, make_beneficiary, make_request

from models import AuditLog, DocumentType, NotificationTemplate, Referral, ServiceRequest, VerificationVisit
from services.roles import PERMISSIONS, ROLES


@pytest.fixture(autouse=True)
def english(client):
    """Show the interface in English, so messages are asserted in their msgid form."""
    client.get("/lang/en")

# Screen → (read, create, edit, delete, export) capabilities; None means "nobody".
# A new screen must be added here, or test_every_url_has_an_expectation fails.
SCREENS = {
    "beneficiary": ("beneficiaries.read", "beneficiaries.create", "beneficiaries.edit", "delete", "export"),
    "servicerequest": ("requests.read", "requests.create", "requests.edit", "delete", "export"),
    "verificationvisit": ("visits.read", "visits.record", "visits.record", "delete", None),
    "document": ("documents.read", "documents.read", None, "delete", None),
    "service": ("services.read", "services.manage", "services.manage", "delete", None),
    "documenttype": ("services.read", "services.manage", "services.manage", "delete", None),
    "user": ("users.manage", "users.manage", "users.manage", "delete", None),
    "auditlog": ("audit.read", None, None, None, "export"),
    "referral": ("refer", "refer", None, "delete", None),
    "boardmirror": ("sync.manage", None, None, None, None),
    "statistics": ("reports.read", None, None, None, None),
    "notification": ("notifications.read", None, None, None, None),
    "notificationtemplate": ("notifications.manage", "notifications.manage", "notifications.manage", None, None),
    "duplicates": ("duplicates.review", None, None, None, None),
    "proposedchange": ("beneficiaries.edit", None, None, None, None),
    "interaction": ("interactions.read", "interactions.create", "interactions.handle", "delete", "export"),
    "interactionqueue": ("interactions.assign", None, None, None, None),
    "satisfaction": ("satisfaction.read", None, None, None, None),
    "satisfactionsurvey": ("satisfaction.record", "satisfaction.record", None, "delete", "satisfaction.comments"),
    "referencedocument": ("references.read", "references.manage", "references.manage", "delete", None),
    "interactionkind": ("services.manage", "services.manage", "services.manage", "delete", None),
    "holiday": ("services.manage", "services.manage", "services.manage", "delete", None),
    "jobs": ("requests.edit", None, None, None, None),
    "imports": ("import", None, None, None, None),
    "demonym": ("import", "import", "import", "delete", None),
    "incident": ("incidents.manage", "incidents.manage", "incidents.manage", None, None),
    # PDPL retention (managers run it, admins also set the periods) and the record of processing.
    "retention": ("retention.run", None, None, None, None),
    "processing": ("processing.read", None, None, None, None),
    # PDPL right of access (admin_views/access.py): a hidden screen, reached from a beneficiary's page.
    "access": ("personal_data.access", None, None, None, None),
}
# Screens whose forms look rows up by typing (Flask-Admin's ajax_lookup), and the field.
AJAX_FIELDS = {"servicerequest": "beneficiary", "verificationvisit": "request", "document": "request",
               "referral": "beneficiary"}
AJAX_FIELDS.update({"interaction": "beneficiary", "satisfactionsurvey": "request"})
# Views beyond Flask-Admin's standard ones: endpoint → capability needed.
EXTRA = {"servicerequest.bulk_apply": "requests.edit", "document.download": "documents.read",
         "referral.answer": "evaluate"}
EXTRA.update({"boardmirror.index": "sync.manage", "boardmirror.sync_now": "sync.manage",
              "boardmirror.download": "sync.manage"})
EXTRA.update({"notification.resend": "notifications.manage", "notification.letter": "notifications.read",
              "notification.letter_handed_over": "notify"})
# The request's case file: one POST per workflow step (admin_views/request_workflow.py).
EXTRA.update({f"servicerequest.case_{step}": capability for step, capability in (
    ("answers", "requests.edit"), ("attest", "requests.edit"), ("submit", "requests.edit"),
    ("status", "requests.edit"), ("verify_document", "documents.verify"), ("schedule_visit", "visits.record"),
    ("waive", "decide"), ("assess", "evaluate"), ("recommend", "evaluate"), ("decide", "decide"),
    ("deliver", "deliver"), ("refer", "refer"), ("notify", "notify"),
    # Issue 14: assigning the researcher, recording a visit and reopening a decision, right in the case file.
    ("assign", "requests.assign"), ("record_visit", "visits.record"), ("reopen", "decide"))})
EXTRA.update({"duplicates.dismiss": "duplicates.review", "duplicates.shared_mobile": "duplicates.review",
              "duplicates.unshare_mobile": "duplicates.review", "duplicates.merge": "duplicates.merge"})
EXTRA.update({"proposedchange.accept": "beneficiaries.edit", "proposedchange.reject": "beneficiaries.edit"})
# Consent by purpose (PDPL): recorded from the beneficiary's page.
EXTRA.update({"beneficiary.record_consent": "beneficiaries.edit"})
EXTRA.update({"imports.upload": "import", "imports.save_mapping": "import", "imports.commit": "import"})
EXTRA.update({"incident.close": "incidents.manage"})
# Retention: saving the periods (admin) and the real run (its empty confirmation is refused, redirected).
EXTRA.update({"retention.save_periods": "retention.manage", "retention.run": "retention.run"})
# Applying a data-correction request from its page (the walk's row is an inquiry: refused, redirected).
EXTRA.update({"interaction.correct": "interactions.handle"})
# Beneficiary voice: answering, closing, assigning an interaction, its bulk actions, a reference's new version.
EXTRA.update({"interaction.respond": "interactions.handle", "interaction.close": "interactions.handle",
              "interaction.assign": "interactions.assign", "interaction.bulk_apply": "interactions.handle",
              "referencedocument.upload_version": "references.manage"})
# Endpoints that only take a POST and answer with a redirect.
POSTS = {endpoint for endpoint in EXTRA
         if endpoint not in ("document.download", "boardmirror.index", "boardmirror.download",
                             "notification.letter")}
# The annual statistics (aggregate, so the board too): a page and its XLSX, both GETs (not in POSTS).
EXTRA.update({"statistics.index": "reports.read", "statistics.xlsx": "reports.read"})
# Retention (its dry run) and the record of processing are GET pages.
EXTRA.update({"retention.index": "retention.run", "processing.index": "processing.read"})
# The complete files produced and a beneficiary's complete file as a ZIP (GETs; the id is the beneficiary's).
EXTRA.update({"access.index": "personal_data.access", "access.export": "personal_data.access"})
# Possible duplicates: the review list and the merge confirmation page are GETs.
EXTRA.update({"duplicates.index": "duplicates.review", "duplicates.merge_form": "duplicates.merge"})
# Beneficiary voice (GETs): the open and overdue queue, the satisfaction dashboard, a reference file.
EXTRA.update({"interactionqueue.index": "interactions.assign", "satisfaction.index": "satisfaction.read",
              "referencedocument.download": "references.read"})
# Background jobs (GETs): the filler's job is the admin's, so only those who see every job open it.
EXTRA.update({"jobs.index": "requests.edit", "jobs.details": "audit.read", "jobs.progress": "audit.read"})
# Import from Excel (GETs): the upload page, the mapping, the preview, its progress and the rejected rows.
EXTRA.update({f"imports.{view}": "import" for view in ("index", "mapping", "details", "progress", "rejected")})
OTHER = {"root", "admin.index", "auth.login", "auth.logout", "auth.change_password", "auth.set_language"}
# Every signed-in user's own sign-in history (issue 15).
OTHER.add("auth.account")
# The Views menu's counts (JSON, fetched when the menu is opened): every logged-in role, its own views.
OTHER.add("admin.views_menu")
# The public portal: no login, the same pages for everyone (walked as GETs; its POSTs are in test_portal.py).
PORTAL = {"portal.home", "portal.services", "portal.apply", "portal.track", "portal.contact", "portal.survey"}
OTHER |= PORTAL


def _can(role, capability):
    return capability is not None and role in PERMISSIONS[capability]


def expected_status(endpoint: str, role: str) -> int:
    """Return the status the role must get on the endpoint (successful POSTs redirect: 302)."""
    if endpoint in OTHER:
        return {"root": 302, "admin.index": 200, "admin.views_menu": 200, "auth.login": 302, "auth.logout": 302,
                "auth.account": 200,
                "auth.change_password": 200, "auth.set_language": 302, **dict.fromkeys(PORTAL, 200)}[endpoint]
    screen, view = endpoint.split(".")
    read, create, edit, delete, export = SCREENS[screen]
    if not _can(role, read):
        return 403
    if endpoint in EXTRA:
        ok = _can(role, EXTRA[endpoint])
        return (302 if endpoint in POSTS else 200) if ok else 403
    if view in ("index_view", "details_view"):
        return 200
    if view == "create_view":
        return 200 if _can(role, create) else 403
    if view == "edit_view":
        return 200 if _can(role, edit) else 403
    if view == "delete_view":
        return 302 if _can(role, delete) else 403
    if view == "export":
        return 200 if _can(role, export) else 403
    if view == "action_view":
        return 302
    if view == "ajax_lookup":
        if not (_can(role, create) or _can(role, edit)):
            return 403
        return 200 if screen in AJAX_FIELDS else 404
    if view == "ajax_update":
        return 403  # no list is edited in place
    # Every list's own tools: anyone who reads the list chooses its columns and saves views of it.
    if view in ("choose_columns", "save_list_view"):
        return 302
    if view == "delete_list_view":
        return 404  # the filler's id names no saved view; the point is that reaching it needs read
    raise KeyError(endpoint)


@pytest.fixture
def rows(app, staff, service, tmp_path):
    """One row of every table, inside every role's scope (assigned to the researcher, created by the volunteer)."""
    b = make_beneficiary()
    # No attestation: an allowed role's empty "submit" is refused, so the walk changes no status.
    r = make_request(b, service, researcher=staff["researcher"], attestation_method=None, attested_at=None)
    ServiceRequest.update(created_by="volunteer").where(ServiceRequest.id == r.id).execute()
    referral = Referral.create(beneficiary=b, request=r, reason="unclear", referred_by=staff["volunteer"])
    visit = VerificationVisit.create(request=r, method="interview", created_by="volunteer")
    dtype = DocumentType.create(name_ar="الهوية", name_en="ID card")
    from services.documents import store_upload
    doc = store_upload(PNG, "id.png", dtype, request=r, upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    from services import notifications
    # No gateway is configured in tests, so the message is a letter (the letter page has a row to show).
    letter = notifications.notify(b, "decision", request=r)
    template = NotificationTemplate.select().first()
    log = AuditLog.select().first()
    from services import duplicates
    # Same mobile as b; both have an open request for the service, so the walk's merge is refused.
    twin = make_beneficiary(full_name="سالم علي", id_number="1000000016")
    make_request(twin, service)
    pair = duplicates.refresh(twin)[0]
    from sync import run_sync, settings_from_config
    run_sync(settings_from_config(app.config, app.instance_path))  # writes the board.xlsx to download
    from models import BackgroundJob
    job = BackgroundJob.create(kind="ServiceRequest.change_status", requested_by=staff["admin"], total=1)
    from services import imports
    sample = tmp_path / "import.csv"
    sample.write_text("Name,ID\nمحمد,1000000024\nبلا هوية,12\n", encoding="utf-8")
    batch = imports.create_batch(sample, "import.csv", app.config["IMPORT_DIR"], staff["admin"])
    imports.analyse(batch, staff["admin"])  # a preview with one rejected row, so its file downloads
    from models import Demonym
    demonym = Demonym.select().first()
    voice = _voice_rows(app, staff, r, b)
    from models import ProposedChange
    proposal = ProposedChange.create(beneficiary=b, field="city", recorded_value=b.city, proposed_value="جدة")
    return {**voice, "portal": service.id, "proposedchange": proposal.id, "beneficiary": b.id, "servicerequest": r.id, "verificationvisit": visit.id, "document": doc.id,
            "service": service.id, "documenttype": dtype.id, "user": staff["admin"].id, "auditlog": log.id,
            "referral": referral.id, "notification": letter.id, "notificationtemplate": template.id,
            "duplicates": pair.id, "jobs": job.id, "imports": batch.id, "demonym": demonym.id,
            "incident": _incident(staff), "access": b.id}


def _voice_rows(app, staff, r, b) -> dict:
    """One interaction, survey, reference document, interaction kind and holiday, inside every role's scope."""
    import datetime

    from models import Holiday, Interaction, InteractionKind, ReferenceDocument, SatisfactionSurvey
    from services import interactions, references
    kind = InteractionKind.get(InteractionKind.code == "inquiry")
    # Unassigned (every researcher sees it) and recorded by the volunteer (their scope).
    talk = interactions.create(staff["volunteer"], beneficiary=b, channel="phone", kind=kind, subject="s", text="t")
    Interaction.update(created_by="volunteer").where(Interaction.id == talk.id).execute()
    # On the request assigned to the researcher and registered by the volunteer: in both scopes.
    survey = SatisfactionSurvey.create(request=r, beneficiary=b, overall=4, speed=4, courtesy=5, clarity=3,
                                       would_recommend=True, channel="phone", comment="c")
    reference = references.create(ReferenceDocument(kind="bylaws", title_ar="اللائحة الأساسية"), PNG, "bylaws.png",
                                  staff["admin"], upload_dir=app.config["UPLOAD_DIR"], max_bytes=10_000)
    holiday = Holiday.create(name_ar="اليوم الوطني", first_day=datetime.date(2025, 9, 23),
                             last_day=datetime.date(2025, 9, 23))
    return {"interaction": talk.id, "satisfactionsurvey": survey.id, "referencedocument": reference.id,
            "interactionkind": kind.id, "holiday": holiday.id}


def _incident(staff) -> int:
    """One open personal-data incident."""
    from models import utcnow
    from services import incidents
    return incidents.create(staff["manager"], what="A laptop was lost", discovered_at=utcnow()).id


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _walk(app):
    """Yield (endpoint, method, rule) for every non-static rule."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        yield rule.endpoint, method, rule


def _url(endpoint, rule, ids):
    """Build the URL of a rule with real ids filled in."""
    screen = endpoint.split(".")[0]
    if rule.arguments == {"export_type"}:
        return rule.rule.replace("<export_type>", "csv")
    if rule.arguments == {"token"}:
        return rule.rule.replace("<token>", "not-a-token")
    if rule.arguments == {"code"}:
        return "/lang/en?next=/admin/"
    if rule.arguments == {"id"}:
        return rule.rule.replace("<int:id>", str(ids[screen]))
    assert not rule.arguments, f"no filler for the arguments of {rule.rule}"
    if endpoint.endswith((".details_view", ".edit_view")):
        return f"{rule.rule}?id={ids[screen]}"
    if endpoint.endswith(".ajax_lookup"):
        return f"{rule.rule}?name={AJAX_FIELDS.get(screen, 'none')}&query="
    return rule.rule


# Without logging in: the panel and the account pages send to the login page; only these are open.
ANONYMOUS = {"root": 302, "auth.login": 200, "auth.set_language": 302, **dict.fromkeys(PORTAL, 200)}


def expected_anonymous(endpoint: str, rule) -> int | str:
    """Return "login" (a redirect to the login page) or the status an anonymous visitor must get."""
    if rule.rule.startswith("/admin") or endpoint in ("auth.change_password", "auth.logout", "auth.account"):
        return "login"
    return ANONYMOUS[endpoint]  # KeyError: a public URL nobody decided about


def test_every_url_has_an_expectation(app):
    for endpoint, _method, rule in _walk(app):
        expected_anonymous(endpoint, rule)
        for role in ROLES:
            expected_status(endpoint, role)  # KeyError: a screen missing from the table above


def test_a_rule_added_without_an_expectation_fails_the_walk(fresh_app):
    """Issue 9: the walk is driven by the URL map, so a new URL with no line in the tables above fails it."""
    from werkzeug.routing import Rule
    ghosts = [Rule(path, endpoint=endpoint, methods=["GET"]) for path, endpoint in (
        ("/admin/ghost/", "ghost.index_view"), ("/admin/beneficiary/ghost/", "beneficiary.ghost"), ("/ghost", "ghost"))]
    app = fresh_app
    for rule in ghosts:
        app.url_map.add(rule)
        with pytest.raises((KeyError, ValueError)):
            expected_status(rule.endpoint, "admin")
    with pytest.raises(KeyError):
        expected_anonymous("ghost", ghosts[2])
    with pytest.raises(KeyError):
        test_every_url_has_an_expectation(app)


def test_anonymous_is_sent_to_login_from_every_admin_url(app, client, rows):
    """Every rule, GET and POST: the panel redirects to the login page, the public pages answer as listed."""
    failures = []
    for endpoint, method, rule in _walk(app):
        url = _url(endpoint, rule, rows)
        expected = expected_anonymous(endpoint, rule)
        for verb in {method} | ({"POST"} if expected == "login" and "POST" in rule.methods else set()):
            response = client.open(url, method=verb)
            if expected == "login":
                if response.status_code != 302 or "/login" not in response.headers.get("Location", ""):
                    failures.append((url, verb, response.status_code, "login"))
            elif response.status_code != expected:
                failures.append((url, verb, response.status_code, expected))
    assert not failures, failures


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_role_table_allows(app, client, staff, rows, role):
    login(client, role)
    walk = sorted(_walk(app), key=lambda item: item[0] == "auth.logout")  # log out last
    failures = []
    for endpoint, method, rule in walk:
        url = _url(endpoint, rule, rows)
        status = client.open(url, method=method).status_code
        if status != expected_status(endpoint, role):
            failures.append((url, method, status, expected_status(endpoint, role)))
        if status == 403 and method == "GET" and "POST" in rule.methods:
            # A form refused to the role is refused when sent too, not only when shown.
            posted = client.post(url).status_code
            if posted != 403:
                failures.append((url, "POST", posted, 403))
    assert not failures, failures


def test_board_never_sees_id_number_mobile_or_email(client, login_as, service):
    b = make_beneficiary(email="ahmad@example.org")
    login_as("board")
    for url in ("/admin/beneficiary/", f"/admin/beneficiary/details/?id={b.id}",
                f"/admin/beneficiary/?search={b.full_name}"):
        html = client.get(url).get_data(as_text=True)
        assert b.reference in html, url
        for value in ("1000000008", "0501234567", "050 123 4567", "501234567", "ahmad@example.org"):
            assert value not in html, (url, value)


def test_researcher_list_shows_only_requests_assigned_to_them(client, login_as, staff, service):
    from services import users
    other = users.create_user("researcher2", "researcher", "correct-horse-42")
    mine = make_request(make_beneficiary(), service, researcher=staff["researcher"])
    theirs = make_request(make_beneficiary(full_name="سالم علي", id_number="1000000016"), service, researcher=other)
    login_as("researcher")
    html = client.get("/admin/servicerequest/").get_data(as_text=True)
    assert mine.number in html
    assert theirs.number not in html
