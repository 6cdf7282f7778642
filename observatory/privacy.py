"""Privacy: a raw file whose columns or values could identify a person is rejected whole.

The data concern survivors and victims of violence, so the pipeline refuses to hold anything
that could identify one: a file with a column named like a name, an ID number, a phone, an
e-mail, an address or a date of birth, or with a cell that looks like one of those, loads
nothing and its receipt names the column and the kind of data found, never the value. The
detectors are data (`reference/personal_data_patterns.csv`); column names are matched in
Python (a header is a few cells), values with Arrow's RE2 regular expressions as each batch of
records is parsed (`ValueScan`), so a file is scanned in one pass; DuckDB's RE2 then says
which detector a flagged column matched.

A source layout may `drop` columns it never reads (case records with names): those are not
checked and never stored, and such a layout only loads counts (the layouts package enforces it).
"""
from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from functools import lru_cache

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from observatory import layouts, reference, staff_forms
from observatory.sqltext import sql_literal
from observatory.textfile import FileRejected

log = logging.getLogger(__name__)

# Canonical columns of raw contract v1 that hold figures and years: a number there is a figure,
# so the patterns that only make sense in text (a grouped number, a dotted ID) skip them.
NUMERIC_COLUMNS = frozenset({"value", "year"})
# A header cell of figures, dates and separators only: data, not a column name (a file without a header).
DATA_LIKE = re.compile(r"[\d\s.,/:+-]+")
# A column label longer than this is not quoted (the message gives its position alone).
MAX_LABEL = 60
# A column named for personal data is named in the message when its name has this many words at
# most ('Nombre de la víctima'): a longer one could hold a person's name after the word.
PERSONAL_COLUMN_WORDS = 4


@dataclass(frozen=True)
class Detector:
    kind: str
    scope: str  # 'any': every column; 'text': not the columns that hold figures or years
    pattern: str


@lru_cache(maxsize=None)
def column_detectors() -> tuple[tuple[str, re.Pattern], ...]:
    table = reference.load("personal_data_patterns")
    rows = table[table["target"] == "column"]
    return tuple((row.kind, re.compile(row.pattern)) for row in rows.itertuples())


@lru_cache(maxsize=None)
def value_detectors() -> tuple[Detector, ...]:
    table = reference.load("personal_data_patterns")
    rows = table[table["target"] == "value"]
    return tuple(Detector(row.kind, row.scope, row.pattern) for row in rows.itertuples())


@lru_cache(maxsize=None)
def _python_value_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((d.kind, re.compile(d.pattern)) for d in value_detectors())


@lru_cache(maxsize=None)
def _kinds() -> dict[str, tuple[str, str]]:
    table = reference.load("personal_data_kinds")
    return {row.kind: (row.name_es, row.name_en) for row in table.itertuples()}


@lru_cache(maxsize=None)
def _union(scope: str) -> str:
    """One RE2 expression for every detector of a scope: a cell is matched once, not once per
    pattern (each alternative keeps its own flags in a group)."""
    patterns = [d.pattern for d in value_detectors() if d.scope == scope]
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def column_kind(name: str) -> str | None:
    """The kind of personal data a column's name says it holds, if any."""
    key = reference.norm_key(name)
    if not key:
        return None
    return next((kind for kind, pattern in column_detectors() if pattern.search(key)), None)


def value_kind(text: str, numeric: bool = False) -> str | None:
    """The kind of personal data a cell looks like (Python side, for single strings)."""
    scopes = {"any"} if numeric else {"any", "text"}
    return next((d.kind for d, (_, pattern) in zip(value_detectors(), _python_value_patterns())
                 if d.scope in scopes and pattern.search(text)), None)


