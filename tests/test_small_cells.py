"""Small cells: sensitive counts below the national total from 1 to k-1 are suppressed in every
published output, with secondary suppression against published totals; the working database
keeps the true figures."""
import json

import duckdb
import pytest

from tests.conftest import drop, query, run

HEADER = "country,year,indicator,value,departamento,source\n"


def published(settings, where: str = "TRUE") -> dict:
    rows = query(settings, f"SELECT coalesce(subnational_code, 'national'), year, value, flags, flag_note "
                           f"FROM fact_observation WHERE {where}")
    return {(code, year): (value, flags, note) for code, year, value, flags, note in rows}


def parquet(settings, table: str = "fact_observation") -> list[tuple]:
    path = settings.parquet_dir / f"{table}.parquet"
    return duckdb.sql(f"SELECT coalesce(subnational_code, 'national'), year, value, flags FROM '{path}' "
                      "WHERE indicator_code = 'femicide_count' ORDER BY ALL").fetchall()


def working(settings) -> dict:
    with duckdb.connect(str(settings.working_db), read_only=True) as con:
        rows = con.execute("SELECT coalesce(subnational_code, 'national'), year, value FROM fact_observation "
                           "WHERE indicator_code = 'femicide_count'").fetchall()
    return {(code, year): value for code, year, value in rows}


def test_a_small_subnational_count_and_one_more_under_the_total_are_suppressed(settings):
    drop(settings, "mimp/dep.csv", HEADER + "PER,2015,femicide_count,20,,MIMP\n"
                                            "PER,2015,femicide_count,3,PE.AM,MIMP\n"
                                            "PER,2015,femicide_count,10,PE.AN,MIMP\n"
                                            "PER,2015,femicide_count,7,PE.AP,MIMP\n"
                                            "PER,2015,femicide_count,0,PE.AR,MIMP\n")
    run(settings)
    facts = published(settings, "indicator_code = 'femicide_count'")
    assert facts[("PE.AM", 2015)][:2] == (None, "suppressed")  # primary: 3 < 5
    assert facts[("PE.AP", 2015)][:2] == (None, "suppressed")  # secondary: else 20 - 10 - 7 - 0 = 3
    assert facts[("PE.AN", 2015)][0] == 10 and facts[("PE.AR", 2015)][0] == 0  # zeros are not small cells
    assert facts[("national", 2015)][0] == 20
    note = facts[("PE.AM", 2015)][2]
    assert "1 a 4" in note and "1 to 4" in note and "3" not in note.replace("(README", "")
    assert parquet(settings) == [("PE.AM", 2015, None, "suppressed"), ("PE.AN", 2015, 10.0, None),
                                 ("PE.AP", 2015, None, "suppressed"), ("PE.AR", 2015, 0.0, None), ("national", 2015, 20.0, None)]
    assert working(settings) == {("national", 2015): 20, ("PE.AM", 2015): 3, ("PE.AN", 2015): 10,
                                 ("PE.AP", 2015): 7, ("PE.AR", 2015): 0}
    history = query(settings, "SELECT subnational_code, value FROM observation_history WHERE subnational_code IN ('PE.AM', 'PE.AP')")
    assert sorted(history) == [("PE.AM", None), ("PE.AP", None)]


def test_a_total_with_a_single_unit_under_it_is_suppressed_with_it_and_leaves_the_marts(settings):
    drop(settings, "mimp/dep.csv", HEADER + "PER,2015,femicide_count,2,,MIMP\nPER,2015,femicide_count,2,PE.AM,MIMP\n")
    run(settings)
    facts = published(settings, "indicator_code = 'femicide_count'")
    assert facts[("PE.AM", 2015)][:2] == (None, "suppressed") and facts[("national", 2015)][:2] == (None, "suppressed")
    latest = query(settings, "SELECT femicide_count_latest FROM mart_country_progress WHERE country_iso3 = 'PER' AND year = 2015")
    assert latest == [(None,)]
    assert working(settings)[("national", 2015)] == 2


def test_a_rollup_is_a_total_too(settings):
    drop(settings, "mimp/dep.csv", HEADER + "PER,2016,femicide_count,4,PE.AM,MIMP\nPER,2016,femicide_count,30,PE.AN,MIMP\n"
                                            "PER,2016,femicide_count,12,PE.AP,MIMP\n")
    run(settings)
    facts = published(settings, "indicator_code = 'femicide_count'")
    assert "rollup" in facts[("national", 2016)][1] and facts[("national", 2016)][0] == 46
    assert facts[("PE.AM", 2016)][0] is None and facts[("PE.AP", 2016)][0] is None and facts[("PE.AN", 2016)][0] == 30


