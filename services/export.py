"""Writing lists out as CSV that spreadsheets open safely: UTF-8 with BOM, formulas neutralised."""
import csv
import datetime
import decimal
import io

# Excel and LibreOffice read a cell starting with one of these as a formula (CSV injection).
# Tab and carriage return are included as OWASP advises: some spreadsheets strip them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralise_cell(value) -> str:
    """Return the cell as text, prefixed with a single quote when a spreadsheet would run it."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_text(header: list, rows) -> str:
    """Return a CSV document (BOM first) of a header and rows, every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise_cell(c) for c in header])
    for row in rows:
        writer.writerow([neutralise_cell(c) for c in row])
    return BOM + buffer.getvalue()


def write_csv(stream, header: list, rows) -> int:
    """Write a CSV document (BOM first, every cell neutralised) to a text stream; return the rows written."""
    stream.write(BOM)
    writer = csv.writer(stream)
    writer.writerow([neutralise_cell(c) for c in header])
    count = 0
    for row in rows:
        writer.writerow([neutralise_cell(c) for c in row])
        count += 1
    return count


def write_xlsx(target, title: str, header: list, rows) -> int:
    """Write one right-to-left sheet to a path or binary file, row by row (openpyxl write-only); return the rows.

    Dates stay dates, numbers stay numbers, and every text, even one starting with "=",
    stays text: an ID or phone keeps its leading zero and a name is never run as a formula.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    sheet.sheet_view.rightToLeft = True
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value, font=None):
        c = WriteOnlyCell(sheet)
        if isinstance(value, datetime.datetime):
            c.value, c.number_format = value, "yyyy-mm-dd hh:mm"
        elif isinstance(value, datetime.date):
            c.value, c.number_format = value, "yyyy-mm-dd"
        elif isinstance(value, (bool, int, float, decimal.Decimal)):
            c.value = value
        else:
            c.value = ILLEGAL_CHARACTERS_RE.sub("", "" if value is None else str(value))
            c.data_type = "s"  # openpyxl would otherwise store "=…" as a formula
        if font is not None:
            c.font = font
        return c

    sheet.append([cell(h, bold) for h in header])
    count = 0
    for row in rows:
        sheet.append([cell(v) for v in row])
        count += 1
    workbook.save(target)
    return count


def _sheet_title(title: str) -> str:
    """Return a valid sheet title: at most 31 characters, none of []:*?/\\."""
    return "".join(ch for ch in str(title) if ch not in "[]:*?/\\")[:31] or "Sheet1"
