"""Write the messy sample files the import tests read: `python tests/data/make_samples.py [FOLDER]`.

They look like what volunteers typed over the years: a merged title row above the header, a merged
header cell, a serial-number column and an unknown column, Arabic-Indic digits, IDs typed as numbers,
phones in five formats, Hijri and Gregorian dates (text, real date cells, Excel serials), a blank
line, a duplicated row, a formula never computed, and a Windows-1256 CSV as Arabic Excel saves it.
"""
import csv
import datetime
import sys
from pathlib import Path

from stdnum import luhn

HERE = Path(__file__).resolve().parent


def national_id(n: int, first: str = "1") -> str:
    """Return a valid 10-digit ID (check digit by Luhn) starting with `first`."""
    body = f"{first}{n:08d}"
    return body + luhn.calc_check_digit(body)


def arabic_digits(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


# Row values shared by the tests' expectations.
SAUDI = national_id(1)
YEMENI = national_id(2, "2")
PAKISTANI = national_id(3, "2")
FILIPINO = national_id(4, "2")
EGYPTIAN = national_id(5, "2")
BAD_CHECK = SAUDI[:-1] + str((int(SAUDI[-1]) + 1) % 10)
FORMULA_ID = national_id(6, "2")
UNKNOWN_NATION_ID = national_id(7, "2")
NUMERIC_ID = national_id(8)                  # typed as a number in the xlsx
CSV_IDS = [national_id(20 + i, "2") for i in range(3)]


def beneficiaries_xlsx(path: Path) -> Path:
    """Two sheets: beneficiaries (title row merged, a merged header cell) and their past requests."""
    from openpyxl import Workbook
    book = Workbook()
    ws = book.active
    ws.title = "المستفيدين"
    ws.append(["بيانات المستفيدين — جمعية بحرة"])
    ws.merge_cells("A1:J1")
    ws.append(["م", "الاسم", "رقم الهوية", "الجنسية", "الجوال", "تاريخ الميلاد", "الجنس", "عدد أفراد الأسرة",
               "ملاحظات", None, "رقم الملف القديم"])
    ws.merge_cells("I2:J2")  # one header over two columns; the second column has no name of its own
    rows = [
        [1, "محمد أحمد الحربي", arabic_digits(SAUDI), "سعودي", "0501234567", "1400/05/12", "ذكر", 5,
         "أسرة محتاجة", "قديم", "A-17"],
        [2, "  علي   صالح باوزير ", YEMENI, "يمني", "+966 50 123 4568", "15/03/1985", "ذكر", 3, None, None, "A-18"],
        [3, "Imran Khan", PAKISTANI, "باكستاني", "00966501234569", datetime.datetime(1990, 7, 1), "Male", "٤",
         None, None, None],
        [],
        [4, "Maria Santos", FILIPINO, "Filipino", arabic_digits("0501234570"), 33000, "female", 2, None, None, None],
        [5, "فاطمة السيد", EGYPTIAN, "مصرية", 501234571, "1988-02-29", "أنثى", None, None, None, None],
        [6, "خالد الحربي", BAD_CHECK, "سعودي", "0501234572", "1990-01-01", "ذكر", 4, None, None, None],
        [7, "سالم علي", FORMULA_ID, "اليمن", "0501234573", "1991-01-01", "ذكر", "=2+3", None, None, None],
        [8, "Ahmed Zed", UNKNOWN_NATION_ID, "مريخي", "0501234574", "1992-01-01", "ذكر", 1, None, None, None],
        [9, "محمد أحمد الحربي", arabic_digits(SAUDI), "سعودي", "0501234567", "1400/05/12", "ذكر", 5, None, None,
         None],
        [10, "سعد العتيبي", int(NUMERIC_ID), "السعودية", "0501234575", "15/03/1446", "ذكر", 6, None, None, None],
    ]
    for row in rows:
        ws.append(row)
    requests = book.create_sheet("الطلبات")
    requests.append(["رقم الهوية", "الخدمة", "الحالة", "تاريخ الطلب", "القرار", "تاريخ القرار", "سبب القرار"])
    for row in [
        [SAUDI, "سلة غذائية", "مغلق", "1445/01/10", "مقبول", "1445/01/20", None],
        [YEMENI, "Food basket", "مرفوض", "2023-05-01", "مرفوض", "2023-05-10", "الدخل كاف"],
        [PAKISTANI, "سلة غذائية", "قيد الدراسة", "2024-09-01", None, None, None],
        [PAKISTANI, "سلة غذائية", "قيد التحقق", "2024-09-02", None, None, None],
        ["2999999990", "سلة غذائية", "مغلق", "2024-01-01", "مقبول", None, None],
        [FILIPINO, "خدمة غير موجودة", "مغلق", "2024-01-01", "مقبول", None, None],
    ]:
        requests.append(row)
    book.save(path)
    return path


CSV_HEADER = ["Name", "ID", "Mobile", "الجنسية", "Birth date", "Extra column"]
CSV_ROWS = [
    ["عبد الله الغامدي", CSV_IDS[0], "0551234567", "سعودي", "1410/01/01", "x"],
    ["نورة الزهراني", CSV_IDS[1], "0551234568", "سعودية", "01/01/1995", ""],
    ["", "", "", "", "", ""],
    ["حسن بشير", CSV_IDS[2], "12345", "سوداني", "1980-05-05", "y"],
]


def beneficiaries_csv(path: Path, encoding: str) -> Path:
    """A CSV of beneficiaries in the given encoding (cp1256, utf-8-sig or utf-8)."""
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, delimiter=";" if encoding == "cp1256" else ",")
        writer.writerow(CSV_HEADER)
        writer.writerows(CSV_ROWS)
    return path


