"""A local fake of the Google Sheets v4 REST API (and the Drive v3 file metadata), for tests and the benchmark.

A real threaded HTTP server on 127.0.0.1 at a free port holds spreadsheets in memory and logs every
request; real gspread reaches it through SHEETS_API_ENDPOINT. It enforces what the real API
enforces where the mirror depends on it (grid limits, 10 million cells, 50,000 characters per
cell, valueInputOption, atomic batchUpdate) and injects faults: 429 bursts with Retry-After, 500s,
slow answers that time out, dropped connections before or after applying a request, and killing a
process when its k-th request arrives.
"""
import copy
import json
import os
import re
import signal
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MAX_CELLS = 10_000_000
MAX_CELL_CHARS = 50_000


class ApiError(Exception):
    def __init__(self, status, message, reason="badRequest"):
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


def column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def column_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def split_range(a1: str):
    """Return (title, r1, c1, r2, c2) with 0-based inclusive bounds; None means open-ended."""
    if "!" in a1:
        title, cells = a1.rsplit("!", 1)
    else:
        title, cells = a1, ""
    if title.startswith("'") and title.endswith("'"):
        title = title[1:-1].replace("''", "'")
    if not cells:
        return title, None, None, None, None
    m = re.fullmatch(r"([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?", cells)
    if not m:
        raise ApiError(400, f"Unable to parse range: {a1}")
    c1, r1, c2, r2 = m.groups()
    if m.group(0).find(":") < 0:
        c2, r2 = c1, r1
    return (title,
            int(r1) - 1 if r1 else None, column_number(c1) - 1 if c1 else None,
            int(r2) - 1 if r2 else None, column_number(c2) - 1 if c2 else None)


class Sheet:
    def __init__(self, props: dict):
        self.props = props
        self.cells: dict[int, list] = {}       # row index -> values
        self.bold_rows: set[int] = set()
        self.basic_filter = None
        self.filter_views: list[dict] = []

    @property
    def rows(self):
        return self.props["gridProperties"]["rowCount"]

    @property
    def cols(self):
        return self.props["gridProperties"]["columnCount"]

    def values(self) -> list[list]:
        """Return the grid as a board member sees it: trailing empty cells and rows trimmed."""
        if not self.cells:
            return []
        out = []
        for r in range(max(self.cells) + 1):
            row = list(self.cells.get(r, []))
            while row and row[-1] in ("", None):
                row.pop()
            out.append(row)
        while out and not out[-1]:
            out.pop()
        return out


class Spreadsheet:
    def __init__(self, spreadsheet_id, title):
        self.id = spreadsheet_id
        self.title = title
        self.sheets: list[Sheet] = []
        self.next_id = 1

    def by_title(self, title) -> Sheet:
        for sheet in self.sheets:
            if sheet.props["title"] == title:
                return sheet
        raise ApiError(400, f"Unable to parse range: {title}")

    def cells_used(self, sheets=None) -> int:
        return sum(s.rows * s.cols for s in (sheets if sheets is not None else self.sheets))


