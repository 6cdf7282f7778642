"""Withdrawn contents: files staff asked to take back (`observatory withdraw`).

No run withdraws a file by itself: a file missing from the raw folder may have been moved or
archived, and its figures stay published. Staff withdraw one on purpose instead (sent to the
wrong observatory, a draft, a file whose name or text identifies someone). What is withdrawn is
the file's content (its sha256): the next run removes every row, quarantine row, receipt and
earlier figure that the file's name brought, and no file with that content is read again, under
any name, until the withdrawal is undone. The list holds hashes and dates, never a file's name.
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

FILE_NAME = "withdrawn.json"


def list_path(work_dir: Path) -> Path:
    return work_dir / FILE_NAME


def contents(work_dir: Path) -> dict[str, str]:
    """sha256 -> when it was withdrawn (UTC, ISO 8601); empty when nothing was."""
    path = list_path(work_dir)
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8"))["withdrawn"])


@contextmanager
def _changing(work_dir: Path) -> Iterator[dict[str, str]]:
    """The list, to change, written back atomically; one command changes it at a time (a lock
    of its own: a run holding the writer lock for minutes does not make staff wait)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with open(work_dir / f"{FILE_NAME}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listed = contents(work_dir)
        yield listed
        target = list_path(work_dir)
        staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        staging.write_text(json.dumps({"withdrawn": dict(sorted(listed.items()))}, indent=1) + "\n", encoding="utf-8")
        os.replace(staging, target)


def withdraw(work_dir: Path, sha256: str) -> bool:
    """Withdraw a content; False when it already was."""
    with _changing(work_dir) as listed:
        if sha256 in listed:
            return False
        listed[sha256] = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        return True


def undo(work_dir: Path, sha256: str) -> bool:
    """Undo a withdrawal (the next run reads a file with that content as new); False when the
    content was not withdrawn."""
    with _changing(work_dir) as listed:
        return listed.pop(sha256, None) is not None
