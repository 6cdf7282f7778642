"""Files as staff make them (issue 13): wide tables, title rows above the header, monthly
records with month names. Figures are CEPALSTAT's (shared/real-world/cepalstat_femicidios_*)
and Mexico's national monthly femicides for 2015 (shared/real-world/mexico_feminicidios_mensual_*),
rewritten in the shapes staff send."""
import json
from datetime import datetime

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from observatory import months
from observatory.cli import main
from tests.conftest import drop, query, run

WIDE = (
    "País;Indicador;2014;año 2015;2016 (casos)\n"
    "Argentina;femicide_count;225;235;254\n"
    "Perú;femicide_count;100;103;n/d\n"
)


def check(path, *extra):
    return CliRunner().invoke(main, ["check", str(path), *extra])


def test_a_wide_table_is_melted_each_cell_with_its_own_line_and_column(settings):
    drop(settings, "mimp/ancho.csv", WIDE, encoding="cp1252")
    run(settings)
    assert query(settings, "SELECT country_iso3, year, value, unit FROM fact_observation ORDER BY 1, 2") == [
        ("ARG", 2014, 225.0, "count"), ("ARG", 2015, 235.0, "count"), ("ARG", 2016, 254.0, "count"),
        ("PER", 2014, 100.0, "count"), ("PER", 2015, 103.0, "count"),
    ]
    assert query(settings, "SELECT source_row, source_column, reason_code FROM quarantine") == [(3, "2016 (casos)", "missing_value")]
    assert query(settings, "SELECT rows_read, rows_loaded, rows_quarantined FROM file_receipt") == [(6, 5, 1)]


def test_a_wide_table_whose_header_unit_disagrees_is_quarantined_cell_by_cell(settings):
    drop(settings, "mimp/ancho.csv", "país,indicador,2015 (%),2016\nPerú,femicide_count,103,105\n")
    run(settings)
    assert query(settings, "SELECT year FROM fact_observation") == [(2016,)]
    assert query(settings, "SELECT source_row, source_column, reason_code FROM quarantine") == [(2, "2015 (%)", "unit_mismatch")]


@pytest.mark.parametrize("folder", ["mimp", "otro"])  # registered (country from the registry) or not
def test_a_wide_table_without_its_indicator_says_what_to_add(settings, folder):
    path = drop(settings, f"{folder}/ancho.csv", "País;2014;2015\nArgentina;225;235\n")
    result = check(path)
    assert result.exit_code == 3
    assert "wide_table_incomplete" in result.output and "le falta la columna «indicador»" in result.output
    assert "lacks the column 'indicator'" in result.output


@pytest.mark.parametrize("titles", [
    "Feminicidios por país\n",
    "Feminicidios por país;;;\nFuente: CEPALSTAT;;;\n\n",
])
def test_title_rows_above_the_header_are_skipped_and_lines_stay_the_files(settings, titles):
    body = "país;año;indicador;valor\nArgentina;2014;femicide_count;225\nPerú;2014;femicide_count;x\n"
    drop(settings, "mimp/titulado.csv", titles + body)
    run(settings)
    header_line = titles.count("\n") + 1
    assert query(settings, "SELECT country_iso3, year, value FROM fact_observation") == [("ARG", 2014, 225.0)]
    assert query(settings, "SELECT source_row, reason_code FROM quarantine") == [(header_line + 2, "value_not_numeric")]
    skipped = len([line for line in titles.splitlines() if line.strip(";")])
    assert query(settings, "SELECT rows_read, rows_skipped FROM file_receipt") == [(2, skipped)]
    receipt = (settings.receipts_dir / "mimp" / "titulado.csv.md").read_text()
    assert f"Filas omitidas / rows skipped: {skipped}" in receipt


