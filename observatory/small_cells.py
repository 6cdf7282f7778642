"""Small cells: what is published never lets a reader single out a victim.

For indicators marked `sensitive` in reference/indicators.csv (counts of victims from case
records), a figure below the national total (a subnational unit, or a sex, age or population
group) from 1 to k-1 is suppressed in the published database and Parquet files: its value
becomes NULL and its flags say `suppressed`. So that a suppressed figure cannot be recovered
by subtracting the published ones from a published total, secondary suppression hides one
more figure beside each figure that would otherwise be the only one hidden under its total
(the smallest, preferring a non-zero one), or the total itself when there is no other figure;
units within a unit (Lima) count against their parent, and toward the country through it; a
figure hidden in one source is hidden in every source that gives the same cell. Superseded vintages of sensitive figures
that come with a breakdown are not published, nor those of a figure no file gives any more; and
so that the history's figures of back then cannot give an earlier small figure away, a figure
whose earlier vintages are withheld counts under its totals like a hidden one when one of those
vintages was small (_secondary).
What is withheld is decided from the working database's figures (decide, which changes
nothing there: it keeps the true figures) and applied only in the copy being published, as its
rows are written (published_rows) or in place (suppress); everything built from the published
database (exports, reports) inherits it.

Every rule works inside one group of figures, a country's indicator in one year: the
totals a figure adds up to (national, a unit's, a parent unit's) and the cells another source
gives share its country, year and indicator, and so do the vintages of observation_history
and the national totals that withhold a mart's latest figure. What is hidden in a group depends
only on that group's rows (and on k, the sensitive indicators and which unit lies within which,
the same for all), so a publication recomputes only the groups whose figures changed (a scope)
and keeps what the last one hid elsewhere (publication.py). A row of mart_country_progress
gathers a country's indicators, so the mart is redone by country (`mart_countries`).
"""
from __future__ import annotations

import logging
from typing import Callable

import duckdb

from observatory import observation_key, reference
from observatory.sqltext import sql_literal

log = logging.getLogger(__name__)

FLAG = "suppressed"
NOTE = ("Suprimido para proteger a las víctimas: una cifra pequeña (de 1 a {top}) de un indicador sensible "
        "bajo el total nacional, o una cifra retenida para que otra no pueda deducirse de un total (README, "
        "«Small cells») / Suppressed to protect victims: a small figure (1 to {top}) of a sensitive indicator "
        "below the national total, or a figure withheld so that another cannot be deduced from a total "
        "(README, 'Small cells').")
# The dimensions a total adds up over, and the value that marks the total in each.
DIMENSIONS = {"subnational": "", "sex": "total", "age_group": "total", "population_group": "total"}
# A cell spells the observation key's unit as coalesce(subnational_code, ''): '' is the national figure.
CELL = {observation_key.UNIT: "subnational"}
DIMENSIONS_AND_SOURCE = (*DIMENSIONS, "source")
# A figure below the national total (a unit, or a sex, age or population group), on the
# columns of fact_observation and observation_history.
BELOW_TOTAL = ("(subnational_code IS NOT NULL OR sex <> 'total' OR age_group <> 'total' "
               "OR population_group <> 'total')")
# Which rows a suppression redoes: given a relation's name (or alias), a SQL condition on its
# rows, true for whole groups (groups_in, countries_in).
Scope = Callable[[str], str]


def sensitive_indicators() -> list[str]:
    indicators = reference.load("indicators")
    return sorted(indicators.loc[indicators["sensitive"] == "yes", "indicator_code"])


def suppress(con: duckdb.DuckDBPyConnection, database: str, k: int, scope: Scope | None = None,
             mart_countries: list[str] | None = None, earlier_totals: str | None = None) -> int:
    """Suppress small cells in place in `database` (a copy being published): fact_observation,
    observation_history and the latest figures of mart_country_progress. Returns how many
    fact_observation figures were hidden. scope and earlier_totals as for decide();
    mart_countries: the countries whose mart_country_progress rows are unsuppressed (None:
    every country)."""
    hidden = decide(con, database, k, scope, earlier_totals)
    for table in WITHHELD:
        sets = ", ".join(f"{column} = {value}" for column, value in _withheld(table, k).items())
        con.execute(f"UPDATE {database}.{table} SET {sets} WHERE rowid IN (SELECT rid FROM _withheld_{table})")
    withhold_mart(con, database, mart_countries)
    return hidden


