"""Fixtures: a fresh database per test (a SQLite file, or PostgreSQL), an app, a client, a user of each role.

TEST_DATABASE_URL=postgresql://… (scripts/postgres.sh url) runs the same tests on that PostgreSQL server
(the second lane of `make test`): each test gets its own database, cloned from a template migrated once per
session. Tests that are about SQLite itself are marked `@pytest.mark.sqlite_only("why")` and skipped there.
"""
import datetime
import itertools
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from werkzeug.security import generate_password_hash

from app import create_app
from cli import upgrade
from models import Beneficiary, Service, ServiceRequest, User, case_guard, current_actor, db, utcnow
from services import beneficiaries, users

PASSWORD = "correct-horse-42"
ROLE_NAMES = ("admin", "manager", "researcher", "volunteer", "board")


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRESQL = urlparse(TEST_DATABASE_URL).scheme in ("postgres", "postgresql")
# The browser tests drive the same screens as the view tests: the PostgreSQL lane does not run them twice.
collect_ignore_glob = ["*browser*"] if ON_POSTGRESQL else []


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): the test is about SQLite itself; skipped on PostgreSQL")
    config.addinivalue_line("markers", "heavy: runs for tens of seconds; started first, so both workers end together")


def pytest_collection_modifyitems(config, items):
    # pytest-xdist hands tests out in order: the long walks last would leave one worker running alone at the end.
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)
    if not ON_POSTGRESQL:
        return
    # The PostgreSQL lane runs the tests that use the lane's database; the others (validators, text,
    # their own SQLite files) would only repeat the first lane.
    kept = [item for item in items if {"database_url", "empty_database"} & set(item.fixturenames)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker:
            item.add_marker(pytest.mark.skip(reason="SQLite only: " + (marker.args[0] if marker.args else "")))


def postgres_url(name: str) -> str:
    """Return TEST_DATABASE_URL pointing at another database of the same server."""
    return urlparse(TEST_DATABASE_URL)._replace(path="/" + name).geturl()


def postgres_admin():
    """Open an autocommit connection to TEST_DATABASE_URL's own database, for CREATE/DROP DATABASE."""
    import psycopg
    return psycopg.connect(TEST_DATABASE_URL, autocommit=True)


# Databases of this run carry its process id: several runs (xdist workers, other checkouts) share the server.
_PG_PREFIX = f"mustafeed_test_{os.getpid()}"
_pg_numbers = itertools.count()


def _drop_abandoned_databases(admin) -> None:
    """Drop the test databases of runs that were killed before their teardown (their process is gone)."""
    query = "SELECT datname FROM pg_database WHERE datname LIKE 'mustafeed\\_test\\_%'"
    for (name,) in admin.execute(query).fetchall():
        pid = name.split("_")[2]
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except (ValueError, PermissionError):
            pass


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory):
    """Return a SQLite file (or a PostgreSQL template database's name) with every migration applied.

    Made once per test session; each test copies it instead of migrating its own database: the same
    schema, without running every migration again for each of a thousand tests.
    """
    from models.database import open_database
    if ON_POSTGRESQL:
        template = f"{_PG_PREFIX}_template"
        with postgres_admin() as admin:
            _drop_abandoned_databases(admin)
            admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{template}"')
        open_database(postgres_url(template))
        db.connect()
        upgrade()
        db.close()
        yield template
        with postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        return
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    open_database(f"sqlite:///{path}")
    db.connect()
    upgrade()
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    yield path


@pytest.fixture
def database_url(tmp_path, migrated_database):
    """Return the URL of this test's own fresh, migrated database (dropped after the test on PostgreSQL)."""
    if not ON_POSTGRESQL:
        shutil.copyfile(migrated_database, tmp_path / "test.db")
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    # A clone of the template (~30 ms in /dev/shm) rather than TRUNCATE: the rows migrations seed stay, and
    # every sequence starts again from the template's value, so no id depends on the tests run before.
    name = f"{_PG_PREFIX}_{next(_pg_numbers)}"
    with postgres_admin() as admin:
        # FILE_COPY: 27 ms for a template this small, against 43 ms for PostgreSQL 15's default (WAL_LOG).
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_database}" STRATEGY FILE_COPY')
    yield postgres_url(name)
    if not db.is_closed():
        db.close()
    # FORCE ends the connections a test's threads left open.
    with postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database(tmp_path):
    """Return a function giving the URL of a new database without any table (SQLite or PostgreSQL)."""
    made = []

    def make() -> str:
        name = f"{_PG_PREFIX}_{next(_pg_numbers)}"
        made.append(name)
        if not ON_POSTGRESQL:
            return f"sqlite:///{tmp_path / name}.db"
        with postgres_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return postgres_url(name)
    yield make
    if ON_POSTGRESQL and made:
        if not db.is_closed():
            db.close()
        with postgres_admin() as admin:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _test_settings(tmp_path, database_url) -> dict:
    return {"TESTING": True, "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path / "uploads"),
            "FLASK_ADMIN_RAISE_ON_VIEW_EXCEPTION": True, "WTF_CSRF_ENABLED": False}


