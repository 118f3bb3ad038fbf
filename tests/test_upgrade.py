"""Upgrades proven (issue 9): a database at the oldest schema, with data in it, upgraded to the newest.

The database is built by applying only the first migration, and filled with plain SQL written against
that old schema (the models of today have more columns), so the test keeps meaning the same thing as
migrations are added: it never names the newest one. The PostgreSQL lane of `make test` runs it again
on PostgreSQL (TEST_DATABASE_URL).
"""
import datetime

import pytest
from conftest import login
from werkzeug.security import generate_password_hash

from app import create_app
from cli import MIGRATIONS_DIR, migration_runner
from models import ALL_MODELS, Consent, db

OLDEST = "0001_initial"
PASSWORD = "old-schema-password-1"
T0 = datetime.datetime(2025, 3, 1, 7, 30, 15, 123456)


def at(days: int, hours: int = 0) -> datetime.datetime:
    return T0 + datetime.timedelta(days=days, hours=hours)


def insert(table: str, **values) -> int:
    """Insert one row with plain SQL (no model: today's models do not match the old tables); return its id."""
    columns = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join([db.obj.param] * len(values))
    cursor = db.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) RETURNING id', list(values.values()))
    return cursor.fetchone()[0]


def stamps(days: int, by: str = "admin") -> dict:
    return {"created_at": at(days), "created_by": by, "updated_at": at(days, 1), "updated_by": by}


