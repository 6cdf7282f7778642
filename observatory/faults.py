"""Failpoints: named moments of a run at which a test can have the process kill itself with
SIGKILL (OBSERVATORY_FAILPOINT=<name>), to prove a crash there loses nothing. Off unless the
environment variable names the point."""
from __future__ import annotations

import os
import signal

ENV = "OBSERVATORY_FAILPOINT"


def point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