def _test_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("WEB_WORKERS", raising=False)  # one process here, whatever the shell says
    monkeypatch.delenv("SECRET_KEY", raising=False)


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory):
    """The application, built once per test process, and the settings every test starts from.

    Building it compiles the admin's 900 URL rules (0.3 s); a fresh one for each of 2,000 tests was a
    third of the suite's time. Each test gets its own instance folder, database and settings on it
    (`app` below); a test that changes the application itself (adds a URL rule) uses `fresh_app`.
    """
    from web.limits import limiter
    base = tmp_path_factory.mktemp("shared")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _test_environment(monkeypatch, base)
        app = create_app(_test_settings(base, f"sqlite:///{base / 'unused.db'}"))
    _strict_templates(app)
    # The portal's limiter is one object that every create_app initialises again (a test making an app on
    # Redis moves it there): what this app set up is put back before each test.
    limits = {name: getattr(limiter, name) for name in ("_storage", "_limiter", "_strategy", "enabled")}
    return app, {key: value for key, value in app.config.items()}, limits


def _strict_templates(app, folder: str | None = None) -> None:
    """A name our templates use but nobody passed fails the test, instead of rendering as nothing (issue 21).

    Strict for the templates of this project (templates/), as jinja2.StrictUndefined is; Flask-Admin's own
    templates keep Jinja's default, which they rely on (lib.html compares ``field.widget.input_type`` on
    widgets that have none). Which template is rendering is read from the frame the undefined value is used in.
    """
    import sys

    from jinja2 import Undefined

    ours = str(folder or Path(app.root_path) / "templates") + os.sep

    def strict(name):
        lenient = getattr(Undefined, name)

        def use(self, *args, **kwargs):
            frame = sys._getframe(1)
            while frame is not None and not frame.f_code.co_filename.endswith(".html"):
                frame = frame.f_back
            if frame is not None and frame.f_code.co_filename.startswith(ours):
                self._fail_with_undefined_error()
            return lenient(self, *args, **kwargs)
        return use

    names = ("__iter__", "__str__", "__len__", "__eq__", "__ne__", "__bool__")
    app.jinja_env.undefined = type("StrictInOurTemplates", (Undefined,), {
        **{name: strict(name) for name in names}, "__hash__": Undefined.__hash__, "__slots__": ()})


@pytest.fixture
def fresh_app(tmp_path, monkeypatch, database_url):
    """An application of its own for a test that changes the application (its URL map)."""
    _test_environment(monkeypatch, tmp_path)
    app = create_app(_test_settings(tmp_path, database_url))
    _strict_templates(app)
    db.connect(reuse_if_open=True)
    yield app
    if not db.is_closed():
        db.close()


@pytest.fixture
def app(tmp_path, monkeypatch, database_url, shared_app):
    """The application on this test's own instance folder and database, with the settings create_app gives it."""
    import config
    from models.database import open_database
    from services import files, notifications
    from web.limits import limiter
    _test_environment(monkeypatch, tmp_path)
    app, defaults, limits = shared_app
    instance = tmp_path / "instance"
    files.private_folder(instance)
    app.instance_path = str(instance)
    app.config.clear()
    app.config.update(defaults)
    app.config.update(config.load_config(instance))
    app.config.update(_test_settings(tmp_path, database_url))
    config.check_workers(app.config)
    for folder in (app.config["UPLOAD_DIR"], app.config["IMPORT_DIR"]):
        files.private_folder(folder)
    open_database(database_url)
    notifications.configure(app.config)
    for name, value in limits.items():
        setattr(limiter, name, value)
    limiter.reset()  # the portal's and the login's counters start from zero, as in a new process
    db.connect(reuse_if_open=True)
    upgrade()  # nothing left to apply on the copy; kept so a test database is always current
    token = current_actor.set("test")
    # Tests arrange requests, visits and documents directly; every web request still starts with the case
    # gates closed (app.py), and `strict_cases` closes them for a whole test.
    with case_guard.gate(case_guard.ANY, "test arrangement"):
        yield app
    current_actor.reset(token)
    if not db.is_closed():
        db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def strict_cases(app):
    """Close the test's arrangement gate: every case write must pass the rules, as in production."""
    with case_guard.closed():
        yield


