"""No personal data, anywhere: a raw file whose columns or values could identify a person is
rejected whole (`personal_data`), its message names the column and the kind of data, never
the value; what a run writes never holds such a value; the shipped real files all load."""
import bz2
import gzip
import json
import logging
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from observatory import layouts, privacy, read, records, staging
from observatory.cli import main
from observatory.settings import PROJECT_ROOT, Settings
from tests.conftest import HEADER, drop, query, run

FIXTURES = Path(__file__).parent / "fixtures"
REAL_WORLD = Path("/work/shared/real-world")
CONTRACT = "country,year,indicator,value,source,notes\n"

# Values that identify people, as staff could leave them in a notes or source cell.
PLANTED_VALUES = {
    "email": "ana.planted.quispe@example.org",
    "phone": "+51 987 654 321",
    "phone_in_words": "cel. 987654321",
    "phone_grouped": "(01) 555-1234",
    "phone_area_code": "MIMP (01) 4261234",
    "phone_trunk": "01-4261234",
    "phone_after_a_word": "MIMP, consultas al 987654321",
    "phone_to_call": "Contacto: 987654321",
    "dni_in_words": "DNI N° 45678912",
    "curp": "PEGA850101MDFRRN09",
    "rfc": "PEGA850101AB1",
    "cpf": "123.456.789-09",
    "rut": "12.345.678-5",
    "cedula_cri": "1-0234-0567",
    "dui": "04567890-1",
    "cedula_dom": "001-1234567-8",
    "dpi": "1234 56789 0101",
    "cedula_ven": "V-12.345.678",
    "dni_dotted": "23.456.789",
    "address": "Calle Los Olivos 123",
    "address_av": "Av. Arequipa N° 1234",
    "address_col": "Carrera 7 # 32-16",
    "address_mz": "Mz. B Lt. 4",
    "address_en": "25 Harbour Street",
    "name_case": "Caso de Juana Quispe Mamani (expediente fiscal)",
    "name_victim": "víctima: Ana María Pérez",
    "name_title": "Sra. María Gómez",
}
KIND = {"email": "email", "curp": "id_number", "rfc": "id_number", "cpf": "id_number", "rut": "id_number",
        "address": "address", "address_av": "address", "address_col": "address", "address_mz": "address",
        "address_en": "address", "dni_in_words": "id_number", "cedula_cri": "id_number", "dui": "id_number",
        "cedula_dom": "id_number", "dpi": "id_number", "cedula_ven": "id_number", "dni_dotted": "id_number",
        "phone": "phone", "phone_in_words": "phone", "phone_grouped": "phone", "phone_area_code": "phone",
        "phone_trunk": "phone", "phone_after_a_word": "phone", "phone_to_call": "phone",
        "name_case": "name", "name_victim": "name", "name_title": "name"}


