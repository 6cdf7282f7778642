"""The properties every generated file must keep, at the reader and through the pipeline."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from fuzz.files import GeneratedFile
from observatory import pipeline, read, reference, staging
from observatory.settings import Settings


def reader_keeps_every_row(generated: GeneratedFile, folder: Path) -> read.ReadOutcome:
    """read_file never raises; a file it accepts stages every row it read as a row or a
    problem; a file it rejects stages nothing and says why with a known reason."""
    path = folder / generated.name
    path.write_bytes(generated.content)
    con = duckdb.connect()
    try:
        staging.create_stage_tables(con)
        outcome = read.read_file(con, path, file_id=1, first_row_id=0, temp_dir=folder)
        staged = sum(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] for table in staging.STAGE_TABLES.values())
        problems = con.execute("SELECT count(*) FROM stage_problem").fetchall()[0][0]
    finally:
        con.close()
        path.unlink()
    if outcome.rejection is not None:
        assert outcome.rejection.reason_code in set(reference.load("reasons")["reason_code"]), outcome.rejection.reason_code
        assert staged == 0 and problems == 0
    else:
        assert staged + problems == outcome.rows_read, (generated.name, staged, problems, outcome.rows_read)
    assert not [p for p in folder.iterdir() if p.suffix == ".csv" and p.name != generated.name], "a temporary copy was left"
    return outcome


def pipeline_balances(files: list[GeneratedFile], root: Path) -> int:
    """Stage, validate and build a batch of generated files as one run: every file gets a
    receipt and every receipt balances (rows_read = rows_loaded + rows_quarantined)."""
    shutil.rmtree(root, ignore_errors=True)
    settings = Settings.resolve(root / "raw", root / "curated", root / "receipts")
    folder = settings.raw_dir / "fuzz"
    folder.mkdir(parents=True)
    for number, generated in enumerate(files):  # names made unique: each is one file
        (folder / f"{number:05d}_{generated.name}").write_bytes(generated.content)
    pipeline.stage(settings)
    pipeline.validate(settings)
    pipeline.build(settings)
    assert pipeline.unbalanced_receipts(settings) == []
    with pipeline.working_db(settings) as con:
        receipts = con.execute("SELECT count(*) FROM file_receipt").fetchall()[0][0]
    assert receipts == len(files), (receipts, len(files))
    return receipts
