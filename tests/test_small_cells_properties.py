"""Small cells on random tables: whatever the figures, what suppression leaves can never give a
hidden figure away by subtraction. Checked on the result, not on how it was reached: every
small figure below a total is hidden; no open total (over a unit, a sex, an age or a population
group, or a parent unit over its units) has exactly one hidden figure under it; a cell hidden
in one source is hidden in all; after revisions, the history's figures of back then cannot
give an earlier small vintage away either. Also: suppressing one group (a country's indicator
in one year) at a time gives what suppressing all at once gives (the rules never cross groups)."""
import itertools
import random

import duckdb
import pytest

from observatory import small_cells

K = 5
UNITS = {"PER": ["", "PE.LR", "PE-LMA", "PE-LIM-PROV", "PE.AM", "PE.AN"], "ARG": ["", "AR.BA", "AR.CB"]}
PARENTS = {"PE-LMA": "PE.LR", "PE-LIM-PROV": "PE.LR"}
SEXES, AGES, GROUPS, SOURCES = ["total", "female", "male"], ["total", "15-29"], ["total", "indigenous"], ["A", "B"]
# Two sensitive indicators over two years: groups side by side in one country.
SPREAD = list(itertools.product([2019, 2020], ["femicide_count", "femicide_attempt_count"]))


