"""Sensitive fields and rows reach only the roles models/personal_data.py names (issue 8, PDPL).

One unique value is planted in each personal field that a screen shows, plus a sensitive intake
answer and requests of a sensitive service. For every role and every screen — lists, details,
edit pages, CSV and XLSX exports — a planted value is on the page exactly when the screen shows
its field (the view's own column configuration) and the registry lets the role see it; the
expectations come from the registry, not from role lists written here. Explicit checks beside
them make sure the comparison is not vacuous (a manager does see the notes; a volunteer does not).
The board mirror never carries a value the registry hides from the board.
"""
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROLE_NAMES, make_beneficiary, make_request
from openpyxl import load_workbook

from models import (
    Beneficiary,
    CriterionAssessment,
    EvaluationCriterion,
    IntakeAnswer,
    IntakeQuestion,
    MethodWaiver,
    Recommendation,
    Referral,
    RequestTransition,
    Service,
    ServiceRequest,
    VerificationVisit,
    personal_data,
)
from models.personal_data import (
    CATEGORIES,
    PERSONAL_FIELDS,
    ROW_MARKERS,
    TABLE_ROLES,
    hidden_fields,
    hidden_row_markers,
    sees,
    who_sees_markdown,
)
from services.roles import ROLES, can
from services.sensitive_rows import hides_sensitive_requests

README = Path(__file__).resolve().parent.parent / "README.md"

ID_NUMBER = "1000000008"
MOBILES = ("0501234567", "501234567", "+966501234567", "050 123 4567")

# (model, field) → the value planted in it.
PLANTED = {
    ("Beneficiary", "notes"): "NOTES-PLANTED-B1",
    ("Beneficiary", "category"): "CATEGORY-PLANTED-B2",
    ("Beneficiary", "email"): "planted.email@example.org",
    ("Beneficiary", "id_number"): ID_NUMBER,
    ("Beneficiary", "latin_name"): "Planted Latin Name",
    ("ServiceRequest", "notes"): "REQUEST-NOTES-PLANTED",
    ("ServiceRequest", "decision_reason"): "DECISION-REASON-PLANTED",
    ("VerificationVisit", "findings"): "FINDINGS-PLANTED",
    ("Referral", "reason"): "REFERRAL-REASON-PLANTED",
    ("Referral", "answer"): "REFERRAL-ANSWER-PLANTED",
    ("CriterionAssessment", "note"): "CRITERION-NOTE-PLANTED",
    ("Recommendation", "note"): "RECOMMENDATION-NOTE-PLANTED",
    ("RequestTransition", "note"): "TRANSITION-NOTE-PLANTED",
    ("MethodWaiver", "reason"): "WAIVER-REASON-PLANTED",
}
INCOME = "INCOME-PLANTED"                  # the answer to a sensitive question, on an ordinary request
REMARK = "REMARK-PLANTED"                  # the answer to an ordinary question, on an ordinary request
RELIGION_ANSWER = "SHAHADA-DATE-PLANTED"   # an ordinary question's answer on a sensitive service's request

# Fields each case-file card shows besides the details column (request_details.html).
CASE_FILE_FIELDS = {("CriterionAssessment", "note"), ("Recommendation", "note"), ("Referral", "reason"),
                    ("Referral", "answer"), ("RequestTransition", "note"), ("MethodWaiver", "reason")}


@pytest.fixture(autouse=True)
def english(client):
    client.get("/lang/en")


