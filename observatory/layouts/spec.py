"""A layout file, read: every key checked (a misspelt key is an error naming the file, not a
silent no-op), fields, row filters, flags and sums as frozen rules (`Layout`)."""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from observatory import reference
from observatory.reference import norm_key
from observatory.textfile import HEAD_RECORDS

# The most header rows a layout may have (textfile reads HEAD_RECORDS ahead: title rows too).
MAX_HEADER_ROWS = min(5, HEAD_RECORDS)
# In a layout, `null` or `~` (or nothing) as a map's value means "no value" (e.g. a national row).
NULL_WORDS = frozenset({"null", "~", ""})
TRUE_WORDS, FALSE_WORDS = frozenset({"true", "yes", "si", "sí"}), frozenset({"false", "no"})
PROVENANCE_KEYS = ("producer", "citation", "url", "licence")
DATE_PARTS = ("year", "month")
ISO_DATE = "%Y-%m-%d"  # how spreadsheet dates reach a layout (textfile.py renders them so)
# Keys a layout file may have, per section: a misspelt key is an error, not a silent no-op.
KEYS = {
    "": {"name", "description", "provenance", "kind", "recognize", "read", "missing", "rows", "fields", "melt", "flags", "aggregate", "drop"},
    "recognize": {"header", "file_name", "columns", "first_row"},
    "read": {"header_rows", "encoding", "sheet"},
    "field": {"column", "value", "template", "date", "part", "map", "optional"},
    "rows": {"column", "keep", "skip", "reason"},
    "flags": {"flag", "years", "note"},
    "aggregate": {"period", "unique", "national_total"},
    "melt": {"columns"},
}
RECORD_KEY_SEPARATOR = "\x1f"



class LayoutError(Exception):
    """A layout file is malformed: the message names the file to edit."""


class _UnparsedDate(Exception):
    """A date field's cell is not a date in the layout's format."""

    def __init__(self, column: str, fmt: str):
        super().__init__(column)
        self.column, self.fmt = column, fmt


class LayoutMismatch(Exception):
    """A recognized layout's columns are not all in this file (the export changed)."""

    def __init__(self, missing: list[str]):
        super().__init__(", ".join(missing))
        self.missing = missing


@dataclass(frozen=True)
class FieldRule:
    """Where a canonical field's text comes from: a column, a constant or a template, then an
    optional date part and value map. A rule with only a map is filled by a melt group."""

    column: str | int | None = None
    value: str | None = None
    template: str | None = None
    date: str | None = None
    part: str = "year"
    map: dict[str, str | None] | None = None
    optional: bool = False  # a column some exports leave out (e.g. a disaggregation)


@dataclass(frozen=True)
class RowFilter:
    """Rows whose `column` holds a `keep` value go on; `skip` values (or every other value when
    skip is "others") are left out for `reason`; any other value is a problem for staff."""

    column: str | int
    keep: frozenset[str]
    skip: frozenset[str] | None  # None: every value not kept is skipped
    reason: str


@dataclass(frozen=True)
class FlagRule:
    flag: str
    years: frozenset[str]
    note: str


@dataclass(frozen=True)
class Aggregate:
    """Records are summed per observation key after validation (case records, months,
    modalities). `period` ('month') lets a year be checked for completeness; records equal in
    the `unique` columns are duplicates (a month given twice, a case row repeated);
    `national_total` adds the country's total (record-level files only)."""

    period: str | None = None
    unique: tuple[str | int, ...] = ()
    national_total: bool = False

    @property
    def periods_per_year(self) -> int | None:
        return 12 if self.period == "month" else None


