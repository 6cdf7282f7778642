import duckdb
import pandas as pd
import pytest

from observatory import pipeline
from observatory.harmonize import _age_group_resolver
from tests.conftest import drop


def harmonized(settings, rows: str, header: str = "country,year,indicator,value,unit,sex,age_group,population_group", delimiter: str = ","):
    drop(settings, "obs/file.csv", header.replace(",", delimiter) + "\n" + rows)
    pipeline.stage(settings)
    with duckdb.connect(str(settings.working_db)) as con:
        return con.execute("SELECT * FROM stage_harmonized ORDER BY line").df()


@pytest.mark.parametrize("written", ["Bolivia (Estado Plurinacional de)", "BOLIVIA", "bo", "068", "68", "Bolivia, Plurinational State of"])
def test_country_forms_map_to_iso3(settings, written):
    frame = harmonized(settings, f'"{written}",2015,femicide_count,1,,,,\n')
    assert frame.loc[0, "country_iso3"] == "BOL"


def test_unknown_country_keeps_its_raw_text_and_the_closest_names(settings):
    frame = harmonized(settings, "Hondras,2015,femicide_count,1,,,,\n")
    assert pd.isna(frame.loc[0, "country_iso3"])
    assert frame.loc[0, "country_raw"] == "Hondras"
    assert "Honduras" in frame.loc[0, "country_suggestions"]


@pytest.mark.parametrize("written, number", [
    ("12.345", 12345.0), ("1.234,5", 1234.5), ("0,58", 0.58), ("95", 95.0), ("1 234", 1234.0),
    ("12.5", None), ("1,2,3", None), ("abc", None), ("", None),
])
def test_semicolon_files_read_comma_decimals_and_dot_thousands(settings, written, number):
    frame = harmonized(settings, f"PER;2015;femicide_count;{written};;;;\n", delimiter=";")
    value = frame.loc[0, "value"]
    assert (value == number) if number is not None else pd.isna(value)


@pytest.mark.parametrize("written, number", [("12,345", 12345.0), ("0.58", 0.58), ("1,234.5", 1234.5), ("12,5", None)])
def test_comma_files_read_dot_decimals(settings, written, number):
    frame = harmonized(settings, f'PER,2015,femicide_count,"{written}",,,,\n')
    value = frame.loc[0, "value"]
    assert (value == number) if number is not None else pd.isna(value)


@pytest.mark.parametrize("token", ["NA", "n/d", "N/D", "-", "", "..", " s/d "])
def test_missing_tokens_mean_missing_never_zero(settings, token):
    frame = harmonized(settings, f"PER,2015,femicide_count,{token},,,,\n")
    assert bool(frame.loc[0, "value_missing"]) is True


def test_disaggregations_default_to_total_and_map_spanish_names(settings):
    frame = harmonized(settings, "PER,2015,femicide_count,1,casos,Mujeres,15 a 49 años,Indígena\nPER,2015,femicide_count,1,,,,\nPER,2016,femicide_count,1,,alien,,\n")
    assert tuple(frame.loc[0, ["sex", "age_group", "population_group", "unit_given"]]) == ("female", "15-49", "indigenous", "count")
    assert tuple(frame.loc[1, ["sex", "age_group", "population_group"]]) == ("total", "total", "total")
    assert pd.isna(frame.loc[2, "sex"])


@pytest.mark.parametrize("written, code", [
    ("15-49", "15-49"), ("15 a 49 años", "15-49"), ("15 +", "15+"), ("15+", "15+"), ("15 y más", "15+"),
    ("Total", "total"), ("49-15", None), ("jóvenes", None),
    ("Y15T49", "15-49"), ("Y_GE15", "15+"), ("ALLAGE", "total"), ("_T", "total"),  # SDMX and SDG database codes
])
def test_age_groups(written, code):
    assert _age_group_resolver()(written)[0] == code


def test_the_source_defaults_to_the_observatory(settings):
    frame = harmonized(settings, "PER,2015,femicide_count,1,,,,\n")
    assert frame.loc[0, "source"] == "obs"
