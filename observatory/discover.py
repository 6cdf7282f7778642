"""Discover: which raw files are new, changed, duplicates of another, or already loaded.

Only new and changed files are read, so the cost of a run follows new data, not the archive.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from observatory.withdrawals import Withdrawn

log = logging.getLogger(__name__)

# Files still being written or kept by editors (Excel's lock files, partial downloads).
TEMPORARY_PATTERNS = ("~$*", "*.part", "*.tmp", "*.crdownload", ".~lock*")


@dataclass(frozen=True)
class RawFile:
    path: Path
    rel_path: str  # relative to the raw dir, forward slashes: the file's name everywhere
    observatory: str  # first folder under the raw dir; "" when the file sits at the top
    sha256: str


@dataclass
class Discovery:
    to_read: list[RawFile]
    duplicates: list[tuple[RawFile, str]]  # (file, path of the file that brought the same content)
    unchanged: list[RawFile]
    withdrawn: list[RawFile] = field(default_factory=list)  # withdrawn by staff (withdrawals.py): never read
    # Files received whose content was withdrawn since: the next build removes what they brought.
    to_remove: list[str] = field(default_factory=list)
    # Files gone from the raw folder that brought nothing (rejected, or copies): nothing of
    # them is published but their receipt, which the next build removes (a rejected file moved
    # into its observatory's folder, or corrected under another name, would stay "rejected").
    gone: list[str] = field(default_factory=list)
    rereads: int = 0  # of to_read, files read again with the content they were received with (`everything`)

    @property
    def seen(self) -> int:
        return len(self.to_read) + len(self.duplicates) + len(self.unchanged) + len(self.withdrawn)


def sha256_of(path: Path) -> str:
    """The content's hash; for a symbolic link, of where it points (it is never opened)."""
    if path.is_symlink():
        return hashlib.sha256(b"symlink\0" + os.fsencode(os.readlink(path))).hexdigest()
    with open(path, "rb") as handle:  # file_digest reads into one buffer: a third faster than read() blocks
        return hashlib.file_digest(handle, "sha256").hexdigest()


def candidate_paths(raw_dir: Path) -> Iterator[tuple[Path, str]]:
    """(path, path relative to raw_dir) of every regular file and symbolic link, in a stable
    order; hidden and temporary files wait. A link is listed so that it is recorded (and
    rejected), never followed: it could point anywhere outside the raw folder."""
    for path in sorted(raw_dir.rglob("*")):
        rel = path.relative_to(raw_dir)
        if any(part.startswith(".") for part in rel.parts) or not (path.is_symlink() or path.is_file()):
            continue
        if any(path.match(pattern) for pattern in TEMPORARY_PATTERNS):
            continue
        yield path, rel.as_posix()


def raw_file(path: Path, rel: str, sha256: str) -> RawFile:
    return RawFile(path, rel, rel.split("/")[0] if "/" in rel else "", sha256)


def list_raw_files(raw_dir: Path) -> list[RawFile]:
    return [raw_file(path, rel, sha256_of(path)) for path, rel in candidate_paths(raw_dir)]


def received_contents(published_db: Path, still_there: Callable[[str, str], bool] | None = None) -> dict[str, str]:
    """sha256 -> the path of the file that brought that content, from the published receipts
    (read only; empty when nothing is published). `observatory check` uses it (`observatory
    status` and the sensor classify the raw folder against them), so an identical copy is a
    duplicate to all three, as to a run."""
    if not published_db.exists():
        return {}
    with duckdb.connect(str(published_db), read_only=True) as con:
        return content_owners(con, still_there)


