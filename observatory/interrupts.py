"""Ctrl+C at the terminal: the person stops the run. Nothing may take it for the failure of a
file or of Great Expectations, set that aside and go on to publish.

Python raises KeyboardInterrupt in the run's process, but not always as that. When it arrives
while DuckDB runs a query, DuckDB's Python client runs the interrupt handler from inside the
query, drops the KeyboardInterrupt it raised and raises RuntimeError("Query interrupted") in its
place (tests/test_operations.py checks that it still does); when it arrives while DuckDB reads a
registered Arrow table or stream through Python, DuckDB raises its own error, whose text ends
with the KeyboardInterrupt's traceback. The places that set a failure aside
and go on (a file rejected, a batch validated row by row or file by file) and the run's step
failures ask `reraise` first; and the terminal interrupts the whole process group, so the
validation worker dying of SIGINT is an interrupt too, never a crash (validate_worker.py).
"""
from __future__ import annotations

import duckdb

# What DuckDB's Python client raises (a plain RuntimeError) for an interrupt during a query.
DUCKDB_INTERRUPTED = "Query interrupted"


def is_interrupt(error: BaseException) -> bool:
    """Whether `error` is the person's interrupt: KeyboardInterrupt, or DuckDB's stand-in for it."""
    if isinstance(error, KeyboardInterrupt):
        return True
    if type(error) is RuntimeError:
        return error.args == (DUCKDB_INTERRUPTED,)
    # A Python exception DuckDB met while reading Python data: its traceback's last line.
    return isinstance(error, duckdb.Error) and str(error).rstrip().rpartition("\n")[2] == "KeyboardInterrupt"


def reraise(error: BaseException) -> None:
    """Raise KeyboardInterrupt when `error` stands for one, so the run stops as for any
    interrupt (`observatory run` says "Aborted!" and exits 1); otherwise return."""
    if isinstance(error, KeyboardInterrupt):
        raise error
    if is_interrupt(error):
        raise KeyboardInterrupt from error
