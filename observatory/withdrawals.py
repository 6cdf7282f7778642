"""Withdrawn files: what staff asked to take back (`observatory withdraw`).

No run withdraws a file by itself: a file missing from the raw folder may have been moved or
archived, and its figures stay published. Staff withdraw one on purpose instead (sent to the
wrong observatory, a draft, a file whose name or text identifies someone). What is withdrawn is
the file's content (its sha256): the next run removes every row, quarantine row, receipt and
earlier figure the files with that content brought, and no file with that content is read
again, under any name, until the withdrawal is undone. A copy (a file whose content another
file brought first) is withdrawn alone, by its name's hash and its content: the file that
brought the content stays. The list holds hashes and dates, never a file's name; it lives in
the curated folder beside the publication (`make clean` keeps it), not in its `.work/`.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

@dataclass(frozen=True)
class Withdrawn:
    contents: frozenset[str] = frozenset()  # sha256 withdrawn under every name
    copies: frozenset[str] = frozenset()  # copy_key(path, sha256) of copies withdrawn alone

    def covers(self, path: str, sha256: str) -> bool:
        return sha256 in self.contents or copy_key(path, sha256) in self.copies


def copy_key(path: str, sha256: str) -> str:
    """A copy's entry: its path's hash (never the name) and its content."""
    return f"{hashlib.sha256(path.encode('utf-8')).hexdigest()}:{sha256}"


def load(list_file: Path) -> Withdrawn:
    listed = _read(list_file)
    return Withdrawn(frozenset(listed["withdrawn"]), frozenset(listed["copies"]))


def _read(list_file: Path) -> dict[str, dict[str, str]]:
    """{"withdrawn": {sha256: when}, "copies": {copy key: when}}, empty when nothing was."""
    listed = json.loads(list_file.read_text(encoding="utf-8")) if list_file.is_file() else {}
    return {"withdrawn": dict(listed.get("withdrawn", {})), "copies": dict(listed.get("copies", {}))}


@contextmanager
def _changing(list_file: Path) -> Iterator[dict[str, dict[str, str]]]:
    """The list, to change, written back atomically; one command changes it at a time (a lock
    of its own: a run holding the writer lock for minutes does not make staff wait)."""
    list_file.parent.mkdir(parents=True, exist_ok=True)
    with open(list_file.with_name(f".{list_file.name}.lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listed = _read(list_file)
        yield listed
        staging = list_file.with_name(f".{list_file.name}.{os.getpid()}.tmp")
        staging.write_text(json.dumps({part: dict(sorted(entries.items())) for part, entries in listed.items()},
                                      indent=1) + "\n", encoding="utf-8")
        os.replace(staging, list_file)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def withdraw(list_file: Path, sha256: str) -> None:
    """Withdraw a content under every name."""
    with _changing(list_file) as listed:
        listed["withdrawn"].setdefault(sha256, _now())


def withdraw_copy(list_file: Path, path: str, sha256: str) -> None:
    """Withdraw one copy: the file at `path` with this content, and no other."""
    with _changing(list_file) as listed:
        listed["copies"].setdefault(copy_key(path, sha256), _now())


def undo(list_file: Path, path: str, sha256: str) -> bool:
    """Undo what withdrew the file at `path` with this content (its content, or it as a copy);
    the next run receives it again. False when nothing did."""
    with _changing(list_file) as listed:
        content = listed["withdrawn"].pop(sha256, None)
        copy = listed["copies"].pop(copy_key(path, sha256), None)
        return content is not None or copy is not None


@dataclass(frozen=True)
class Taken:
    """What `take_back` withdrew: the file's content (`content`, with the `others` received with
    it), the file alone as a copy of another's content (`copy`, `others` the file that brought
    it), or the content of a file no run read yet (`unread`); and whether the file now at that
    path has other content (a corrected version, read as new)."""
    kind: str
    others: tuple[str, ...] = ()
    changed_since: bool = False


def take_back(list_file: Path, path: str, present: str | None, receipts: dict[str, tuple[str, str]]) -> Taken | None:
    """Withdraw the file received at `path` (receipts: path -> (sha256, status)); `present` is
    the content at that path in the raw folder now, if any. Only what was received is withdrawn:
    a corrected file already in its place is read as new. None when nothing was received or is
    there."""
    received = receipts.get(path)
    if received is None:
        if present is None:
            return None
        withdraw(list_file, present)
        return Taken("unread")
    sha, status = received
    changed = present is not None and present != sha
    if status == "duplicate":
        withdraw_copy(list_file, path, sha)
        owners = tuple(p for p, (s, st) in receipts.items() if s == sha and st != "duplicate")
        return Taken("copy", owners, changed)
    withdraw(list_file, sha)
    return Taken("content", tuple(sorted(p for p, (s, _) in receipts.items() if s == sha and p != path)), changed)