class ValueScan:
    """Which columns hold a cell that looks like personal data, gathered batch by batch while
    the file is parsed. Each column's distinct values are matched, all columns' at once, by one
    RE2 expression per scope: a file repeats its countries, years, indicators and sources on
    every row, and compiling an expression costs more than matching a batch's values.
    Title rows above the header (an institution's contact line is common there) are skipped,
    never stored: the first `skip` non-blank records are not scanned."""

    def __init__(self, skip: int = 0):
        self.skip = skip
        self.hits: dict[str, set[int]] = {"any": set(), "text": set()}

    def add(self, cells: list[pa.Array], nonblank: pa.Array) -> None:
        """`cells`: the batch's columns, without blanks around values, NULL when empty."""
        if self.skip:
            positions = pc.indices_nonzero(nonblank)
            if len(positions) <= self.skip:
                self.skip -= len(positions)
                return
            start = positions[self.skip].as_py()
            cells, self.skip = [cell.slice(start) for cell in cells], 0
        distinct = [pc.drop_null(pc.unique(cell)) for cell in cells]
        if not distinct:
            return
        values = pa.concat_arrays(distinct)
        owners = pa.concat_arrays([pa.array([column] * len(d), pa.int32()) for column, d in enumerate(distinct)])
        for scope, hits in self.hits.items():
            if len(values) and (pattern := _union(scope)):
                matched = pc.match_substring_regex(values, pattern)
                hits.update(pc.unique(pc.filter(owners, matched)).to_pylist())


def check(con: duckdb.DuckDBPyConnection, relation: str, width: int, head: list[list[str]],
          layout: layouts.Layout | None, titles: int, scan: ValueScan) -> None:
    """Raise FileRejected('personal_data') when a column's name or any value of the file's
    records (`relation`: rec, line, c0…c{width-1}; the header rows included; `scan`: what
    its values matched) looks like personal data. Columns the layout drops are left out.
    `head` starts at the header; the `titles` rows above it are counted as skipped."""
    header_rows = layout.header_rows if layout else 1
    header = head[:header_rows]
    dropped, numeric = _positions(layout, header)
    found: dict[int, str] = {}  # position -> kind: every column at fault, so staff mend them all at once
    for position in range(width):
        if position in dropped:
            continue
        kind = next((kind for row in header if position < len(row) and (kind := column_kind(row[position]))), None)
        if kind:
            found[position] = kind
    scanned = f"SELECT * FROM ({relation}) QUALIFY row_number() OVER (ORDER BY rec) > {int(titles)}"
    for position in range(width):
        if position in dropped or position in found:
            continue
        if position in scan.hits["any"] or (position in scan.hits["text"] and position not in numeric):
            found[position] = _kind_of(con, scanned, position, numeric=position in numeric)
    if found:
        raise _rejection(con, relation, header_rows, titles, found, _labels(header, width))


def _kind_of(con: duckdb.DuckDBPyConnection, relation: str, position: int, numeric: bool) -> str:
    """Which detector a column matched (only for the column that matched, so one more query)."""
    detectors = [d for d in value_detectors() if d.scope == "any" or not numeric]
    flags = ", ".join(f"bool_or(regexp_matches(c{position}, {sql_literal(d.pattern)}))" for d in detectors)
    found = con.execute(f"SELECT {flags} FROM ({relation})").fetchall()[0]
    return next((d.kind for d, hit in zip(detectors, found) if hit), detectors[0].kind)


def _positions(layout: layouts.Layout | None, header: list[list[str]]) -> tuple[set[int], set[int]]:
    """(columns the layout drops, columns that hold figures or years)."""
    if layout is None:
        aliases = reference.column_aliases()
        cells = header[0] if header else []
        named = {i: aliases.get(reference.norm_key(cell)) for i, cell in enumerate(cells)}
        numeric = {i for i, column in named.items() if column in NUMERIC_COLUMNS}
        # A wide table's year columns hold figures too (large ones look like ID or phone numbers).
        taken = {i for i, column in named.items() if column}
        return set(), numeric | {c.position for c in staff_forms.year_columns(cells, taken)}
    dropped = {i for row in header for i, cell in enumerate(row) if reference.norm_key(cell) in layout.drop}
    try:
        numeric = layouts.BoundLayout(layout, header).numeric_positions()
    except layouts.LayoutMismatch:
        numeric = set()  # the file is rejected for its columns anyway; scan every column as text
    return dropped, numeric


