"""SQL text the core writes itself: the few values DuckDB cannot take as parameters (a file
path in read_csv or ATTACH, a setting, a regular expression inside a generated expression),
and the Python data (Arrow tables, pandas frames) a statement names as a relation."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import duckdb


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data: object) -> Iterator[None]:
    """`data` is the relation `name` for the statements inside the block, and only there, even
    when one of them fails."""
    con.register(name, data)
    try:
        yield
    finally:
        con.unregister(name)


def sql_literal(value: object) -> str:
    """A single-quoted SQL string literal of `value`, quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A double-quoted SQL identifier (a column a suite or layout names), quotes doubled."""
    return '"' + name.replace('"', '""') + '"'
