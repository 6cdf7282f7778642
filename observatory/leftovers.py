"""What a killed run leaves in the private temporary folder, removed by a later run (under the
writer lock, so no other run is using the folder): transcoded copies of raw files and DuckDB's
spill files. Both can hold raw cells, the columns a layout drops and the personal data a check
rejects included."""
from __future__ import annotations

import re
from pathlib import Path

from observatory import processes
from observatory.textfile import COPY_NAME

# DuckDB names its spill files after the process that spilled: duckdb_temp_<pid>_<n>_owner,
# duckdb_temp_<pid>_<n>_storage_<size>-<i>.tmp (DuckDB 2.0). It removes them when it closes, and
# a dead process's only once another instance spills into the same folder.
SPILL_NAME = re.compile(r"duckdb_temp_(\d+)_.+")
# A spill file written this long before its pid's process started was not written by it.
CLOCK_SLACK_SECONDS = 2.0


def remove(temp_dir: Path) -> int:
    """How many leftovers were removed from the working database's spill folder, the outputs'
    (settings.reader_config) and the transcoded copies beside them."""
    removed = 0
    for folder in (temp_dir, temp_dir / "outputs"):
        for leftover in folder.iterdir() if folder.is_dir() else ():
            if COPY_NAME.fullmatch(leftover.name) or _dead_spill(leftover):
                leftover.unlink(missing_ok=True)
                removed += 1
    return removed


def _dead_spill(path: Path) -> bool:
    """A spill file whose process is gone. A live process with its pid owns the file only if it
    started before the file was last written (processes.py); where the start is unknown (no
    /proc), a live process, this one included, is taken to own it."""
    match = SPILL_NAME.fullmatch(path.name)
    if not match:
        return False
    pid = int(match.group(1))
    try:
        written = path.stat().st_mtime
    except OSError:  # gone meanwhile
        return False
    if processes.gone(pid):
        return True
    start = processes.started(pid)
    return start is not None and written < start - CLOCK_SLACK_SECONDS
