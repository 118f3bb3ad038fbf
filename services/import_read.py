"""Streaming the rows of an uploaded .xlsx or .csv without loading the whole file.

.xlsx: openpyxl in read-only mode. A sheet with formulas is read twice side by side: once for the
cached values and once for the formulas, because a formula cell without a cached value (a file
written by a program and never opened in Excel) reads as empty and would silently blank the cell.
Such a cell is reported as a formula to replace by its value; formulas are never evaluated here.
A sheet without any formula (found by scanning its XML as bytes) is read once.
.csv: UTF-8 with or without BOM, else Windows-1256 (what Arabic Excel saves as "CSV"); the
delimiter is sniffed (comma, semicolon, tab).
"""
import codecs
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import N_, ValidationError
from .import_values import cell_text, match_column

# Rows looked at to find the header row (a title row or a merged banner may come first).
HEADER_SCAN_ROWS = 10
SAMPLE_ROWS = 3


class Formula:
    """A formula cell that has no value computed by Excel."""

    def __init__(self, text: str):
        self.text = text

    def __str__(self):
        return self.text


@dataclass
class Sheet:
    name: str
    header_row: int                 # 1-based row number of the header in the sheet
    headers: list[str]
    estimated_rows: int = 0
    samples: list[list[str]] = field(default_factory=list)


def file_format(name: str) -> str:
    """Return "xlsx" or "csv" from a file name, or raise ValidationError."""
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise ValidationError(N_("Choose an Excel file (.xlsx) or a CSV file (.csv)."), field="file")


# ---- CSV --------------------------------------------------------------------------------------------
def csv_encoding(path: Path) -> str:
    """Return utf-8-sig when the file has a BOM, utf-8 when it all decodes as UTF-8, else cp1256."""
    with open(path, "rb") as f:
        if f.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1256"
    return "utf-8"


