"""Fuzzing and injection: a small seeded run of the fuzz target (the full one, 10,000+ files, is
`python -m fuzz.run`), and proof that nothing from a file reaches SQL text: every statement
a run sends to DuckDB is recorded and searched for what the files carried."""
import io
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from openpyxl import Workbook

from fuzz.check import pipeline_balances, reader_keeps_every_row
from fuzz.files import raw_files
from observatory import layouts
from observatory.cli import main
from tests.conftest import query, run

SEEDED = hypothesis_settings(max_examples=40, database=None, deadline=None, derandomize=True,
                             suppress_health_check=list(HealthCheck))


def test_seeded_fuzz_of_the_reader_stages_every_row_or_rejects_with_a_reason(tmp_path):
    @SEEDED
    @given(raw_files())
    def reader(generated):
        reader_keeps_every_row(generated, tmp_path)

    reader()


def test_seeded_fuzz_of_a_whole_run_balances_every_receipt(tmp_path):
    batch = []

    @hypothesis_settings(SEEDED, max_examples=30)
    @given(raw_files())
    def collect(generated):
        batch.append(generated)

    collect()
    assert pipeline_balances(batch, tmp_path / "run") == len(batch)


# --- nothing from a file is interpolated into SQL -------------------------------------------

MARK = "ZQXJ"
NASTY = [f"{MARK}'); DROP TABLE quarantine; --", f'{MARK}"; DROP TABLE file_receipt; --', f"{MARK}$$ $tag$ $$",
         f"{MARK}\\'\\\\", f"{MARK};", f"{MARK}--", f"{MARK}' OR '1'='1", f'"{MARK}"']


