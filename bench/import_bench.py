"""Benchmark of the Excel/CSV import: 50,000 rows in under 45 seconds, peak memory under 300 MB?

    .venv/bin/python bench/import_bench.py [--rows 50000] [--runs 1]

Writes a messy 50,000-row beneficiaries file as CSV (Windows-1256) and as XLSX (Arabic-Indic
digits, Hijri dates, phones in several formats, 1% bad IDs), and a workbook laid out the way an
association's volunteers keep one (tests/data/make_samples.volunteers_xlsx: a merged title row
above the header, a blank line every 1,000 rows, their own column order and header spellings such
as «رقم الهويه», «الجوال/الهاتف», «الإسم الرباعي», «تاريخ الميلاد (هجري)»; birth dates as Hijri and
Gregorian text, Excel day numbers, date cells and two-digit Hijri years; 1 in 400 rows without an ID
number). Each is dry-run and committed in a fresh process on a fresh SQLite file (the real services,
as the command line and the worker call them, with the serial column «م» ignored as `--ignore م`
does), reporting rows, seconds and the process's peak memory (VmHWM).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests" / "data")]

HEADER = ["م", "الاسم", "رقم الهوية", "الجنسية", "الجوال", "تاريخ الميلاد", "الجنس", "عدد أفراد الأسرة", "المدينة"]
NATIONS = ["سعودي", "يمني", "باكستاني", "Filipino", "مصرية", "بنغالي", "Indian", "سودانية"]


def rows(count: int):
    """Yield deterministic, realistically messy beneficiary rows."""
    from make_samples import arabic_digits, national_id
    for i in range(count):
        saudi = i % 8 == 0
        number = national_id(100000 + i, "1" if saudi else "2")
        if i % 100 == 99:
            number = number[:-1] + str((int(number[-1]) + 1) % 10)  # a wrong check digit
        mobile = f"05{(i % 7) + 3}{i:07d}"[:10]
        mobile = [mobile, "+966 " + mobile[1:], "00966" + mobile[1:], arabic_digits(mobile)][i % 4]
        birth = (f"{1380 + i % 60}/{1 + i % 12:02d}/{1 + i % 28:02d}" if i % 2
                 else f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 60}")
        yield [i + 1, f"مستفيد رقم {i}", number, "سعودي" if saudi else NATIONS[1 + i % 7], mobile, birth,
               "ذكر" if i % 3 else "أنثى", 1 + i % 9, "بحرة"]


def write_files(folder: Path, count: int) -> dict:
    from make_samples import volunteers_xlsx
    from openpyxl import Workbook
    csv_path = folder / "bench.csv"
    with open(csv_path, "w", encoding="cp1256", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        # Windows-1256 has no Arabic-Indic digits: Arabic Excel saves them as ASCII.
        from services.normalize import to_ascii_digits
        writer.writerows([to_ascii_digits(str(c)) for c in row] for row in rows(count))
    xlsx_path = folder / "bench.xlsx"
    # A normal (not write-only) workbook, as Excel saves one: with the <dimension> tag read-only mode reads first.
    book = Workbook()
    sheet = book.active
    sheet.title = "المستفيدين"
    sheet.append(HEADER)
    for row in rows(count):
        sheet.append(row)
    book.save(xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path, "volunteers": volunteers_xlsx(folder / "volunteers.xlsx", count)}


def peak_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def measure(path: str, dry_run: bool) -> dict:
    """Import one file into a fresh database in this process; return rows, counts, seconds and peak memory."""
    from types import SimpleNamespace

    from cli import upgrade
    from models import current_actor, db
    from models.database import open_database
    from services import imports
    from services.import_columns import IGNORED
    folder = Path(tempfile.mkdtemp(prefix="import-bench-db-"))
    open_database(f"sqlite:///{folder / 'bench.db'}")
    db.connect()
    upgrade()
    current_actor.set("bench")
    actor = SimpleNamespace(id=None, username="bench", role="admin")
    before = peak_mb()
    start = time.perf_counter()
    batch = imports.import_file(path, actor, folder / "imports", dry_run=dry_run, columns=[("م", IGNORED)])
    seconds = time.perf_counter() - start
    birth_dates = None
    if not dry_run:
        from models import Beneficiary
        birth_dates = Beneficiary.select().where(Beneficiary.birth_date.is_null(False)).count()
    return {"file": Path(path).suffix[1:], "dry_run": dry_run, "rows": batch.processed_rows,
            "created": batch.created_count, "rejected": batch.rejected_count, "seconds": round(seconds, 1),
            "peak_mb": peak_mb(), "start_mb": before, "birth_dates": birth_dates}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=1, help="commits of each file (the median is what to quote)")
    parser.add_argument("--only", choices=("csv", "xlsx", "volunteers"), action="append",
                        help="measure only these files (repeatable)")
    parser.add_argument("--measure", nargs=2, metavar=("FILE", "DRY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure[0], args.measure[1] == "1")))
        return
    folder = Path(tempfile.mkdtemp(prefix="import-bench-"))
    start = time.perf_counter()
    files = write_files(folder, args.rows)
    print(f"wrote {args.rows} rows as CSV ({files['csv'].stat().st_size // 1024} kB), XLSX "
          f"({files['xlsx'].stat().st_size // 1024} kB) and the volunteers' XLSX "
          f"({files['volunteers'].stat().st_size // 1024} kB) in {time.perf_counter() - start:.1f} s")
    env = {**os.environ, "INSTANCE_PATH": str(folder)}
    print("| file | run | rows | created | rejected | birth dates | time | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in args.only or ("csv", "xlsx", "volunteers"):
        for dry in ["1"] + ["0"] * args.runs:
            out = subprocess.run([sys.executable, __file__, "--measure", str(files[kind]), dry], env=env,
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            births = "" if r["birth_dates"] is None else f"{r['birth_dates']:,}"
            print(f"| {kind} | {'dry run' if r['dry_run'] else 'commit'} | {r['rows']:,} | {r['created']:,} | "
                  f"{r['rejected']:,} | {births} | {r['seconds']} s | {r['peak_mb']} MB |", flush=True)


if __name__ == "__main__":
    main()
