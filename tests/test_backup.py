"""Backups and restore (issue 9): `backup` while writers are busy, `restore` into a fresh database.

The same tests run on SQLite (the online backup API) and, in the PostgreSQL lane of `make test`, on
PostgreSQL (pg_dump / pg_restore): the fixtures give each test its database on the lane's server.
"""
import hashlib
import threading

import pytest
from conftest import ON_POSTGRESQL, make_beneficiary
from playhouse.db_url import connect

from app import create_app
from models import AuditLog, Beneficiary, ServiceRequest, case_guard, db, utcnow
from services.backup import DATABASE_NAME, DUMP_NAME, RestoreRefused, backup, restore

WRITERS = 3
# Each writer has committed this many transactions before the backup starts, and as many again after it.
ROUNDS_BEFORE = ROUNDS_AFTER = 15


def checksum(writer: int, number: int) -> str:
    return hashlib.sha256(f"{writer}:{number}".encode()).hexdigest()[:32]


class Writers:
    """Threads that each commit, over and over, one beneficiary, its request and an audit row together."""

    def __init__(self, service):
        self.service = service
        self.lock = threading.Lock()
        self.committed: list[tuple[int, int]] = []
        # Transactions that began after the backup had returned: no snapshot can hold them.
        self.began_after_backup: list[tuple[int, int]] = []
        self.backup_done = threading.Event()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self.write, args=(w,)) for w in range(WRITERS)]

    def write(self, writer: int):
        try:
            number = 0
            while not self.stop.is_set():
                late = self.backup_done.is_set()
                mark = checksum(writer, number)
                # A thread starts with no gate open: these rows are the test's arrangement, like the fixtures'.
                with db.atomic(), case_guard.gate(case_guard.ANY, "test arrangement"):
                    b = Beneficiary.create(full_name=f"كاتب {writer} رقم {number}", id_type="passport",
                                           id_number=f"W{writer}N{number:06d}", nationality="SA", notes=mark)
                    r = ServiceRequest.create(beneficiary=b, service=self.service, channel="interview",
                                              number=f"W{writer}-{number}", notes=mark)
                    AuditLog.create(at=utcnow(), actor=f"writer{writer}", action="create", model="service_request",
                                    record_id=r.id, details=mark)
                with self.lock:
                    self.committed.append((writer, number))
                    if late:
                        self.began_after_backup.append((writer, number))
                number += 1
        except BaseException as err:  # reported by the test, not lost in the thread
            self.errors.append(err)
        finally:
            db.close()

    def count(self, writer: int) -> int:
        with self.lock:
            return sum(1 for w, _ in self.committed if w == writer)

    def wait_for(self, rounds: int, offset: dict[int, int] | None = None):
        """Wait until every writer has committed `rounds` more transactions (or one of them failed)."""
        offset = offset or {}
        while not self.errors and any(self.count(w) < offset.get(w, 0) + rounds for w in range(WRITERS)):
            self.stop.wait(0.01)
        assert not self.errors, self.errors


def restored_rows(url: str):
    """Return the writers' rows of a restored database: {(writer, number): (notes, request notes, audit details)}."""
    database = connect(url)
    with database.bind_ctx([Beneficiary, ServiceRequest, AuditLog]):
        people = {b.id: b for b in Beneficiary.select().where(Beneficiary.id_type == "passport")}
        requests = list(ServiceRequest.select().where(ServiceRequest.number.startswith("W")))
        audit = {a.record_id: a for a in AuditLog.select().where(AuditLog.actor.startswith("writer"))}
    database.close()
    rows = {}
    for b in people.values():
        writer, number = b.id_number[1:].split("N")
        rows[(int(writer), int(number))] = [b.notes, None, None]
    for r in requests:
        owner = people.get(r.beneficiary_id)
        assert owner is not None, f"request {r.number} without its beneficiary (a torn transaction)"
        key = tuple(int(part) for part in r.number[1:].split("-"))
        rows[key][1] = r.notes
        rows[key][2] = audit[r.id].details if r.id in audit else None
    assert len(audit) == len(requests), "audit rows without their request (a torn transaction)"
    return {key: tuple(value) for key, value in rows.items()}


def test_backup_during_writes_restores_every_committed_transaction_whole(app, service, tmp_path, empty_database):
    """Issue 9: a backup taken while writers commit restores to a consistent state: every transaction
    committed before the backup began is there, none is there in part, none begun after it is there."""
    writers = Writers(service)
    for thread in writers.threads:
        thread.start()
    try:
        writers.wait_for(ROUNDS_BEFORE)
        with writers.lock:
            committed_before = set(writers.committed)
        counts = {w: writers.count(w) for w in range(WRITERS)}
        result = backup(db.obj, app.config["UPLOAD_DIR"], tmp_path / "bk")
        writers.backup_done.set()
        writers.wait_for(ROUNDS_AFTER, counts)
    finally:
        writers.stop.set()
        for thread in writers.threads:
            thread.join()
    assert not writers.errors, writers.errors
    assert result.database.name == (DUMP_NAME if ON_POSTGRESQL else DATABASE_NAME)

    target = empty_database()
    restore(connect(target), tmp_path / "restored-uploads", tmp_path / "bk")
    rows = restored_rows(target)
    assert committed_before <= set(rows), "a transaction committed before the backup is missing"
    for (writer, number), (person, request, audit) in rows.items():
        assert person == request == audit == checksum(writer, number), f"writer {writer} #{number} is torn"
    assert not set(rows) & set(writers.began_after_backup), "a transaction begun after the backup is in it"


