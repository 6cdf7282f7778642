"""Time and peak memory of one `observatory run` over the hostile catalogue of tests/test_hostile.py
(50 files: bombs, a 64 MiB line, 10,000 columns, binary, formulas …), run by hand:

    .venv/bin/python -m benchmarks.hostile

The catalogue's outcomes are asserted in the tests; this prints what they cost, since the tests
never time anything. Everything is written under a temporary folder."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.test_hostile import CASES

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="observatory-hostile-") as tmp:
        raw = Path(tmp) / "raw" / "hostil"
        raw.mkdir(parents=True)
        for case in CASES:
            (raw / case.name).write_bytes(case.content)
        env = {**os.environ, "OBSERVATORY_RECEIPTS_DIR": str(Path(tmp) / "receipts"), "DAGSTER_HOME": ""}
        env.pop("DAGSTER_HOME")
        started = time.monotonic()
        done = subprocess.run([str(Path(sys.executable).with_name("observatory")), "run", "--raw-dir", str(raw.parent),
                               "--curated-dir", str(Path(tmp) / "curated")], env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(done.stdout.strip().splitlines()[0] if done.stdout else done.stderr[-500:])
    print(f"{len(CASES)} hostile files: {seconds:.1f} s, peak memory {peak:.0f} MiB (exit {done.returncode})")


if __name__ == "__main__":
    main()
