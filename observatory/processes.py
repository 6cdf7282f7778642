"""Whether a process is still there, and when it started: a killed run's leftovers (spill files,
Dagster runs left "started") are told from a live run's by their process. A pid can be reused (a
container's run is often pid 7 every time), so a live pid is the same process only if it started
when the one that left them did."""
from __future__ import annotations

import os
from pathlib import Path


def gone(pid: int) -> bool:
    """No process has this pid (one that exists but is another user's is not gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # another user's process, or no valid pid at all
        return False
    return False


def started(pid: int) -> float | None:
    """When a live process started, in seconds since the epoch (Linux's /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