class FakeSheets:
    """The fake API server. Use as a context manager or call start()/stop()."""

    def __init__(self, keep_bodies: bool = True):
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.log: list[dict] = []
        self.keep_bodies = keep_bodies
        self.lock = threading.RLock()
        self.count = 0
        self.faults: dict[int, str] = {}
        self.throttled = 0
        self.retry_after = None
        self.quota: tuple[int, float] | None = None   # (writes, per seconds)
        self.recent_writes: deque = deque()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    # ---- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- set-up and inspection ------------------------------------------------------------
    def create(self, spreadsheet_id="sheet-1", title="Board"):
        """Create a spreadsheet as Google does: one empty tab "Sheet1" of 1000 x 26."""
        book = Spreadsheet(spreadsheet_id, title)
        book.sheets.append(Sheet({"sheetId": 0, "title": "Sheet1", "index": 0, "sheetType": "GRID",
                                  "gridProperties": {"rowCount": 1000, "columnCount": 26}}))
        self.spreadsheets[spreadsheet_id] = book
        return book

    def book(self, spreadsheet_id="sheet-1") -> Spreadsheet:
        return self.spreadsheets[spreadsheet_id]

    def tab(self, title, spreadsheet_id="sheet-1") -> Sheet:
        return self.book(spreadsheet_id).by_title(title)

    def values(self, title, spreadsheet_id="sheet-1") -> list[list]:
        return self.tab(title, spreadsheet_id).values()

    def titles(self, spreadsheet_id="sheet-1") -> list[str]:
        return [s.props["title"] for s in self.book(spreadsheet_id).sheets]

    def requests(self, kind=None) -> list[dict]:
        return [e for e in self.log if kind is None or e["kind"] == kind]

    def reset_log(self):
        with self.lock:
            self.log.clear()
            self.count = 0

    # ---- faults ------------------------------------------------------------------------
    def fault_at(self, k: int, action: str):
        """Make the k-th request from now fail: drop_before, drop_after, status:NNN, delay:SECONDS, kill:PID."""
        self.faults[self.count + k] = action

    def throttle(self, n: int, retry_after: float | None = None):
        """Answer the next n requests with 429 (optionally with a Retry-After header)."""
        self.throttled, self.retry_after = n, retry_after

    # ---- dispatch --------------------------------------------------------------------------
    def handle(self, method, path, query, body: bytes):
        """Return (status, payload, headers, action); action tells the handler to drop or kill."""
        with self.lock:
            self.count += 1
            n = self.count
            action = self.faults.pop(n, None)
            kind = "read" if method == "GET" else "write"
            entry = {"n": n, "method": method, "path": path, "kind": kind, "bytes": len(body),
                     "query": query, "status": None}
            if self.keep_bodies and body:
                entry["body"] = body
            self.log.append(entry)
            if action == "drop_before":
                entry["status"] = "dropped"
                return None, None, {}, "drop"
            if action and action.startswith("status:"):
                entry["status"] = int(action.split(":")[1])
                return entry["status"], _error(entry["status"], "Injected failure"), {}, None
            if self.throttled:
                self.throttled -= 1
                entry["status"] = 429
                headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
                return 429, _error(429, "Quota exceeded for quota metric 'Write requests'", "rateLimitExceeded"), \
                    headers, None
            if self.quota and kind == "write":
                limit, period = self.quota
                now = time.monotonic()
                while self.recent_writes and now - self.recent_writes[0] >= period:
                    self.recent_writes.popleft()
                if len(self.recent_writes) >= limit:
                    entry["status"] = 429
                    return 429, _error(429, "Quota exceeded", "rateLimitExceeded"), {}, None
                self.recent_writes.append(now)
            try:
                status, payload = 200, self._route(method, path, query, body, entry)
            except ApiError as err:
                status, payload = err.status, _error(err.status, err.message, err.reason)
            entry["status"] = status
        if action and action.startswith("delay:"):
            time.sleep(float(action.split(":")[1]))
        if action == "drop_after":
            return status, payload, {}, "drop"
        if action and action.startswith("kill:"):
            os.kill(int(action.split(":")[1]), signal.SIGKILL)
            return status, payload, {}, "drop"
        return status, payload, {}, None

    def _route(self, method, path, query, body, entry):
        data = json.loads(body) if body else {}
        if path.startswith("/drive/v3/files/"):
            file_id = path.rsplit("/", 1)[1]
            book = self._book(file_id)
            return {"id": book.id, "name": book.title, "createdTime": "2026-01-01T00:00:00.000Z",
                    "modifiedTime": "2026-01-01T00:00:00.000Z"}
        m = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(.*)", path)
        if not m:
            raise ApiError(404, "Not found", "notFound")
        book, rest = self._book(m.group(1)), m.group(2)
        if rest == "" and method == "GET":
            return self._metadata(book)
        if rest == ":batchUpdate" and method == "POST":
            return self._batch_update(book, data.get("requests", []))
        if rest == "/values:batchUpdate" and method == "POST":
            entry["valueInputOption"] = data.get("valueInputOption")
            return self._values_batch_update(book, data)
        if rest == "/values:batchGet" and method == "GET":
            ranges = query.get("ranges", [])
            return {"spreadsheetId": book.id, "valueRanges": [self._get(book, r) for r in ranges]}
        if rest == "/values:batchClear" and method == "POST":
            for rng in data.get("ranges", []):
                self._clear(book, rng)
            return {"spreadsheetId": book.id, "clearedRanges": data.get("ranges", [])}
        vm = re.fullmatch(r"/values/(.+?)(:append|:clear)?", rest)
        if vm:
            rng, verb = unquote(vm.group(1)), vm.group(2)
            option = (query.get("valueInputOption") or [None])[0]
            entry["valueInputOption"] = option
            if verb == ":append":
                return self._append(book, rng, data.get("values", []), option)
            if verb == ":clear":
                self._clear(book, rng)
                return {"spreadsheetId": book.id, "clearedRange": rng}
            if method == "GET":
                return self._get(book, rng)
            if method == "PUT":
                return self._values_batch_update(book, {"valueInputOption": option,
                                                        "data": [{"range": rng, "values": data.get("values", [])}]})
        raise ApiError(404, f"Unknown method {method} {path}", "notFound")

    def _book(self, spreadsheet_id) -> Spreadsheet:
        if spreadsheet_id not in self.spreadsheets:
            raise ApiError(404, "Requested entity was not found.", "notFound")
        return self.spreadsheets[spreadsheet_id]

    def _metadata(self, book):
        sheets = []
        for sheet in book.sheets:
            item = {"properties": copy.deepcopy(sheet.props)}
            if sheet.filter_views:
                item["filterViews"] = copy.deepcopy(sheet.filter_views)
            if sheet.basic_filter:
                item["basicFilter"] = copy.deepcopy(sheet.basic_filter)
            sheets.append(item)
        return {"spreadsheetId": book.id, "properties": {"title": book.title, "locale": "ar_SA",
                                                         "timeZone": "Asia/Riyadh"}, "sheets": sheets}

    # ---- spreadsheets:batchUpdate (all or nothing, as Google applies it) ---------------------
    def _batch_update(self, book, requests_):
        sheets = [Sheet(copy.deepcopy(s.props)) for s in book.sheets]
        for new, old in zip(sheets, book.sheets):
            new.cells, new.bold_rows = old.cells, set(old.bold_rows)
            new.basic_filter, new.filter_views = copy.deepcopy(old.basic_filter), copy.deepcopy(old.filter_views)
        replies = []

        def find(sheet_id):
            for s in sheets:
                if s.props["sheetId"] == sheet_id:
                    return s
            raise ApiError(400, f"No grid with id: {sheet_id}")

        truncate = {}
        for req in requests_:
            (name, spec), = req.items()
            if name == "addSheet":
                props = copy.deepcopy(spec.get("properties", {}))
                title = props.get("title") or f"Sheet{len(sheets) + 1}"
                if any(s.props["title"] == title for s in sheets):
                    raise ApiError(400, f'Invalid requests[{len(replies)}].addSheet: A sheet with the name '
                                        f'"{title}" already exists. Please enter another name.')
                sheet_id = props.get("sheetId")
                if sheet_id is None:
                    sheet_id = book.next_id
                    book.next_id += 1
                if any(s.props["sheetId"] == sheet_id for s in sheets):
                    raise ApiError(400, f"Invalid requests: sheet id {sheet_id} is already in use")
                grid = {"rowCount": 1000, "columnCount": 26, **props.get("gridProperties", {})}
                props.update({"sheetId": sheet_id, "title": title, "index": len(sheets), "sheetType": "GRID",
                              "gridProperties": grid})
                sheets.append(Sheet(props))
                replies.append({"addSheet": {"properties": props}})
            elif name == "deleteSheet":
                sheet = find(spec["sheetId"])
                sheets.remove(sheet)
                replies.append({})
            elif name == "updateSheetProperties":
                sheet = find(spec["properties"]["sheetId"])
                for path in spec["fields"].split(","):
                    _copy_field(spec["properties"], sheet.props, path.strip().split("."))
                truncate[sheet.props["sheetId"]] = sheet
                replies.append({})
            elif name == "appendDimension":
                sheet = find(spec["sheetId"])
                key = "rowCount" if spec["dimension"] == "ROWS" else "columnCount"
                sheet.props["gridProperties"][key] += spec["length"]
                replies.append({})
            elif name == "repeatCell":
                rng = spec["range"]
                sheet = find(rng["sheetId"])
                if spec.get("cell", {}).get("userEnteredFormat", {}).get("textFormat", {}).get("bold"):
                    sheet.bold_rows.update(range(rng.get("startRowIndex", 0), rng.get("endRowIndex", sheet.rows)))
                replies.append({})
            elif name == "setBasicFilter":
                sheet = find(spec["filter"]["range"]["sheetId"])
                sheet.basic_filter = copy.deepcopy(spec["filter"])
                replies.append({})
            elif name == "addFilterView":
                view = copy.deepcopy(spec["filter"])
                sheet = find(view["range"]["sheetId"])
                if any(v["filterViewId"] == view.get("filterViewId") for v in sheet.filter_views):
                    raise ApiError(400, f"Duplicate filter view id {view['filterViewId']}")
                sheet.filter_views.append(view)
                replies.append({"addFilterView": {"filter": view}})
            elif name == "updateSpreadsheetProperties":
                replies.append({})
            else:
                raise ApiError(400, f"Unsupported request {name}")
        for sheet in sheets:
            grid = sheet.props["gridProperties"]
            if grid.get("frozenRowCount", 0) >= grid["rowCount"]:
                raise ApiError(400, "You can't freeze all visible rows on the sheet.")
        if book.cells_used(sheets) > MAX_CELLS:
            raise ApiError(400, f"This action would increase the number of cells in the workbook above the "
                                f"limit of {MAX_CELLS} cells.")
        for sheet in truncate.values():
            # Rows and columns cut off the grid lose their cells (a shrink is a delete).
            sheet.cells = {r: v[:sheet.cols] for r, v in sheet.cells.items() if r < sheet.rows}
        book.sheets = sheets
        return {"spreadsheetId": book.id, "replies": replies}

    # ---- values -------------------------------------------------------------------------------
    def _bounds(self, book, a1):
        title, r1, c1, r2, c2 = split_range(a1)
        sheet = book.by_title(title)
        r1 = 0 if r1 is None else r1
        c1 = 0 if c1 is None else c1
        r2 = sheet.rows - 1 if r2 is None else r2
        c2 = sheet.cols - 1 if c2 is None else c2
        return sheet, r1, c1, r2, c2

    def _values_batch_update(self, book, data):
        option = data.get("valueInputOption")
        if option not in ("RAW", "USER_ENTERED"):
            raise ApiError(400, "Invalid valueInputOption: 'valueInputOption' is required")
        plans = []
        for item in data.get("data", []):
            sheet, r1, c1, r2, c2 = self._bounds(book, item["range"])
            values = item.get("values", [])
            last_row = r1 + len(values) - 1
            last_col = c1 + max((len(v) for v in values), default=0) - 1
            if last_row >= sheet.rows or last_col >= sheet.cols:
                raise ApiError(400, f"Range ({item['range']}) exceeds grid limits. Max rows: {sheet.rows}, "
                                    f"max columns: {sheet.cols}")
            if last_row > r2 or last_col > c2:
                raise ApiError(400, f"Requested writing within range [{item['range']}], but tried writing to "
                                    f"row [{last_row + 1}]")
            for row in values:
                for cell in row:
                    if isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
                        raise ApiError(400, f"Your input contains more than the maximum of {MAX_CELL_CHARS} "
                                            "characters in a single cell.")
            plans.append((sheet, r1, c1, values))
        cells = 0
        for sheet, r1, c1, values in plans:
            for offset, row in enumerate(values):
                _put(sheet, r1 + offset, c1, [_entered(v, option) for v in row])
                cells += len(row)
        return {"spreadsheetId": book.id, "totalUpdatedCells": cells, "totalUpdatedRows": sum(
            len(v) for _s, _r, _c, v in plans)}

    def _append(self, book, a1, values, option):
        if option not in ("RAW", "USER_ENTERED"):
            raise ApiError(400, "Invalid valueInputOption: 'valueInputOption' is required")
        sheet = book.by_title(split_range(a1)[0])
        start = max(sheet.cells, default=-1) + 1
        needed = start + len(values)
        if needed > sheet.rows:
            sheet.props["gridProperties"]["rowCount"] = needed      # append grows the grid
        width = max((len(v) for v in values), default=0)
        if width > sheet.cols:
            sheet.props["gridProperties"]["columnCount"] = width
        if book.cells_used() > MAX_CELLS:
            raise ApiError(400, f"This action would increase the number of cells in the workbook above the "
                                f"limit of {MAX_CELLS} cells.")
        for offset, row in enumerate(values):
            _put(sheet, start + offset, 0, [_entered(v, option) for v in row])
        return {"spreadsheetId": book.id, "updates": {"updatedRows": len(values)}}

    def _get(self, book, a1):
        sheet, r1, c1, r2, c2 = self._bounds(book, a1)
        rows = []
        for r in range(r1, min(r2, max(sheet.cells, default=-1)) + 1):
            row = [_formatted(v) for v in sheet.cells.get(r, [])[c1:c2 + 1]]
            while row and row[-1] == "":
                row.pop()
            rows.append(row)
        while rows and not rows[-1]:
            rows.pop()
        out = {"range": a1, "majorDimension": "ROWS"}
        if rows:
            out["values"] = rows
        return out

    def _clear(self, book, a1):
        sheet, r1, c1, r2, c2 = self._bounds(book, a1)
        for r in range(r1, min(r2, max(sheet.cells, default=-1)) + 1):
            if r in sheet.cells:
                _put(sheet, r, c1, [""] * (min(c2 + 1, len(sheet.cells[r])) - c1))