def fill_old_schema(uploads) -> dict:
    """Write a small association's records at the 0001 schema: users, services, beneficiaries, requests,
    their history, a household member, a document with its file, a visit and audit rows."""
    hash_ = generate_password_hash(PASSWORD)
    ids = {}
    ids["admin"] = insert("user", **stamps(0, None), username="admin", full_name="مدير النظام", role="admin",
                          password_hash=hash_, active=True, must_change_password=False, language="ar",
                          last_login_at=at(1))
    ids["researcher"] = insert("user", **stamps(0), username="sara", full_name="سارة الباحثة", role="researcher",
                               password_hash=hash_, active=True, must_change_password=False, language="en",
                               last_login_at=None)
    ids["volunteer"] = insert("user", **stamps(0), username="khalid", full_name="", role="volunteer",
                              password_hash=hash_, active=False, must_change_password=True, language="ar",
                              last_login_at=None)
    ids["food"] = insert("service", **stamps(0), name_ar="سلة غذائية", name_en="Food basket",
                         description="سلة شهرية", eligibility_conditions="دخل أقل من ٣٠٠٠", decision_days=14,
                         requires_document_review=True, requires_interview=False, requires_field_visit=True,
                         sensitive=False, active=True)
    ids["rent"] = insert("service", **stamps(0), name_ar="إعانة إيجار", name_en="Rent aid", description="",
                         eligibility_conditions="", decision_days=30, requires_document_review=False,
                         requires_interview=True, requires_field_visit=False, sensitive=True, active=False)
    ids["id_copy"] = insert("document_type", **stamps(0), name_ar="صورة الهوية", name_en="ID copy", active=True)
    insert("service_document_type", **stamps(0), service_id=ids["food"], document_type_id=ids["id_copy"])

    ids["ahmad"] = insert("beneficiary", **stamps(2, "khalid"), reference="BEN-000001", full_name="أحمد محمد الغامدي",
                          latin_name="Ahmad Al-Ghamdi", name_key="احمد محمد الغامدي", id_type="national_id",
                          id_number="1000000008", nationality="SA", language="ar", gender="male",
                          birth_date=datetime.date(1980, 5, 17), mobile="+966501234567", email="ahmad@example.org",
                          city="بحرة", district="الشرقية", category="أرامل", family_size=6, consent_at=at(2),
                          notes="ملاحظة: 'اقتباس' و \"علامات\" ؛ ١٢٣")
    ids["maryam"] = insert("beneficiary", **stamps(3, "sara"), reference="BEN-000002", full_name="مريم علي",
                           latin_name=None, name_key="مريم علي", id_type="iqama", id_number="2000000006",
                           nationality="YE", language="en", gender="female", birth_date=None, mobile=None,
                           email=None, city=None, district="بحرة", category=None, family_size=None,
                           consent_at=None, notes=None)
    ids["noor"] = insert("beneficiary", **stamps(4), reference="BEN-000003", full_name="نور حسن",
                         latin_name="Noor", name_key="نور حسن", id_type="passport", id_number="A1234567",
                         nationality="PK", language="ar", gender="female", birth_date=datetime.date(2001, 1, 1),
                         mobile="+966551112222", email=None, city="جدة", district="بحرة", category=None,
                         family_size=1, consent_at=at(4, 3), notes="")
    insert("household_member", **stamps(2, "khalid"), beneficiary_id=ids["ahmad"], name="فاطمة أحمد",
           relation="daughter", id_type="national_id", id_number="1000000016", birth_date=datetime.date(2010, 2, 3))

    ids["draft"] = insert("service_request", **stamps(5, "khalid"), number="REQ-2025-000001",
                          beneficiary_id=ids["maryam"], service_id=ids["rent"], channel="interview", status="draft",
                          researcher_id=None, submitted_at=None, decision_due=None, attestation_method=None,
                          attestation_version=None, attested_at=None, attested_by_id=None, attestation_ip=None,
                          decision=None, decision_reason=None, decided_at=None, decided_by_id=None,
                          notified_at=None, notes=None)
    ids["submitted"] = insert("service_request", **stamps(6, "sara"), number="REQ-2025-000002",
                              beneficiary_id=ids["noor"], service_id=ids["food"], channel="phone",
                              status="awaiting_documents", researcher_id=ids["researcher"], submitted_at=at(6, 2),
                              decision_due=datetime.date(2025, 3, 21), attestation_method="phone",
                              attestation_version="1", attested_at=at(6, 1), attested_by_id=ids["researcher"],
                              attestation_ip=None, decision=None, decision_reason=None, decided_at=None,
                              decided_by_id=None, notified_at=None, notes="تأخر في المستندات")
    ids["approved"] = insert("service_request", **stamps(7), number="REQ-2025-000003", beneficiary_id=ids["ahmad"],
                             service_id=ids["food"], channel="in_person", status="approved",
                             researcher_id=ids["researcher"], submitted_at=at(7),
                             decision_due=datetime.date(2025, 3, 22),
                             attestation_method="in_person", attestation_version="1", attested_at=at(7),
                             attested_by_id=ids["admin"], attestation_ip="10.0.0.7", decision="approved",
                             decision_reason="مستحق", decided_at=at(9), decided_by_id=ids["admin"],
                             notified_at=at(9, 1), notes=None)
    for number, (request, from_status, to_status, day) in enumerate((
            ("submitted", "draft", "submitted", 6), ("submitted", "submitted", "awaiting_documents", 6),
            ("approved", "draft", "submitted", 7), ("approved", "submitted", "under_verification", 8),
            ("approved", "under_verification", "under_evaluation", 8),
            ("approved", "under_evaluation", "approved", 9))):
        insert("request_transition", **stamps(day), request_id=ids[request], from_status=from_status,
               to_status=to_status, at=at(day, number), by="sara", note=f"خطوة {number}")

    stored = "3f9a1c0b5e7d4a2f8c6b1e0d9a7f5c3b.pdf"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / stored).write_bytes(b"%PDF-1.4 old upload")
    insert("document", **stamps(8, "sara"), request_id=ids["approved"], beneficiary_id=ids["ahmad"],
           document_type_id=ids["id_copy"], original_name="هوية أحمد.pdf", stored_name=stored,
           content_type="application/pdf", size=19, sha256="ab" * 32, verified_by_id=ids["researcher"],
           verified_at=at(8, 2))
    insert("verification_visit", **stamps(8, "sara"), request_id=ids["approved"], method="field_visit",
           scheduled_at=at(8), performed_at=at(8, 4), performed_by_id=ids["researcher"],
           findings="المنزل بحاجة إلى ترميم", outcome="confirmed")
    insert("audit_log", **stamps(2, "khalid"), at=at(2), actor="khalid", action="create", model="beneficiary",
           record_id=ids["ahmad"], changes='{"full_name": [null, "أحمد محمد الغامدي"]}', details=None, ip="10.0.0.9")
    insert("audit_log", **stamps(9), at=at(9), actor="admin", action="status", model="service_request",
           record_id=ids["approved"], changes='{"status": ["under_evaluation", "approved"]}',
           details="flagged: admin decision", ip=None)
    return ids