def test_national_figures_and_indicators_not_marked_sensitive_are_published_as_they_are(settings):
    drop(settings, "oig/nac.csv", HEADER + "BRB,2014,femicide_count,2,,Royal Barbados Police Force\n"
                                           "PER,2015,helpline_calls_count,3,PE.AM,MIMP\n")
    run(settings)
    assert published(settings, "country_iso3 = 'BRB'")[("national", 2014)][:2] == (2, None)
    assert published(settings, "indicator_code = 'helpline_calls_count'")[("PE.AM", 2015)][:2] == (3, None)


def test_k_is_a_setting_and_changing_it_republishes_without_reading_again(settings, monkeypatch):
    drop(settings, "mimp/dep.csv", HEADER + "PER,2015,femicide_count,2,PE.AM,MIMP\nPER,2015,femicide_count,3,PE.AN,MIMP\n"
                                            "PER,2015,femicide_count,3,PE.AP,MIMP\n")
    run(settings)
    assert {key[0]: value[0] for key, value in published(settings, "subnational_code IS NOT NULL").items()} == {
        "PE.AM": None, "PE.AN": None, "PE.AP": None}
    monkeypatch.setenv("OBSERVATORY_SMALL_CELL_K", "3")
    result = run(settings)
    assert "0 new or changed" in result.output
    # 2 < 3 is suppressed; the rollup (8) would give it away, so the smaller 3 goes too.
    facts = {key[0]: value[0] for key, value in published(settings, "subnational_code IS NOT NULL").items()}
    assert facts["PE.AM"] is None and sorted(v for v in facts.values() if v is not None) == [3]


def test_superseded_vintages_of_a_sensitive_count_are_not_published(settings):
    """Old national 93 minus old open cells 40 and 50 would give the old small cell 3, even
    when the current figures hide nothing."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,93,,MIMP\nPER,2019,femicide_count,3,PE.CS,MIMP\n"
                                            "PER,2019,femicide_count,40,PE.PU,MIMP\nPER,2019,femicide_count,50,PE.AR,MIMP\n")
    run(settings)
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,100,,MIMP\nPER,2019,femicide_count,10,PE.CS,MIMP\n"
                                            "PER,2019,femicide_count,40,PE.PU,MIMP\nPER,2019,femicide_count,50,PE.AR,MIMP\n")
    run(settings)
    assert all(value is None or value >= 5 for (value,) in query(settings, "SELECT value FROM observation_history"))
    history = query(settings, "SELECT coalesce(subnational_code, 'national'), value FROM observation_history ORDER BY ALL")
    assert ("national", None) in history and ("national", 100.0) in history and ("PE.CS", 10.0) in history
    assert (93.0,) not in query(settings, "SELECT value FROM observation_history")


def test_the_vintages_of_a_withdrawn_breakdown_are_not_published(settings):
    """A file revised to drop its 2019 figures: fact_observation no longer has them, so no
    secondary suppression guards them; the history's national 60 minus an open 57 would give
    the small 3. A figure no file gives any more counts as superseded; a national series
    without a breakdown keeps its value."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,60,,MIMP\nPER,2019,femicide_count,3,PE.CS,MIMP\n"
                                            "PER,2019,femicide_count,57,PE.PU,MIMP\nPER,2018,femicide_count,30,,MIMP\n"
                                            "PER,2020,femicide_count,30,,MIMP\n")
    run(settings)
    drop(settings, "mimp/dep.csv", HEADER + "PER,2020,femicide_count,30,,MIMP\n")
    run(settings)
    assert query(settings, "SELECT count(*) FROM fact_observation WHERE year = 2019") == [(0,)]
    history = query(settings, "SELECT year, coalesce(subnational_code, 'national'), value FROM observation_history "
                              "ORDER BY ALL")
    assert history == [(2018, "national", 30.0), (2019, "PE.CS", None), (2019, "PE.PU", None),
                       (2019, "national", None), (2020, "national", 30.0)]