def _labels(header: list[list[str]], width: int) -> list[str]:
    """Each column as messages name it: its header, unless that header itself looks like
    personal data or data, or is neither a column name the observatory knows (`quotable_column`)
    nor, beside one named exactly, a short name of a kind of personal data ('Nombre de la
    víctima', 'DNI'): then only its position. A file without a header row gives a record there,
    whose cells are not quoted."""
    labels = []
    known = known_columns()
    exact = _exact_names([cell for row in header for cell in row], known)
    for position in range(width):
        name = " ".join(row[position].strip() for row in header if position < len(row) and row[position].strip())
        safe = (name and len(name) <= MAX_LABEL and value_kind(name) is None and not id_like(name)
                and not DATA_LIKE.fullmatch(name)
                and (quotable_column(name, known, misspelt=exact >= 2)
                     or (exact and column_kind(name) and len(name.split()) <= PERSONAL_COLUMN_WORDS)))
        labels.append(f"{name} (#{position + 1})" if safe else f"#{position + 1}")
    return labels


def _rejection(con: duckdb.DuckDBPyConnection, relation: str, header_rows: int, titles: int,
               found: dict[int, str], labels: list[str]) -> FileRejected:
    """The file's rejection: the first column at fault in the message's fields (`column`,
    `kind`), the others after it (`more_es`, `more_en`)."""
    rows = con.execute(f"SELECT count(*) FROM ({relation})").fetchall()[0][0]
    (position, kind), *others = sorted(found.items())
    kind_es, kind_en = _kinds()[kind]
    log.info("personal data (%s) in column(s) %s: file rejected", ", ".join(sorted(set(found.values()))),
             ", ".join(f"#{p + 1}" for p in sorted(found)))
    return FileRejected("personal_data", rows_read=max(0, rows - header_rows - titles),
                        rows_skipped=titles, column=labels[position], kind=kind,
                        kind_es=kind_es, kind_en=kind_en,
                        more_es="".join(f"; también en la columna {labels[p]} ({_kinds()[k][0]})" for p, k in others),
                        more_en="".join(f"; also in column {labels[p]} ({_kinds()[k][1]})" for p, k in others))


# A quarantined cell longer than this is never quoted: a mistyped country, unit or figure is short.
MAX_QUOTED = 40
# How close (difflib's ratio) each word of a cell must be to the same word of a term to be taken
# for its misspelling: 'hondras' is 0.93 from 'honduras'. Words shorter than SHORT_WORD letters
# must match exactly: 'Paz' is not a misspelt PAN, nor 'Ana Lucía' a misspelt Santa Lucía.
NEAR_MISS = 0.8
SHORT_WORD = 5
# Digits in a row that make a cell an ID or a phone number to the quoting rule, detectors or not.
LONG_NUMBER = re.compile(r"\d{7}")
# Digits in all that make a cell an ID or a phone number to the quoting rule, unless it is a
# date or a span of years: '8888-8888', '8-73-1234' (Panama), '001-010190-0001A' (Nicaragua).
MANY_DIGITS = 6
ISO_DATE = re.compile(r"(?P<y>(?:19|20)\d\d)[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[ T]\d{1,2}:\d\d(?::\d\d)?)?")
DAY_FIRST = re.compile(r"(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>(?:19|20)\d\d)(?: \d{1,2}:\d\d(?::\d\d)?)?")
YEAR_SPAN = re.compile(r"(?:19|20)\d\d\s*[-/]\s*(?:19|20)?\d\d")
# The vocabularies of reasons.csv's `quote_near` whose cell, when it is a bare whole number, is a
# fact about one person, not a mistyped term: an age group of `23` is someone's age, and beside
# the date and the district of a case it helps identify her. Such a cell is never quoted.
ONE_PERSON_NUMBERS = frozenset({"age_group"})
WHOLE_NUMBER = re.compile(r"\d+(?:[.,]0+)?")
# What a message shows, and adds, in place of a cell it does not quote.
NOT_QUOTED = "…"
NOT_QUOTED_NOTE_ES = (" (No se cita el contenido de la celda, porque podría identificar a una persona: "
                      "búsquelo en su archivo, en la línea indicada.)")