@pytest.fixture
def world(app, staff, full_service):
    """Plant a value in each personal field, a sensitive answer and two requests of a sensitive service."""
    b = make_beneficiary(notes=PLANTED[("Beneficiary", "notes")], category=PLANTED[("Beneficiary", "category")],
                         email=PLANTED[("Beneficiary", "email")], latin_name=PLANTED[("Beneficiary", "latin_name")])
    other = make_beneficiary(full_name="سالم علي", id_number="1000000016", mobile="0501234568",
                             category="CATEGORY-OTHER-PLANTED")
    researcher = staff["researcher"]
    # Registered by the volunteer and assigned to the researcher: inside every role's row scope.
    r = make_request(b, full_service, status="rejected", decision="rejected", created_by="volunteer",
                     researcher=researcher, notes=PLANTED[("ServiceRequest", "notes")],
                     decision_reason=PLANTED[("ServiceRequest", "decision_reason")])
    income = IntakeQuestion.get(IntakeQuestion.label_en == "Monthly income")
    remarks = IntakeQuestion.get(IntakeQuestion.label_en == "Remarks")
    IntakeAnswer.create(request=r, question=income, value=INCOME)
    IntakeAnswer.create(request=r, question=remarks, value=REMARK)
    visit = VerificationVisit.create(request=r, method="interview", outcome="confirmed", performed_by=researcher,
                                     findings=PLANTED[("VerificationVisit", "findings")], created_by="volunteer")
    referral = Referral.create(beneficiary=b, request=r, reason=PLANTED[("Referral", "reason")],
                               answer=PLANTED[("Referral", "answer")], status="answered",
                               referred_by=staff["volunteer"], researcher=researcher)
    CriterionAssessment.create(request=r, criterion=EvaluationCriterion.get(), met=False,
                               note=PLANTED[("CriterionAssessment", "note")], assessed_by=researcher)
    Recommendation.create(request=r, recommendation="reject", note=PLANTED[("Recommendation", "note")],
                          given_by=researcher)
    RequestTransition.create(request=r, from_status="under_evaluation", to_status="rejected", by="manager",
                             note=PLANTED[("RequestTransition", "note")])
    MethodWaiver.create(request=r, method="document_review", reason=PLANTED[("MethodWaiver", "reason")],
                        waived_by=staff["manager"])
    care = Service.create(name_ar="رعاية المهتدين الجدد", name_en="Care for new Muslims", decision_days=14,
                          sensitive=True)
    shahada = IntakeQuestion.create(service=care, label_ar="تاريخ إشهار الإسلام", label_en="Date of shahada",
                                    required=False, sensitive=False)
    # S1: registered by the manager (outside the volunteer's scope); S2: registered by the volunteer.
    s1 = make_request(other, care, status="submitted", created_by="manager", researcher=researcher)
    s2 = make_request(b, care, status="draft", created_by="volunteer", researcher=researcher)
    IntakeAnswer.create(request=s2, question=shahada, value=RELIGION_ANSWER)
    return {"b": b, "other": other, "r": r, "visit": visit, "referral": referral, "s1": s1, "s2": s2,
            "income": income}


def _view(app, endpoint):
    admin = app.extensions["admin"][0]
    return next(v for v in admin._views if v.endpoint == endpoint)


def _columns(view, kind):
    """Return the column names a view configures for a kind of page (as Flask-Admin falls back)."""
    if kind == "list":
        return set(view.column_list or ())
    if kind == "details":
        return set(view.column_details_list or view.model._meta.fields)
    if kind == "export":
        return set(view.column_export_list or view.column_list or ())
    return set(view.form_columns or ())


def _text(response) -> str:
    """Return a page's or an export's text: HTML, CSV, or every cell of an XLSX."""
    assert response.status_code == 200, response.status_code
    if response.mimetype.endswith("spreadsheetml.sheet"):
        book = load_workbook(io.BytesIO(response.get_data()))
        return "\n".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value is not None)
    return response.get_data(as_text=True)


def _shows(role, model, field) -> bool:
    return field not in hidden_fields(model, role)