@dataclass(frozen=True)
class Layout:
    name: str
    path: Path
    description: str
    provenance: dict
    kind: str
    header_signature: tuple[str, ...]
    file_name: str | None
    columns: int | None
    first_row: tuple[re.Pattern, ...]
    encoding: str | None
    header_rows: int
    sheet: str | None
    fields: dict[str, FieldRule]
    melt: re.Pattern | None
    filters: tuple[RowFilter, ...]
    flags: tuple[FlagRule, ...]
    missing: frozenset[str]
    aggregate: Aggregate | None
    # Columns of the source that identify people (names, ID numbers…): never read, never
    # checked for personal data, never stored. Only a layout that sums records into counts may
    # drop columns (observatory/privacy.py).
    drop: frozenset[str] = frozenset()

    def recognizes(self, file_name: str, head: list[list[str]]) -> bool:
        """Headerless layouts by name, width and the shape of the first cells (so a raw
        contract file that happens to share the name is not taken); the others by their header
        signature."""
        if self.header_rows == 0:
            if not head or not fnmatch.fnmatch(file_name.lower(), self.file_name.lower()):
                return False
            first = [cell.strip() for cell in head[0]]
            return len(first) == self.columns and all(
                position < len(first) and pattern.fullmatch(first[position])
                for position, pattern in enumerate(self.first_row)
            )
        names = {norm_key(cell) for cells in head[: self.header_rows] for cell in cells}
        return all(name in names for name in self.header_signature)

    def overlap(self, header: list[str]) -> float:
        """How much of this layout's signature a header holds (to name the nearest layout)."""
        if not self.header_signature:
            return 0.0
        names = {norm_key(cell) for cell in header}
        return sum(name in names for name in self.header_signature) / len(self.header_signature)

    @property
    def file_hint(self) -> str:
        """Where staff or maintainers edit this layout (shown in messages)."""
        from observatory import layouts  # the folder the package loads from (tests point it elsewhere)

        if self.path.parent == layouts.LAYOUTS_DIR:
            return f"observatory/layouts/{self.path.name}"
        return str(self.path)


