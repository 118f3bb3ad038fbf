"""Benchmark of the board mirror against the local fake Sheets API (tests/fake_sheets.py).

    .venv/bin/python bench/sync_bench.py [--beneficiaries 100000 --requests 300000 --visits 200000]

Measures a full sync, an incremental sync after 100 edits, and the common way (gspread's
append_rows per tab, in chunks) as the baseline: write requests against the lower bound
(total payload / 2 MB, rounded up), bytes sent and wall time. Data is bulk-inserted with
insert_many into a scratch SQLite file; nothing touches instance/.
"""
import argparse
import datetime
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_sheets import FakeSheets  # noqa: E402

MB2 = 2_000_000


def populate(n_ben: int, n_req: int, n_vis: int, seed: int = 7) -> None:
    """Bulk-insert realistic rows (not through the service layer: this is about the sync)."""
    from models import Beneficiary, Delivery, Service, ServiceRequest, User, VerificationVisit, db
    from models.choices import CHANNELS, STATUSES, VISIT_METHODS, VISIT_OUTCOMES, codes
    rng = random.Random(seed)
    now = datetime.datetime(2026, 6, 1)
    base = dict(created_at=now, updated_at=now, created_by="bench", updated_by="bench")
    with db.atomic():
        User.insert_many([dict(base, username=f"researcher{i}", role="researcher", full_name=f"باحث {i}",
                               password_hash="x") for i in range(8)]).execute()
        Service.insert_many([dict(base, name_ar=name, name_en=name, sensitive=sens) for name, sens in (
            ("سلة غذائية", False), ("كفالة أسرية", False), ("دورات تعليمية", False), ("مساعدة إيجار", False),
            ("رعاية المهتدين الجدد", True))]).execute()
    users = [u for (u,) in User.select(User.id).tuples()]
    services = [s for (s,) in Service.select(Service.id).tuples()]
    cities = ["بحرة", "جدة", "مكة المكرمة", "الطائف", "الجموم"]
    nations = ["SA", "YE", "EG", "PK", "IN", "BD", "ID", "PH", "SD", "ET"]

    def chunks(rows, size=5000):
        for i in range(0, len(rows), size):
            yield rows[i:i + size]

    with db.atomic():
        rows = [dict(base, reference=f"BEN-{i:06d}", full_name=f"مستفيد {i}", name_key=f"مستفيد {i}",
                     id_type="national_id", id_number=f"1{i:09d}", nationality=rng.choice(nations),
                     city=rng.choice(cities), category=rng.choice(["أسرة", "أرملة", "يتيم", "مسن"]),
                     family_size=rng.randint(1, 12), mobile=f"+9665{i:08d}",
                     created_at=now - datetime.timedelta(days=rng.randint(0, 900)))
                for i in range(1, n_ben + 1)]
        for part in chunks(rows):
            Beneficiary.insert_many(part).execute()
        statuses = codes(STATUSES)
        rows = []
        for i in range(1, n_req + 1):
            status = rng.choice(statuses)
            submitted = now - datetime.timedelta(days=rng.randint(1, 700))
            decided = status in ("approved", "rejected", "delivered", "closed")
            rows.append(dict(base, number=f"REQ-2026-{i:06d}", beneficiary=rng.randint(1, n_ben),
                             service=rng.choice(services), channel=rng.choice(codes(CHANNELS)), status=status,
                             researcher=rng.choice(users), submitted_at=submitted,
                             decision_due=(submitted + datetime.timedelta(days=14)).date(),
                             decision=("rejected" if status == "rejected" else "approved") if decided else None,
                             decided_at=submitted + datetime.timedelta(days=rng.randint(3, 30)) if decided else None))
        for part in chunks(rows):
            ServiceRequest.insert_many(part).execute()
        rows = [dict(base, request=rng.randint(1, n_req), method=rng.choice(codes(VISIT_METHODS)),
                     scheduled_at=now - datetime.timedelta(days=rng.randint(1, 600)),
                     performed_at=now - datetime.timedelta(days=rng.randint(0, 500)),
                     performed_by=rng.choice(users), outcome=rng.choice(codes(VISIT_OUTCOMES)))
                for _ in range(n_vis)]
        for part in chunks(rows):
            VerificationVisit.insert_many(part).execute()
        delivered = [i for (i,) in ServiceRequest.select(ServiceRequest.id)
                     .where(ServiceRequest.status.in_(["delivered", "closed"])).tuples()]
        rows = [dict(base, request=i, description="سلة", delivered_at=now) for i in delivered]
        for part in chunks(rows):
            Delivery.insert_many(part).execute()