def read_one(tmp_path: Path, content: str | bytes, name: str = "file.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    con = duckdb.connect()
    staging.create_stage_tables(con)
    outcome = read.read_file(con, path, file_id=1, first_row_id=0)
    staged = con.execute("SELECT count(*) FROM stage_row").fetchall()[0][0]
    return outcome, staged


@pytest.mark.parametrize("label", sorted(PLANTED_VALUES))
def test_a_value_that_identifies_a_person_rejects_the_whole_file(tmp_path, label):
    value = PLANTED_VALUES[label]
    outcome, staged = read_one(tmp_path, CONTRACT + f"PER,2015,femicide_count,95,MIMP,ok\nPER,2016,femicide_count,96,MIMP,\"{value}\"\n")
    assert outcome.rejection is not None and outcome.rejection.reason_code == "personal_data", label
    assert outcome.rejection.details["kind"] == KIND[label]
    assert outcome.rejection.details["column"] == "notes (#6)"
    assert outcome.rows_read == 2 and staged == 0
    assert value not in repr(outcome.rejection.details)


def test_every_column_at_fault_is_named_at_once(tmp_path):
    """Staff mend every column in one go: the message names each, with its kind, never a value."""
    outcome, staged = read_one(tmp_path, "country,year,indicator,value,source,notes,DNI\n"
                               "PER,2015,femicide_count,95,\"MIMP, consultas al 987654321\",ana.planted.quispe@example.org,\n")
    details = outcome.rejection.details
    assert (details["column"], details["kind"], staged) == ("source (#5)", "phone", 0)
    assert details["more_en"] == "; also in column notes (#6) (e-mail addresses); also in column DNI (#7) (identity document numbers)"
    assert details["more_es"].startswith("; también en la columna notes (#6) (")
    assert "987654321" not in repr(details) and "quispe" not in repr(details)


@pytest.mark.parametrize("batch_rows", [1, 2, 100_000])
def test_personal_data_in_a_later_batch_or_after_a_title_row_is_found(tmp_path, monkeypatch, batch_rows):
    """Values are scanned as each batch is parsed: a title row above the header is skipped in
    whichever batch it falls, and a value in the last batch still rejects the file."""
    monkeypatch.setattr(records, "PARSE_BATCH_ROWS", batch_rows)
    email = PLANTED_VALUES[next(label for label in PLANTED_VALUES if KIND[label] == "email")]
    title = f"Contacto: {email}\n\n"
    outcome, staged = read_one(tmp_path, title + CONTRACT + "PER,2015,femicide_count,95,MIMP,ok\n")
    assert outcome.rejection is None and staged == 1 and outcome.rows_skipped == 1
    outcome, staged = read_one(tmp_path, title + CONTRACT + "PER,2015,femicide_count,95,MIMP,ok\n"
                               + f"PER,2016,femicide_count,96,MIMP,  {email} \n")
    assert outcome.rejection is not None and outcome.rejection.reason_code == "personal_data"
    assert outcome.rejection.details["column"] == "notes (#6)" and staged == 0


@pytest.mark.parametrize("column, kind", [
    ("nombre_victima", "name"), ("Nombre de la víctima", "name"), ("Apellidos", "name"), ("victim_name", "name"),
    ("DNI", "id_number"), ("CURP", "id_number"), ("RUT", "id_number"), ("CPF", "id_number"), ("Cédula", "id_number"),
    ("N° de documento", "id_number"), ("Pasaporte", "id_number"), ("documento de identidad", "id_number"),
    ("teléfono", "phone"), ("celular", "phone"), ("e-mail", "email"), ("correo electrónico", "email"),
    ("dirección", "address"), ("domicilio", "address"), ("fecha de nacimiento", "birth_date"), ("date_of_birth", "birth_date"),
])
def test_a_column_named_for_personal_data_rejects_the_file_even_when_empty(tmp_path, column, kind):
    outcome, staged = read_one(tmp_path, f"country,year,indicator,value,{column}\nPER,2015,femicide_count,95,\n")
    assert outcome.rejection.reason_code == "personal_data" and outcome.rejection.details["kind"] == kind
    assert column in outcome.rejection.details["column"] and staged == 0


@pytest.mark.parametrize("column", [
    "nombre_estado", "nombre del indicador", "GeoAreaName", "edad", "grupo etario", "identidad_genero", "lugar_hecho",
    "fecha_hecho", "país de nacimiento", "tipo_victima", "Departamento", "source_id", "ubigeo", "cve_ent", "notas",
])
def test_ordinary_columns_are_not_taken_for_personal_data(column):
    assert privacy.column_kind(column) is None


@pytest.mark.parametrize("text", [
    "1.234,5", "2009-03-11", "Ley 26.485", "Ley N° 30364", "Decreto Supremo 008-2019-MIMP",
    "No. 27 of 2015", "Chapter 178", "St. Kitts and Nevis Act No. 3 of 2000", "2015-2016", "09-04-1996",
    "https://www.oas.org/es/mesecvi/", "Boletín Oficial 28370, 09-04-1996", "Art. 21 LPVCM", "Belize Police Department",
    "ISBN 9789213580095", "Boletín 20190315", "https://datos.gob.mx/busca/dataset/123456789", "doi:10.18356/16805078-es",
    "ENDES 2019, 1,234,567 hogares", "Informe 2015-2016, p. 1234567-89", "Población femenina: 16589023 (INEI 2020)",
    "CENSO 2017 31237385 habitantes", "Presupuesto: 45000000 soles", "BCN Ley Chile, idNorma 1018066", "MIMP (RUC 20336951527)",
    "CVE 5374223 DOF", "Tabla (1) 1234567 casos", "Oficio 012-20190315 MIMP", "Línea de base 2015-2020", "Consultas 2019-2020",
    # People's names that institutions and laws bear, and case words without a name after them.
    "Registro de Feminicidio del Ministerio Público del Perú", "Ley 1761 de 2015 (Ley Rosa Elvira Cely)", "Ley Micaela",
    "Centro de la Mujer Peruana Flora Tristán", "Víctimas de Violencia Sexual", "Caso González y otras vs. México",
    "Registro de víctimas de feminicidio", "caso de violencia familiar",
])
def test_ordinary_citations_and_figures_are_not_taken_for_personal_data(tmp_path, text):
    outcome, _ = read_one(tmp_path, CONTRACT + f"PER,2015,femicide_count,95,\"{text}\",\"{text}\"\n")
    assert outcome.rejection is None, text


def test_a_figure_with_thousand_separators_is_not_an_id_in_the_value_column(tmp_path):
    outcome, staged = read_one(tmp_path, "país;año;indicador;valor;fuente\nPER;2015;helpline_calls_count;12.345.678;MIMP\n")
    assert outcome.rejection is None and staged == 1


def _real_files() -> list[Path]:
    shipped = sorted((PROJECT_ROOT / "data" / "raw").rglob("*.csv"))
    fixtures = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".csv", ".bz2"))
    shared = sorted(p for p in REAL_WORLD.glob("*") if p.suffix in (".csv", ".bz2")) if REAL_WORLD.is_dir() else []
    return shipped + fixtures + shared