@pytest.fixture
def backed_up(app, tmp_path):
    """A backup of a database holding one beneficiary and one uploaded file; returns (folder, beneficiary)."""
    person = make_beneficiary()
    uploads = tmp_path / "uploads"
    (uploads / "0123456789abcdef0123456789abcdef.pdf").write_bytes(b"%PDF-1.7 backed up")
    backup(db.obj, uploads, tmp_path / "bk")
    return tmp_path / "bk", person


def second_app(tmp_path, url: str):
    """An app on another database and uploads folder (the place a backup is restored to)."""
    return create_app({"TESTING": True, "DATABASE_URL": url, "UPLOAD_DIR": str(tmp_path / "restored-uploads")})


def test_restore_command_brings_the_database_and_the_uploads_back(backed_up, tmp_path, empty_database):
    folder, person = backed_up
    target = second_app(tmp_path, empty_database())
    result = target.test_cli_runner().invoke(args=["restore", str(folder)])
    assert result.exit_code == 0, result.output
    assert "1 uploaded files restored" in result.output
    assert [(b.reference, b.full_name) for b in Beneficiary.select()] == [(person.reference, "أحمد محمد")]
    assert (tmp_path / "restored-uploads" / "0123456789abcdef0123456789abcdef.pdf").read_bytes() == \
        b"%PDF-1.7 backed up"


def test_restore_over_data_needs_force_and_then_replaces_it(backed_up, tmp_path, empty_database):
    """A restore replaces everything: refused over a database in use unless --force, which loses later rows."""
    folder, person = backed_up
    target = second_app(tmp_path, empty_database())
    runner = target.test_cli_runner()
    assert runner.invoke(args=["restore", str(folder)]).exit_code == 0
    make_beneficiary(id_type="iqama", id_number="2000000006", nationality="YE")
    (tmp_path / "restored-uploads" / "fedcba9876543210fedcba9876543210.pdf").write_bytes(b"later")

    refused = runner.invoke(args=["restore", str(folder)])
    assert refused.exit_code == 1
    assert "not empty" in refused.output and "--force" in refused.output
    assert Beneficiary.select().count() == 2

    forced = runner.invoke(args=["restore", "--force", str(folder)])
    assert forced.exit_code == 0, forced.output
    assert [b.reference for b in Beneficiary.select()] == [person.reference]
    assert sorted(p.name for p in (tmp_path / "restored-uploads").iterdir()) == \
        ["0123456789abcdef0123456789abcdef.pdf"]


@pytest.mark.parametrize("make_source, message", [
    (lambda tmp: tmp / "nowhere", "does not exist"),
    (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt", "is a file, not a backup folder"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "holds no backup"),
])
def test_restore_from_a_wrong_path_says_what_is_wrong(app, tmp_path, make_source, message):
    source = make_source(tmp_path)
    result = app.test_cli_runner().invoke(args=["restore", str(source)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_restore_refuses_a_backup_of_the_other_kind_of_database(app, tmp_path):
    folder = tmp_path / "bk"
    (folder / "uploads").mkdir(parents=True)
    (folder / (DATABASE_NAME if ON_POSTGRESQL else DUMP_NAME)).write_bytes(b"not this kind")
    with pytest.raises(RestoreRefused, match="the database in use is " + ("PostgreSQL" if ON_POSTGRESQL else "SQLite")):
        restore(db.obj, tmp_path / "uploads", folder, force=True)
    assert Beneficiary.select().count() == 0  # the schema is untouched: the app still reads its tables


def test_restore_of_a_damaged_backup_is_refused_and_changes_nothing(app, tmp_path):
    make_beneficiary()
    folder = tmp_path / "bk"
    backup(db.obj, tmp_path / "uploads", folder)
    damaged = folder / (DUMP_NAME if ON_POSTGRESQL else DATABASE_NAME)
    damaged.write_bytes(damaged.read_bytes()[:2000] + b"\0" * 5000)
    with pytest.raises(RestoreRefused):
        restore(db.obj, tmp_path / "uploads", folder, force=True)
    # SQLite checks the copy before touching anything; PostgreSQL drops and restores in one transaction.
    assert Beneficiary.select().count() == 1
