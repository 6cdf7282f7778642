"""Validate: Great Expectations' verdicts on combinations of cells, remembered between runs.

A row-wise expectation's verdict on a combination of cells (validate.py, `_distinct_failing`)
depends on nothing but those cells, the suite, its run-time parameters (the reference sets, the
years) and the code and versions that hand GX the frame. So a verdict GX gave once holds for
every later run with the same suite, parameters, code and versions: a new file whose cells were
all judged before is validated without starting GX, whose import costs more than reading,
validating and building the file. Every verdict is still GX's own; a combination never judged
goes to GX, and its verdict is remembered. A change to any of those inputs starts an empty
store (the old one is dropped), and `observatory run --revalidate` starts one too.

Each group of columns (validate.row_wise_components) has its own table in the working
database, `verdict_<suite>_<digest>_<group>`: `combination`, the MD5 of the combination's cells
(as DuckDB writes them in JSON: every value in full, NULL as null), and `failing`, the positions
in the suite of the expectations it fails (empty when it passes them all). The cells themselves
are never kept: a raw cell (a country as typed) could hold what a person typed by mistake, and
the store outlives the file that brought it. Nor is a text cell's MD5 (a list of names hashed the
same way would find it): a column checked only for emptiness (a country or a title as typed) is
judged and remembered as empty or not (validate.null_checked_only), and a failing figure that
could be an ID or a phone number is not remembered (`remember`).
"""
from __future__ import annotations

import json
import platform
import re
from importlib import metadata
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from observatory import privacy, state
from observatory.sqltext import registered, sql_identifier

STORE_VERSION = 2
# What GX's verdict on a frame could depend on besides the suite, its parameters and the cells:
# the code that builds the frame and reads GX's answer (and privacy.py, which says which failing
# figures are not kept), and these libraries.
CODE = tuple(Path(__file__).parent / name for name in ("validate.py", "validate_worker.py", "verdicts.py", "privacy.py"))
LIBRARIES = ("great_expectations", "pandas", "numpy", "pyarrow", "duckdb")


def stores(con: duckdb.DuckDBPyConnection, table: str, suite_name: str, definition: dict, parameters: dict,
           components: list[list[str]], fresh: bool = False) -> list[str]:
    """The store of each group, created when missing; stores of this suite made for other
    inputs are dropped, and with `fresh` the current ones too."""
    named = {column for columns in components for column in columns}
    types = [row for row in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND database_name = current_database() "
        "AND schema_name = current_schema() ORDER BY column_index", [table]).fetchall() if row[0] in named]
    digest = _digest(definition, parameters, components, types)
    names = [f"verdict_{suite_name}_{digest}_{group}" for group in range(len(components))]
    ours = re.compile(rf"verdict_{re.escape(suite_name)}_[0-9a-f]{{16}}_[0-9]+")
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                               "AND schema_name = current_schema()").fetchall():
        if ours.fullmatch(name) and (fresh or name not in names):
            con.execute(f"DROP TABLE {sql_identifier(name)}")
    for name in names:
        con.execute(f"CREATE TABLE IF NOT EXISTS {sql_identifier(name)} (combination UHUGEINT, failing INTEGER[])")
    return names


def recall(con: duckdb.DuckDBPyConnection, store: str, combinations: pa.Table) -> tuple[pa.Table, pa.Array]:
    """What the store knows of `combinations`: (index, position) of every remembered failure,
    and the indexes of the combinations never judged."""
    with registered(con, "_combinations", _numbered(combinations)):
        keyed = f"(SELECT _index, {_fingerprint(combinations.column_names)} AS combination FROM _combinations)"
        failures = con.sql(f"""
            SELECT c._index AS index, unnest(v.failing) AS position
            FROM {keyed} AS c JOIN {sql_identifier(store)} AS v USING (combination)""").to_arrow_table()
        unjudged = con.sql(f"""
            SELECT c._index FROM {keyed} AS c ANTI JOIN {sql_identifier(store)} AS v USING (combination)
            ORDER BY c._index""").to_arrow_table().column(0).combine_chunks()
    return failures, unjudged


def remember(con: duckdb.DuckDBPyConnection, store: str, combinations: pa.Table, failures: pa.Table,
             private: list[str] | tuple[str, ...] = ()) -> None:
    """Keep GX's verdicts on `combinations`: `failures` holds (index, position) of each failure.
    A failing combination whose `private` cells (figures a file gave) could be an ID or a phone
    number is not kept: an MD5 of such a number is found again by hashing the numbers of its
    shape, and a combination not kept goes to GX again when it comes again."""
    judged = _numbered(combinations)
    failing = pc.unique(failures.column("index")) if failures.num_rows and private else pa.array([], pa.int64())
    dropped = [index for index, row in zip(failing.to_pylist(), combinations.select(list(private)).take(failing).to_pylist())
               if any(cell is not None and privacy.id_like(privacy.written(cell)) for cell in row.values())]
    if dropped:
        judged = judged.filter(pc.invert(pc.is_in(judged.column("_index"), pa.array(dropped, pa.int64()))))
    with registered(con, "_judged", judged), registered(con, "_failures", failures):
        con.execute(f"""
            INSERT INTO {sql_identifier(store)}
            SELECT {_fingerprint(combinations.column_names, "c.")}, coalesce(f.failing, []::INTEGER[]) FROM _judged AS c
            LEFT JOIN (SELECT index, list(position ORDER BY position) AS failing FROM _failures GROUP BY index) AS f
              ON f.index = c._index""")


def _fingerprint(columns: list[str], prefix: str = "") -> str:
    """SQL for the MD5 of a combination's cells: DuckDB writes every value in JSON in full
    (a double as the shortest text that reads back as the same double), so two combinations of
    the same column types share it only when their cells are the same."""
    cells = ", ".join(f"'c{number}': {prefix}{sql_identifier(name)}" for number, name in enumerate(columns))
    return f"md5_number(to_json({{{cells}}}))"


def _numbered(combinations: pa.Table) -> pa.Table:
    return combinations.append_column("_index", pa.array(range(combinations.num_rows), pa.int64()))


def _digest(definition: dict, parameters: dict, components: list[list[str]], types: list[tuple]) -> str:
    """The code's bytes, and the rest as JSON with sorted keys (a suite read again in another
    key order is the same suite)."""
    versions = {name: _version(name) for name in LIBRARIES} | {"python": platform.python_version()}
    text = json.dumps([STORE_VERSION, definition, parameters, components, types, versions], sort_keys=True, default=str)
    return state.digest(CODE, text)[:16]


def _version(library: str) -> str | None:
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return None