def _csv_reader(path: Path):
    encoding = csv_encoding(path)
    text = open(path, encoding=encoding, errors="replace", newline="")
    head = text.read(64 * 1024)
    text.seek(0)
    try:
        dialect = csv.Sniffer().sniff(head, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return text, csv.reader(text, dialect)


def _csv_rows(path: Path):
    text, reader = _csv_reader(path)
    with text:
        for row in reader:
            yield row


# ---- XLSX -------------------------------------------------------------------------------------------
def _open_xlsx(path: Path, data_only: bool):
    from openpyxl import load_workbook
    try:
        return load_workbook(path, read_only=True, data_only=data_only)
    except Exception:
        # Not a zip, a password-protected or a broken workbook: the message says what to do.
        raise ValidationError(N_("This file cannot be read as an Excel workbook. Open it in Excel and save it "
                                 "again as .xlsx."), field="file")


def sheet_names(path: Path, fmt: str) -> list[str]:
    """Return the sheet names of a workbook, or ["CSV"] for a CSV file."""
    if fmt == "csv":
        return ["CSV"]
    book = _open_xlsx(path, True)
    try:
        return [ws.title for ws in book.worksheets]
    finally:
        book.close()


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(book, sheet: str) -> bool:
    """Return whether the sheet's XML holds any formula (<f>): scanned as bytes, far quicker than parsing it."""
    try:
        source = book[sheet]._get_source()   # openpyxl's read-only sheet: the XML inside the zip
    except AttributeError:
        return True
    with source:
        tail = b""
        for block in iter(lambda: source.read(1 << 20), b""):
            if _FORMULA_TAG.search(tail + block):
                return True
            tail = block[-16:]
    return False


def _inline_parser():
    """Return openpyxl's sheet parser, reading inline strings' text directly rather than through its rich-text model.

    openpyxl writes text cells as inline strings (Excel uses a shared table): building a rich-text
    object for each of them is most of the time of reading such a file. The cell becomes the plain
    string cell it stands for, and openpyxl reads it as usual (numbers, dates, shared strings too).
    """
    from xml.etree.ElementTree import SubElement

    from openpyxl.worksheet._reader import INLINE_STRING, VALUE_TAG, WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS
    text_tag, run_tag = f"{{{SHEET_MAIN_NS}}}t", f"{{{SHEET_MAIN_NS}}}r"

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            if element.get("t") == "inlineStr":
                inline = element.find(INLINE_STRING)
                if inline is not None:
                    # The plain text and the text of each formatted run, as openpyxl's Text.content joins them.
                    text = (inline.findtext(text_tag) or "") + "".join(
                        run.findtext(text_tag) or "" for run in inline.findall(run_tag))
                    element.remove(inline)
                    element.set("t", "str")
                    SubElement(element, VALUE_TAG).text = text
            return super().parse_cell(element)

    return Parser


def _plain_rows(book, sheet: str):
    """Yield a sheet's rows of cached values (an empty tuple for a row missing from the file)."""
    ws = book[sheet]
    with ws._get_source() as source:
        parser = _inline_parser()(source, ws._shared_strings, data_only=True, epoch=book.epoch,
                                  date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        expected = 1
        for index, cells in parser.parse():
            for _ in range(expected, index):
                yield ()
            expected = index + 1
            row = [None] * (cells[-1]["column"] if cells else 0)
            for cell in cells:
                row[cell["column"] - 1] = cell["value"]
            yield row


def _xlsx_rows(path: Path, sheet: str):
    values = _open_xlsx(path, True)
    try:
        plain = not _has_formulas(values, sheet)
    except Exception:
        values.close()
        raise
    if plain:
        # Nothing to tell apart: one pass over the cached values is enough.
        try:
            yield from _plain_rows(values, sheet)
        finally:
            values.close()
        return
    formulas = _open_xlsx(path, False)
    try:
        cached = values[sheet].iter_rows(values_only=True)
        typed = formulas[sheet].iter_rows(values_only=True)
        for row, raw in zip(cached, typed):
            out = list(row)
            for i, formula in enumerate(raw):
                if out[i] is None and isinstance(formula, str) and formula.startswith("="):
                    out[i] = Formula(formula)
            yield out
    finally:
        values.close()
        formulas.close()


def _xlsx_dimension_rows(path: Path, sheet: str) -> int:
    book = _open_xlsx(path, True)
    try:
        return book[sheet].max_row or 0
    finally:
        book.close()


# ---- both ---------------------------------------------------------------------------------------------
def raw_rows(path: Path, fmt: str, sheet: str):
    """Yield every row of a sheet as a list of cell values (Formula for an uncomputed formula)."""
    return _csv_rows(path) if fmt == "csv" else _xlsx_rows(path, sheet)


def is_blank(row) -> bool:
    """Return whether a row has no value in any cell."""
    return all(cell_text(v) == "" for v in row if not isinstance(v, Formula))


def _header_score(row) -> int:
    return sum(1 for v in row if match_column("beneficiaries", cell_text(v)) or match_column("requests", cell_text(v)))


def read_sheet(path: Path, fmt: str, name: str) -> Sheet:
    """Find a sheet's header row (the best-matching of the first rows), its headers and a few sample rows."""
    rows = []
    for row in raw_rows(path, fmt, name):
        rows.append(row)
        if len(rows) >= HEADER_SCAN_ROWS + SAMPLE_ROWS:
            break
    if not rows or all(is_blank(r) for r in rows):
        return Sheet(name, 0, [])
    scan = rows[:HEADER_SCAN_ROWS]
    best = max(range(len(scan)), key=lambda i: (_header_score(scan[i]), -i) if not is_blank(scan[i]) else (-1, -i))
    headers = [cell_text(v) for v in rows[best]]
    # As wide as the header or the first rows under it: a filled column without a name is a column too.
    width = max([_filled_width(headers)] + [_filled_width(r) for r in rows[best + 1:]])
    headers = (headers + [""] * width)[:width]
    samples = [[cell_text(v) for v in r[:width]] for r in rows[best + 1:] if not is_blank(r)][:SAMPLE_ROWS]
    if fmt == "csv":
        estimated = max(_count_lines(path) - best - 1, 0)
    else:
        estimated = max(_xlsx_dimension_rows(path, name) - best - 1, 0)
    return Sheet(name, best + 1, headers, estimated, samples)


def _filled_width(row) -> int:
    """Return how many cells a row spans up to its last filled one."""
    return next((i + 1 for i in range(len(row) - 1, -1, -1)
                 if isinstance(row[i], Formula) or cell_text(row[i]) != ""), 0)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) + 1


def data_rows(path: Path, fmt: str, sheet: str, header_row: int, width: int):
    """Yield (row number, cells) after the header, padded to the header's width; blank rows skipped.

    Cells beyond the header are kept, so a value in a column without a header is seen, not lost.
    """
    for number, row in enumerate(raw_rows(path, fmt, sheet), start=1):
        if number <= header_row:
            continue
        cells = list(row) + [None] * (width - len(row))
        if is_blank(cells):
            continue
        yield number, cells


def describe_csv(path: Path) -> dict:
    """Return the encoding and delimiter the reader chose (shown on the mapping page)."""
    text, reader = _csv_reader(path)
    with text:
        return {"encoding": text.encoding, "delimiter": reader.dialect.delimiter}