def _pages(app, world, role):
    """Yield (url, {(model, field) the page shows}) for each page the role may open, from the views' config."""
    b, r, visit, referral = world["b"], world["r"], world["visit"], world["referral"]
    screens = (("beneficiary", "Beneficiary", b.id), ("servicerequest", "ServiceRequest", r.id),
               ("verificationvisit", "VerificationVisit", visit.id), ("referral", "Referral", referral.id))
    for endpoint, model, row_id in screens:
        view = _view(app, endpoint)
        if not can(role, view.read_capability):
            continue
        for kind, url in (("list", f"/admin/{endpoint}/"), ("details", f"/admin/{endpoint}/details/?id={row_id}"),
                          ("edit", f"/admin/{endpoint}/edit/?id={row_id}"),
                          ("export", f"/admin/{endpoint}/export/csv/"),
                          ("export", f"/admin/{endpoint}/export/xlsx/")):
            capability = {"edit": view.edit_capability,
                          "export": view.export_capability}.get(kind, view.read_capability)
            if capability is None or not can(role, capability):
                continue
            if kind == "edit" and endpoint == "servicerequest" and role == "volunteer":
                continue  # a submitted request is no longer the volunteer's to edit (403)
            shown = {(model, name) for name in _columns(view, kind)}
            if kind == "details" and endpoint == "servicerequest":
                shown |= CASE_FILE_FIELDS
            yield url, shown


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_each_screen_shows_a_planted_value_exactly_when_the_registry_allows(app, client, login_as, world, role):
    """Issue 8: lists, details, edit pages, CSV and XLSX exports per role, derived from the registry."""
    login_as(role)
    checked = {True: 0, False: 0}
    for url, shown in _pages(app, world, role):
        text = _text(client.get(url))
        for (model, field), value in PLANTED.items():
            expected = (model, field) in shown and _shows(role, model, field)
            assert (value in text) is expected, f"{role} {url}: {model}.{field} {'missing' if expected else 'leaks'}"
            checked[expected] += 1
    # Not vacuous: every role opens pages, and sees some planted values and not others (but admins see all).
    assert checked[True] > 0
    assert checked[False] > 0


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_the_case_file_shows_answers_as_the_row_markers_say(client, login_as, world, role):
    """Sensitive intake answers (IntakeQuestion.sensitive) and every answer of a sensitive service."""
    login_as(role)
    html = _text(client.get(f"/admin/servicerequest/details/?id={world['r'].id}"))
    staff_card = role != "board"  # the board's case file has no intake card at all
    assert (INCOME in html) is (staff_card and "question.sensitive" not in hidden_row_markers("IntakeAnswer", role))
    assert (REMARK in html) is staff_card
    s2 = client.get(f"/admin/servicerequest/details/?id={world['s2'].id}")
    if hides_sensitive_requests(role) and role != "volunteer":
        assert s2.status_code == 403
    else:
        assert (RELIGION_ANSWER in _text(s2)) is (not hides_sensitive_requests(role))


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_requests_of_sensitive_services_are_listed_as_the_registry_says(client, login_as, world, role):
    """Service.sensitive rows: the roles of "religion" see them; others only the ones they registered."""
    user = login_as(role)
    s1, s2 = world["s1"], world["s2"]
    html = _text(client.get("/admin/servicerequest/"))
    for s in (s1, s2):
        in_scope = role != "volunteer" or s.created_by == user.username
        expected = in_scope and (not hides_sensitive_requests(role) or s.created_by == user.username)
        assert (s.number in html) is expected, (role, s.created_by)
    assert world["r"].number in html  # the ordinary request is listed for everyone
    if can(role, "export"):
        for kind in ("csv", "xlsx"):
            text = _text(client.get(f"/admin/servicerequest/export/{kind}/"))
            assert world["r"].number in text
            assert s1.number not in text and s2.number not in text  # never exported row by row
    timeline = _text(client.get(f"/admin/beneficiary/details/?id={world['other'].id}"))
    assert (s1.number in timeline) is (not hides_sensitive_requests(role) and role != "volunteer")


