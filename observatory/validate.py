"""Validate: run the Great Expectations suite of `expectations/` on harmonized rows, in
batches, and turn every failing row into a quarantine problem with its reason code.

GX is imported inside the functions that use it: it costs seconds to import.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from observatory.settings import Settings

log = logging.getLogger(__name__)
SQL_DIR = Path(__file__).parent / "sql"
FIRST_LINES = 5


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


def load_suite(expectations_dir: Path, name: str):
    """The suite as the JSON file in `expectations/` says, so reviewers read one place."""
    import great_expectations as gx

    return gx.ExpectationSuite(**json.loads((expectations_dir / f"{name}.json").read_text()))


def expectation_parameters(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
    """Reference sets filled in at run time, never copied by hand into the suite's JSON."""
    countries = [row[0] for row in con.execute("SELECT country_iso3 FROM ref_country").fetchall()]
    indicators = [row[0] for row in con.execute("SELECT indicator_code FROM ref_indicator").fetchall()]
    return {
        "country_codes": countries,
        "indicator_codes": indicators,
        "min_year": settings.min_year,
        "max_year": settings.max_year,
    }


def validate(con: duckdb.DuckDBPyConnection, settings: Settings) -> ValidationSummary:
    """Quarantine problems for every failing row of `stage_harmonized` into `stage_problem`."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    suite = context.suites.add(load_suite(settings.expectations_dir, "observation"))
    batch_definition = (
        context.data_sources.add_pandas("staged")
        .add_dataframe_asset("stage_harmonized")
        .add_batch_definition_whole_dataframe("run")
    )
    parameters = expectation_parameters(con, settings)
    summary = ValidationSummary(suite=suite.name)
    outcomes: dict[str, ExpectationOutcome] = {}
    priority = {expectation.id: index for index, expectation in enumerate(suite.expectations)}
    for expectation in suite.expectations:
        outcomes[expectation.id] = ExpectationOutcome(
            expectation=expectation.expectation_type,
            column=_columns_of(expectation.configuration.kwargs),
            reason_code=expectation.meta["reason_code"],
        )
    files = _file_dialects(con)
    # A second cursor streams the rows while the first one writes problems.
    reader = con.cursor().sql("SELECT * FROM stage_harmonized ORDER BY row_id").to_arrow_reader(
        settings.validation_batch_rows
    )
    for record_batch in reader:
        frame = record_batch.to_pandas().set_index("row_id", drop=False)
        frame.index.name = None  # GX then reports failing rows by bare row_id
        summary.rows_checked += len(frame)
        result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, expectation_parameters=parameters, result_format={"result_format": "COMPLETE"}
        )
        first_reason: dict[int, dict] = {}
        for expectation_result in sorted(result.results, key=lambda r: priority[r.expectation_config.id]):
            failing = expectation_result.result.get("unexpected_index_list") or []
            outcome = outcomes[expectation_result.expectation_config.id]
            outcome.failed_rows += len(failing)
            for row_id in failing[: max(0, FIRST_LINES - len(outcome.first_lines))]:
                outcome.first_lines.append(f"{frame.at[row_id, 'file_path']}:{frame.at[row_id, 'line']}")
            meta = expectation_result.expectation_config.meta
            for row_id in failing:
                first_reason.setdefault(row_id, meta)
        _stage_problems(con, frame, first_reason, parameters, files)
        summary.rows_quarantined += len(first_reason)
    summary.expectations = list(outcomes.values())
    before = _problem_count(con)
    con.execute((SQL_DIR / "within_file_duplicates.sql").read_text())
    summary.duplicate_rows = _problem_count(con) - before
    summary.rows_quarantined += summary.duplicate_rows
    log.info("validated %d rows: %d quarantined", summary.rows_checked, summary.rows_quarantined)
    return summary


def _stage_problems(con, frame: pd.DataFrame, first_reason: dict[int, dict], parameters: dict, files: dict) -> None:
    if not first_reason:
        return
    rows = []
    for row_id, meta in first_reason.items():
        row = frame.loc[row_id]
        details = _details(row, meta["raw_column"], parameters, files[int(row["file_id"])])
        rows.append((int(row["file_id"]), int(row_id), int(row["line"]), meta["reason_code"], json.dumps(details)))
    problems = pd.DataFrame(rows, columns=["file_id", "row_id", "line", "reason_code", "details"])
    con.register("_problems", problems)
    con.execute("INSERT INTO stage_problem SELECT * FROM _problems")
    con.unregister("_problems")


def _details(row: pd.Series, raw_column: str, parameters: dict, dialect: tuple[str, str]) -> dict:
    """What the message templates may quote: the cell that failed and the rule it failed.
    Free-text cells (notes, source) are never quoted."""
    delimiter, decimal_mark = dialect
    suggestions = row["country_suggestions"] if raw_column == "country_raw" else row["indicator_suggestions"]
    return {
        "raw": _text(row[raw_column]),
        "suggestions": _text(suggestions),
        "indicator": _text(row["indicator_code"]),
        "value": _text(row["value"]),
        "range_min": _text(row["range_min"]),
        "range_max": _text(row["range_max"]) or "∞",
        "expected": _text(row["unit"]),
        "min_year": parameters["min_year"],
        "max_year": parameters["max_year"],
        "delimiter": {"\t": "tab"}.get(delimiter, delimiter),
        "decimal_mark": decimal_mark,
        "grouping_es": " y el punto agrupa miles (12.345 = doce mil trescientos cuarenta y cinco)" if decimal_mark == "," else "",
        "grouping_en": " and the dot groups thousands (12.345 = twelve thousand three hundred forty-five)" if decimal_mark == "," else "",
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
    return con.execute("SELECT count(*) FROM stage_problem").fetchone()[0]