def test_a_small_unit_withdrawn_alone_still_counts_as_hidden_under_its_total(settings):
    """A file revised to drop only the unit with the small figure: the history still shows that
    PE.CS had a figure (withheld), so the national 60 and PE.PU's 57, both open, would give its 3.
    A withdrawn figure of a broken-down group counts as a hidden cell under its total, so one
    more figure is withheld beside it, in fact_observation and in the history."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,60,,MIMP\nPER,2019,femicide_count,3,PE.CS,MIMP\n"
                                            "PER,2019,femicide_count,57,PE.PU,MIMP\n")
    run(settings)
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,60,,MIMP\nPER,2019,femicide_count,57,PE.PU,MIMP\n")
    run(settings)
    facts = published(settings, "indicator_code = 'femicide_count'")
    assert set(facts) == {("national", 2019), ("PE.PU", 2019)}
    assert None in (facts[("national", 2019)][0], facts[("PE.PU", 2019)][0])  # else 60 - 57 = 3
    history = dict(query(settings, "SELECT coalesce(subnational_code, 'national'), value FROM observation_history"))
    assert history["PE.CS"] is None and None in (history["national"], history["PE.PU"])
    assert working(settings) == {("national", 2019): 60, ("PE.PU", 2019): 57}


def test_a_withdrawn_figure_never_stands_for_the_second_hidden_figure_of_fact_observation(settings):
    """The withdrawn PE.AR counts as hidden in the history, but fact_observation alone must not
    have the small PE.AM as the only hidden figure under the national 7: else 7 - 5 = 2."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,10,,MIMP\nPER,2019,femicide_count,2,PE.AM,MIMP\n"
                                            "PER,2019,femicide_count,5,PE.AN,MIMP\nPER,2019,femicide_count,3,PE.AR,MIMP\n")
    run(settings)
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,7,,MIMP\nPER,2019,femicide_count,2,PE.AM,MIMP\n"
                                            "PER,2019,femicide_count,5,PE.AN,MIMP\n")
    run(settings)
    facts = published(settings, "indicator_code = 'femicide_count'")
    assert facts[("PE.AM", 2019)][0] is None
    assert None in (facts[("PE.AN", 2019)][0], facts[("national", 2019)][0])


def test_a_small_figure_revised_upwards_cannot_be_read_from_the_history_s_figures_of_back_then(settings):
    """PE.CS was 3 (withheld), then corrected to 10; the national (another file) and PE.PU
    were never revised: the history's national 60 minus PE.PU's 57 would give the old 3."""
    drop(settings, "mimp/nat.csv", HEADER + "PER,2019,femicide_count,60,,MIMP\n")
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,3,PE.CS,MIMP\nPER,2019,femicide_count,57,PE.PU,MIMP\n")
    run(settings)
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,10,PE.CS,MIMP\nPER,2019,femicide_count,57,PE.PU,MIMP\n")
    run(settings)
    facts = published(settings, "indicator_code = 'femicide_count'")
    assert facts[("PE.PU", 2019)][0] is None or facts[("national", 2019)][0] is None
    history = query(settings, "SELECT coalesce(subnational_code, 'national'), value FROM observation_history ORDER BY ALL")
    assert ("PE.CS", 3.0) not in history and (("PE.PU", 57.0) not in history or ("national", 60.0) not in history)


