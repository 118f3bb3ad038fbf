"""No column dropped in silence: each column of an imported sheet is mapped to a field or ignored on purpose.

A sheet's mapping holds, per column, a field, IGNORED (someone chose it: on the mapping page or
with the command line's --ignore) or "" (nobody decided yet: a column whose name matched no
field). The dry run lists every undecided and ignored column with a few of its values; the commit
is refused while an undecided column holds any value, before anything is written. A value in a
column beyond the header row (a column without a name) makes that column known too.
"""
import hashlib
import json
import re

from .errors import N_, ValidationError
from .import_read import Formula, data_rows
from .import_values import COLUMNS, cell_text, header_key, match_column
from .normalize import clean_text

IGNORED = "ignore"
SHOWN_VALUES = 3
_LETTERS = re.compile(r"[A-Z]{1,3}")


class UnmappedColumns(ValidationError):
    """Columns holding values that are neither mapped to a field nor ignored."""

    def __init__(self, columns: list[dict]):
        super().__init__(N_("Each column with values must be mapped to a field or ignored; not yet decided: "
                            "%(columns)s. Choose a field for each, or ignore it, on the mapping page."),
                         field="mapping", columns=describe(columns))
        self.columns = columns


def column_letter(index: int) -> str:
    """Return a column's letters as Excel shows them: 0 → A, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _letter_index(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number - 1


def label(column: dict) -> str:
    """Return how messages name a column: «its header» (its letter), or its letter alone when it has no name."""
    return f"«{column['header']}» ({column['letter']})" if column["header"] else column["letter"]


def describe(columns: list[dict]) -> str:
    """Return the columns with a few of their values, for a message."""
    return "; ".join(f"{label(c)}: {', '.join(c['samples'])}" if c["samples"] else label(c) for c in columns)


def widen(info: dict, width: int) -> bool:
    """Give a sheet (headers, mapping) columns up to width, unnamed and undecided; return whether it grew."""
    grow = width - len(info["headers"])
    if grow <= 0:
        return False
    info["headers"] = info["headers"] + [""] * grow
    info["mapping"] = (info["mapping"] + [""] * len(info["headers"]))[:len(info["headers"])]
    return True


def mapping_key(sheets: dict) -> str:
    """Return a digest of every sheet's kind and mapping: a dry run's column findings hold while it is unchanged."""
    state = [(name, s["kind"], s["mapping"]) for name, s in sheets.items()]
    return hashlib.sha256(json.dumps(state, ensure_ascii=False).encode("utf-8")).hexdigest()


class Tally:
    """Counts the filled cells of a sheet's undecided and ignored columns, and of cells beyond its header."""

    def __init__(self, headers: list[str], mapping: list[str]):
        self.width = len(headers)
        self.watched = [i for i, m in enumerate(mapping) if not m or m == IGNORED]
        self.filled: dict[int, int] = {}
        self.samples: dict[int, list[str]] = {}

    def add(self, cells: list) -> None:
        for i in self.watched:
            if cells[i] is not None:
                self._see(i, cells[i])
        for i in range(self.width, len(cells)):
            if cells[i] is not None:
                self._see(i, cells[i])

    def _see(self, index: int, value) -> None:
        text = str(value) if isinstance(value, Formula) else cell_text(value)
        if not text:
            return
        self.filled[index] = self.filled.get(index, 0) + 1
        shown = self.samples.setdefault(index, [])
        if len(shown) < SHOWN_VALUES and text[:60] not in shown:
            shown.append(text[:60])

    def width_seen(self) -> int:
        return max([self.width] + [i + 1 for i in self.filled])

    def columns(self, sheet: str, info: dict) -> list[dict]:
        """Return the sheet's undecided and ignored columns (info widened to every column seen)."""
        widen(info, self.width_seen())
        return [{"sheet": sheet, "index": i, "letter": column_letter(i), "header": info["headers"][i],
                 "ignored": info["mapping"][i] == IGNORED, "filled": self.filled.get(i, 0),
                 "samples": self.samples.get(i, [])}
                for i in range(len(info["headers"])) if not info["mapping"][i] or info["mapping"][i] == IGNORED]


def blocking(columns: list[dict]) -> list[dict]:
    """Return the columns that stop a commit: undecided and holding values."""
    return [c for c in columns if not c["ignored"] and c["filled"]]


def scan(path, fmt: str, sheets: dict, names: list[str]) -> list[dict]:
    """Read the sheets for undecided columns holding a value; stop at the first row that shows one.

    Only what a commit without a dry run needs: when every column is decided there is nothing to
    read here, and the commit itself still refuses a value found beyond the header row.
    """
    found = []
    for name in names:
        info = sheets[name]
        if all(m for m in info["mapping"]):
            continue
        tally = Tally(info["headers"], [m or "" for m in info["mapping"]])
        tally.watched = [i for i in tally.watched if not info["mapping"][i]]
        for _number, cells in data_rows(path, fmt, name, info["header_row"], tally.width):
            tally.add(cells)
            if tally.filled:
                break
        found += blocking(tally.columns(name, info))
    return found


def resolve(info: dict, kind: str, choices: list[tuple[str, str]]) -> list[str]:
    """Return a sheet's mapping with choices applied: (column by header or letter, field or IGNORED).

    A field chosen for a column is taken from any other column it was matched to automatically;
    that column then waits for a decision like any other.
    """
    chosen = {}
    for reference, target in choices:
        index = column_of(info, reference)
        if target != IGNORED:
            target = field_named(kind, target)
        if target != IGNORED and target in chosen.values():
            raise ValidationError(N_("Each field can be given by one column only."))
        chosen[index] = target
    mapping = list(info["mapping"])
    for index, target in chosen.items():
        if target != IGNORED:
            mapping = ["" if m == target else m for m in mapping]
    for index, target in chosen.items():
        mapping[index] = target
    return mapping


def column_of(info: dict, reference: str) -> int:
    """Return the index of a column named by its header (as written, or matching its key) or by its letter."""
    text = clean_text(reference)
    headers = info["headers"]
    for same in ((lambda h: clean_text(h) == text), (lambda h: header_key(h) == header_key(text) and h)):
        found = [i for i, h in enumerate(headers) if same(h)]
        if len(found) > 1:
            raise ValidationError(N_("Several columns are named %(name)s: name the one you mean by its letter "
                                     "(A, B, C …)."), name=text)
        if found:
            return found[0]
    if _LETTERS.fullmatch(text.upper()):
        index = _letter_index(text.upper())
        widen(info, index + 1)
        return index
    raise ValidationError(N_("This file has no column named %(name)s."), name=text)


def field_named(kind: str, name: str) -> str:
    """Return the field a name gives (its code, or a column name that matches it), or raise ValidationError."""
    text = clean_text(name)
    if text in COLUMNS[kind]:
        return text
    found = match_column(kind, text)
    if found is None:
        raise ValidationError(N_("Unknown field: %(name)s."), name=text)
    return found
