"""SQL text the core writes itself: the few values DuckDB cannot take as parameters (a file
path in read_csv or ATTACH, a setting, a regular expression inside a generated expression)."""
from __future__ import annotations


def sql_literal(value: object) -> str:
    """A single-quoted SQL string literal of `value`, quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A double-quoted SQL identifier (a column a suite or layout names), quotes doubled."""
    return '"' + name.replace('"', '""') + '"'
