"""Validate: Great Expectations' verdicts on combinations of cells, remembered between runs.

A row-wise expectation's verdict on a combination of cells (validate.py, `_distinct_failing`)
depends on nothing but those cells, the suite, its run-time parameters (the reference sets, the
years) and the versions of GX and of what hands it the frame. So a verdict GX gave once holds
for every later run with the same suite, parameters and versions: a new file whose cells were
all judged before is validated without starting GX, whose import costs more than reading,
validating and building the file. Every verdict is still GX's own; a combination never judged
goes to GX, and its verdict is remembered. A change to any of those inputs starts an empty
store (the old one is dropped), and `observatory run --revalidate` starts one too.

Each group of columns (validate.row_wise_components) has its own table in the working
database, `verdict_<suite>_<digest>_<group>`: the group's columns, typed as the harmonized
table has them, and `failing`, the positions in the suite of the expectations the combination
fails (empty when it passes them all).
"""
from __future__ import annotations

import hashlib
import json
from importlib import metadata

import duckdb
import pyarrow as pa

from observatory.sqltext import registered, sql_identifier

# Raised when the way verdicts are computed or stored changes, so that older stores are dropped.
STORE_VERSION = 1
# What GX's verdict on a frame could depend on besides the suite and the cells.
LIBRARIES = ("great_expectations", "pandas", "numpy", "pyarrow")


def stores(con: duckdb.DuckDBPyConnection, table: str, suite_name: str, definition: dict, parameters: dict,
           components: list[list[str]], fresh: bool = False) -> list[str]:
    """The store of each group, created when missing; stores of this suite made for other
    inputs are dropped, and with `fresh` the current ones too."""
    types = con.execute(f"SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                        f"AND database_name = current_database() AND schema_name = current_schema() "
                        f"ORDER BY column_index", [table]).fetchall()
    named = {column for columns in components for column in columns}
    digest = _digest(definition, parameters, components, [row for row in types if row[0] in named])
    prefix = f"verdict_{suite_name}_"
    names = [f"{prefix}{digest}_{group}" for group in range(len(components))]
    existing = [row[0] for row in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND starts_with(table_name, ?)", [prefix]).fetchall()]
    for name in existing:
        if fresh or name not in names:
            con.execute(f"DROP TABLE {sql_identifier(name)}")
    for name, columns in zip(names, components):
        con.execute(f"CREATE TABLE IF NOT EXISTS {sql_identifier(name)} AS "
                    f"SELECT {', '.join(map(sql_identifier, columns))}, []::INTEGER[] AS failing FROM {table} LIMIT 0")
    return names


def recall(con: duckdb.DuckDBPyConnection, store: str, combinations: pa.Table) -> tuple[pa.Table, pa.Array]:
    """What the store knows of `combinations`: (index, position) of every remembered failure,
    and the indexes of the combinations never judged."""
    same = _same(combinations.column_names)
    with registered(con, "_combinations", _numbered(combinations)):
        failures = con.sql(f"""
            SELECT c._index AS index, unnest(v.failing) AS position
            FROM _combinations AS c JOIN {sql_identifier(store)} AS v ON {same}""").to_arrow_table()
        unjudged = con.sql(f"""
            SELECT c._index FROM _combinations AS c ANTI JOIN {sql_identifier(store)} AS v ON {same}
            ORDER BY c._index""").to_arrow_table().column(0).combine_chunks()
    return failures, unjudged


def remember(con: duckdb.DuckDBPyConnection, store: str, combinations: pa.Table, failures: pa.Table) -> None:
    """Keep GX's verdicts on `combinations`: `failures` holds (index, position) of each failure."""
    columns = ", ".join(f"c.{sql_identifier(name)}" for name in combinations.column_names)
    with registered(con, "_judged", _numbered(combinations)), registered(con, "_failures", failures):
        con.execute(f"""
            INSERT INTO {sql_identifier(store)}
            SELECT {columns}, coalesce(f.failing, []::INTEGER[]) FROM _judged AS c
            LEFT JOIN (SELECT index, list(position ORDER BY position) AS failing FROM _failures GROUP BY index) AS f
              ON f.index = c._index""")


def _numbered(combinations: pa.Table) -> pa.Table:
    return combinations.append_column("_index", pa.array(range(combinations.num_rows), pa.int64()))


def _same(columns: list[str]) -> str:
    return " AND ".join(f"c.{sql_identifier(name)} IS NOT DISTINCT FROM v.{sql_identifier(name)}" for name in columns)


def _digest(definition: dict, parameters: dict, components: list[list[str]], types: list[tuple]) -> str:
    versions = {name: _version(name) for name in LIBRARIES}
    text = json.dumps([STORE_VERSION, definition, parameters, components, types, versions],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _version(library: str) -> str | None:
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return None
