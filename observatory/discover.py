"""Discover: which raw files are new, changed, duplicates of another, or already loaded.

Only new and changed files are read, so the cost of a run follows new data, not the archive.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

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

    @property
    def seen(self) -> int:
        return len(self.to_read) + len(self.duplicates) + len(self.unchanged)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_raw_files(raw_dir: Path) -> list[RawFile]:
    """Every regular file under raw_dir, in a stable order; hidden and temporary files wait."""
    files = []
    for path in sorted(raw_dir.rglob("*")):
        rel = path.relative_to(raw_dir)
        if any(part.startswith(".") for part in rel.parts) or path.is_symlink() or not path.is_file():
            continue
        if any(path.match(pattern) for pattern in TEMPORARY_PATTERNS):
            continue
        observatory = rel.parts[0] if len(rel.parts) > 1 else ""
        files.append(RawFile(path, rel.as_posix(), observatory, sha256_of(path)))
    return files


def discover(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> Discovery:
    """Compare the raw folder with the receipts of the working database.

    A file whose content another present file already brought is a duplicate, unless that
    other file is gone or changed: then this one is read as new, so no content is lost.
    """
    present = list_raw_files(raw_dir)
    receipts = {
        path: (sha, status)
        for path, sha, status in con.execute("SELECT file_path, sha256, status FROM file_receipt").fetchall()
    }
    present_sha = {f.rel_path: f.sha256 for f in present}
    # Content already contributed by a file that is still there with that same content.
    owner_of = {
        sha: path for path, (sha, status) in receipts.items()
        if status != "duplicate" and present_sha.get(path) == sha
    }
    discovery = Discovery([], [], [])
    for raw in present:
        receipt = receipts.get(raw.rel_path)
        owner = owner_of.get(raw.sha256)
        if receipt and receipt[0] == raw.sha256 and (receipt[1] != "duplicate" or owner):
            discovery.unchanged.append(raw)
        elif owner and owner != raw.rel_path:
            discovery.duplicates.append((raw, owner))
        else:
            discovery.to_read.append(raw)
            owner_of.setdefault(raw.sha256, raw.rel_path)
    log.info("raw files: %d seen, %d to read, %d duplicates, %d unchanged",
             discovery.seen, len(discovery.to_read), len(discovery.duplicates), len(discovery.unchanged))
    return discovery
