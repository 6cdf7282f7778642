"""What a killed run leaves in the private temporary folder, removed by the next run before it
reads anything (under the writer lock, so no other run is using the folder): transcoded copies
of raw files and DuckDB's spill files. Both can hold raw cells, the columns a layout drops and
the personal data a check rejects included."""
from __future__ import annotations

import os
import re
from pathlib import Path

from observatory.textfile import COPY_NAME

# DuckDB names its spill files after the process that spilled: duckdb_temp_<pid>_<n>_owner,
# duckdb_temp_<pid>_<n>_storage_<size>-<i>.tmp (DuckDB 2.0). It removes them when it closes, and
# a dead process's only once another instance spills into the same folder.
SPILL_NAME = re.compile(r"duckdb_temp_(\d+)_.+")


def remove(temp_dir: Path) -> int:
    """How many leftovers were removed from the working database's spill folder, the outputs'
    (settings.reader_config) and the transcoded copies beside them."""
    removed = 0
    for folder in (temp_dir, temp_dir / "outputs"):
        for leftover in folder.iterdir() if folder.is_dir() else ():
            if COPY_NAME.fullmatch(leftover.name) or _dead_spill(leftover.name):
                leftover.unlink(missing_ok=True)
                removed += 1
    return removed


def _dead_spill(name: str) -> bool:
    """A spill file whose process is gone. Our own process's are in use (a Dagster run's steps
    share it); another live process's are left alone, whoever it is."""
    match = SPILL_NAME.fullmatch(name)
    if not match or int(match.group(1)) == os.getpid():
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False
