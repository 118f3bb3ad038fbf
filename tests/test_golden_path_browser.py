"""The golden path in a real headless Chromium, in Arabic (issue 9, "Browser tests").

A volunteer registers a beneficiary typing the ID in Arabic-Indic digits, is shown the catalogue's
error for a wrong check digit, fixes it and opens a request; a manager assigns it to a researcher;
the researcher verifies the document, schedules and records a field visit and evaluates; a manager
decides; the decision is queued for the beneficiary; the board mirror (a local fake of the Sheets
API) shows the decision without the name or the ID. Every step goes through the screens a real
user uses, and each one leaves a full-page 1280-wide screenshot in test-artifacts/golden/.

UPDATE_GOLDEN_SCREENSHOTS=1 also copies the README's curated set to docs/screenshots/golden/ (made smaller
with pngquant when it is installed).
"""
import datetime
import html
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.support import Translations
from conftest import free_port
from fake_sheets import FakeSheets
from playwright import sync_api
from stdnum import luhn
from werkzeug.serving import make_server

from app import create_app
from cli import upgrade
from models import (
    Beneficiary,
    DocumentType,
    EvaluationCriterion,
    IntakeQuestion,
    Notification,
    Service,
    ServiceDocumentType,
    ServiceRequest,
    VerificationVisit,
    current_actor,
    db,
    utcnow,
)
from services import users
from services.dates import to_local
from sync import rows as R

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "golden"
DOCS = ROOT / "docs" / "screenshots" / "golden"
# The steps the README shows: test-artifacts/golden/NN-<name>.png → docs/screenshots/golden/<name>.png.
CURATED = ("wrong-check-digit", "request-submitted", "field-visit-recorded", "decision", "outbox", "board-mirror",
           "board-sheet", "reopened")

# Debian's chromium; Playwright downloads no browser of its own (as in test_portal_browser.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "Golden-path-2026"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
FAVICON = "/favicon.ico"
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
# The app's catalogue, then Flask-Admin's own strings (its "admin" domain).
AR = [Translations.load(str(ROOT / "translations"), ["ar"], domain) for domain in ("messages", "admin")]


def ar(msgid: str, **params) -> str:
    """Return the Arabic catalogue's text for a message id, as the screens show it."""
    text = next((t.gettext(msgid) for t in AR if t.gettext(msgid) != msgid), None)
    assert text, f"no Arabic translation for {msgid!r}"
    return text % params if params else text


def valid_national_id() -> str:
    """Return a national ID with a correct Luhn check digit."""
    partial = "108452736"
    return partial + luhn.calc_check_digit(partial)


@pytest.fixture
def golden_server(tmp_path, monkeypatch, migrated_database):
    """The real app (CSRF and rate limits on) on a free port, with a local fake Sheets API as its board mirror."""
    from tasks import queue
    shutil.copyfile(migrated_database, tmp_path / "golden.db")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with FakeSheets() as fake:
        fake.create()
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'golden.db'}",
                          "UPLOAD_DIR": str(tmp_path / "uploads"),
                          "SHEETS_SPREADSHEET_ID": "sheet-1", "SHEETS_API_ENDPOINT": fake.url,
                          "SHEETS_BACKOFF_BASE": 0.001, "SHEETS_TIMEOUT": 5,
                          # Each person's browser keeps the CSS and JS it fetched instead of asking again on
                          # every page (about twenty requests a page): the path runs in half the time.
                          "SEND_FILE_MAX_AGE_DEFAULT": 600})
        # "Sync now" queues a job for the worker; here the queue runs it at once, in this application.
        monkeypatch.setattr(queue, "_app", app)
        monkeypatch.setattr(queue.huey, "immediate", True)
        db.connect(reuse_if_open=True)
        upgrade()  # nothing left to apply on the copy, as in conftest's app fixture
        token = current_actor.set("test")
        # What a manager sets up once under Settings → Services: a service that needs an ID copy, a field
        # visit, an answer about income and one criterion; and the three people of the path.
        service = Service.create(name_ar="ترميم المنازل", name_en="Home repair", decision_days=14,
                                 requires_document_review=True, requires_field_visit=True)
        IntakeQuestion.create(service=service, label_ar="الدخل الشهري", label_en="Monthly income",
                              kind="number", required=True)
        card = DocumentType.create(name_ar="صورة الهوية", name_en="ID copy")
        ServiceDocumentType.create(service=service, document_type=card)
        EvaluationCriterion.create(service=service, text_ar="المنزل بحاجة إلى ترميم",
                                   text_en="The home needs repair")
        users.create_user("sara", "volunteer", PASSWORD, full_name="سارة المتطوعة")
        users.create_user("khalid", "researcher", PASSWORD, full_name="خالد الباحث")
        users.create_user("mona", "manager", PASSWORD, full_name="منى المديرة")
        current_actor.reset(token)
        db.close()
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield {"base": f"http://127.0.0.1:{server.server_port}", "fake": fake, "service": service}
        finally:
            server.shutdown()
            thread.join(timeout=5)
            if not db.is_closed():
                db.close()


