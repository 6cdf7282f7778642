"""Progress of a long read: files done of total, rows, rate. Drawn on one line of stderr when
that is a terminal (quiet otherwise, e.g. in a cron job or a test), and reported as a log line
every few seconds to whoever asks (Dagster's run log)."""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO


class Progress:
    def __init__(self, total_files: int, report: Callable[[str], None] | None = None,
                 stream: TextIO | None = None, every_seconds: float = 10.0):
        self.total_files = total_files
        self.report = report
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_seconds = every_seconds
        self.files = 0
        self.rows = 0
        self.started = self.last_report = self.last_draw = time.monotonic()
        self.drawn = False

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (f"{self.files}/{self.total_files} archivos leídos / files read, {self.rows:,} filas / rows, "
                f"{self.rows / elapsed:,.0f} filas/s / rows/s, {elapsed:.0f} s")

    def advance(self, rows: int) -> None:
        self.files += 1
        self.rows += rows
        now = time.monotonic()
        if self.terminal and now - self.last_draw >= 0.2:
            self.stream.write("\r\033[K" + self.line())
            self.stream.flush()
            self.last_draw, self.drawn = now, True
        if self.report and now - self.last_report >= self.every_seconds:
            self.report(self.line())
            self.last_report = now

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
        if self.report:
            self.report(self.line())