def parse(path: Path) -> Layout:
    def fail(message: str) -> LayoutError:
        return LayoutError(f"{path.name}: {message} (edit {path})")

    try:
        # Every scalar is read as the text written: `NO`, `yes`, `on`, `01` stay strings.
        # libyaml's parser when PyYAML has it: ten times faster, read at every run.
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
    except yaml.YAMLError as error:
        raise fail(f"not valid YAML: {error}") from None
    if not isinstance(spec, dict) or not spec.get("name"):
        raise fail("a layout needs at least `name`, `provenance`, `recognize` and `fields`")
    if spec["name"] != path.stem:
        raise fail(f"name '{spec['name']}' must be the file's name without .yaml ('{path.stem}')")
    _known_keys(spec, "", fail)
    provenance = spec.get("provenance") or {}
    missing = [key for key in PROVENANCE_KEYS if not provenance.get(key)]
    if missing:
        raise fail(f"provenance lacks {', '.join(missing)}: every source says who published it, where and under which licence")
    kind = str(spec.get("kind", "observation"))
    kind_columns = set(reference.kind_columns().get(kind, {}))
    if not kind_columns:
        raise fail(f"unknown kind '{kind}' (observatory/reference/dataset_kinds.csv)")
    read = _known_keys(spec.get("read") or {}, "read", fail)
    recognize_spec = _known_keys(spec.get("recognize") or {}, "recognize", fail)
    header_rows = _number(read.get("header_rows", "1"), "read.header_rows", fail)
    if not 0 <= header_rows <= MAX_HEADER_ROWS:
        raise fail(f"header_rows must be between 0 and {MAX_HEADER_ROWS}")
    signature = tuple(norm_key(name) for name in recognize_spec.get("header", []))
    if header_rows and not signature:
        raise fail("recognize.header lists the header names that identify the file")
    if not header_rows and not (recognize_spec.get("file_name") and recognize_spec.get("columns") and recognize_spec.get("first_row")):
        raise fail("a file without a header is recognized by recognize.file_name, columns and first_row")
    unknown_fields = set(spec.get("fields") or {}) - kind_columns
    if unknown_fields:
        raise fail(f"unknown fields {sorted(unknown_fields)}; the {kind} fields are {sorted(kind_columns)}")
    fields = {name: _field(rule, fail, header_rows) for name, rule in (spec.get("fields") or {}).items()}
    melt = _known_keys(spec.get("melt") or {}, "melt", fail)
    if not fields.get("value") and not melt:
        raise fail("fields.value (or melt) says where the figure is")
    try:
        melt_pattern = re.compile(melt["columns"]) if melt else None
        first_row = tuple(re.compile(str(pattern)) for pattern in recognize_spec.get("first_row", []))
    except re.error as error:
        raise fail(f"not a valid regular expression: {error}") from None
    known_flags = set(reference.load("observation_flags")["flag"])
    flags = []
    for rule in spec.get("flags", []):
        _known_keys(rule, "flags", fail)
        if rule.get("flag") not in known_flags:
            raise fail(f"unknown flag {rule.get('flag')!r}; known: {sorted(known_flags)} (observatory/reference/observation_flags.csv)")
        flags.append(FlagRule(rule["flag"], frozenset(str(y) for y in rule.get("years", [])), str(rule.get("note", "")).strip()))
    return Layout(
        name=str(spec["name"]),
        path=path,
        description=str(spec.get("description", "")).strip(),
        provenance=provenance,
        kind=kind,
        header_signature=signature,
        file_name=recognize_spec.get("file_name"),
        columns=_number(recognize_spec["columns"], "recognize.columns", fail) if "columns" in recognize_spec else None,
        first_row=first_row,
        encoding=read.get("encoding"),
        header_rows=header_rows,
        sheet=read.get("sheet"),
        fields=fields,
        melt=melt_pattern,
        filters=tuple(_filter(_known_keys(rule, "rows", fail), fail, header_rows) for rule in spec.get("rows", [])),
        flags=tuple(flags),
        missing=frozenset(norm_key(token) for token in spec.get("missing", [])),
        aggregate=_aggregate(spec.get("aggregate"), fields, fail, melt_pattern, header_rows),
        drop=_drop(spec, fields, fail),
    )


def _drop(spec: dict, fields: dict[str, FieldRule], fail: Callable[[str], LayoutError]) -> frozenset[str]:
    """Columns dropped before anything is stored. A file with such columns only loads as
    counts, so the layout must sum its records, and nothing it reads may come from them."""
    drop = spec.get("drop") or []
    if not isinstance(drop, list) or not all(isinstance(name, str) and name.strip() for name in drop):
        raise fail("drop lists the names of the columns the layout never reads")
    if drop and not spec.get("aggregate"):
        raise fail("drop is only for layouts that sum records into counts (aggregate): a file with personal data loads only its counts")
    names = frozenset(norm_key(name) for name in drop)
    used = [rule.column for rule in fields.values() if isinstance(rule.column, str)]
    used += [rule["column"] for rule in spec.get("rows", []) if isinstance(rule, dict) and isinstance(rule.get("column"), str)]
    used += [column for column in (spec.get("aggregate") or {}).get("unique", []) if isinstance(column, str)]
    used += [name for rule in fields.values() if rule.template for name in re.findall(r"{([^{}]+)}", rule.template)]
    clash = sorted({column for column in used if norm_key(column) in names})
    if clash:
        raise fail(f"columns {clash} are dropped and read at once: a dropped column is never read")
    return names


def _known_keys(section: dict, name: str, fail: Callable[[str], LayoutError]) -> dict:
    if not isinstance(section, dict):
        raise fail(f"{name or 'the layout'} must be a mapping")
    unknown = set(section) - KEYS[name]
    if unknown:
        raise fail(f"unknown keys in {name or 'the layout'}: {sorted(unknown)}; allowed: {sorted(KEYS[name])}")
    return section


