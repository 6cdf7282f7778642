"""Small cells: what is published never lets a reader single out a victim.

For indicators marked `sensitive` in reference/indicators.csv (counts of victims from case
records), a figure below the national total (a subnational unit, or a sex, age or population
group) from 1 to k-1 is suppressed in the published database and Parquet files: its value
becomes NULL and its flags say `suppressed`. So that a suppressed figure cannot be recovered
by subtracting the published ones from a published total, secondary suppression hides one
more figure beside each figure that would otherwise be the only one hidden under its total
(the smallest, preferring a non-zero one), or the total itself when there is no other figure.
This runs on the copy being published, never on the working database, which keeps the true
figures; everything built from the published database (exports, reports) inherits it.
"""
from __future__ import annotations

import logging

import duckdb

from observatory import reference

log = logging.getLogger(__name__)

FLAG = "suppressed"
NOTE = ("Suprimido para proteger a las víctimas: una cifra pequeña (de 1 a {top}) de un indicador sensible "
        "bajo el total nacional, o una cifra retenida para que otra no pueda deducirse de un total (README, "
        "«Small cells») / Suppressed to protect victims: a small figure (1 to {top}) of a sensitive indicator "
        "below the national total, or a figure withheld so that another cannot be deduced from a total "
        "(README, 'Small cells').")
# The dimensions a total adds up over, and the value that marks the total in each.
DIMENSIONS = {"subnational": "", "sex": "total", "age_group": "total", "population_group": "total"}
# Secondary suppression repeats until nothing changes: hiding a cell in one dimension can leave
# another dimension's total with a single hidden cell. Each pass hides at least one cell.
MAX_PASSES = 50


def sensitive_indicators() -> list[str]:
    indicators = reference.load("indicators")
    return sorted(indicators.loc[indicators["sensitive"] == "yes", "indicator_code"])


def suppress(con: duckdb.DuckDBPyConnection, database: str, k: int) -> int:
    """Suppress small cells in `database` (the attached copy being published): fact_observation,
    observation_history and the latest figures of mart_country_progress. Returns how many
    fact_observation figures were hidden."""
    if k <= 1:
        return 0
    _mark(con, database, k)
    for _ in range(MAX_PASSES):
        if not sum(_secondary(con, dimension, total) for dimension, total in DIMENSIONS.items()):
            break
    hidden = con.execute("SELECT count(*) FROM _small WHERE hidden").fetchall()[0][0]
    if hidden:
        _apply(con, database, k)
    log.info("small cells: %d figures suppressed (k = %d)", hidden, k)
    return hidden


def _mark(con: duckdb.DuckDBPyConnection, database: str, k: int) -> None:
    """_small: every published figure of a sensitive indicator, primary suppressions marked."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _small AS
        SELECT rowid AS rid, country_iso3, coalesce(subnational_code, '') AS subnational, year, indicator_code,
               sex, age_group, population_group, source, value,
               (subnational_code IS NOT NULL OR sex <> 'total' OR age_group <> 'total' OR population_group <> 'total')
                   AND value >= 1 AND value < ? AS hidden
        FROM {database}.fact_observation
        WHERE indicator_code IN (SELECT unnest(?::VARCHAR[]))
    """, [k, sensitive_indicators()])


def _secondary(con: duckdb.DuckDBPyConnection, dimension: str, total: str) -> int:
    """Where a published total has exactly one hidden figure under it, hide one more: the
    smallest other figure (a non-zero one first), or, when there is none, the total."""
    others = [name for name in ("country_iso3", "subnational", "year", "indicator_code", "sex", "age_group",
                                "population_group", "source") if name != dimension]
    group = ", ".join(others)
    same = " AND ".join(f"t.{name} = c.{name}" for name in others)
    before = con.execute("SELECT count(*) FROM _small WHERE hidden").fetchall()[0][0]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _groups AS
        SELECT {group}, count(*) FILTER (WHERE hidden) AS hidden_cells, count(*) FILTER (WHERE NOT hidden) AS open_cells,
               arg_min(rid, (value = 0, value, rid)) FILTER (WHERE NOT hidden) AS next_cell
        FROM _small WHERE {dimension} <> {_literal(total)}
        GROUP BY ALL
    """)
    con.execute(f"""
        UPDATE _small SET hidden = true WHERE rid IN (
            SELECT CASE WHEN c.open_cells > 0 THEN c.next_cell ELSE t.rid END
            FROM _groups AS c JOIN _small AS t ON {same} AND t.{dimension} = {_literal(total)}
            WHERE c.hidden_cells = 1 AND NOT t.hidden
        )
    """)
    return con.execute("SELECT count(*) FROM _small WHERE hidden").fetchall()[0][0] - before


def _apply(con: duckdb.DuckDBPyConnection, database: str, k: int) -> None:
    """Hidden figures lose their value (and a note that could give it away, such as how many
    records were summed); every vintage of their key in observation_history, and every small
    vintage, loses its value too; a mart's latest figure that is a hidden one is withheld."""
    note = NOTE.format(top=k - 1)
    con.execute(f"""
        UPDATE {database}.fact_observation
        SET value = NULL,
            flags = CASE WHEN flags IS NULL OR flags = '' THEN '{FLAG}' ELSE flags || ';{FLAG}' END,
            flag_note = ?
        WHERE rowid IN (SELECT rid FROM _small WHERE hidden)
    """, [note])
    con.execute(f"""
        UPDATE {database}.observation_history AS h SET value = NULL
        WHERE h.indicator_code IN (SELECT unnest(?::VARCHAR[]))
          AND (((h.subnational_code IS NOT NULL OR h.sex <> 'total' OR h.age_group <> 'total' OR h.population_group <> 'total')
                AND h.value >= 1 AND h.value < ?)
               OR EXISTS (SELECT 1 FROM _small AS s WHERE s.hidden AND s.country_iso3 = h.country_iso3
                          AND s.subnational = coalesce(h.subnational_code, '') AND s.year = h.year
                          AND s.indicator_code = h.indicator_code AND s.sex = h.sex AND s.age_group = h.age_group
                          AND s.population_group = h.population_group AND s.source = h.source))
    """, [sensitive_indicators(), k])
    mart_columns = {row[0] for row in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND table_name = 'mart_country_progress'",
        [database]).fetchall()}
    for code in sensitive_indicators():
        latest, year, source = f"{code}_latest", f"{code}_year", f"{code}_source"
        if {latest, year, source} <= mart_columns:
            con.execute(f"""
                UPDATE {database}.mart_country_progress AS m SET {latest} = NULL
                WHERE EXISTS (SELECT 1 FROM _small AS s WHERE s.hidden AND s.indicator_code = ?
                              AND s.country_iso3 = m.country_iso3 AND s.subnational = '' AND s.sex = 'total'
                              AND s.age_group = 'total' AND s.population_group = 'total'
                              AND s.year = m.{year} AND s.source = m.{source})
            """, [code])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
