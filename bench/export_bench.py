"""Benchmark of the list exports: does a 100,000-row XLSX or CSV stay out of memory?

    .venv/bin/python bench/export_bench.py [--beneficiaries 100000 --requests 100000]

Bulk-inserts the data into a scratch SQLite file, then runs each export in a fresh process (the
real app, a logged-in manager, the real HTTP handler through Flask's test client) and reports
rows, seconds, file size and the process's peak memory. The same export of a small filtered
list is the memory floor: streaming means the big export's peak stays near it.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]


def peak_kb() -> int:
    """Return this process's peak resident memory in kB (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(db_url: str, url: str) -> dict:
    """Export one URL as a manager in this process; return rows, seconds, bytes and peak memory."""
    from werkzeug.security import generate_password_hash

    from app import create_app
    from models import User, db
    app = create_app({"DATABASE_URL": db_url, "WTF_CSRF_ENABLED": False, "EXPORT_MAX_ROWS": 1_000_000})
    db.connect(reuse_if_open=True)
    if not User.select().where(User.username == "bench-manager").exists():
        User.create(username="bench-manager", role="manager", full_name="bench",
                    password_hash=generate_password_hash("bench-password-1", method="pbkdf2:sha256:1000"))
    db.close()
    client = app.test_client()
    client.post("/login", data={"username": "bench-manager", "password": "bench-password-1"})
    before = peak_kb()
    start = time.perf_counter()
    response = client.get(url)
    body = response.get_data()
    seconds = time.perf_counter() - start
    peak = peak_kb()
    assert response.status_code == 200, response.status_code
    if "/csv/" in url:
        rows = body.count(b"\n") - 1
    else:
        from io import BytesIO

        from openpyxl import load_workbook
        rows = sum(1 for _ in load_workbook(BytesIO(body), read_only=True).active.iter_rows()) - 1
    return {"url": url, "rows": rows, "seconds": round(seconds, 1), "bytes": len(body),
            "peak_mb": round(peak / 1024), "growth_mb": round((peak - before) / 1024)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beneficiaries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--measure", nargs=2, metavar=("DB_URL", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="export-bench-"))
    os.environ["INSTANCE_PATH"] = str(tmp)
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    from sync_bench import populate

    from cli import upgrade
    from models import current_actor, db
    from models.database import open_database
    open_database(db_url)
    db.connect()
    upgrade()
    current_actor.set("bench")
    t = time.perf_counter()
    populate(args.beneficiaries, args.requests, 0)
    db.close()
    print(f"inserted {args.beneficiaries} beneficiaries and {args.requests} requests "
          f"in {time.perf_counter() - t:.1f} s", flush=True)
    urls = ["/admin/beneficiary/export/xlsx/?search=BEN-0000", "/admin/beneficiary/export/xlsx/",
            "/admin/beneficiary/export/csv/", "/admin/servicerequest/export/xlsx/"]
    for url in urls:
        out = subprocess.run([sys.executable, __file__, "--measure", db_url, url], env=dict(os.environ),
                             capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