def test_a_sheet_with_a_title_and_a_wide_table(settings):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Feminicidio íntimo y no íntimo (casos)"])
    sheet.append([None])
    sheet.append(["País", "Indicador", 2014, 2015])
    sheet.append(["Argentina", "femicide_count", 225, 235])
    sheet.append(["Perú", "femicide_count", 100, "—"])
    path = settings.raw_dir / "mimp" / "hoja.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)
    run(settings)
    assert query(settings, "SELECT country_iso3, year, value FROM fact_observation ORDER BY 1, 2") == [
        ("ARG", 2014, 225.0), ("ARG", 2015, 235.0), ("PER", 2014, 100.0)]
    assert query(settings, "SELECT source_row, source_column FROM quarantine") == [(5, "2015")]
    assert query(settings, "SELECT rows_skipped FROM file_receipt") == [(1,)]


def test_a_header_never_found_is_still_explained(settings):
    path = drop(settings, "mimp/nada.csv", "Informe anual\nsin tabla\n")
    result = check(path)
    assert result.exit_code == 3 and "unknown_layout" in result.output


MONTHLY = (
    "país,año,mes,indicador,valor\n"
    "México,2015,ENERO,femicide_count,32\n"
    "México,2015,feb,femicide_count,30\n"
    "México,2015,Mar,femicide_count,31\n"
    "México,2015,4,femicide_count,35\n"
    "México,2015,mayo,femicide_count,28\n"
    "México,2015,06,femicide_count,28\n"
    "México,2015,July,femicide_count,33\n"
    "México,2015,juli,femicide_count,33\n"
)


def test_monthly_records_are_summed_into_the_year_with_the_missing_months(settings):
    path = drop(settings, "sesnsp/mensual.csv", MONTHLY)
    checked = CliRunner().invoke(main, ["check", str(path), "--json", "--raw-dir", str(settings.raw_dir)])
    run(settings)
    (value, flags, note), = query(settings, "SELECT value, flags, flag_note FROM fact_observation")
    assert value == 32 + 30 + 31 + 35 + 28 + 28 + 33
    assert flags == "aggregated;partial_year"
    assert "2015-08" in note and "2015-12" in note and "2015-07" not in note
    # The note in Spanish, then English; the receipt (and the check before) lists the months.
    missing = "2015-08, 2015-09, 2015-10, 2015-11, 2015-12"
    assert note == f"Suma de 7 registros. Meses sin un registro cargado: {missing}. / Sum of 7 records. Months without a loaded record: {missing}."
    receipt = settings.receipts_dir / "sesnsp" / "mensual.csv"
    partial = [{"year": 2015, "indicator_code": "femicide_count", "missing_months": missing}]
    assert json.loads(receipt.with_name("mensual.csv.json").read_text())["partial_years"] == partial
    assert json.loads(checked.stdout)["partial_years"] == partial
    assert f"| 2015 | `femicide_count` | {missing} |" in receipt.with_name("mensual.csv.md").read_text()
    assert query(settings, "SELECT source_row, reason_code FROM quarantine") == [(9, "invalid_month")]
    message = query(settings, "SELECT message_es FROM quarantine")[0][0]
    assert "«…»" in message and "«mes»" in message  # 'juli': under five letters, quoted only if exact (a name?)


def test_a_month_given_twice_is_not_summed_twice(settings):
    drop(settings, "sesnsp/mensual.csv", MONTHLY.replace("México,2015,feb,", "México,2015,Enero,"))
    run(settings)
    assert ("conflicting_duplicate",) in query(settings, "SELECT DISTINCT reason_code FROM quarantine")
    (value,), = query(settings, "SELECT value FROM fact_observation")
    assert value == 31 + 35 + 28 + 28 + 33


def test_monthly_figures_under_a_date_column_point_at_the_date_not_at_keeping_one(settings):
    """A new user's trial: January typed as 1/1/2018 in a `Fecha` column (not read: the month
    column is `mes`) made every month a conflicting duplicate of its year, advised to keep one."""
    body = "".join(f"México,2018,{month}/1/2018,femicide_count,{value}\n" for month, value in [(1, 32), (2, 30), (3, 31)])
    path = drop(settings, "sesnsp/mensual_fechas.csv", "país,año,Fecha,indicador,valor\n" + body)
    result = check(path, "--json")
    problems = json.loads(result.stdout)["problems"]
    assert [(p["line"], p["reason_code"]) for p in problems] == [(line, "conflicting_duplicate") for line in (2, 3, 4)]
    es, en = problems[0]["message_es"], problems[0]["message_en"]
    assert "columna «Fecha» que no se lee" in es and "llame a esa columna «mes»" in es and "no una fecha completa" in es
    assert "column 'Fecha' that is not read" in en and "name that column 'mes'" in en and "not a full date" in en
    # Renamed to `mes` with the months written as months, the same figures load as the year's sum.
    fixed = "país,año,mes,indicador,valor\n" + body.replace("/1/2018", "")
    drop(settings, "sesnsp/mensual_fechas.csv", fixed)
    run(settings)
    assert query(settings, "SELECT year, value FROM fact_observation") == [(2018, 32 + 30 + 31)]
    # A date column beside yearly figures that do not repeat loads as it did.
    drop(settings, "mimp/anual.csv", "país,año,indicador,valor,Fecha\nPerú,2017,femicide_count,121,1/3/2018\n"
                                      "Perú,2018,femicide_count,149,1/3/2019\n")
    run(settings)
    assert query(settings, "SELECT status, rows_loaded FROM file_receipt WHERE file_path = 'mimp/anual.csv'") == [("loaded", 2)]


def test_a_full_date_in_the_month_column_is_quarantined_saying_it_is_a_date(settings):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["país", "año", "mes", "indicador", "valor"])
    sheet.append(["México", 2018, datetime(2018, 1, 1), "femicide_count", 32])  # Excel turned '1/1/2018' into a date
    sheet.append(["México", 2018, "2/1/2018", "femicide_count", 30])
    sheet.append(["México", 2018, "marzo", "femicide_count", 31])
    sheet.append(["México", 2018, "juli", "femicide_count", 33])
    path = settings.raw_dir / "sesnsp" / "mensual.xlsx"
    path.parent.mkdir(parents=True)
    workbook.save(path)
    run(settings)
    rows = query(settings, "SELECT source_row, reason_code, message_es, message_en FROM quarantine ORDER BY 1")
    assert [(line, code) for line, code, _, _ in rows] == [(2, "invalid_month"), (3, "invalid_month"), (5, "invalid_month")]
    for line, raw in [(2, "2018-01-01"), (3, "2/1/2018")]:
        _, _, es, en = rows[line - 2]
        assert f"Mes «{raw}» no válido en la columna «mes»: es una fecha completa" in es and "formato de texto" in es
        assert f"Month '{raw}' in column 'mes' is not valid: it is a full date" in en and "format the column as text" in en
    assert "fecha completa" not in rows[2][2]  # not a date: the usual advice
    (value, flags), = query(settings, "SELECT value, flags FROM fact_observation")
    assert value == 31 and "partial_year" in flags  # nothing is guessed from a date


@pytest.mark.parametrize("text, month", [
    ("ENERO", 1), ("ene", 1), ("Jan", 1), ("january", 1), ("1", 1), ("01", 1), ("Setiembre", 9),
    ("sept.", 9), ("Diciembre", 12), ("DEC", 12), ("12", 12), ("13", None), ("0", None), ("juli", None), ("", None),
])
def test_month_names_in_spanish_and_english_or_numbers(text, month):
    assert months.month_number(text) == month


def test_check_agrees_with_the_run_on_a_wide_titled_file(settings):
    path = drop(settings, "mimp/ancho.csv", "Cuadro 1\n" + WIDE)
    result = check(path, "--json")
    receipt = json.loads(result.stdout)
    assert result.exit_code == 1
    assert (receipt["rows_read"], receipt["rows_loaded"], receipt["rows_skipped"]) == (6, 5, 1)


PROVENANCE = """provenance:
  producer: Secretariado Ejecutivo del SNSP (figures as in shared/real-world)
  citation: LuisAlfonsoGarciaCamacho/FemicidesinMexico, All_feminicides.csv (figures rewritten by month)
  url: https://github.com/LuisAlfonsoGarciaCamacho/FemicidesinMexico
  licence: none stated (test fixture derived from the figures)
"""

MONTHS_AS_COLUMNS = """name: meses_en_columnas
description: Femicides in Mexico, one row per year, one column per month.
""" + PROVENANCE + """recognize:
  header: [Año, Ene, Feb]
fields:
  country: {value: MEX}
  year: {column: Año}
  indicator: {value: femicide_count}
  unit: {value: count}
melt:
  columns: '(?P<period>(ene|feb|mar|abr|may|jun|jul|ago|sep|set|oct|nov|dic)[a-z]*)'
aggregate:
  period: month
"""


def layout_file(settings, name: str, text: str):
    folder = settings.raw_dir.parent / "layouts"  # OBSERVATORY_LAYOUTS_DIR (conftest)
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)


def test_a_deployment_layout_with_a_period_melt_group_sums_the_months(settings):
    layout_file(settings, "meses_en_columnas", MONTHS_AS_COLUMNS)
    drop(settings, "sesnsp/meses.csv", "Año;Ene;Feb;MARZO;abr;Mayo;jun\n2015;32;30;31;35;28;28\n")
    run(settings)
    assert query(settings, "SELECT value, flags FROM fact_observation") == [(184.0, "aggregated;partial_year")]
    assert query(settings, "SELECT layout FROM file_receipt") == [("meses_en_columnas",)]
    assert ("meses_en_columnas",) in query(settings, "SELECT layout FROM source_layout")


def test_yaml_words_in_a_layout_stay_the_text_written(settings):
    layout_file(settings, "si_no", """name: si_no
description: A register whose indicator column says SI (femicide) or NO (attempt).
""" + PROVENANCE + """recognize:
  header: [pais, anio, consumado, casos]
fields:
  country: {column: pais}
  year: {column: anio}
  indicator: {column: consumado, map: {SI: femicide_count, NO: femicide_attempt_count, 01: femicide_count, on: femicide_count}}
  value: {column: casos}
""")
    drop(settings, "mimp/si_no.csv", "pais,anio,consumado,casos\nPerú,2016,SI,105\nPerú,2016,NO,258\nChile,2016,01,34\n")
    run(settings)
    assert query(settings, "SELECT country_iso3, indicator_code, value FROM fact_observation ORDER BY 1, 2") == [
        ("CHL", "femicide_count", 34.0), ("PER", "femicide_attempt_count", 258.0), ("PER", "femicide_count", 105.0)]


def test_a_malformed_deployment_layout_is_reported_and_skipped(settings):
    layout_file(settings, "roto", "name: roto\nfields: [\n")
    layout_file(settings, "meses_en_columnas", MONTHS_AS_COLUMNS.replace("period: month", "period: month\n  national_total: quizas"))
    drop(settings, "mimp/carga.csv", "país,año,indicador,valor\nPerú,2015,femicide_count,95\n")
    result = run(settings)
    assert "roto.yaml: not valid YAML" in result.output
    assert "national_total must be true or false" in result.output
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(1,)]
    status = CliRunner().invoke(main, ["status", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert "roto.yaml" in status.output


@pytest.mark.parametrize("text, fmt, part, expected", [
    ("3 ENE 2019", "%d %b %Y", "month", "2019-01"),
    ("15 de setiembre de 2020", "%d de %B de %Y", "month", "2020-09"),
    ("Mar-2018", "%b-%Y", "year", "2018"),
    ("3 Foo 2019", "%d %b %Y", "month", None),
])
def test_layout_dates_take_month_names_in_spanish_and_english(text, fmt, part, expected):
    from observatory.layouts.binding import _date_part

    assert _date_part(text, fmt, part) == expected


SDG_HEADER = ("Goal,Target,Indicator,SeriesCode,SeriesDescription,GeoAreaCode,GeoAreaName,TimePeriod,Value,"
              "Time_Detail,Source,FootNote,Nature,Units,Sex,Age\n")


def sdg_row(code: str, name: str, value: str) -> str:
    return f"5,5.2,5.2.1,femicide_count,fixture,{code},{name},2014,{value},2014,CEPALSTAT,,C,NUMBER,FEMALE,ALLAGE\n"


def test_areas_outside_the_33_countries_are_skipped_not_quarantined(settings):
    drop(settings, "onu/sdg_global.csv", SDG_HEADER
         + sdg_row("320", "Guatemala", "240") + sdg_row("1", "World", "1") + sdg_row("419", "Latin America and the Caribbean", "2")
         + sdg_row("500", "Montserrat", "0") + sdg_row("724", "Spain", "55") + sdg_row("998", "Nowhere", "3"))
    result = run(settings)
    assert "; 2 rows read." in result.output  # the summary agrees with the receipt
    assert query(settings, "SELECT country_iso3, value FROM fact_observation") == [("GTM", 240.0)]
    assert query(settings, "SELECT rows_read, rows_loaded, rows_quarantined, rows_skipped FROM file_receipt") == [(2, 1, 1, 4)]
    (code, es, en), = query(settings, "SELECT reason_code, message_es, message_en FROM quarantine")
    assert code == "unknown_country" and "Paraguay" not in es + en  # '998' is close to no name
    receipt = (settings.receipts_dir / "onu" / "sdg_global.csv.md").read_text()
    assert "zonas fuera de los 33 países" in receipt


TOTALS_AND_NOTES = (
    "país;año;indicador;valor\n"
    "Perú;2021;femicide_count;136\n"
    "Argentina;2021;femicide_count;251\n"
    "TOTAL GENERAL;2021;femicide_count;387\n"
    "Fuente: Ministerio de la Mujer, Ana Pérez;;;\n"
    "Nota: cifras preliminares;;;\n"
    "(*) Elaboración propia;;;\n"
    "Hondras;2021;femicide_count;3\n"
)


def test_total_and_note_rows_under_the_table_say_so_instead_of_naming_countries(settings):
    path = drop(settings, "mimp/con_totales.csv", TOTALS_AND_NOTES)
    result = check(path, "--json")
    assert result.exit_code == 1  # still quarantined: nothing is lost, and the row can be left
    problems = {p["line"]: p for p in json.loads(result.stdout)["problems"]}
    assert {line: p["reason_code"] for line, p in problems.items()} == {line: "unknown_country" for line in range(4, 9)}
    for line, marker in [(4, "total general"), (5, "fuente"), (6, "nota"), (7, "(*)")]:
        es, en = problems[line]["message_es"], problems[line]["message_en"]
        assert f"empieza por «{marker}»" in es and "parece un total o una nota" in es and "Puede borrar esa fila" in es
        assert f"starts with '{marker}'" in en and "looks like a total or a note" in en and "delete that row" in en
        assert "Nombres cercanos" not in es and "Closest names" not in en
    # Quoted only as privacy.quotable allows: a whole note is not (it may name someone), a bare marker is.
    assert "Ana" not in problems[5]["message_es"] + problems[5]["message_en"] and "«…»" in problems[5]["message_es"]
    assert "Ministerio" not in problems[5]["message_es"]
    assert "País «TOTAL GENERAL» no reconocido" in problems[4]["message_es"]  # a term of the list
    assert "Nombres cercanos: Honduras" in problems[8]["message_es"]  # a misspelt country still gets its names
    run(settings)
    assert query(settings, "SELECT status, rows_loaded, rows_quarantined FROM file_receipt") == [("partially_loaded", 2, 5)]


def test_a_lone_total_is_quoted_as_a_term_of_the_message(settings):
    drop(settings, "mimp/total.csv", "país,año,indicador,valor\nPerú,2021,femicide_count,136\nTotales,2021,femicide_count,136\n")
    run(settings)
    (code, es, en), = query(settings, "SELECT reason_code, message_es, message_en FROM quarantine")
    assert code == "unknown_country" and es.startswith("País «Totales» no reconocido: la celda empieza por «totales»")
    assert en.startswith("Country 'Totales' not recognized: the cell starts with 'totales'") and "not quoted" not in en


def test_a_file_with_no_country_of_the_region_is_rejected_saying_why(settings):
    drop(settings, "otro/europa.csv", "country,year,indicator,value\nSpain,2019,femicide_count,55\nFRA,2019,femicide_count,146\n")
    run(settings)
    assert query(settings, "SELECT status, rows_read, rows_skipped FROM file_receipt") == [("rejected", 0, 2)]
    (code, es), = query(settings, "SELECT reason_code, message_es FROM quarantine")
    assert code == "outside_region" and "France (FRA)" in es and "Spain (ESP)" in es


def test_a_registered_observatory_may_leave_out_the_country(settings):
    # mimp is registered (observatory/reference/observatories.csv) as Peru's national observatory.
    drop(settings, "mimp/sin_pais.csv", "año;indicador;valor\n2015;femicide_count;95\n2016;femicide_count;124\n")
    drop(settings, "otro/sin_pais.csv", "año;indicador;valor\n2015;femicide_count;95\n")
    result = run(settings)
    assert query(settings, "SELECT country_iso3, year, value FROM fact_observation ORDER BY 2") == [("PER", 2015, 95.0), ("PER", 2016, 124.0)]
    assert query(settings, "SELECT file_path, status, from_registry FROM file_receipt ORDER BY 1") == [
        ("mimp/sin_pais.csv", "loaded", "country=PER"), ("otro/sin_pais.csv", "rejected", None)]
    receipt = (settings.receipts_dir / "mimp" / "sin_pais.csv.md").read_text()
    assert "Observatorio Nacional de la Violencia contra las Mujeres" in receipt and "country=PER" in receipt
    status = CliRunner().invoke(main, ["status", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert "Observatorio Nacional de la Violencia contra las Mujeres" in status.output
    assert result.exit_code == 0


def test_a_registered_observatory_sends_a_wide_table_without_the_country(settings):
    drop(settings, "mimp/ancho.csv", "Indicador;2014;2015\nfemicide_count;100;103\n")
    run(settings)
    assert query(settings, "SELECT country_iso3, year, value FROM fact_observation ORDER BY 2") == [("PER", 2014, 100.0), ("PER", 2015, 103.0)]


def test_lima_metropolitana_and_lima_provincias_stand_apart_and_roll_up_to_lima_and_peru(settings):
    # 2015 femicides as Peru's department file gives them (shared/real-world/peru_feminicidio_*):
    # Lima 31, Arequipa 14. The file has no split of Lima: 20 + 11 here is a test split of its 31.
    drop(settings, "mimp/regiones.csv", "país;región;año;indicador;valor\n"
         "Perú;Lima Metropolitana;2015;femicide_count;20\nPerú;Región Lima;2015;femicide_count;11\n"
         "Perú;Arequipa;2015;femicide_count;14\n")
    run(settings)
    rows = query(settings, "SELECT subnational_code, value, flags FROM fact_observation ORDER BY subnational_code NULLS FIRST")
    assert rows == [(None, 45.0, "rollup;incomplete_rollup"), ("PE-LIM-PROV", 11.0, None), ("PE-LMA", 20.0, None),
                    ("PE.AR", 14.0, None), ("PE.LR", 31.0, "rollup")]
    assert query(settings, "SELECT rows_loaded, rows_quarantined FROM file_receipt") == [(3, 0)]
    assert query(settings, "SELECT parent_code FROM dim_subnational WHERE subnational_code = 'PE-LMA'") == [("PE.LR",)]


def save_sheet(settings, rel_path: str, rows: list[list], formats: dict[str, str] = {}) -> None:
    """A one-sheet workbook under data/raw/, with the number formats Excel would keep."""
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    for cell, number_format in formats.items():
        workbook.active[cell].number_format = number_format
    path = settings.raw_dir / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)


def test_a_percent_formatted_cell_loads_as_the_percent_excel_shows(settings):
    """Excel shows 0.072 under `0.0%` as 7.2%: staff get 7.2, not 0.072 (which passes 0-100).
    A literal percent sign in quotes does not scale, nor does a General cell."""
    save_sheet(settings, "mimp/porcentajes.xlsx", [
        ["país", "año", "indicador", "valor", "unidad"],
        ["Perú", 2015, "ipv_prevalence_12m", 0.072, "%"],
        ["Perú", 2016, "ipv_prevalence_12m", 0.1, "%"],
        ["Perú", 2017, "ipv_prevalence_12m", 10.9, "%"],
        ["Perú", 2018, "ipv_prevalence_12m", 11.3, "%"],
    ], {"D2": "0.0%", "D3": "0%", "D5": '0.0" %"'})
    run(settings)
    assert query(settings, "SELECT year, value FROM fact_observation ORDER BY year") == [
        (2015, 7.2), (2016, 10.0), (2017, 10.9), (2018, 11.3)]


def test_a_figure_with_a_percent_sign_is_quarantined_saying_to_write_it_without(settings):
    """Excel writes a percent-formatted cell to a CSV as text, `10,5 %` (`10.5%` where the point
    is the decimal mark). It is not read as a number (the value column takes numbers), but its
    message says to drop the sign and to write a percentage as 10,5, not the fraction 0,105, in
    the file's decimal mark, rather than talking about decimal marks alone."""
    drop(settings, "mimp/porcentajes.csv", "país;año;indicador;valor;unidad\n"
         "Perú;2017;ipv_prevalence_12m;10,5 %;%\n"
         "Perú;2018;ipv_prevalence_12m;11,3\u00a0%;%\n"  # Excel's non-breaking space
         "Perú;2019;ipv_prevalence_12m;12,1;%\n"
         "Perú;2020;ipv_prevalence_12m;1O,2;%\n")  # a letter O: not a percent sign, the usual message
    drop(settings, "mimp/punto.csv", "country,year,indicator,value\nPerú,2017,ipv_prevalence_12m,10.5%\n")
    drop(settings, "mimp/ancha.csv", "país;indicador;2021;2022\nPerú;ipv_prevalence_12m;9,8 %;10,2\n")
    run(settings)
    rows = {(file, line): (column, code, es, en) for file, line, column, code, es, en in query(
        settings, "SELECT source_file, source_row, source_column, reason_code, message_es, message_en FROM quarantine")}
    assert sorted(rows) == [("mimp/ancha.csv", 2), ("mimp/porcentajes.csv", 2), ("mimp/porcentajes.csv", 3),
                            ("mimp/porcentajes.csv", 5), ("mimp/punto.csv", 2)]
    assert {code for _, code, _, _ in rows.values()} == {"value_not_numeric"}
    for key, raw, mark in [(("mimp/porcentajes.csv", 2), "10,5 %", ","), (("mimp/porcentajes.csv", 3), "11,3\u00a0%", ","),
                           (("mimp/punto.csv", 2), "10.5%", "."), (("mimp/ancha.csv", 2), "9,8 %", ",")]:
        _, _, es, en = rows[key]
        assert es.startswith(f"El valor «{raw}» lleva el signo «%»: escriba solo el número, sin «%» (10{mark}5, no 10{mark}5 %). "
                             f"Si el indicador es un porcentaje, escriba el porcentaje mismo (10{mark}5), no la fracción "
                             f"(0{mark}105)."), es
        assert en.startswith(f"The value '{raw}' has a percent sign: write the number alone, without '%' (10{mark}5, not "
                             f"10{mark}5 %). If the indicator is a percentage, write the percentage itself (10{mark}5), "
                             f"not the fraction (0{mark}105)."), en
        assert f"la marca decimal es «{mark}»" in es and f"the decimal mark is '{mark}'" in en
    assert rows[("mimp/ancha.csv", 2)][0] == "2021"  # a wide table's cell keeps its column
    _, _, es, en = rows[("mimp/porcentajes.csv", 5)]
    assert "«1O,2» no es un número válido" in es and "%" not in es + en
    assert query(settings, "SELECT source_file, year, value FROM fact_observation ORDER BY 1, 2") == [
        ("mimp/ancha.csv", 2022, 10.2), ("mimp/porcentajes.csv", 2019, 12.1)]
    result = check(settings.raw_dir / "mimp" / "porcentajes.csv", "--json")  # check says what the run says
    assert result.exit_code == 1, result.output
    assert [problem["message_es"] for problem in json.loads(result.stdout)["problems"]] == [
        rows[("mimp/porcentajes.csv", line)][2] for line in (2, 3, 5)]


def test_a_year_or_a_month_excel_shows_from_a_date_loads_as_shown(settings):
    """A year column Excel turned into dates, formatted to show the year (`yyyy`), and a month
    column of dates shown as month names (`mmmm`): staff see 2015 and «marzo», and that is what
    loads. A date shown whole stays a full date (quarantined, saying so). Mexico's 2015 monthly
    femicides (shared/real-world/mexico_feminicidios_mensual_*)."""
    save_sheet(settings, "sesnsp/fechas.xlsx", [
        ["país", "año", "mes", "indicador", "valor"],
        ["México", datetime(2015, 1, 1), datetime(2015, 1, 1), "femicide_count", 32],
        ["México", datetime(2015, 1, 1), datetime(2015, 2, 1), "femicide_count", 30],
        ["México", datetime(2015, 1, 1), datetime(2015, 3, 1), "femicide_count", 31],
    ], {"B2": "yyyy", "B3": "yyyy", "B4": "yyyy", "C2": "mmmm", "C3": '[$-es-MX]mmm', "C4": "dd/mm/yyyy"})
    run(settings)
    assert query(settings, "SELECT year, value FROM fact_observation") == [(2015, 62.0)]
    assert query(settings, "SELECT source_row, reason_code FROM quarantine") == [(4, "invalid_month")]


def save_workbook(settings, rel_path: str, sheets: dict[str, tuple[str, list[list]]]) -> None:
    """A workbook whose sheets come in the order given, each (its state, its rows)."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, (state, rows) in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
        sheet.sheet_state = state
    workbook.active = next(i for i, (state, _) in enumerate(sheets.values()) if state == "visible")
    path = settings.raw_dir / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)


DATA_SHEET = [["país", "año", "indicador", "valor"], ["Perú", 2015, "femicide_count", 95], ["Perú", 2016, "femicide_count", 124]]


def test_the_first_visible_sheet_is_read_a_hidden_lookup_list_before_it_is_not(settings):
    save_workbook(settings, "mimp/con_listas.xlsx", {
        "Listas": ("hidden", [["País", "Indicador"], ["Perú", "femicide_count"]]),
        "Oculta": ("veryHidden", [["nada"]]),
        "Datos": ("visible", DATA_SHEET),
        "Notas": ("visible", [["Notas de la entrega"]]),
    })
    run(settings)
    assert query(settings, "SELECT year, value, source_row FROM fact_observation ORDER BY 1") == [(2015, 95.0, 2), (2016, 124.0, 3)]
    assert query(settings, "SELECT status FROM file_receipt") == [("loaded",)]


def test_a_workbook_rejected_for_its_first_visible_sheet_says_which_sheet_was_read(settings):
    """With several visible sheets the data may be on another: the message says the sheet read
    (by its place, as its name is text staff typed) and that only the first visible one is read."""
    save_workbook(settings, "mimp/portada.xlsx", {
        "Listas": ("hidden", [["País"], ["Perú"]]),
        "Portada": ("visible", [["Ministerio de la Mujer: entrega anual"], ["Ver la hoja Datos"]]),
        "Datos": ("visible", DATA_SHEET),
    })
    save_workbook(settings, "mimp/sola.xlsx", {"Portada": ("visible", [["país", "indicador", "total"], ["Perú", "femicide_count", 95]])})
    run(settings)
    rows = dict((path, (code, es, en)) for path, code, es, en in query(
        settings, "SELECT source_file, reason_code, message_es, message_en FROM quarantine"))
    code, es, en = rows["mimp/portada.xlsx"]
    assert code == "unknown_layout"
    assert es.endswith(" Del libro se leyó la hoja 2, la primera visible (el libro tiene 2 hojas visibles): solo se lee "
                       "la primera hoja visible. Si los datos están en otra hoja, póngala primera u oculte las que van antes.")
    assert en.endswith(" Sheet 2 of the workbook was read, the first visible one (2 sheets are visible): only the first "
                       "visible sheet is read. If the data are on another sheet, move it first or hide the sheets before it.")
    assert "Portada" not in es + en and "Datos" not in es + en
    code, es, en = rows["mimp/sola.xlsx"]  # one visible sheet: nothing to say about sheets
    assert code == "missing_required_column"
    assert "hoja" not in es and "sheet" not in en and "?" not in es + en
