"""Load run (issue 9): many staff at once against the real server, as `make run WEB_WORKERS=4` serves it.

    .venv/bin/python bench/load_bench.py [--users 50] [--seconds 60] [--workers 4] [--beneficiaries 2000]
                                         [--database-url postgres|postgresql://…] [--no-write]

What it does, in order:
1. a throw-away instance folder and database (SQLite in that folder, or PostgreSQL: `postgres` starts
   scripts/postgres.sh and uses a fresh database `mustafeed_load` on it), migrated, filled with the demo
   data generator (`flask demo-data`'s), plus one staff account per simulated user (managers, researchers,
   volunteers);
2. a real redis-server (scripts/redis.sh start on a free port), then the huey consumer and gunicorn with
   --workers N --threads 8 on 127.0.0.1 — the commands of the Makefile's `run` target, with WEB_WORKERS=N and
   REDIS_URL set;
3. every simulated staff member logs in once through the login form (login throttling counts failures
   only, so 50 sign-ins from 127.0.0.1 are not refused), then, for --seconds, loops over a weighted mix of
   reads (home, the two lists, a search, a beneficiary's file, a request's case file) and writes (register
   a beneficiary, open a request, record an interaction, edit a beneficiary through its form with the
   version it was loaded with), each write through the page's form and its CSRF token like a browser;
4. afterwards, with the server stopped, checks in the database that every write the server acknowledged
   (a redirect after the POST) is there, and that the server's log holds no traceback;
5. prints requests per second, p50/p95 per kind of page and overall, the errors (target 0) and the edits
   refused because someone else had saved first (expected under contention, not errors), and writes them
   under its own heading in bench/RESULTS.md.

Every request's time is measured by the client (wall time, including the network stack and the wait in
gunicorn's queue). There is no think time: each simulated person sends their next request as soon as the
last one is answered, so the server is saturated and the latency shows the queueing under that load.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "load-bench-password-42"
RESULTS = ROOT / "bench" / "RESULTS.md"
POSTGRES_BASE = ""  # scripts/postgres.sh's own database, from which mustafeed_load is made and dropped
HEADING = "## Load run on {database}: several workers (`bench/load_bench.py`, `make bench`)"

# (kind, weight): three reads for every write, roughly a registration desk's day.
MIX = [("home", 12), ("beneficiary list", 12), ("request list", 12), ("search", 10), ("beneficiary file", 10),
       ("case file", 10), ("register beneficiary", 8), ("open request", 6), ("record interaction", 6),
       ("edit beneficiary", 8)]
WRITES = {"register beneficiary", "open request", "record interaction", "edit beneficiary"}
SEARCH_TERMS = ["محمد", "أحمد", "عبدالله", "فاطمة", "BEN-0001", "علي", "نورة", "خالد"]


# ---- helpers ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FormReader(HTMLParser):
    """The fields the page's Flask-Admin form would post (as a browser), and every select's options."""

    def __init__(self):
        super().__init__()
        self.inside = self.done = False
        self.fields: dict[str, str] = {}
        self.options: dict[str, list[str]] = defaultdict(list)
        self._select = self._textarea = None
        self._template_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self.done and "admin-form" in (a.get("class") or "").split():
            self.inside = True
        if not self.inside:
            return
        # Flask-Admin's blank inline row (the template "Add" copies) is not sent by a browser.
        if "inline-field-template" in (a.get("class") or "") or self._template_depth:
            if tag == "div":
                self._template_depth += 1
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select:
            self.options[self._select].append(a.get("value") or "")
            if "selected" in a:
                self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if self._template_depth and tag == "div":
            self._template_depth -= 1
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def read_form(page: str) -> FormReader:
    reader = FormReader()
    reader.feed(page)
    return reader


def national_id(partial: str) -> str:
    from stdnum import luhn
    return partial + luhn.calc_check_digit(partial)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# ---- preparing the database -------------------------------------------------------------------------------
def staff_roles(n: int) -> list[str]:
    """Roles of the simulated staff: a fifth managers, half researchers, the rest volunteers."""
    roles = []
    for i in range(n):
        slot = i % 10
        roles.append("manager" if slot < 2 else "researcher" if slot < 7 else "volunteer")
    return roles


def postgres_database(log) -> str:
    """Start scripts/postgres.sh's server and return the URL of a fresh database `mustafeed_load` on it."""
    script = ROOT / "scripts" / "postgres.sh"
    if not script.exists():
        raise SystemExit("--database-url postgres needs scripts/postgres.sh")
    out = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"scripts/postgres.sh start failed: {out.stderr.strip()}")
    base = out.stdout.strip().splitlines()[-1]
    import psycopg
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "mustafeed_load" WITH (FORCE)')
        conn.execute('CREATE DATABASE "mustafeed_load"')
    log(f"PostgreSQL: fresh database mustafeed_load on {base.rsplit('/', 1)[0]}")
    global POSTGRES_BASE
    POSTGRES_BASE = base
    return base.rsplit("/", 1)[0] + "/mustafeed_load"