class Browser:
    """One Chromium for the test; each person works in their own context (their own computer)."""

    def __init__(self, playwright, base: str):
        self.base = base
        self.host = urlsplit(base).netloc
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.problems: list[str] = []   # console errors, page errors, CSP violations, outside requests
        self.step = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    def person(self, username: str, login_shot: str | None = None) -> sync_api.Page:
        """Open a fresh context for a staff member (their own computer) and log in through the login form."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 800}, locale="ar-SA",
                                           timezone_id="Asia/Riyadh")
        page = context.new_page()
        page.set_default_timeout(10_000)
        # Nothing may leave the machine: a request to another host fails the test. (Watched, not routed:
        # routing turns Chromium's cache off, and every page would fetch its scripts and styles again.)
        page.on("request", self._local_only)
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith(FAVICON) and self.problems.append(
            f"{username} got {r.status} for {r.url}"))
        page.on("console", lambda msg: self._console(username, page, msg))
        page.on("pageerror", lambda err: self.problems.append(f"{username} JS error on {page.url}: {err}"))
        page.goto(f"{self.base}/login")
        assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        if login_shot:
            self.shot(page, login_shot)
        submit(page, "button[type=submit]")
        assert page.url == f"{self.base}/admin/", page.url
        assert f"({username})" in page.inner_text("nav")  # the "log out (username)" button
        return page

    def _console(self, username, page, msg):
        # Chromium asks every site for /favicon.ico; the app has none (a 404 that is no fault of a screen).
        if msg.type == "error" and not msg.location.get("url", "").endswith(FAVICON):
            self.problems.append(f"{username} console error on {page.url}: {msg.text} ({msg.location.get('url')})")

    def _local_only(self, request):
        if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != self.host:
            self.problems.append(f"request outside the app: {request.url}")

    def shot(self, page: sync_api.Page, name: str) -> None:
        """Save the whole page, 1280 wide, as test-artifacts/golden/NN-name.png."""
        self.step += 1
        page.screenshot(path=str(ARTIFACTS / f"{self.step:02d}-{name}.png"), full_page=True)

    def show_sheet(self, title: str, values: list[list]) -> None:
        """Screenshot the mirror's tab as the board reads it: the cells the fake Sheets API holds, as a table."""
        page = self.browser.new_page(viewport={"width": 1280, "height": 400})
        cells = lambda row, tag: "".join(f"<{tag}><bdi>{html.escape(str(v))}</bdi></{tag}>" for v in row)  # noqa: E731
        page.set_content(
            '<html lang="ar" dir="rtl"><head><style>body { font: 13px sans-serif; margin: 16px }'
            " table { border-collapse: collapse } th { background: #e8eaed } th, td { border: 1px solid #bbb;"
            " padding: 4px 8px; white-space: nowrap }</style></head><body>"
            f"<h3>{html.escape(ar('Board mirror'))} — Google Sheet: {html.escape(title)}</h3>"
            f"<table><tr>{cells(values[0], 'th')}</tr>"
            + "".join(f"<tr>{cells(row, 'td')}</tr>" for row in values[1:]) + "</table></body></html>")
        self.shot(page, "board-sheet")
        page.close()

    def close(self):
        self.browser.close()


def submit(page: sync_api.Page, selector: str = "form.admin-form input[type=submit]:not([name])") -> None:
    """Press a button that posts a form, and wait until the page it leads to has loaded."""
    with page.expect_navigation():
        page.click(selector)


def flash_text(page: sync_api.Page) -> str:
    """Return the text of the page's flashed messages."""
    return " ".join(page.locator(".alert").all_inner_texts())