def test_explicit_cases_so_the_derived_checks_cannot_pass_vacuously(client, login_as, world):
    login_as("manager")
    details = _text(client.get(f"/admin/beneficiary/details/?id={world['b'].id}"))
    assert PLANTED[("Beneficiary", "notes")] in details and ID_NUMBER in details
    assert INCOME in _text(client.get(f"/admin/servicerequest/details/?id={world['r'].id}"))
    login_as("researcher")
    assert PLANTED[("VerificationVisit", "findings")] in _text(
        client.get(f"/admin/verificationvisit/details/?id={world['visit'].id}"))
    assert world["s1"].number in _text(client.get("/admin/servicerequest/"))
    login_as("volunteer")
    visit = _text(client.get(f"/admin/verificationvisit/details/?id={world['visit'].id}"))
    assert "Performed by" in visit and PLANTED[("VerificationVisit", "findings")] not in visit
    referrals = _text(client.get("/admin/referral/"))
    assert world["b"].reference in referrals and PLANTED[("Referral", "reason")] not in referrals
    case = _text(client.get(f"/admin/servicerequest/details/?id={world['r'].id}"))
    assert "Monthly income" in case and INCOME not in case and "Answered. Only researchers" in case
    assert REMARK in case
    assert world["s2"].number in _text(client.get("/admin/servicerequest/"))
    assert RELIGION_ANSWER not in _text(client.get(f"/admin/servicerequest/details/?id={world['s2'].id}"))
    login_as("board")
    details = _text(client.get(f"/admin/beneficiary/details/?id={world['b'].id}"))
    # Names are for every role (the registry); the board used to be kept from the Latin one only.
    assert PLANTED[("Beneficiary", "latin_name")] in details and world["b"].full_name in details
    for secret in (ID_NUMBER, PLANTED[("Beneficiary", "notes")], PLANTED[("Beneficiary", "category")],
                   PLANTED[("Beneficiary", "email")], *MOBILES):
        assert secret not in details
    assert client.get(f"/admin/servicerequest/details/?id={world['s1'].id}").status_code == 403
    case = _text(client.get(f"/admin/servicerequest/details/?id={world['r'].id}"))
    assert world["r"].number in case and PLANTED[("RequestTransition", "note")] not in case


@pytest.mark.parametrize("role", ROLES)
def test_every_request_count_on_the_home_page_matches_the_list_it_links_to(client, login_as, world, role):
    """Issue 15 item 11: the board's counts included sensitive-service requests its list never shows."""
    import datetime
    import html as html_module
    ServiceRequest.update(decision_due=datetime.date(2020, 1, 1)).where(
        ServiceRequest.id == world["s1"].id).execute()  # overdue too
    login_as(role)
    home = _text(client.get("/admin/"))
    # A card (the number inside the link) or a row of "Requests by status" (the number in the next cell).
    counts = re.findall(r'href="(/admin/servicerequest/\?[^"]+)"(?:(?!href=).){0,300}?<bdi>(\d+)</bdi>', home, re.S)
    if not can(role, "requests.read"):
        assert not counts
        return
    assert counts, "no request count on the home page"
    for url, count in counts:
        listed = set(re.findall(r"REQ-\d{4}-\d{6}", _text(client.get(html_module.unescape(url) + "&page_size=100"))))
        assert len(listed) == int(count), (role, url, count, listed)


def test_the_home_worklist_shows_a_referrals_reason_only_to_casework_roles(client, login_as, world, staff):
    """A volunteer's open referral is on their home page, without the reason (Referral.reason)."""
    Referral.create(beneficiary=world["other"], reason="OPEN-REASON-PLANTED", referred_by=staff["volunteer"],
                    researcher=staff["researcher"])
    for role in ("volunteer", "researcher"):
        login_as(role)
        home = _text(client.get("/admin/"))
        assert "Referrals waiting for an answer" in home
        assert ("OPEN-REASON-PLANTED" in home) is _shows(role, "Referral", "reason")