def prepare(url: str, users: int, beneficiaries: int, log) -> list[tuple[str, str]]:
    """Migrate the database, create the staff accounts and fill it with demo data; return [(username, role)]."""
    from werkzeug.security import generate_password_hash

    from app import create_app
    from cli import demo, upgrade
    from models import User, current_actor, db
    from services.users import HASH_METHOD
    create_app({"DATABASE_URL": url})
    db.connect(reuse_if_open=True)
    upgrade()
    current_actor.set("bench")
    password_hash = generate_password_hash(PASSWORD, method=HASH_METHOD)
    accounts = []
    with db.atomic():
        for i, role in enumerate(staff_roles(users), start=1):
            username = f"load.{role}{i}"
            User.create(username=username, role=role, full_name=f"{role} {i}", password_hash=password_hash)
            accounts.append((username, role))
    start = time.perf_counter()
    summary = demo.generate(beneficiaries, seed=9)
    log(f"demo data: {summary.beneficiaries} beneficiaries, {summary.requests} requests, {summary.visits} visits "
        f"in {time.perf_counter() - start:.0f} s")
    if url.startswith("sqlite"):
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return accounts


# ---- the server, as `make run` starts it ------------------------------------------------------------------
class Server:
    """redis-server (scripts/redis.sh), huey_consumer and gunicorn, stopped in reverse order."""

    def __init__(self, env: dict, port: int, workers: int, redis_port: int, folder: Path):
        self.env, self.port, self.workers, self.redis_port, self.folder = env, port, workers, redis_port, folder
        self.processes: list[subprocess.Popen] = []
        self.redis_started = False

    def start(self, log):
        out = subprocess.run(["bash", str(ROOT / "scripts" / "redis.sh"), "start", str(self.redis_port)],
                             capture_output=True, text=True, env={**os.environ, "REDIS_RUN_DIR": str(self.folder / "redis")})
        if out.returncode != 0:
            raise SystemExit(f"scripts/redis.sh start failed: {out.stderr.strip()}")
        self.redis_started = True
        self.env["REDIS_URL"] = out.stdout.strip().splitlines()[-1]
        log(f"redis-server: {self.env['REDIS_URL']}")
        self.log_path = self.folder / "server.log"
        server_log = open(self.log_path, "w")
        self.processes.append(subprocess.Popen(
            [str(BIN / "huey_consumer"), "worker.huey", "--workers", "2"], cwd=ROOT, env=self.env,
            stdout=server_log, stderr=subprocess.STDOUT))
        self.processes.append(subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(self.workers), "--threads", "8", "--bind",
             f"127.0.0.1:{self.port}", "--access-logfile", str(self.folder / "access.log"), "app:create_app()"],
            cwd=ROOT, env=self.env, stdout=server_log, stderr=subprocess.STDOUT))
        import requests
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                raise SystemExit(f"the server stopped at start-up; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/login", timeout=30).status_code == 200:
                    log(f"gunicorn: {self.workers} workers × 8 threads on 127.0.0.1:{self.port}, huey consumer running")
                    return
            except requests.RequestException:  # not listening yet, or workers still booting
                pass
            time.sleep(0.5)
        raise SystemExit("the server did not answer within 120 s")

    def stop(self):
        for p in reversed(self.processes):
            if p.poll() is None:
                # gunicorn stops gracefully on TERM; huey's consumer finishes its current job on INT.
                p.send_signal(signal.SIGINT if "huey" in str(p.args) else signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        self.processes = []
        if self.redis_started:
            subprocess.run(["bash", str(ROOT / "scripts" / "redis.sh"), "stop", str(self.redis_port)],
                           capture_output=True, env={**os.environ, "REDIS_RUN_DIR": str(self.folder / "redis")})
            self.redis_started = False


# ---- one simulated staff member ---------------------------------------------------------------------------
class Outcomes:
    """What every simulated person saw, gathered under a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.refused_stale = 0
        self.acknowledged: dict[str, list] = defaultdict(list)

    def time(self, kind: str, seconds: float):
        with self.lock:
            self.times[kind].append(seconds)

    def error(self, text: str):
        with self.lock:
            self.errors.append(text)

    def ack(self, kind: str, value):
        with self.lock:
            self.acknowledged[kind].append(value)


class Staff(threading.Thread):
    def __init__(self, number: int, username: str, role: str, base: str, outcomes: Outcomes, start_line,
                 stop_at: list, seed: int):
        super().__init__(daemon=True)
        import requests
        self.number, self.username, self.role, self.base = number, username, role, base
        self.outcomes, self.start_line, self.stop_at = outcomes, start_line, stop_at
        self.rng = random.Random(seed)
        self.session = requests.Session()
        self.beneficiaries: list[int] = []   # seen in lists: what they can open
        self.requests: list[int] = []
        self.mine: list[int] = []            # registered by them: where they open requests
        self.opened: set[tuple[int, str]] = set()
        self.sequence = 0
        self.logged_in = False

    # a timed request; anything but the expected status is an error
    def call(self, kind: str, method: str, path: str, expect=(200,), **kwargs):
        start = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=120, allow_redirects=False, **kwargs)
        except Exception as err:  # the connection itself failed
            self.outcomes.error(f"{kind}: {type(err).__name__}: {err}")
            return None
        elapsed = time.perf_counter() - start
        if self.measuring:
            self.outcomes.time(kind, elapsed)
        if response.status_code not in expect:
            self.outcomes.error(f"{kind}: HTTP {response.status_code} on {method} {path}")
            return None
        return response

    @property
    def measuring(self) -> bool:
        return self.started_at is not None and time.monotonic() < self.stop_at[0]

    def run(self):
        self.started_at = None
        page = self.call("login", "GET", "/login")
        token = page and (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
                          or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page.text))
        done = token and self.call("login", "POST", "/login", expect=(302,),
                                   data={"csrf_token": token.group(1), "username": self.username, "password": PASSWORD})
        self.logged_in = bool(done)
        self.start_line.wait()
        if not self.logged_in:
            return
        self.started_at = time.monotonic()
        self.list_page("/admin/beneficiary/", "beneficiary list")
        self.list_page("/admin/servicerequest/", "request list")
        kinds, weights = zip(*MIX)
        while time.monotonic() < self.stop_at[0]:
            kind = self.rng.choices(kinds, weights)[0]
            try:
                getattr(self, "do_" + kind.replace(" ", "_"))()
            except Exception as err:  # a page the script could not read is an error too, never a crash
                self.outcomes.error(f"{kind}: {type(err).__name__}: {err}")

    # ---- reads
    def list_page(self, path: str, kind: str):
        response = self.call(kind, "GET", path)
        if response is not None:
            ids = [int(i) for i in re.findall(r"/details/\?id=(\d+)", response.text)]
            if ids:
                (self.beneficiaries if "beneficiary" in path else self.requests)[:] = ids

    def do_home(self):
        self.call("home", "GET", "/admin/")

    def do_beneficiary_list(self):
        page = self.rng.choice(["", "?page=1", "?page=5", "?sort=1"])
        self.list_page("/admin/beneficiary/" + page, "beneficiary list")

    def do_request_list(self):
        page = self.rng.choice(["", "?page=1", "?flt0_status_equals=submitted", "?sort=4"])
        self.list_page("/admin/servicerequest/" + page, "request list")

    def do_search(self):
        self.call("search", "GET", "/admin/beneficiary/", params={"search": self.rng.choice(SEARCH_TERMS)})

    def do_beneficiary_file(self):
        if self.beneficiaries:
            self.call("beneficiary file", "GET", f"/admin/beneficiary/details/?id={self.rng.choice(self.beneficiaries)}")

    def do_case_file(self):
        if self.requests:
            self.call("case file", "GET", f"/admin/servicerequest/details/?id={self.rng.choice(self.requests)}")
        else:
            self.do_request_list()

    # ---- writes
    def token(self) -> str:
        self.sequence += 1
        return f"load-{self.number}-{self.sequence}"

    def do_register_beneficiary(self):
        form = self.call("register beneficiary", "GET", "/admin/beneficiary/new/")
        if form is None:
            return
        fields = read_form(form.text).fields
        self.sequence += 1
        id_number = national_id(f"19{self.number:02d}{self.sequence:05d}")
        fields.update({"full_name": f"مستفيد تجريبي {self.number} {self.sequence}", "id_type": "national_id",
                       "id_number": id_number, "nationality": "SA", "language": "ar",
                       "gender": self.rng.choice(["male", "female"]),
                       "mobile": f"05{self.rng.choice('03456')}{self.rng.randrange(10 ** 7):07d}",
                       "city": "بحرة", "district": "بحرة",
                       # "Save and continue editing": the redirect names the new record, for their next request.
                       "_continue_editing": "1"})
        response = self.call("register beneficiary", "POST", "/admin/beneficiary/new/", expect=(302,), data=fields)
        if response is not None:
            self.outcomes.ack("beneficiaries", id_number)
            match = re.search(r"id=(\d+)", response.headers.get("Location", ""))
            if match:
                self.mine.append(int(match.group(1)))

    def do_open_request(self):
        form = self.call("open request", "GET", "/admin/servicerequest/new/")
        if form is None:
            return None
        reader = read_form(form.text)
        services = [s for s in reader.options.get("service", []) if s and s != "__None"]
        choices = [(b, s) for b in self.mine for s in services if (b, s) not in self.opened]
        if not choices:  # nobody of theirs without an open request for some service: register one first
            return self.do_register_beneficiary()
        beneficiary, service = self.rng.choice(choices)
        self.opened.add((beneficiary, service))
        note = self.token()
        fields = dict(reader.fields, beneficiary=str(beneficiary), service=service, channel="interview",
                      attestation_method="in_person", attestation_version="1", notes=note)
        if self.call("open request", "POST", "/admin/servicerequest/new/", expect=(302,), data=fields) is not None:
            self.outcomes.ack("requests", note)

    def do_record_interaction(self):
        form = self.call("record interaction", "GET", "/admin/interaction/new/")
        if form is None:
            return
        reader = read_form(form.text)
        kinds = [k for k in reader.options.get("kind", []) if k and k != "__None"]
        subject = self.token()
        fields = dict(reader.fields, contact_name="زائر", contact_phone="0551234567", channel="phone",
                      direction="incoming", kind=kinds[0] if kinds else "", category="__None", subject=subject,
                      text="اتصل يسأل عن موعد التوزيع", language="ar", received_at="")
        fields["beneficiary"] = str(self.rng.choice(self.beneficiaries)) if self.beneficiaries else ""
        if self.call("record interaction", "POST", "/admin/interaction/new/", expect=(302,), data=fields) is not None:
            self.outcomes.ack("interactions", subject)

    def do_edit_beneficiary(self):
        # Half the time one of the first rows of the list: several people on the same record, as happens.
        pool = self.beneficiaries[:3] if self.rng.random() < 0.5 else self.beneficiaries
        if not pool:
            return
        target = self.rng.choice(pool)
        url = f"/admin/beneficiary/edit/?id={target}"
        form = self.call("edit beneficiary", "GET", url)
        if form is None:
            return
        fields = read_form(form.text).fields
        if "loaded_version" not in fields:
            self.outcomes.error("edit beneficiary: the form carries no version")
            return
        note = self.token()
        # The district: a field every role that edits beneficiaries sees (the notes are hidden from volunteers).
        fields["district"] = note
        response = self.call("edit beneficiary", "POST", url, expect=(200, 302), data=fields)
        if response is None:
            return
        if response.status_code == 302:
            self.outcomes.ack("edits", (target, note))
            return
        # Refused because someone saved first: the form comes back with the typed values and, renewed,
        # the version it now starts from (whatever the language of the message).
        again = read_form(response.text).fields
        if again.get("district", "").strip() == note and \
                again.get("loaded_version") not in (None, fields["loaded_version"]):
            with self.outcomes.lock:
                self.outcomes.refused_stale += 1
            return
        alerts = [re.sub(r"<[^>]+>|\s+", " ", a).strip()[:200]
                  for a in re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', response.text, re.S)]
        self.outcomes.error(f"edit beneficiary: form refused: {alerts}")


# ---- the run ----------------------------------------------------------------------------------------------
def verify(url: str, outcomes: Outcomes) -> dict:
    """Return, per kind of write, how many acknowledged writes are missing from the database."""
    from app import create_app
    from models import AuditLog, Beneficiary, Interaction, ServiceRequest, db
    create_app({"DATABASE_URL": url})
    db.connect(reuse_if_open=True)
    missing = {}
    ids = outcomes.acknowledged["beneficiaries"]
    found = {b for (b,) in Beneficiary.select(Beneficiary.id_number).where(Beneficiary.id_number.in_(ids)).tuples()}
    missing["beneficiaries"] = len(set(ids) - found)
    notes = outcomes.acknowledged["requests"]
    found = {n for (n,) in ServiceRequest.select(ServiceRequest.notes).where(ServiceRequest.notes.in_(notes)).tuples()}
    missing["requests"] = len(set(notes) - found)
    subjects = outcomes.acknowledged["interactions"]
    found = {s for (s,) in Interaction.select(Interaction.subject).where(Interaction.subject.in_(subjects)).tuples()}
    missing["interactions"] = len(set(subjects) - found)
    # An edit is in the database when its change is in the record's audit trail (a later edit, made knowing
    # it, may have replaced the value since); audit rows are written in the save's own transaction.
    lost = 0
    for beneficiary_id, note in outcomes.acknowledged["edits"]:
        if not AuditLog.select().where((AuditLog.model == "Beneficiary") & (AuditLog.record_id == beneficiary_id)
                                       & (AuditLog.action == "update") & AuditLog.changes.contains(note)).exists():
            lost += 1
    missing["edits"] = lost
    db.close()
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="simulated staff members, each their own account")
    parser.add_argument("--seconds", type=float, default=60, help="how long they work")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (WEB_WORKERS)")
    parser.add_argument("--beneficiaries", type=int, default=2000, help="demo beneficiaries generated first")
    parser.add_argument("--database-url", default="",
                        help="empty: a SQLite file; `postgres`: scripts/postgres.sh's server; or a URL of an empty database")
    parser.add_argument("--no-write", action="store_true", help=f"do not write the results into {RESULTS.name}")
    parser.add_argument("--note", default="", help="a line added to the results (e.g. what else ran on the machine)")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (database, logs)")
    args = parser.parse_args(argv)

    def log(text):
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    folder = Path(tempfile.mkdtemp(prefix="mustafeed-load-"))
    os.environ["INSTANCE_PATH"] = str(folder / "instance")
    os.environ.pop("WEB_WORKERS", None)
    if args.database_url == "postgres":
        url, label = postgres_database(log), "PostgreSQL"
    elif args.database_url:
        url, label = args.database_url, ("PostgreSQL" if args.database_url.startswith("postgres") else "SQLite")
    else:
        url, label = f"sqlite:///{folder / 'load.db'}", "SQLite"
    accounts = prepare(url, args.users, args.beneficiaries, log)

    port, redis_port = free_port(), free_port()
    env = {**os.environ, "INSTANCE_PATH": str(folder / "instance"), "DATABASE_URL": url,
           "WEB_WORKERS": str(args.workers), "HUEY_DB": str(folder / "huey.db"), "SHEETS_SYNC_INTERVAL": "0",
           "PORTAL_BASE_URL": f"http://127.0.0.1:{port}"}
    env.pop("HUEY_REDIS_URL", None)
    server = Server(env, port, args.workers, redis_port, folder)
    outcomes = Outcomes()
    try:
        server.start(log)
        start_line = threading.Barrier(len(accounts) + 1)
        stop_at = [float("inf")]
        staff = [Staff(n, username, role, f"http://127.0.0.1:{port}", outcomes, start_line, stop_at, seed=n)
                 for n, (username, role) in enumerate(accounts, start=1)]
        login_started = time.perf_counter()
        for s in staff:
            s.start()
        start_line.wait()
        log(f"{sum(s.logged_in for s in staff)} of {len(staff)} staff logged in "
            f"({time.perf_counter() - login_started:.1f} s); working for {args.seconds:.0f} s")
        outcomes.times.clear()
        outcomes.errors = [e for e in outcomes.errors if not e.startswith("login")] + \
            [f"login failed: {s.username}" for s in staff if not s.logged_in]
        began = time.monotonic()
        stop_at[0] = began + args.seconds
        for s in staff:
            s.join(timeout=args.seconds + 300)
        elapsed = time.monotonic() - began
    finally:
        server.stop()
    log_text = server.log_path.read_text(errors="replace") if hasattr(server, "log_path") else ""
    tracebacks = log_text.count("Traceback (most recent call last)")
    locked = log_text.count("database is locked")
    missing = verify(url, outcomes)
    if args.database_url == "postgres" and not args.keep:
        import psycopg
        with psycopg.connect(POSTGRES_BASE, autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "mustafeed_load" WITH (FORCE)')

    counted = {k: v for k, v in outcomes.times.items() if k != "login"}
    every = [t for v in counted.values() for t in v]
    total = len(every)
    report = {
        "database": label, "users": args.users, "seconds": round(elapsed, 1), "workers": args.workers,
        "requests": total, "rps": round(total / elapsed, 1) if elapsed else 0,
        "p50_ms": round(percentile(every, 50) * 1000), "p95_ms": round(percentile(every, 95) * 1000),
        "errors": len(outcomes.errors), "refused_stale": outcomes.refused_stale,
        "acknowledged": {k: len(v) for k, v in outcomes.acknowledged.items()}, "missing": missing,
        "server_tracebacks": tracebacks, "database_locked_in_log": locked,
        "per_kind": {k: {"n": len(v), "p50_ms": round(percentile(v, 50) * 1000),
                         "p95_ms": round(percentile(v, 95) * 1000)} for k, v in sorted(counted.items())},
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    for e in sorted(set(outcomes.errors))[:20]:
        print("error:", e)
    if not args.no_write:
        write_results(report, args, outcomes)
    if args.keep:
        log(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    ok = not outcomes.errors and not any(missing.values()) and not tracebacks
    return 0 if ok else 1


def write_results(report: dict, args, outcomes: Outcomes) -> None:
    """Put this run's table under its own heading in bench/RESULTS.md (replacing an earlier run's)."""
    command = (f"bench/load_bench.py --users {args.users} --seconds {args.seconds:g} --workers {args.workers} "
               f"--beneficiaries {args.beneficiaries}" + (f" --database-url {args.database_url}"
                                                          if args.database_url else ""))
    heading = HEADING.format(database=report["database"])
    lines = [heading, "",
             f"`{command}` on {datetime.date.today().isoformat()}: gunicorn with {report['workers']} workers × 8 "
             f"threads and the huey consumer, as `make run WEB_WORKERS={report['workers']}` starts them, with a "
             f"real redis-server (scripts/redis.sh) for the rate limits and the queue, on {report['database']}, "
             f"{args.beneficiaries:,} demo beneficiaries plus their requests and visits. {report['users']} "
             f"simulated staff (each their own account: managers, researchers, volunteers) for "
             f"{report['seconds']:g} s, no think time, every write through its form and CSRF token. "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; the client threads share the cores with the server.", ""]
    if args.note:
        lines += [args.note, ""]
    lines += ["| page | requests | p50 | p95 |", "|---|---|---|---|"]
    for kind, row in report["per_kind"].items():
        lines.append(f"| {kind}{' (write)' if kind in WRITES else ''} | {row['n']:,} | {row['p50_ms']} ms | "
                     f"{row['p95_ms']} ms |")
    lines.append(f"| **all** | **{report['requests']:,}** | **{report['p50_ms']} ms** | **{report['p95_ms']} ms** |")
    ack = report["acknowledged"]
    lines += ["",
              f"- **{report['rps']} requests per second**; errors: **{report['errors']}** (any status other than "
              "the page's own or a redirect after a save, a failed connection, a form refused for another reason "
              f"than a concurrent edit); server tracebacks in the log: {report['server_tracebacks']}; "
              f"\"database is locked\" in the log: {report['database_locked_in_log']}.",
              f"- Writes acknowledged: {ack.get('beneficiaries', 0)} beneficiaries, {ack.get('requests', 0)} "
              f"requests, {ack.get('interactions', 0)} interactions, {ack.get('edits', 0)} edits; found in the "
              f"database afterwards: all but {sum(report['missing'].values())} "
              f"({', '.join(f'{k}: {v}' for k, v in report['missing'].items())}).",
              f"- Edits refused because another person saved the same beneficiary first (optimistic "
              f"concurrency; the person sees who changed what and keeps their values): {report['refused_stale']}. "
              "Half the edits aim at the first three rows of the list on purpose, so these happen.",
              "- A request's time is the client's wall time, queueing in gunicorn included: with 50 people and no "
              "think time the two cores are saturated, so the latency is mostly waiting for a free core."]
    block = "\n".join(lines) + "\n"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if heading in text:
        before, rest = text.split(heading, 1)
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = before + block + (after.lstrip("\n") and "\n" + after.lstrip("\n"))
    else:
        text = text.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