# scrypt is slow on purpose; hashing the shared test password once keeps the suite fast.
_PASSWORD_HASH = generate_password_hash(PASSWORD, method=users.HASH_METHOD)


@pytest.fixture
def staff(app):
    """One active user per role, keyed by role name; each user's username is its role."""
    return {role: User.create(username=role, role=role, full_name=f"{role} user", password_hash=_PASSWORD_HASH)
            for role in ROLE_NAMES}


def login(client, username, password=PASSWORD):
    """Log a user in through the real login form."""
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def login_as(client, staff):
    """Return a function that logs the client in as the given role."""
    def _login(role):
        client.post("/logout")
        response = login(client, role)
        assert response.status_code == 302, response.get_data(as_text=True)
        return staff[role]
    return _login


@pytest.fixture
def service(app):
    return Service.create(name_ar="سلة غذائية", name_en="Food basket", decision_days=14)


@pytest.fixture
def full_service(app):
    """A service with a required question, a required document, an interview and one criterion."""
    from models import DocumentType, EvaluationCriterion, IntakeQuestion, ServiceDocumentType
    service = Service.create(name_ar="كفالة أسرية", name_en="Family sponsorship", decision_days=21,
                             requires_document_review=True, requires_interview=True, requires_field_visit=False)
    IntakeQuestion.create(service=service, label_ar="الدخل الشهري", label_en="Monthly income", kind="number",
                          required=True, sensitive=True)
    IntakeQuestion.create(service=service, label_ar="ملاحظات", label_en="Remarks", kind="text", required=False)
    card = DocumentType.create(name_ar="صورة الهوية", name_en="ID copy")
    ServiceDocumentType.create(service=service, document_type=card)
    EvaluationCriterion.create(service=service, text_ar="الدخل أقل من حد الكفاية", text_en="Income below sufficiency")
    return service


def make_beneficiary(**overrides) -> Beneficiary:
    """Register a valid beneficiary through the service layer."""
    data = dict(full_name="أحمد محمد", id_type="national_id", id_number="1000000008", nationality="SA",
                gender="male", mobile="0501234567", city="بحرة")
    data.update(overrides)
    return beneficiaries.register(Beneficiary(**data))


def make_request(beneficiary, service, **overrides) -> ServiceRequest:
    """Create a request row with a number, in the given status, its attestation taken (P5.4)."""
    from services.requests import assign_number
    data = dict(beneficiary=beneficiary, service=service, channel="interview", status="draft",
                attestation_method="in_person", attestation_version="1", attested_at=utcnow())
    data.update(overrides)
    # Arranged directly (not walked through the rules), wherever it is called from (also a live server's fixture).
    with case_guard.gate(case_guard.ANY, "test arrangement"):
        r = ServiceRequest.create(**data)
        assign_number(r)
    return r


def csrf_token(html: str) -> str:
    """Extract the CSRF token from a rendered form."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


class SMTPRecorder:
    """An aiosmtpd handler keeping every message it accepts; `refuse` makes it answer RCPT with that reply."""

    def __init__(self):
        self.messages = []
        self.refuse = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields (recorder, port)."""
    from aiosmtpd.controller import Controller
    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield recorder, controller.port
    controller.stop()


def valid_national_id(n: int) -> str:
    """Return the n-th valid national ID number (first digit 1, Luhn check digit), for many beneficiaries."""
    from stdnum import luhn
    body = f"1{n:08d}"
    return body + luhn.calc_check_digit(body)


_case_numbers = itertools.count(1)


