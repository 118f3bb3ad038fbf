"""Take the README's screenshots in headless Chromium (Debian's /usr/bin/chromium).

Usage: .venv/bin/python scripts/screenshot.py   (needs requirements-dev.txt and `apt-get install chromium`)
Starts the app on a throw-away instance with demo data, logs in, and saves PNGs under docs/screenshots/.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Screenshot-2026"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    """Seed a temporary instance, serve it, and capture the screens."""
    instance = tempfile.mkdtemp(prefix="mustafeed-shots-")
    env = dict(os.environ, INSTANCE_PATH=instance, ADMIN_PASSWORD=PASSWORD)
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "app"]
    for args in (["init-db"], ["ensure-admin"], ["demo-data", "--beneficiaries", "60", "--seed", "7"]):
        subprocess.run(flask + args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "app:create_app()"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        out = ROOT / "docs/screenshots"
        out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 820})
            page.goto(f"{base}/login")
            page.screenshot(path=str(out / "login.png"))
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{base}/admin/beneficiary/")
            page.screenshot(path=str(out / "beneficiaries.png"))
            page.goto(f"{base}/admin/servicerequest/")
            page.screenshot(path=str(out / "requests.png"))
            page.goto(f"{base}/admin/beneficiary/new/")
            page.screenshot(path=str(out / "beneficiary-form.png"), full_page=True)
            page.goto(f"{base}/admin/servicerequest/?flt_status_equals=under_evaluation")
            case = page.locator("a[href*='/admin/servicerequest/details/']").first.get_attribute("href")
            page.goto(base + case)
            page.screenshot(path=str(out / "case-file.png"), full_page=True)
            page.goto(f"{base}/admin/")
            page.screenshot(path=str(out / "home.png"), full_page=True)
            # The public portal as most beneficiaries see it: on a phone (390×844), no login.
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            phone.goto(f"{base}/portal/")
            phone.screenshot(path=str(out / "portal-home.png"))
            phone.goto(f"{base}/portal/request")
            phone.click("a[href^='/portal/request/']")
            phone.screenshot(path=str(out / "portal-request.png"), full_page=True)
            phone.goto(f"{base}/portal/track?lang=en")
            phone.screenshot(path=str(out / "portal-track-en.png"))
            browser.close()
        print(f"screenshots written to {out}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