def content_owners(con: duckdb.DuckDBPyConnection, still_there: Callable[[str, str], bool] | None = None) -> dict[str, str]:
    """sha256 -> the path of the file that brought that content, from the receipts (file_receipt)
    of the database `con` opens: the published one, or the working one (a run's receipts). With
    `still_there(path, sha256)`, only a file still in the raw folder with that content counts, as
    in a run (`discover`): a copy of a removed file's content is read as new, not a duplicate."""
    rows = con.execute("SELECT sha256, file_path FROM file_receipt WHERE status <> 'duplicate' ORDER BY file_path").fetchall()
    owners: dict[str, str] = {}
    for sha, path in rows:
        if still_there is None or still_there(path, sha):
            owners.setdefault(sha, path)
    return owners


def holds(path: Path, sha256: str) -> bool:
    """Whether `path` is there (a file, or a link, never followed) with this content."""
    return (path.is_symlink() or path.is_file()) and sha256_of(path) == sha256


def receipts_of(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """file path -> (sha256, status) of the receipts of the database `con` opens."""
    return {path: (sha, status) for path, sha, status in con.execute("SELECT file_path, sha256, status FROM file_receipt").fetchall()}


def published_receipts(published_db: Path) -> dict[str, tuple[str, str]]:
    """The published receipts (read only; empty when nothing is published)."""
    if not published_db.exists():
        return {}
    with duckdb.connect(str(published_db), read_only=True) as con:
        return receipts_of(con)


def discover(con: duckdb.DuckDBPyConnection, raw_dir: Path, everything: bool = False,
             withdrawn: Withdrawn = Withdrawn()) -> Discovery:
    """Compare the raw folder with the receipts of the working database (classify)."""
    return classify(list_raw_files(raw_dir), receipts_of(con), everything, withdrawn)


def classify(present: list[RawFile], receipts: dict[str, tuple[str, str]], everything: bool = False,
             withdrawn: Withdrawn = Withdrawn()) -> Discovery:
    """What a run does with each file present, given the receipts (a run's, or the published
    ones for `observatory status` and the sensor, so that all three agree) and what staff
    withdrew (withdrawals.load).

    A file whose content another present file already brought is a duplicate, unless that
    other file is gone or changed: then this one is read as new, so no content is lost.
    With `everything`, every file is read again (to re-validate it against current suites).
    A withdrawn file is never read, not even with `everything`.
    """
    present_sha = {f.rel_path: f.sha256 for f in present}
    # Content already contributed by a file that is still there with that same content (with
    # `everything` too: read again, it keeps its copies, which stay duplicates).
    owner_of = {
        sha: path for path, (sha, status) in receipts.items()
        if status != "duplicate" and present_sha.get(path) == sha and not withdrawn.covers(path, sha)
    }
    discovery = Discovery([], [], [], to_remove=sorted(path for path, (sha, _) in receipts.items() if withdrawn.covers(path, sha)),
                          gone=sorted(path for path, (sha, status) in receipts.items()
                                      if status in ("rejected", "duplicate") and path not in present_sha
                                      and not withdrawn.covers(path, sha)))
    for raw in present:
        receipt = receipts.get(raw.rel_path)
        owner = owner_of.get(raw.sha256)
        if withdrawn.covers(raw.rel_path, raw.sha256):
            discovery.withdrawn.append(raw)
        elif not everything and receipt and receipt[0] == raw.sha256 and (receipt[1] != "duplicate" or owner):
            discovery.unchanged.append(raw)
        elif owner and owner != raw.rel_path:
            discovery.duplicates.append((raw, owner))
        else:
            discovery.to_read.append(raw)
            # Read again, not new: received with this content and not as a copy of another file's.
            discovery.rereads += bool(receipt and receipt[0] == raw.sha256 and receipt[1] != "duplicate")
            owner_of.setdefault(raw.sha256, raw.rel_path)
    log.info("raw files: %d seen, %d to read, %d duplicates, %d unchanged, %d withdrawn (%d received to remove); "
             "%d gone that brought nothing", discovery.seen, len(discovery.to_read), len(discovery.duplicates),
             len(discovery.unchanged), len(discovery.withdrawn), len(discovery.to_remove), len(discovery.gone))
    return discovery