def decide(con: duckdb.DuckDBPyConnection, database: str, k: int, scope: Scope | None = None,
           earlier_totals: str | None = None) -> int:
    """Decide what is withheld among the figures of `database`, changing nothing there:
    _withheld_fact_observation and _withheld_observation_history (the `rid`, rowid in that
    table, of each row whose figure is withheld; see published_rows and suppress) and
    _hidden_total, every hidden national total (they withhold a mart's latest figure). Returns
    how many fact_observation figures are hidden.

    scope: only the rows of whole groups it keeps are decided (groups_in, countries_in); None:
    every row. The hidden totals of the groups out of scope are those of the relation
    `earlier_totals` (country_iso3, year, indicator_code, source)."""
    _mark(con, database, k, scope)
    # Secondary suppression repeats until nothing changes: hiding a cell in one dimension can
    # leave another dimension's total with a single hidden cell. No bound on the passes (a bound
    # reached would publish a recoverable cell): each pass but the last hides at least one more
    # of finitely many cells, and nothing is ever shown again, so the loop ends.
    while True:
        changed = sum(_secondary(con, dimension, total) for dimension, total in DIMENSIONS.items())
        changed += _secondary_within_parent(con) + _across_sources(con)
        if not changed:
            break
    hidden = con.execute("SELECT count(*) FROM _small WHERE hidden AND rid IS NOT NULL").fetchall()[0][0]
    _hidden_totals(con, scope, earlier_totals)
    con.execute("CREATE OR REPLACE TEMP TABLE _withheld_fact_observation AS SELECT rid FROM _small "
                "WHERE hidden AND rid IS NOT NULL")
    # Also when nothing is hidden now: earlier vintages may be small.
    _withheld_history(con, database, k, scope)
    log.info("small cells: %d figures suppressed (k = %d) in %s", hidden, k,
             "every group" if scope is None else "the groups in scope")
    return hidden


# The tables whose withheld rows publish other values than their own (which ones: _withheld).
WITHHELD = ("fact_observation", "observation_history")


def _withheld(table: str, k: int) -> dict[str, str]:
    """Column -> SQL expression of its published value in a withheld row of `table`: the value
    goes, and in fact_observation a flag says so and the note says why (a note that could give
    the figure away, such as how many records were summed, goes too)."""
    if table == "observation_history":
        return {"value": "NULL"}
    return {"value": "NULL", "flags": f"CASE WHEN flags IS NULL OR flags = '' THEN '{FLAG}' ELSE flags || ';{FLAG}' END",
            "flag_note": sql_literal(NOTE.format(top=k - 1))}


def published_rows(table: str, database: str, columns: list[str], where: str, k: int) -> str:
    """A SELECT of `columns` of the rows of database.table that `where` keeps (naming the table's
    columns bare or as `table.column`), as published: after decide() on that database, the
    withheld rows' figures withheld, as suppress() does in place."""
    withheld = _withheld(table, k) if table in WITHHELD else {}
    select = ", ".join(f"CASE WHEN _withheld THEN {withheld[column]} ELSE {column} END AS {column}"
                       if column in withheld else column for column in columns)
    flag = f"rowid IN (SELECT rid FROM _withheld_{table})" if withheld else "false"
    return (f"SELECT {select} FROM (SELECT *, {flag} AS _withheld FROM {database}.{table} AS {table} "
            f"WHERE {where}) AS {table}")


def groups_in(relation: str) -> Scope:
    """The rows of the groups listed in `relation` (country_iso3, '' for none; year;
    indicator_code): the rows suppression decides together, no rule looks beyond them."""
    return lambda alias: (
        f"EXISTS (SELECT 1 FROM {relation} AS g WHERE g.country_iso3 = coalesce({alias}.country_iso3, '') "
        f"AND g.year IS NOT DISTINCT FROM {alias}.year AND g.indicator_code IS NOT DISTINCT FROM {alias}.indicator_code)")