def database(seed: int, spread: bool = False, withdraw: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory database attached as `db` with the tables suppression reads and writes: one
    indicator in 2020, or, spread, the groups of SPREAD. Withdraw: files were revised, so about
    a quarter of the figures have an earlier vintage (small ones among them) and a fifth are in
    the history only (no file gives them any more)."""
    rng = random.Random(seed)
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS db")
    con.execute("CREATE TABLE db.dim_subnational (subnational_code VARCHAR, parent_code VARCHAR)")
    con.executemany("INSERT INTO db.dim_subnational VALUES (?, ?)",
                    [[code, PARENTS.get(code)] for units in UNITS.values() for code in units if code])
    columns = ("country_iso3 VARCHAR, subnational_code VARCHAR, year INTEGER, indicator_code VARCHAR, sex VARCHAR, "
               "age_group VARCHAR, population_group VARCHAR, value DOUBLE, source VARCHAR")
    con.execute(f"CREATE TABLE db.fact_observation ({columns}, flags VARCHAR, flag_note VARCHAR)")
    con.execute(f"CREATE TABLE db.observation_history ({columns}, received_at TIMESTAMP, source_file VARCHAR, source_row INTEGER)")
    con.execute("CREATE TABLE db.mart_country_progress (country_iso3 VARCHAR, year INTEGER)")
    rows, earlier = [], []
    for country, units in UNITS.items():
        for (year, indicator), unit, sex, age, group, source in itertools.product(
                SPREAD if spread else [(2020, "femicide_count")], units, SEXES, AGES, GROUPS, SOURCES):
            if rng.random() < 0.6:
                # Spread, small figures are rarer: most of a group stays open, so a rule that
                # crossed groups would hide other figures than group by group.
                value = rng.choice([0, 2, 6, 8, 12, 30, 45, 60] if spread else [0, 1, 2, 3, 4, 5, 6, 8, 12, 30])
                rows.append([country, unit or None, year, indicator, sex, age, group, value, source])
                if withdraw and rng.random() < 0.25:
                    earlier.append(rows[-1][:7] + [rng.choice([1, 2, 3, 6, 12, 30]), source])
    if earlier:
        con.executemany("INSERT INTO db.observation_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TIMESTAMP '2023-01-01', "
                        "'e.csv', 1)", earlier)
    con.executemany("INSERT INTO db.observation_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TIMESTAMP '2024-01-01', 'f.csv', 1)",
                    rows)
    con.executemany("INSERT INTO db.fact_observation VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    [row for row in rows if not (withdraw and rng.random() < 0.2)])
    return con


def hidden_cells(con: duckdb.DuckDBPyConnection) -> dict[tuple, bool]:
    rows = con.execute("SELECT country_iso3, coalesce(subnational_code, ''), sex, age_group, population_group, source, "
                       "value IS NULL FROM db.fact_observation").fetchall()
    return {tuple(row[:6]): row[6] for row in rows}


def true_values(seed: int, withdraw: bool = False) -> dict[tuple, float]:
    rows = database(seed, withdraw=withdraw).execute(
        "SELECT country_iso3, coalesce(subnational_code, ''), sex, age_group, population_group, source, value "
        "FROM db.fact_observation").fetchall()
    return {tuple(row[:6]): row[6] for row in rows}


def history_of(con: duckdb.DuckDBPyConnection) -> dict[tuple, list[tuple]]:
    """Cell -> its vintages, latest first: (value, withheld)."""
    rows = con.execute("SELECT country_iso3, coalesce(subnational_code, ''), sex, age_group, population_group, source, "
                       "value, received_at FROM db.observation_history ORDER BY received_at DESC").fetchall()
    history: dict[tuple, list[tuple]] = {}
    for row in rows:
        history.setdefault(tuple(row[:6]), []).append(row[6])
    return history


def totals_over(cells) -> list[tuple[tuple, list[tuple]]]:
    """Every (total, figures under it) pair the rules protect, among `cells`."""
    pairs = []
    for key in cells:
        country, unit, sex, age, group, source = key
        for position, total in ((1, ""), (2, "total"), (3, "total"), (4, "total")):
            if key[position] == total:
                continue
            if position == 1 and unit in PARENTS and (country, PARENTS[unit], *key[2:]) in cells:
                continue  # a unit within another adds up to the country through its parent
            total_key = key[:position] + (total,) + key[position + 1:]
            pairs.append((total_key, key))
        if unit in PARENTS:
            pairs.append(((country, PARENTS[unit], sex, age, group, source), key))
    grouped: dict[tuple, list[tuple]] = {}
    for total_key, key in pairs:
        grouped.setdefault(total_key, []).append(key)
    return [(total, under) for total, under in grouped.items() if total in cells]


def below(key: tuple) -> bool:
    return key[1] != "" or any(part != "total" for part in key[2:5])


@pytest.mark.parametrize("withdraw", [False, True], ids=["", "revised"])
@pytest.mark.parametrize("seed", range(25))
def test_no_hidden_figure_can_be_recovered_from_an_open_total(seed, withdraw):
    """In fact_observation alone, and in the history's figures of back then. Revised: every
    small figure is withheld in every vintage; an open total never revised has never exactly
    one figure under it whose earlier vintages are withheld (or that is hidden now), when one of
    those vintages was small (its figure of back then minus the open ones would give it)."""
    con = database(seed, withdraw=withdraw)
    true_history = history_of(con)
    small_cells.suppress(con, "db", K)
    cells, values, published = hidden_cells(con), true_values(seed, withdraw), history_of(con)
    for key, value in values.items():
        if below(key) and 1 <= value < K:
            assert cells[key], f"primary {key}={value} open"
    for total, under in totals_over(cells):
        hidden = sum(cells[key] for key in under)
        if hidden and not cells[total]:
            assert hidden != 1, f"seed {seed}: {total} open with one hidden figure under it: {under}"
    by_cell: dict[tuple, set[bool]] = {}
    for key, hidden in cells.items():
        by_cell.setdefault(key[:5], set()).add(hidden)
    assert all(len(flags) == 1 for flags in by_cell.values()), "a cell hidden in one source is open in another"
    for key, vintages in true_history.items():
        shown = published[key]
        for position, value in enumerate(vintages):
            if below(key) and 1 <= value < K:
                assert shown[position] is None, f"small vintage {key}={value} open"
            if below(key) and (position > 0 or key not in cells):  # an earlier figure, or one no file gives now
                assert shown[position] is None, f"superseded vintage {key}={value} open"
    for total, under in totals_over(true_history):
        if total not in cells or cells[total] or len(true_history[total]) > 1:
            continue
        before = [key for key in under if cells.get(key) or len(true_history[key]) > 1 or key not in cells]
        small_before = [key for key in before if any(1 <= value < K for value in
                                                     true_history[key][(1 if key in cells else 0):])]
        assert not (len(before) == 1 and small_before), \
            f"seed {seed}: {total} open, its figures of back then give {before[0]}: {true_history[before[0]]}"


@pytest.mark.parametrize("withdraw", [False, True], ids=["", "withdrawn"])
@pytest.mark.parametrize("seed", range(8))
def test_suppressing_group_by_group_gives_what_suppressing_all_gives(seed, withdraw):
    together = database(seed, spread=True, withdraw=withdraw)
    small_cells.suppress(together, "db", K)
    apart = database(seed, spread=True, withdraw=withdraw)
    for country, (year, indicator) in itertools.product(UNITS, SPREAD):
        apart.execute("CREATE OR REPLACE TEMP TABLE _one AS SELECT ?::VARCHAR AS country_iso3, ?::INTEGER AS year, "
                      "?::VARCHAR AS indicator_code", [country, year, indicator])
        small_cells.suppress(apart, "db", K, small_cells.groups_in("_one"), [])
    for table in ("fact_observation", "observation_history"):
        query = f"SELECT * FROM db.{table} ORDER BY ALL"
        assert apart.execute(query).fetchall() == together.execute(query).fetchall()
