"""The Google Sheets writer: the only module that imports gspread.

gspread's own BackOffHTTPClient never gives up on a persistent 429 (its cap check always
passes), so requests go through MirrorHTTPClient: it paces writes and reads under Google's
per-minute quotas, retries 429, 5xx and timeouts with truncated exponential backoff honouring
Retry-After a bounded number of times, counts requests and bytes, and sends every request to
SHEETS_API_ENDPOINT when that is set (as Google's emulators work: no credentials needed).
"""
import collections
import json
import random
import threading
import time
import zlib
from http import HTTPStatus

import gspread
import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.utils import rowcol_to_a1

from services.errors import N_

from .writer import Block, Snapshot, TabInfo, TabLayout, TargetUnavailable, Writer, WriteStats

GOOGLE_PREFIXES = ("https://sheets.googleapis.com", "https://www.googleapis.com")
VALUES_BATCH_UPDATE = "https://sheets.googleapis.com/v4/spreadsheets/%s/values:batchUpdate"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
RETRYABLE = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS, 500, 502, 503, 504}

MSG_UNAVAILABLE = N_("Google Sheets did not accept the request after %(attempts)s attempts (%(reason)s). "
                     "Nothing was lost: the next sync starts where this one stopped.")
MSG_REFUSED = N_("Google Sheets refused the request: %(reason)s. Check SHEETS_SPREADSHEET_ID and that the "
                 "spreadsheet is shared with the service account as an editor.")


class Pacer:
    """At most `limit` calls in any window of `period` seconds: wait before the next one if needed."""

    def __init__(self, limit: int, period: float = 60.0, clock=time.monotonic, sleep=time.sleep):
        self.limit, self.period = limit, period
        self.clock, self.sleep = clock, sleep
        self.calls: collections.deque = collections.deque()
        self.waited = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            while True:
                now = self.clock()
                while self.calls and now - self.calls[0] >= self.period:
                    self.calls.popleft()
                if len(self.calls) < self.limit:
                    self.calls.append(now)
                    return
                pause = self.period - (now - self.calls[0])
                self.waited += pause
                self.sleep(pause)