@pytest.mark.heavy
def test_golden_path_in_arabic(golden_server):
    """Issue 9: volunteer → manager → researcher → manager → outbox → board mirror, in Arabic, in Chromium.

    On the way: the ID check digit, Arabic-Indic digits (input rules); submission with the answers and
    the attestation (P5.2, P5.4, P5.5); the document verified (P6.2); the field visit required and
    confirmed (P6.5); criteria and recommendation (P6.3); the decision by a manager who neither registered
    nor verified the request, queued for the beneficiary with its reason (P6.4, P6.6).
    """
    base, fake, service = golden_server["base"], golden_server["fake"], golden_server["service"]
    id_number = valid_national_id()
    wrong = id_number[:-1] + str((int(id_number[-1]) + 1) % 10)
    with sync_api.sync_playwright() as p:
        b = Browser(p, base)
        try:
            # ---- 1. the volunteer logs in ---------------------------------------------------------------
            page = b.person("sara", login_shot="volunteer-login")
            b.shot(page, "volunteer-home")

            # ---- 2. registers a beneficiary: the ID typed in Arabic-Indic digits, one digit wrong ------
            page.goto(f"{base}/admin/beneficiary/new/")
            page.fill("#full_name", "فاطمة أحمد الزهراني")
            page.select_option("#id_type", "national_id")
            page.fill("#id_number", wrong.translate(ARABIC_DIGITS))
            page.select_option("#nationality", "SA")
            page.select_option("#gender", "female")
            page.fill("#mobile", "٠٥٥١٢٣٤٥٦٧")
            page.fill("#city", "بحرة")
            submit(page)
            message = ar("The ID number's check digit is wrong: please re-read the number from the card.")
            error = page.locator("#id_number").locator("xpath=ancestor::div[contains(@class,'form-group')]")
            assert message in error.inner_text()
            assert page.input_value("#full_name") == "فاطمة أحمد الزهراني"  # nothing typed is lost
            assert Beneficiary.select().count() == 0  # and nothing was saved
            b.shot(page, "wrong-check-digit")

            # ---- 3. fixes the digit and saves ------------------------------------------------------------
            page.fill("#id_number", id_number.translate(ARABIC_DIGITS))
            submit(page)
            assert page.url == f"{base}/admin/beneficiary/"
            assert ar("Record was successfully created.") in flash_text(page)
            row = page.locator("table.model-list tbody tr", has_text="فاطمة أحمد الزهراني")
            assert row.count() == 1
            assert id_number in row.inner_text()  # stored (and shown) in ASCII digits
            b.shot(page, "beneficiary-saved")

            # ---- 4. opens a request for her: the form, then the case file's answers, attestation, submit --
            page.goto(f"{base}/admin/servicerequest/new/")
            page.click("#s2id_beneficiary")  # Flask-Admin's select2 3.5 search box, filled as she types
            page.keyboard.type("فاطمة")
            page.locator(".select2-results li", has_text="فاطمة أحمد الزهراني").first.click()
            page.select_option("#service", str(service.id))
            page.select_option("#channel", "interview")
            submit(page)
            assert ar("Record was successfully created.") in flash_text(page)
            row = page.locator("table.model-list tbody tr", has_text="فاطمة أحمد الزهراني")
            number = row.locator("td.col-number").inner_text().strip()
            assert number.startswith("REQ-") and ar("Draft") in row.inner_text()
            with page.expect_navigation():
                row.locator("a[href*='/details/']").click()
            assert page.locator("#submit").is_visible()
            page.fill("#intake input[name^=q]", "١٥٠٠")  # the monthly income, in Arabic-Indic digits too
            submit(page, "#intake button")
            assert ar("The answers were saved.") in flash_text(page)
            assert page.input_value("#intake input[name^=q]") == "1500"
            # The ID copy taken at the desk.
            with page.expect_navigation():
                page.click("#documents a.btn")
            page.select_option("#document_type", label="صورة الهوية")
            page.set_input_files("#file", files=[{"name": "id-copy.png", "mimeType": "image/png", "buffer": PNG}])
            submit(page)
            assert page.url.startswith(f"{base}/admin/servicerequest/details/")
            assert "id-copy.png" in page.inner_text("#documents")
            page.select_option("#attestation_method", "in_person")
            submit(page, "#submit form.form-inline button")
            assert ar("The applicant's attestation was recorded.") in flash_text(page)
            submit(page, "#submit form:not(.form-inline) button")
            request = ServiceRequest.get(ServiceRequest.number == number)
            assert request.status == "submitted"
            assert number in flash_text(page) and ar("Submitted") == page.inner_text("#status-badge")
            b.shot(page, "request-submitted")

            # ---- 5. a manager assigns it to the researcher, from the list's bulk action -------------------
            page = manager = b.person("mona")
            page.goto(f"{base}/admin/servicerequest/?search={number}")
            page.check("table.model-list tbody tr input.action-checkbox")
            page.click("text=" + ar("With selected"))
            with page.expect_navigation():
                page.click("text=" + ar("Assign a researcher"))
            page.select_option("#researcher", label="خالد الباحث")
            b.shot(page, "assign-researcher")
            submit(page, "form[action$='/bulk/apply/'] button[type=submit]")
            assert ar("%(num)s request was changed.", num=1) in flash_text(page)
            assert "خالد الباحث" in page.locator("table.model-list tbody tr", has_text=number).inner_text()

            # ---- 6. the researcher verifies the ID copy and schedules the field visit --------------------
            page = b.person("khalid")
            with page.expect_navigation():  # the home page's "my requests"
                page.locator("a", has_text=number).first.click()
            submit(page, "#documents form button")
            assert ar("The document was marked verified.") in flash_text(page)
            page.select_option("#status-target", "under_verification")
            submit(page, "#status-move button")
            assert ar("Under verification") == page.inner_text("#status-badge")
            # Arranged by phone for this morning; recorded once done (a visit is never performed in the future).
            when = to_local(utcnow()).replace(tzinfo=None, second=0, microsecond=0) - datetime.timedelta(hours=2)
            page.select_option("#verification select[name=method]", "field_visit")
            page.fill("#verification input[name=scheduled_at]", when.strftime("%Y-%m-%dT%H:%M"))
            submit(page, "#verification form button")
            assert ar("The visit was scheduled.") in flash_text(page)
            b.shot(page, "field-visit-scheduled")

            # ---- 7. ... goes, and records what was found, right in the case file: the outcome that counts ---
            form = page.locator("#verification tr.visit-record form")
            form.locator("input[name=performed_at]").fill(when.strftime("%Y-%m-%dT%H:%M"))
            form.locator("select[name=performed_by]").select_option(label="خالد الباحث")
            form.locator("input[name=findings]").fill("المنزل قديم والسقف يحتاج إلى ترميم عاجل")
            form.locator("select[name=outcome]").select_option("confirmed")
            b.shot(page, "field-visit-form")
            submit(page, "#verification tr.visit-record form button")
            assert ar("The visit was recorded.") in flash_text(page)
            assert page.url.startswith(f"{base}/admin/servicerequest/details/")
            row = page.locator("#verification table.table-bordered tbody tr", has_text=ar("Field visit"))
            assert ar("Confirmed") in row.inner_text()
            method = page.locator("#verification table:not(.table-bordered) tbody tr", has_text=ar("Field visit"))
            assert ar("Confirmed") in method.inner_text()
            # Typed in Riyadh time like every time on screen: stored as the same moment as the appointment.
            visit = VerificationVisit.get((VerificationVisit.request == request.id) &
                                          (VerificationVisit.method == "field_visit"))
            assert visit.performed_at == visit.scheduled_at, (visit.performed_at, visit.scheduled_at)
            b.shot(page, "field-visit-recorded")

            # ---- 8. ... moves it to evaluation, assesses the criterion and recommends approval -----------
            page.select_option("#status-target", "under_evaluation")
            submit(page, "#status-move button")
            assert ar("Under evaluation") == page.inner_text("#status-badge")
            page.check("#evaluation input[type=radio][value='1']")
            page.fill("#evaluation input[name^=note]", "تحقق في الزيارة الميدانية")
            submit(page, "#evaluation form:not(.form-inline) button")
            assert ar("The assessment was saved.") in flash_text(page)
            page.select_option("#evaluation select[name=recommendation]", "approve")
            page.fill("#evaluation form.form-inline input[name=note]", "الأسرة مستحقة")
            submit(page, "#evaluation form.form-inline button")
            assert ar("The recommendation was recorded.") in flash_text(page)
            b.shot(page, "evaluation")

            # ---- 9. the manager decides: approve, with the reason the beneficiary is told ---------------
            page = manager  # back at her desk
            page.goto(f"{base}/admin/")
            with page.expect_navigation():  # the home page's "awaiting decision"
                page.locator("a", has_text=number).first.click()
            page.check("#decision input[name=decision][value=approved]")
            page.fill("#decision #reason", "تمت الموافقة على ترميم المنزل")
            submit(page, "#decision button")
            assert ar("The decision was recorded and the beneficiary's notification queued.") in flash_text(page)
            assert ar("Approved") == page.inner_text("#status-badge")
            b.shot(page, "decision")

            # ---- 10. the decision is in the outbox, queued for the beneficiary -------------------------------
            page.goto(f"{base}/admin/notification/?search={number}")
            decision_row = page.locator("table.model-list tbody tr", has_text=ar("Decision"))
            assert decision_row.count() == 1
            assert number in decision_row.inner_text() and ar("Queued") in decision_row.inner_text()
            b.shot(page, "outbox")
            queued = Notification.get((Notification.request == request.id) & (Notification.kind == "decision"))
            assert queued.status == "queued" and queued.channel == "letter"  # no SMS gateway or SMTP here
            assert "تمت الموافقة على ترميم المنزل" in queued.body  # the reason reaches the beneficiary

            # ---- 11. the board mirror: "Sync now", then the decision is in the sheet ----------------------
            page.goto(f"{base}/admin/boardmirror/")
            submit(page, "form[action$='/sync'] button:not([name])")
            assert ar("The sync was queued; this page shows it when it has run.") in flash_text(page)
            assert ar("Succeeded") in page.locator("table tbody tr").first.inner_text()
            b.shot(page, "board-mirror")
            ctx = R.Context()
            sheet = fake.values(R.title(R.REQUESTS, ctx))
            header, rows = sheet[0], [r for r in sheet[1:] if r and r[0] == number]
            assert len(rows) == 1, sheet
            mirrored = dict(zip(header, rows[0]))
            assert mirrored[ctx._("Decision")] == ar("Approved")
            assert mirrored[ctx._("Status")] == ar("Approved")
            assert mirrored[ctx._("Beneficiary reference")] == request.beneficiary.reference
            everything = json.dumps([fake.values(t) for t in fake.titles()], ensure_ascii=False)
            for secret in (id_number, "فاطمة", "551234567"):  # no name, ID or mobile anywhere in the mirror
                assert secret not in everything
            b.show_sheet(R.title(R.REQUESTS, ctx), sheet)

            # ---- 12. the manager reopens the decided case, with a reason (issue 14) -----------------------
            page = manager
            page.goto(f"{base}/admin/servicerequest/details/?id={request.id}")
            page.fill("#reopen-reason", "وصلت معلومات جديدة عن دخل الأسرة")
            b.shot(page, "reopen")
            submit(page, "#reopen button")
            assert ar("The request was reopened and is under evaluation again.") in flash_text(page)
            assert ar("Under evaluation") == page.inner_text("#status-badge")
            history = page.inner_text(".col-lg-4")
            assert ar("Approved") in history and "وصلت معلومات جديدة" in history  # the old decision stays
            reopened = ServiceRequest.get_by_id(request.id)
            assert (reopened.status, reopened.decision) == ("under_evaluation", None)
            # The decision letter had not been handed over: it is withdrawn, never sent.
            assert Notification.get_by_id(queued.id).status == "superseded"
            b.shot(page, "reopened")
        finally:
            b.close()
            print("\n".join(dict.fromkeys(b.problems)))  # shown beside a failed step's own message
        # Console errors, JS errors, CSP violations, failed loads and outside requests, on any page.
        assert not b.problems, "\n".join(dict.fromkeys(b.problems))
    if os.environ.get("UPDATE_GOLDEN_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in CURATED:
            [shot] = ARTIFACTS.glob(f"[0-9][0-9]-{name}.png")
            shutil.copyfile(shot, DOCS / f"{name}.png")
        if shutil.which("pngquant"):  # Debian's pngquant, when installed: a third of the size for the repository
            subprocess.run(["pngquant", "--quality", "70-95", "--speed", "1", "--strip", "--force", "--ext", ".png",
                            *(str(DOCS / f"{name}.png") for name in CURATED)], check=True)