class _Recording:
    """A DuckDB connection that writes down every SQL text it is given (cursors too)."""

    def __init__(self, con, statements: list[str]):
        self._con, self._statements = con, statements

    def execute(self, query, *args, **kwargs):
        self._statements.append(str(query))
        return self._con.execute(query, *args, **kwargs)

    def sql(self, query, *args, **kwargs):
        self._statements.append(str(query))
        return self._con.sql(query, *args, **kwargs)

    def cursor(self):
        return _Recording(self._con.cursor(), self._statements)

    def __getattr__(self, name):
        return getattr(self._con, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._con.close()


INJECTION_LAYOUT = """name: prueba_inyeccion
description: A layout whose constants and maps carry quotes, semicolons, comments, dollar quotes and backslashes.
provenance: {producer: "p'; --", citation: "c$$", url: "u\\\\", licence: "l;"}
recognize:
  header: [lugar, casos, periodo]
fields:
  country: {value: PER}
  subnational: {column: lugar, map: {"ZQXJ'); DROP TABLE quarantine; --": "PE.AM"}}
  year: {column: periodo}
  indicator: {value: femicide_count}
  value: {column: casos}
  source: {value: "ZQXJ'); DROP TABLE fact_observation; -- $$ \\\\"}
"""


@pytest.fixture
def injection_layout(tmp_path, monkeypatch):
    folder = tmp_path / "layouts"
    folder.mkdir()
    for path in layouts.LAYOUTS_DIR.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    (folder / "prueba_inyeccion.yaml").write_text(INJECTION_LAYOUT)
    monkeypatch.setattr(layouts, "LAYOUTS_DIR", folder)


def _drop_nasty_files(raw: Path) -> None:
    folder = raw / "inyeccion"
    folder.mkdir(parents=True)
    header = ",".join(['"' + name.replace('"', '""') + '"' for name in ["país", "año", "indicador", "valor", "fuente", *NASTY]])
    rows = "".join(f'PER,{2000 + i},femicide_count,{10 + i},"{nasty.replace(chr(34), chr(34) * 2)}"' + ",x" * len(NASTY) + "\n"
                   for i, nasty in enumerate(NASTY))
    (folder / "cabecera_y_valores.csv").write_text(header + "\n" + rows)
    (folder / "punto_y_coma.csv").write_text("país;año;indicador;valor;fuente\n"
                                             + "".join(f'MEX;{2000 + i};femicide_count;{i + 1};"{n.replace(chr(34), chr(34) * 2)}"\n'
                                                       for i, n in enumerate(NASTY)))
    (folder / "desconocido.csv").write_text(",".join(NASTY[:3]).replace('"', "") + "\n1,2,3\n")
    (folder / "paises_malos.csv").write_text("country,year,indicator,value\n"
                                             + "".join(f'"{n.replace(chr(34), chr(34) * 2)}",2015,femicide_count,1\n' for n in NASTY))
    workbook = Workbook()
    workbook.active.title = f"{MARK}'); --"
    workbook.active.append(["país", "año", "indicador", "valor", "notas"])
    workbook.active.append(["ARG", 2015, "femicide_count", 7, NASTY[0]])
    workbook.create_sheet(f"{MARK}$$;")
    out = io.BytesIO()
    workbook.save(out)
    (folder / "hoja.xlsx").write_bytes(out.getvalue())
    (folder / "layout.csv").write_text("lugar,casos,periodo\n" f'"{NASTY[0]}",5,2016\n' f'"{NASTY[2]}",6,2016\n')


def test_no_identifier_or_value_from_a_file_reaches_sql(settings, monkeypatch, injection_layout):
    statements: list[str] = []
    connect = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *args, **kwargs: _Recording(connect(*args, **kwargs), statements))
    _drop_nasty_files(settings.raw_dir)
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    monkeypatch.setattr(duckdb, "connect", connect)
    assert result.exit_code == 0, result.output
    assert len(statements) > 100  # the recorder saw the run, the reading threads included:
    assert any("cabecera_y_valores.csv" in statement for statement in statements)  # a path is passed as an escaped literal
    leaked = [statement for statement in statements if MARK in statement]
    assert leaked == []
    # and the hostile text is stored as text, the tables whole
    sources = {source for (source,) in query(settings, "SELECT source FROM fact_observation")}
    assert set(NASTY) <= sources
    assert "ZQXJ'); DROP TABLE fact_observation; -- $$ \\" in sources  # the layout's constant (one backslash)
    assert query(settings, "SELECT subnational_code, value FROM fact_observation WHERE year = 2016 AND country_iso3 = 'PER' AND subnational_code IS NOT NULL") \
        == [("PE.AM", 5.0)]  # the layout's map matched the hostile key
    statuses = dict(query(settings, "SELECT file_path, status FROM file_receipt"))
    assert statuses["inyeccion/hoja.xlsx"] == "loaded" and statuses["inyeccion/desconocido.csv"] == "rejected"
    messages = [m for (m,) in query(settings, "SELECT message_en FROM quarantine WHERE source_file = 'inyeccion/paises_malos.csv'")]
    # Not quoted back (text that is no known term could name a person), and the messages whole.
    assert len(messages) == len(NASTY) and all(MARK not in m and "is not quoted" in m and "{" not in m for m in messages)


@pytest.mark.parametrize("name", ["it's; DROP TABLE x; --.csv", "dollar $$ quote.csv", "back\\slash.csv", 'double " quote.csv'])
def test_a_file_name_with_quotes_semicolons_or_backslashes_is_read_as_a_name(settings, name):
    path = settings.raw_dir / "obs" / name
    path.parent.mkdir(parents=True)
    path.write_text("country,year,indicator,value\nPER,2015,femicide_count,95\n")
    run(settings)
    assert query(settings, "SELECT file_path, status FROM file_receipt") == [(f"obs/{name}", "loaded")]


def test_a_curated_folder_deleted_and_made_again_in_the_same_process_runs(settings):
    """Found by the fuzz target: a new working database may get the inode of the one deleted
    before it, and was then taken for a database whose tables already exist."""
    from observatory import pipeline

    (settings.raw_dir / "obs").mkdir()
    (settings.raw_dir / "obs" / "a.csv").write_text("country,year,indicator,value\nPER,2015,femicide_count,95\n")
    run(settings)
    shutil.rmtree(settings.curated_dir)
    settings.work_dir.mkdir(parents=True)
    duckdb.connect(str(settings.working_db)).close()
    pipeline._ENSURED.add((settings.working_db, settings.working_db.stat().st_ino))  # as if the inode were reused
    run(settings)
    assert query(settings, "SELECT status FROM file_receipt") == [("loaded",)]