class MirrorHTTPClient(HTTPClient):
    """gspread's HTTP client with endpoint override, pacing, bounded retries and counters."""

    def __init__(self, auth, session=None):
        super().__init__(auth, session)
        self.endpoint: str | None = None
        self.max_retries = 5
        self.backoff_base = 1.0
        self.backoff_cap = 64.0
        self.sleep = time.sleep
        self.writes = Pacer(60)
        self.reads = Pacer(60)
        self.stats = WriteStats()

    def configure(self, *, endpoint=None, max_retries=5, backoff_base=1.0, backoff_cap=64.0,
                  writes_per_minute=60, reads_per_minute=60, timeout=60.0, sleep=time.sleep) -> None:
        """Set where requests go and how patiently they are retried."""
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.max_retries, self.backoff_base, self.backoff_cap = max_retries, backoff_base, backoff_cap
        self.sleep = sleep
        self.writes = Pacer(writes_per_minute, sleep=sleep)
        self.reads = Pacer(reads_per_minute, sleep=sleep)
        self.set_timeout(timeout)

    def _url(self, url: str) -> str:
        if self.endpoint:
            for prefix in GOOGLE_PREFIXES:
                if url.startswith(prefix):
                    return self.endpoint + url[len(prefix):]
        return url

    def _delay(self, attempt: int, response) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after:
            try:
                return min(float(retry_after), 10 * self.backoff_cap)
            except ValueError:
                pass
        # Truncated exponential backoff with jitter, as Google's quota guide recommends.
        return min(self.backoff_cap, self.backoff_base * (2 ** attempt)) + random.uniform(0, self.backoff_base)

    def request(self, method, endpoint, params=None, data=None, json=None, files=None, headers=None,
                retry_ambiguous: bool = True):
        """Send one request; retry throttling, server errors and timeouts a bounded number of times.

        retry_ambiguous=False: a request that may have been applied before failing (5xx, timeout)
        is not sent again (it is not idempotent); the next sync re-reads the spreadsheet instead.
        """
        url = self._url(endpoint)
        write = method.lower() != "get"
        response, failure, attempts = None, None, 0
        for attempt in range(self.max_retries + 1):
            attempts = attempt + 1
            (self.writes if write else self.reads).wait()
            if write:
                self.stats.write_requests += 1
                self.stats.bytes_sent += len(data) if data else len(json_dumps(json)) if json else 0
            else:
                self.stats.read_requests += 1
            if attempt:
                self.stats.retries += 1
            try:
                response = self.session.request(method=method, url=url, json=json, params=params, data=data,
                                                files=files, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as err:
                response, failure = None, err
                if not retry_ambiguous:
                    break
            else:
                if response.ok:
                    return response
                failure = APIError(response)
                if response.status_code not in RETRYABLE:
                    raise TargetUnavailable(MSG_REFUSED, reason=_reason(failure)) from failure
                if not retry_ambiguous and response.status_code != HTTPStatus.TOO_MANY_REQUESTS:
                    break
            if attempt < self.max_retries:
                self.sleep(self._delay(attempt, response))
        error = TargetUnavailable(MSG_UNAVAILABLE, attempts=attempts, reason=_reason(failure))
        # A request cut off by a timeout, a dropped connection or a 5xx may have been applied.
        error.ambiguous = not (isinstance(failure, APIError) and failure.code == HTTPStatus.TOO_MANY_REQUESTS)
        raise error from failure


def _reason(failure) -> str:
    if isinstance(failure, APIError):
        return f"HTTP {failure.code}: {failure.error.get('message', '')}".strip()
    return type(failure).__name__ if failure is not None else "?"


def json_dumps(body) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def quote_title(title: str) -> str:
    """Return a tab title quoted for A1 notation."""
    return "'" + title.replace("'", "''") + "'"


def a1_range(title: str, start_row: int, rows: int, width: int) -> str:
    """Return 'Title'!A{start}:{last column}{end}."""
    return f"{quote_title(title)}!A{start_row}:{rowcol_to_a1(start_row + rows - 1, width)}"


def make_client(credentials_file: str | None, endpoint: str | None) -> gspread.Client:
    """Return a gspread client: emulator endpoint without credentials, else the service account."""
    if endpoint:
        client = gspread.Client(None, session=requests.Session(), http_client=MirrorHTTPClient)
    else:
        from google.oauth2.service_account import Credentials
        creds = Credentials.from_service_account_file(credentials_file, scopes=SCOPES)
        client = gspread.Client(creds, http_client=MirrorHTTPClient)
    return client


class GoogleSheetsWriter(Writer):
    """Writes the mirror into one Google spreadsheet with as few requests as the payload limit allows."""

    target = "sheets"
    incremental = True
    max_cells = 10_000_000

    def __init__(self, spreadsheet_id: str, credentials_file: str | None = None, endpoint: str | None = None,
                 max_payload: int = 2_000_000, **http_options):
        super().__init__()
        self.spreadsheet_id = spreadsheet_id
        self.max_payload = max_payload
        self.client = make_client(credentials_file, endpoint)
        self.http: MirrorHTTPClient = self.client.http_client
        self.http.configure(endpoint=endpoint, **http_options)
        self.stats = self.http.stats

    # ---- reading what is there -------------------------------------------------------------
    def snapshot(self, titles: list[str]) -> Snapshot:
        meta = self.http.fetch_sheet_metadata(self.spreadsheet_id, params={
            "includeGridData": "false",
            "fields": "sheets(properties(sheetId,title,index,gridProperties),filterViews(filterViewId))"})
        snap = Snapshot()
        self._filter_views = {}
        for sheet in meta.get("sheets", []):
            props = sheet["properties"]
            grid = props.get("gridProperties", {})
            rows, cols = grid.get("rowCount", 0), grid.get("columnCount", 0)
            snap.total_cells += rows * cols
            snap.tabs[props["title"]] = TabInfo(props["title"], props["sheetId"], rows, cols)
            self._filter_views[props["sheetId"]] = {f["filterViewId"] for f in sheet.get("filterViews", [])}
        self._titles = titles
        present = [t for t in titles if t in snap.tabs]
        if present:
            values = self.http.values_batch_get(self.spreadsheet_id, [f"{quote_title(t)}!1:1" for t in present])
            for title, vr in zip(present, values.get("valueRanges", [])):
                snap.tabs[title].header = (vr.get("values") or [[]])[0]
        self._snapshot = snap
        return snap

    # ---- structure and format: one spreadsheets:batchUpdate -----------------------------------
    def _new_sheet_id(self, title: str, taken: set) -> int:
        sheet_id = zlib.crc32(title.encode()) & 0x3FFFFFFF
        while sheet_id in taken or sheet_id == 0:
            sheet_id = (sheet_id + 1) & 0x3FFFFFFF
        taken.add(sheet_id)
        return sheet_id

    def prepare(self, layouts: list[TabLayout], snapshot: Snapshot) -> dict[str, int]:
        attempt = 0
        while True:
            requests_, ids = self._structure(layouts, snapshot)
            if not requests_:
                return ids
            try:
                # Not idempotent (addSheet twice fails): never resent blindly after an ambiguous failure.
                self.http.request("post", f"https://sheets.googleapis.com/v4/spreadsheets/{self.spreadsheet_id}"
                                  ":batchUpdate", data=json_dumps({"requests": requests_}),
                                  headers={"Content-Type": "application/json; charset=utf-8"}, retry_ambiguous=False)
                return ids
            except TargetUnavailable as err:
                if not getattr(err, "ambiguous", False) or attempt >= self.http.max_retries:
                    raise
            self.http.sleep(self.http._delay(attempt, None))
            attempt += 1
            # It may have been applied: look again, then send only what is still missing.
            snapshot = self.snapshot(self._titles)

    def _structure(self, layouts: list[TabLayout], snapshot: Snapshot) -> tuple[list, dict]:
        """Return the requests that create, resize and format the tabs, and {title: sheet id}."""
        requests_, ids = [], {}
        taken = {t.sheet_id for t in snapshot.tabs.values()}
        for layout in layouts:
            tab = snapshot.tabs.get(layout.title)
            grid = {"rowCount": layout.grid_rows, "columnCount": layout.grid_cols, "frozenRowCount": 1}
            if tab is None:
                sheet_id = self._new_sheet_id(layout.title, taken)
                requests_.append({"addSheet": {"properties": {
                    "sheetId": sheet_id, "title": layout.title, "rightToLeft": True, "gridProperties": grid}}})
            else:
                sheet_id = tab.sheet_id
                if layout.full:
                    # Cut every old row off the grid, then add empty rows back as headroom.
                    data_grid = max(layout.data_rows + 1, 2)
                    requests_.append(_sheet_properties(sheet_id, {**grid, "rowCount": data_grid}))
                    if layout.grid_rows > data_grid:
                        requests_.append(_append(sheet_id, "ROWS", layout.grid_rows - data_grid))
                elif layout.grid_rows > tab.rows:
                    requests_.append(_append(sheet_id, "ROWS", layout.grid_rows - tab.rows))
                if not layout.full and layout.grid_cols > tab.cols:
                    requests_.append(_append(sheet_id, "COLUMNS", layout.grid_cols - tab.cols))
            ids[layout.title] = sheet_id
            if tab is None or layout.full:
                requests_.extend(self._format(sheet_id, layout))
        return requests_, ids

    def _format(self, sheet_id: int, layout: TabLayout) -> list[dict]:
        header = {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1,
                  "startColumnIndex": 0, "endColumnIndex": layout.width}
        out = [
            {"updateSheetProperties": {"properties": {"sheetId": sheet_id, "rightToLeft": True,
                                                      "gridProperties": {"frozenRowCount": 1}},
                                       "fields": "rightToLeft,gridProperties.frozenRowCount"}},
            {"repeatCell": {"range": header, "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                            "fields": "userEnteredFormat.textFormat.bold"}},
        ]
        if layout.filtered:
            columns = {"sheetId": sheet_id, "startRowIndex": 0, "startColumnIndex": 0,
                       "endColumnIndex": layout.width}
            out.append({"setBasicFilter": {"filter": {"range": columns}}})
            view_id = sheet_id + 1
            if view_id not in getattr(self, "_filter_views", {}).get(sheet_id, set()):
                out.append({"addFilterView": {"filter": {"filterViewId": view_id, "title": layout.title,
                                                         "range": columns}}})
        return out

    # ---- values: values:batchUpdate bodies of at most max_payload bytes ---------------------------
    def _bodies(self, blocks: list[Block]):
        """Yield request bodies (bytes) packing the blocks' rows, all tabs together."""
        head, tail = b'{"valueInputOption":"RAW","data":[', b"]}"
        parts, size = [], len(head) + len(tail)
        for block in blocks:
            encoded = [json_dumps(row) for row in block.rows]
            start = 0
            while start < len(encoded):
                prefix_len = 80 + len(block.title.encode()) * 2   # the range's JSON around the rows
                room = self.max_payload - size - prefix_len
                end, used = start, 0
                while end < len(encoded) and used + len(encoded[end]) + 1 <= room:
                    used += len(encoded[end]) + 1
                    end += 1
                if end == start:
                    if parts:
                        yield head + b",".join(parts) + tail
                        parts, size = [], len(head) + len(tail)
                        continue
                    end = start + 1   # a single row larger than the payload goes alone
                rng = a1_range(block.title, block.start_row + start, end - start, block.width)
                part = (b'{"range":' + json_dumps(rng) + b',"majorDimension":"ROWS","values":['
                        + b",".join(encoded[start:end]) + b"]}")
                parts.append(part)
                size += len(part) + 1
                start = end
        if parts:
            yield head + b",".join(parts) + tail

    def estimate_requests(self, blocks: list[Block]) -> int:
        return sum(1 for _ in self._bodies(blocks))

    def write(self, blocks: list[Block], progress=None) -> None:
        bodies = list(self._bodies(blocks))
        total = sum(len(b) for b in bodies)
        done = 0
        for body in bodies:
            self.http.request("post", VALUES_BATCH_UPDATE % self.spreadsheet_id, data=body,
                              headers={"Content-Type": "application/json; charset=utf-8"})
            done += len(body)
            if progress:
                progress("write", done, total)


def _sheet_properties(sheet_id: int, grid: dict) -> dict:
    return {"updateSheetProperties": {
        "properties": {"sheetId": sheet_id, "gridProperties": grid},
        "fields": ",".join(f"gridProperties.{k}" for k in grid)}}


def _append(sheet_id: int, dimension: str, length: int) -> dict:
    return {"appendDimension": {"sheetId": sheet_id, "dimension": dimension, "length": length}}
