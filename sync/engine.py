"""The sync engine: compare the database with what the mirror last received, plan the writes, keep the state.

Crash safety: before writing, the engine commits an intent (the sheet rows it is about to touch
and the highest row it may reach); the record-to-row map is committed only after every write
succeeded. A run killed at any point leaves an intent behind, and the next run rewrites or blanks
exactly those rows, so the sheet converges to the mirror with no duplicate, missing or stale row.
"""
import datetime
import json
from dataclasses import dataclass, field

from models import SyncRow, SyncRun, SyncTab, db, utcnow
from services import audit
from services.errors import N_

from . import rows as R
from .source import Source
from .writer import MESSAGES, Block, Snapshot, SyncRefused, TabLayout, Writer

# Candidates are looked up from a little before the last run started: clocks of the
# web and worker processes may differ slightly.
CLOCK_MARGIN = datetime.timedelta(seconds=5)


def headroom(data_rows: int) -> int:
    """Return the empty rows kept below the data, so small additions need no resize request."""
    return max(50, data_rows // 100)


@dataclass
class TabPlan:
    key: str
    title: str
    header: list
    full: bool
    count: int                                   # data rows after the write
    writes: dict = field(default_factory=dict)   # sheet row -> cells
    mapping: dict = field(default_factory=dict)  # record id -> (sheet row, digest), changed entries
    removed: set = field(default_factory=set)    # record ids no longer mirrored
    warnings: list = field(default_factory=list)
    filtered: bool = True


@dataclass
class Report:
    """What a run did (or, dry, would do)."""

    mode: str
    target: str
    rows: dict = field(default_factory=dict)     # tab key -> data rows written
    tab_rows: dict = field(default_factory=dict)  # tab key -> data rows the tab holds
    write_requests: int = 0
    read_requests: int = 0
    bytes_sent: int = 0
    cells: int = 0
    warnings: list = field(default_factory=list)  # [msgid, params]
    run_id: int | None = None

    def summary_line(self) -> str:
        """Return one line for logs and non-interactive terminals."""
        tabs = ", ".join(f"{k} {n}/{self.tab_rows.get(k, n)}" for k, n in self.rows.items())
        return (f"{self.mode} sync to {self.target}: rows written {tabs}; {self.write_requests} write and "
                f"{self.read_requests} read requests, {self.bytes_sent} bytes")


def _state(key: str) -> SyncTab:
    tab, _ = SyncTab.get_or_create(key=key)
    return tab


def _row_map(key: str) -> dict[int, tuple[int, str]]:
    return {rid: (row, dig) for rid, row, dig in
            SyncRow.select(SyncRow.record_id, SyncRow.sheet_row, SyncRow.digest)
            .where(SyncRow.table == key).tuples()}


class Engine:
    """One sync run against one writer."""

    def __init__(self, writer: Writer, ctx: R.Context, requests_since: datetime.date | None = None,
                 progress=None):
        self.writer = writer
        self.ctx = ctx
        self.source = Source(ctx, requests_since)
        self.progress = progress or (lambda *a: None)

    # ---- planning --------------------------------------------------------------------
    def _full_plan(self, table: R.Table, header: list) -> TabPlan:
        records = self.source.records(table.key)
        plan = TabPlan(table.key, R.title(table, self.ctx), header, True, len(records))
        plan.writes[1] = header
        for index, rid in enumerate(sorted(records), start=2):
            cells = R.build_row(table, records[rid], self.ctx)
            plan.writes[index] = cells
            plan.mapping[rid] = (index, R.digest(cells))
        return plan

    def _incremental_plan(self, table: R.Table, header: list, state: SyncTab) -> TabPlan:
        key = table.key
        current = _row_map(key)
        plan = TabPlan(key, R.title(table, self.ctx), header, False, state.row_count)
        eligible = self.source.ids(key)
        since = (state.synced_from or datetime.datetime.min + CLOCK_MARGIN) - CLOCK_MARGIN
        last_day = R.local_date(state.synced_from) if state.synced_from else None
        changed = self.source.changed_ids(key, since, last_day)
        candidates = set(eligible) if changed is None else (changed & eligible) | (eligible - current.keys())
        owner = {row: rid for rid, (row, _d) in current.items()}
        # Rows an unfinished run may have written are rewritten whatever their digest says.
        forced = set(json.loads(state.pending_rows or "[]"))
        forced_ids = {owner[r] for r in forced if r in owner and owner[r] in eligible}
        candidates |= forced_ids
        records = self.source.records(key, candidates)

        removed = set(current) - eligible
        removed |= {rid for rid in candidates if rid in current and rid not in records}
        new_ids = sorted(rid for rid in records if rid not in current)
        owner = {row: rid for row, rid in owner.items() if rid not in removed}
        placed: dict[int, int] = {}                       # record id -> new sheet row
        # New records fill the holes first; rows from the end move into the remaining ones.
        free = sorted(current[rid][0] for rid in removed)
        while free and new_ids:
            row = free.pop(0)
            rid = new_ids.pop(0)
            owner[row] = rid
            placed[rid] = row
        free_set = set(free)
        last = state.row_count + 1                        # the last data row (1 is the header)
        for hole in free:
            while last in free_set:
                free_set.discard(last)
                last -= 1
            if hole > last:
                break
            mover = owner.pop(last)
            owner[hole] = mover
            placed[mover] = hole
            free_set.discard(hole)
            last -= 1
        while last in free_set:
            free_set.discard(last)
            last -= 1
        for rid in new_ids:
            last += 1
            owner[last] = rid
            placed[rid] = last
        plan.count = last - 1
        plan.removed = removed

        missing = [rid for rid in placed if rid not in records]
        if missing:
            records.update(self.source.records(key, missing))
        for rid, rec in records.items():
            cells = R.build_row(table, rec, self.ctx)
            dig = R.digest(cells)
            row = placed.get(rid, current.get(rid, (None, None))[0])
            if row is None:
                continue
            if rid in placed or rid in forced_ids or current.get(rid, (None, ""))[1] != dig:
                plan.writes[row] = cells
                plan.mapping[rid] = (row, dig)
        # Below the data: what the old rows held, and whatever an unfinished run may have reached.
        blank = [""] * len(header)
        reach = max(state.high_water, state.row_count + 1, *(forced or [0]))
        for row in range(plan.count + 2, reach + 1):
            plan.writes[row] = blank
        return plan

    def _summary_plan(self, state: SyncTab, synced_at: datetime.datetime) -> TabPlan:
        rows = R.summary_rows(self.source.summary(synced_at), self.ctx)
        # Rewritten whole every run, but in place: no resize request unless it grew.
        plan = TabPlan(R.SUMMARY_KEY, self.ctx._(R.SUMMARY_TITLE), rows[0], not self.writer.incremental,
                       len(rows) - 1, filtered=False)
        for index, cells in enumerate(rows, start=1):
            plan.writes[index] = cells
        reach = max(state.high_water, state.row_count + 1) if self.writer.incremental else 0
        for row in range(len(rows) + 1, reach + 1):
            plan.writes[row] = ["", ""]
        return plan

    def plan(self, snapshot: Snapshot, full: bool, synced_at) -> list[TabPlan]:
        """Return one plan per tab: full where asked or where the tab cannot be trusted."""
        plans = []
        for table in R.TABLES:
            header = R.header(table, self.ctx)
            state = _state(table.key)
            title = R.title(table, self.ctx)
            tab = snapshot.tabs.get(title)
            warnings = []
            if tab is None and state.sheet_id is not None and self.writer.incremental:
                warnings.append([N_TAB_RECREATED, {"tab": title}])
            elif tab is not None:
                extra = [h for h in tab.header[len(header):] if str(h).strip()]
                if extra:
                    warnings.append([N_EXTRA_COLUMNS, {"tab": title, "columns": ", ".join(map(str, extra))}])
                if tab.header[:len(header)] != header and state.row_count:
                    warnings.append([N_HEADER_CHANGED, {"tab": title}])
            trusted = (not full and self.writer.incremental and not state.needs_full and tab is not None
                       and tab.sheet_id == state.sheet_id and tab.header[:len(header)] == header)
            plan = self._incremental_plan(table, header, state) if trusted else self._full_plan(table, header)
            plan.warnings = warnings
            plans.append(plan)
            self.progress("plan", len(plans), len(R.TABLES) + 1)
        plans.append(self._summary_plan(_state(R.SUMMARY_KEY), synced_at))
        return plans

    # ---- layout and limits ---------------------------------------------------------------
    def layouts(self, plans: list[TabPlan], snapshot: Snapshot) -> list[TabLayout]:
        """Return the grid each tab needs, refusing before any write what would break a limit."""
        layouts = []
        ours = 0
        for plan in plans:
            width = len(plan.header)
            tab = snapshot.tabs.get(plan.title)
            needed = max(plan.writes, default=1)
            if plan.full or tab is None:
                grid_rows = max(plan.count + 1, 2) + headroom(plan.count)
            else:
                grid_rows = tab.rows if tab.rows >= needed else needed + headroom(plan.count)
            grid_cols = max(width, tab.cols if tab else 0)
            full = plan.full or tab is None
            if self.writer.max_rows and plan.count + 1 > self.writer.max_rows:
                raise SyncRefused(MESSAGES["rows"], tab=plan.title, rows=plan.count + 1, limit=self.writer.max_rows)
            too_long = R.too_long_cells(plan.writes.values())
            if too_long:
                raise SyncRefused(MESSAGES["cell_length"], tab=plan.title, count=too_long, limit=R.MAX_CELL_CHARS)
            layouts.append(TabLayout(plan.key, plan.title, width, grid_rows, grid_cols, full, plan.filtered,
                                     plan.count, tab.sheet_id if tab else None))
            if tab is not None:
                ours += tab.rows * tab.cols
        cells = snapshot.total_cells - ours + sum(l.grid_rows * l.grid_cols for l in layouts)
        if self.writer.max_cells and cells > self.writer.max_cells:
            raise SyncRefused(MESSAGES["cells"], cells=cells, limit=self.writer.max_cells)
        self.cells = cells
        return layouts

    @staticmethod
    def blocks(plans: list[TabPlan]) -> list[Block]:
        """Return the writes as runs of consecutive rows, tab by tab."""
        out = []
        for plan in plans:
            width = len(plan.header)
            start, run = None, []
            for row in sorted(plan.writes):
                if start is not None and row == start + len(run):
                    run.append(plan.writes[row])
                    continue
                if run:
                    out.append(Block(plan.title, start, run, width))
                start, run = row, [plan.writes[row]]
            if run:
                out.append(Block(plan.title, start, run, width))
        return out

    # ---- the run ----------------------------------------------------------------------
    def run(self, full: bool = False, dry_run: bool = False) -> Report:
        """Bring the mirror up to date (or only report, dry); the run is recorded either way."""
        started = utcnow()
        mode = "dry_run" if dry_run else ("full" if full or not self.writer.incremental else "incremental")
        run = SyncRun.create(started_at=started, mode=mode, target=self.writer.target)
        report = Report(mode, self.writer.target, run_id=run.id)
        try:
            self._run(report, full, dry_run, started)
        except Exception as err:
            self._finish(run, report, err)
            raise
        self._finish(run, report, None)
        return report

    def _run(self, report: Report, full: bool, dry_run: bool, started) -> None:
        titles = [R.title(t, self.ctx) for t in R.TABLES] + [self.ctx._(R.SUMMARY_TITLE)]
        snapshot = self.writer.snapshot(titles)
        plans = self.plan(snapshot, full, started)
        if report.mode == "incremental" and all(p.full for p in plans if p.key != R.SUMMARY_KEY):
            report.mode = "full"
        layouts = self.layouts(plans, snapshot)
        blocks = self.blocks(plans)
        report.cells = self.cells
        for plan in plans:
            report.rows[plan.key] = sum(1 for row in plan.writes if row > 1 and any(c != "" for c in plan.writes[row]))
            report.tab_rows[plan.key] = plan.count
            report.warnings.extend(plan.warnings)
        if dry_run:
            report.write_requests = self.writer.estimate_requests(blocks) + (1 if self._needs_structure(layouts, snapshot) else 0)
            return
        incremental = self.writer.incremental
        if incremental:
            self._commit_intent(plans)
        sheet_ids = self.writer.prepare(layouts, snapshot)
        self.writer.write(blocks, progress=self.progress)
        self.writer.finish()
        if incremental:
            self._commit_state(plans, sheet_ids, started, report)
        else:
            with db.atomic():
                self._audit(report)

    def _needs_structure(self, layouts, snapshot) -> bool:
        return any(l.full or l.sheet_id is None or snapshot.tabs[l.title].rows != l.grid_rows for l in layouts)

    def _commit_intent(self, plans: list[TabPlan]) -> None:
        with db.atomic():
            for plan in plans:
                state = _state(plan.key)
                reach = max(plan.writes, default=0)
                state.high_water = max(state.high_water, reach)
                if plan.full and plan.key != R.SUMMARY_KEY:
                    state.needs_full = True
                else:
                    pending = set(json.loads(state.pending_rows or "[]")) | {r for r in plan.writes if r > 1}
                    state.pending_rows = json.dumps(sorted(pending))
                state.save()

    def _commit_state(self, plans, sheet_ids, started, report) -> None:
        with db.atomic():
            for plan in plans:
                state = _state(plan.key)
                if plan.key != R.SUMMARY_KEY:
                    if plan.full:
                        SyncRow.delete().where(SyncRow.table == plan.key).execute()
                    else:
                        gone = list(plan.removed | set(plan.mapping))
                        for start in range(0, len(gone), 500):
                            SyncRow.delete().where((SyncRow.table == plan.key)
                                                   & SyncRow.record_id.in_(gone[start:start + 500])).execute()
                    now = utcnow()
                    batch = [{"table": plan.key, "record_id": rid, "sheet_row": row, "digest": dig,
                              "created_at": now, "updated_at": now, "created_by": "sync", "updated_by": "sync"}
                             for rid, (row, dig) in plan.mapping.items()]
                    for start in range(0, len(batch), 1000):
                        SyncRow.insert_many(batch[start:start + 1000]).execute()
                state.sheet_id = sheet_ids.get(plan.title, state.sheet_id)
                state.title = plan.title
                state.row_count = plan.count
                state.high_water = plan.count + 1
                state.pending_rows = "[]"
                state.needs_full = False
                state.synced_from = started
                state.save()
            self._audit(report)

    def _audit(self, report: Report) -> None:
        # Data leaving the system is audited like an export.
        audit.record("sheets_sync", model="SyncRun", record_id=report.run_id, details={
            "mode": report.mode, "target": report.target, "rows": report.rows,
            "include_names": self.ctx.include_names})

    def _finish(self, run: SyncRun, report: Report, err) -> None:
        report.write_requests = report.write_requests or self.writer.stats.write_requests
        report.read_requests = self.writer.stats.read_requests
        report.bytes_sent = self.writer.stats.bytes_sent
        run.finished_at = utcnow()
        run.mode = report.mode
        run.ok = err is None
        run.rows = json.dumps(report.rows)
        run.write_requests = report.write_requests
        run.read_requests = report.read_requests
        run.bytes_sent = report.bytes_sent
        run.warnings = json.dumps(report.warnings, ensure_ascii=False)
        if err is not None:
            message = getattr(err, "message", None)
            params = getattr(err, "params", None) or {}
            run.error = json.dumps([message, params] if message else [f"{type(err).__name__}: {err}", {}],
                                   ensure_ascii=False, default=str)
        run.save()


N_TAB_RECREATED = N_("The tab %(tab)s was renamed or deleted in the spreadsheet; it was created again.")
N_EXTRA_COLUMNS = N_("Columns added by hand to the tab %(tab)s were left as they are: %(columns)s.")
N_HEADER_CHANGED = N_("The header of the tab %(tab)s was changed by hand; the tab was written again.")
