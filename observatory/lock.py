"""One writer at a time: an OS file lock on the working folder, held for a whole run.

The kernel releases it when the holder dies (even by kill -9), so a crash never leaves a
stale lock behind.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class WriterBusy(RuntimeError):
    """Another run is writing the working database."""


@contextmanager
def writer_lock(work_dir: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the writer lock, waiting up to `wait_seconds` for another run to finish."""
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "writer.lock"
    handle = open(path, "a+")
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = path.read_text().strip() or "unknown"
                    raise WriterBusy(
                        f"another run is writing (process {holder}); try again when it ends / "
                        f"otra ejecución está escribiendo (proceso {holder}); intente cuando termine"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the lock
