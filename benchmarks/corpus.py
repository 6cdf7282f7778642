"""Generated raw files for the benchmarks: many raw contract v1 files with the variety staff send
(encodings, delimiters, Spanish headers, country names), about 1% bad rows, and a bz2 bomb.

Every row has a unique key (country, year, indicator, sex, age group, population group,
source) across all files: each file writes its own `source` text. The figures are synthetic
(random values under real country and indicator codes): they test speed, not facts.
Standard library only (no import of the project), so generating is fast and never depends on
the code being measured.
"""
from __future__ import annotations

import bz2
import csv
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNTRIES_CSV = ROOT / "observatory" / "reference" / "countries.csv"

HEADER_EN = ["country", "year", "indicator", "value", "sex", "age_group", "population_group", "source"]
HEADER_ES = ["país", "año", "indicador", "valor", "sexo", "grupo etario", "grupo poblacional", "fuente"]
INDICATORS = ["femicide_count", "femicide_attempt_count", "helpline_calls_count"]
SEXES = ["total", "female", "male"]
AGES = ["total", "15-49", "15+", "0-14"]
GROUPS = ["total", "indigenous"]
YEARS = [str(year) for year in range(1994, 2025)]
OBSERVATORIES = ["argentina", "chile", "mexico", "peru", "regional"]
DELIMITERS = [",", ";", "\t", "|"]
# Kinds of bad row, in turn: each is quarantined by the pipeline with its own reason.
BAD_KINDS = ["unknown_country", "empty_value", "bad_year", "value_nd"]
BAD_EVERY = 100  # one row in 100 is bad (about 1%)
TAILS = [(indicator, sex, age, group) for indicator in INDICATORS for sex in SEXES for age in AGES for group in GROUPS]
VALUES = [str(value) for value in range(501)]


def countries() -> list[tuple[str, str]]:
    """(ISO3 code, Spanish name) of every country of the reference list."""
    with open(COUNTRIES_CSV, encoding="utf-8", newline="") as handle:
        return [(row["country_iso3"], row["name_es"]) for row in csv.DictReader(handle)]


def combos_per_source() -> int:
    return len(countries()) * len(YEARS) * len(TAILS)


@dataclass
class GeneratedFile:
    path: str  # absolute path of the raw file
    rel_path: str  # relative to the raw folder
    observatory: str
    encoding: str  # Python codec name the file is written in
    delimiter: str
    header: str  # "en" or "es"
    spanish_country_names: bool
    rows: int
    bad_rows: dict[str, int] = field(default_factory=dict)
    bare_copy: str = ""  # UTF-8, comma-delimited copy for the bare DuckDB baseline
    bytes: int = 0