def test_column_chooser_filters_and_search_follow_the_registry(client, login_as, world):
    """A hidden field is not offered as a column, not applied as a filter, not searched."""
    category = PLANTED[("Beneficiary", "category")]
    url = f"/admin/beneficiary/?flt0_category_equals={category}"
    login_as("manager")
    html = _text(client.get("/admin/beneficiary/"))
    assert 'value="category"' in html and 'value="id_number"' in html
    filtered = _text(client.get(url))
    assert world["b"].reference in filtered and world["other"].reference not in filtered
    assert world["b"].reference in _text(client.get("/admin/beneficiary/?search=0000008"))
    for role in ("volunteer", "board"):
        login_as(role)
        html = _text(client.get("/admin/beneficiary/"))
        assert 'value="category"' not in html and 'value="notes"' not in html
        assert ('value="id_number"' in html) is _shows(role, "Beneficiary", "id_number")
        # The filter is ignored, so the list does not single out whoever has that category.
        filtered = _text(client.get(url))
        assert world["b"].reference in filtered and world["other"].reference in filtered
    found = _text(client.get("/admin/beneficiary/?search=0000008"))  # the board: ID digits are not searched
    assert world["b"].reference not in found


# ---- edits by a role that does not see a field keep it ------------------------------------------------
class _FormReader(HTMLParser):
    """Read the fields of the edit form as a browser would post them."""

    def __init__(self):
        super().__init__()
        self.inside, self.fields, self._select, self._textarea = False, {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "admin-form" in (a.get("class") or "").split():
            self.inside = True
        name = a.get("name")
        if not self.inside or not name and tag != "option":
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "file") and \
                (a.get("type") not in ("checkbox", "radio") or "checked" in a):
            self.fields[name] = a.get("value") or ""
        elif tag == "select":
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self.inside = False


def _edit(client, url, **changes):
    page = client.get(url)
    html = _text(page)
    reader = _FormReader()
    reader.feed(html)
    assert reader.fields, "the edit form was found"
    response = client.post(url, data={**reader.fields, **changes})
    assert response.status_code == 302, response.get_data(as_text=True)
    return html, reader.fields


def test_a_volunteer_editing_a_beneficiary_keeps_the_notes_and_category_they_cannot_see(client, login_as, world):
    """Issue 8: the edit form leaves hidden fields out, so the save neither shows nor blanks them."""
    b = world["b"]
    login_as("volunteer")
    html, fields = _edit(client, f"/admin/beneficiary/edit/?id={b.id}", city="جدة")
    assert "notes" not in fields and "category" not in fields
    assert PLANTED[("Beneficiary", "notes")] not in html and PLANTED[("Beneficiary", "category")] not in html
    saved = Beneficiary.get_by_id(b.id)
    assert saved.city == "جدة"
    assert (saved.notes, saved.category) == (PLANTED[("Beneficiary", "notes")], PLANTED[("Beneficiary", "category")])
    # A crafted post of the hidden field changes nothing either.
    _edit(client, f"/admin/beneficiary/edit/?id={b.id}", notes="overwritten")
    assert Beneficiary.get_by_id(b.id).notes == PLANTED[("Beneficiary", "notes")]


def test_a_volunteer_writes_what_they_collect_but_does_not_read_it_back(client, login_as, world):
    """Seeing is not writing: the create form keeps the field; the stored value is not shown afterwards."""
    login_as("volunteer")
    create = _text(client.get("/admin/beneficiary/new/"))
    assert 'name="notes"' in create
    visit = world["visit"]
    html, fields = _edit(client, f"/admin/verificationvisit/edit/?id={visit.id}",
                         performed_at="2026-12-01 10:00:00")
    assert "findings" not in fields and PLANTED[("VerificationVisit", "findings")] not in html
    assert VerificationVisit.get_by_id(visit.id).findings == PLANTED[("VerificationVisit", "findings")]