NOT_QUOTED_NOTE_EN = (" (The cell's content is not quoted, as it could identify a person: find it in your "
                      "file, on the line given.)")


@lru_cache(maxsize=65_536)  # a file repeats its mistakes: one verdict per distinct cell
def quotable(cell: str, vocabularies: str = "", listed: tuple[str, ...] = ()) -> bool:
    """Whether a published message (quarantine, report, receipts, `observatory check`) may quote
    a quarantined cell. A cell typed by mistake can hold a name, and no detector tells a name
    from other words, so a cell with words is quoted only when it is a term of what the message
    is about, or a misspelling of one, word by word: `listed`, the names the message suggests
    or the values the column expects, and the `vocabularies` of reasons.csv's `quote_near`
    (names of `vocabulary`). 'Hondras' is quoted; 'caso de Ana G.', 'Ana Lucía' and 'Paz' are
    not. A cell with one letter at most ('2O14', '12,5%') is quoted unless it looks like a
    phone or an ID number (the detectors, or `id_like`), or is a bare whole number where that
    is one person's (ONE_PERSON_NUMBERS: an age as the age group)."""
    text = cell.strip()
    if not text:
        return True
    if WHOLE_NUMBER.fullmatch(text) and not ONE_PERSON_NUMBERS.isdisjoint(vocabularies.split()):
        return False
    if len(text) > MAX_QUOTED or id_like(text) or value_kind(text) is not None:
        return False
    if sum(ch.isalpha() for ch in text) <= 1:
        return True
    words = reference.norm_key(text).split()
    matchers = [difflib.SequenceMatcher(b=word) for word in words]  # difflib indexes the second text once
    terms = [_keys(listed)] + [_vocabulary_keys(name) for name in vocabularies.split()]
    return any(_misspelt(words, matchers, term) for keys in terms for term in keys.get(len(words), ()))


def written(value: object) -> str:
    """A cell as a quarantine message writes it (95, not 95.0): what the quoting rule judges,
    and what the verdict store judges a failing figure's digits on (verdicts.remember)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def id_like(text: str) -> bool:
    """Whether a cell could be an ID or a phone number whatever the detectors say: seven digits
    in a row, or six digits or more that are not a date (month 1-12, day 1-31, a year of 19xx or
    20xx; a time after it) or a span of years ('2018-2019')."""
    return bool(LONG_NUMBER.search(text)) or (
        sum(ch.isdigit() for ch in text) >= MANY_DIGITS and not _date_or_years(text.strip()))


def _date_or_years(text: str) -> bool:
    if YEAR_SPAN.fullmatch(text):
        return True
    for pattern in (ISO_DATE, DAY_FIRST):
        if found := pattern.fullmatch(text):
            day, month = int(found["d"]), int(found["m"])
            return 1 <= day <= 31 and 1 <= month <= 12 or (pattern is DAY_FIRST and 1 <= month <= 31 and 1 <= day <= 12)
    return False


def _misspelt(words: list[str], matchers: list[difflib.SequenceMatcher], term: tuple[str, ...]) -> bool:
    """Whether each word is the term's word, or a near miss of it when both are long enough."""
    for word, matcher, expected in zip(words, matchers, term):
        if word == expected:
            continue
        if min(len(word), len(expected)) < SHORT_WORD:
            return False
        matcher.set_seq1(expected)
        if matcher.real_quick_ratio() < NEAR_MISS or matcher.quick_ratio() < NEAR_MISS or matcher.ratio() < NEAR_MISS:
            return False
    return True


@lru_cache(maxsize=1024)
def _keys(terms: tuple[str, ...]) -> dict[int, tuple[tuple[str, ...], ...]]:
    """The terms normalized as cells are, split into words, by their number of words."""
    by_words: dict[int, dict[tuple[str, ...], None]] = {}
    for term in terms:
        words = tuple(reference.norm_key(term).split())
        if words:
            by_words.setdefault(len(words), {})[words] = None
    return {count: tuple(keys) for count, keys in by_words.items()}


