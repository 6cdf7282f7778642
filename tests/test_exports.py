"""Exports for researchers: CSV that Excel in a Spanish locale opens cleanly, the data
dictionary in Spanish and English, and a datapackage.json that Frictionless validates."""
import csv
import io
import json

import pytest
from frictionless import Package

from observatory.exports import schema_es
from observatory.publish import public_schema
from observatory.settings import PROJECT_ROOT
from tests.conftest import HEADER, drop, query, run

POLICY_HEADER = "country,instrument_type,title,identifier,adopted_on,status,has_budget,source\n"


@pytest.fixture
def published(settings):
    drop(settings, "mimp/carga.csv", HEADER
         + "Perú,2015,femicide_count,95,MIMP\n"
         + 'Perú,2016,femicide_rate,1.25,=HYPERLINK(\"http://evil.example\")\n'
         + "Chile,2016,femicide_count,34,@SUM(A1)\n"
         + "Atlantis,2015,femicide_count,1,MIMP\n")
    drop(settings, "registro/leyes.csv", POLICY_HEADER
         + "Perú,comprehensive_vaw_law,Ley 30364,30364,2015-11-23,in_force,,https://www.gob.pe/ley-30364\n"
         + "Perú,national_plan_vaw,-Plan 2016-2021,DS 008,2016,in_force,sí,+https://www.gob.pe/plan\n")
    costa_rica = PROJECT_ROOT / "data/raw/costa_rica/costarica_femicidios_2007_2017.csv"  # CC BY-SA 4.0
    drop(settings, f"costa_rica/{costa_rica.name}", costa_rica.read_bytes())
    run(settings)
    return settings


SPLIT = ("fact_observation", "observation_history")  # one file per country (exports.yaml)


def csv_paths(settings, table: str) -> list:
    """A table's CSV files: <table>.csv, or <table>/<ISO3>.csv for the tables split by country."""
    if table in SPLIT:
        return sorted((settings.exports_dir / table).glob("*.csv"))
    return [settings.exports_dir / f"{table}.csv"]


def read_csv(settings, table: str) -> tuple[bytes, list[list[str]]]:
    """The raw bytes of the table's first file, and the rows of all its files (one header)."""
    raws = [path.read_bytes() for path in csv_paths(settings, table)]
    rows = []
    for raw in raws:
        parsed = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
        rows += parsed if not rows else parsed[1:]
    return (raws[0] if raws else b""), rows


def test_every_public_table_is_exported_for_excel_in_a_spanish_locale(published):
    for table in public_schema():
        for path in csv_paths(published, table):
            raw = path.read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf"), path  # UTF-8 BOM: Excel reads the accents
            assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), path
            header = next(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
            assert header == list(public_schema()[table]["columns"]), path
        _, rows = read_csv(published, table)
        assert max(len(rows) - 1, 0) == query(published, f"SELECT count(*) FROM {table}")[0][0], table
    countries = {p.stem for p in csv_paths(published, "fact_observation")}
    assert countries == {"PER", "CHL", "CRI"}  # one file per country, named by its ISO3 code
    for path in csv_paths(published, "fact_observation"):
        _, *body = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""), delimiter=";"))
        assert {row[0] for row in body} == {path.stem}


def test_figures_use_a_decimal_comma_and_formulas_are_neutralized(published):
    _, rows = read_csv(published, "fact_observation")
    header, body = rows[0], rows[1:]
    by = {(r[header.index("country_iso3")], r[header.index("indicator_code")]): dict(zip(header, r)) for r in body}
    assert by[("PER", "femicide_rate")]["value"] == "1,25"
    assert by[("PER", "femicide_count")]["value"] == "95"
    assert by[("PER", "femicide_rate")]["source"] == "'=HYPERLINK(\"http://evil.example\")"
    assert by[("CHL", "femicide_count")]["source"] == "'@SUM(A1)"
    assert by[("PER", "femicide_count")]["subnational_code"] == ""  # NULL: a national figure
    _, rows = read_csv(published, "policy_instrument")
    header, body = rows[0], rows[1:]
    plans = [dict(zip(header, r)) for r in body]
    law = next(p for p in plans if p["title"] == "Ley 30364")
    plan = next(p for p in plans if p["title"] == "'-Plan 2016-2021")
    assert law["has_budget"] == ""  # not stated: unknown, never "false"
    assert plan["has_budget"] == "true" and plan["source"] == "'+https://www.gob.pe/plan"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)


