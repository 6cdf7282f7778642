"""The naive peer: what a straightforward pandas + Great Expectations + DuckDB loader does with
the same files, to compare `observatory run` against (benchmarks/run.py, scenario `peer`).

Per file: pandas `read_csv` (encoding and delimiter told by the generator's manifest, every
cell as text), Great Expectations 1.x validation of the frame (one ephemeral context, a suite
of ten expectations close to ours, result format COMPLETE), the failing rows dropped and the
rest inserted into a DuckDB table. No discovery, no receipts, no harmonization, no publishing:
the peer does less than the pipeline, which is what makes it a fair lower bound.

    .venv/bin/python benchmarks/naive_peer.py MANIFEST.json DATABASE.duckdb

Prints one JSON line: files, rows read, loaded, quarantined, seconds.
"""
from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import duckdb
import great_expectations as gx
import pandas as pd

COUNTRIES_CSV = Path(__file__).resolve().parents[1] / "observatory" / "reference" / "countries.csv"
COLUMNS = ["country", "year", "indicator", "value", "sex", "age_group", "population_group", "source"]
SPANISH = {"país": "country", "año": "year", "indicador": "indicator", "valor": "value", "sexo": "sex",
           "grupo etario": "age_group", "grupo poblacional": "population_group", "fuente": "source"}
INDICATORS = ["femicide_count", "femicide_attempt_count", "helpline_calls_count"]


def suite() -> gx.ExpectationSuite:
    with open(COUNTRIES_CSV, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    countries = [row["country_iso3"] for row in rows] + [row["name_es"] for row in rows]
    e = gx.expectations
    return gx.ExpectationSuite(name="naive_peer", expectations=[
        e.ExpectColumnValuesToNotBeNull(column="country"),
        e.ExpectColumnValuesToBeInSet(column="country", value_set=countries),
        e.ExpectColumnValuesToMatchRegex(column="year", regex=r"^\d{4}$"),
        e.ExpectColumnValuesToBeBetween(column="year_number", min_value=1900, max_value=2026),
        e.ExpectColumnValuesToBeInSet(column="indicator", value_set=INDICATORS),
        e.ExpectColumnValuesToNotBeNull(column="value"),
        e.ExpectColumnValuesToMatchRegex(column="value", regex=r"^-?\d+([.,]\d+)?$"),
        e.ExpectColumnValuesToBeInSet(column="sex", value_set=["total", "female", "male"]),
        e.ExpectColumnValuesToMatchRegex(column="age_group", regex=r"^(total|\d+-\d+|\d+\+)$"),
        e.ExpectColumnValuesToBeInSet(column="population_group", value_set=["total", "indigenous"]),
    ])


def main(manifest: Path, database: Path) -> None:
    start = time.perf_counter()
    files = json.loads(manifest.read_text(encoding="utf-8"))
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batches = (context.data_sources.add_pandas("peer").add_dataframe_asset("file")
               .add_batch_definition_whole_dataframe("whole_file"))
    checks = context.suites.add(suite())
    con = duckdb.connect(str(database))
    con.execute(f"CREATE OR REPLACE TABLE t ({', '.join(f'{c} VARCHAR' for c in COLUMNS)})")
    read = loaded = 0
    for item in files:
        frame = pd.read_csv(item["path"], encoding=item["encoding"], sep=item["delimiter"], dtype=str)
        frame = frame.rename(columns=SPANISH)
        frame["year_number"] = pd.to_numeric(frame["year"], errors="coerce")
        result = batches.get_batch(batch_parameters={"dataframe": frame}).validate(checks, result_format="COMPLETE")
        failing: set = set()
        for outcome in result.results:
            failing.update(outcome.result.get("unexpected_index_list") or [])
        good = frame.drop(index=list(failing))[COLUMNS]  # noqa: F841 (read by DuckDB by name)
        con.execute("INSERT INTO t SELECT * FROM good")
        read += len(frame)
        loaded += len(good)
    con.close()
    print(json.dumps({"files": len(files), "rows_read": read, "rows_loaded": loaded,
                      "rows_quarantined": read - loaded, "seconds": round(time.perf_counter() - start, 3)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