@pytest.mark.parametrize("path", _real_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_shipped_or_real_world_file_is_taken_for_personal_data(tmp_path, path):
    con = duckdb.connect()
    staging.create_stage_tables(con)
    outcome = read.read_file(con, path, file_id=1, first_row_id=0)
    assert outcome.rejection is None or outcome.rejection.reason_code != "personal_data", outcome.rejection.details


# --- a layout that drops identifying columns, and only then loads counts ---------------------

CASE_LAYOUT = """name: casos_con_nombres
description: Case records whose source carries the victim's name and ID number; only counts are kept.
provenance: {producer: test, citation: test, url: test, licence: test}
recognize:
  header: [nombre_victima, dni_victima, provincia, fecha]
drop: [nombre_victima, dni_victima]
fields:
  country: {value: ARG}
  subnational: {column: provincia}
  year: {column: fecha, date: "%Y-%m-%d", part: year}
  indicator: {value: femicide_count}
  value: {value: "1"}
  unit: {value: count}
  source: {value: "registro de casos (prueba)"}
aggregate:
  national_total: true
"""


@pytest.fixture
def case_layout(tmp_path, monkeypatch):
    folder = tmp_path / "layouts"
    folder.mkdir()
    for path in layouts.LAYOUTS_DIR.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    (folder / "casos_con_nombres.yaml").write_text(CASE_LAYOUT)
    monkeypatch.setattr(layouts, "LAYOUTS_DIR", folder)
    return folder


CASES = ("nombre_victima,dni_victima,provincia,fecha\n"
         "María Planted Gómez,DNI 30111222,Salta,2015-03-01\n"
         "Rosa Planted Ríos,30222333,Salta,2015-07-09\n"
         "Ana Planted Díaz,30333444,Jujuy,2016-01-02\n")


def test_a_layout_that_drops_identifying_columns_loads_only_the_counts(settings, case_layout):
    drop(settings, "argentina/casos.csv", CASES)
    run(settings)
    assert query(settings, "SELECT status, rows_read, rows_loaded FROM file_receipt") == [("loaded", 3, 3)]
    with duckdb.connect(str(settings.working_db), read_only=True) as con:  # published, they are small cells
        counts = con.execute("SELECT subnational_code, year, value FROM fact_observation ORDER BY ALL").fetchall()
    assert (None, 2015, 2.0) in counts and (None, 2016, 1.0) in counts and ("AR.SA", 2015, 2.0) in counts
    for secret in ("Planted", "30111222", "30222333"):
        assert not _found_in_databases(settings, secret)


def test_a_dropped_column_s_values_elsewhere_still_reject_the_file(settings, case_layout):
    drop(settings, "argentina/casos.csv", CASES.replace("Jujuy", "Av. Arequipa 1234"))
    run(settings)
    assert query(settings, "SELECT reason_code FROM quarantine") == [("personal_data",)]


@pytest.mark.parametrize("body, complaint", [
    (CASE_LAYOUT.replace("aggregate:\n  national_total: true\n", ""), "only for layouts that sum records"),
    (CASE_LAYOUT.replace("drop: [nombre_victima, dni_victima]", "drop: [nombre_victima, provincia]"), "dropped and read at once"),
])
def test_a_layout_may_drop_columns_only_to_count(tmp_path, body, complaint):
    (tmp_path / "casos_con_nombres.yaml").write_text(body)
    with pytest.raises(layouts.LayoutError, match=complaint):
        layouts.load_all(tmp_path)


# --- nothing identifying is ever written ------------------------------------------------------

SECRETS = {
    # one per raw file of every kind: contract v1 (notes, source, extra column, named columns),
    # each layout's files, xlsx, .csv.gz, .csv.bz2
    "contract_notes": "lucia.planted@example.org",
    "contract_source": "+51 955 111 222",
    "contract_extra": "PEGA850101MDFRRN09",
    "contract_named": "Juana Planted Mamani",
    "xlsx": "DNI 47777111",
    "gzip": "Jr. Plantado N° 545",
    "peru": "peru.planted@example.org",
    "costa_rica": "1-0999-0888",
    "argentina": "Av. Plantada 4321",
    "cepalstat": "cel. 999888777",
    "mexico": "ROPA850101MDFRRN01",
    "sesnsp": "sesnsp.planted@example.org",
}


def _plant(text: str, secret: str) -> str:
    """The secret in the last data row's first text cell (a cell its layout reads)."""
    lines = text.rstrip("\n").split("\n")
    cells = lines[-1].split(",")
    index = next(i for i, cell in enumerate(cells) if any(ch.isalpha() for ch in cell))
    cells[index] = f'"{secret}"'
    lines[-1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _drop_everything(settings: Settings) -> None:
    s = SECRETS
    drop(settings, "mimp/notas.csv", CONTRACT + f"PER,2015,femicide_count,95,MIMP,ok\nPER,2016,femicide_count,96,MIMP,{s['contract_notes']}\n")
    drop(settings, "mimp/fuente.csv", CONTRACT + f"PER,2015,femicide_count,95,\"{s['contract_source']}\",\n")
    drop(settings, "mimp/extra.csv", "country,year,indicator,value,comentario\n" + f"PER,2015,femicide_count,95,{s['contract_extra']}\n")
    drop(settings, "mimp/nombres.csv", "país,año,indicador,valor,nombre_victima,dni,telefono\n"
                                       f"PER,2015,femicide_count,1,{s['contract_named']},40000001,999000111\n")
    workbook = Workbook()
    workbook.active.append(["país", "año", "indicador", "valor", "notas"])
    workbook.active.append(["PER", 2015, "femicide_count", 95, s["xlsx"]])
    (settings.raw_dir / "mimp").mkdir(parents=True, exist_ok=True)
    workbook.save(settings.raw_dir / "mimp" / "hoja.xlsx")
    drop(settings, "mimp/comprimido.csv.gz", gzip.compress((CONTRACT + f"PER,2015,femicide_count,95,MIMP,\"{s['gzip']}\"\n").encode()))
    real = FIXTURES / "real_world"
    for folder, source, key in [
        ("peru", real / "peru_feminicidio_tentativa_departamentos_2009_2016.csv", "peru"),
        ("costa_rica", real / "costarica_femicidios_2007_2017.csv", "costa_rica"),
        ("argentina", real / "argentina_femicidios_casos_2012_2016.csv", "argentina"),
        ("cepal", real / "cepalstat_femicidios_caribbean.csv", "cepalstat"),
        ("mexico", FIXTURES / "mexico_feminicidios_mensual_2016_2018.csv", "mexico"),
    ]:
        encoding = "utf-8"
        data = source.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            encoding, text = "cp1252", data.decode("cp1252")
        if key == "mexico":  # dates and figures only: a notes-like column is added
            text = text.rstrip("\n") + "\n" + f"\"{s['mexico']}\",1\n"
        else:
            text = _plant(text, s[key])
        drop(settings, f"{folder}/{source.name}", text.encode(encoding))
    sesnsp = bz2.decompress((FIXTURES / "mexico_sesnsp_2024_2025_muestra.csv.bz2").read_bytes()).decode("utf-8")
    drop(settings, "sesnsp/mexico_sesnsp_2024_2025_muestra.csv.bz2", bz2.compress(_plant(sesnsp, s["sesnsp"]).encode()))


def _found_in_databases(settings: Settings, secret: str) -> list[str]:
    """Every text cell of every table of the working and published databases and of every
    Parquet file (compressed on disk, so a byte search alone would not see them)."""
    found = []
    databases = [settings.published_db, settings.working_db]
    for database in databases:
        if not database.exists():
            continue
        with duckdb.connect(str(database), read_only=True) as con:
            tables = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                 "WHERE data_type = 'VARCHAR'").fetchall()
            for table, column in tables:
                hits = con.execute(f'SELECT count(*) FROM "{table}" WHERE contains("{column}", ?)', [secret]).fetchall()[0][0]
                if hits:
                    found.append(f"{database.name}:{table}.{column}")
            # The verdict stores keep fingerprints of cells (verdicts.py): not of this text in a column of its own.
            for (store,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'verdict_')").fetchall():
                hits = con.execute(f"SELECT count(*) FROM \"{store}\" WHERE combination = md5_number(to_json({{'c0': ?::VARCHAR}}))",
                                   [secret]).fetchall()[0][0]
                if hits:
                    found.append(f"{database.name}:{store} (a fingerprint)")
    for parquet in settings.curated_dir.rglob("*.parquet"):
        with duckdb.connect() as con:
            rows = con.execute("SELECT * FROM read_parquet(?)", [str(parquet)]).fetchall()
            if any(secret in str(cell) for row in rows for cell in row):
                found.append(str(parquet))
    return found


def _found_in_files(root: Path, secret: str, skip: Path) -> list[str]:
    needles = [secret.encode("utf-8"), secret.encode("utf-16-le"), secret.encode("latin-1", "ignore")]
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_relative_to(skip):
            data = path.read_bytes()
            if any(needle and needle in data for needle in needles):
                found.append(str(path))
    return found


def test_no_planted_personal_data_is_written_printed_or_logged_anywhere(tmp_path, monkeypatch, caplog):
    settings = Settings.resolve(tmp_path / "raw", tmp_path / "curated", tmp_path / "receipts")
    _drop_everything(settings)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)],
                                env={"OBSERVATORY_RECEIPTS_DIR": str(settings.receipts_dir)})
    assert result.exit_code == 0, result.output
    printed = result.output + (result.stderr if result.stderr_bytes is not None else "")
    logged = "\n".join(record.getMessage() + str(record.args) for record in caplog.records)
    extra_values = ["40000001", "999000111"]
    for secret in [*SECRETS.values(), *extra_values]:
        assert secret not in printed and secret not in logged, secret
        assert not _found_in_files(tmp_path, secret, skip=settings.raw_dir), secret
        assert not _found_in_databases(settings, secret), secret
    receipts = query(settings, "SELECT file_path, status, rows_read, rows_loaded, rows_quarantined FROM file_receipt ORDER BY 1")
    assert len(receipts) == 12 and all(status == "rejected" for _, status, *_ in receipts), receipts
    assert all(read == loaded + quarantined for _, _, read, loaded, quarantined in receipts)
    reasons = query(settings, "SELECT DISTINCT reason_code FROM quarantine")
    assert reasons == [("personal_data",)]
    assert any(Path(p).suffix == ".md" for p in map(str, settings.receipts_dir.rglob("*.md")))
    named = query(settings, "SELECT message_es, message_en FROM quarantine WHERE source_file = 'mimp/nombres.csv'")[0]
    assert "nombre_victima" in named[0] and "names of people" in named[1]