# The layout of an association volunteers' own file (issue 25): their headers, their column order.
VOLUNTEER_HEADER = ["م", "رقم الهويه", "الإسم الرباعي", "الجوال/الهاتف", "تاريخ الميلاد (هجري)", "الجنسيه", "الجنس",
                    "عدد افراد الاسره", "الحي", "ملاحظات"]
VOLUNTEER_NATIONS = ["يمني", "باكستاني", "Filipino", "مصرية", "بنغالي", "Indian", "سودانية"]


def volunteer_birth(i: int):
    """Return the birth-date cell of row i: Hijri text, Gregorian text, an Excel day number, a date cell or a
    Hijri date with a two-digit year (read as Hijri because the column's name says so)."""
    kind = i % 5
    if kind == 0:
        return f"{1380 + i % 60}/{1 + i % 12:02d}/{1 + i % 28:02d}"
    if kind == 1:
        return f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 60}"
    if kind == 2:
        return 20000 + i % 15000
    if kind == 3:
        return datetime.datetime(1960 + i % 50, 1 + i % 12, 1 + i % 28)
    return f"{1 + i % 28:02d}/{1 + i % 12:02d}/{i % 40:02d}"


def volunteer_rows(count: int):
    """Yield volunteers' rows: 1 in 400 without an ID number, 1 in 100 with a wrong check digit."""
    for i in range(count):
        saudi = i % 8 == 0
        number = national_id(500000 + i, "1" if saudi else "2")
        if i % 100 == 99:
            number = number[:-1] + str((int(number[-1]) + 1) % 10)
        if i % 400 == 7:
            number = None
        mobile = f"05{(i % 7) + 3}{i:07d}"[:10]
        mobile = [mobile, "+966 " + mobile[1:], "00966" + mobile[1:], arabic_digits(mobile)][i % 4]
        yield [i + 1, number, f"مستفيد متطوعين رقم {i}", mobile, volunteer_birth(i),
               "سعودي" if saudi else VOLUNTEER_NATIONS[i % 7], "ذكر" if i % 3 else "انثى", 1 + i % 9, "بحرة",
               "أرملة" if i % 50 == 0 else None]


def volunteers_xlsx(path: Path, count: int) -> Path:
    """A volunteers' workbook: a merged title row above the header, a blank line every 1,000 rows."""
    from openpyxl import Workbook
    book = Workbook()
    ws = book.active
    ws.title = "كشف المستفيدين"
    ws.append(["كشف المستفيدين لعام ١٤٤٦هـ — جمعية بحرة"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(VOLUNTEER_HEADER))
    ws.append(VOLUNTEER_HEADER)
    for i, row in enumerate(volunteer_rows(count)):
        if i and i % 1000 == 0:
            ws.append([])
        ws.append(row)
    book.save(path)
    return path


def make_all(folder: Path = HERE) -> dict[str, Path]:
    """Write every sample file into the folder; return them by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "xlsx": beneficiaries_xlsx(folder / "legacy_beneficiaries.xlsx"),
        "cp1256": beneficiaries_csv(folder / "beneficiaries_windows1256.csv", "cp1256"),
        "bom": beneficiaries_csv(folder / "beneficiaries_utf8_bom.csv", "utf-8-sig"),
    }


if __name__ == "__main__":
    for name, written in make_all(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE).items():
        print(name, written)