def test_a_hidden_figure_is_withheld_in_the_history_of_another_source_that_no_longer_gives_it(settings):
    """MIMP's national 8 is hidden as the total of the small PE.CS 3; CEPAL gave the same 8,
    then revised its file without 2019: its old 8 stays in the history, where it would undo
    MIMP's suppression."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,8,,MIMP\nPER,2019,femicide_count,3,PE.CS,MIMP\n")
    drop(settings, "regional/cepal.csv", HEADER + "PER,2019,femicide_count,8,,CEPAL\nPER,2020,femicide_count,9,,CEPAL\n")
    run(settings)
    drop(settings, "regional/cepal.csv", HEADER + "PER,2020,femicide_count,9,,CEPAL\n")
    run(settings)
    assert query(settings, "SELECT value FROM fact_observation WHERE year = 2019 AND subnational_code IS NULL") == [(None,)]
    assert query(settings, "SELECT source, value FROM observation_history WHERE year = 2019 AND subnational_code IS NULL "
                           "ORDER BY ALL") == [("CEPAL", None), ("MIMP", None)]


def test_a_cell_hidden_in_one_source_is_hidden_in_another_that_gives_it(settings):
    drop(settings, "mimp/a.csv", HEADER + "PER,2019,femicide_count,93,,Fuente A\nPER,2019,femicide_count,3,PE.CS,Fuente A\n"
                                          "PER,2019,femicide_count,40,PE.PU,Fuente A\nPER,2019,femicide_count,50,PE.AR,Fuente A\n")
    drop(settings, "otro/b.csv", HEADER + "PER,2019,femicide_count,40,PE.PU,Fuente B\n")
    run(settings)
    facts = query(settings, "SELECT source, subnational_code, value FROM fact_observation WHERE subnational_code = 'PE.PU'")
    assert sorted(facts) == [("Fuente A", "PE.PU", None), ("Fuente B", "PE.PU", None)]  # else 93 - 50 - 40 = 3


def test_lima_s_two_units_are_suppressed_against_lima_not_only_against_peru(settings):
    drop(settings, "mimp/lima.csv", HEADER + "PER,2019,femicide_count,43,,MIMP\nPER,2019,femicide_count,12,PE-LMA,MIMP\n"
                                             "PER,2019,femicide_count,3,PE-LIM-PROV,MIMP\nPER,2019,femicide_count,8,PE.AR,MIMP\n"
                                             "PER,2019,femicide_count,20,PE.CS,MIMP\n")
    run(settings)
    facts = dict(query(settings, "SELECT subnational_code, value FROM fact_observation WHERE subnational_code IS NOT NULL"))
    assert facts["PE-LIM-PROV"] is None
    assert facts["PE-LMA"] is None or facts.get("PE.LR") is None  # else Lima 15 - 12 = 3


def test_lima_s_units_count_toward_the_country_through_lima_only(settings):
    """Lima (PE.LR, their sum, a rollup here) stands under the national total for its two
    units: the hidden PE-LMA and PE-LIM-PROV are not two hidden figures under the national 60,
    or 60 - 20 - 38 would give PE.AM's 2."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,60,,MIMP\nPER,2019,femicide_count,3,PE-LMA,MIMP\n"
                                            "PER,2019,femicide_count,17,PE-LIM-PROV,MIMP\nPER,2019,femicide_count,2,PE.AM,MIMP\n"
                                            "PER,2019,femicide_count,38,PE.AN,MIMP\n")
    run(settings)
    facts = dict(query(settings, "SELECT coalesce(subnational_code, 'national'), value FROM fact_observation WHERE year = 2019"))
    assert facts["PE.AM"] is None and facts["PE-LMA"] is None
    assert [facts["national"], facts["PE.LR"], facts["PE.AN"]].count(None) >= 1


@pytest.mark.parametrize("order", [("total", "female", "male", "unknown"), ("total", "male", "unknown", "female")])
def test_which_figure_secondary_suppression_hides_does_not_depend_on_the_order_rows_are_stored_in(order):
    """Two figures tie for the second one to hide: the choice is made on the cell's key, not
    on where the rows happen to be stored (an incremental publication re-inserts a country's
    rows). Otherwise two publications of the same figures could hide different cells, and
    together show both, and the small cell by subtraction."""
    from observatory import small_cells

    con = _bare_publication()
    values = {"total": 16, "female": 7, "male": 7, "unknown": 2}
    for sex in order:
        con.execute("INSERT INTO pub.fact_observation VALUES ('PER', NULL, 2020, 'femicide_count', ?, 'total', 'total', "
                    "'S', ?, NULL, NULL)", [sex, values[sex]])
    con.execute("BEGIN")
    small_cells.suppress(con, "pub", 5)
    con.execute("COMMIT")
    assert con.execute("SELECT sex, value FROM pub.fact_observation ORDER BY sex").fetchall() == [
        ("female", None), ("male", 7.0), ("total", 16.0), ("unknown", None)]


def test_each_withheld_vintage_is_listed_once_however_many_sources_give_its_cell():
    """A hidden cell given by many sources withholds every vintage of it in each of them, and
    each vintage once: listed once per source that gives the cell, the benchmark's 5 million rows
    (one source per file) made 33.8 million row ids of 0.5 million vintages, about 67 each, and
    publishing slowed by seconds."""
    from observatory import small_cells

    con = _bare_publication()
    sources = [f"S{n}" for n in range(4)]
    for source in sources:
        for sex, value in (("total", 16), ("female", 2), ("male", 14)):
            con.execute("INSERT INTO pub.fact_observation VALUES ('PER', NULL, 2020, 'femicide_count', ?, 'total', "
                        "'total', ?, ?, NULL, NULL)", [sex, source, value])
            for day, vintage in ((1, value + 1), (2, value)):
                con.execute("INSERT INTO pub.observation_history VALUES ('PER', NULL, 2020, 'femicide_count', ?, "
                            "'total', 'total', ?, ?, make_timestamp(2024, 1, ?, 0, 0, 0), ?, 1)",
                            [sex, source, vintage, day, f"{source}_{day}.csv"])
    small_cells.decide(con, "pub", 5)
    withheld = con.execute("SELECT count(*), count(DISTINCT rid) FROM _withheld_observation_history").fetchall()[0]
    # Every vintage of the hidden female and male cells (2 x 2 per source), and the earlier total
    # of each source (a superseded vintage of a figure that comes with a breakdown).
    assert withheld == (5 * len(sources), 5 * len(sources))