@pytest.mark.parametrize("name, content", [
    ("ancho_puntos.csv", "país;indicador;fuente;2019;2020\nArgentina;helpline_calls_count;Línea 144;1.234.567;1.345.678\n"),
    ("ancho_espacios.csv", "país,indicador,fuente,2019,2020\nArgentina,helpline_calls_count,Línea 144,12 345 678,13 345 678\n"),
])
def test_large_figures_in_a_wide_table_s_year_columns_are_figures_not_id_numbers(settings, name, content):
    """The same figures load in long form: in a wide table the year columns hold them."""
    drop(settings, f"otro/{name}", content)
    run(settings)
    assert query(settings, "SELECT status, rows_read, rows_loaded FROM file_receipt") == [("loaded", 2, 2)]


def test_a_contact_line_in_a_title_row_is_skipped_not_taken_for_a_person(settings):
    drop(settings, "otro/titulado.csv", "Contacto: observatorio@mimp.gob.pe\n" + HEADER
         + "Perú,2015,femicide_count,95,MIMP\n")
    run(settings)
    assert query(settings, "SELECT status, rows_read, rows_loaded, rows_skipped FROM file_receipt") == [("loaded", 1, 1, 1)]
    drop(settings, "otro/abajo.csv", "Contacto del observatorio\n" + HEADER
         + "Perú,2016,femicide_count,95,observatorio@mimp.gob.pe\n")
    run(settings)
    assert query(settings, "SELECT reason_code FROM quarantine WHERE source_file = 'otro/abajo.csv'") == [("personal_data",)]