def test_a_volunteers_draft_keeps_the_sensitive_answer_they_cannot_read(client, login_as, world, staff, full_service):
    """The case file sends no hidden answer; saving the others leaves it; a new answer replaces it (P6.1)."""
    draft = make_request(world["other"], full_service, created_by="volunteer", researcher=staff["researcher"],
                         notes="DRAFT-NOTES-PLANTED")
    income = world["income"]
    IntakeAnswer.create(request=draft, question=income, value="4200")
    VerificationVisit.create(request=draft, method="interview", findings="DRAFT-FINDINGS-PLANTED",
                             created_by="volunteer")
    login_as("volunteer")
    page = _text(client.get(f"/admin/servicerequest/details/?id={draft.id}"))
    assert 'value="4200"' not in page and "Type a new one to replace it." in page
    remarks = IntakeQuestion.get(IntakeQuestion.label_en == "Remarks")
    client.post(f"/admin/servicerequest/case/{draft.id}/answers", data={f"q{income.id}": "", f"q{remarks.id}": "x"})
    assert IntakeAnswer.get(request=draft, question=income).value == "4200"
    assert IntakeAnswer.get(request=draft, question=remarks).value == "x"
    client.post(f"/admin/servicerequest/case/{draft.id}/answers", data={f"q{income.id}": "٣٩٠٠"})
    assert IntakeAnswer.get(request=draft, question=income).value == "3900"
    # The request's own edit form: notes left out, kept on save (visits are not edited inline: issue 14).
    html, fields = _edit(client, f"/admin/servicerequest/edit/?id={draft.id}")
    assert "notes" not in fields and "channel" in fields and not any(name.startswith("visits-") for name in fields)
    assert "DRAFT-NOTES-PLANTED" not in html and "DRAFT-FINDINGS-PLANTED" not in html
    assert ServiceRequest.get_by_id(draft.id).notes == "DRAFT-NOTES-PLANTED"
    assert VerificationVisit.get(VerificationVisit.request == draft).findings == "DRAFT-FINDINGS-PLANTED"


# ---- the board mirror -----------------------------------------------------------------------------
# Each mirrored column (sync/rows.py) and the model field it carries; a derived count carries none.
MIRROR_SOURCES = {
    "beneficiaries": {"reference": ("Beneficiary", "reference"), "full_name": ("Beneficiary", "full_name"),
                      "nationality": ("Beneficiary", "nationality"), "city": ("Beneficiary", "city"),
                      "family_size": ("Beneficiary", "family_size"), "created_at": ("Beneficiary", "created_at"),
                      "open_requests": None},
    "requests": {"number": ("ServiceRequest", "number"), "beneficiary_reference": ("Beneficiary", "reference"),
                 "beneficiary_name": ("Beneficiary", "full_name"), "service_name": ("Service", "name_ar"),
                 "channel": ("ServiceRequest", "channel"), "status": ("ServiceRequest", "status"),
                 "researcher_name": ("User", "full_name"), "submitted_at": ("ServiceRequest", "submitted_at"),
                 "decision_due": ("ServiceRequest", "decision_due"), "overdue": None,
                 "decision": ("ServiceRequest", "decision"), "decided_at": ("ServiceRequest", "decided_at"),
                 "delivered_at": ("Delivery", "delivered_at")},
    "visits": {"request_number": ("ServiceRequest", "number"), "method": ("VerificationVisit", "method"),
               "scheduled_at": ("VerificationVisit", "scheduled_at"),
               "performed_at": ("VerificationVisit", "performed_at"), "performed_by_name": ("User", "full_name"),
               "outcome": ("VerificationVisit", "outcome")},
}


