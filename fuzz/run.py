"""The fuzz target, run by hand: `python -m fuzz.run` (10,000 generated files by default).

    .venv/bin/python -m fuzz.run [--files 10000] [--batch 250] [--seed N] [--mode pipeline|reader]

`pipeline` (default) drops the files `--batch` at a time into a fresh raw folder and stages,
validates and builds them as one run: every file must get a receipt that balances
(rows_read = rows_loaded + rows_quarantined), and nothing may raise. `reader` reads each file
on its own and checks that every row it read is staged as a row or a problem. A failure is
shrunk by hypothesis to a small example and printed. Everything is written under a temporary
folder, removed at the end.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fuzz.check import pipeline_balances, reader_keeps_every_row
from fuzz.files import raw_files


FAILURES = Path("fuzz-failures")


def run_batch(batch: list, root: Path, counts: Counter) -> None:
    """One run over a batch of files; a batch that breaks a property is kept in fuzz-failures/
    (drop it in a raw folder to reproduce) and the fuzzing goes on."""
    try:
        counts["files"] += pipeline_balances(batch, root / f"run{counts['batches']}")  # a fresh folder each
        counts["batches"] += 1
    except Exception as error:  # noqa: BLE001 - reported, kept, and the run goes on
        kept = FAILURES / f"batch-{int(time.time())}-{counts['failed batches']}"
        kept.mkdir(parents=True)
        for number, generated in enumerate(batch):
            (kept / f"{number:05d}_{generated.name}").write_bytes(generated.content)
        counts["failed batches"] += 1
        print(f"property broken ({type(error).__name__}: {error}); files kept in {kept}")
    batch.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--mode", choices=["pipeline", "reader"], default="pipeline")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started, counts = time.monotonic(), Counter()
    with tempfile.TemporaryDirectory(prefix="observatory-fuzz-") as tmp:
        root = Path(tmp)
        if args.mode == "reader":
            examples = args.files
            strategy = raw_files()

            def check(generated) -> None:
                outcome = reader_keeps_every_row(generated, root)
                counts[outcome.rejection.reason_code if outcome.rejection else "read"] += 1
        else:
            examples, strategy, batch = args.files, raw_files(), []

            def check(generated) -> None:
                batch.append(generated)
                if len(batch) == args.batch:
                    run_batch(batch, root, counts)
        test = settings(max_examples=examples, database=None, deadline=None,
                        suppress_health_check=list(HealthCheck))(given(strategy)(check))
        if args.seed is not None:
            test = seed(args.seed)(test)
        test()
        if args.mode == "pipeline" and batch:
            run_batch(batch, root, counts)
    if counts["failed batches"]:
        raise SystemExit(f"{counts['failed batches']} batch(es) broke a property: see {FAILURES}/")
    print(f"{sum(counts.values()) if args.mode == 'reader' else counts['files']} files in "
          f"{time.monotonic() - started:.0f} s, every property held: {dict(counts)}")


if __name__ == "__main__":
    main()
