"""Files as staff make them, beyond the long form of raw contract v1: a wide table (years as
columns), title rows above the header, months written as names, total and note rows under the
table. Kept apart from read.py so the reader stays one SQL statement per file; this module only
decides shapes and builds SQL.

Month names are data (reference/months.csv); a wide table's year columns are recognized by
their header (`2019`, `año 2019`, `2019 (casos)`); the header is the first of a file's first
rows that is a contract or layout header, and the rows above it are titles, skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from observatory import layouts, reference

# `2019`, `año 2019`, `Year 2019`, `2019 (casos)`: a year column of a wide table; what the
# parentheses hold is the unit of its figures.
YEAR_COLUMN = re.compile(r"(?:(?:a[ñn]o|anio|year|gesti[oó]n)\s*)?(?P<year>(?:19|20)\d\d)\s*(?:\((?P<unit>[^()]*)\))?",
                         re.IGNORECASE)
# Contract columns a wide table replaces by its year columns.
WIDE_REPLACES = frozenset({"year", "value"})
# A full date where a month is expected: `1/1/2018`, `01-01-2018`, `2018-01-01` (an xlsx date
# cell), with a time or not. Its month is not read (`1/2/2018` is February or 2 January,
# depending on who typed it): the row is quarantined as invalid_month, saying it is a date.
FULL_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


@dataclass(frozen=True)
class YearColumn:
    position: int
    year: str
    unit: str | None
    label: str  # the header cell as the file writes it (the quarantine's column), or its year and position


def year_columns(header: list[str], taken: set[int]) -> list[YearColumn]:
    """The header's year columns (not already a contract column), in the file's order. A
    column's label is published (`quarantine.source_column`, messages): the parentheses may hold
    any text, so a label whose unit is not one the observatory knows is the year and position."""
    from observatory import privacy  # privacy reads year columns too

    found = []
    for position, cell in enumerate(header):
        text = " ".join(cell.split())
        match = YEAR_COLUMN.fullmatch(text) if position not in taken else None
        if match:
            unit = (match["unit"] or "").strip() or None
            label = text if privacy.quotable_column(text) else f"{match['year']} (#{position + 1})"
            found.append(YearColumn(position, match["year"], unit, label))
    return found


def column_names(kind: str, columns: list[str]) -> tuple[str, str]:
    """Canonical columns as staff write them: in Spanish and in English (reference/column_labels.csv)."""
    labels = reference.load("column_labels")
    labels = labels[labels["kind"] == kind].set_index("column")
    es = [labels.at[c, "name_es"] if c in labels.index else c for c in columns]
    en = [labels.at[c, "name_en"] if c in labels.index else c for c in columns]
    return ", ".join(f"«{name}»" for name in es), ", ".join(f"'{name}'" for name in en)


def is_wide(kind: str, missing: list[str], header: list[str], taken: set[int]) -> bool:
    """A contract v1 observation header whose year and value columns are years as columns (other
    columns may still be missing: the message then names them)."""
    return kind == "observation" and WIDE_REPLACES <= set(missing) and bool(year_columns(header, taken))


def header_index(file_name: str, head: list[list[str]],
                 contract_header: Callable[[list[str]], tuple[bool, int]]) -> tuple[int, layouts.Layout | None]:
    """Which of the first records is the header, and the layout it belongs to (None: raw
    contract v1). `contract_header(cells)` says whether the cells are a complete contract
    header (long or wide) and how many known column names they hold. The first record that
    is a complete header wins; the records above it are titles. Without one, the record with
    the most known names is taken as the header, so the message names what it lacks."""
    best, best_known = 0, 0
    for index in range(len(head)):
        layout = layouts.recognize(file_name, head[index:])
        if layout is not None and (index == 0 or layout.header_rows > 0):
            return index, layout
        complete, known = contract_header(head[index])
        if complete:
            return index, None
        if known > best_known:
            best, best_known = index, known
    return best, None


def row_marker(cell: str | None) -> str | None:
    """The marker a country cell starts with when the row is a total or a note under the table
    rather than a figure (`Total`, `TOTAL GENERAL`, `Fuente: …`, `Nota: …`, `* …`), as
    reference/row_markers.csv writes it; None otherwise. Words are matched whole, case- and
    accent-insensitively (`Totales` is listed, `Totalidad` is not a total); a marker without
    letters or digits (`*`) is matched on the cell's first characters."""
    text = (cell or "").strip()
    key = reference.norm_key(text)
    for marker, marker_key in _row_markers():
        if marker_key:
            if key == marker_key or key.startswith(marker_key + " "):
                return marker
        elif text.startswith(marker):
            return marker
    return None


@lru_cache(maxsize=1)
def _row_markers() -> tuple[tuple[str, str], ...]:
    """(marker, its norm_key): the ones without letters first (`* Elaboración propia` starts
    with `*`), then longest first, so that `(*)` and `grand total` are named, not a shorter one."""
    markers = reference.load("row_markers")["marker"]
    return tuple(sorted(((m, reference.norm_key(m)) for m in markers), key=lambda pair: (bool(pair[1]), -len(pair[0]))))


def unread_date_column(header: list[str], taken: set[int]) -> str | None:
    """A header column raw contract v1 does not read whose name says it holds dates (`Fecha`,
    `Periodo`, `Mes/año`: reference/date_columns.csv), as the header writes it: monthly figures
    put under it rather than under `mes` repeat their year's key, and the duplicates' messages
    name it. Quoted as written: its name is one of the list's, whatever its case and accents."""
    names = {reference.norm_key(name) for name in reference.load("date_columns")["name"]}
    return next((cell.strip() for position, cell in enumerate(header)
                 if position not in taken and reference.norm_key(cell) in names), None)
