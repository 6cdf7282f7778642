import pycountry
import pytest

from observatory import build, privacy, reference
from observatory.reference import norm_key


def test_countries_are_the_33_of_latin_america_and_the_caribbean_with_iso_codes():
    countries = reference.load("countries")
    assert len(countries) == 33
    assert countries["country_iso3"].is_unique
    for row in countries.itertuples():
        iso = pycountry.countries.get(alpha_3=row.country_iso3)
        assert iso is not None, row.country_iso3
        assert (iso.alpha_2, iso.numeric) == (row.iso2, row.m49), row.country_iso3
    assert set(countries["subregion"]) == set(reference.load("subregions")["subregion"])


def test_country_groups_match_the_domain_notes():
    groups = reference.load("country_groups").groupby("group_code")["country_iso3"].apply(set)
    assert groups["MIRPS"] == {"BLZ", "CRI", "GTM", "HND", "MEX", "PAN", "SLV"}
    assert len(groups["ESP_COP"]) == 15
    assert len(groups["SPOTLIGHT"]) == 12
    assert len(groups["BELEM_DO_PARA"]) == 32 and "CUB" not in groups["BELEM_DO_PARA"]
    every_country = set(reference.load("countries")["country_iso3"])
    assert set().union(*groups) <= every_country
    assert set(groups.index) <= set(reference.load("groups")["group_code"])


@pytest.mark.parametrize("written, iso3", [
    ("Bolivia (Estado Plurinacional de)", "BOL"),
    ("Venezuela (República Bolivariana de)", "VEN"),
    ("venezuela (republica bolivariana de)", "VEN"),
    ("Trinidad y Tabago", "TTO"),
    ("Trinidad and Tobago", "TTO"),
    ("PERU", "PER"),
    ("Perú", "PER"),
    ("pe", "PER"),
    ("per", "PER"),
    ("604", "PER"),
    ("28", "ATG"),
    ("028", "ATG"),
    ("  México ", "MEX"),
    ("República Dominicana", "DOM"),
    ("Saint Kitts y Nevis", "KNA"),
])
def test_country_aliases_cover_codes_and_spanish_english_and_cepal_names(written, iso3):
    aliases = reference.country_aliases()
    assert dict(zip(aliases["alias_key"], aliases["country_iso3"]))[norm_key(written)] == iso3


def test_indicator_catalogue_has_the_stable_codes_and_sdg_aliases():
    indicators = reference.load("indicators").set_index("indicator_code")
    assert {"femicide_count", "femicide_rate", "femicide_attempt_count", "ipv_prevalence_12m",
            "sdg511_vaw_score", "vaw_budget_share", "helpline_calls_count"} <= set(indicators.index)
    aliases = reference.indicator_aliases()
    by_alias = dict(zip(aliases["alias_key"], aliases["indicator_code"]))
    assert by_alias[norm_key("VC_VAW_MARR")] == "ipv_prevalence_12m"
    assert by_alias[norm_key("SG_LGL_GENEQVAW")] == "sdg511_vaw_score"
    assert set(indicators["unit"]) <= set(reference.load("units")["unit"])
    assert (indicators["definition_source"] != "").all()


def test_every_reason_has_both_languages():
    reasons = reference.load("reasons")
    assert reasons["reason_code"].is_unique
    assert (reasons["message_es"] != "").all() and (reasons["message_en"] != "").all()
    assert set(reasons["level"]) == {"file", "row"}
    # what a quarantined cell may be a near miss of to be quoted (privacy.quotable)
    for code, near, es, en in zip(reasons["reason_code"], reasons["quote_near"], reasons["message_es"], reasons["message_en"]):
        assert all(name in build.LISTED or privacy.vocabulary(name) for name in near.split()), code
        assert ("{raw}" in es) == ("{raw}" in en), code  # a cell quoted in one language only would not be checked
        assert not near or "{raw}" in es, code


def test_subnational_units_cover_the_33_countries_with_checked_iso_codes():
    units = reference.load("subnational_units")
    sizes = units.groupby("country_iso3").size().to_dict()
    assert set(sizes) == set(reference.load("countries")["country_iso3"])
    # Peru: 24 departments, Callao, and Lima Metropolitana and Lima Provincias within Lima.
    assert (sizes["ARG"], sizes["MEX"], sizes["PER"], sizes["CHL"], sizes["COL"], sizes["DOM"]) == (24, 32, 27, 16, 33, 32)
    assert units["subnational_code"].is_unique and units.loc[units["iso_3166_2"] != "", "iso_3166_2"].is_unique
    assert set(units.loc[units["parent_code"] != "", "subnational_code"]) == {"PE-LMA", "PE-LIM-PROV"}
    assert (units["source"] != "").all()
    with_national = units[units["country_iso3"].isin(["ARG", "MEX", "PER", "CHL", "COL"]) & (units["subnational_code"] != "PE-LIM-PROV")]
    assert (with_national["national_code"] != "").all()
    for row in units[units["iso_3166_2"] != ""].itertuples():
        subdivision = pycountry.subdivisions.get(code=row.iso_3166_2)
        assert subdivision is not None, row.iso_3166_2
        assert pycountry.countries.get(alpha_2=subdivision.country_code).alpha_3 == row.country_iso3
        assert row.subnational_code.startswith(subdivision.country_code + ".") or row.subnational_code == row.iso_3166_2