def edit(count: int, seed: int = 11) -> None:
    """Change `count` records the way staff do (city, status, visit outcome), bumping updated_at."""
    from models import Beneficiary, ServiceRequest, VerificationVisit, utcnow
    rng = random.Random(seed)
    n_b, n_r, n_v = (m.select().count() for m in (Beneficiary, ServiceRequest, VerificationVisit))
    now = utcnow()
    for i in range(count):
        kind = i % 3
        if kind == 0:
            Beneficiary.update(city="الطائف", updated_at=now).where(Beneficiary.id == rng.randint(1, n_b)).execute()
        elif kind == 1:
            ServiceRequest.update(status="under_evaluation", updated_at=now).where(
                ServiceRequest.id == rng.randint(1, n_r)).execute()
        else:
            VerificationVisit.update(outcome="not_confirmed", updated_at=now).where(
                VerificationVisit.id == rng.randint(1, n_v)).execute()


def measure(fake, fn):
    """Run fn against the fake; return (result, write requests, bytes written, seconds)."""
    fake.reset_log()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    writes = fake.requests("write")
    return result, len(writes), sum(e["bytes"] for e in writes), seconds


def baseline(fake, ctx, chunk_rows: int):
    """The common way: a worksheet per tab, then gspread's append_rows in chunks (RAW)."""
    import gspread
    import requests

    from sync import rows as R
    from sync.gsheets import MirrorHTTPClient
    from sync.source import Source
    client = gspread.Client(None, session=requests.Session(), http_client=MirrorHTTPClient)
    client.http_client.configure(endpoint=fake.url, writes_per_minute=10**9, reads_per_minute=10**9)
    book = client.open_by_key("baseline")
    source = Source(ctx)
    for table in R.TABLES:
        header = R.header(table, ctx)
        sheet = book.add_worksheet(R.title(table, ctx), rows=1, cols=len(header))
        data = [header] + [R.build_row(table, rec, ctx) for rec in source.records(table.key).values()]
        for start in range(0, len(data), chunk_rows):
            sheet.append_rows(data[start:start + chunk_rows], value_input_option="RAW")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beneficiaries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--visits", type=int, default=200_000)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--baseline-chunk", type=int, default=5000, help="rows per append_rows call")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    os.environ["INSTANCE_PATH"] = str(tmp)
    from cli import upgrade
    from models import current_actor, db
    from models.database import open_database
    from sync import rows as R
    from sync import run_sync, settings_from_config
    open_database(f"sqlite:///{tmp / 'bench.db'}")
    db.connect()
    upgrade()
    current_actor.set("bench")
    t = time.perf_counter()
    populate(args.beneficiaries, args.requests, args.visits)
    print(f"inserted {args.beneficiaries} beneficiaries, {args.requests} requests, {args.visits} visits "
          f"in {time.perf_counter() - t:.1f} s", flush=True)

    with FakeSheets(keep_bodies=False) as fake:
        fake.create("sheet-1")
        fake.create("baseline")
        config = {"SHEETS_SPREADSHEET_ID": "sheet-1", "SHEETS_API_ENDPOINT": fake.url,
                  "SHEETS_WRITES_PER_MINUTE": 10**9, "SHEETS_READS_PER_MINUTE": 10**9}
        settings = settings_from_config(config, tmp)
        report, full_writes, full_bytes, full_s = measure(fake, lambda: run_sync(settings, full=True))
        value_bytes = sum(e["bytes"] for e in fake.requests("write") if "/values" in e["path"])
        bound = math.ceil(value_bytes / MB2)
        print(f"full: {full_writes} write requests ({full_writes - 1} values + 1 structure), lower bound "
              f"{bound} values requests, {full_bytes / 1e6:.1f} MB, {full_s:.1f} s; cells {report.cells}", flush=True)
        edit(args.edits)
        _r, inc_writes, inc_bytes, inc_s = measure(fake, lambda: run_sync(settings))
        print(f"incremental after {args.edits} edits: {inc_writes} write requests, {inc_bytes / 1e3:.1f} kB, "
              f"{inc_s:.1f} s", flush=True)
        _r, base_writes, base_bytes, base_s = measure(fake, lambda: baseline(fake, R.Context(), args.baseline_chunk))
        print(f"baseline (append_rows, {args.baseline_chunk} rows a call): {base_writes} write requests, "
              f"{base_bytes / 1e6:.1f} MB, {base_s:.1f} s", flush=True)
        quota_minutes = lambda n: math.ceil(n / 60)  # noqa: E731
        print(f"at Google's 60 writes/minute: full needs >= {quota_minutes(full_writes)} min of quota, "
              f"baseline >= {quota_minutes(base_writes)} min", flush=True)


if __name__ == "__main__":
    main()
