"""Validate: run the Great Expectations suite of `expectations/` on harmonized rows, in
batches, and turn every failing row into a quarantine problem with its reason code.

Great Expectations runs in a child process (validate_worker.py): importing it costs seconds,
which then overlap the rest of the run; this process never imports it. The suites are read here
as the JSON files they are, so that reviewers and the quarantine messages read one place.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from observatory import validate_worker
from observatory.settings import Settings

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"
FIRST_LINES = 5
# Dataset kind (= suite name in expectations/) -> its harmonized stage table.
HARMONIZED_TABLES = {"observation": "stage_harmonized", "policy_instrument": "stage_policy_harmonized"}


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
        "country_codes": codes("SELECT country_iso3 FROM ref_country"),
        "indicator_codes": codes("SELECT indicator_code FROM ref_indicator"),
        "instrument_types": codes("SELECT instrument_type FROM ref_instrument_type"),
        "min_year": settings.min_year,
        "max_year": settings.max_year,
        "min_date": pd.Timestamp(settings.min_year, 1, 1),
        "max_date": pd.Timestamp(settings.max_year, 12, 31),
    }


def validate(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[ValidationSummary]:
    """Quarantine problems for every failing staged row into `stage_problem`, one suite per
    dataset kind; then the within-file duplicates of observations."""
    validate_worker.configure(settings.max_file_seconds)
    validate_worker.shared()  # started now if no run started it early
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
    observations = summaries[0]
    before = _problem_count(con)
    con.execute((SQL_DIR / "non_additive_sums.sql").read_text())
    observations.rows_quarantined += _problem_count(con) - before
    before = _problem_count(con)
    con.execute((SQL_DIR / "within_file_duplicates.sql").read_text())
    observations.duplicate_rows = _problem_count(con) - before
    observations.rows_quarantined += observations.duplicate_rows
    for summary in summaries:
        log.info("%s: %d rows validated, %d quarantined", summary.suite, summary.rows_checked, summary.rows_quarantined)
    return summaries


def _validate_table(con, table: str, suite: Suite, parameters: dict, files: dict, settings: Settings) -> ValidationSummary:
    """GX sees only the columns its expectations name (and row_id, by which it reports failing
    rows), a bounded batch at a time; the rest of a failing row is fetched for its message."""
    summary = ValidationSummary(suite=suite.name)
    outcomes = [
        ExpectationOutcome(expectation=expectation["type"], column=_columns_of(expectation["kwargs"]),
                           reason_code=expectation["meta"]["reason_code"])
        for expectation in suite.expectations
    ]
    columns = ", ".join(sorted({*suite_columns(suite), "file_id"}))
    # A second cursor streams the rows while the first one writes problems.
    reader = con.cursor().sql(f"SELECT {columns} FROM {table}").to_arrow_reader(
        settings.validation_batch_rows
    )
    rejected: set[int] = set()  # files set aside in an earlier batch: the reader still has their rows
    for record_batch in _regrouped(reader, settings.validation_batch_rows):
        frame = record_batch.to_pandas().set_index("row_id", drop=False)
        frame.index.name = None  # GX then reports failing rows by bare row_id
        if rejected:
            frame = frame[~frame["file_id"].isin(rejected)]
        failing = _failing_by_file(con, table, suite, frame, parameters, rejected)
        summary.rows_checked += len(frame)
        first_reason: dict[int, dict] = {}
        failing_by_expectation: list[tuple[ExpectationOutcome, list[int]]] = []
        for position, expectation in enumerate(suite.expectations):  # in order: the first failure is the reason
            row_ids = failing.get(position, [])
            outcome = outcomes[position]
            outcome.failed_rows += len(row_ids)
            failing_by_expectation.append((outcome, row_ids[: max(0, FIRST_LINES - len(outcome.first_lines))]))
            for row_id in row_ids:
                first_reason.setdefault(row_id, expectation["meta"])
        if not first_reason:
            continue
        rows = _failing_rows(con, table, list(first_reason))
        for outcome, row_ids in failing_by_expectation:
            outcome.first_lines += [f"{rows[row_id]['file_path']}:{rows[row_id]['line']}" for row_id in row_ids]
        _stage_problems(con, rows, first_reason, parameters, files)
        summary.rows_quarantined += len(first_reason)
    summary.expectations = outcomes
    return summary


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
        log.warning("validation failed on a batch (%s): validating it file by file", type(error).__name__)
    failing: dict[int, list[int]] = {}
    for file_id, part in frame.groupby("file_id", sort=True):
        try:
            for position, row_ids in failing_rows(suite, part, parameters).items():
                failing.setdefault(position, []).extend(row_ids)
        except validate_worker.ValidatorBroken:
            raise
        except Exception as error:  # noqa: BLE001
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
        kwargs = expectation["kwargs"]
        names.update(kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs)
    return sorted(names)


def _failing_rows(con, table: str, row_ids: list[int]) -> dict[int, dict]:
    """row_id -> the whole failing row (as Python values: only failing rows are fetched)."""
    con.register("_failing_ids", pa.table({"row_id": pa.array(row_ids, pa.int64())}))
    try:
        rows = con.sql(f"SELECT t.* FROM {table} AS t JOIN _failing_ids USING (row_id)").to_arrow_table().to_pylist()
    finally:
        con.unregister("_failing_ids")
    return {row["row_id"]: row for row in rows}


def _stage_problems(con, failing: dict[int, dict], first_reason: dict[int, dict], parameters: dict, files: dict) -> None:
    rows = []
    for row in failing.values():
        meta = first_reason[row["row_id"]]
        details = _details(row, meta, parameters, files[int(row["file_id"])])
        rows.append((int(row["file_id"]), int(row["row_id"]), int(row["line"]), meta["reason_code"], json.dumps(details)))
    problems = pd.DataFrame(rows, columns=["file_id", "row_id", "line", "reason_code", "details"])
    con.register("_problems", problems)
    con.execute("INSERT INTO stage_problem SELECT * FROM _problems")
    con.unregister("_problems")


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
    }


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _columns_of(kwargs: dict) -> str:
    return kwargs.get("column") or f"{kwargs.get('column_A')} / {kwargs.get('column_B')}"


def _file_dialects(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, str]]:
    return {fid: (d, m) for fid, d, m in con.execute("SELECT file_id, delimiter, decimal_mark FROM stage_file").fetchall()}


def _problem_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM stage_problem").fetchall()[0][0]