def test_the_generated_reference_files_are_what_the_script_makes_of_pycountry():
    """other_areas.csv and subnational_units.csv are derived, never typed: regenerating them from
    pycountry gives the files as they are (scripts/reference_from_pycountry.py)."""
    import runpy

    from observatory.settings import PROJECT_ROOT

    script = runpy.run_path(str(PROJECT_ROOT / "scripts" / "reference_from_pycountry.py"))
    for name in ("other_areas", "subnational_units"):
        assert script[name]() == script["read"](name), name


def test_peru_hasc_codes_are_the_ones_of_the_published_department_file():
    from pathlib import Path
    import csv

    path = Path(__file__).parent / "fixtures" / "real_world" / "peru_feminicidio_tentativa_departamentos_2009_2016.csv"
    rows = list(csv.reader(path.read_text(encoding="cp1252").splitlines()))[2:]
    published = {row[0]: row[1] for row in rows}
    units = reference.load("subnational_units")
    first_level = units[(units["country_iso3"] == "PER") & (units["parent_code"] == "")]
    ours = dict(zip(first_level["subnational_code"], first_level["name"]))
    assert set(published) == set(ours)
    assert all(norm_key(published[code]) == norm_key(ours[code]) for code in published)


@pytest.mark.parametrize("country, written, code", [
    ("PER", "PE.AM", "PE.AM"), ("PER", "01", "PE.AM"), ("PER", "1", "PE.AM"), ("PER", "PE-AMA", "PE.AM"),
    ("MEX", "01", "MX.AG"), ("MEX", "Coahuila", "MX.CA"), ("MEX", "Ciudad de México", "MX.DF"),
    ("ARG", "CABA", "AR.DF"), ("ARG", "Santa Fé", "AR.SF"), ("ARG", "02", "AR.DF"),
    ("CHL", "Metropolitana", "CL-RM"), ("CHL", "O’Higgins", "CL-LI"), ("CHL", "O'Higgins", "CL-LI"),
    ("CHL", "Bio Bio", "CL-BI"), ("CHL", "Aysén", "CL-AI"), ("CHL", "Ñuble", "CL-NB"), ("CHL", "13", "CL-RM"),
    ("CHL", "Tarapacá  ", "CL-TA"), ("COL", "BOGOTÁ, D. C.", "CO-DC"), ("COL", "05", "CO-ANT"), ("COL", "5", "CO-ANT"),
    ("DOM", "Santiago", "DO-25"), ("PER", "Lima Metropolitana", "PE-LMA"), ("PER", "Región Lima", "PE-LIM-PROV"),
    ("PER", "Lima Provincias", "PE-LIM-PROV"), ("PER", "Lima", "PE.LR"), ("PER", "1501", "PE-LMA"), ("GTM", "Quetzaltenango", "GT-09"), ("BOL", "La Paz", "BO-L"), ("URY", "Montevideo", "UY-MO"),
])
def test_subnational_aliases_are_resolved_within_their_country(country, written, code):
    aliases = reference.subnational_aliases()
    mine = aliases[aliases["country_iso3"] == country]
    assert dict(zip(mine["alias_key"], mine["subnational_code"]))[norm_key(written)] == code


def test_total_and_note_markers_never_start_a_country_name():
    """A country cell is taken for a total or note row (row_markers.csv) only when no country
    matched; still, no marker may start a country's name or code, so the advice never tells
    staff to delete a country's row."""
    from observatory import staff_forms

    markers = reference.load("row_markers")
    assert markers["marker"].is_unique and set(markers["kind"]) == {"total", "note"}
    assert [alias for alias in reference.country_aliases()["alias"] if staff_forms.row_marker(alias)] == []


def test_the_date_columns_named_in_messages_are_columns_the_contract_does_not_read():
    """date_columns.csv names columns raw contract v1 leaves unread (a `Fecha` holding monthly
    records' dates): one it reads would be a column, not a hint in a duplicate's message."""
    names = {norm_key(name) for name in reference.load("date_columns")["name"]}
    assert names and not names & set(reference.column_aliases())
