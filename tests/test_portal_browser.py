"""End to end in headless Chromium on a phone-sized screen: a request sent on the portal is found in the panel (P2.4)."""
import threading

import pytest
from conftest import free_port
from playwright import sync_api
from werkzeug.serving import make_server

from app import create_app
from cli import upgrade
from models import DocumentType, IntakeQuestion, Notification, Service, ServiceDocumentType, current_actor, db
from services import users

# Debian's chromium (`make test` installs it when missing); Playwright downloads no browser of its own.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "Browser-test-2026"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

@pytest.fixture
def live_server(tmp_path, monkeypatch):
    """The real app (CSRF on, rate limits on) served by werkzeug in a thread on a free port; yields (url, ids)."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}", "UPLOAD_DIR": str(tmp_path / "uploads")})
    db.connect(reuse_if_open=True)
    upgrade()
    token = current_actor.set("test")
    service = Service.create(name_ar="كفالة أسرية", name_en="Family sponsorship", decision_days=21,
                             eligibility_conditions="أسرة مقيمة في بحرة")
    question = IntakeQuestion.create(service=service, label_ar="الدخل الشهري", label_en="Monthly income",
                                     kind="number", required=True)
    card = DocumentType.create(name_ar="صورة الهوية", name_en="ID copy")
    ServiceDocumentType.create(service=service, document_type=card)
    users.create_user("manager1", "manager", PASSWORD, full_name="مدير")
    current_actor.reset(token)
    db.close()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", {"service": service.id, "question": question.id, "document": card.id}
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.heavy
def test_request_sent_from_a_phone_is_found_by_the_manager_in_the_panel(live_server):
    """P2.4, P5.4: on a 390×844 screen, request with a PNG and the attestation, then find it in the panel."""
    base, ids = live_server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                          is_mobile=True, has_touch=True, locale="ar-SA")
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{base}/portal/")
            assert page.get_attribute("html", "dir") == "rtl"
            page.click("a.btn[href='/portal/request']")
            page.click(f"a[href='/portal/request/{ids['service']}']")

            page.fill("#full_name", "سارة علي")
            page.select_option("#id_type", "iqama")
            page.fill("#id_number", "2000000014")
            page.select_option("#nationality", "YE")
            page.click("label[for='gender-1']")  # female: Bootstrap's custom radios are clicked by their label
            page.fill("#mobile", "0551234567")
            page.fill(f"#q{ids['question']}", "1200")
            page.set_input_files(f"#doc{ids['document']}", files=[{"name": "id.png", "mimeType": "image/png",
                                                                    "buffer": PNG}])
            page.click("label[for='attestation']")
            # Mobile first: nothing is wider than the phone's screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.click("#request-form button[type=submit]")
            page.wait_for_selector("h1.text-success", timeout=10_000)
            # The page shows no number (the same page whatever is on file): it goes out as the receipt message.
            db.connect(reuse_if_open=True)
            receipt = Notification.get(Notification.kind == "submission_receipt")
            number = receipt.request.number
            db.close()
            assert number.startswith("REQ-") and number in receipt.body
            assert number not in page.content()

            page.goto(f"{base}/login")
            page.fill("#username", "manager1")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/admin/**")
            page.goto(f"{base}/admin/servicerequest/?search={number}")
            row = page.locator("table.model-list tbody tr", has_text=number)
            assert row.count() == 1
        finally:
            browser.close()