# --- a name typed by mistake in a cell is never quoted -----------------------------------------

NAME = "Rosa Plantada Quispe"


@pytest.mark.parametrize("cell, vocabularies, listed, quoted", [
    ("2O14", "", (), True), ("12,5 %", "", (), True), ("—", "", (), True), ("", "", (), True), ("A 1", "", (), True),
    ("n/d", "missing", (), True), ("número", "unit", (), True), ("mujeers", "sex", (), True), ("Setiembe", "month", (), True),
    ("Argentna", "country", (), True), ("Rep Dominicana", "country", (), True), ("Hondras", "", ("Honduras",), True),
    ("Ayacuchoo", "", ("Ayacucho", "Apurímac"), True),
    ("por 100 mil", "", (), False), ("Juana", "", (), False),       # words, no term to be near
    ("Julio", "sex", (), False), ("Cusco", "unit", (), False),      # a term of another vocabulary
    ("Ana Argentina", "country", ("Argentina",), False),            # a word more than the term
    ("Ana Lucía", "country", ("Santa Lucía",), False), ("Juan Vicente", "", ("San Vicente",), False),
    ("Francisco Morales", "", ("Francisco Morazán",), False), ("Costa Rita", "country", (), False),
    ("Paz", "country", (), False), ("Noé", "yes_no", (), False),    # short words: exact or nothing
    ("A.G.", "", (), False), ("J.P. 15/03/2019", "", (), False),    # initials, with a date
    ("987 654 321", "", (), False), ("+51 955 111 222", "", (), False),  # shaped like a phone
    ("45678912", "", (), False), ("955111222", "", (), False),      # an ID or a phone, bare
    ("8888-8888", "", (), False), ("8-123-456", "", (), False),     # a local phone, Panama's cédula
    ("8-73-1234", "", (), False), ("22.33.4455", "", (), False),    # shaped like a date, but not one
    ("001-010190-0001A", "", (), False), ("2015-13-45", "", (), False),  # Nicaragua's cédula; no month 13
    ("15/03/2019", "", (), True), ("2015-11-23 00:00:00", "", (), True),  # dates: quoted
    ("2018-2019", "", (), True), ("1.234,5", "", (), True),        # a span of years, a figure of five digits
    ("1" * 41, "", (), False),                                      # too long to be a mistyped figure
    ("23", "age_group", (), False), ("23.0", "age_group", (), False),  # one person's age as the age group
    ("23", "", (), True), ("15-29", "age_group", (), True), ("15 +", "age_group", (), True),  # a figure; a group
])
def test_which_cells_a_message_may_quote(cell, vocabularies, listed, quoted):
    assert privacy.quotable(cell, vocabularies, listed) is quoted