class Formula(str):
    """A cell the API would evaluate (USER_ENTERED text starting with '=')."""


def _entered(value, option):
    if value is None:
        return ""
    if option == "RAW" or not isinstance(value, str):
        return value
    # USER_ENTERED parses text as if typed: formulas run and numbers lose leading zeros.
    if value.startswith("="):
        return Formula(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value) if "." in value else int(value)
    return value


def _formatted(value):
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _put(sheet, r, c, values):
    row = sheet.cells.setdefault(r, [])
    if len(row) < c + len(values):
        row.extend([""] * (c + len(values) - len(row)))
    row[c:c + len(values)] = values
    if not any(v != "" for v in row):
        del sheet.cells[r]


def _copy_field(src, dst, path):
    if len(path) == 1:
        if path[0] in src:
            dst[path[0]] = copy.deepcopy(src[path[0]])
        else:
            dst.pop(path[0], None)
        return
    _copy_field(src.get(path[0], {}), dst.setdefault(path[0], {}), path[1:])


def _error(status, message, reason="badRequest"):
    names = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
             503: "UNAVAILABLE"}
    return {"error": {"code": status, "message": message, "status": names.get(status, "UNKNOWN"),
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


def _handler(fake: FakeSheets):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            # Headers and body go out as two writes: without this, Nagle holds the body back
            # until the client's delayed ACK, 40 ms per request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            status, payload, headers, action = fake.handle(self.command, unquote(parts.path), query, body)
            if action == "drop":
                # No answer at all: the client sees the connection die (a crash or a network cut).
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


# ---- helpers for the sync tests: data, and the mirror a board member must see ----------------------
def national_id(n: int) -> str:
    """Return the n-th valid national ID (10 digits, leading 1, Luhn check digit)."""
    from stdnum import luhn
    partial = f"1{n:08d}"
    return partial + luhn.calc_check_digit(partial)


def trim(row: list) -> list:
    """Drop trailing empty cells, as the API does when reading a row back."""
    row = list(row)
    while row and row[-1] in ("", None):
        row.pop()
    return row


def expected_tabs(ctx, requests_since=None) -> dict[str, list[list]]:
    """Return {tab title: data rows} the mirror must hold, built straight from the database."""
    from sync import rows as R
    from sync.source import Source
    source = Source(ctx, requests_since)
    return {R.title(t, ctx): [trim(R.build_row(t, rec, ctx)) for rec in source.records(t.key).values()]
            for t in R.TABLES}


def assert_exact_mirror(fake: "FakeSheets", ctx, spreadsheet_id="sheet-1", requests_since=None) -> None:
    """Each tab holds the header, then every record exactly once, no gap and nothing stale below."""
    from collections import Counter

    from sync import rows as R
    expected = expected_tabs(ctx, requests_since)
    for table in R.TABLES:
        title = R.title(table, ctx)
        values = fake.values(title, spreadsheet_id)
        assert values[0] == trim(R.header(table, ctx)), title
        data = values[1:]
        assert all(data), f"{title}: an empty row inside the data"
        assert len(data) == len(expected[title]), f"{title}: {len(data)} rows, expected {len(expected[title])}"
        assert Counter(map(repr, data)) == Counter(map(repr, expected[title])), title
        grid = fake.tab(title, spreadsheet_id)
        assert max(grid.cells) == len(data), f"{title}: cells below the data"
