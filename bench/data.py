"""The benchmarks' data: 100,000 beneficiaries, 300,000 requests, 200,000 visits, 500,000 audit rows.

    .venv/bin/python bench/data.py [--scale 1.0] [--postgres] [--force]

Generated fast and once: rows are built as tuples and written in batches of 20,000 (peewee's
INSERT for the table, executemany'd), one transaction per table, never a per-row ORM save. The result is cached (SQLite: a file under the bench cache folder, MUSTAFEED_BENCH_CACHE,
default ~/.cache/mustafeed-bench; PostgreSQL: a database per scale on the server of
scripts/postgres.sh) and reused while GENERATOR_VERSION and the scale are unchanged. Opening a
cached database applies the pending migrations, so new indexes reach it without regenerating.

The distributions follow an association's year: most requests are closed, open ones are recent
and due soon (some overdue), food baskets dominate, beneficiaries have full Arabic names (first,
father, grandfather, family) or Latin ones for Asian and African residents, ids grow with time.
"""
import argparse
import datetime
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Bump when the generated rows change, so cached databases are rebuilt.
GENERATOR_VERSION = 2
SEED = 20260601
# Full-size counts (scale 1.0); the four, plus what the other list screens show.
FULL = {
    "beneficiaries": 100_000, "requests": 300_000, "visits": 200_000, "audit": 500_000,
    "documents": 40_000, "referrals": 10_000, "interactions": 20_000, "notifications": 60_000,
    "surveys": 8_000, "proposed_changes": 2_000, "incidents": 30,
}
# Every bench user has this password (a cheap hash: logins are not what is measured).
PASSWORD = "bench-password-1"
ROLES = ("admin", "manager", "researcher", "volunteer", "board")


def sizes(scale: float) -> dict:
    """Return the row counts at a scale (1.0: the issue's full size)."""
    return {name: max(1, int(round(n * scale))) for name, n in FULL.items()}