def countries_in(countries: list[str]) -> Scope:
    """The rows of whole countries ('' for none): a list of values, tested far faster than a
    relation of groups (and clustered tables skip the blocks of other countries)."""
    return lambda alias: f"coalesce({alias}.country_iso3, '') IN (SELECT unnest({_list(countries)}::VARCHAR[]))"


def _within(scope: Scope | None, alias: str) -> str:
    return "TRUE" if scope is None else scope(alias)


def _list(values: list[str]) -> str:
    return "[" + ", ".join(sql_literal(value) for value in values) + "]"


def _hidden_totals(con: duckdb.DuckDBPyConnection, scope: Scope | None, earlier: str | None) -> None:
    """_hidden_total: the hidden national totals (they withhold a mart's latest figure) of the
    groups done now, and the earlier ones of the others."""
    query = """SELECT country_iso3, year, indicator_code, source FROM _small
               WHERE hidden AND rid IS NOT NULL AND subnational = '' AND sex = 'total' AND age_group = 'total' AND population_group = 'total'"""
    if scope is not None and earlier:
        query += (f" UNION ALL SELECT country_iso3, year, indicator_code, source FROM {earlier} AS e "
                  f"WHERE NOT {scope('e')}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _hidden_total AS {query}")


def _mark(con: duckdb.DuckDBPyConnection, database: str, k: int, scope: Scope | None) -> None:
    """_small: every published figure of a sensitive indicator (in `scope`), primary
    suppressions marked, with its cell key (_key); none when k <= 1. With them, hidden and with
    no rid, the figures no file gives any more in a group that comes with a breakdown (the
    history withholds their vintages but shows that they were there). Each row also says
    whether its key was `revised` (the history withholds its earlier vintages; a withdrawn
    figure counts as revised) and whether one of those earlier vintages was small
    (`past_small`): the secondary rules use both so that the history's old figures cannot give
    an old small cell away either (see _secondary)."""
    key = observation_key.columns(rename=CELL)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _small AS
        WITH published AS (
            SELECT f.rowid AS rid, f.country_iso3, coalesce(f.subnational_code, '') AS subnational, f.year,
                   f.indicator_code, f.sex, f.age_group, f.population_group, f.source, f.value,
                   {BELOW_TOTAL} AND f.value >= 1 AND f.value < $k AS hidden,
                   NOT list_contains(string_split(coalesce(f.flags, ''), ';'), 'rollup') AS given
            FROM {database}.fact_observation AS f
            WHERE f.indicator_code IN (SELECT unnest($sensitive::VARCHAR[])) AND {_within(scope, "f")} AND $k > 1
        ),
        history AS (
            SELECT country_iso3, coalesce(subnational_code, '') AS subnational, year, indicator_code, sex, age_group,
                   population_group, source, {BELOW_TOTAL} AS below_total,
                   {BELOW_TOTAL} AND value >= 1 AND value < $k AS small, received_at, source_file, source_row,
                   hash({observation_key.columns()}) AS key_hash
            FROM {database}.observation_history AS o
            WHERE indicator_code IN (SELECT unnest($sensitive::VARCHAR[])) AND {_within(scope, "o")} AND $k > 1
        ),
        -- Keys with more than one vintage, found by counting their hashes (cheap): whether a
        -- vintage before the latest was small (more small vintages than the latest's 1 or 0:
        -- an aggregate, not a numbering of the vintages). Two keys sharing a hash by chance
        -- only send more rows to the grouping.
        repeated AS (
            SELECT key_hash FROM history GROUP BY key_hash HAVING count(*) > 1
        ),
        revised AS (
            SELECT {key}, true AS revised,
                   count(*) FILTER (WHERE small) > arg_max(small::INTEGER, (received_at, source_file, source_row))
                       AS past_small
            FROM history SEMI JOIN repeated USING (key_hash)
            GROUP BY ALL HAVING count(*) > 1
        ),
        broken_down AS (
            SELECT DISTINCT country_iso3, year, indicator_code, source FROM history WHERE below_total
        ),
        withdrawn AS (
            SELECT NULL::BIGINT AS rid, {key}, NULL::DOUBLE AS value, true AS hidden, true AS given, true AS revised,
                   bool_or(small) AS past_small
            FROM history AS h
            WHERE NOT EXISTS (
                SELECT 1 FROM published AS p
                WHERE {observation_key.equal("p", "h", rename=CELL)})
              AND EXISTS (
                SELECT 1 FROM broken_down AS b
                WHERE b.country_iso3 IS NOT DISTINCT FROM h.country_iso3 AND b.year = h.year
                  AND b.indicator_code = h.indicator_code AND b.source = h.source)
            GROUP BY ALL
        )
        SELECT c.*, coalesce(d.parent_code, '') AS parent
        FROM (SELECT p.*, coalesce(r.revised, false) AS revised, coalesce(r.past_small, false) AS past_small
              FROM published AS p LEFT JOIN revised AS r
                ON {observation_key.equal("r", "p", rename=CELL)}
              UNION ALL BY NAME
              SELECT * FROM withdrawn) AS c
        LEFT JOIN {database}.dim_subnational AS d ON d.subnational_code = c.subnational
    """, {"k": k, "sensitive": sensitive_indicators()})
    _key(con)


def _cell_columns() -> tuple[str, ...]:
    """The columns of a cell, in the order of its key's digits: the observation key, the unit
    as coalesce(subnational_code, '')."""
    return tuple(CELL.get(column, column) for column in observation_key.key())


def _radix(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per column of a cell (_cell_columns), the weight of its digit in the cell key: the
    product of how many values the later columns take (the subnational digit counts the parent
    units too)."""
    counts = {}
    for column in _cell_columns():
        values = "SELECT subnational FROM _small UNION SELECT parent FROM _small" if column == "subnational" else \
            f"SELECT DISTINCT {column} FROM _small"
        con.execute(f"CREATE OR REPLACE TEMP TABLE _code_{column} AS "
                    f"SELECT v, row_number() OVER (ORDER BY v) - 1 AS code FROM ({values}) AS t(v)")
        counts[column] = max(1, con.execute(f"SELECT count(*) FROM _code_{column}").fetchall()[0][0])
    radix, weight = {}, 1
    for column in reversed(_cell_columns()):
        radix[column] = weight
        weight *= counts[column]
    if weight >= 2 ** 126:
        raise ValueError(f"small cells: too many distinct keys to number cells exactly ({counts})")
    return radix