def test_the_datapackage_describes_every_file_and_validates(published):
    folder = published.exports_dir
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    described = {resource["path"] for resource in descriptor["resources"]}
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert described == files - {"datapackage.json", ".manifest.json"}
    assert "fact_observation/PER.csv" in described
    assert [lic.get("name") for lic in descriptor["licenses"]] == ["CC-BY-SA-4.0"]  # the Costa Rica layout's
    titles = [source["title"] for source in descriptor["sources"]]
    assert any("idatosabiertos" in t for t in titles) and any("'mimp'" in t for t in titles)
    resources = {r["name"]: r for r in descriptor["resources"]}
    assert resources["dim_country"]["schema"]["primaryKey"] == ["country_iso3"]
    assert resources["fact_observation_per"]["schema"]["foreignKeys"][0]["reference"]["resource"] == "dim_country"
    assert resources["fact_observation_per"]["path"] == "fact_observation/PER.csv"
    report = Package(str(folder / "datapackage.json")).validate()
    assert report.valid, report.flatten(["resourcePath", "rowNumber", "fieldName", "type", "note"])


def test_frictionless_catches_a_broken_export(published):
    """The validation above can fail: a file changed after it was described is caught."""
    path = published.exports_dir / "dim_country.csv"
    path.write_bytes(path.read_bytes().replace(b"PER;", b"PER;x", 1))
    report = Package(str(published.exports_dir / "datapackage.json")).validate()
    assert not report.valid


def test_the_data_dictionary_comes_in_spanish_and_english_for_every_column(published):
    spanish = (published.exports_dir / "diccionario_de_datos.md").read_text(encoding="utf-8")
    english = (published.exports_dir / "data_dictionary.md").read_text(encoding="utf-8")
    assert "sin traducción" not in spanish
    for table, spec in public_schema().items():
        for column, (_, description) in spec["columns"].items():
            assert f"| `{column}` |" in spanish and f"| `{column}` |" in english
            assert description.replace("|", "\\|") in english
    assert "NULL para cifras nacionales" in spanish
    assert "Una celda vacía es NULL, nunca cero ni «no»" in spanish and "An empty cell is NULL, never zero" in english
    assert "Archivo: `fact_observation/<ISO3>.csv` (un archivo por país)" in spanish
    assert "File: `fact_observation/<ISO3>.csv` (one file per country)" in english
    key = "`country_iso3`, `subnational_code`, `year`, `indicator_code`, `sex`, `age_group`, `population_group`, `source`"
    assert f"Clave primaria: {key} — una fila por clave" in spanish
    assert f"Primary key: {key} — one row per key" in english


def test_every_table_and_column_of_the_public_schema_has_its_spanish_text():
    """A column added to schema.yaml needs its Spanish description in schema_es.yaml."""
    missing = [f"{table}.{column}" for table, spec in public_schema().items()
               for column in spec["columns"] if not schema_es().get(table, {}).get("columns", {}).get(column)]
    missing += [table for table in public_schema() if not schema_es().get(table, {}).get("description")]
    assert missing == []


def test_exports_follow_what_is_published_and_a_run_with_nothing_new_leaves_them(published):
    before = {p: p.read_bytes() for p in published.exports_dir.rglob("*") if p.is_file()}
    run(published)
    assert {p: p.read_bytes() for p in published.exports_dir.rglob("*") if p.is_file()} == before
    drop(published, "mimp/b.csv", HEADER + "Perú,2017,femicide_count,131,MIMP\n")
    run(published)
    _, rows = read_csv(published, "fact_observation")
    assert len(rows) - 1 == query(published, "SELECT count(*) FROM fact_observation")[0][0]
    assert any(row[2] == "2017" and row[7] == "131" for row in rows)
    leftovers = [p.name for p in published.curated_dir.glob(".exports-*")]
    assert len(leftovers) == 1  # only the version `exports` points at


def test_no_file_holds_more_rows_than_an_excel_sheet(published, tmp_path, monkeypatch):
    """A file past the sheet's rows goes on in <name>_2.csv, <name>_3.csv… (here a sheet of one
    row), every part with its header, all of them described and valid."""
    from observatory import exports

    monkeypatch.setattr(exports, "EXCEL_ROWS", 1)
    folder = tmp_path / "exports"
    exports.export(published.published_db, folder)
    for table in public_schema():
        paths = sorted(folder.glob(f"{table}/*.csv")) if table in SPLIT else sorted(folder.glob(f"{table}*.csv"))
        total = 0
        for path in paths:
            rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""), delimiter=";"))
            assert rows[0] == list(public_schema()[table]["columns"]) and len(rows) - 1 <= 1, path
            total += len(rows) - 1
        assert total == query(published, f"SELECT count(*) FROM {table}")[0][0], table
    assert (folder / "fact_observation" / "PER_2.csv").is_file() and (folder / "file_receipt_2.csv").is_file()
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    names = [resource["name"] for resource in descriptor["resources"]]
    assert len(names) == len(set(names)) and "fact_observation_per_2" in names
    # dim_country is in parts too: no foreign key can name it as one resource
    assert all("foreignKeys" not in r.get("schema", {}) for r in descriptor["resources"] if r["name"].startswith("fact_"))
    some = [r for r in descriptor["resources"] if r["name"].startswith(("fact_observation_per", "file_receipt"))]
    report = Package({**descriptor, "resources": some}, basepath=str(folder)).validate()
    assert report.valid, report.flatten(["resourcePath", "rowNumber", "fieldName", "type", "note"])
