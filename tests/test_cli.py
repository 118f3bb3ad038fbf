"""The command-line tasks: init-db, upgrade-db, create-user, demo-data and backup."""
import sqlite3
import sys
import types
from collections import Counter

import pytest
from conftest import PASSWORD, make_beneficiary
from stdnum import luhn

from app import create_app
from cli import MIGRATIONS_DIR, demo, upgrade
from models import Beneficiary, HouseholdMember, Service, ServiceRequest, User, VerificationVisit, current_actor, db
from models.choices import STATUSES, VISIT_METHODS, VISIT_OUTCOMES, codes
from services import validators
from services.backup import BackupRefused
from services.backup import backup as take_backup


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_app(tmp_path, name):
    """Return an app on its own, not yet initialised, SQLite file database."""
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / name}",
                       "UPLOAD_DIR": str(tmp_path / f"{name}-uploads")})


@pytest.fixture
def fresh_app(tmp_path, monkeypatch):
    """An app whose database has no tables yet."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = make_app(tmp_path, "fresh.db")
    yield app
    if not db.is_closed():
        db.close()


# init-db and upgrade-db

def test_init_db_twice_creates_the_schema_once(fresh_app, tmp_path):
    runner = fresh_app.test_cli_runner()
    migrations = sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9]*.py"))
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    assert f"({len(migrations)} migrations applied)" in first.output
    second = runner.invoke(args=["init-db"])
    assert second.exit_code == 0, second.output
    assert "(0 migrations applied)" in second.output
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        history = [name for (name,) in conn.execute("SELECT name FROM schema_migration ORDER BY name")]
    assert history[0] == "0001_initial"
    assert history == migrations


def test_upgrade_db_on_an_up_to_date_database_says_so(runner):
    result = runner.invoke(args=["upgrade-db"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "schema is up to date"


def test_upgrade_db_lists_what_it_applied(fresh_app):
    result = fresh_app.test_cli_runner().invoke(args=["upgrade-db"])
    assert result.exit_code == 0, result.output
    assert "applied 0001_initial" in result.output


# create-user

def test_create_user_reads_the_password_from_stdin(runner):
    result = runner.invoke(args=["create-user", "Samira", "--role", "researcher", "--full-name", "سميرة"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "created samira (researcher)" in result.output
    user = User.get(User.username == "samira")
    assert (user.role, user.full_name, user.created_by) == ("researcher", "سميرة", "cli")


def test_create_user_with_an_unknown_role_fails_clearly(runner):
    result = runner.invoke(args=["create-user", "samira", "--role", "superuser"], input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert "Unknown role “superuser”. Choose one of: admin, manager, researcher, volunteer, board." in result.output
    assert User.select().count() == 0


def test_create_user_with_a_weak_password_fails_clearly(runner):
    result = runner.invoke(args=["create-user", "samira", "--role", "researcher"], input="123\n")
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    assert User.select().count() == 0


def test_create_user_with_a_taken_username_fails(runner):
    runner.invoke(args=["create-user", "samira", "--role", "researcher"], input=PASSWORD + "\n")
    result = runner.invoke(args=["create-user", "samira", "--role", "volunteer"], input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert "is taken" in result.output


@pytest.mark.parametrize("password, rule", [
    ("admin-secret-42", "must not contain the username"),
    ("short1", "at least 10 characters"),
    ("onlyletters", "mix letters with digits or symbols"),
])
def test_ensure_admin_with_a_bad_admin_password_says_what_it_needs_in_one_line(database_url, tmp_path, password, rule):
    """Issue 15 item 10: `make run` runs this command; a refused ADMIN_PASSWORD is one line, never a traceback."""
    import os
    import subprocess
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "ADMIN_PASSWORD": password, "DATABASE_URL": database_url,
           "INSTANCE_PATH": str(tmp_path / "instance")}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "ensure-admin"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ADMIN_PASSWORD") and rule in lines[0], lines[0]


@pytest.fixture
def terminal(monkeypatch):
    """Make the command believe standard input is a terminal, so it prompts."""
    import cli
    fake_sys = types.SimpleNamespace(stdin=types.SimpleNamespace(isatty=lambda: True), exit=sys.exit)
    monkeypatch.setattr(cli, "sys", fake_sys)


def test_create_user_on_a_terminal_prompts_twice(runner, terminal):
    result = runner.invoke(args=["create-user", "samira", "--role", "manager"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert User.get(User.username == "samira").role == "manager"


def test_create_user_on_a_terminal_refuses_a_mismatch(runner, terminal):
    result = runner.invoke(args=["create-user", "samira", "--role", "manager"], input=f"{PASSWORD}\nsomething-else-1\n")
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert User.select().count() == 0


# demo-data

def demo_rows():
    """Return what a user would compare between two demo databases."""
    return {
        "beneficiaries": [(b.reference, b.full_name, b.id_type, b.id_number, b.nationality, b.mobile, b.birth_date)
                          for b in Beneficiary.select().order_by(Beneficiary.id)],
        "members": [(m.beneficiary_id, m.name, m.id_number)
                    for m in HouseholdMember.select().order_by(HouseholdMember.id)],
        "requests": [(r.number[-6:], r.beneficiary_id, r.service_id, r.status, r.channel, r.submitted_at,
                      r.decision_due) for r in ServiceRequest.select().order_by(ServiceRequest.id)],
        "visits": [(v.request_id, v.method, v.outcome, v.scheduled_at)
                   for v in VerificationVisit.select().order_by(VerificationVisit.id)],
    }


def test_demo_data_is_the_same_for_the_same_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    token = current_actor.set("test")
    try:
        rows = []
        for name in ("one.db", "two.db"):
            make_app(tmp_path, name)
            db.connect(reuse_if_open=True)
            upgrade()
            demo.generate(15, seed=42)
            rows.append(demo_rows())
            db.close()
    finally:
        current_actor.reset(token)
    assert rows[0] == rows[1]
    assert len(rows[0]["beneficiaries"]) == 15


def test_demo_data_with_another_seed_differs(app):
    demo.generate(5, seed=1)
    first = [b.id_number for b in Beneficiary.select()]
    demo.generate(5, seed=2)
    assert [b.id_number for b in Beneficiary.select()][5:] != first


@pytest.fixture
def demo_db(app):
    return demo.generate(25, seed=7)


def test_demo_data_has_requests_in_every_status(demo_db):
    assert {r.status for r in ServiceRequest.select()} == set(codes(STATUSES))


def test_demo_data_has_visits_of_every_method_and_outcome(demo_db):
    """Every verification mechanism of P6.5 appears, with every outcome."""
    seen = {(v.method, v.outcome) for v in VerificationVisit.select()}
    for method in codes(VISIT_METHODS):
        for outcome in codes(VISIT_OUTCOMES):
            assert (method, outcome) in seen


def test_demo_data_ids_and_mobiles_are_valid(demo_db):
    people = list(Beneficiary.select())
    assert len(people) == 25
    for b in people:
        assert validators.validate_id_number(b.id_type, b.id_number) == b.id_number
        if b.id_type in ("national_id", "iqama"):
            assert luhn.is_valid(b.id_number)
        assert b.nationality == "SA" if b.id_type == "national_id" else b.nationality != "SA"
        if b.mobile:
            assert validators.normalize_mobile(b.mobile) == b.mobile
    for m in HouseholdMember.select().where(HouseholdMember.id_number.is_null(False)):
        assert validators.validate_id_number(m.id_type, m.id_number) == m.id_number


def test_demo_data_mixes_citizens_residents_and_scripts(app):
    demo.generate(80, seed=3)
    nationalities = Counter(b.nationality for b in Beneficiary.select())
    id_types = {b.id_type for b in Beneficiary.select()}
    assert len(nationalities) >= 6 and "SA" in nationalities
    assert {"national_id", "iqama"} <= id_types and id_types & {"passport", "border_number"}
    names = [b.full_name for b in Beneficiary.select()]
    assert any("\u0600" <= ch <= "\u06ff" for name in names for ch in name)
    assert any(name.isascii() for name in names)
    assert HouseholdMember.select().exists()


def test_demo_data_creates_the_services_and_staff_it_needs(demo_db):
    services = {s.name_en: s for s in Service.select()}
    assert set(services) == {"Food basket", "Family sponsorship", "Education course", "Care for new Muslims"}
    assert services["Care for new Muslims"].sensitive
    assert all(s.required_documents.count() > 0 for s in services.values())
    created = {u.username: u for u in User.select()}
    assert {role for _, role, _ in demo_db.users} >= {"researcher", "volunteer"}
    for username, _, password in demo_db.users:
        assert created[username].must_change_password
        assert len(password) >= 10


def test_demo_data_uses_existing_services_and_staff(app, service, staff):
    summary = demo.generate(5, seed=1)
    assert summary.users == [] and summary.services == 0
    assert {r.service_id for r in ServiceRequest.select()} == {service.id}
    assert {r.researcher_id for r in ServiceRequest.select() if r.researcher_id} == {staff["researcher"].id}


def test_demo_data_run_twice_skips_existing_ids(app):
    make_beneficiary()
    demo.generate(10, seed=5)
    second = demo.generate(10, seed=5)
    assert second.beneficiaries == 10 and second.skipped >= 10
    assert Beneficiary.select().count() == 21


def test_demo_data_is_written_in_one_transaction(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(demo, "_visits", broken)
    with pytest.raises(RuntimeError):
        demo.generate(10, seed=1)
    assert (Beneficiary.select().count(), ServiceRequest.select().count(), User.select().count()) == (0, 0, 0)


def test_demo_data_command(runner):
    result = runner.invoke(args=["demo-data", "--beneficiaries", "12", "--seed", "9"])
    assert result.exit_code == 0, result.output
    assert "seed 9: 12 beneficiaries" in result.output
    assert "created user demo.researcher1 (researcher)" in result.output
    assert "no administrator yet" in result.output
    again = runner.invoke(args=["demo-data", "--beneficiaries", "12", "--seed", "9"])
    assert again.exit_code == 0, again.output
    assert "skipped 12 ID numbers already registered" in again.output
    assert Beneficiary.select().count() == 24


def test_demo_data_refuses_a_negative_count(runner):
    result = runner.invoke(args=["demo-data", "--beneficiaries", "-1"])
    assert result.exit_code == 2


# backup

@pytest.mark.sqlite_only("reads the SQLite copy; tests/test_backup.py covers pg_dump")
def test_backup_copies_the_database_and_the_uploads(app, runner, tmp_path):
    b = make_beneficiary()
    uploads = tmp_path / "uploads"
    (uploads / "2026").mkdir(parents=True)
    (uploads / "2026" / "abc123.pdf").write_bytes(b"%PDF-1.7 test")
    dest = tmp_path / "backups" / "today"
    result = runner.invoke(args=["backup", str(dest)])
    assert result.exit_code == 0, result.output
    assert "1 uploaded files copied" in result.output
    with sqlite3.connect(dest / "mustafeed.db") as conn:
        rows = conn.execute("SELECT reference, full_name FROM beneficiary").fetchall()
    assert rows == [(b.reference, "أحمد محمد")]
    assert (dest / "uploads" / "2026" / "abc123.pdf").read_bytes() == b"%PDF-1.7 test"
    assert not list(dest.glob("*.partial"))


@pytest.mark.sqlite_only("reads the SQLite copy; tests/test_backup.py covers pg_dump")
def test_backup_sees_committed_rows_still_in_the_wal(app, runner, tmp_path):
    """The online backup copies what is committed even before a checkpoint moves it into the file."""
    make_beneficiary()
    make_beneficiary(id_type="iqama", id_number="2000000006", nationality="YE")
    dest = tmp_path / "bk"
    assert runner.invoke(args=["backup", str(dest)]).exit_code == 0
    with sqlite3.connect(dest / "mustafeed.db") as conn:
        assert conn.execute("SELECT count(*) FROM beneficiary").fetchone() == (2,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_backup_refuses_a_folder_that_holds_a_backup(app, runner, tmp_path):
    dest = tmp_path / "bk"
    assert runner.invoke(args=["backup", str(dest)]).exit_code == 0
    again = runner.invoke(args=["backup", str(dest)])
    assert again.exit_code == 1
    assert "already holds a backup" in again.output


def test_backup_into_an_existing_empty_folder_works(app, runner, tmp_path):
    dest = tmp_path / "empty"
    dest.mkdir()
    assert runner.invoke(args=["backup", str(dest)]).exit_code == 0
    assert ((dest / "mustafeed.db").exists() or (dest / "mustafeed.dump").exists()) and (dest / "uploads").is_dir()


def test_backup_refuses_a_folder_inside_the_uploads(app, tmp_path):
    with pytest.raises(BackupRefused, match="inside the uploads"):
        take_backup(db.obj, tmp_path / "uploads", tmp_path / "uploads" / "bk")


def test_backup_of_an_unreachable_postgresql_says_why_and_leaves_no_dump(app, tmp_path):
    """pg_dump's own error (or its absence) is the message; no half-written dump looks like a backup."""
    from conftest import free_port
    from peewee import PostgresqlDatabase
    unreachable = PostgresqlDatabase("mustafeed", host="127.0.0.1", port=free_port(), user="nobody")
    with pytest.raises(BackupRefused, match="pg_dump"):
        take_backup(unreachable, tmp_path / "uploads", tmp_path / "bk")
    assert not list((tmp_path / "bk").glob("mustafeed.dump*"))


def test_backup_command_on_an_unreachable_postgresql_exits_non_zero(app, runner, tmp_path, monkeypatch):
    from conftest import free_port
    from peewee import PostgresqlDatabase
    monkeypatch.setattr(db, "obj", PostgresqlDatabase("mustafeed", host="127.0.0.1", port=free_port()))
    result = runner.invoke(args=["backup", str(tmp_path / "bk")])
    assert result.exit_code == 1
    assert "pg_dump" in result.output