@pytest.fixture
def case_at(app, staff, full_service):
    """Return a function building a request in a status, with the evidence a real one has there.

    Registered by the volunteer, assigned to the researcher; the researcher verified its document,
    performed and confirmed its visits, assessed and recommended; a deputy manager decided it. The
    manager and the admin took no part, so either may decide. Each request also has what every write
    path can act on: an unverified extra document, a scheduled (not performed) field visit, an open
    referral. bare=True: the request alone (nothing that blocks deleting it).
    """
    from models import (
        CriterionAssessment,
        Delivery,
        Document,
        DocumentType,
        EvaluationCriterion,
        IntakeAnswer,
        IntakeQuestion,
        Recommendation,
        Referral,
        RequestTransition,
        VerificationVisit,
    )
    researcher = staff["researcher"]
    deputy = User.get_or_none(User.username == "deputy") or User.create(
        username="deputy", role="manager", full_name="deputy manager", password_hash=_PASSWORD_HASH)
    card = DocumentType.get(DocumentType.name_en == "ID copy")
    extra = DocumentType.get_or_none(DocumentType.name_en == "Rent contract") or DocumentType.create(
        name_ar="عقد الإيجار", name_en="Rent contract")
    before = ("draft", "submitted", "awaiting_documents")
    past = (utcnow() - datetime.timedelta(days=1)).replace(second=0, microsecond=0)

    def build(status: str, bare: bool = False) -> ServiceRequest:
        with db.atomic():  # one commit for the whole case, not one per row
            return _build(status, bare)

    def _build(status: str, bare: bool) -> ServiceRequest:
        n = next(_case_numbers)
        b = make_beneficiary(full_name=f"مستفيد رقم {n}", id_number=valid_national_id(n), mobile=f"050{n:07d}")
        decided = status in ("approved", "rejected", "delivered", "closed")
        r = make_request(b, full_service, status=status, created_by="volunteer", researcher=researcher,
                         submitted_at=None if status == "draft" else past,
                         decision_due=None if status == "draft" else past.date() + datetime.timedelta(days=21),
                         decision=("rejected" if status == "rejected" else "approved") if decided else None,
                         decision_reason="سبب القرار" if decided else None, decided_at=past if decided else None,
                         decided_by=deputy if decided else None)
        if bare:
            return r
        # Whoever last wrote a row is its updated_by (models.base): the researcher wrote this evidence.
        token = current_actor.set("researcher")
        try:
            _evidence(r, b, n, status, decided)
        finally:
            current_actor.reset(token)
        return r

    def _evidence(r, b, n, status, decided):
        with case_guard.gate(case_guard.ANY, "test arrangement"):
            for q in IntakeQuestion.select().where(IntakeQuestion.service == full_service):
                IntakeAnswer.create(request=r, question=q, value="1000" if q.kind == "number" else "ملاحظة")
            verified = status not in before
            Document.create(request=r, document_type=card, original_name="id.png", stored_name=f"card{n}.png",
                            content_type="image/png", size=10, sha256="0" * 64, created_by="volunteer",
                            verified_by=researcher if verified else None, verified_at=past if verified else None)
            Document.create(request=r, document_type=extra, original_name="rent.png", stored_name=f"rent{n}.png",
                            content_type="image/png", size=10, sha256="0" * 64, created_by="volunteer")
            if verified:
                VerificationVisit.create(request=r, method="document_review", performed_at=past, performed_by=researcher,
                                         outcome="confirmed", outcome_by=researcher, outcome_at=past,
                                         created_by="researcher", updated_by="researcher")
            if status not in before + ("under_verification",):
                VerificationVisit.create(request=r, method="interview", scheduled_at=past, performed_at=past,
                                         performed_by=researcher, outcome="confirmed", outcome_by=researcher,
                                         outcome_at=past, created_by="researcher", updated_by="researcher")
                for criterion in EvaluationCriterion.select().where(EvaluationCriterion.service == full_service):
                    CriterionAssessment.create(request=r, criterion=criterion, met=True, assessed_by=researcher)
                Recommendation.create(request=r, recommendation="approve", given_by=researcher)
            # Scheduled by the volunteer, performed by the researcher, its outcome not set yet (not a required method).
            VerificationVisit.create(request=r, method="field_visit", scheduled_at=past, performed_at=past,
                                     performed_by=researcher, created_by="volunteer", updated_by="researcher")
            if status in ("delivered", "closed"):
                Delivery.create(request=r, description="سلة", delivered_by=researcher)
            Referral.create(beneficiary=b, request=r, reason="لم يتضح الإجراء", referred_by=staff["volunteer"])
            RequestTransition.create(request=r, from_status="draft", to_status=status, by="volunteer")
    return build
