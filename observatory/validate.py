"""Validate: run the Great Expectations suite of `expectations/` on harmonized rows (on each
distinct combination of the cells its expectations read, or row by row in batches), and turn
every failing row into a quarantine problem with its reason code.

Great Expectations runs in a child process (validate_worker.py): importing it costs seconds,
which then overlap the rest of the run; this process never imports it. The suites are read here
as the JSON files they are, so that reviewers and the quarantine messages read one place.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from observatory import interrupts, observation_key, privacy, reference, staff_forms, validate_worker, verdicts
from observatory.staging import HARMONIZED_TABLES, PROBLEM_SCHEMA
from observatory.settings import Settings
from observatory.sqltext import registered, sql_identifier

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"
FIRST_LINES = 5
# Expectation types whose verdict on a row depends on nothing but that row's cells in the
# columns they name. For a suite made only of these (and without a row_condition), GX checks
# each distinct combination of those cells once instead of every row (_distinct_failing); any
# other type (uniqueness, an aggregate) has the suite checked row by row.
ROW_WISE = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between", "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex", "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal", "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_equal",
})

# Expectation types whose verdict depends only on whether the cell is empty: a column checked by
# these alone is handed to GX, and remembered, as empty or not (`_cell`), never as the text a
# file gave (a raw country or title as typed can hold a name typed by mistake).
NULL_CHECKS = frozenset({"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"})
# Figures a file gives: a failing one that could be an ID or a phone is not remembered.
FILE_FIGURES = frozenset({"value"})
# A count that reads like one thousand and more (1.234, 12.345) written with the thousands
# separator the file does not take for one: a point where the decimal mark is a point, a comma
# where it is a comma (a `;` file). As a count it may well be 1234 typed with that separator.
THOUSANDS = {".": re.compile(r"[+-]?\d{1,3}\.\d{3}"), ",": re.compile(r"[+-]?\d{1,3},\d{3}")}
# A figure with a percent sign after it, blanks aside (`10,5 %`, `10.5%`): what Excel writes to a
# CSV for a cell formatted as a percent. Not read as a number (the value column takes numbers):
# its message says to write the number without the sign (value_not_numeric:percent_sign).
PERCENT_SIGN = re.compile(r"[+-]?[\d.,]*\d%")


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str
    reason_code: str
    failed_rows: int = 0
    first_lines: list[str] = field(default_factory=list)


@dataclass
class ValidationSummary:
    suite: str
    rows_checked: int = 0
    rows_quarantined: int = 0
    duplicate_rows: int = 0
    expectations: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if e.failed_rows]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Suite:
    """A suite of `expectations/` as its JSON says (GX builds it, in the worker, from `definition`)."""

    name: str
    definition: dict

    @property
    def expectations(self) -> list[dict]:
        return self.definition["expectations"]


def load_suite(expectations_dir: Path, name: str) -> Suite:
    definition = json.loads((expectations_dir / f"{name}.json").read_text())
    return Suite(definition["name"], definition)


def expectation_parameters(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
    """Reference sets filled in at run time, never copied by hand into the suite's JSON."""
    def codes(sql: str) -> list[str]:
        return [row[0] for row in con.execute(sql).fetchall()]

    return {
        "country_codes": codes("SELECT country_iso3 FROM ref_country ORDER BY country_iso3"),
        "indicator_codes": codes("SELECT indicator_code FROM ref_indicator ORDER BY indicator_code"),
        "instrument_types": codes("SELECT instrument_type FROM ref_instrument_type ORDER BY instrument_type"),
        "min_year": settings.min_year,
        "max_year": settings.max_year,
        "min_date": pd.Timestamp(settings.min_year, 1, 1),
        "max_date": pd.Timestamp(settings.max_year, 12, 31),
    }


