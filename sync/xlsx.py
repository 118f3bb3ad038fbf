"""The offline mirror: the same tabs, columns and masking written to instance/board.xlsx with openpyxl."""
import os
import tempfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .writer import Block, Snapshot, TabLayout, Writer


class XlsxWriter(Writer):
    """Writes the whole mirror into one workbook each run, then renames it into place."""

    target = "xlsx"
    incremental = False
    # Excel's row limit per sheet.
    max_rows = 1_048_576

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.workbook = Workbook(write_only=True)
        self.layouts: dict[str, TabLayout] = {}

    def prepare(self, layouts: list[TabLayout], snapshot: Snapshot) -> dict[str, int]:
        self.layouts = {layout.title: layout for layout in layouts}
        return {layout.title: index for index, layout in enumerate(layouts)}

    def write(self, blocks: list[Block], progress=None) -> None:
        bold = Font(bold=True)
        by_title: dict[str, list[Block]] = {}
        for block in blocks:
            by_title.setdefault(block.title, []).append(block)
        for done, (title, parts) in enumerate(by_title.items(), start=1):
            sheet = self.workbook.create_sheet(title=title[:31])
            layout = self.layouts.get(title)
            sheet.sheet_view.rightToLeft = True
            sheet.freeze_panes = "A2"
            width = parts[0].width
            if layout is not None and layout.filtered:
                last = max(b.start_row + len(b.rows) - 1 for b in parts)
                sheet.auto_filter.ref = f"A1:{get_column_letter(width)}{max(last, 1)}"
            for block in sorted(parts, key=lambda b: b.start_row):
                for offset, row in enumerate(block.rows):
                    if block.start_row + offset == 1:
                        row = [_cell(sheet, value, bold) for value in row]
                    else:
                        row = [_cell(sheet, v) if isinstance(v, str) and v.startswith("=") else v for v in row]
                    sheet.append(row)
            self.stats.write_requests += 1
            if progress:
                progress("write", done, len(by_title))

    def finish(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Readers never see half a file: write beside it, then replace it in one step.
        fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=self.path.parent)
        os.close(fd)
        try:
            self.workbook.save(tmp)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.stats.bytes_sent = self.path.stat().st_size


def _cell(sheet, value, font=None):
    """Return a cell holding the value as typed: text starting with '=' stays text, not a formula."""
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell
