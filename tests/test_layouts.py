"""Source layouts: real observatory files ingest exactly, through `observatory run`."""
import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from observatory import layouts, read, staging
from observatory.layouts import binding
from observatory.cli import main
from observatory.settings import Settings
from tests.conftest import drop, query, run

FIXTURES = Path(__file__).parent / "fixtures"
REAL_WORLD = FIXTURES / "real_world"
# Where each fixture is dropped: a folder per observatory, the file under its own name.
DROPS = {
    "mimp_peru": REAL_WORLD / "peru_feminicidio_tentativa_departamentos_2009_2016.csv",
    "costa_rica": REAL_WORLD / "costarica_femicidios_2007_2017.csv",
    "argentina": REAL_WORLD / "argentina_femicidios_casos_2012_2016.csv",
    "cepal_oig": REAL_WORLD / "cepalstat_femicidios_caribbean.csv",
    "cepal_oig/centroamerica": REAL_WORLD / "cepalstat_femicidios_central-america.csv",
    "cepal_oig/continental": REAL_WORLD / "cepalstat_femicidios_continental-latam.csv",
    "mexico": FIXTURES / "mexico_feminicidios_mensual_2016_2018.csv",
    "sesnsp": FIXTURES / "mexico_sesnsp_2024_2025_muestra.csv.bz2",
}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Settings:
    """Every real-world fixture dropped with its own name, then one run."""
    root = tmp_path_factory.mktemp("real_world")
    settings = Settings.resolve(root / "raw", root / "curated", root / "receipts")
    for folder, source in DROPS.items():
        (settings.raw_dir / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(source, settings.raw_dir / folder / source.name)
    run(settings)
    return settings


def receipt(settings, name):
    return query(settings, "SELECT status, rows_read, rows_loaded, rows_quarantined, rows_skipped, layout FROM file_receipt "
                           "WHERE file_path LIKE '%' || ?", [name])[0]


def national(settings, country, indicator, source_like="%"):
    return dict(query(settings, """
        SELECT year, value FROM fact_observation
        WHERE country_iso3 = ? AND indicator_code = ? AND subnational_code IS NULL AND source LIKE ?
    """, [country, indicator, source_like]))


def test_every_real_world_file_is_read_by_its_layout_and_balances(published):
    rows = query(published, "SELECT file_path, layout, rows_read, rows_loaded, rows_quarantined FROM file_receipt")
    assert len(rows) == len(DROPS)
    assert all(layout for _, layout, *_ in rows)
    assert all(read_ == loaded + quarantined for _, _, read_, loaded, quarantined in rows)


def test_peru_departments_wide_by_year_with_hasc_codes_and_a_partial_2016(published):
    # 25 departments x 8 years x (feminicidio, tentativa): every cell one record, all loaded.
    assert receipt(published, "peru_feminicidio_tentativa_departamentos_2009_2016.csv")[:4] == ("loaded", 400, 400, 0)
    units = query(published, "SELECT DISTINCT subnational_code FROM fact_observation WHERE country_iso3 = 'PER' AND subnational_code IS NOT NULL")
    assert len(units) == 25 and ("PE.AP",) in units  # Apurímac, written in Windows-1252
    assert query(published, """
        SELECT value FROM fact_observation WHERE subnational_code = 'PE.AM' AND year = 2015
        ORDER BY indicator_code""") == [(13.0,), (0.0,)]  # attempts, femicides: row PE.AM, columns 2015
    # National figures are rollups of the 25 departments (the sums the file's own totals give).
    femicides = national(published, "PER", "femicide_count", "MIMP%")
    assert femicides[2009] == 139 and femicides[2015] == 95
    assert national(published, "PER", "femicide_attempt_count", "MIMP%")[2009] == 64
    flags = dict(query(published, "SELECT year, flags FROM fact_observation WHERE country_iso3 = 'PER' AND indicator_code = 'femicide_count' AND subnational_code IS NULL AND source LIKE 'MIMP%'"))
    assert flags[2015] == "rollup" and flags[2016] == "rollup;partial_year"
    assert query(published, "SELECT count(*) FROM fact_observation WHERE subnational_code = 'PE.LR' AND year = 2016 AND flags = 'partial_year'") == [(2,)]


def test_costa_rica_keeps_the_two_legal_definitions_apart(published):
    assert receipt(published, "costarica_femicidios_2007_2017.csv")[:4] == ("loaded", 22, 22, 0)
    article_21 = national(published, "CRI", "femicide_count", "idatosabiertos%")
    extended = national(published, "CRI", "femicide_extended_count", "idatosabiertos%")
    assert (article_21[2007], extended[2007]) == (6, 15)
    assert (article_21[2017], extended[2017]) == (3, 5)
    assert len(article_21) == len(extended) == 11
    assert 21 not in article_21.values()  # 6 + 15 is never formed


def test_argentina_cases_become_counts_by_province_and_year_and_nothing_personal_is_copied(published):
    # 771 case rows: 63 linked victims skipped by design; 3 cases without a date and 26 rows
    # repeated in every column (all dated 2014) quarantined, so no case is counted twice.
    assert receipt(published, "argentina_femicidios_casos_2012_2016.csv")[:5] == ("partially_loaded", 708, 679, 29, 63)
    assert dict(query(published, "SELECT reason_code, count(*) FROM quarantine WHERE source_file LIKE 'argentina/%' GROUP BY 1")) == {
        "unparsed_date": 3, "duplicate_row": 26}
    totals = national(published, "ARG", "femicide_count", "Ministerio de Justicia%")
    assert totals == {2012: 4, 2013: 143, 2014: 168, 2015: 204, 2016: 160}
    assert query(published, "SELECT value FROM fact_observation WHERE subnational_code = 'AR.CB' AND year = 2013") == [(27.0,)]
    assert query(published, "SELECT value FROM fact_observation WHERE subnational_code = 'AR.DF' AND year = 2014") != []  # CABA
    flags = dict(query(published, "SELECT year, flag_note FROM fact_observation WHERE country_iso3 = 'ARG' AND subnational_code IS NULL AND flags LIKE '%partial_year%'"))
    assert set(flags) == {2012, 2016} and "2016-11, 2016-12" in flags[2016]
    assert query(published, "SELECT count(*) FROM fact_observation WHERE country_iso3 = 'ARG' AND source_row IS NOT NULL AND source LIKE 'Ministerio%'") == [(0,)]
    # No victim attribute (age, identity, method, date) reaches a published table.
    with duckdb.connect(str(published.published_db), read_only=True) as con:
        text = " ".join(
            str(value) for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            for row in con.execute(f"SELECT * FROM {table}").fetchall() for value in row
        )
    for attribute in ("Travesti", "Acuchillamiento", "Disparo de bala", "10/24/2016", "Trans - Femenina"):
        assert attribute not in text


def test_a_month_written_two_ways_is_one_record_not_two(settings):
    """The layout's `unique` date column is compared as the date it holds: January 2016 given
    as 01/01/2016 and again as 1/1/2016 (or as a spreadsheet's 2016-01-01) is a repeated month,
    quarantined, not summed twice. Figures: the first months of the fixture above (Mexico)."""
    lines = FIXTURES.joinpath("mexico_feminicidios_mensual_2016_2018.csv").read_text().splitlines()[:13]
    drop(settings, "mexico/mensual.csv", "\n".join([*lines, "1/1/2016,35", "2016-02-01,47"]) + "\n")
    run(settings)
    assert query(settings, "SELECT year, value FROM fact_observation") == [(2016, sum(int(l.split(",")[1]) for l in lines[1:]))]
    assert query(settings, "SELECT source_row, reason_code FROM quarantine ORDER BY 1") == [(14, "duplicate_row"), (15, "duplicate_row")]


def test_mexico_monthly_series_quarantines_the_repeated_month_and_flags_the_gaps(published):
    assert receipt(published, "mexico_feminicidios_mensual_2016_2018.csv")[:4] == ("partially_loaded", 36, 34, 2)
    reasons = query(published, "SELECT source_row, reason_code, message_en FROM quarantine WHERE source_file LIKE 'mexico/%' ORDER BY 1")
    assert [(line, code) for line, code, _ in reasons] == [(14, "conflicting_duplicate"), (26, "conflicting_duplicate")]
    assert "14, 26" in reasons[0][2]
    totals = national(published, "MEX", "femicide_count", "LuisAlfonso%")
    # 2018 without either January (49 or 69): the other eleven months, nothing counted twice.
    assert totals == {2016: 608, 2017: 693, 2018: 829}
    notes = dict(query(published, "SELECT year, flags || ' ' || flag_note FROM fact_observation WHERE source LIKE 'LuisAlfonso%'"))
    assert "partial_year" not in notes[2016]
    assert "partial_year" in notes[2017] and "2017-01" in notes[2017]
    assert "2018-01" in notes[2018]


def test_sesnsp_loads_feminicidio_by_state_with_modalities_summed(published):
    status, rows_read, loaded, quarantined, skipped, layout = receipt(published, "mexico_sesnsp_2024_2025_muestra.csv.bz2")
    assert (status, rows_read, loaded, quarantined, layout) == ("loaded", 32, 32, 0, "mexico_sesnsp_victimas")
    assert skipped == 784 - 32  # every other crime
    rows = query(published, "SELECT subnational_code, year, value, flags FROM fact_observation WHERE source LIKE 'SESNSP%' ORDER BY 1 NULLS FIRST, 2")
    assert rows == [
        (None, 2024, 852.0, "aggregated"), (None, 2025, 338.0, "aggregated;partial_year"),
        # 3 is a small cell: suppressed when published (README, "Small cells")
        ("MX.AG", 2024, 7.0, "aggregated"), ("MX.AG", 2025, None, "aggregated;partial_year;suppressed"),
        ("MX.BN", 2024, 38.0, "aggregated"), ("MX.BN", 2025, 16.0, "aggregated;partial_year"),
        ("MX.BS", 2024, 9.0, "aggregated"), ("MX.BS", 2025, None, "aggregated;partial_year;suppressed"),
    ]


def test_cepalstat_extracts_trim_the_source_text_and_skip_territories(published):
    assert query(published, "SELECT DISTINCT source FROM fact_observation WHERE country_iso3 = 'BRB'") == [("CEPALSTAT: Royal Barbados Police Force.",)]
    assert national(published, "GTM", "femicide_count", "CEPALSTAT%")[2013] == 282
    # Montserrat and Puerto Rico are not among the 33 countries: out of scope, skipped by design.
    assert query(published, "SELECT reason_code FROM quarantine WHERE source_file LIKE '%caribbean.csv'") == []
    assert receipt(published, "cepalstat_femicidios_caribbean.csv")[:5] == ("loaded", 18, 18, 0, 12)


def test_the_marts_skip_partial_years_in_their_latest_figures(published):
    # SESNSP's 2025 (338, a partial year) is newer than its 2024 (852): the mart keeps 2024.
    latest = query(published, "SELECT femicide_count_latest, femicide_count_year, femicide_count_source FROM mart_country_progress WHERE country_iso3 = 'MEX' AND year = 2025")
    assert latest == [(852.0, 2024, "SESNSP, víctimas de delitos del fuero común (via isaacarroyov/datos_facil_acceso)")]


def test_a_later_cepalstat_vintage_revises_the_figure_and_keeps_the_first(settings):
    first = (REAL_WORLD / "cepalstat_femicidios_central-america.csv").read_bytes()
    drop(settings, "cepal_oig/extracto_2018.csv", first)
    run(settings)
    # Guatemala 2013: 282 in the 2018-19 extract, 246 in a 2023 download (shared/notes/domain.md).
    later = first.replace(b"Guatemala,GTM,2013,282,", b"Guatemala,GTM,2013,246,")
    assert later != first
    drop(settings, "cepal_oig/extracto_2023.csv", later)
    run(settings)
    history = query(settings, "SELECT value, source_file FROM observation_history WHERE country_iso3 = 'GTM' AND year = 2013 ORDER BY received_at")
    assert history == [(282.0, "cepal_oig/extracto_2018.csv"), (246.0, "cepal_oig/extracto_2023.csv")]
    assert national(settings, "GTM", "femicide_count")[2013] == 246
    md = (settings.receipts_dir / "cepal_oig" / "extracto_2023.csv.md").read_text()
    assert "282" in md and "246" in md


def test_the_same_figure_from_two_files_is_one_vintage_and_no_revision(settings):
    drop(settings, "cepal_oig/extracto.csv", (REAL_WORLD / "cepalstat_femicidios_central-america.csv").read_bytes())
    # Panama 2014, re-typed from the same extract with the same source: 25 again.
    drop(settings, "cepal_oig/carga.csv", "país,año,indicador,valor,fuente\n"
         "Panamá,2014,femicide_count,25,\"CEPALSTAT: Ministério Público, Procuraduría General de la Nación\"\n")
    run(settings)
    assert query(settings, "SELECT count(*) FROM observation_history WHERE country_iso3 = 'PAN' AND year = 2014") == [(1,)]
    for name in ("extracto.csv", "carga.csv"):
        assert "revisadas" not in (settings.receipts_dir / "cepal_oig" / f"{name}.md").read_text()


def test_subnational_units_by_code_or_name_and_rollups_flagged_when_incomplete(settings):
    drop(settings, "mimp/regiones.csv", "país,año,indicador,valor,departamento\n"
         "PER,2020,femicide_count,3,PE.AM\n"          # HASC
         "PER,2020,femicide_count,4,Arequipa\n"        # name
         "PER,2020,femicide_count,5,08\n"              # ubigeo: Cusco
         "PER,2020,femicide_rate,1.5,Cusco\n"          # a rate: never rolled up
         "PER,2020,femicide_count,1,Ayacuchoo\n")      # a misspelt department
    run(settings)
    assert query(settings, "SELECT subnational_code, value FROM fact_observation WHERE indicator_code = 'femicide_count' AND subnational_code IS NOT NULL ORDER BY 1") == [
        ("PE.AM", None), ("PE.AR", None), ("PE.CS", 5.0)]  # 3 and 4 are small cells, suppressed when published
    assert query(settings, "SELECT value, flags, flag_note FROM fact_observation WHERE subnational_code IS NULL") == [
        (12.0, "rollup;incomplete_rollup", "Suma de 3 de 25 unidades subnacionales. / Sum of 3 of 25 subnational units.")]
    (message,) = query(settings, "SELECT message_es || ' | ' || message_en FROM quarantine WHERE reason_code = 'unknown_subnational'")[0]
    assert "«Ayacuchoo»" in message and "Ayacucho" in message.replace("Ayacuchoo", "")  # quoted, and its suggestion


def test_a_file_no_layout_recognizes_names_its_header_the_nearest_layout_and_how_to_add_one(settings):
    drop(settings, "otro/exportacion.csv", "SeriesCode,GeoArea,Year,Valor estimado\nVC_VAW_MARR,604,2019,10\n")
    run(settings)
    ((code, es, en),) = query(settings, "SELECT reason_code, message_es, message_en FROM quarantine")
    assert code == "unknown_layout"
    assert "SeriesCode | … | Year | … (…: " in es  # names no layout or contract column has are not quoted
    assert "sdg_global_database" in es and "sdg_global_database" in en
    assert "observatory/layouts/" in es and "observatory/layouts/" in en


def test_a_recognized_layout_whose_columns_changed_is_rejected_with_what_is_missing(tmp_path, monkeypatch):
    extract = layouts.by_name("cepalstat_extract")
    # A layout recognized by fewer columns than it reads: a file without source_id matches it.
    loose = layouts.Layout(**{**extract.__dict__, "header_signature": ("country", "iso3", "year", "value")})
    monkeypatch.setattr(layouts, "load_all", lambda folder=None: (loose,))
    path = tmp_path / "extracto.csv"
    path.write_text("country,iso3,year,value\nGuatemala,GTM,2014,240\n")
    con = duckdb.connect()
    staging.create_stage_tables(con)
    outcome = read.read_file(con, path, file_id=1, first_row_id=0)
    assert outcome.rejection.reason_code == "layout_mismatch"
    assert outcome.rejection.details["missing"] == "source_id" and outcome.rejection.rows_read == 1


def test_an_unexpected_value_in_a_row_rule_is_quarantined_with_the_layout_named(settings):
    header = "nmero,edad,identidad_genero,tipo_victima,lugar_hecho,modalidad_comisiva,fecha_hecho\n"
    drop(settings, "argentina/casos.csv", header + "1,30,Mujer,Principal,Salta,Golpes,3/5/2014\n"
         "2,31,Mujer,Princpal,Salta,Golpes,3/6/2014\n")
    run(settings)
    assert query(settings, "SELECT source_row, reason_code FROM quarantine") == [(3, "unexpected_category")]
    (message,) = query(settings, "SELECT message_es FROM quarantine")[0]
    assert "argentina_femicidios_casos" in message and "Princpal" in message and "31" not in message


# --- formats: CEPALSTAT downloads, SDG database, SDMX-CSV, xlsx --------------------------------
# Figures from the CEPALSTAT extract fixture (Guatemala 2014: 240, 2015: 201; Honduras 2014: 408).

def test_cepalstat_download_in_latin_1_with_semicolons(settings):
    body = ("indicator;País__ESTANDAR;Años__ESTANDAR;value;unit\n"
            "femicide_count;Guatemala;2014;240;Número absoluto\n"
            "Mujeres víctimas de femicidio o feminicidio (número);Honduras;2014;408;Número absoluto\n")
    drop(settings, "cepal/descarga.csv", body, encoding="latin-1")
    run(settings)
    assert query(settings, "SELECT country_iso3, value, unit, source FROM fact_observation ORDER BY 1") == [
        ("GTM", 240.0, "count", "CEPALSTAT"), ("HND", 408.0, "count", "CEPALSTAT")]
    assert receipt(settings, "descarga.csv")[5] == "cepalstat_export_es"


def test_sdg_database_and_sdmx_csv_exports(settings):
    drop(settings, "onu/sdg.csv",
         "Goal,Target,Indicator,SeriesCode,SeriesDescription,GeoAreaCode,GeoAreaName,TimePeriod,Value,Time_Detail,Source,FootNote,Nature,Units,Sex,Age\n"
         "5,5.2,5.2.1,femicide_count,fixture,320,Guatemala,2014,240,2014,CEPALSTAT,,C,NUMBER,FEMALE,ALLAGE\n"
         "5,5.2,5.2.1,femicide_count,fixture,419,Latin America and the Caribbean,2014,1,2014,CEPALSTAT,,C,NUMBER,FEMALE,ALLAGE\n")
    drop(settings, "onu/sdmx.csv",
         "DATAFLOW,FREQ,SERIES,REF_AREA,SEX,AGE,TIME_PERIOD,OBS_VALUE,OBS_STATUS\n"
         "UNSD:DF_SDG_GLH(1.0),A,femicide_count,340,_T,Y_GE15,2014,408,A\n")
    run(settings)
    assert query(settings, "SELECT country_iso3, sex, age_group, value, source FROM fact_observation ORDER BY 1") == [
        ("GTM", "female", "total", 240.0, "CEPALSTAT"), ("HND", "total", "15+", 408.0, "UNSD:DF_SDG_GLH(1.0)")]
    # 419 (Latin America and the Caribbean) is a region: out of scope, skipped, not an error.
    assert query(settings, "SELECT source_file, reason_code FROM quarantine") == []
    assert query(settings, "SELECT rows_read, rows_skipped FROM file_receipt WHERE file_path = 'onu/sdg.csv'") == [(1, 1)]


def test_xlsx_in_a_layout_and_the_sheet_a_layout_names(tmp_path, monkeypatch):
    workbook = Workbook()
    workbook.active.title = "Portada"
    workbook.active.append(["Feminicidios por mes"])
    sheet = workbook.create_sheet("Datos")
    sheet.append(["DATE", "Feminicidios"])
    sheet.append(["1/1/2016", 50])
    sheet.append([datetime(2016, 2, 1), 43])  # a date cell, as Excel stores it
    path = tmp_path / "serie.xlsx"
    workbook.save(path)
    con = duckdb.connect()
    staging.create_stage_tables(con)
    outcome = read.read_file(con, path, file_id=1, first_row_id=0)
    assert outcome.rejection is not None  # the cover sheet is read: no layout, no contract header
    named = layouts.Layout(**{**layouts.by_name("mexico_feminicidios_mensual").__dict__, "name": "con_hoja", "sheet": "Datos"})
    monkeypatch.setattr(layouts, "load_all", lambda folder=None: (named,))
    staging.create_stage_tables(con)
    outcome = read.read_file(con, path, file_id=1, first_row_id=0)
    assert outcome.rejection is None and outcome.layout.name == "con_hoja"
    assert con.execute("SELECT line, year, period, value FROM stage_row ORDER BY line").fetchall() == [
        (2, "2016", "2016-01", "50"), (3, "2016", "2016-02", "43")]


# --- layouts as data ----------------------------------------------------------------------

def test_every_layout_carries_its_provenance_and_is_recognized_by_a_distinct_signature():
    found = layouts.load_all()
    assert len(found) >= 10
    signatures = [frozenset(layout.header_signature) for layout in found if layout.header_signature]
    # No layout's signature is contained in another's: each file has one layout.
    assert not [(a, b) for a in signatures for b in signatures if a is not b and a <= b]
    for layout in found:
        assert layout.description and layout.path.stem == layout.name, layout.name


PROVENANCE = "provenance: {producer: p, citation: c, url: u, licence: l}\n"


@pytest.mark.parametrize("body, complaint", [
    ("recognize: {header: [a]}\nfields: {value: {column: a}}\n", "provenance"),
    (PROVENANCE + "recognize: {header: [a]}\nfields: {value: {column: a}, countri: {value: PER}}\n", "unknown fields.*countri"),
    (PROVENANCE + "recognize: {header: [a]}\nfields: {value: {column: a}}\nflags: [{flag: partial_yaer, years: [2016]}]\n", "unknown flag"),
    (PROVENANCE + "recognize: {header: [a]}\nfields: {country: {value: PER}}\nmelt: {columns: '(?P<year'}\n", "regular expression"),
    (PROVENANCE + "recognize: {header: [a]}\nread: {delimiter: ';'}\nfields: {value: {column: a}}\n", "unknown keys in read"),
    (PROVENANCE + "recognize: {file_name: 'x*.csv'}\nread: {header_rows: 0}\nfields: {value: {column: 0}}\n", "file_name, columns and first_row"),
    (PROVENANCE + "recognize: {header: [a]}\nfields: {value: {column: a}, indicator: {value: femicide_rate}}\naggregate: {}\n", "not additive"),
])
def test_a_malformed_layout_fails_loudly_naming_its_file(tmp_path, body, complaint):
    (tmp_path / "roto.yaml").write_text("name: roto\n" + body)
    with pytest.raises(layouts.LayoutError, match=f"roto.yaml.*{complaint}"):
        layouts.load_all(tmp_path)


def test_a_layout_is_named_after_its_file(tmp_path):
    (tmp_path / "roto.yaml").write_text("name: otro\n" + PROVENANCE + "recognize: {header: [a]}\nfields: {value: {column: a}}\n")
    with pytest.raises(layouts.LayoutError, match="roto.yaml.*must be the file's name"):
        layouts.load_all(tmp_path)


def test_two_header_rows_are_combined_across_merged_cells():
    header = [["Territorio", "", "2009", "", "2010", ""], ["HASC", "Departamento", "Feminicidio", "Tentativa", "Feminicidio", "Tentativa"]]
    assert binding._header_names(header)[0] == [
        "territorio hasc", "territorio departamento", "2009 feminicidio", "2009 tentativa", "2010 feminicidio", "2010 tentativa"]


def test_check_prints_a_layout_receipt_with_the_rows_it_skips(tmp_path):
    path = tmp_path / "sesnsp" / FIXTURES.joinpath("mexico_sesnsp_2024_2025_muestra.csv.bz2").name
    path.parent.mkdir()
    shutil.copy(FIXTURES / "mexico_sesnsp_2024_2025_muestra.csv.bz2", path)
    result = CliRunner().invoke(main, ["check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)
    assert (receipt["layout"], receipt["rows_loaded"], receipt["rows_skipped"]) == ("mexico_sesnsp_victimas", 32, 752)
    markdown = CliRunner().invoke(main, ["check", str(path)]).output
    assert "mexico_sesnsp_victimas" in markdown and "Feminicidio" in markdown


# --- the full files without a stated licence, when the shared folder is beside the project --------
SHARED_REAL_WORLD = Path(__file__).resolve().parents[2] / "shared" / "real-world"


@pytest.mark.skipif(not SHARED_REAL_WORLD.is_dir(), reason="the shared real-world folder is not beside this clone")
def test_the_full_mexican_files_ingest_exactly(settings):
    for name in ("mexico_feminicidios_mensual_2015_2022.csv", "mexico_sesnsp_victimas_genero_2015_2025.csv.bz2"):
        drop(settings, f"mexico/{name}", (SHARED_REAL_WORLD / name).read_bytes())
    run(settings)
    assert receipt(settings, "mexico_sesnsp_victimas_genero_2015_2025.csv.bz2")[:5] == ("loaded", 1452, 1452, 0, 34122)
    sesnsp = national(settings, "MEX", "femicide_count", "SESNSP%")
    assert (sesnsp[2015], sesnsp[2024], sesnsp[2025]) == (428, 852, 338)
    assert query(settings, "SELECT count(DISTINCT subnational_code) FROM fact_observation WHERE source LIKE 'SESNSP%'") == [(32,)]
    assert receipt(settings, "mexico_feminicidios_mensual_2015_2022.csv")[:4] == ("partially_loaded", 96, 94, 2)
    monthly = national(settings, "MEX", "femicide_count", "LuisAlfonso%")
    assert (monthly[2015], monthly[2017], monthly[2018], monthly[2022]) == (413, 693, 829, 960)


# --- edge cases of layouts ------------------------------------------------------------------

def test_a_contract_file_named_like_a_headerless_source_is_read_as_the_contract(settings):
    drop(settings, "costa_rica/costarica_femicidios_2018.csv", "país,año,indicador,valor\nCosta Rica,2018,femicide_count,3\n")
    run(settings)
    assert receipt(settings, "costarica_femicidios_2018.csv")[:4] + (receipt(settings, "costarica_femicidios_2018.csv")[5],) == (
        "loaded", 1, 1, 0, None)


def test_a_wide_file_whose_year_columns_changed_is_a_layout_mismatch(settings):
    drop(settings, "mimp/departamentos.csv", "Territorio,,Año 2009,\nHASC,Departamento,Feminicidio,Tentativa\nPE.AM,Amazonas,2,1\n")
    run(settings)
    ((code, message),) = query(settings, "SELECT reason_code, message_en FROM quarantine")
    assert code == "layout_mismatch" and "columns matching" in message and "peru_mimp_departamentos.yaml" in message


def test_wide_cells_keep_their_column_in_quarantine_and_count_one_record_each(settings):
    header = "Territorio,,2009,,2010,\nHASC,Departamento,Feminicidio,Tentativa,Feminicidio,Tentativa\n"
    drop(settings, "mimp/departamentos.csv", header + "PE.AM,Amazonas,2,n/d,0,0\nPE.XX,Atlántida,1,1,1,1\n")
    run(settings)
    assert receipt(settings, "departamentos.csv")[:4] == ("partially_loaded", 8, 3, 5)
    rows = query(settings, "SELECT source_row, source_column, reason_code FROM quarantine ORDER BY 1, 2")
    assert rows == [(3, "2009 Tentativa", "missing_value")] + [
        (4, column, "unknown_subnational") for column in ("2009 Feminicidio", "2009 Tentativa", "2010 Feminicidio", "2010 Tentativa")]


def test_a_file_whose_rows_are_all_outside_the_layout_is_rejected_with_the_rule(settings):
    drop(settings, "sesnsp/otros.csv", "n_year,cve_ent,tipo_de_delito,subtipo_de_delito,modalidad,genero,n_victimas\n"
         "2024,01,Robo,Robo,Con violencia,Mujer,3\n2024,01,Robo,Robo,Sin violencia,Mujer,5\n")
    run(settings)
    assert query(settings, "SELECT status, rows_read, rows_skipped FROM file_receipt") == [("rejected", 0, 2)]
    ((code, message),) = query(settings, "SELECT reason_code, message_es FROM quarantine")
    assert code == "no_rows_in_scope" and "Feminicidio" in message


def test_a_date_that_does_not_parse_is_not_quoted_back(settings):
    header = "nmero,edad,identidad_genero,tipo_victima,lugar_hecho,modalidad_comisiva,fecha_hecho\n"
    drop(settings, "argentina/casos.csv", header + "1,30,Mujer,Principal,Salta,Golpes,24/10/2015\n")
    run(settings)
    ((code, es, en),) = query(settings, "SELECT reason_code, message_es, message_en FROM quarantine")
    assert code == "unparsed_date" and "24/10/2015" not in es + en and "%m/%d/%Y" in en and "fecha_hecho" in es


def test_the_header_of_a_file_without_one_is_not_quoted(settings):
    drop(settings, "otro/casos.csv", "624,28,Mujer,Principal,Río Negro\n620,27,Mujer,Principal,Río Negro\n")
    run(settings)
    ((code, message),) = query(settings, "SELECT reason_code, message_en FROM quarantine")
    assert code == "unknown_layout" and "Río Negro" not in message and "looks like data (5 columns)" in message


def test_a_new_layout_applies_to_files_received_before(settings, monkeypatch, tmp_path):
    drop(settings, "otro/serie.csv", "Fecha,Casos\n1/1/2016,50\n")
    run(settings)
    assert receipt(settings, "serie.csv")[0] == "rejected"
    folder = tmp_path / "layouts"
    folder.mkdir()
    for path in layouts.LAYOUTS_DIR.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    monthly = (folder / "mexico_feminicidios_mensual.yaml").read_text()
    (folder / "mexico_casos_mensual.yaml").write_text(
        monthly.replace("name: mexico_feminicidios_mensual", "name: mexico_casos_mensual")
        .replace("header: [DATE, Feminicidios]", "header: [Fecha, Casos]").replace("column: DATE", "column: Fecha")
        .replace("column: Feminicidios", "column: Casos").replace("unique: [DATE]", "unique: [Fecha]"))
    monkeypatch.setattr(layouts, "LAYOUTS_DIR", folder)  # what a maintainer's new file does
    run(settings)
    assert receipt(settings, "serie.csv")[:4] == ("loaded", 1, 1, 0)
    assert national(settings, "MEX", "femicide_count")[2016] == 50