def test_a_name_typed_in_a_cell_is_quarantined_unquoted_and_kept_nowhere(settings, caplog):
    """No detector tells a name from other words, so a quarantined cell with words is quoted only
    when it is a term of its message's subject, exact or misspelt (privacy.quotable): the
    messages of the quarantine, the receipts, the report and the exports give its line, not its
    text. Typos are still quoted, so staff see what to fix."""
    caplog.set_level(logging.DEBUG)
    drop(settings, "mimp/errores.csv", "country,year,indicator,value,unit,sex,source\n"
         "Perú,2015,femicide_count,95,count,total,MIMP\n"
         f"{NAME},2015,femicide_count,1,count,total,MIMP\n"        # unknown_country
         f"Perú,2016,femicide_count,caso de {NAME},count,total,MIMP\n"  # value_not_numeric
         f"Perú,2017,femicide_count,2,{NAME},total,MIMP\n"         # unit_mismatch
         f"Perú,2018,femicide_count,3,count,{NAME},MIMP\n"         # unknown_sex
         "Hondras,2015,femicide_count,4,count,total,MIMP\n"         # a typo of a country: quoted
         "Perú,2O14,femicide_count,5,count,total,MIMP\n"            # a stray letter in a year: quoted
         "Perú,2019,femicide_count,12.5%,count,total,MIMP\n"        # no words: quoted
         "Perú,2020,femicide_count,6,count,mujeers,MIMP\n"          # near a sex's spelling: quoted
         "Ana Argentina,2015,femicide_count,7,count,total,MIMP\n"   # a name and a country
         "Perú,2021,femicide_count,8,count,Francisco Morazán,MIMP\n"  # a person's name, a place's too
         "Perú,2022,femicide_rate,45678912,per_100k_women,total,MIMP\n"  # an ID as a rate: out of range
         "Perú,2023,femicide_rate,150,per_100k_women,total,MIMP\n")      # out of range too, remembered
    drop(settings, "mimp/regiones.csv", "país,año,indicador,valor,departamento\n"
         f"PER,2020,femicide_count,3,{NAME}\n")                    # unknown_subnational
    drop(settings, "registro/leyes.csv", "country,instrument_type,title,adopted_on,status,source\n"
         "PER,comprehensive_vaw_law,Ley 30364,2015-11-23,in_force,El Peruano\n"
         f"PER,comprehensive_vaw_law,Ley 30365,2015-11-23,{NAME},El Peruano\n")  # unknown_status
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)],
                                env={"OBSERVATORY_RECEIPTS_DIR": str(settings.receipts_dir)})
    assert result.exit_code == 0, result.output
    rows = dict(((line, file), (code, es, en)) for file, line, code, es, en in query(
        settings, "SELECT source_file, source_row, reason_code, message_es, message_en FROM quarantine"))
    named = {(3, "mimp/errores.csv"): "unknown_country", (4, "mimp/errores.csv"): "value_not_numeric",
             (5, "mimp/errores.csv"): "unit_mismatch", (6, "mimp/errores.csv"): "unknown_sex",
             (11, "mimp/errores.csv"): "unknown_country", (12, "mimp/errores.csv"): "unknown_sex",
             (13, "mimp/errores.csv"): "value_out_of_range",
             (3, "registro/leyes.csv"): "unknown_status", (2, "mimp/regiones.csv"): "unknown_subnational"}
    for key, code in named.items():
        assert rows[key][0] == code, rows[key]
        shown = ("valor …", "value …") if code == "value_out_of_range" else ("«…»", "'…'")
        assert shown[0] in rows[key][1] and "No se cita el contenido de la celda" in rows[key][1], rows[key]
        assert shown[1] in rows[key][2] and "The cell's content is not quoted" in rows[key][2], rows[key]
    quoted = {7: "Hondras", 8: "2O14", 9: "12.5%", 10: "mujeers"}
    for line, cell in quoted.items():
        _, es, en = rows[(line, "mimp/errores.csv")]
        assert f"«{cell}»" in es and f"'{cell}'" in en and "not quoted" not in en, (es, en)
    checked = CliRunner().invoke(main, ["check", str(settings.raw_dir / "mimp" / "errores.csv"),
                                        "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    assert checked.exit_code == 1 and "«…»" in checked.output and "«Hondras»" in checked.output, checked.output
    for part in (NAME, "Plantada", "45678912"):
        assert part not in result.output + checked.output and part not in caplog.text
        assert not _found_in_databases(settings, part), part  # the working database's stage and maps too
        assert not _found_in_files(settings.curated_dir, part, skip=settings.raw_dir), part
        assert not _found_in_files(settings.receipts_dir, part, skip=settings.raw_dir), part
    with duckdb.connect(str(settings.working_db), read_only=True) as con:  # nor the ID typed as a rate, hashed
        def stored(value: float) -> list[str]:
            return [store for (store,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'verdict_')").fetchall()
                if con.execute(f"""SELECT count(*) FROM "{store}" AS v, dim_indicator AS i
                                   WHERE i.indicator_code = 'femicide_rate' AND v.combination = md5_number(to_json(
                                     {{'c0': i.range_max, 'c1': i.range_min, 'c2': ?::DOUBLE,
                                       'c3': NULL::DOUBLE}}))""", [value]).fetchall()[0][0]]  # c3: whole_value, NULL for a rate
        assert stored(45678912) == [] and len(stored(150)) == 1  # the other failing rate is: the check finds it
    assert "validating row by row" not in caplog.text  # judged by combinations, as a run does


def test_an_age_as_the_age_group_is_never_quoted_and_the_message_says_it_is_an_age(settings):
    """A case file with a row per victim gives her age (`23`) in the age-group column, beside the
    date and the district of the case: a quasi-identifier. The message quotes no age anywhere
    it is published (quarantine, report, Parquet, receipts, `observatory check`), says the
    column seems to hold single ages, not age groups, and names the groups it takes; a mistyped
    group that is not a bare number is still quoted."""
    path = drop(settings, "obs_pd/edad_col.csv", "país,año,indicador,valor,edad,fecha del hecho,distrito\n"
                "Costa Rica,2018,femicide_count,1,23,2018-03-04,Pavas\n"
                "Costa Rica,2019,femicide_count,1,31.0,2019-05-06,Hatillo\n"
                "Costa Rica,2020,femicide_count,1,15-,2020-07-08,Pavas\n")  # a group cut short
    run(settings)
    rows = query(settings, "SELECT source_row, reason_code, message_es, message_en FROM quarantine ORDER BY 1")
    assert [(line, code) for line, code, _, _ in rows] == [(2, "invalid_age_group"), (3, "invalid_age_group"),
                                                           (4, "invalid_age_group")]
    for _, _, es, en in rows[:2]:
        assert es.startswith("El grupo etario de esta línea es un número solo: la columna parece traer la edad de "
                             "cada persona, no los grupos etarios") and "use total" not in es, es
        assert "Use total, un rango como 15-49, o un mínimo como 15+." in es and "La edad no se cita" in es
        assert en.startswith("The age group on this line is a bare number: the column seems to hold each person's "
                             "age, not the age groups") and "Use total, a range such as 15-49, or a minimum such as 15+." in en
        assert "The age is not quoted" in en
    assert "Grupo etario «15-» no válido" in rows[2][2] and "Age group '15-'" in rows[2][3]  # not an age: as before
    receipt = json.loads((settings.receipts_dir / "obs_pd" / "edad_col.csv.json").read_text())
    markdown = (settings.receipts_dir / "obs_pd" / "edad_col.csv.md").read_text()
    checked = CliRunner().invoke(main, ["check", str(path), "--json"])
    assert checked.exit_code == 3, checked.output
    assert [p["message_es"] for p in json.loads(checked.stdout)["problems"]] == [es for _, _, es, _ in rows]
    assert [(p["message_es"], p["message_en"]) for p in receipt["problems"]] == [(es, en) for _, _, es, en in rows]
    for age in ("23", "31"):
        for shown in (f"«{age}", f"'{age}"):  # as a message quotes a cell (31.0 too)
            assert not any(shown in text for row in rows for text in row[2:]), shown
            assert shown not in markdown and shown not in checked.stdout, shown
            assert not _found_in_databases(settings, shown), shown
            assert not _found_in_files(settings.curated_dir, shown, skip=settings.raw_dir), shown


def test_a_file_without_a_header_row_shows_only_the_column_names_the_observatory_knows(settings):
    """A rejected file's message shows the header it found, so staff see what was read. In a
    file without a header row, that "header" is the first record: a cell is shown only when it
    names a column the observatory knows (contract.header_fields, privacy.quotable_column)."""
    drop(settings, "casos/sin_encabezado.csv", f"{NAME},Lima,denuncia\nOtra Persona,Cusco,denuncia\n")
    # Names that are near misses of column names (región, fuente): shown only beside two exact names.
    drop(settings, "casos/casi_columnas.csv", "Regina,Fuentes,Lima\nAna,Pérez,Cusco\n")
    drop(settings, "casos/contactos.csv", f"Lima,denuncia,{NAME}\nCusco,denuncia,rosa.q@example.org\n")
    drop(settings, "casos/nombres.csv", f"Lima,denuncia,DNI {NAME}\nCusco,denuncia,DNI Otra Persona\n")
    drop(settings, "mimp/incompleto.csv", "pais,anio,indicadr,Responsable\nPER,2015,femicide_count,ninguna\n")
    # A wide table's year column may say anything in parentheses: the column is named by year and position.
    drop(settings, "mimp/ancha.csv", f"país,indicador,fuente,2018 (casos),2019 ({NAME})\nPerú,femicide_count,MIMP,95,96\n")
    drop(settings, "mimp/ancha_sin_indicador.csv", f"país,unidad,2018,2019 ({NAME})\nPerú,count,95,96\n")
    run(settings)
    rows = {file: (code, es, en) for file, code, es, en in query(
        settings, "SELECT source_file, reason_code, message_es, message_en FROM quarantine")}
    assert query(settings, "SELECT source_column, reason_code FROM quarantine WHERE source_file = 'mimp/ancha.csv'") == [
        ("2019 (#5)", "unit_mismatch")]
    assert query(settings, "SELECT count(*) FROM fact_observation WHERE source_file = 'mimp/ancha.csv'") == [(1,)]
    code, es, en = rows["mimp/ancha_sin_indicador.csv"]
    assert code == "wide_table_incomplete" and "2018, 2019 (#4)" in es and "2018, 2019 (#4)" in en, (es, en)
    code, es, en = rows["casos/sin_encabezado.csv"]
    assert code == "unknown_layout" and "Encabezado detectado: … | … | … (…: columnas que el observatorio no conoce" in es
    assert "Header found: … | … | … (…: " in en and "columns the observatory does not know" in en
    for file in ("casos/contactos.csv", "casos/nombres.csv"):  # a value, a column's "name": by position
        code, es, en = rows[file]
        assert code == "personal_data" and "columna #3" in es and "column #3" in en, (es, en)
    code, es, en = rows["mimp/incompleto.csv"]
    assert code == "missing_required_column" and "pais | anio | indicadr | … (…: " in es, es  # a misspelt name is shown
    code, es, en = rows["casos/casi_columnas.csv"]
    assert code == "unknown_layout" and "Encabezado detectado: … | … | … (…: " in es, es
    for part in (NAME, "Plantada", "Otra Persona", "Responsable", "Regina", "Fuentes"):
        assert not any(part in text for row in rows.values() for text in row), part
        assert not _found_in_databases(settings, part), part
        assert not _found_in_files(settings.curated_dir, part, skip=settings.raw_dir), part
        assert not _found_in_files(settings.receipts_dir, part, skip=settings.raw_dir), part


def test_a_header_s_notes_are_in_each_message_s_own_language(settings):
    """A rejected file's message shows the header it found, with a note when cells are not
    quoted (`…`) or when the first row is data: the Spanish message says it in Spanish only and
    the English one in English only, whichever reason shows the header (missing_required_column,
    unknown_layout, a source layout's layout_mismatch)."""
    drop(settings, "casos/sin_encabezado.csv", f"{NAME},Lima,denuncia\nOtra Persona,Cusco,denuncia\n")
    drop(settings, "mimp/incompleto.csv", "pais,anio,indicadr,Responsable\nPER,2015,femicide_count,ninguna\n")
    drop(settings, "mimp/departamentos.csv", "Territorio,,Año 2009,\nHASC,Departamento,Feminicidio,Tentativa,Responsable\n"
         "PE.AM,Amazonas,2,1,ninguna\n")
    drop(settings, "mimp/solo_datos.csv", "Lima,95,1.5\nCusco,96,2.5\n")
    run(settings)
    rows = {file: (code, es, en) for file, code, es, en in query(
        settings, "SELECT source_file, reason_code, message_es, message_en FROM quarantine")}
    assert {file: code for file, (code, _, _) in rows.items()} == {
        "casos/sin_encabezado.csv": "unknown_layout", "mimp/incompleto.csv": "missing_required_column",
        "mimp/departamentos.csv": "layout_mismatch", "mimp/solo_datos.csv": "unknown_layout"}
    hidden_es = "(…: columnas que el observatorio no conoce, no citadas por si la primera fila fuera el registro de una persona)"
    hidden_en = "(…: columns the observatory does not know, not quoted in case the first row is a person's record)"
    for file in ("casos/sin_encabezado.csv", "mimp/incompleto.csv", "mimp/departamentos.csv"):
        _, es, en = rows[file]
        assert hidden_es in es and hidden_en in en, (es, en)
        assert "columns the observatory" not in es and "columnas que el observatorio" not in en, (es, en)
    _, es, en = rows["mimp/solo_datos.csv"]
    assert "Encabezado detectado: sin encabezado: la primera fila ya parece de datos (3 columnas); la primera fila debe " \
           "llevar los nombres de las columnas." in es, es
    assert "Header found: no header: the first row already looks like data (3 columns); the first row must hold the " \
           "column names." in en, en
    assert "no header" not in es and "sin encabezado" not in en