def test_every_mirrored_column_is_a_field_the_registry_lets_the_board_see():
    """The mirror's column configuration, proven against models/personal_data.py."""
    from sync import rows as R
    for table in R.TABLES:
        assert {c.field for c in table.columns} == set(MIRROR_SOURCES[table.key]), table.key
        for column in table.columns:
            source = MIRROR_SOURCES[table.key][column.field]
            if source is not None:
                model, field = source
                assert field not in hidden_fields(model, "board"), (table.key, column.field)
    # The mirror leaves sensitive-service requests out: the board does not see them (ROW_MARKERS).
    assert hides_sensitive_requests("board")


@pytest.mark.parametrize("include_names", ["0", "1"])
def test_the_board_mirror_never_carries_a_hidden_value_or_a_sensitive_request(app, world, include_names):
    """board.xlsx (the same rows as the Google Sheet): nothing the registry hides from the board."""
    from sync import run_sync, settings_from_config
    app.config["SHEETS_INCLUDE_NAMES"] = include_names
    VerificationVisit.create(request=world["s1"], method="field_visit", findings="S1-FINDINGS-PLANTED",
                             outcome="confirmed")
    settings = settings_from_config(app.config, app.instance_path)
    assert settings.include_names is (include_names == "1")
    run_sync(settings)
    book = load_workbook(settings.xlsx_path)
    text = "\n".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value is not None)
    assert world["r"].number in text and world["b"].reference in text  # the mirror is not empty
    secrets = [value for (model, field), value in PLANTED.items() if field in hidden_fields(model, "board")]
    assert PLANTED[("Beneficiary", "notes")] in secrets and ID_NUMBER in secrets
    for secret in (*secrets, *MOBILES, INCOME, REMARK, RELIGION_ANSWER, "S1-FINDINGS-PLANTED",
                   world["s1"].number, world["s2"].number, "CATEGORY-OTHER-PLANTED"):
        assert secret not in text, secret
    assert (world["b"].full_name in text) is (include_names == "1")


# ---- the registry itself ----------------------------------------------------------------------------
def test_every_field_and_row_marker_named_in_the_registry_exists():
    import models
    for (model_name, field), code in PERSONAL_FIELDS.items():
        assert field in getattr(models, model_name)._meta.fields, (model_name, field)
        assert code in CATEGORIES
    for (model_name, marker), code in ROW_MARKERS.items():
        relation, flag = marker.split(".")
        model = getattr(models, model_name)
        assert flag in model._meta.fields[relation].rel_model._meta.fields, marker
        assert code in CATEGORIES


def test_registry_roles_are_the_role_tables_and_agree_with_the_capabilities():
    assert TABLE_ROLES == ROLES
    for category in CATEGORIES.values():
        assert category.roles <= set(ROLES)
        # Sensitive data: casework only, never the board (PDPL).
        assert "board" not in category.roles or not category.sensitive
    # The role table's "no ID/mobile/email" for the board is the registry's identifiers and contact.
    holders = {role for role in ROLES if can(role, "beneficiaries.personal")}
    assert holders == CATEGORIES["identifiers"].roles == CATEGORIES["contact"].roles


def test_readme_holds_the_generated_table_of_who_sees_which_personal_data():
    assert who_sees_markdown() in README.read_text(encoding="utf-8")
    rows = who_sees_markdown().strip().splitlines()
    assert rows[0] == "| personal data | " + " | ".join(ROLES) + " |"
    for line, category in zip(rows[2:], CATEGORIES.values()):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:] == ["✓" if sees(role, category.code) else "–" for role in ROLES]


def test_hidden_fields_follow_the_categories():
    assert hidden_fields("Beneficiary", "manager") == set()
    assert hidden_fields("Beneficiary", "volunteer") == {"notes", "category"}
    assert {"id_number", "mobile", "email", "birth_date", "notes", "category"} == hidden_fields("Beneficiary", "board")
    assert hidden_fields("Beneficiary", None) == set(personal_data.fields_of("Beneficiary"))
    assert hidden_row_markers("ServiceRequest", "researcher") == set()
    assert hidden_row_markers("IntakeAnswer", "volunteer") == {"question.sensitive"}
