"""Benchmark of the bulk action "assign a researcher" on 10,000 selected requests, audit rows included.

    .venv/bin/python bench/bulk_bench.py [--scale 1.0] [--db sqlite|postgres|both] [--rows 10000]
                                         [--repeat 3] [--no-row-by-row]

The list's own path: a manager posts the confirmation form of the requests list's bulk action
(/admin/servicerequest/bulk/apply/, kind=assign, 10,000 rowid values) through the real application
and Flask's test client, with BULK_BACKGROUND_THRESHOLD=0 so it runs in the request as a smaller
selection would (above the threshold the list hands it to the background worker). The 10,000
newest requests still in progress are chosen (the list filtered to them, "all matching rows"). Reported:
wall and CPU time, SQL queries, and transactions (BEGINs and COMMITs counted on the connection:
the target is one), rows assigned and refused, audit rows written. Target: ≤ 2 s, one transaction.

For comparison, --row-by-row (default on) also runs services.bulk.assign_one on each row in its own
transaction, as the background worker applies a job (and as the list did before issue 9).
After every run the requests and the audit trail are put back as they were.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import database_urls, login, machine, make_app, table  # noqa: E402

TARGET_SECONDS = 2.0


class Transactions:
    """Count BEGIN and COMMIT on the database while inside the block."""

    def __enter__(self):
        from models import db
        self.cls = type(db.obj)
        self.begin, self.commit = self.cls.begin, self.cls.commit
        self.begins = self.commits = 0
        counter = self

        def begin(database, *args, **kwargs):
            counter.begins += 1
            return counter.begin(database, *args, **kwargs)

        def commit(database, *args, **kwargs):
            counter.commits += 1
            return counter.commit(database, *args, **kwargs)
        self.cls.begin, self.cls.commit = begin, commit
        return self

    def __exit__(self, *exc):
        self.cls.begin, self.cls.commit = self.begin, self.commit


def _snapshot(ids):
    from models import AuditLog, ServiceRequest, db
    db.connect(reuse_if_open=True)
    rows = list(ServiceRequest.select(ServiceRequest.id, ServiceRequest.researcher, ServiceRequest.version,
                                      ServiceRequest.updated_at, ServiceRequest.updated_by)
                .where(ServiceRequest.id.in_(ids)).tuples())
    return rows, AuditLog.select(AuditLog.id).order_by(AuditLog.id.desc()).scalar() or 0


def _restore(snapshot):
    """Put the requests and the audit trail back as they were before a run."""
    from models import AuditLog, ServiceRequest, db
    rows, last_audit = snapshot
    db.connect(reuse_if_open=True)
    p = db.obj.param
    sql = (f'UPDATE "{ServiceRequest._meta.table_name}" SET "researcher_id" = {p}, "version" = {p}, '
           f'"updated_at" = {p}, "updated_by" = {p} WHERE "id" = {p}')
    with db.atomic():
        db.cursor().executemany(sql, [(researcher, version, updated_at, updated_by, row_id)
                                      for row_id, researcher, version, updated_at, updated_by in rows])
        AuditLog.delete().where(AuditLog.id > last_audit).execute()


def run(label, url, args, log=print) -> list[dict]:
    """Measure the bulk assignment on one database; return one result per path."""
    from playhouse.test_utils import count_queries

    from models import AuditLog, ServiceRequest, User, db
    app = make_app(url, BULK_BACKGROUND_THRESHOLD=0)
    client = login(app, "manager")
    db.connect(reuse_if_open=True)
    # A selection as "all matching rows" of the list filtered to requests still in progress gives it.
    from services.workflow import TERMINAL_STATUSES
    ids = [i for (i,) in ServiceRequest.select(ServiceRequest.id).where(ServiceRequest.status.not_in(
        TERMINAL_STATUSES)).order_by(ServiceRequest.id.desc()).limit(args.rows).tuples()]
    researcher = User.get(User.username == "researcher3")
    results = []
    for attempt in range(args.repeat):
        snapshot = _snapshot(ids)
        audit_before = snapshot[1]
        db.close()
        with Transactions() as tx, count_queries() as counter:
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.post("/admin/servicerequest/bulk/apply/", data={
                "kind": "assign", "researcher": researcher.id, "rowid": [str(i) for i in ids]})
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert response.status_code == 302, response.status_code
        db.connect(reuse_if_open=True)
        audit_rows = AuditLog.select().where(AuditLog.id > audit_before).count()
        assigned = AuditLog.select().where((AuditLog.id > audit_before) & (AuditLog.action == "update")).count()
        results.append({"db": label, "path": "list bulk action (HTTP, one transaction)", "seconds": wall,
                        "cpu": cpu, "queries": counter.count, "begins": tx.begins, "commits": tx.commits,
                        "assigned": assigned, "audit_rows": audit_rows})
        log(f"{label:10} bulk action: {wall:.2f} s (cpu {cpu:.2f}), {counter.count} queries, "
            f"{tx.begins} BEGIN / {tx.commits} COMMIT, {assigned} assigned, {audit_rows} audit rows")
        _restore(snapshot)
    if args.row_by_row:
        from models import current_actor
        from services import bulk
        manager = User.get(User.username == "manager1")
        rows = list(ServiceRequest.select().where(ServiceRequest.id.in_(ids)))
        snapshot = _snapshot(ids)
        token = current_actor.set(manager.username)
        with Transactions() as tx, count_queries() as counter:
            wall, cpu = time.perf_counter(), time.process_time()
            result = bulk._each(rows, lambda row: bulk.assign_one(row, researcher, manager))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        current_actor.reset(token)
        audit_rows = AuditLog.select().where(AuditLog.id > snapshot[1]).count()
        results.append({"db": label, "path": "row by row (assign_one, a transaction each)", "seconds": wall,
                        "cpu": cpu, "queries": counter.count, "begins": tx.begins, "commits": tx.commits,
                        "assigned": len(result.done), "audit_rows": audit_rows})
        log(f"{label:10} row by row: {wall:.2f} s (cpu {cpu:.2f}), {counter.count} queries, "
            f"{tx.begins} BEGIN / {tx.commits} COMMIT, {len(result.done)} assigned")
        _restore(snapshot)
    db.close()
    return results


def report(runs, args) -> str:
    """Return the Markdown table of the results."""
    rows = []
    for result in runs:
        for r in result:
            ok = "✓" if r["seconds"] <= TARGET_SECONDS else "✗"
            rows.append([r["db"], r["path"], f"{r['seconds']:.2f} {ok}" if "HTTP" in r["path"] else f"{r['seconds']:.2f}",
                         f"{r['cpu']:.2f}", r["queries"], f"{r['begins']} / {r['commits']}", f"{r['assigned']:,}",
                         f"{r['audit_rows']:,}"])
    return (f"Measured {machine()}; `bench/bulk_bench.py --scale {args.scale} --rows {args.rows} "
            f"--repeat {args.repeat}`.\n\n"
            + table(["database", "path", f"seconds (≤ {TARGET_SECONDS:g})", "CPU s", "queries",
                     "BEGIN / COMMIT", "requests assigned", "audit rows"], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-row-by-row", dest="row_by_row", action="store_false")
    args = parser.parse_args(argv)
    runs = [run(label, url, args) for label, url in database_urls(args.scale, args.db)]
    print(report(runs, args))


if __name__ == "__main__":
    main()
