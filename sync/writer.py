"""The small interface between the sync engine and where the mirror is written (Google Sheets, a file)."""
from dataclasses import dataclass, field

from services.errors import N_, DomainError


class SyncError(DomainError):
    """The mirror could not be brought up to date; the message says why and what to change."""


class SyncRefused(SyncError):
    """The mirror would break a limit of its target; nothing was written."""


class SyncBusy(SyncError):
    """Another sync is running."""


class TargetUnavailable(SyncError):
    """The spreadsheet could not be reached or refused a request, after the allowed retries."""


@dataclass
class TabInfo:
    """A tab as the target holds it now."""

    title: str
    sheet_id: int
    rows: int
    cols: int
    header: list = field(default_factory=list)


@dataclass
class Snapshot:
    """The target's tabs by title, and the cells every tab of the spreadsheet uses."""

    tabs: dict[str, TabInfo] = field(default_factory=dict)
    total_cells: int = 0


@dataclass
class TabLayout:
    """What one tab must look like after the write."""

    key: str
    title: str
    width: int
    grid_rows: int
    grid_cols: int
    full: bool                      # rewritten whole: stale rows are cut off the grid
    filtered: bool = True           # a filter on the header row (not on the summary)
    data_rows: int = 0
    sheet_id: int | None = None     # None: the tab is created


@dataclass
class Block:
    """Consecutive rows written from a sheet row (1 is the header)."""

    title: str
    start_row: int
    rows: list
    width: int


@dataclass
class WriteStats:
    write_requests: int = 0
    read_requests: int = 0
    bytes_sent: int = 0
    retries: int = 0


class Writer:
    """Where the mirror goes. Subclasses: sync.gsheets.GoogleSheetsWriter, sync.xlsx.XlsxWriter."""

    target = "none"
    # An incremental writer patches rows in place; others get the whole content every time.
    incremental = False
    max_cells: int | None = None
    max_rows: int | None = None
    max_payload = 2_000_000

    def __init__(self):
        self.stats = WriteStats()

    def snapshot(self, titles: list[str]) -> Snapshot:
        """Return the tabs the target holds now (only the given titles' headers are read)."""
        return Snapshot()

    def prepare(self, layouts: list[TabLayout], snapshot: Snapshot) -> dict[str, int]:
        """Create, resize and format the tabs in one request; return {title: sheet id}."""
        return {layout.title: 0 for layout in layouts}

    def write(self, blocks: list[Block], progress=None) -> None:
        """Write the blocks' cells exactly as given (text stays text, numbers stay numbers)."""
        raise NotImplementedError

    def estimate_requests(self, blocks: list[Block]) -> int:
        """Return how many write requests write() would use for the blocks."""
        return 1 if blocks else 0

    def finish(self) -> None:
        """Make the written content visible (a file is renamed into place)."""


MESSAGES = {
    "cells": N_("The mirror needs %(cells)s cells but a spreadsheet holds at most %(limit)s. Nothing was "
                "written. Mirror fewer requests with the setting SHEETS_REQUESTS_SINCE (for example "
                "SHEETS_REQUESTS_SINCE=2025-01-01) or delete other tabs of the spreadsheet."),
    "rows": N_("The tab %(tab)s needs %(rows)s rows but the file holds at most %(limit)s per tab. Nothing was "
               "written. Mirror fewer requests with the setting SHEETS_REQUESTS_SINCE."),
    "cell_length": N_("%(count)s cells of the tab %(tab)s are longer than %(limit)s characters, the most a "
                      "spreadsheet cell holds. Nothing was written."),
    "busy": N_("Another board mirror sync is running; try again when it has finished."),
}