@lru_cache(maxsize=None)
def _vocabulary_keys(name: str) -> dict[int, tuple[tuple[str, ...], ...]]:
    return _keys(vocabulary(name))


def quotable_column(name: str, known: tuple[str, ...] = (), misspelt: bool = False) -> bool:
    """Whether a message may quote a cell of what a file gives as its header. A file without a
    header row gives a record instead, and names are near misses of column names ('Regina' of
    'región', 'Fuentes' of 'fuente'), so a header cell is quoted when it is a column name the
    observatory knows (`known`, from `known_columns`), a misspelling of one only when the row
    holds two known names exactly (`misspelt`: the row is a header), a year (`2019 (casos)`),
    or one letter at most."""
    year = staff_forms.YEAR_COLUMN.fullmatch(" ".join(name.split()))
    if year:
        return not year["unit"] or quotable(year["unit"].strip(), "unit")
    known = known or known_columns()
    return reference.norm_key(name) in known or quotable(name) or (misspelt and quotable(name, "", known))


def known_columns() -> tuple[str, ...]:
    """Every column name the observatory knows, normalized: raw contract v1's names and aliases
    and those the source layouts read, recognize or drop (not cached: the layouts of a
    deployment change between runs)."""
    names = dict.fromkeys(reference.norm_key(column) for column in vocabulary("column"))
    for layout in layouts.load_all():
        columns = [*layout.header_signature, *layout.drop, *(rule.column for rule in layout.filters),
                   *(rule.column for rule in layout.fields.values())]
        names.update(dict.fromkeys(reference.norm_key(column) for column in columns if isinstance(column, str)))
    return tuple(name for name in names if name)


def header_cells_quotable(cells: list[str]) -> list[bool]:
    """For each cell of a header row, whether a message may quote it (`quotable_column`)."""
    known = known_columns()
    exact = _exact_names(cells, known)
    return [quotable_column(cell, known, misspelt=exact >= 2) for cell in cells]


def _exact_names(cells: list[str], known: tuple[str, ...]) -> int:
    """How many header cells name a known column exactly: two make the row a header, whose
    misspellings of column names may then be quoted."""
    return sum(reference.norm_key(cell) in known for cell in cells)


def vocabulary(name: str) -> tuple[str, ...]:
    """The terms of a vocabulary of reasons.csv's `quote_near`: a dimension of value_aliases.csv
    (sex, status …), `unit`, `month`, `missing`, `country`, `indicator`, `instrument_type`,
    `column` (raw contract v1's columns) or `row_marker` (the words a total or note row starts
    with), each the codes, names and aliases the reference data give it."""
    return _vocabularies()[name]


@lru_cache(maxsize=None)
def _vocabularies() -> dict[str, tuple[str, ...]]:
    values, columns = reference.load("value_aliases"), reference.load("column_aliases")
    terms = {dimension: tuple(group["alias"]) + tuple(group["code"]) for dimension, group in values.groupby("dimension")}
    own = {
        "unit": tuple(reference.load("unit_aliases")["alias"]) + tuple(reference.load("units")["unit"]),
        "month": tuple(reference.load("months")["name"]),
        "column": tuple(columns["alias"]) + tuple(columns["column"]),
        "missing": tuple(reference.load("missing_tokens")["token"]),
        "country": tuple(reference.country_aliases()["alias"]),
        "indicator": tuple(reference.indicator_aliases()["alias"]),
        "instrument_type": tuple(reference.keyed("instrument_type_aliases")["alias"])
        + tuple(reference.load("instrument_types")["instrument_type"]),
        "row_marker": tuple(reference.load("row_markers")["marker"]),
    }
    clash = set(terms) & set(own)
    if clash:
        raise ValueError(f"value_aliases.csv: dimension {sorted(clash)} is also a vocabulary of quote_near: rename it")
    return terms | own