def snapshot(tables: list[str], columns: dict[str, list[str]]) -> dict:
    """Return every row of the tables, as the old columns read them, ordered by id."""
    result = {}
    for table in tables:
        names = ", ".join(f'"{name}"' for name in columns[table])
        result[table] = db.execute_sql(f'SELECT {names} FROM "{table}" ORDER BY id').fetchall()
    return result


@pytest.fixture
def old_app(tmp_path, monkeypatch, empty_database):
    """An app on a new database where only the first migration has been applied."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "DATABASE_URL": empty_database(), "UPLOAD_DIR": str(tmp_path / "uploads"),
                      "WTF_CSRF_ENABLED": False})
    db.connect(reuse_if_open=True)
    assert migration_runner().up(target=OLDEST) == [OLDEST]
    yield app
    if not db.is_closed():
        db.close()


def test_upgrade_from_the_oldest_schema_keeps_every_row_and_value(old_app, tmp_path):
    """Issue 9: upgrade-db takes a database with data from the oldest schema to the newest, nothing lost."""
    ids = fill_old_schema(tmp_path / "uploads")
    old_tables = sorted(t for t in db.get_tables() if t != "schema_migration")
    old_columns = {table: [c.name for c in db.get_columns(table)] for table in old_tables}
    before = snapshot(old_tables, old_columns)
    assert sum(len(rows) for rows in before.values()) == 24

    result = old_app.test_cli_runner().invoke(args=["upgrade-db"])
    assert result.exit_code == 0, result.output
    pending = sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9]*.py") if p.stem != OLDEST)
    assert [line.removeprefix("applied ") for line in result.output.splitlines()] == pending
    history = [row[0] for row in db.execute_sql("SELECT name FROM schema_migration ORDER BY name").fetchall()]
    assert history == [OLDEST] + pending

    # Every old table, column, row and value is still there, exactly.
    assert set(old_tables) <= set(db.get_tables())
    assert snapshot(old_tables, old_columns) == before
    # Every model of today reads every row of its table (its columns all exist, its values load).
    for model in ALL_MODELS:
        assert len(list(model.select())) == model.select().count()
    # The data step of the consent migration (0012): the consent date became a registration consent.
    consents = {c.beneficiary_id: (c.purpose, c.given, c.at) for c in Consent.select()}
    assert consents == {ids["ahmad"]: ("registration", True, at(2)), ids["noor"]: ("registration", True, at(4, 3))}

    again = old_app.test_cli_runner().invoke(args=["upgrade-db"])
    assert again.exit_code == 0 and "schema is up to date" in again.output


def test_the_app_works_on_an_upgraded_database(old_app, tmp_path):
    """Issue 9: after the upgrade the old accounts sign in and the old records show on the screens."""
    ids = fill_old_schema(tmp_path / "uploads")
    assert old_app.test_cli_runner().invoke(args=["upgrade-db"]).exit_code == 0
    db.close()
    client = old_app.test_client()
    assert login(client, "admin", PASSWORD).status_code == 302
    listing = client.get("/admin/beneficiary/")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    for name in ("أحمد محمد الغامدي", "مريم علي", "نور حسن"):
        assert name in page
    details = client.get(f"/admin/servicerequest/details/?id={ids['approved']}")
    assert details.status_code == 200
    assert "REQ-2025-000003" in details.get_data(as_text=True)
    requests_page = client.get("/admin/servicerequest/")
    assert requests_page.status_code == 200
    assert "REQ-2025-000002" in requests_page.get_data(as_text=True)
    # The old upload is still served through the audited download view.
    document = db.execute_sql("SELECT id FROM document").fetchone()[0]
    download = client.get(f"/admin/document/download/{document}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 old upload"