def file_style(index: int) -> tuple[str, str, str, bool]:
    """(encoding, delimiter, header language, Spanish country names) of the index-th file."""
    slot = index % 20
    if slot == 0:
        encoding = "utf-16"  # Python writes the BOM
    elif slot <= 5:
        encoding = "cp1252"
    elif slot <= 10:
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    delimiter = DELIMITERS[(index + index // 4) % 4]
    header = "es" if index % 3 == 1 else "en"
    return encoding, delimiter, header, index % 4 == 2


def rows_text(rows: int, source: str, start: int, seed: int, spanish_names: bool = False,
              bad_every: int | None = BAD_EVERY) -> tuple[list[str], dict[str, int]]:
    """`rows` comma-joined data lines (no newline), keys start..start+rows-1 of the key space
    (country x year x tail, repeated with ' part k' appended to the source once exhausted), and
    the count of bad rows by kind. Bad rows sit at global positions 37 mod 100 and rotate
    through BAD_KINDS; that spacing never gives two bad rows the same key."""
    rng = random.Random(seed)
    names = countries()
    labels = [name if spanish_names and n % 2 else iso3 for n, (iso3, name) in enumerate(names)]
    per_year = len(TAILS)
    per_country = len(YEARS) * per_year
    per_source = len(names) * per_country
    pre = [f"{indicator}," for indicator, _, _, _ in TAILS]
    post = [f",{sex},{age},{group}," for _, sex, age, group in TAILS]
    values = rng.choices(VALUES, k=rows)
    lines: list[str] = []
    position = start
    remaining = rows
    while remaining:
        part, combo = divmod(position, per_source)
        src = source if part == 0 else f"{source} part {part}"
        country, rest = divmod(combo, per_country)
        year, tail = divmod(rest, per_year)
        take = min(remaining, per_year - tail)  # the rest of this (country, year) block
        prefix = f"{labels[country]},{YEARS[year]},"
        offset = len(lines)
        lines.extend(f"{prefix}{pre[t]}{values[offset + k]}{post[t]}{src}" for k, t in enumerate(range(tail, tail + take)))
        position += take
        remaining -= take
    bad: dict[str, int] = {}
    if bad_every:
        for j in range((37 - start) % bad_every, rows, bad_every):
            kind = BAD_KINDS[((start + j) // bad_every) % len(BAD_KINDS)]
            cells = lines[j].split(",")
            if kind == "unknown_country":
                cells[0] = "Atlantis"
            elif kind == "empty_value":
                cells[3] = ""
            elif kind == "bad_year":
                cells[1] = cells[1][:2] + "x" + cells[1][3:]  # e.g. 20x4
            else:
                cells[3] = "n/d"
            lines[j] = ",".join(cells)
            bad[kind] = bad.get(kind, 0) + 1
    return lines, bad


def write_file(path: Path, lines: list[str], header: list[str], encoding: str = "utf-8", delimiter: str = ",") -> int:
    """Write header and lines (comma-joined; no cell holds a comma) in the file's dialect."""
    text = ",".join(header) + "\n" + "\n".join(lines) + "\n"
    if delimiter != ",":
        text = text.replace(",", delimiter)
    data = text.encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def generate_corpus(raw_dir: Path, total_rows: int, files: int, bare_dir: Path | None = None,
                    seed: int = 7, bad_every: int | None = BAD_EVERY, name: str = "bench") -> list[GeneratedFile]:
    """`total_rows` rows split across `files` files under raw_dir/<observatory>/; with
    `bare_dir`, a UTF-8 comma-delimited copy of each for the bare baseline."""
    per_source = combos_per_source()
    base, extra = divmod(total_rows, files)
    generated = []
    for index in range(files):
        rows = base + (index < extra)
        if rows == 0:
            continue
        encoding, delimiter, header, spanish_names = file_style(index)
        observatory = OBSERVATORIES[index % len(OBSERVATORIES)]
        rel = f"{observatory}/{name}_{index:04d}.csv"
        source = f"Observatorio de Género (Peñalolén) {name} file {index}"
        lines, bad = rows_text(rows, source, start=(index * 7919) % per_source, seed=seed * 100_003 + index,
                               spanish_names=spanish_names, bad_every=bad_every)
        head = HEADER_ES if header == "es" else HEADER_EN
        path = raw_dir / rel
        size = write_file(path, lines, head, encoding, delimiter)
        item = GeneratedFile(str(path), rel, observatory, encoding, delimiter, header, spanish_names, rows, bad, bytes=size)
        if bare_dir is not None:
            copy = bare_dir / rel
            write_file(copy, lines, head)
            item.bare_copy = str(copy)
        generated.append(item)
    return generated


def write_manifest(path: Path, generated: list[GeneratedFile]) -> None:
    path.write_text(json.dumps([asdict(item) for item in generated], ensure_ascii=False, indent=1), encoding="utf-8")


def build_bomb(path: Path, inflated_bytes: int, chunk_bytes: int = 8 << 20, seed: int = 11,
               repeated: bool = False) -> tuple[int, int]:
    """A .csv.bz2 that inflates to at least `inflated_bytes` of valid CSV rows, built fast: one
    bz2 stream of header + ~chunk_bytes of rows, then one stream of the same rows written again
    and again (bz2 readers go on through concatenated streams). Varied rows inflate ~26x; with
    `repeated`, one row over and over (the classic bomb) inflates thousands of times. Returns
    (inflated, file) bytes."""
    sample = "\n".join(rows_text(1000, "bomb", 0, seed, bad_every=None)[0])
    rows = int(chunk_bytes / ((len(sample) + 1) / 1000))
    if repeated:
        row = rows_text(1, "Observatorio de Género bomb", 0, seed, bad_every=None)[0][0]
        body = ((row + "\n") * rows).encode("utf-8")
    else:
        body = ("\n".join(rows_text(rows, "Observatorio de Género bomb", 0, seed, bad_every=None)[0]) + "\n").encode("utf-8")
    header = (",".join(HEADER_EN) + "\n").encode("utf-8")
    first = bz2.compress(header + body, 9)
    again = bz2.compress(body, 9)
    inflated = len(header) + len(body)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(first)
        while inflated < inflated_bytes:
            out.write(again)
            inflated += len(body)
    return inflated, path.stat().st_size
