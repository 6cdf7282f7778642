"""Read, part two: source layouts. A layout is a YAML file in `observatory/layouts/` that turns
one kind of published file (a wide table, a file without a header, case records, an export of
CEPALSTAT or the SDG database) into canonical rows, so adding a source is a data change.

This module loads the layouts, recognizes a file by its header (or, for files without one, by
its name, width and first cells), and binds a layout to a file's header to produce records.
Every record keeps the line it came from; what a layout leaves out by design is counted as
skipped, with the layout's stated reason, never silently dropped.
"""
from __future__ import annotations

import fnmatch
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import yaml

from observatory import months, reference
from observatory.reference import norm_key
from observatory.textfile import HEAD_RECORDS

log = logging.getLogger(__name__)

LAYOUTS_DIR = Path(__file__).parent / "layouts"
# The deployment's own layouts, beside the built-in ones: adding a source never touches the code.
DEPLOYMENT_DIR_ENV = "OBSERVATORY_LAYOUTS_DIR"
DEPLOYMENT_DIR_DEFAULT = Path(__file__).resolve().parents[1] / "data" / "layouts"
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
        if self.path.parent == LAYOUTS_DIR:
            return f"observatory/layouts/{self.path.name}"
        return str(self.path)


# --- loading -----------------------------------------------------------------------------

def deployment_dir() -> Path:
    """The deployment's own layouts: OBSERVATORY_LAYOUTS_DIR, default data/layouts/."""
    return Path(os.environ.get(DEPLOYMENT_DIR_ENV) or DEPLOYMENT_DIR_DEFAULT)


def deployment_files() -> list[Path]:
    folder = deployment_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def load_all(folder: Path | None = None) -> tuple[Layout, ...]:
    """Every layout, the most specific first (longest header signature): the built-in ones
    and the deployment's (a malformed one of those is reported and skipped), or only those of
    `folder`. Parsed once per folder and content."""
    if folder is not None:
        return _load(folder)
    deployment, _ = _load_deployment(_stamp(deployment_files()))
    return _most_specific_first([*_load(LAYOUTS_DIR), *deployment])


def layout_errors() -> list[str]:
    """Why each malformed (or clashing) layout of the deployment's folder was skipped."""
    files = deployment_files()
    return list(_load_deployment(_stamp(files))[1]) if files else []


def _most_specific_first(layouts: list[Layout]) -> tuple[Layout, ...]:
    return tuple(sorted(layouts, key=lambda layout: (-len(layout.header_signature), layout.name)))


@lru_cache(maxsize=None)
def _load(folder: Path) -> tuple[Layout, ...]:
    return _most_specific_first([_parse(path) for path in sorted(folder.glob("*.yaml"))])


def _stamp(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """What the deployment's layouts look like now: a changed file is parsed again."""
    return tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in paths)


@lru_cache(maxsize=8)
def _load_deployment(stamp: tuple[tuple[str, int, int], ...]) -> tuple[tuple[Layout, ...], tuple[str, ...]]:
    """The deployment's layouts that parse, and a message for each one that does not (or
    whose name a built-in layout already has); logged once per content."""
    builtin = {layout.name for layout in _load(LAYOUTS_DIR)}
    found, errors = [], []
    for name, _, _ in stamp:
        path = Path(name)
        try:
            layout = _parse(path)
        except LayoutError as error:
            errors.append(str(error))
            continue
        if layout.name in builtin:
            errors.append(f"{path.name}: a built-in layout is already named '{layout.name}': rename it (edit {path})")
            continue
        found.append(layout)
    for error in errors:
        log.warning("layout skipped / formato de fuente omitido: %s", error)
    return tuple(found), tuple(errors)


def install(con) -> None:
    """ref_source_layout: one row per layout with its provenance (published as source_layout)."""
    import pandas as pd

    frame = pd.DataFrame([
        {"layout": layout.name, "description": layout.description,
         **{key: str(layout.provenance.get(key, "")) for key in ("producer", "citation", "url", "licence", "accessed")}}
        for layout in load_all()
    ], columns=["layout", "description", "producer", "citation", "url", "licence", "accessed"])
    reference.save_table(con, "ref_source_layout", frame)


def by_name(name: str) -> Layout | None:
    return next((layout for layout in load_all() if layout.name == name), None)


def recognize(file_name: str, head: list[list[str]]) -> Layout | None:
    return next((layout for layout in load_all() if layout.recognizes(file_name, head)), None)


def nearest(header: list[str]) -> tuple[Layout | None, float]:
    """The layout whose signature the header comes closest to, and how close (0-1)."""
    scored = [(layout.overlap(header), layout) for layout in load_all() if layout.header_signature]
    if not scored:
        return None, 0.0
    score, layout = max(scored, key=lambda pair: pair[0])
    return (layout, score) if score > 0 else (None, 0.0)


def sheet_for(file_name: str, sheet_names: list[str], head_of: Callable[[str], list[list[str]]]) -> str | None:
    """The sheet of a workbook that a layout names and recognizes; None: read the first sheet."""
    for layout in load_all():
        if layout.sheet in sheet_names and layout.recognizes(file_name, head_of(layout.sheet)):
            return layout.sheet
    return None


def _parse(path: Path) -> Layout:
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


# --- applying a layout to a file ----------------------------------------------------------

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
                cells[position].strip() if position < len(cells) else "" for position in self.unique
            )
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


def _date_part(text: str, fmt: str, part: str) -> str | None:
    """'10/24/2016' with '%m/%d/%Y' -> '2016' (year) or '2016-10' (month); an ISO date (how a
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
    return f"{parsed.year:04d}" if part == "year" else f"{parsed.year:04d}-{parsed.month:02d}"