def _key(con: duckdb.DuckDBPyConnection) -> None:
    """Number every cell exactly with one integer, each column a digit of a mixed-radix number
    (k_<column> its digit): a total and the figures under it over one dimension share the key
    with that digit taken out, so the secondary passes group and join on one integer instead of
    eight texts. Exact, not a hash: two groups never merge."""
    radix = _radix(con)
    joins = " ".join(f"JOIN _code_{column} AS c_{column} ON c_{column}.v IS NOT DISTINCT FROM s.{column}" for column in _cell_columns())
    cell = " + ".join(f"c_{column}.code::HUGEINT * {radix[column]}" for column in _cell_columns())
    digits = ", ".join(f"c_{column}.code::HUGEINT * {radix[column]} AS k_{column}" for column in DIMENSIONS_AND_SOURCE)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _small AS
        SELECT s.*, {cell} AS cell, {digits}, p.code::HUGEINT * {radix['subnational']} AS k_parent
        FROM _small AS s {joins}
        JOIN _code_subnational AS p ON p.v = s.parent
    """)


# The cell of a unit's parent (Lima, for Lima Metropolitana), from a row of _small.
PARENT_CELL = "cell - k_subnational + k_parent"
# Over the figures under one total: when the total, if open, needs one more figure hidden
# beside them. `lone_now`: exactly one figure of fact_observation is hidden under it (the total
# minus the open figures gives it). `lone_before`: exactly one figure has earlier vintages
# withheld in the history or is hidden now, and one of those earlier vintages was small: the
# history's figures of back then (this total, if never revised, and the unrevised open
# figures) would give that small vintage. A figure no file gives any more counts as hidden
# for the second, never for the first (it is not in fact_observation). The figure hidden next
# is an open one, the smallest, preferring one never revised (hiding a revised figure adds
# nothing to the history's hidden figures) and a non-zero one; or the total when none is open.
UNDER_TOTAL = """count(*) FILTER (WHERE hidden AND rid IS NOT NULL) = 1 AS lone_now,
                 count(*) FILTER (WHERE hidden OR revised) = 1 AND bool_or(past_small) AS lone_before,
                 count(*) FILTER (WHERE NOT hidden) AS open_cells,
                 arg_min(rid, (revised, value = 0, value, cell)) FILTER (WHERE NOT hidden) AS next_cell"""
# Which totals act: an open total acts on lone_now; on lone_before when a file gave it and it
# was never revised (a sum of units made here, flagged `rollup`, is not in the history, and the
# history withholds a revised total's earlier vintages: either way the figures of back then
# have no total).
TOTAL_ACTS = "NOT t.hidden AND (c.lone_now OR (c.lone_before AND t.given AND NOT t.revised))"


def _secondary(con: duckdb.DuckDBPyConnection, dimension: str, total: str) -> int:
    """Where a published total has a lone hidden figure under it (UNDER_TOTAL), hide one more:
    the smallest other figure (an unrevised non-zero one first), or, when there is none, the
    total. Returns how many figures it hid (an UPDATE counts the rows it changes; every one was
    open). A unit within another counts toward the country only through its parent when
    fact_observation has the parent's figure (as fact_observation.sql adds them up; it is
    protected against its parent by _secondary_within_parent): counted beside its parent, two
    hidden units of Lima would pass for two hidden figures under the national total while the
    open figure of Lima, their sum, gives them back together."""
    under = f"{dimension} <> {sql_literal(total)}"
    if dimension == "subnational":
        under += f" AND NOT (parent <> '' AND {PARENT_CELL} IN (SELECT cell FROM _small WHERE rid IS NOT NULL))"
    return con.execute(f"""
        UPDATE _small SET hidden = true WHERE rid IN (
            WITH groups AS (
                SELECT cell - k_{dimension} AS total_cell, {UNDER_TOTAL}
                FROM _small WHERE {under}
                GROUP BY ALL HAVING lone_now OR lone_before
            )
            SELECT CASE WHEN c.open_cells > 0 THEN c.next_cell ELSE t.rid END
            FROM groups AS c JOIN _small AS t ON t.cell - t.k_{dimension} = c.total_cell
            WHERE t.{dimension} = {sql_literal(total)} AND {TOTAL_ACTS}
        )
    """).fetchall()[0][0]


def _secondary_within_parent(con: duckdb.DuckDBPyConnection) -> int:
    """Units within a unit (Peru's Lima Metropolitana and Lima Provincias within Lima) add up
    to their parent's figure: where the parent's published figure has exactly one hidden unit
    under it (UNDER_TOTAL), hide one more unit, or the parent itself."""
    return con.execute(f"""
        UPDATE _small SET hidden = true WHERE rid IN (
            WITH children AS (
                SELECT {PARENT_CELL} AS parent_cell, {UNDER_TOTAL}
                FROM _small WHERE parent <> '' GROUP BY ALL HAVING lone_now OR lone_before
            )
            SELECT CASE WHEN c.open_cells > 0 THEN c.next_cell ELSE t.rid END
            FROM children AS c JOIN _small AS t ON t.cell = c.parent_cell
            WHERE {TOTAL_ACTS}
        )
    """).fetchall()[0][0]


def _across_sources(con: duckdb.DuckDBPyConnection) -> int:
    """A figure hidden in one source is hidden in every source that gives the same cell:
    otherwise another source's figure for it undoes the secondary suppression of the first.
    (A key is one row, so another row with the same cell but the source is another source.)
    A figure no file gives any more stands for nothing another source gives now: it is not
    spread."""
    return con.execute("""
        UPDATE _small SET hidden = true
        WHERE NOT hidden AND cell - k_source IN (SELECT cell - k_source FROM _small WHERE hidden AND rid IS NOT NULL)
    """).fetchall()[0][0]


def withhold_mart(con: duckdb.DuckDBPyConnection, database: str, mart_countries: list[str] | None) -> None:
    """In mart_country_progress of `database`, the rows of `mart_countries` (all when None): a
    latest figure that is a hidden national total (_hidden_total, from decide) is withheld."""
    mart_columns = {row[0] for row in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND table_name = 'mart_country_progress'",
        [database]).fetchall()}
    for code in sensitive_indicators():
        latest, year, source = f"{code}_latest", f"{code}_year", f"{code}_source"
        if {latest, year, source} <= mart_columns:
            con.execute(f"""
                UPDATE {database}.mart_country_progress AS m SET {latest} = NULL
                WHERE {_within(None if mart_countries is None else countries_in(mart_countries), "m")}
                  AND EXISTS (SELECT 1 FROM _hidden_total AS s WHERE s.indicator_code = ?
                              AND s.country_iso3 = m.country_iso3 AND s.year = m.{year} AND s.source = m.{source})
            """, [code])


def _withheld_history(con: duckdb.DuckDBPyConnection, database: str, k: int, scope: Scope | None) -> None:
    """_withheld_observation_history: the vintages whose value is withheld: every vintage of a
    hidden figure's cell (in every source, as _across_sources hides it in every source that
    gives it now: a source that no longer does keeps its old figure in the history), every
    small vintage below a total, and every superseded vintage of a sensitive figure that comes
    with a breakdown (the same country, year, indicator and source has figures below the
    national total: an old total minus old, or unchanged, open cells would give an old small
    cell). A figure that no file gives any more (its key is not in fact_observation) in such a
    group is hidden in _small (_mark), so all its vintages are withheld: else the last vintages
    of a withdrawn breakdown, open in the history once their secondary suppression is gone with
    them, would give its small cell away. The history keeps that such a figure was revised, not
    what it was; a national series without a breakdown keeps its revisions. None when k <= 1.
    Set-based: one pass numbers the vintages of every key that has several, joins find the
    three kinds."""
    if k <= 1:
        con.execute("CREATE OR REPLACE TEMP TABLE _withheld_observation_history (rid BIGINT)")
        return
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _withheld_observation_history AS SELECT DISTINCT rid FROM (
            WITH history AS (
                SELECT rowid AS rid, {observation_key.columns()}, coalesce(subnational_code, '') AS subnational,
                       value, received_at, source_file, source_row,
                       {BELOW_TOTAL} AS below_total,
                       hash({observation_key.columns()}) AS key_hash
                FROM {database}.observation_history AS o
                WHERE indicator_code IN (SELECT unnest(?::VARCHAR[])) AND {_within(scope, "o")}
            ),
            -- Keys with more than one vintage, found by counting their hashes (cheap): only their
            -- vintages are numbered, the others are a first vintage. Two keys sharing a hash by
            -- chance only send more rows to the numbering.
            revised AS (
                SELECT key_hash FROM history GROUP BY key_hash HAVING count(*) > 1
            ),
            vintages AS (
                SELECT *, 1 AS vintage FROM history ANTI JOIN revised USING (key_hash)
                UNION ALL
                SELECT *, row_number() OVER (
                           PARTITION BY {observation_key.columns()}
                           ORDER BY received_at DESC, source_file DESC, source_row DESC) AS vintage
                FROM history SEMI JOIN revised USING (key_hash)
            ),
            broken_down AS (
                SELECT DISTINCT country_iso3, year, indicator_code, source FROM vintages WHERE below_total
            )
            SELECT rid FROM vintages WHERE below_total AND value >= 1 AND value < ?
            UNION ALL
            -- Every vintage of a hidden figure's cell, in every source (as _across_sources hides
            -- it in every source giving it now), and of a withdrawn figure's key (hidden in _small).
            SELECT h.rid FROM vintages AS h SEMI JOIN _small AS s
              ON s.hidden AND {observation_key.equal("s", "h", tuple(c for c in _cell_columns() if c != "source"))}
             AND (s.rid IS NOT NULL OR s.source = h.source)
            UNION ALL
            SELECT h.rid FROM vintages AS h SEMI JOIN broken_down AS d
              ON d.country_iso3 IS NOT DISTINCT FROM h.country_iso3 AND d.year = h.year
             AND d.indicator_code = h.indicator_code
             AND d.source = h.source
            WHERE h.vintage > 1
        )
    """, [sensitive_indicators(), k])