def _number(text: object, key: str, fail: Callable[[str], LayoutError]) -> int:
    if not isinstance(text, str) or not text.strip().isdigit():
        raise fail(f"{key} must be a whole number, not {text!r}")
    return int(text)


def _flag(text: object, key: str, fail: Callable[[str], LayoutError]) -> bool:
    word = norm_key(text) if isinstance(text, str) else None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise fail(f"{key} must be true or false, not {text!r}")


def _text(value: object, key: str, fail: Callable[[str], LayoutError]) -> str:
    if not isinstance(value, str):
        raise fail(f"{key} must be text, not {value!r}")
    return value


def _column(value: object, header_rows: int, fail: Callable[[str], LayoutError]) -> str | int:
    """A column by name or, in a file without a header, by position (0 is the first)."""
    text = _text(value, "column", fail)
    if header_rows == 0:
        return _number(text, "column (a position in a file without a header)", fail)
    return text


def _field(rule: object, fail: Callable[[str], LayoutError], header_rows: int = 1) -> FieldRule:
    if not isinstance(rule, dict):
        raise fail(f"a field is a mapping with column, value or template, not {rule!r}")
    _known_keys(rule, "field", fail)
    sources = sum(key in rule for key in ("column", "value", "template"))
    if sources > 1 or (sources == 0 and "map" not in rule):
        raise fail(f"a field takes one of column, value, template (or only a map, for a melt group): {rule}")
    if rule.get("part", "year") not in DATE_PARTS:
        raise fail(f"date part must be one of {DATE_PARTS}: {rule}")
    mapping = rule.get("map")
    if mapping is not None and (not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values())):
        raise fail(f"a map is written {{text: code}}: {mapping!r}")
    return FieldRule(
        column=_column(rule["column"], header_rows, fail) if "column" in rule else None,
        value=None if rule.get("value") is None else _text(rule["value"], "value", fail),
        template=rule.get("template"),
        date=rule.get("date"),
        part=rule.get("part", "year"),
        map={norm_key(k): (None if v.strip().lower() in NULL_WORDS else v) for k, v in mapping.items()} if mapping else None,
        optional=_flag(rule.get("optional", "false"), "optional", fail),
    )


def _filter(rule: dict, fail: Callable[[str], LayoutError], header_rows: int = 1) -> RowFilter:
    if "column" not in rule or "keep" not in rule or not rule.get("reason"):
        raise fail(f"a row rule needs column, keep and reason: {rule}")
    skip = rule.get("skip", [])
    return RowFilter(
        column=_column(rule["column"], header_rows, fail),
        keep=frozenset(norm_key(str(v)) for v in rule["keep"]),
        skip=None if skip == "others" else frozenset(norm_key(str(v)) for v in skip),
        reason=str(rule["reason"]).strip(),
    )


def _aggregate(spec: dict | None, fields: dict[str, FieldRule], fail: Callable[[str], LayoutError],
               melt: re.Pattern | None = None, header_rows: int = 1) -> Aggregate | None:
    if spec is None:
        return None
    _known_keys(spec, "aggregate", fail)
    if spec.get("period") not in (None, "month"):
        raise fail("aggregate.period can only be month")
    if spec.get("period") and "period" not in fields and not (melt and "period" in melt.groupindex):
        raise fail("aggregate.period needs a `period` field (a date's month) or a `period` group in melt.columns")
    indicator = fields.get("indicator")
    if indicator and indicator.value is not None:
        indicators = reference.load("indicators").set_index("indicator_code")
        if indicator.value in indicators.index and indicators.at[indicator.value, "additive"] != "yes":
            raise fail(f"{indicator.value} is not additive (observatory/reference/indicators.csv): its records cannot be summed")
    return Aggregate(
        period=spec.get("period"), unique=tuple(_column(column, header_rows, fail) for column in spec.get("unique", [])),
        national_total=_flag(spec.get("national_total", "false"), "aggregate.national_total", fail),
    )
