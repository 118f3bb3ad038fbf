"""Writing lists out as CSV that spreadsheets open safely: UTF-8 with BOM, formulas neutralised."""
import csv
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


def local_mobile(e164: str | None) -> str:
    """Write a stored Saudi mobile (+9665XXXXXXXX) as 05XXXXXXXX, so it needs no escaping."""
    if not e164:
        return ""
    if e164.startswith("+966"):
        return "0" + e164[4:]
    return e164


def csv_text(header: list, rows) -> str:
    """Return a CSV document (BOM first) of a header and rows, every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise_cell(c) for c in header])
    for row in rows:
        writer.writerow([neutralise_cell(c) for c in row])
    return BOM + buffer.getvalue()