def cache_dir() -> Path:
    """Return (creating it) the folder holding cached benchmark databases."""
    folder = Path(os.environ.get("MUSTAFEED_BENCH_CACHE", Path.home() / ".cache" / "mustafeed-bench"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _tag(scale: float) -> str:
    return f"v{GENERATOR_VERSION}_s{str(scale).replace('.', '_')}"


# ---- opening (and generating when missing) ----------------------------------------------------------
def _prepare(url: str) -> None:
    """Open the database, apply pending migrations, refresh the planner statistics."""
    from cli import upgrade
    from models import db
    from models.database import open_database
    open_database(url)
    db.connect(reuse_if_open=True)
    upgrade()


def sqlite_database(scale: float = 1.0, force: bool = False, log=print) -> str:
    """Return the URL of the cached SQLite benchmark database at a scale, generating it when missing."""
    from models import db
    path = cache_dir() / f"bench-{_tag(scale)}.db"
    if force:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".tmp.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        _prepare(f"sqlite:///{tmp}")
        start = time.perf_counter()
        counts = generate(scale, log=log)
        # No ANALYZE: the app never runs it, so a real database has no planner statistics either.
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        tmp.rename(path)
        log(f"generated {path} in {time.perf_counter() - start:.0f} s: {counts}")
    url = f"sqlite:///{path}"
    _prepare(url)
    return url


def postgres_url() -> str | None:
    """Return the URL of scripts/postgres.sh's server (starting it), or None when it cannot run here."""
    script = ROOT / "scripts" / "postgres.sh"
    if os.environ.get("BENCH_POSTGRES_URL"):
        return os.environ["BENCH_POSTGRES_URL"]
    if not script.exists():
        return None
    running = subprocess.run(["bash", str(script), "status"], capture_output=True).returncode == 0
    out = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr.strip(), file=sys.stderr)
        return None
    if not running:  # started here: stopped again when this benchmark ends (the cluster and its data stay)
        import atexit
        atexit.register(subprocess.run, ["bash", str(script), "stop"], capture_output=True)
    return out.stdout.strip().splitlines()[-1]


def postgres_database(scale: float = 1.0, force: bool = False, log=print) -> str | None:
    """Return the URL of the cached PostgreSQL benchmark database at a scale (generated when missing)."""
    import psycopg

    from models import db
    base = postgres_url()
    if base is None:
        return None
    name = f"mustafeed_bench_{_tag(scale)}"
    url = base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        complete = False
        if exists and not force:
            with psycopg.connect(url) as bench:
                complete = bench.execute("SELECT to_regclass('bench_meta')").fetchone()[0] is not None
        if exists and not complete:
            conn.execute(f'DROP DATABASE "{name}"')
        if not complete:
            conn.execute(f'CREATE DATABASE "{name}"')
    if not complete:
        _prepare(url)
        start = time.perf_counter()
        counts = generate(scale, log=log)
        db.execute_sql("CREATE TABLE bench_meta (version integer, counts text)")
        db.execute_sql("INSERT INTO bench_meta VALUES (%s, %s)", (GENERATOR_VERSION, json.dumps(counts)))
        db.close()
        # What autovacuum does shortly after a load this size (statistics, and the visibility map that
        # index-only scans need); VACUUM cannot run inside a transaction, hence autocommit.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        log(f"generated {name} in {time.perf_counter() - start:.0f} s: {counts}")
    _prepare(url)
    return url


# ---- writing ------------------------------------------------------------------------------------------
def _insert(model, fields: list[str], rows: list[tuple]) -> None:
    """Write rows in one transaction: peewee's INSERT statement for the fields, executemany'd in batches.

    The set-based insert of insert_many, without its cost: insert_many renders every value of every
    row into the SQL text in Python (80% of the generation time); executemany binds them in C.
    """
    from models import db
    columns = [model._meta.fields[name] for name in fields]
    # The columns left out get their default, as insert_many would give them.
    defaults = [(f, f.default() if callable(f.default) else f.default) for f in model._meta.sorted_fields
                if f.name not in fields and f.default is not None and not f.primary_key]
    columns += [f for f, _value in defaults]
    extra = tuple(f.db_value(value) for f, value in defaults)
    sql, _params = model.insert_many([(None,) * len(columns)], fields=columns).sql()
    assert len(_params) == len(columns), sql
    with db.atomic():
        cursor = db.cursor()
        for start in range(0, len(rows), 20_000):
            cursor.executemany(sql, [tuple(c.db_value(v) for c, v in zip(columns, row)) + extra
                                     for row in rows[start:start + 20_000]])


def _ids(model) -> list[int]:
    return [i for (i,) in model.select(model.id).order_by(model.id).tuples()]


def _national_id(first: str, n: int) -> str:
    from stdnum import luhn
    partial = first + f"{n:08d}"
    return partial + luhn.calc_check_digit(partial)


def generate(scale: float, seed: int = SEED, log=print, counts: dict | None = None) -> dict:
    """Write the benchmark rows into the open, empty, migrated database; return the counts.

    counts overrides sizes(scale) table by table (tests ask for a little more than a page of each list).
    """
    from werkzeug.security import generate_password_hash

    from cli import demo
    from models import (
        AuditLog,
        Beneficiary,
        Document,
        DocumentType,
        Incident,
        Interaction,
        InteractionKind,
        Notification,
        ProposedChange,
        Referral,
        SatisfactionSurvey,
        SavedView,
        Service,
        ServiceDocumentType,
        ServiceRequest,
        User,
        VerificationVisit,
    )
    from services.normalize import name_key
    from services.workflow import OPEN_STATUSES
    rng = random.Random(seed)
    n = {**sizes(scale), **(counts or {})}
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    t0 = time.perf_counter()

    def ago(days_max: float, days_min: float = 0) -> datetime.datetime:
        return now - datetime.timedelta(seconds=rng.uniform(days_min * 86400, days_max * 86400))

    # ---- staff and services ----
    password = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    people = ([("admin", "admin", "مدير النظام")] + [(f"manager{i}", "manager", f"مدير البرامج {i}") for i in range(1, 4)]
              + [(f"researcher{i}", "researcher", f"الباحث الاجتماعي {i}") for i in range(1, 16)]
              + [(f"volunteer{i}", "volunteer", f"المتطوع {i}") for i in range(1, 41)]
              + [(f"board{i}", "board", f"عضو المجلس {i}") for i in range(1, 4)])
    stamp = (now, now, "bench", "bench")
    _insert(User, ["username", "role", "full_name", "password_hash", "created_at", "updated_at", "created_by",
                   "updated_by"], [(u, r, f, password) + stamp for u, r, f in people])
    users = {u.username: u.id for u in User.select(User.id, User.username)}
    researchers = [users[u] for u, r, _ in people if r == "researcher"]
    volunteers = [u for u, r, _ in people if r == "volunteer"]
    registrars = volunteers + [u for u, r, _ in people if r in ("researcher", "manager")]
    deciders = [users[u] for u, r, _ in people if r == "manager"]
    usernames = [u for u, _r, _f in people]
    # (Arabic, English, decision days, weight, sensitive)
    catalogue = [("سلة غذائية", "Food basket", 14, 30, False), ("كفالة أسرية", "Family sponsorship", 21, 14, False),
                 ("مساعدة إيجار", "Rent assistance", 21, 12, False), ("سداد فواتير الكهرباء", "Electricity bills", 14, 10, False),
                 ("كسوة العيد", "Eid clothing", 7, 9, False), ("سلة رمضان", "Ramadan basket", 7, 10, False),
                 ("دورات تعليمية", "Education courses", 30, 10, False),
                 ("رعاية المهتدين الجدد", "Care for new Muslims", 14, 5, True)]
    _insert(Service, ["name_ar", "name_en", "decision_days", "sensitive", "requires_interview", "created_at",
                      "updated_at", "created_by", "updated_by"],
            [(a, e, d, s, i % 2 == 1) + stamp for i, (a, e, d, _w, s) in enumerate(catalogue)])
    services = _ids(Service)
    service_days = dict(zip(services, [c[2] for c in catalogue]))
    service_weights = [c[3] for c in catalogue]
    types = [("صورة الهوية الوطنية أو الإقامة", "Copy of national ID or iqama"), ("سجل الأسرة", "Family register"),
             ("إثبات الدخل", "Proof of income"), ("عقد الإيجار أو صك الملكية", "Lease or title deed"),
             ("فاتورة الكهرباء", "Electricity bill"), ("آخر مؤهل دراسي", "Latest education certificate")]
    _insert(DocumentType, ["name_ar", "name_en", "created_at", "updated_at", "created_by", "updated_by"],
            [t + stamp for t in types])
    doc_types = _ids(DocumentType)
    _insert(ServiceDocumentType, ["service", "document_type", "created_at", "updated_at", "created_by",
                                  "updated_by"], [(s, doc_types[0]) + stamp for s in services])

    # ---- beneficiaries ----
    nat_codes, nat_weights = zip(*((c, w) for c, (w, _l) in demo.NATIONALITIES.items()))
    rows = []
    for i in range(1, n["beneficiaries"] + 1):
        nationality = rng.choices(nat_codes, nat_weights)[0]
        gender = "male" if rng.random() < 0.55 else "female"
        first, family = demo.person(rng, nationality, gender)
        latin = nationality not in demo.ARABIC_FAMILIES
        if latin:
            full_name = f"{first} {family}"
        else:
            father = rng.choice(demo.ARABIC_MALE)
            grandfather = rng.choice(demo.ARABIC_MALE)
            full_name = f"{first} {father} {grandfather} {family}"
        if nationality == "SA":
            id_type, id_number = "national_id", _national_id("1", i)
        elif rng.random() < 0.9:
            id_type, id_number = "iqama", _national_id("2", i)
        else:
            id_type, id_number = "passport", f"P{i:08d}"
        created = ago(1100)
        rows.append((created, full_name, full_name if latin else None, name_key(full_name), id_type, id_number,
                     nationality, demo.NATIONALITIES[nationality][1], gender,
                     (now - datetime.timedelta(days=rng.randint(18 * 365, 75 * 365))).date(),
                     f"+966{rng.choice(demo.MOBILE_PREFIXES)}{i:07d}", rng.choice(demo.CITIES),
                     rng.choice(demo.DISTRICTS), rng.choice(demo.CATEGORIES), rng.choice((1, 2, 3, 4, 5, 6, 7, 9)),
                     created if rng.random() < 0.8 else None, created, rng.choice(registrars)))
    rows.sort(key=lambda r: r[0])  # ids grow with time, as they do in use
    rows = [(f"BEN-{i:06d}",) + r[1:] + (r[0], r[-1]) for i, r in enumerate(rows, 1)]
    _insert(Beneficiary, ["reference", "full_name", "latin_name", "name_key", "id_type", "id_number",
                          "nationality", "language", "gender", "birth_date", "mobile", "city", "district",
                          "category", "family_size", "consent_at", "created_at", "created_by", "updated_at",
                          "updated_by"], rows)
    beneficiaries = _ids(Beneficiary)
    log(f"  beneficiaries {len(beneficiaries):,} ({time.perf_counter() - t0:.0f} s)")

    # ---- requests ----
    # Requests arrive evenly over three years; a request's status follows its age: this week's are being
    # verified, last month's decided or delivered, older ones closed, and a few old ones stuck open
    # (the overdue backlog). Drafts are recent and unsubmitted.
    by_age = [  # (younger than days, statuses, weights)
        (3, ["submitted", "awaiting_documents", "under_verification"], [50, 25, 25]),
        (14, ["submitted", "awaiting_documents", "under_verification", "under_evaluation", "approved", "rejected",
              "withdrawn"], [12, 22, 28, 22, 7, 6, 3]),
        (45, ["awaiting_documents", "under_verification", "under_evaluation", "approved", "rejected", "delivered",
              "closed", "withdrawn"], [7, 7, 9, 10, 14, 30, 17, 6]),
        (10_000, ["closed", "delivered", "rejected", "withdrawn", "approved", "awaiting_documents",
                  "under_verification", "under_evaluation", "submitted"], [70, 8, 7, 8, 2, 1.5, 1.5, 1, 1]),
    ]
    channels = ["interview", "phone", "volunteer", "website", "social_media", "letter"]
    channel_weights = [35, 25, 15, 10, 10, 5]
    # A few researchers carry most of the files.
    researcher_weights = [1 + (len(researchers) - k) for k in range(len(researchers))]
    rows = []
    for _ in range(n["requests"]):
        service = rng.choices(services, service_weights)[0]
        if rng.random() < 0.015:
            status, created, submitted = "draft", ago(60), None
        else:
            submitted = ago(1095)
            age = (now - submitted).days
            _limit, choices, weights = next(b for b in by_age if age < b[0])
            status = rng.choices(choices, weights)[0]
            created = submitted - datetime.timedelta(minutes=rng.randint(5, 600))
        due = (submitted + datetime.timedelta(days=service_days[service])).date() if submitted else None
        researcher = (rng.choices(researchers, researcher_weights)[0]
                      if status != "draft" and (status != "submitted" or rng.random() < 0.6) else None)
        decided = status in ("approved", "rejected", "delivered", "closed") and rng.random() < 0.97
        decided_at = min(submitted + datetime.timedelta(days=rng.uniform(2, 30)), now) if decided else None
        decision = ("rejected" if status == "rejected" or (status == "closed" and rng.random() < 0.2)
                    else "approved") if decided else None
        rows.append((created, rng.randint(1, len(beneficiaries)), service, rng.choices(channels, channel_weights)[0],
                     status, researcher, submitted, due, "in_person" if submitted else None, "1" if submitted else None,
                     submitted, decision, "لا تنطبق شروط الاستحقاق" if decision == "rejected" else None, decided_at,
                     rng.choice(deciders) if decided else None, decided_at, rng.choice(registrars)))
    rows.sort(key=lambda r: r[0])
    request_rows = rows
    # number, beneficiary; service … notified_at as drawn; created_by, created_at, updated_at, updated_by.
    rows = [(f"REQ-{r[0].year}-{i:06d}", beneficiaries[r[1] - 1]) + r[2:16] + (r[16], r[0], r[13] or r[0], r[16])
            for i, r in enumerate(rows, 1)]
    _insert(ServiceRequest, ["number", "beneficiary", "service", "channel", "status", "researcher",
                             "submitted_at", "decision_due", "attestation_method", "attestation_version",
                             "attested_at", "decision", "decision_reason", "decided_at", "decided_by",
                             "notified_at", "created_by", "created_at", "updated_at", "updated_by"], rows)
    requests = _ids(ServiceRequest)
    # (id, status, researcher, submitted, beneficiary, service) of each request, for the rows that refer to them.
    facts = [(rid, r[4], r[5], r[6] or r[0], beneficiaries[r[1] - 1], r[2]) for rid, r in zip(requests, request_rows)]
    submitted_facts = [f for f in facts if f[1] != "draft"]
    log(f"  requests {len(requests):,} ({time.perf_counter() - t0:.0f} s)")

    # ---- visits ----
    methods = ["document_review", "interview", "field_visit"]
    outcomes = ["confirmed", "not_confirmed", "more_information"]
    rows = []
    for _ in range(n["visits"]):
        rid, status, researcher, submitted, _b, _s = rng.choice(submitted_facts)
        scheduled = submitted + datetime.timedelta(days=rng.uniform(1, 12), hours=rng.randint(8, 14))
        performed = scheduled if scheduled < now and (status not in OPEN_STATUSES or rng.random() < 0.7) else None
        by = researcher or rng.choice(researchers)
        rows.append((min(submitted + datetime.timedelta(hours=2), now), rid, rng.choices(methods, [5, 3, 2])[0],
                     scheduled, performed, by if performed else None,
                     demo.FINDINGS["confirmed"] if performed else None,
                     rng.choices(outcomes, [80, 8, 12])[0] if performed else None,
                     rng.choice(usernames)))
    rows.sort(key=lambda r: r[0])
    _insert(VerificationVisit, ["created_at", "request", "method", "scheduled_at", "performed_at", "performed_by",
                                "findings", "outcome", "created_by", "updated_at", "updated_by"],
            [r + (r[0], r[-1]) for r in rows])
    log(f"  visits {len(rows):,} ({time.perf_counter() - t0:.0f} s)")

    # ---- documents ----
    rows = []
    for i in range(n["documents"]):
        rid, status, researcher, submitted, ben, _s = rng.choice(submitted_facts)
        on_request = rng.random() < 0.9
        dtype = rng.choice(doc_types)
        created = min(submitted + datetime.timedelta(hours=rng.uniform(0, 72)), now)
        verified = rng.random() < 0.7
        kind = rng.choices(("application/pdf", "image/jpeg", "image/png"), [5, 4, 1])[0]
        rows.append((created, rid if on_request else None, ben if not on_request else None, dtype,
                     f"{types[doc_types.index(dtype)][0]}.{kind.split('/')[1]}", f"bench{i:08d}{kind.split('/')[1]}",
                     kind, rng.randint(40_000, 3_000_000), hashlib.sha256(str(i).encode()).hexdigest(),
                     (researcher or rng.choice(researchers)) if verified else None,
                     created + datetime.timedelta(days=1) if verified else None, rng.choice(registrars)))
    rows.sort(key=lambda r: r[0])
    _insert(Document, ["created_at", "request", "beneficiary", "document_type", "original_name", "stored_name",
                       "content_type", "size", "sha256", "verified_by", "verified_at", "created_by", "updated_at",
                       "updated_by"], [r + (r[0], r[-1]) for r in rows])

    # ---- referrals ----
    reasons = ("لم يفهم المستفيد المستندات المطلوبة", "يحتاج شرحاً لشروط الخدمة", "استفسار عن موعد الزيارة الميدانية",
               "لم يتمكن من إكمال الطلب عبر البوابة")
    rows = []
    for _ in range(n["referrals"]):
        rid, status, researcher, submitted, ben, _s = rng.choice(facts)
        answered = rng.random() < 0.8
        created = min(submitted + datetime.timedelta(hours=rng.uniform(0, 48)), now)
        rows.append((created, ben, rid if rng.random() < 0.7 else None, rng.choice(reasons),
                     users[rng.choice(volunteers)], researcher, "answered" if answered else "open",
                     "تم شرح الإجراءات للمستفيد هاتفياً" if answered else None,
                     created + datetime.timedelta(days=rng.uniform(0.1, 3)) if answered else None,
                     rng.choice(volunteers)))
    rows.sort(key=lambda r: r[0])
    _insert(Referral, ["created_at", "beneficiary", "request", "reason", "referred_by", "researcher", "status",
                       "answer", "answered_at", "created_by", "updated_at", "updated_by"],
            [r + (r[0], r[-1]) for r in rows])

    # ---- interactions ----
    kinds = {k.code: (k.id, k.response_days, k.needs_resolution) for k in InteractionKind.select()}
    kind_codes = [c for c in ("inquiry", "suggestion", "complaint", "follow_up", "appreciation", "data_correction")
                  if c in kinds]
    categories = ["service_quality", "procedures", "waiting_time", "staff_conduct", "communication", "facilities",
                  "other"]
    rows = []
    for _ in range(n["interactions"]):
        code = rng.choices(kind_codes, [50, 10, 10, 20, 5, 5][:len(kind_codes)])[0]
        kind_id, days, resolution = kinds[code]
        received = ago(720)
        status = rng.choices(("open", "answered", "closed"), [8, 30, 62])[0] if received < now - datetime.timedelta(
            days=10) else rng.choice(("open", "answered"))
        ben = rng.choice(beneficiaries) if rng.random() < 0.85 else None
        rows.append((received, ben, None if ben else "زائر", None if ben else "+966500000000",
                     rng.choices(channels, channel_weights)[0], kind_id, rng.choice(categories) if resolution else None,
                     "استفسار عن حالة الطلب" if code == "inquiry" else "ملاحظة على الخدمة", "نص الرسالة كما وردت.",
                     received, (received + datetime.timedelta(days=days + 2)).date(),
                     rng.choice(researchers) if status != "open" or rng.random() < 0.5 else None, status,
                     "تم الرد على المستفيد" if status != "open" else None,
                     received + datetime.timedelta(days=1) if status != "open" else None,
                     received + datetime.timedelta(days=3) if status == "closed" else None,
                     "portal" if rng.random() < 0.2 else "staff", rng.choice(registrars)))
    rows.sort(key=lambda r: r[0])
    _insert(Interaction, ["created_at", "beneficiary", "contact_name", "contact_phone", "channel", "kind",
                          "category", "subject", "text", "received_at", "due_date", "handled_by", "status",
                          "response", "responded_at", "closed_at", "source", "created_by", "number", "updated_at",
                          "updated_by"],
            [r + (f"INT-{r[0].year}-{i:06d}", r[0], r[-1]) for i, r in enumerate(rows, 1)])

    # ---- notifications ----
    nkinds = ["submission_receipt", "missing_documents", "visit_appointment", "decision", "survey_invitation"]
    rows = []
    for _ in range(n["notifications"]):
        rid, status, researcher, submitted, ben, _s = rng.choice(submitted_facts)
        channel = rng.choices(("sms", "email", "letter"), [80, 12, 8])[0]
        created = min(submitted + datetime.timedelta(minutes=rng.randint(1, 20_000)), now)
        state = rng.choices(("sent", "queued", "failed", "unknown", "cancelled"), [90, 3, 3, 2, 2])[0]
        rows.append((created, ben, rid, rng.choices(nkinds, [40, 15, 15, 25, 5])[0], channel, "ar",
                     "+966550000000" if channel == "sms" else "beneficiary@example.com" if channel == "email"
                     else "المستفيد", "إشعار من الجمعية", "نص الرسالة.", state, 1 if state == "sent" else 3,
                     "gateway timeout" if state in ("failed", "unknown") else None,
                     created if state == "sent" else None, rng.choice(usernames)))
    rows.sort(key=lambda r: r[0])
    _insert(Notification, ["created_at", "beneficiary", "request", "kind", "channel", "language", "recipient",
                           "subject", "body", "status", "attempts", "last_error", "sent_at", "created_by",
                           "updated_at", "updated_by"], [r + (r[0], r[-1]) for r in rows])

    # ---- satisfaction surveys (one per finished request) ----
    finished = [f for f in facts if f[1] in ("delivered", "closed")]
    rows = []
    for rid, status, researcher, submitted, ben, _s in rng.sample(finished, min(n["surveys"], len(finished))):
        at = min(submitted + datetime.timedelta(days=rng.uniform(5, 40)), now)
        score = lambda: rng.choices((1, 2, 3, 4, 5), [3, 5, 12, 35, 45])[0]  # noqa: E731
        channel = rng.choices(("portal", "phone", "in_person"), [60, 30, 10])[0]
        rows.append((at, rid, ben, score(), score(), score(), score(), rng.random() < 0.85, channel, at,
                     None if channel == "portal" else (researcher or rng.choice(researchers)), "bench"))
    rows.sort(key=lambda r: r[0])
    _insert(SatisfactionSurvey, ["created_at", "request", "beneficiary", "overall", "speed", "courtesy", "clarity",
                                 "would_recommend", "channel", "submitted_at", "taken_by", "created_by",
                                 "updated_at", "updated_by"], [r + (r[0], r[-1]) for r in rows])

    # ---- proposed changes and incidents ----
    rows = []
    for _ in range(n["proposed_changes"]):
        rid, status, researcher, submitted, ben, _s = rng.choice(facts)
        state = rng.choices(("pending", "accepted", "rejected"), [20, 60, 20])[0]
        rows.append((submitted, ben, rid, "city", "بحرة", "جدة", state,
                     rng.choice(deciders) if state != "pending" else None, "portal"))
    rows.sort(key=lambda r: r[0])
    _insert(ProposedChange, ["created_at", "beneficiary", "request", "field", "recorded_value", "proposed_value",
                             "status", "decided_by", "created_by", "updated_at", "updated_by"],
            [r + (r[0], r[-1]) for r in rows])
    rows = [(ago(700), "فقدان ملف ورقي", rng.randint(1, 40), "closed" if i > 2 else "open", users["manager1"])
            for i in range(n["incidents"])]
    _insert(Incident, ["discovered_at", "what", "affected_count", "status", "recorded_by", "created_at",
                       "updated_at", "created_by", "updated_by"], [r + (r[0], r[0], "manager1", "manager1")
                                                                   for r in rows])

    # ---- audit trail ----
    actions = [("update", "ServiceRequest", 22), ("update", "Beneficiary", 8), ("create", "ServiceRequest", 10),
               ("create", "Beneficiary", 5), ("create", "VerificationVisit", 6), ("status", "ServiceRequest", 15),
               ("view", "Beneficiary", 12), ("login", None, 9), ("logout", None, 4), ("login_failed", None, 1),
               ("verify", "Document", 4), ("download", "Document", 2), ("export", "ServiceRequest", 0.5),
               ("bulk", "ServiceRequest", 0.3), ("send", "Notification", 1.2)]
    action_weights = [a[2] for a in actions]
    ranges = {"ServiceRequest": len(requests), "Beneficiary": len(beneficiaries), "VerificationVisit": n["visits"],
              "Document": n["documents"], "Notification": n["notifications"]}
    rows = []
    for _ in range(n["audit"]):
        action, model, _w = rng.choices(actions, action_weights)[0]
        at = ago(1100)
        actor = rng.choice(usernames)
        record_id = rng.randint(1, ranges[model]) if model else None
        changes = None
        if action == "update" and model == "ServiceRequest":
            changes = json.dumps({"researcher": [rng.choice(researchers), rng.choice(researchers)]})
        elif action == "update":
            changes = json.dumps({"city": ["بحرة", "جدة"]}, ensure_ascii=False)
        elif action == "status":
            changes = json.dumps({"status": ["submitted", "under_verification"]})
        details = json.dumps({"page": "details"}) if action == "view" else None
        rows.append((at, actor, action, model, record_id, changes, details,
                     f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)}", actor))
    rows.sort(key=lambda r: r[0])
    _insert(AuditLog, ["at", "actor", "action", "model", "record_id", "changes", "details", "ip", "created_by",
                       "created_at", "updated_at", "updated_by"], [r + (r[0], r[0], r[-1]) for r in rows])
    log(f"  audit {len(rows):,} ({time.perf_counter() - t0:.0f} s)")

    # ---- the manager's saved views: the Views menu counts them on every page ----
    views = [("طلبات الكهرباء المفتوحة", "servicerequest", f"flt_open_is=1&flt_service_equals={services[3]}", None),
             ("قيد التحقق", "servicerequest", "flt_status_equals=under_verification", "manager"),
             ("زيارات ميدانية", "verificationvisit", "flt_method_equals=field_visit", None),
             ("مستفيدو جدة", "beneficiary", "flt_city_equals=جدة", None)]
    _insert(SavedView, ["owner", "name", "endpoint", "query", "shared_role", "created_at", "updated_at",
                        "created_by", "updated_by"], [(users["manager1"],) + v + stamp for v in views])
    return {name: model.select().count() for name, model in (
        ("beneficiaries", Beneficiary), ("requests", ServiceRequest), ("visits", VerificationVisit),
        ("audit", AuditLog), ("documents", Document), ("referrals", Referral), ("interactions", Interaction),
        ("notifications", Notification), ("surveys", SatisfactionSurvey), ("proposed_changes", ProposedChange))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: the issue's sizes; 0.05 for a quick run")
    parser.add_argument("--postgres", action="store_true", help="also (or only, with --no-sqlite) PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args(argv)
    os.environ.setdefault("INSTANCE_PATH", str(cache_dir() / "instance"))
    if not args.no_sqlite:
        print(sqlite_database(args.scale, args.force))
    if args.postgres:
        print(postgres_database(args.scale, args.force) or "PostgreSQL: not available (scripts/postgres.sh)")


if __name__ == "__main__":
    main()
