"""Benchmark of every list screen: server time, SQL queries per page, the floor and Flask-Admin's untuned baseline.

    .venv/bin/python bench/list_bench.py [--scale 1.0] [--db sqlite|postgres|both] [--repeat 20]
                                         [--baseline-repeat 5] [--screens servicerequest,beneficiary]

On the benchmark data (bench/data.py: 100,000 beneficiaries, 300,000 requests, 200,000 visits,
500,000 audit rows at scale 1.0), a manager opens every list of the panel (each SecureModelView)
through the real application and Flask's test client: the first page, page 1,000 (the last page
when the list is shorter), filtered by status and service (or the list's main filter when it has
neither), searched by a name fragment (or what the list searches: request numbers, actors), and
sorted by due date (requests: decision due; lists without one: their main date). Server time is the
time of the request inside the app (the test client adds no network), median and p95 over --repeat
runs after two warm-up runs; beside it the CPU time of this process (see common.repeat). The users
list is opened by the admin (a manager may not), every other list by a manager.

For each page it also reports:
- queries: every SQL statement the page ran (playhouse.test_utils.count_queries), at page sizes
  20 and 100; "list" is the part for the list's data, the queries inside the view's get_list (the
  rest is the page frame: the user, the Views menu's names, the column choice, filter choices);
- floor: the same page's SQL statements run alone (captured from the page, executed with the
  same parameters, rows fetched) plus a bare Jinja table of the rows; the ratio page / floor
  says what the panel costs beyond the database;
- baseline: the same page on a plain flask_admin.contrib.peewee.ModelView over the same model
  (Flask-Admin's defaults, the same columns, filters and search fields), registered in a
  throw-away Admin at /baseline; the ratio baseline / page.
Prints Markdown tables (bench/RESULTS.md keeps them) and, with --json, writes the raw numbers.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import captured_sql, database_urls, get, login, machine, make_app, ms, repeat, table  # noqa: E402

TARGET_P95_MS = 50
DEEP_PAGE = 999  # Flask-Admin counts pages from 0: this is page 1,000
# What each list's search box is given: a fragment of a family name where the list searches names.
SEARCH = {"verificationvisit": "2025-15", "document": "2025-15", "notification": "2025-15",
          "satisfactionsurvey": "2025-1", "auditlog": "researcher1", "user": "researcher1",
          "service": "سلة", "documenttype": "الهوية", "notificationtemplate": "decision", "demonym": "سعود",
          "interactionkind": "استفسار", "holiday": "عيد", "referencedocument": "لائحة", "incident": "ملف"}
DEFAULT_SEARCH = "الحرب"
# The status a worker filters by, per list; lists without a status get their main filter.
STATUS = {"servicerequest": "under_verification", "referral": "open", "interaction": "open",
          "notification": "failed", "proposedchange": "pending", "incident": "open"}
OTHER_FILTER = {"verificationvisit": ("method", "field_visit"), "auditlog": ("action", "update"),
                "beneficiary": ("city", "جدة"), "satisfactionsurvey": ("channel", "phone"),
                "document": ("verified_at", "0"), "user": ("role", "researcher")}
# The due date where the list has one, else its main date (newest first).
SORT = {"servicerequest": ("decision_due", False), "interaction": ("due_date", False),
        "verificationvisit": ("scheduled_at", True), "auditlog": ("at", True),
        "satisfactionsurvey": ("submitted_at", True), "incident": ("discovered_at", True)}
BASE = "/admin"
BASELINE = "/baseline"


# ---- the screens and their cases ----------------------------------------------------------------
def screens(app, only=None):
    """Return the panel's SecureModelView screens (every list), in menu order."""
    from admin_views.base import SecureModelView
    admin = next(a for a in app.extensions["admin"] if a.endpoint == "admin")
    return [v for v in admin._views if isinstance(v, SecureModelView) and (not only or v.endpoint in only)]


def _filter_arg(view, column_name, value):
    from flask_admin.contrib.peewee.filters import BasePeeweeFilter
    for index, flt in enumerate(view._filters or ()):
        if isinstance(flt, BasePeeweeFilter) and getattr(flt.column, "name", None) == column_name \
                and getattr(flt.column, "model", None) is view.model:
            return index, view.get_filter_arg(index, flt), value
    return None


