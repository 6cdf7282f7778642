"""How `observatory run` scales: N generated rows against a bare DuckDB load of the same file.

Run by hand (never in the tests):  .venv/bin/python benchmarks/ingest_scale.py --rows 1000000
With --shape sesnsp the file has the shape of Mexico's SESNSP export (all crimes by state, read
by the layout mexico_sesnsp_victimas: a row rule keeps Feminicidio, modalities are summed).
Prints wall time, peak memory of the run, and the ratio to `read_csv` into a DuckDB table.
The figures are synthetic (random values under real country and indicator codes): they test
speed, not facts, and are written only to a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from observatory import reference

ROOT = Path(__file__).resolve().parents[1]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Unique keys: country x year x indicator x sex x age x population group x source."""
    rng = random.Random(seed)
    countries = list(reference.load("countries")["country_iso3"])
    indicators = ["femicide_count", "femicide_attempt_count", "helpline_calls_count"]
    sexes, ages, groups = ["total", "female", "male"], ["total", "15-49", "15+", "0-14"], ["total", "indigenous"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write("country,year,indicator,value,sex,age_group,population_group,source\n")
        written = 0
        source = 0
        while written < rows:
            for country in countries:
                for year in range(1994, 2025):
                    for indicator in indicators:
                        for sex in sexes:
                            for age in ages:
                                for group in groups:
                                    out.write(f"{country},{year},{indicator},{rng.randint(0, 500)},{sex},{age},{group},bench {source}\n")
                                    written += 1
                                    if written == rows:
                                        return
            source += 1


def generate_sesnsp(path: Path, rows: int, seed: int = 7) -> None:
    """year x state (00-32) x crime x modality x sex; one crime in 25 is Feminicidio."""
    rng = random.Random(seed)
    crimes = ["Feminicidio"] + [f"Delito {n}" for n in range(24)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write("n_year,cve_ent,nombre_estado,bien_juridico_afectado,tipo_de_delito,subtipo_de_delito,modalidad,genero,n_victimas,n_victimas_x100khab,n_victimas_x100kmujeres\n")
        written = 0
        year = 1900
        while True:
            for state in range(33):
                for crime in crimes:
                    for modality in range(4):
                        for sex in ("Mujer", "Hombre", "Total"):
                            out.write(f"{year},{state:02d},Estado {state},Bien,{crime},{crime},Modalidad {modality},{sex},{rng.randint(0, 50)},NA,NA\n")
                            written += 1
                            if written == rows:
                                return
            year += 1


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of a child process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kib // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shape", choices=["contract", "sesnsp"], default="contract",
                        help="raw contract v1 rows, or an SESNSP-shaped export read by its layout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = work / "raw" / "bench" / "rows.csv"
        (generate if args.shape == "contract" else generate_sesnsp)(raw, args.rows)
        bare_db = work / "bare.duckdb"
        bare_sql = f"CREATE TABLE t AS SELECT * FROM read_csv('{raw}', all_varchar=true)"
        bare, bare_mem = timed([sys.executable, "-c", f"import duckdb; duckdb.connect('{bare_db}').execute(\"{bare_sql}\")"])
        observatory = str(Path(sys.executable).with_name("observatory"))
        # Receipts for staff go to the temporary folder too, not the repo's data/receipts/.
        env = {**os.environ, "OBSERVATORY_RECEIPTS_DIR": str(work / "receipts")}
        full, full_mem = timed([observatory, "run", "--raw-dir", str(work / "raw"), "--curated-dir", str(work / "curated")], env)
        again, _ = timed([observatory, "run", "--raw-dir", str(work / "raw"), "--curated-dir", str(work / "curated")], env)
        with duckdb.connect(str(work / "curated" / "observatory.duckdb"), read_only=True) as con:
            loaded, skipped = con.execute("SELECT sum(rows_loaded), sum(rows_skipped) FROM file_receipt").fetchone()
        size = raw.stat().st_size / 2**20
    print(f"rows: {args.rows:,} ({size:.0f} MiB CSV, shape {args.shape}); loaded: {loaded:,}; skipped by the layout: {skipped:,}")
    print(f"bare DuckDB read_csv:   {bare:7.1f} s")
    print(f"observatory run:        {full:7.1f} s   ratio {full / bare:5.1f}x   {args.rows / full:,.0f} rows/s")
    print(f"second run (no change): {again:7.1f} s")
    print(f"peak memory of the largest child process so far: {max(bare_mem, full_mem)} MiB")


if __name__ == "__main__":
    main()