def validate(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[ValidationSummary]:
    """Quarantine problems for every failing staged row into `stage_problem`, one suite per
    dataset kind; then the within-file duplicates of observations."""
    validate_worker.configure(settings.max_file_seconds)
    parameters = expectation_parameters(con, settings)
    files = _file_dialects(con)
    summaries = []
    try:
        for kind, table in HARMONIZED_TABLES.items():
            suite = load_suite(settings.expectations_dir, kind)
            summaries.append(_validate_table(con, table, suite, parameters, files, settings))
    finally:
        if not settings.keep_validation_worker:
            validate_worker.discard()  # a run validates once: the worker's memory goes back now
    observations, instruments = summaries  # in the order of HARMONIZED_TABLES
    before = _problem_count(con)
    con.execute((SQL_DIR / "non_additive_sums.sql").read_text())
    observations.rows_quarantined += _problem_count(con) - before
    before = _problem_count(con)
    con.execute(observation_key.sql_file(SQL_DIR / "within_file_duplicates.sql"))
    observations.duplicate_rows = _problem_count(con) - before
    observations.rows_quarantined += observations.duplicate_rows
    before = _problem_count(con)
    con.execute((SQL_DIR / "within_file_instrument_duplicates.sql").read_text())
    instruments.duplicate_rows = _problem_count(con) - before
    instruments.rows_quarantined += instruments.duplicate_rows
    for summary in summaries:
        log.info("%s: %d rows validated, %d quarantined", summary.suite, summary.rows_checked, summary.rows_quarantined)
    return summaries


def _validate_table(con, table: str, suite: Suite, parameters: dict, files: dict, settings: Settings) -> ValidationSummary:
    """GX's verdicts on every row of `table` (as `_failing`: position of the expectation, row
    id), then one quarantine problem per failing row, with its first failed expectation's reason."""
    # Not a TEMP table: the cursor streaming the failing rows must see it.
    con.execute("CREATE OR REPLACE TABLE _failing (position INTEGER, row_id BIGINT)")
    try:
        return _failing_to_problems(con, table, suite, parameters, files, settings)
    finally:
        try:
            con.execute("DROP TABLE IF EXISTS _failing")
        except duckdb.Error:  # only when the run fails already: the next run replaces the table
            log.warning("could not drop _failing")


def _failing_to_problems(con, table: str, suite: Suite, parameters: dict, files: dict,
                         settings: Settings) -> ValidationSummary:
    summary = ValidationSummary(suite=suite.name)
    components = row_wise_components(suite)
    if components is not None:
        try:
            summary.rows_checked = _distinct_failing(con, table, suite, parameters, components, settings)
        except validate_worker.ValidatorBroken:
            raise  # GX or a suite is broken: the run fails, no file is to blame
        except Exception as error:  # noqa: BLE001 - row by row, where a file GX fails on is set aside alone
            interrupts.reraise(error)  # Ctrl+C during a DuckDB query: the run stops
            # The type only: an exception's text can quote a cell.
            log.warning("validation failed on the distinct values (%s): validating row by row", type(error).__name__)
            con.execute("DELETE FROM _failing")
            components = None
    if components is None:
        summary.rows_checked = _batch_failing(con, table, suite, parameters, settings)
    summary.expectations = _outcomes(con, table, suite)
    summary.rows_quarantined = _quarantine_failing(con, table, suite, parameters, files, settings.validation_batch_rows)
    return summary


def row_wise_components(suite: Suite) -> list[list[str]] | None:
    """The columns of a suite's expectations, grouped so that an expectation's columns are in
    one group and no column is in two; None when an expectation is not row-wise (or reads
    row_id, which numbers the frame's rows)."""
    groups: list[set[str]] = []
    for expectation in suite.expectations:
        kwargs = expectation["kwargs"]
        if expectation["type"] not in ROW_WISE or kwargs.get("row_condition"):
            return None
        columns = set(_columns_named(kwargs))
        if "row_id" in columns:
            return None
        groups = [group for group in groups if not group & columns] + [
            columns.union(*(group for group in groups if group & columns))]
    return [sorted(group) for group in groups]


def _distinct_failing(con, table: str, suite: Suite, parameters: dict, components: list[list[str]],
                      settings: Settings) -> int:
    """GX checks each distinct combination of a group's cells once, and only once across runs:
    a combination it judged before (same suite, parameters and versions, verdicts.py) keeps its
    verdict, and when every combination was judged before GX is not started at all. Returns
    the rows checked."""
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    if not rows:
        return 0
    emptiness = null_checked_only(suite)
    combinations = [con.sql(f"SELECT DISTINCT {', '.join(_cell(name, emptiness) + ' AS ' + sql_identifier(name) for name in columns)} "
                            f"FROM {table}").to_arrow_table()
                    for columns in components]
    stores = verdicts.stores(con, table, suite.name, suite.definition, parameters, components,
                             fresh=settings.revalidate_all)
    failing: list[dict[int, set[int]]] = [{} for _ in components]  # group -> position -> combinations
    unjudged = []
    for group, (store, found) in enumerate(zip(stores, combinations)):
        failures, never = verdicts.recall(con, store, found)
        for index, position in zip(failures.column("index").to_pylist(), failures.column("position").to_pylist()):
            failing[group].setdefault(position, set()).add(index)
        unjudged.append(never)
    if any(len(indexes) for indexes in unjudged):
        new = [found.take(indexes) for found, indexes in zip(combinations, unjudged)]
        # A group with nothing to judge lends its first combination to the frame; its verdicts are not kept.
        judged = _judge(suite, parameters, [part if part.num_rows else found.slice(0, 1)
                                            for part, found in zip(new, combinations)],
                        components, settings.validation_batch_rows)
        for group, by_position in enumerate(judged):
            if not new[group].num_rows:
                continue
            verdicts.remember(con, stores[group], new[group], pa.table({
                "index": pa.array([index for indexes in by_position.values() for index in indexes], pa.int64()),
                "position": pa.array([position for position, indexes in by_position.items() for _ in indexes], pa.int32()),
            }), private=[name for name in components[group] if name in FILE_FIGURES])
            original = unjudged[group].to_pylist()
            for position, indexes in by_position.items():
                failing[group].setdefault(position, set()).update(original[index] for index in indexes)
    for group, by_position in enumerate(failing):
        _insert_failing(con, table, combinations[group], by_position, emptiness)
    return rows


def null_checked_only(suite: Suite) -> set[str]:
    """The columns whose every expectation only asks whether a cell is empty."""
    checks: dict[str, set[str]] = {}
    for expectation in suite.expectations:
        for name in _columns_named(expectation["kwargs"]):
            checks.setdefault(name, set()).add(expectation["type"])
    return {name for name, types in checks.items() if types <= NULL_CHECKS}


def _cell(name: str, emptiness: set[str], prefix: str = "") -> str:
    """A column as GX and the verdict store see it: true or NULL (empty) for a column checked
    only for emptiness, the cell itself otherwise."""
    column = prefix + sql_identifier(name)
    return f"({column} IS NOT NULL OR NULL)" if name in emptiness else column


def _judge(suite: Suite, parameters: dict, combinations: list[pa.Table], components: list[list[str]],
           batch_rows: int) -> list[dict[int, set[int]]]:
    """GX's verdicts on each group's combinations: group -> position -> indexes of the
    combinations failing it. Its frame lays the groups side by side, each group's combinations
    repeated end to end up to the longest group's count, so one validation covers them all; an
    expectation reads only its group's columns, so its verdict on a frame row is its verdict on
    that combination."""
    group_of = {}
    for number, columns in enumerate(components):
        group_of.update(dict.fromkeys(columns, number))
    failing: list[dict[int, set[int]]] = [{} for _ in components]
    longest = max(found.num_rows for found in combinations)
    for start in range(0, longest, batch_rows):
        ids = pa.array(range(start, min(longest, start + batch_rows)), pa.int64())
        frame = pa.table({"row_id": ids, **{
            name: column for found in combinations
            for name, column in zip(found.column_names, found.take(pc.modulo(ids, found.num_rows)).columns)
        }}).to_pandas()
        frame.index = frame["row_id"].rename(None)
        for position, frame_rows in failing_rows(suite, frame, parameters).items():
            group = group_of[_columns_named(suite.expectations[position]["kwargs"])[0]]
            size = combinations[group].num_rows
            failing[group].setdefault(position, set()).update(row % size for row in frame_rows)
    return failing


def _insert_failing(con, table: str, combinations: pa.Table, by_position: dict[int, set[int]],
                    emptiness: set[str]) -> None:
    """Every row of `table` whose cells are a failing combination, as (position, row id)."""
    pairs = [(position, index) for position, indexes in by_position.items() for index in sorted(indexes)]
    if not pairs:
        return
    failed = combinations.take(pa.array([index for _, index in pairs], pa.int64())).append_column(
        "_position", pa.array([position for position, _ in pairs], pa.int32()))
    same = " AND ".join(f"{_cell(name, emptiness, 't.')} IS NOT DISTINCT FROM f.{sql_identifier(name)}"
                        for name in combinations.column_names)
    with registered(con, "_failed_combinations", failed):
        con.execute(f"INSERT INTO _failing SELECT f._position, t.row_id FROM {table} AS t "
                    f"JOIN _failed_combinations AS f ON {same}")


def _batch_failing(con, table: str, suite: Suite, parameters: dict, settings: Settings) -> int:
    """GX on every row, a bounded batch at a time, seeing only the columns its expectations
    name (and row_id, by which it reports failing rows). Returns the rows checked."""
    columns = ", ".join(map(sql_identifier, sorted({*suite_columns(suite), "file_id"})))
    # A second cursor streams the rows while the first one writes what fails.
    reader = con.cursor().sql(f"SELECT {columns} FROM {table}").to_arrow_reader(
        settings.validation_batch_rows
    )
    rejected: set[int] = set()  # files set aside in an earlier batch: the reader still has their rows
    checked = 0
    for record_batch in _regrouped(reader, settings.validation_batch_rows):
        frame = record_batch.to_pandas().set_index("row_id", drop=False)
        frame.index.name = None  # GX then reports failing rows by bare row_id
        if rejected:
            frame = frame[~frame["file_id"].isin(rejected)]
        failing = _failing_by_file(con, table, suite, frame, parameters, rejected)
        checked += len(frame)
        pairs = pa.table({
            "position": pa.array([p for p, ids in failing.items() for _ in ids], pa.int32()),
            "row_id": pa.array([i for ids in failing.values() for i in ids], pa.int64()),
        })
        with registered(con, "_failing_batch", pairs):
            con.execute("INSERT INTO _failing SELECT * FROM _failing_batch")
    return checked


def _outcomes(con, table: str, suite: Suite) -> list[ExpectationOutcome]:
    """Per expectation: its rows failing (of files still staged) and the first few lines."""
    counts = dict(con.execute(f"SELECT position, count(*) FROM _failing SEMI JOIN {table} USING (row_id) "
                              "GROUP BY position").fetchall())
    first: dict[int, list[str]] = {}
    for position, where in con.execute(f"""
            SELECT position, file_path || ':' || line FROM (
                SELECT f.position, t.file_path, t.line, f.row_id,
                       row_number() OVER (PARTITION BY f.position ORDER BY f.row_id) AS n
                FROM _failing AS f JOIN {table} AS t USING (row_id))
            WHERE n <= {FIRST_LINES} ORDER BY position, row_id""").fetchall():
        first.setdefault(position, []).append(where)
    return [
        ExpectationOutcome(expectation=expectation["type"], column=_columns_of(expectation["kwargs"]),
                           reason_code=expectation["meta"]["reason_code"], failed_rows=counts.get(position, 0),
                           first_lines=first.get(position, []))
        for position, expectation in enumerate(suite.expectations)
    ]


def _quarantine_failing(con, table: str, suite: Suite, parameters: dict, files: dict, batch_rows: int) -> int:
    """One problem per failing row, with the reason of the first expectation it fails (the
    suite's order), a bounded batch of rows at a time. Returns the rows quarantined."""
    reader = con.cursor().sql(f"""
        SELECT t.*, f._position FROM {table} AS t
        JOIN (SELECT row_id, min(position) AS _position FROM _failing GROUP BY row_id) AS f USING (row_id)
        ORDER BY row_id""").to_arrow_reader(batch_rows)
    quarantined = 0
    for batch in reader:
        rows = batch.to_pylist()
        _stage_problems(con, rows, suite, parameters, files)
        quarantined += len(rows)
    return quarantined


class ValidationFailed(Exception):
    """Great Expectations could not evaluate an expectation on a batch (its error, not a row's)."""


def failing_rows(suite: Suite, frame: pd.DataFrame, parameters: dict) -> dict[int, list[int]]:
    """Position of each expectation in the suite -> row_ids of the rows that fail it. An
    expectation GX could not evaluate raises: unchecked rows must never pass as valid."""
    try:
        return validate_worker.shared().failing_rows(suite.definition, frame, parameters)
    except validate_worker.WorkerFailed as error:
        raise ValidationFailed(str(error)[:200]) from None


def _failing_by_file(con, table: str, suite: Suite, frame: pd.DataFrame, parameters: dict,
                     rejected: set[int]) -> dict[int, list[int]]:
    """The batch's failing rows; when GX fails on the batch, it is validated file by file and a
    file GX fails on is rejected whole (internal_error), so one file never stops the others."""
    try:
        return failing_rows(suite, frame, parameters)
    except validate_worker.ValidatorBroken:
        raise  # GX or a suite is broken: the run fails, no file is to blame
    except Exception as error:  # noqa: BLE001
        interrupts.reraise(error)
        log.warning("validation failed on a batch (%s): validating it file by file", type(error).__name__)
    failing: dict[int, list[int]] = {}
    for file_id, part in frame.groupby("file_id", sort=True):
        try:
            for position, row_ids in failing_rows(suite, part, parameters).items():
                failing.setdefault(position, []).extend(row_ids)
        except validate_worker.ValidatorBroken:
            raise
        except Exception as error:  # noqa: BLE001
            interrupts.reraise(error)
            _reject_file(con, table, int(file_id), error)
            rejected.add(int(file_id))
    return failing


def _reject_file(con, table: str, file_id: int, error: BaseException) -> None:
    """Set a whole file aside: its staged rows and problems go, one rejection takes their place."""
    log.warning("internal error while validating file %d: %s", file_id, type(error).__name__)
    con.execute("DELETE FROM stage_problem WHERE file_id = ?", [file_id])
    con.execute(f"DELETE FROM {table} WHERE file_id = ?", [file_id])
    con.execute("UPDATE stage_file SET rejected = true WHERE file_id = ?", [file_id])
    con.execute("INSERT INTO stage_problem VALUES (?, NULL, NULL, 'internal_error', ?)",
                [file_id, json.dumps({"step": "validación / validation", "error": type(error).__name__})])


def _regrouped(reader: pa.RecordBatchReader, rows: int):
    """Batches of `rows` rows: DuckDB's reader hands out ~120k-row batches whatever it is asked,
    and every GX validation has a fixed cost."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def suite_columns(suite: Suite) -> list[str]:
    """The columns a suite's expectations read, and row_id."""
    names = {"row_id"}
    for expectation in suite.expectations:
        names.update(_columns_named(expectation["kwargs"]))
    return sorted(names)


def _columns_named(kwargs: dict) -> list[str]:
    return [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]


def _stage_problems(con, failing: list[dict], suite: Suite, parameters: dict, files: dict) -> None:
    rows = []
    for row in failing:
        meta = suite.expectations[row["_position"]]["meta"]
        details = _details(row, meta, parameters, files[int(row["file_id"])])
        rows.append({"file_id": row["file_id"], "row_id": row["row_id"], "line": row["line"],
                     "reason_code": meta["reason_code"], "details": json.dumps(details)})
    problems = pa.Table.from_pylist(rows, schema=PROBLEM_SCHEMA)
    with registered(con, "_problems", problems):
        con.execute("INSERT INTO stage_problem SELECT * FROM _problems")


def _details(row: dict, meta: dict, parameters: dict, dialect: tuple[str, str]) -> dict:
    """What the message templates may quote: the cell that failed and the rule it failed.
    Free-text cells (notes) are never quoted."""
    delimiter, decimal_mark = dialect
    comma = decimal_mark == ","
    return {
        "raw": _text(row.get(meta["raw_column"])),
        "suggestions": _text(row.get(meta.get("suggestions", ""))) or "—",
        "indicator": _text(row.get("indicator_code")),
        "value": _text(row.get("value")),
        "range_min": _text(row.get("range_min")),
        "range_max": _text(row.get("range_max")) or "∞",
        "expected": _text(row.get("unit")),
        # the indicator's unit as staff write it in each language (units.csv), not its code
        "expected_es": _unit_name(_text(row.get("unit")), "name_es"),
        "expected_en": _unit_name(_text(row.get("unit")), "name_en"),
        "min_year": parameters["min_year"],
        "max_year": parameters["max_year"],
        "delimiter": {"\t": "tab"}.get(delimiter, delimiter),
        "where_es": "En esta hoja de cálculo" if delimiter == "xlsx" else
                    f"En este archivo (separado por «{ {chr(9): 'tabulador'}.get(delimiter, delimiter) }»)",
        "where_en": "In this spreadsheet" if delimiter == "xlsx" else
                    f"In this file (separated by '{ {chr(9): 'tab'}.get(delimiter, delimiter) }')",
        "decimal_mark": decimal_mark,
        "grouping_es": " y el punto agrupa miles (12.345 = doce mil trescientos cuarenta y cinco)" if comma else "",
        "grouping_en": " and the dot groups thousands (12.345 = twelve thousand three hundred forty-five)" if comma else "",
        **_thousands_hint(_text(row.get("value_raw")), decimal_mark),
        **_variant(meta["reason_code"], _text(row.get(meta["raw_column"]))),
    }


def _variant(reason_code: str, raw: str) -> dict[str, str]:
    """Another message for the same reason (reasons.csv's row `<code>:<variant>`) when the
    cell's shape says what staff meant:
    - unknown_country:total_or_note: a cell that starts like a total or a note under the table
      (`Total`, `Fuente: …`, reference/row_markers.csv) is not a misspelt country; the marker
      named is the list's word, never the rest of the cell;
    - value_not_numeric:percent_sign: a figure with a percent sign (PERCENT_SIGN);
    - invalid_age_group:single_age: one person's age as the age group."""
    if reason_code == "unknown_country" and (marker := staff_forms.row_marker(raw)):
        return {"variant": "total_or_note", "marker": marker}
    if reason_code == "value_not_numeric" and PERCENT_SIGN.fullmatch("".join(raw.split())):
        return {"variant": "percent_sign"}
    # A bare whole number as the age group (`23`, `23.0`): one person's age, as a case file with a
    # row per victim gives it, not a group (`15-29`, `15+`); the message quotes no age, as
    # privacy.quotable would not either.
    if reason_code == "invalid_age_group" and privacy.WHOLE_NUMBER.fullmatch(raw.strip()):
        return {"variant": "single_age"}
    return {}


def _thousands_hint(raw: str, decimal_mark: str) -> dict[str, str]:
    """For value_not_whole: a count that reads like 1.234 (or 1,234 where the comma is the
    decimal mark, in a file separated by `;`) is most likely 1234 written with a thousands
    separator. The hint names no cell (the message quotes it, or hides it)."""
    mark = "," if decimal_mark == "," else "."
    if not THOUSANDS[mark].fullmatch("".join(raw.split())):
        return {"thousands_es": "", "thousands_en": ""}
    mark_es, mark_en = {".": ("el punto", "the point"), ",": ("la coma", "the comma")}[mark]
    return {"thousands_es": f" Si {mark_es} separa los miles (por ejemplo, 1{mark}234 por mil doscientos treinta y cuatro), "
                            f"escriba el número sin {mark_es} (en ese ejemplo, 1234)"
                            + (": en este archivo la coma es la marca decimal." if mark == "," else "."),
            "thousands_en": f" If {mark_en} separates thousands (for example, 1{mark}234 for one thousand two hundred "
                            f"thirty-four), write the number without {mark_en} (in that example, 1234)"
                            + (": in this file the comma is the decimal mark." if mark == "," else ".")}


@lru_cache(maxsize=None)
def _unit_name(unit: str, language: str) -> str:
    names = reference.load("units").set_index("unit")[language]
    return str(names.get(unit, unit))


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return privacy.written(value)


def _columns_of(kwargs: dict) -> str:
    return " / ".join(_columns_named(kwargs))


def _file_dialects(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, str]]:
    return {fid: (d, m) for fid, d, m in con.execute("SELECT file_id, delimiter, decimal_mark FROM stage_file").fetchall()}


def _problem_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM stage_problem").fetchall()[0][0]