def _bare_publication() -> duckdb.DuckDBPyConnection:
    """An in-memory `pub` with the columns small_cells reads, and nothing else."""
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS pub")
    con.execute("CREATE TABLE pub.dim_subnational (subnational_code VARCHAR, parent_code VARCHAR)")
    con.execute("""CREATE TABLE pub.fact_observation (country_iso3 VARCHAR, subnational_code VARCHAR, year INTEGER,
        indicator_code VARCHAR, sex VARCHAR, age_group VARCHAR, population_group VARCHAR, source VARCHAR,
        value DOUBLE, flags VARCHAR, flag_note VARCHAR)""")
    con.execute("""CREATE TABLE pub.observation_history (country_iso3 VARCHAR, subnational_code VARCHAR, year INTEGER,
        indicator_code VARCHAR, sex VARCHAR, age_group VARCHAR, population_group VARCHAR, source VARCHAR,
        value DOUBLE, received_at TIMESTAMP, source_file VARCHAR, source_row INTEGER)""")
    con.execute("CREATE TABLE pub.mart_country_progress (country_iso3 VARCHAR, year INTEGER)")
    return con


def test_a_receipt_withholds_another_observatory_s_earlier_figure_of_a_sensitive_indicator(settings):
    """A receipt lists the figures a file revised, with the value before: another observatory's
    small count of victims (published as withheld) must not reach this observatory's staff
    through it. Their own earlier figure, and another observatory's rate, stay shown."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,3,PE.CS,MIMP\nPER,2019,femicide_rate,1.4,,MIMP\n")
    drop(settings, "otro/own.csv", HEADER + "PER,2018,femicide_count,2,PE.CS,MIMP\n")
    run(settings)
    drop(settings, "otro/fix.csv", HEADER + "PER,2019,femicide_count,10,PE.CS,MIMP\nPER,2019,femicide_rate,1.5,,MIMP\n"
                                            "PER,2018,femicide_count,4,PE.CS,MIMP\n")
    run(settings)
    receipt = json.loads((settings.receipts_dir / "otro" / "fix.csv.json").read_text())
    changes = {c["line"]: (c["previous_value"], c["value"], c["previous_withheld"]) for c in receipt["changes"]}
    assert changes == {2: (None, 10.0, True),   # mimp's 3
                       3: (1.4, 1.5, False),    # a rate is not a count of victims
                       4: (2.0, 4.0, False)}    # otro's own 2
    markdown = (settings.receipts_dir / "otro" / "fix.csv.md").read_text()
    assert "| 2 | PER PE.CS 2019 femicide_count total total total (MIMP) | retenida / withheld | 10 | mimp/dep.csv |" in markdown
    assert "another observatory's file" in markdown


def test_a_receipt_credits_a_figure_the_observatory_gave_itself_to_its_own_file(settings):
    """otro gave mimp's 3 again (no new vintage: the history credits mimp only), then 4: the
    value before is otro's own 3, from otro's own file; withholding it would say that mimp's
    figure is the 3 otro sent."""
    drop(settings, "mimp/dep.csv", HEADER + "PER,2019,femicide_count,3,PE.CS,MIMP\n")
    run(settings)
    drop(settings, "otro/a.csv", HEADER + "PER,2019,femicide_count,3,PE.CS,MIMP\nPER,2020,femicide_count,9,PE.CS,MIMP\n")
    run(settings)
    drop(settings, "otro/b.csv", HEADER + "PER,2019,femicide_count,4,PE.CS,MIMP\n")
    run(settings)
    receipt = json.loads((settings.receipts_dir / "otro" / "b.csv.json").read_text())
    assert [(c["previous_value"], c["value"], c["previous_file"], c["previous_withheld"]) for c in receipt["changes"]] == [
        (3.0, 4.0, "otro/a.csv", False)]
