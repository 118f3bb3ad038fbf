"""Benchmark of the home dashboard (counts, overdue, worklists, this month's feedback) for every role.

    .venv/bin/python bench/home_bench.py [--scale 1.0] [--db sqlite|postgres|both] [--repeat 30]

On the benchmark data (bench/data.py), each role's user opens /admin/ through the real application
and Flask's test client: median and p95 of the server time (and of this process's CPU time) over
--repeat runs after two warm-up runs, and the page's SQL queries. Target: p95 ≤ 100 ms per role.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import database_urls, get, login, machine, make_app, ms, repeat, table  # noqa: E402

TARGET_P95_MS = 100
ROLES = ("admin", "manager", "researcher", "volunteer", "board")


def run(label, url, args, log=print) -> list[dict]:
    """Measure the home page of every role on one database."""
    from playhouse.test_utils import count_queries
    app = make_app(url)
    rows = []
    for role in ROLES:
        client = login(app, role)
        _seconds, status, _body = get(client, "/admin/")
        assert status == 200, (role, status)
        result = repeat(lambda: get(client, "/admin/"), args.repeat)
        with count_queries() as counter:
            get(client, "/admin/")
        rows.append({"db": label, "role": role, **result, "queries": counter.count})
        log(f"{label:10} {role:10} median {result['median']:6.1f} p95 {result['p95']:6.1f} ms "
            f"(cpu {result['cpu_median']:5.1f}/{result['cpu_p95']:5.1f}), {counter.count} queries")
    return rows


def report(runs, args) -> str:
    """Return the Markdown table of the results."""
    rows = [[r["db"], r["role"], ms(r["median"]), f"{ms(r['p95'])} {'✓' if r['p95'] <= TARGET_P95_MS else '✗'}",
             f"{ms(r['cpu_median'])} / {ms(r['cpu_p95'])}", r["queries"]] for result in runs for r in result]
    return (f"Measured {machine()}; `bench/home_bench.py --scale {args.scale} --repeat {args.repeat}`.\n\n"
            + table(["database", "role", "median ms", f"p95 ms (≤ {TARGET_P95_MS})", "CPU median / p95 ms",
                     "queries"], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    runs = [run(label, url, args) for label, url in database_urls(args.scale, args.db)]
    print(report(runs, args))


if __name__ == "__main__":
    main()
