"""Benchmark of `observatory run` on many generated raw files, against a bare DuckDB load and a
naive pandas + Great Expectations peer; then a run with nothing new, one new file, an identical
re-drop and a bz2 bomb. Prints figures and ratios, asserts nothing. Run by hand, never in tests:

    .venv/bin/python -m benchmarks.run                       # 100,000 and 1,000,000 rows
    .venv/bin/python -m benchmarks.run --sizes 20000 --files 20 --only full,noop --bomb-mib 64

Every measured command runs in a fresh child process (wall seconds, exit code, its own peak
RSS). Everything is written under a temporary folder (or --keep DIR), never into the repo.
See benchmarks/README.md for the scenarios.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from benchmarks import corpus

ROOT = corpus.ROOT
PYTHON = sys.executable
OBSERVATORY = str(Path(sys.executable).with_name("observatory"))
SCENARIOS = ["bare", "full", "peer", "noop", "newfile", "redrop", "bomb"]
NEEDS_FULL = {"noop", "newfile", "redrop"}  # they run on the state the full run leaves
NEW_FILE_ROWS = 5_000
BOMB_GOOD_FILES, BOMB_GOOD_ROWS = 10, 3_000
SHOW_DELIMITER = {"\t": "tab"}

# Runs one command as its child, so RUSAGE_CHILDREN is that command's peak RSS alone
# (ru_maxrss is in KiB on Linux). A command past its timeout, or whose resident memory passes
# the limit (MiB, 0 = none; read from /proc while it runs), is killed, then reaped.
MEASURE = r"""
import json, os, resource, subprocess, sys, time
timeout, limit = float(sys.argv[1]) or None, float(sys.argv[2]) or None
def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
def children(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return found
def tree_rss_mib(pid):
    # the run and its worker processes (Great Expectations' validation worker) together
    return rss_mib(pid) + sum(tree_rss_mib(c) for c in children(pid))
killed = None
tree_peak = 0.0
with open(sys.argv[3], "wb") as out, open(sys.argv[4], "wb") as err:
    start = time.perf_counter()
    child = subprocess.Popen(sys.argv[5:], stdout=out, stderr=err)
    while True:
        try:
            child.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
        tree = tree_rss_mib(child.pid)
        tree_peak = max(tree_peak, tree)
        if timeout and time.perf_counter() - start > timeout:
            killed = "timeout"
        elif limit and tree > limit:
            killed = "memory"
        if killed:
            child.kill()
            child.wait()
            break
    seconds = time.perf_counter() - start
# the largest single process's peak, or the sampled peak of the process tree if larger
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = max(usage.ru_maxrss / 1024, tree_peak)
# CPU seconds of the command and of the processes it waited for (the validation worker)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"seconds": seconds, "rc": child.returncode, "killed": killed, "peak_mib": peak, "cpu": cpu}))
"""
BARE = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "con.execute(open(sys.argv[2], encoding='utf-8').read()); con.close()")


@dataclass
class Measured:
    seconds: float
    rc: int | None
    killed: str | None  # "timeout" or "memory" when the measure killed the command
    peak_mib: float
    stdout: Path
    stderr: Path
    cpu: float = 0.0  # CPU seconds, user + system, of the command and the children it reaped

    @property
    def cores(self) -> str:
        """How many cores the command kept busy on average."""
        return f"{self.cpu / self.seconds:.2f}" if self.seconds else "-"

    def timings(self) -> list[str]:
        """The `--timings` block an observatory run printed on stderr (empty if none)."""
        lines = self.stderr.read_text(errors="replace").splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("Tiempos / timings")), None)
        if start is None:
            return []
        block = []
        for line in lines[start + 1:]:  # up to its total line
            block.append(line)
            if line.split()[:1] == ["total"]:
                break
        return block

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.killed

    def failure(self) -> str:
        if self.killed == "timeout":
            return f"TIMED OUT after {self.seconds:.0f} s (killed)"
        if self.killed == "memory":
            return f"KILLED over the memory limit after {self.seconds:.0f} s"
        return f"FAILED with exit code {self.rc}"

    def tail(self, lines: int = 12) -> str:
        text = self.stderr.read_text(errors="replace").strip() or self.stdout.read_text(errors="replace").strip()
        return "\n".join("      | " + line for line in text.splitlines()[-lines:])


@dataclass
class Row:
    scenario: str
    seconds: float | None
    ratio: str = ""
    rows: int | None = None  # rows the scenario loads, for rows/s
    peak_mib: float | None = None
    note: str = ""
    measured: Measured | None = None  # for its CPU seconds


@dataclass
class SizeReport:
    rows: int
    files: int
    raw_mib: float
    table: list[Row] = field(default_factory=list)


class Workspace:
    """One size's folders and the environment of its child processes."""

    def __init__(self, base: Path, dagster_home: bool = False):
        self.base = base
        # With --dagster-home, runs keep a Dagster run history (as `make run` does) and so go
        # through Dagster; otherwise they take the steps without it.
        self.dagster_home = base / "dagster_home" if dagster_home else None
        if self.dagster_home:
            self.dagster_home.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / "dagster.yaml", self.dagster_home / "dagster.yaml")
        self.raw = base / "data" / "raw"
        self.bare = base / "bare_copies"
        self.curated = base / "curated"
        self.receipts = base / "receipts"
        self.logs = base / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def env(self, receipts: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DAGSTER_HOME", "OBSERVATORY_RAW_DIR", "OBSERVATORY_CURATED_DIR"):
            env.pop(name, None)
        if self.dagster_home:
            env["DAGSTER_HOME"] = str(self.dagster_home)
            env["DAGSTER_DISABLE_TELEMETRY"] = "1"
        # Receipts for staff would default to the repo's data/receipts/.
        env["OBSERVATORY_RECEIPTS_DIR"] = str(receipts or self.receipts)
        env.setdefault("GX_ANALYTICS_ENABLED", "false")
        return env

    def measure(self, name: str, command: list[str], timeout: float | None = None,
                receipts: Path | None = None, memory_limit_mib: float | None = None) -> Measured:
        out, err = self.logs / f"{name}.out", self.logs / f"{name}.err"
        done = subprocess.run([PYTHON, "-c", MEASURE, str(timeout or 0), str(memory_limit_mib or 0),
                               str(out), str(err), *command],
                              env=self.env(receipts), cwd=self.base, capture_output=True, text=True, check=True)
        data = json.loads(done.stdout.strip().splitlines()[-1])
        return Measured(data["seconds"], data["rc"], data["killed"], data["peak_mib"], out, err, data["cpu"])

    def observatory_run(self, name: str, raw: Path | None = None, curated: Path | None = None,
                        timeout: float | None = None, memory_limit_mib: float | None = None) -> Measured:
        return self.measure(name, [OBSERVATORY, "run", "--timings", "--raw-dir", str(raw or self.raw),
                                   "--curated-dir", str(curated or self.curated)], timeout,
                            memory_limit_mib=memory_limit_mib)


def say(text: str = "") -> None:
    print(text, flush=True)


def mib(size: float) -> str:
    return f"{size / 2**20:,.1f} MiB"


# --- published output ---------------------------------------------------------------------

def published_db(curated: Path) -> Path:
    return curated / "observatory.duckdb"


def query(curated: Path, sql: str, params: list | None = None) -> list[tuple] | None:
    """Rows of a query on the published database, or None when there is none (or it fails)."""
    path = published_db(curated)
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()
    except duckdb.Error as error:
        say(f"    (could not read {path.name}: {str(error).splitlines()[0]})")
        return None


def print_receipts(curated: Path, generated_rows: int | None = None, bad_rows: int | None = None) -> None:
    rows = query(curated, "SELECT status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
                          "FROM file_receipt GROUP BY ALL ORDER BY ALL")
    if rows is None:
        say("    no published file_receipt")
        return
    say("    SELECT status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM file_receipt GROUP BY ALL")
    say(f"      {'status':<18} {'files':>6} {'rows_read':>12} {'rows_loaded':>12} {'quarantined':>12}")
    for status, files, read, loaded, quarantined in rows:
        say(f"      {status:<18} {files:>6,} {read or 0:>12,} {loaded or 0:>12,} {quarantined or 0:>12,}")
    read = sum(r[2] or 0 for r in rows)
    loaded = sum(r[3] or 0 for r in rows)
    quarantined = sum(r[4] or 0 for r in rows)
    line = f"      total read {read:,} = loaded {loaded:,} + quarantined {quarantined:,}"
    line += " (balanced)" if read == loaded + quarantined else " (NOT balanced)"
    if generated_rows is not None:
        line += f"; generated {generated_rows:,} rows, {bad_rows:,} of them bad ({quarantined / max(read, 1):.2%} quarantined)"
        line += "; nothing lost" if read == generated_rows and read == loaded + quarantined else "; ROWS MISSING"
    say(line)
    reasons = query(curated, "SELECT reason_code, count(*) FROM quarantine GROUP BY ALL ORDER BY 2 DESC")
    if reasons:
        say("      quarantine by reason: " + ", ".join(f"{code} {count:,}" for code, count in reasons))


def published_hashes(curated: Path) -> dict[str, str]:
    """sha256 of the published database and of every Parquet file (the link's target)."""
    paths = [published_db(curated)] + sorted((curated / "parquet").glob("*.parquet"))
    digests = {}
    for path in paths:
        if path.exists():
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digests[path.name] = digest.hexdigest()
    return digests


# --- one size -----------------------------------------------------------------------------

def run_size(total: int, files: int, selected: set[str], args: argparse.Namespace, work: Path) -> SizeReport:
    files = max(1, min(files, total))
    ws = Workspace(work / f"rows_{total}", args.dagster_home)
    say(f"\n=== {total:,} rows in {files} files ({ws.base}) ===")
    start = time.perf_counter()
    generated = corpus.generate_corpus(ws.raw, total, files, bare_dir=ws.bare if "bare" in selected else None)
    manifest = ws.base / "manifest.json"
    corpus.write_manifest(manifest, generated)
    raw_bytes = sum(item.bytes for item in generated)
    bad = sum(sum(item.bad_rows.values()) for item in generated)
    say(f"generated in {time.perf_counter() - start:.1f} s: {mib(raw_bytes)}, {bad:,} bad rows "
        f"({bad / total:.2%}); encodings {_counts(g.encoding for g in generated)}; "
        f"delimiters {_counts(SHOW_DELIMITER.get(g.delimiter, g.delimiter) for g in generated)}; "
        f"Spanish headers {sum(g.header == 'es' for g in generated)}, Spanish country names {sum(g.spanish_country_names for g in generated)}")
    report = SizeReport(total, files, raw_bytes / 2**20)
    table = report.table
    bare = full = noop = None

    if "bare" in selected:
        sql = ws.base / "bare.sql"
        listed = ", ".join("'" + item.bare_copy.replace("'", "''") + "'" for item in generated)
        sql.write_text(f"CREATE TABLE t AS SELECT * FROM read_csv([{listed}], all_varchar=true, "
                       f"union_by_name=true, header=true)", encoding="utf-8")
        database = ws.base / "bare.duckdb"
        bare = ws.measure("bare", [PYTHON, "-c", BARE, str(database), str(sql)])
        if bare.ok:
            with duckdb.connect(str(database), read_only=True) as con:
                loaded = con.execute("SELECT count(*) FROM t").fetchone()[0]
            say(f"bare DuckDB read_csv of the UTF-8 comma copies: {bare.seconds:.2f} s, {loaded:,} rows, "
                f"{total / bare.seconds:,.0f} rows/s, peak {bare.peak_mib:,.0f} MiB")
            table.append(Row("bare DuckDB read_csv", bare.seconds, "1.0x", total, bare.peak_mib, measured=bare))
        else:
            say(f"bare load {bare.failure()}\n{bare.tail()}")
            table.append(Row("bare DuckDB read_csv", None, note=bare.failure()))
            bare = None

    if "full" in selected or selected & NEEDS_FULL:
        full = ws.observatory_run("full")
        note = "" if "full" in selected else "(state for noop/newfile/redrop)"
        if full.ok:
            ratio = f"{full.seconds / bare.seconds:.1f}x bare" if bare else ""
            say(f"full observatory run: {full.seconds:.1f} s {ratio}, {total / full.seconds:,.0f} rows/s, "
                f"peak {full.peak_mib:,.0f} MiB {note}")
            _print_timings(full)
            print_receipts(ws.curated, total, bad)
            table.append(Row("full observatory run", full.seconds, ratio, total, full.peak_mib, note, full))
        else:
            say(f"full observatory run {full.failure()} {note}\n{full.tail()}")
            table.append(Row("full observatory run", None, note=f"{full.failure()} {note}".strip()))
            full = None

    if args.profile:
        profile_run(ws, total)

    if "noop" in selected and full:
        before = published_hashes(ws.curated)
        noop = ws.observatory_run("noop")
        startup = ws.measure("startup", [PYTHON, "-c", "import observatory.cli"])
        after = published_hashes(ws.curated)
        table.append(Row("start-up: import observatory.cli", startup.seconds, "", None, startup.peak_mib, measured=startup))
        if noop.ok:
            ratio = f"{noop.seconds / bare.seconds:.1f}x bare" if bare else ""
            same = before == after and bool(before)
            changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
            say(f"noop run (nothing new): {noop.seconds:.1f} s {ratio} (bare load of all {total:,} stored rows); "
                f"peak {noop.peak_mib:,.0f} MiB; start-up `import observatory.cli` {startup.seconds:.2f} s")
            say(f"    published files byte-identical: {'yes' if same else 'no'} ({len(after)} files hashed"
                + (f"; changed: {', '.join(changed)})" if changed else ")"))
            table.append(Row("noop run (nothing new)", noop.seconds, ratio, None, noop.peak_mib,
                             "published bytes identical" if same else f"bytes differ: {', '.join(changed) or 'no files'}",
                             noop))
        else:
            say(f"noop run {noop.failure()}\n{noop.tail()}")
            table.append(Row("noop run (nothing new)", None, note=noop.failure()))
            noop = None

    if "newfile" in selected and full:
        lines, _ = corpus.rows_text(NEW_FILE_ROWS, "Observatorio de Género new file", 0, seed=99, bad_every=None)
        new_path = ws.raw / corpus.OBSERVATORIES[0] / "new_file.csv"
        corpus.write_file(new_path, lines, corpus.HEADER_EN)
        new = ws.observatory_run("newfile")
        if new.ok:
            extra = f"+{new.seconds - noop.seconds:.1f} s over noop" if noop else ""
            say(f"one new {NEW_FILE_ROWS:,}-row file: {new.seconds:.1f} s {extra}; peak {new.peak_mib:,.0f} MiB")
            _print_file(ws.curated, new_path.relative_to(ws.raw).as_posix())
            _print_timings(new)
            table.append(Row(f"one new {NEW_FILE_ROWS:,}-row file", new.seconds, extra, NEW_FILE_ROWS, new.peak_mib,
                             f"rows/s of its {NEW_FILE_ROWS:,} rows", new))
        else:
            say(f"new-file run {new.failure()}\n{new.tail()}")
            table.append(Row(f"one new {NEW_FILE_ROWS:,}-row file", None, note=new.failure()))

    if "redrop" in selected and full:
        original = Path(generated[0].path)
        copy = ws.raw / corpus.OBSERVATORIES[1] / f"redrop_of_{original.name}"
        shutil.copyfile(original, copy)
        again = ws.observatory_run("redrop")
        if again.ok:
            extra = f"{again.seconds / noop.seconds:.2f}x noop" if noop else ""
            say(f"identical re-drop ({generated[0].rel_path} copied to {copy.relative_to(ws.raw).as_posix()}): "
                f"{again.seconds:.1f} s {extra}; peak {again.peak_mib:,.0f} MiB")
            _print_file(ws.curated, copy.relative_to(ws.raw).as_posix())
            _print_timings(again)
            table.append(Row("identical re-drop", again.seconds, extra, None, again.peak_mib,
                             f"receipt: {_status(ws.curated, copy.relative_to(ws.raw).as_posix())}", again))
        else:
            say(f"re-drop run {again.failure()}\n{again.tail()}")
            table.append(Row("identical re-drop", None, note=again.failure()))

    if "peer" in selected:
        peer = ws.measure("peer", [PYTHON, str(ROOT / "benchmarks" / "naive_peer.py"), str(manifest),
                                   str(ws.base / "peer.duckdb")])
        if peer.ok:
            counts = json.loads(peer.stdout.read_text().strip().splitlines()[-1])
            ratio = f"{peer.seconds / full.seconds:.2f}x full" if full else ""
            goal = ("" if not full else
                    f"; goal full >= 2x faster than peer: {'met' if peer.seconds >= 2 * full.seconds else 'NOT met'}")
            say(f"naive peer (pandas + GX per file + DuckDB insert): {peer.seconds:.1f} s, peer/full {ratio}{goal}; "
                f"{total / peer.seconds:,.0f} rows/s, peak {peer.peak_mib:,.0f} MiB; read {counts['rows_read']:,}, "
                f"loaded {counts['rows_loaded']:,}, quarantined {counts['rows_quarantined']:,}")
            table.append(Row("naive peer (pandas+GX)", peer.seconds, ratio, total, peer.peak_mib, goal.lstrip("; "), peer))
        else:
            say(f"naive peer {peer.failure()}\n{peer.tail()}")
            table.append(Row("naive peer (pandas+GX)", None, note=peer.failure()))
    return report


def _counts(values) -> str:
    seen: dict[str, int] = {}
    for value in values:
        seen[value] = seen.get(value, 0) + 1
    return ", ".join(f"{name} {count}" for name, count in seen.items())


def _print_timings(run: Measured) -> None:
    """Where the run's time went: its `--timings` block (each step's seconds, then the rest)."""
    lines = run.timings()
    if lines:
        say(f"    where the time went (observatory run --timings; CPU {run.cpu:.1f} s, {run.cores} cores busy):")
        for line in lines:
            say("    " + line)


def _status(curated: Path, rel_path: str) -> str:
    rows = query(curated, "SELECT status FROM file_receipt WHERE file_path = ?", [rel_path])
    return rows[0][0] if rows else "none"


def _print_file(curated: Path, rel_path: str) -> None:
    rows = query(curated, "SELECT status, rows_read, rows_loaded, rows_quarantined FROM file_receipt WHERE file_path = ?", [rel_path])
    if rows:
        status, read, loaded, quarantined = rows[0]
        say(f"    receipt of {rel_path}: {status}, read {read:,}, loaded {loaded:,}, quarantined {quarantined:,}")
    else:
        say(f"    no receipt for {rel_path}")


# --- profile ------------------------------------------------------------------------------

def profile_run(ws: Workspace, total: int, top: int = 25) -> None:
    """The full run again under cProfile, on a fresh curated folder; top entries by cumulative
    time among the project's own functions (observatory/ and assets/)."""
    output = ws.base / "full.prof"
    run = ws.measure("profile", [PYTHON, "-m", "cProfile", "-o", str(output), "-m", "observatory.cli", "run",
                                 "--raw-dir", str(ws.raw), "--curated-dir", str(ws.base / "curated_profile")],
                     receipts=ws.base / "receipts_profile")
    say(f"profiled full run (cProfile overhead included): {run.seconds:.1f} s, exit code {run.rc}")
    if not output.exists():
        say(f"    no profile written\n{run.tail()}")
        return
    stats = pstats.Stats(str(output))
    ours = (str(ROOT / "observatory") + os.sep, str(ROOT / "assets") + os.sep)
    entries = [(key, value) for key, value in stats.stats.items() if key[0].startswith(ours)]
    entries.sort(key=lambda item: item[1][3], reverse=True)
    total_time = max((value[3] for value in stats.stats.values()), default=0)
    say(f"    top {top} by cumulative time, functions under observatory/ and assets/ (whole run {total_time:.1f} s):")
    say(f"      {'cumulative':>10} {'own':>8} {'calls':>10}  function")
    for (filename, line, function), (_, calls, own, cumulative, _) in entries[:top]:
        where = Path(filename).relative_to(ROOT).as_posix()
        say(f"      {cumulative:>9.2f}s {own:>7.2f}s {calls:>10,}  {where}:{line} {function}")


# --- bomb ---------------------------------------------------------------------------------

def run_bomb(args: argparse.Namespace, work: Path) -> list[Row]:
    """Two bombs: one row repeated (the classic, refused by its inflation ratio) and varied rows
    (inflating only ~26x, under the ratio, so refused by the size limit)."""
    return [row for repeated in (True, False) for row in _run_one_bomb(args, work, repeated)]


def _run_one_bomb(args: argparse.Namespace, work: Path, repeated: bool) -> list[Row]:
    kind = "repeated row" if repeated else "varied rows"
    ws = Workspace(work / ("bomb_repeated" if repeated else "bomb_varied"), args.dagster_home)
    say(f"\n=== bomb ({kind}): bomb.csv.bz2 inflating to {args.bomb_mib:,} MiB beside {BOMB_GOOD_FILES} good files ({ws.base}) ===")
    good = corpus.generate_corpus(ws.raw, BOMB_GOOD_ROWS, BOMB_GOOD_FILES, bad_every=None, name="good")
    bomb = ws.raw / corpus.OBSERVATORIES[-1] / "bomb.csv.bz2"
    start = time.perf_counter()
    inflated, size = corpus.build_bomb(bomb, args.bomb_mib << 20, repeated=repeated)
    say(f"built in {time.perf_counter() - start:.1f} s: {mib(size)} compressed, {mib(inflated)} inflated "
        f"({inflated / size:,.0f}x); good files: {len(good)} with {BOMB_GOOD_ROWS:,} rows")
    run = ws.observatory_run("bomb", timeout=args.bomb_timeout, memory_limit_mib=args.bomb_memory_mib)
    outcome = {"timeout": f"timed out after {args.bomb_timeout:.0f} s (killed)",
               "memory": f"killed: resident memory passed {args.bomb_memory_mib:,} MiB"}.get(run.killed, f"exit code {run.rc}")
    say(f"observatory run with the bomb (timeout {args.bomb_timeout:.0f} s, memory limit {args.bomb_memory_mib:,} MiB): "
        f"{run.seconds:.1f} s, peak {run.peak_mib:,.0f} MiB, {outcome}")
    if not run.ok:
        say(f"    THE RUN {run.failure()}" + (f"; its last output:\n{run.tail()}" if run.rc not in (None, -9) else ""))
    bomb_rel = bomb.relative_to(ws.raw).as_posix()
    receipts = query(ws.curated, "SELECT file_path, status, rows_read, rows_loaded, rows_quarantined "
                                 "FROM file_receipt ORDER BY file_path")
    if receipts is None:
        say("    nothing published: no file_receipt to read (the bomb's and the good files' status are unknown)")
    else:
        for path, status, read, loaded, quarantined in receipts:
            if path == bomb_rel:
                say(f"    {path}: {status}, read {read:,}, loaded {loaded:,}, quarantined {quarantined:,}")
        statuses = _counts(status for path, status, *_ in receipts if path != bomb_rel)
        say(f"    good files: {statuses or 'none published'}")
        if bomb_rel not in {path for path, *_ in receipts}:
            say(f"    no receipt for {bomb_rel}")
        quarantine = query(ws.curated, "SELECT reason_code, count(*), any_value(message_en) FROM quarantine "
                                       "WHERE source_file = ? GROUP BY ALL ORDER BY 2 DESC", [bomb_rel])
        for reason, count, message in quarantine or []:
            say(f"    quarantine of the bomb: {reason} ({count:,} rows): {message}")
        if not quarantine:
            say("    no quarantine row for the bomb")
    return [Row(f"bomb, {kind} ({args.bomb_mib:,} MiB inflated)", run.seconds, "", None, run.peak_mib,
                "completed" if run.ok else run.failure(), run)]


# --- report -------------------------------------------------------------------------------

def machine() -> str:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"machine: {cpus} cpus (nproc), {memory} memory, {platform.platform()}; Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}; commit {commit or '?'} (plus uncommitted changes, if any); "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")


def print_table(title: str, rows: list[Row]) -> None:
    say(f"\n{title}")
    say(f"  {'scenario':<34} | {'seconds':>8} | {'ratio':<22} | {'rows/s':>9} | {'peak MiB':>8} | {'CPU s':>6} | "
        f"{'cores':>5} | note")
    say(f"  {'-' * 34}-+-{'-' * 8}-+-{'-' * 22}-+-{'-' * 9}-+-{'-' * 8}-+-{'-' * 6}-+-{'-' * 5}-+-{'-' * 20}")
    for row in rows:
        seconds = f"{row.seconds:8.2f}" if row.seconds is not None else f"{'-':>8}"
        rate = f"{row.rows / row.seconds:9,.0f}" if row.rows and row.seconds else f"{'-':>9}"
        peak = f"{row.peak_mib:8,.0f}" if row.peak_mib is not None else f"{'-':>8}"
        cpu, cores = (f"{row.measured.cpu:6.1f}", f"{row.measured.cores:>5}") if row.measured else (f"{'-':>6}", f"{'-':>5}")
        say(f"  {row.scenario:<34} | {seconds} | {row.ratio:<22} | {rate} | {peak} | {cpu} | {cores} | {row.note}")


def _half_memory_mib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 2048
    except OSError:
        pass
    return 8192


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="total rows per size, comma-separated (default 100000,1000000; e.g. add 5000000)")
    parser.add_argument("--files", type=int, default=200, help="files the rows are split across (default 200)")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"scenarios to run, comma-separated, from {','.join(SCENARIOS)} (default all); "
                             "noop, newfile and redrop run the full run first for its state")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR (created; must be empty) and keep it, instead of a temporary folder")
    parser.add_argument("--bomb-mib", type=int, default=1024, help="inflated size of bomb.csv.bz2 in MiB (default 1024)")
    parser.add_argument("--bomb-timeout", type=float, default=600, help="seconds before the bomb run is killed (default 600)")
    parser.add_argument("--bomb-memory-mib", type=int, default=_half_memory_mib(),
                        help="resident memory (MiB) at which the bomb run is killed (default half the machine's)")
    parser.add_argument("--dagster-home", action="store_true",
                        help="runs keep a Dagster run history (a DAGSTER_HOME in the work folder, as `make run` "
                             "has), so every run goes through Dagster; by default they take the steps without it")
    parser.add_argument("--profile", action="store_true",
                        help="also run the full run under cProfile and print the top 25 project functions")
    args = parser.parse_args(argv)
    args.size_list = [int(float(size.replace("_", ""))) for size in args.sizes.split(",") if size.strip()]
    args.selected = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = args.selected - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    if args.keep:
        keep = args.keep.resolve()
        if keep == ROOT or ROOT in keep.parents:
            parser.error("--keep must be outside the repository")
        if keep.exists() and any(keep.iterdir()):
            parser.error(f"--keep {keep} is not empty")
        args.keep = keep
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        work, cleanup = args.keep, None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="observatory-bench-")
        work = Path(cleanup.name)
    say(machine())
    if args.dagster_home:
        say("runs through Dagster, with a run history (--dagster-home)")
    try:
        per_size = args.selected - {"bomb"}
        reports = [run_size(total, args.files, per_size, args, work) for total in args.size_list] if per_size else []
        bomb = run_bomb(args, work) if "bomb" in args.selected else []
        say("\n=== summary ===")
        say(machine())
        if args.dagster_home:
            say("runs through Dagster, with a run history (--dagster-home)")
        for report in reports:
            print_table(f"{report.rows:,} rows in {report.files} files ({report.raw_mib:,.1f} MiB raw)", report.table)
        if bomb:
            print_table("bomb", bomb)
        if args.keep:
            say(f"\nwork folder kept: {work}")
    finally:
        if cleanup is not None:
            cleanup.cleanup()


if __name__ == "__main__":
    main()
