"""Scope: the observatory covers the 33 countries of Latin America and the Caribbean. A row about
another area — another country of a global file, a territory such as Montserrat, an M49 region
such as 419 or the World (1) — is out of scope by design: skipped with its reason and counted in
rows_skipped, never quarantined as an error. Which areas these are is data:
reference/other_areas.csv (ISO 3166-1, generated from pycountry by scripts/) and
reference/m49_regions.csv (UN M49)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from observatory import reference
from observatory.sqltext import registered
from observatory.reference import norm_key

SQL_DIR = Path(__file__).parent / "sql"


@lru_cache(maxsize=None)
def other_areas() -> dict[str, str]:
    """norm_key of a code or name of an area outside the 33 countries -> how messages name it."""
    areas: dict[str, str] = {}
    for row in reference.load("other_areas").itertuples():
        label = f"{row.name_en} ({row.iso3})"
        for alias in (row.iso3, row.iso2, row.m49, row.m49.lstrip("0"), row.name_en, row.name_es):
            areas.setdefault(norm_key(alias), label)
    for row in reference.load("m49_regions").itertuples():
        label = f"{row.name_en} (M49 {row.m49})"
        for alias in (row.m49, row.m49.lstrip("0"), row.name_en, row.name_es):
            if alias:
                areas.setdefault(norm_key(alias), label)
    return areas


def area_outside(raw: str) -> str | None:
    """The area a country cell names when it is not one of the 33 countries (None: not known to
    be outside; the cell is then resolved or quarantined as usual)."""
    return other_areas().get(norm_key(raw))


def is_numeric_code(raw: str) -> bool:
    """A numeric area code (M49): never 'close to' a country name."""
    return norm_key(raw).isdigit()


def skip_out_of_scope(con: duckdb.DuckDBPyConnection) -> None:
    """map_out_of_scope(raw, area) for the unmatched country cells that name another area; their
    rows leave stage_harmonized and count as skipped in stage_file (sql/out_of_scope.sql)."""
    raws = [raw for (raw,) in con.execute("SELECT raw FROM map_country WHERE code IS NULL").fetchall()]
    frame = pd.DataFrame([(raw, area_outside(raw)) for raw in raws if area_outside(raw)],
                         columns=["raw", "area"], dtype=object)
    with registered(con, "_out_of_scope_frame", frame):
        con.execute("CREATE OR REPLACE TABLE map_out_of_scope AS SELECT CAST(raw AS VARCHAR) AS raw, "
                    "CAST(area AS VARCHAR) AS area FROM _out_of_scope_frame")
    con.execute((SQL_DIR / "out_of_scope.sql").read_text())
