"""A layout bound to one file's header: which column each field reads, and the records each
row makes (a melted row makes several), each with its line; a row the layout skips by design is
counted with the layout's reason, a cell outside a filter's lists is a problem."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

from observatory import months, reference
from observatory.reference import norm_key
from observatory.layouts.spec import ISO_DATE, RECORD_KEY_SEPARATOR, FieldRule, Layout, LayoutMismatch, _UnparsedDate


@dataclass
class Record:
    """One canonical record, a problem to quarantine, or rows skipped by design."""

    fields: dict[str, str | None] = field(default_factory=dict)
    problem: tuple[str, dict] | None = None
    skipped: int = 0


class BoundLayout:
    """A layout resolved against one file's header: column names become positions once, so
    each data row is turned into records without looking anything up by name again."""

    def __init__(self, layout: Layout, header: list[list[str]]):
        self.layout = layout
        self.kind_columns = list(reference.kind_columns()[layout.kind])
        self.width = layout.columns or max((len(row) for row in header), default=0)
        self._combined, self._last, self._labels = _header_names(header)
        missing: list[str] = []
        self.melted = self._melted_columns()
        if layout.melt is not None and not self.melted:
            missing.append(f"columns matching {layout.melt.pattern!r}")
        self.getters = {name: self._getter(rule, missing) for name, rule in layout.fields.items()}
        self.filters = [(self._position(rule.column, missing), rule) for rule in layout.filters]
        unique = layout.aggregate.unique if layout.aggregate else ()
        self.unique = [self._position(column, missing) for column in unique]
        # A unique column that a date field reads is compared as the date it holds, not as
        # written: 1/1/2018, 01/01/2018 and a spreadsheet's 2018-01-01 are one record.
        dated = {self._position(rule.column, []): rule.date for rule in layout.fields.values()
                 if rule.date and rule.column is not None}
        self.unique_dates = [dated.get(position) for position in self.unique]
        if missing:
            raise LayoutMismatch(sorted(set(missing)))

    def numeric_positions(self) -> set[int]:
        """Positions of the columns that hold figures or years (a number there is not an ID)."""
        positions = {position for position, _ in self.melted}
        for name in ("value", "year", "period"):
            rule = self.layout.fields.get(name)
            if rule is not None and rule.column is not None and rule.template is None:
                positions.add(self._position(rule.column, []))
        return {position for position in positions if position >= 0}

    @property
    def records_per_row(self) -> int:
        return max(1, len(self.melted))

    def records(self, cells: list[str]) -> Iterator[Record]:
        for position, rule in self.filters:
            raw = cells[position].strip() if position < len(cells) else ""
            key = norm_key(raw)
            if key in rule.keep:
                continue
            if rule.skip is None or key in rule.skip:
                yield Record(skipped=self.records_per_row)
                return
            yield Record(problem=("unexpected_category", {
                "column": self.label(position), "raw": raw, "layout": self.layout.name,
                "layout_file": self.layout.file_hint,
                "expected": ", ".join(sorted(rule.keep | (rule.skip or frozenset()))),
            }))
            return
        try:
            base = {name: get(cells) for name, get in self.getters.items()}
        except _UnparsedDate as unparsed:
            yield Record(problem=("unparsed_date", {
                "column": unparsed.column, "format": unparsed.fmt, "layout": self.layout.name,
            }))
            return
        if self.unique:
            base["record_key"] = RECORD_KEY_SEPARATOR.join(
                _unique_cell(cells, position, fmt) for position, fmt in zip(self.unique, self.unique_dates))
        if not self.melted:
            yield Record(self._finish(base))
            return
        for position, groups in self.melted:
            fields = dict(base)
            for name, text in groups.items():
                rule = self.layout.fields.get(name)
                fields[name] = _mapped(text, rule.map) if rule and rule.map else text
            fields["value"] = _cell(cells, position, self.layout.missing)
            fields["cell"] = self.label(position)
            if "period" in groups:  # a month written in the header: 'Enero', 'ene', 'Jan', '01'
                month = months.month_number(fields.get("period"))
                if month is None or not re.fullmatch(r"\d{4}", fields.get("year") or ""):
                    yield Record(problem=("invalid_month", {"raw": groups["period"], "column": self.label(position)}))
                    continue
                fields["period"] = f"{fields['year']}-{month:02d}"
                fields["record_key"] = RECORD_KEY_SEPARATOR.join(filter(None, (fields.get("record_key"), fields["period"])))
            yield Record(self._finish(fields))

    def label(self, position: int) -> str:
        """A column as the file writes it (header rows joined), or its position."""
        if 0 <= position < len(self._labels) and self._labels[position]:
            return self._labels[position]
        return f"#{position + 1}"

    def _finish(self, fields: dict[str, str | None]) -> dict[str, str | None]:
        year = fields.get("year")
        flags = [rule for rule in self.layout.flags if year in rule.years]
        if flags:
            fields["flags"] = ";".join(rule.flag for rule in flags)
            fields["flag_note"] = " ".join(rule.note for rule in flags if rule.note) or None
        return {name: fields.get(name) for name in self.kind_columns}

    def _melted_columns(self) -> list[tuple[int, dict[str, str]]]:
        if self.layout.melt is None:
            return []
        melted = []
        for position, name in enumerate(self._combined):
            match = self.layout.melt.fullmatch(name)
            if match:
                melted.append((position, {k: v for k, v in match.groupdict().items() if v is not None}))
        return melted

    def _position(self, column: str | int, missing: list[str]) -> int:
        if isinstance(column, int):
            if column >= self.width:
                missing.append(f"#{column + 1}")
            return column
        key = norm_key(column)
        for names in (self._combined, self._last):
            if names.count(key) == 1:
                return names.index(key)
        missing.append(column)
        return -1

    def _getter(self, rule: FieldRule, missing: list[str]) -> Callable[[list[str]], str | None]:
        tokens = self.layout.missing
        if rule.value is not None or (rule.column is None and rule.template is None):
            constant = rule.value  # None: a melt group fills the field
            return lambda cells: constant
        if rule.template is not None:
            parts = [(name, self._position(name, missing)) for name in re.findall(r"{([^{}]+)}", rule.template)]
            template = re.sub(r"{([^{}]+)}", lambda m: "{" + str([n for n, _ in parts].index(m[1])) + "}", rule.template)

            def render(cells: list[str]) -> str | None:
                values = [_cell(cells, position, tokens) or "" for _, position in parts]
                text = " ".join(template.format(*values).split())
                return text or None
            base = render
        else:
            position = self._position(rule.column, [] if rule.optional else missing)
            base = lambda cells: _cell(cells, position, tokens)  # noqa: E731
        if rule.date:
            fmt, part, dated = rule.date, rule.part, base
            column = self.label(position) if rule.column is not None else rule.template

            def parsed(cells: list[str]) -> str | None:
                text = dated(cells)
                if text is None:
                    return None
                result = _date_part(text, fmt, part)
                if result is None:
                    raise _UnparsedDate(column, fmt)
                return result
            base = parsed
        if rule.map:
            mapping, plain = rule.map, base
            base = lambda cells: _mapped(plain(cells), mapping)  # noqa: E731
        return base


def _header_names(header: list[list[str]]) -> tuple[list[str], list[str], list[str]]:
    """For a header of one or more rows: each column's combined name, normalized (upper rows
    filled rightwards across merged cells: '2009', '' over 'Feminicidio', 'Tentativa' -> '2009
    feminicidio', '2009 tentativa'); the last row's names alone, normalized; and the combined
    names as the file writes them (for messages)."""
    if not header:
        return [], [], []
    width = max(len(row) for row in header)
    filled = []
    for depth, row in enumerate(header):
        row = [cell.strip() for cell in row] + [""] * (width - len(row))
        if depth < len(header) - 1:
            for i in range(1, width):
                row[i] = row[i] or row[i - 1]
        filled.append(row)
    labels = [" ".join(row[i] for row in filled if row[i]) for i in range(width)]
    return [norm_key(label) for label in labels], [norm_key(cell) for cell in filled[-1]], labels


def _cell(cells: list[str], position: int, missing: frozenset[str]) -> str | None:
    if position < 0 or position >= len(cells):
        return None
    text = cells[position].strip()
    if not text or norm_key(text) in missing:
        return None
    return text


def _mapped(text: str | None, mapping: dict[str, str | None]) -> str | None:
    """Mapped values become codes (None: no value, e.g. a national row); others pass through
    for the shared harmonization to resolve or quarantine with suggestions."""
    if text is None:
        return None
    key = norm_key(text)
    return mapping[key] if key in mapping else text


def _unique_cell(cells: list[str], position: int, fmt: str | None) -> str:
    """A cell of a layout's `unique` columns as records are compared: a date as the day it is."""
    text = cells[position].strip() if position < len(cells) else ""
    return (_date_part(text, fmt, "day") or text) if fmt and text else text


def _date_part(text: str, fmt: str, part: str) -> str | None:
    """'10/24/2016' with '%m/%d/%Y' -> '2016' (year), '2016-10' (month) or '2016-10-24' (day); an ISO date (how a
    spreadsheet's date cell is read) is accepted too; None when the text is not such a date.
    The row is then quarantined naming the column and the format, never quoting the cell,
    which in a case record could help identify a person."""
    candidates = [(text, fmt), (text, ISO_DATE)]
    if "%b" in fmt or "%B" in fmt:  # month names in Spanish or English, any case: '3 ENE 2019'
        numbered = re.sub(r"[^\W\d_]+\.?", lambda word: str(months.month_number(word[0]) or word[0]), text)
        candidates.insert(1, (numbered, fmt.replace("%b", "%m").replace("%B", "%m")))
    for candidate_text, candidate in candidates:
        try:
            parsed = datetime.strptime(candidate_text, candidate)
            break
        except ValueError:
            continue
    else:
        return None
    if part == "day":
        return parsed.date().isoformat()
    return f"{parsed.year:04d}" if part == "year" else f"{parsed.year:04d}-{parsed.month:02d}"