def cases(view) -> list[tuple[str, str]]:
    """Return [(case, query string)] for one list."""
    from models import Service
    model = view.model
    total = model.select().count()
    out = [("first page", "")]
    if total > view.page_size:
        page = min(DEEP_PAGE, (total - 1) // view.page_size)
        out.append((f"page {page + 1:,}", f"page={page}"))
    parts = []
    status = _filter_arg(view, "status", STATUS.get(view.endpoint)) if view.endpoint in STATUS else None
    service = _filter_arg(view, "service", Service.select(Service.id).order_by(Service.id).scalar())
    for found in (status, service):
        if found:
            parts.append(found)
    if not parts and view.endpoint in OTHER_FILTER:
        found = _filter_arg(view, *OTHER_FILTER[view.endpoint])
        if found:
            parts.append(found)
    if parts:
        names = " and ".join(view._filters[i].column.name for i, _a, _v in parts)
        # Flask-Admin's filter arguments: flt<position>_<name>=value.
        query = "&".join(f"flt{n}_{arg}={value}" for n, (_i, arg, value) in enumerate(parts))
        out.append((f"filtered: {names}", query))
    out.append(("searched", f"search={SEARCH.get(view.endpoint, DEFAULT_SEARCH)}"))
    columns = [name for name, _label in view.__dict__.get("_all_list_columns") or ()]
    sortable = set(view._sortable_columns or ())
    name, desc = SORT.get(view.endpoint, ("created_at", True))
    if name not in sortable or name not in columns:
        name = next((c for c in columns if c in sortable), None)
    if name is not None:
        out.append((f"sorted: {name}", f"sort={columns.index(name)}" + ("&desc=1" if desc else "")))
    return out


def _url(prefix, endpoint, query, page_size=None):
    extra = f"page_size={page_size}" if page_size else ""
    query = "&".join(q for q in (query, extra) if q)
    return f"{prefix}/{endpoint}/" + (f"?{query}" if query else "")


# ---- the baseline: Flask-Admin's peewee ModelView with its defaults ----------------------------------
def add_baseline(app, views) -> dict:
    """Register a plain ModelView per list in a throw-away Admin at /baseline; return endpoint → view.

    Same model, same visible columns, filters on the same fields, search on the same kind of field;
    everything else is Flask-Admin's default (its get_query, count and per-row foreign-key loads).
    """
    from flask_admin import Admin
    from flask_admin.contrib.peewee import ModelView
    from flask_admin.contrib.peewee.filters import FilterEqual
    from flask_admin.theme import Bootstrap4Theme
    from peewee import ForeignKeyField

    from models import Beneficiary, ServiceRequest
    admin = Admin(name="baseline", url=BASELINE, endpoint="baseline", theme=Bootstrap4Theme())
    made = {}
    for view in views:
        model = view.model
        fields = model._meta.fields
        columns = [c for c, _l in view.__dict__.get("_all_list_columns") or () if c in fields]
        # Flask-Admin scaffolds filters for plain fields; a foreign key needs its filter given.
        filters = [FilterEqual(f.column, f.column.name) if isinstance(f.column, ForeignKeyField) else f.column
                   for f in view._filters or ()
                   if getattr(f.column, "model", None) is model and f.column.name in
                   ("status", "service", *(o[0] for o in OTHER_FILTER.values()))]
        searchable = []
        if "name_key" in fields:
            searchable = [model.name_key]
        elif "beneficiary" in fields and view.endpoint in ("servicerequest", "referral", "interaction",
                                                           "proposedchange"):
            searchable = [Beneficiary.name_key]
        elif "request" in fields and fields["request"].rel_model is ServiceRequest:
            searchable = [ServiceRequest.number]
        elif "actor" in fields:
            searchable = [model.actor]
        else:
            searchable = [f for f in (fields.get("name_ar"), fields.get("username"), fields.get("title_ar"),
                                      fields.get("what"), fields.get("text"), fields.get("kind")) if f][:1]
        attrs = {"column_list": columns, "column_filters": filters, "column_searchable_list": searchable,
                 "column_sortable_list": [c for c in columns if c in (view._sortable_columns or {})],
                 "column_default_sort": ("id", True), "named_filter_urls": False}
        cls = type(f"Baseline{model.__name__}", (ModelView,), attrs)
        made[view.endpoint] = cls(model, name=view.endpoint, endpoint=f"baseline_{view.endpoint}",
                                  url=f"{BASELINE}/{view.endpoint}")
        admin.add_view(made[view.endpoint])
    admin.init_app(app)
    return made


def baseline_query(view, baseline, query: str) -> str | None:
    """Translate a case's query string to the baseline view's arguments (filters by index, sort by column)."""
    from urllib.parse import parse_qsl, urlencode
    out = []
    position = 0
    for key, value in parse_qsl(query):
        if key.startswith("flt"):
            name = key.split("_", 1)[1]
            index, _flt = view._filter_args[name]
            column = view._filters[index].column
            match = next((i for i, f in enumerate(baseline._filters or ()) if f.column is column
                          and type(f).__name__ == "FilterEqual"), None)
            if match is None:
                return None
            out.append((f"flt{position}_{match}", value))
            position += 1
        elif key == "sort":
            name = [c for c, _l in view.__dict__["_all_list_columns"]][int(value)]
            columns = [c for c, _l in baseline._list_columns]
            if name not in columns:
                return None
            out.append(("sort", str(columns.index(name))))
        elif key == "search" and not baseline.column_searchable_list:
            return None
        else:
            out.append((key, value))
    return urlencode(out)


# ---- the floor: the page's SQL alone, and a bare table --------------------------------------------------
_BARE = None


def floor(statements, model) -> float:
    """Run the page's statements and render their list rows in a bare Jinja table; return seconds."""
    global _BARE
    from jinja2 import Environment

    from models import db
    if _BARE is None:
        _BARE = Environment(autoescape=True).from_string(
            "<table>{% for row in rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>"
            "{% endfor %}</table>")
    table_name = f'"{model._meta.table_name}"'
    start = time.perf_counter()
    rows = []
    for sql, params in statements:
        fetched = db.execute_sql(sql, params).fetchall()
        if not rows and " LIMIT " in sql and table_name in sql and "COUNT(" not in sql.upper():
            rows = fetched
    _BARE.render(rows=rows)
    return time.perf_counter() - start


# ---- measuring ----------------------------------------------------------------------------------------
_INSIDE = []


def count_list_queries():
    """Count the queries each SecureModelView.get_list runs (the list's data, apart from the page frame)."""
    from playhouse.test_utils import count_queries

    from admin_views.base import SecureModelView
    get_list = SecureModelView.get_list

    def counted(self, *args, **kwargs):
        with count_queries() as counter:
            result = get_list(self, *args, **kwargs)
        _INSIDE.append(counter.count)
        return result
    SecureModelView.get_list = counted


def measure_page(client, url, times) -> dict:
    """Time a page; count and capture its SQL (list: the queries inside get_list)."""
    from playhouse.test_utils import count_queries
    seconds, status, body = get(client, url)
    assert status == 200, (url, status, body[:300])
    result = repeat(lambda: get(client, url), times)
    _INSIDE.clear()
    with captured_sql() as statements, count_queries() as counter:
        get(client, url)
    result.update(queries=counter.count, statements=list(statements), bytes=len(body),
                  list_queries=_INSIDE[0] if _INSIDE else None)
    return result


def run(label, url, args, log=print) -> dict:
    """Measure every list on one database; return the results."""
    from playhouse.test_utils import count_queries

    from models import db
    app = make_app(url, BULK_BACKGROUND_THRESHOLD=0)
    views = screens(app, args.screens)
    baselines = add_baseline(app, views) if args.baseline_repeat else {}
    count_list_queries()
    # A manager sees every list but the users (admin only): each list as the first of them allowed in.
    from services.roles import can
    clients = {role: login(app, role) for role in ("manager", "admin")}
    results = []
    with app.app_context():
        db.connect(reuse_if_open=True)
        plan = [(view, cases(view)) for view in views]
    for view, view_cases in plan:
        role = "manager" if can("manager", view.read_capability) else "admin"
        client = clients[role]
        for case, query in view_cases:
            row = {"db": label, "screen": view.endpoint, "case": case, "query": query, "role": role}
            page = measure_page(client, _url(BASE, view.endpoint, query), args.repeat)
            row.update(median=page["median"], p95=page["p95"], cpu_median=page["cpu_median"],
                       cpu_p95=page["cpu_p95"], queries=page["queries"], list_queries=page["list_queries"])
            with count_queries() as counter:
                assert get(client, _url(BASE, view.endpoint, query, page_size=100))[1] == 200
            row["queries_100"] = counter.count
            db.connect(reuse_if_open=True)
            floor_stats = repeat(lambda: floor(page["statements"], view.model), args.repeat)
            row.update(floor_median=floor_stats["median"], floor_p95=floor_stats["p95"],
                       floor_cpu_median=floor_stats["cpu_median"])
            row["statements"] = [s for s, _p in page["statements"]]
            baseline = baselines.get(view.endpoint)
            bquery = baseline_query(view, baseline, query) if baseline is not None else None
            if bquery is not None:
                burl = _url(BASELINE, view.endpoint, bquery)
                b = measure_page(client, burl, args.baseline_repeat)
                row.update(baseline_median=b["median"], baseline_p95=b["p95"], baseline_queries=b["queries"])
                with count_queries() as counter:
                    assert get(client, _url(BASELINE, view.endpoint, bquery, page_size=100))[1] == 200
                row["baseline_queries_100"] = counter.count
            results.append(row)
            log(f"{label:10} {view.endpoint:20} {case:28} median {row['median']:7.1f} p95 {row['p95']:7.1f} ms"
                f" (cpu {row['cpu_median']:5.1f}/{row['cpu_p95']:5.1f})"
                f"  queries {row['queries']:2}/{row['queries_100']:2} (list {row['list_queries']})"
                f"  floor {row['floor_median']:6.1f}"
                + (f"  baseline {row['baseline_median']:7.1f} ms, {row['baseline_queries']} queries"
                   if "baseline_median" in row else ""))
    db.close()
    return {"label": label, "rows": results}


def report(runs, args) -> str:
    """Return the Markdown tables of the results."""
    out = [f"Measured {machine()}; `bench/list_bench.py --scale {args.scale} --repeat {args.repeat} "
           f"--baseline-repeat {args.baseline_repeat}`."]
    for result in runs:
        rows = []
        for r in result["rows"]:
            ok = "✓" if r["p95"] <= TARGET_P95_MS else "✗"
            ratio = r["median"] / r["floor_median"] if r["floor_median"] else None
            bratio = r["baseline_median"] / r["median"] if "baseline_median" in r else None
            rows.append([r["screen"], r["case"], ms(r["median"]), f"{ms(r['p95'])} {ok}",
                         f"{ms(r['cpu_median'])} / {ms(r['cpu_p95'])}",
                         f"{r['queries']} ({r['list_queries']} list)", r["queries_100"], ms(r["floor_median"]),
                         f"{ratio:.1f}×" if ratio else "–", ms(r.get("baseline_median")),
                         r.get("baseline_queries", "–"), r.get("baseline_queries_100", "–"),
                         f"{bratio:.1f}×" if bratio else "–"])
        out.append(f"\n### {result['label']}\n")
        out.append(table(["list", "case", "median ms", f"p95 ms (≤ {TARGET_P95_MS})", "CPU median / p95 ms",
                          "queries, 20 rows", "queries, 100 rows", "floor ms", "page / floor", "baseline ms",
                          "baseline queries", "baseline queries, 100 rows", "baseline / page"], rows))
        within = sum(1 for r in result["rows"] if r["p95"] <= TARGET_P95_MS)
        out.append(f"\np95 within {TARGET_P95_MS} ms: {within} of {len(result['rows'])} pages.")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--baseline-repeat", type=int, default=5, help="0: no baseline")
    parser.add_argument("--screens", type=lambda s: set(s.split(",")), default=None)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    runs = [run(label, url, args) for label, url in database_urls(args.scale, args.db)]
    text = report(runs, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(runs, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
