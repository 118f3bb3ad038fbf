"""Arabic first, right to left: complete catalogues, reviewed Flask-Admin strings, RTL pages."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
PYBABEL = Path(sys.executable).parent / "pybabel"
AR_MESSAGES = TRANSLATIONS / "ar" / "LC_MESSAGES" / "messages.po"
AR_ADMIN = TRANSLATIONS / "ar" / "LC_MESSAGES" / "admin.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def _read(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _forget_loaded_catalogues() -> None:
    # Flask-Babel caches each domain's merged catalogue per process, so catalogues compiled
    # after an earlier test loaded them would otherwise stay unseen until the next run.
    from flask_admin import babel as admin_babel

    import app as app_module
    admin_babel.domain.cache.clear()
    if "domain_instance" in vars(app_module.babel):
        app_module.babel.domain_instance.cache.clear()


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues():
    """Compile the .po files to .mo (build output, not in git) when missing or older."""
    stale = False
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale = True
    if stale:
        for domain in ("messages", "admin"):
            subprocess.run([str(PYBABEL), "-q", "compile", "-d", str(TRANSLATIONS), "-D", domain],
                           check=True, cwd=ROOT, capture_output=True)
        _forget_loaded_catalogues()


def _forms(message) -> tuple:
    return tuple(message.string) if isinstance(message.id, (list, tuple)) else (message.string,)


def test_every_extracted_message_has_an_arabic_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([str(PYBABEL), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                    "-k", "N_", "-o", str(pot), "."], check=True, cwd=ROOT, capture_output=True)
    ar = _read(AR_MESSAGES)
    assert ar.num_plurals == 6
    missing = []
    for message in _read(pot):
        if not message.id:
            continue
        translated = ar.get(message.id)
        if translated is None or translated.fuzzy:
            missing.append(message.id)
            continue
        forms = _forms(translated)
        expected = ar.num_plurals if isinstance(message.id, (list, tuple)) else 1
        if len(forms) != expected or not all(forms):
            missing.append(message.id)
    assert not missing, "Untranslated or fuzzy in ar/messages.po:\n" + "\n".join(map(str, missing))


def test_arabic_translations_keep_their_placeholders():
    wrong = []
    for message in _read(AR_MESSAGES):
        if not message.id or not message.string:
            continue
        singular = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
        wanted = set(PLACEHOLDER.findall(singular))
        for form in _forms(message):
            found = set(PLACEHOLDER.findall(form))
            # A plural form may spell its number out ("طلبان"), so it may drop a placeholder.
            if not found <= wanted or (not isinstance(message.id, (list, tuple)) and found != wanted):
                wrong.append(f"{message.id!r}: {form!r}")
    assert not wrong, "\n".join(wrong)


def test_admin_catalogue_is_reviewed():
    text = AR_ADMIN.read_text(encoding="utf-8")
    assert "إالغاء" not in text
    empty = [m.id for m in _read(AR_ADMIN) if m.id and (m.fuzzy or not all(_forms(m)))]
    assert not empty, f"Untranslated or fuzzy in ar/admin.po: {empty}"


def _html_tag(html: str) -> str:
    return re.search(r"<html[^>]*>", html).group(0)


def test_login_page_is_arabic_and_right_to_left(client):
    html = client.get("/login").get_data(as_text=True)
    assert _html_tag(html) == '<html lang="ar" dir="rtl">'
    assert "تسجيل الدخول" in html


def test_admin_list_is_arabic_and_right_to_left(client, login_as):
    login_as("admin")
    html = client.get("/admin/beneficiary/").get_data(as_text=True)
    assert _html_tag(html) == '<html lang="ar" dir="rtl">'
    assert "المستفيدون" in html
    assert "bootstrap-rtl.min.css" in html


def test_language_switch_gives_english_left_to_right(client, login_as):
    login_as("admin")
    response = client.get("/lang/en?next=/admin/")
    assert response.status_code == 302 and response.location.endswith("/admin/")
    html = client.get("/admin/beneficiary/").get_data(as_text=True)
    assert _html_tag(html) == '<html lang="en" dir="ltr">'
    assert "Beneficiaries" in html and "المستفيدون" not in html
    assert "bootstrap-rtl.min.css" not in html


def test_flask_admin_buttons_use_our_reviewed_arabic(client, login_as):
    login_as("admin")
    html = client.get("/admin/service/new/").get_data(as_text=True)
    assert "إلغاء" in html
    assert "إالغاء" not in html


def test_every_audit_action_and_table_has_a_label():
    """The audit log shows each action and table in words, never as a code."""
    import re
    from pathlib import Path

    from admin_views.audit_log import ACTIONS, TABLES
    from models import ALL_MODELS
    root = Path(__file__).resolve().parent.parent
    source = "".join(p.read_text(encoding="utf-8") for folder in ("services", "admin_views", "web", "sync")
                     for p in (root / folder).glob("*.py"))
    actions = set(re.findall(r'audit\.record\(\s*"([a-z_]+)"', source))
    assert actions and actions <= set(ACTIONS), actions - set(ACTIONS)
    tables = {m.__name__ for m in ALL_MODELS} | set(re.findall(r'model="([A-Za-z]+)"', source))
    assert tables <= set(TABLES), tables - set(TABLES)
