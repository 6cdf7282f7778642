"""The report and the exports follow what changed: after a sequence of runs (everything, a new
file about one country, a revised file, a removed file) they are byte for byte what a build
from scratch of the same published database gives, and only the pages and CSV files whose
rows changed were written again (kept files are hard links: same inode)."""
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from observatory import exports, report
from tests.conftest import HEADER, drop, run

POLICY_HEADER = "country,instrument_type,title,identifier,adopted_on,in_force_from,in_force_to,status,has_budget,source\n"
REGISTER = (POLICY_HEADER
            + "Perú,comprehensive_vaw_law,Ley 30364,30364,2015-11-23,,,in_force,,https://www.gob.pe/ley-30364\n"
            + "Chile,comprehensive_vaw_law,Ley 21675,21675,2024-06-14,,,in_force,,https://www.bcn.cl/leychile\n"
            + "Argentina,comprehensive_vaw_law,Ley 26485,26485,2009-03-11,,,in_force,,https://www.argentina.gob.ar\n")
PERU = HEADER + "Perú,2015,femicide_count,95,MIMP\nPerú,2016,femicide_count,124,MIMP\nPerú,2016,femicide_count,,MIMP\n"
CHILE = HEADER + "Chile,2015,femicide_count,45,SernamEG\nChile,2016,femicide_count,34,SernamEG\n"
ARGENTINA = HEADER + "Argentina,2016,femicide_count,254,OFM\nArgentina,2017,femicide_count,251,OFM\nArgentina,x,femicide_count,1,OFM\n"


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def inodes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*") if p.is_file()}


def rewritten(before: dict[str, int], folder: Path) -> set[str]:
    """The files of `folder` that are not the very files of before (new, or written again)."""
    return {path for path, inode in inodes(folder).items() if before.get(path) != inode}


def assert_same_as_from_scratch(settings, scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    fresh_report = report.build(settings.published_db, scratch / "report")
    fresh_exports = exports.export(settings.published_db, scratch / "exports")
    assert len(fresh_report.rendered) == fresh_report.pages  # nothing to reuse: every page rendered
    assert len(fresh_exports.written) == sum(name.endswith(".csv") for name in fresh_exports.files)
    assert tree(settings.report_dir) == tree(scratch / "report")
    assert tree(settings.exports_dir) == tree(scratch / "exports")


def pages_of(country: str, settings) -> set[str]:
    """The pages a new file about `country` changes: its page, its groups' pages, and the pages
    showing every country (overview, data quality), in Spanish and English."""
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        codes = {r[0] for r in con.execute("SELECT DISTINCT group_code FROM mart_group_progress").fetchall()}
        groups = report.group_list(report._country_rows(con), codes)
    pages = {f"country/{country}.html", "index.html", "quality.html"}
    pages |= {f"group/{g['code']}.html" for g in groups if country in g["members"]}
    return pages | {f"en/{page}" for page in pages}


@pytest.fixture
def published(settings):
    drop(settings, "registro/leyes.csv", REGISTER)
    drop(settings, "mimp/peru.csv", PERU)
    drop(settings, "sernam/chile.csv", CHILE)
    run(settings)
    return settings


def test_after_new_revised_and_removed_files_the_outputs_are_those_of_a_build_from_scratch(published, tmp_path):
    settings, scratch = published, tmp_path / "scratch"
    assert_same_as_from_scratch(settings, scratch)

    # a new file about one country: its page, its groups', the overview and data quality
    pages, files = inodes(settings.report_dir), inodes(settings.exports_dir)
    drop(settings, "ong/argentina.csv", ARGENTINA)
    run(settings)
    assert rewritten(pages, settings.report_dir) == pages_of("ARG", settings) | {".manifest.json"}
    written = rewritten(files, settings.exports_dir)
    assert "fact_observation/ARG.csv" in written and "file_receipt.csv" in written and "quarantine.csv" in written
    assert not written & {"fact_observation/PER.csv", "fact_observation/CHL.csv", "dim_country.csv",
                          "mart_legislation.csv", "policy_instrument.csv", "observation_history/PER.csv"}
    assert_same_as_from_scratch(settings, scratch)

    # a revised file: that country's pages again, not the others'
    pages, files = inodes(settings.report_dir), inodes(settings.exports_dir)
    drop(settings, "mimp/peru.csv", PERU.replace(",95,", ",96,"))
    run(settings)
    changed = rewritten(pages, settings.report_dir)
    assert {"country/PER.html", "en/country/PER.html"} <= changed
    assert not changed & {"country/ARG.html", "country/CHL.html", "en/country/CHL.html", "dictionary.html"}
    written = rewritten(files, settings.exports_dir)
    assert "fact_observation/PER.csv" in written
    assert not written & {"fact_observation/ARG.csv", "fact_observation/CHL.csv"}
    assert_same_as_from_scratch(settings, scratch)

    # a removed file: whatever the run makes of it, the outputs still match a fresh build
    (settings.raw_dir / "ong" / "argentina.csv").unlink()
    run(settings)
    assert_same_as_from_scratch(settings, scratch)
    leftovers = sorted(p.name for p in settings.curated_dir.glob(".report-*")) + \
        sorted(p.name for p in settings.curated_dir.glob(".exports-*"))
    assert len(leftovers) == 2  # only the versions the links point at


def _copy_db(settings, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(settings.published_db, copy)
    return copy


def test_rows_removed_from_a_country_rewrite_that_country_alone(published, tmp_path):
    """The published database edited directly (a file's figures withdrawn): Chile's page and
    CSV are made again, Peru's kept, and the result is what a fresh build gives."""
    db = _copy_db(published, tmp_path)
    first_report = report.build(db, tmp_path / "report")
    exports.export(db, tmp_path / "exports")
    pages, files = inodes(tmp_path / "report"), inodes(tmp_path / "exports")
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM fact_observation WHERE country_iso3 = 'CHL' AND year = 2015")
    again = report.build(db, tmp_path / "report")
    written = exports.export(db, tmp_path / "exports").written
    assert set(again.rendered) == {"country/CHL.html", "en/country/CHL.html"}
    assert rewritten(pages, tmp_path / "report") == set(again.rendered) | {".manifest.json"}
    assert len(first_report.rendered) == first_report.pages
    assert written == ["fact_observation/CHL.csv"]
    assert rewritten(files, tmp_path / "exports") == {"fact_observation/CHL.csv", "datapackage.json",
                                                       "diccionario_de_datos.md", "data_dictionary.md",
                                                       ".manifest.json"}
    report.build(db, tmp_path / "fresh_report")
    exports.export(db, tmp_path / "fresh_exports")
    assert tree(tmp_path / "report") == tree(tmp_path / "fresh_report")
    assert tree(tmp_path / "exports") == tree(tmp_path / "fresh_exports")


def test_nothing_changed_renders_nothing_and_a_missing_page_is_made_again(published, tmp_path):
    db = _copy_db(published, tmp_path)
    report.build(db, tmp_path / "report")
    exports.export(db, tmp_path / "exports")
    assert report.build(db, tmp_path / "report").rendered == []
    assert exports.export(db, tmp_path / "exports").written == []
    (tmp_path / "report" / "country" / "PER.html").unlink()
    (tmp_path / "exports" / "fact_observation" / "PER.csv").unlink()
    assert report.build(db, tmp_path / "report").rendered == ["country/PER.html"]
    assert exports.export(db, tmp_path / "exports").written == ["fact_observation/PER.csv"]
    # a page edited by hand (another size) is rendered again
    edited_page = tmp_path / "report" / "en" / "group" / "MIRPS.html"
    edited_page.write_text(edited_page.read_text(encoding="utf-8") + "<!-- x -->", encoding="utf-8")
    assert report.build(db, tmp_path / "report").rendered == ["en/group/MIRPS.html"]
    # a CSV edited in place (another size) is written again, never described with stale bytes
    edited = tmp_path / "exports" / "dim_country.csv"
    edited.write_bytes(edited.read_bytes() + b"x")
    assert exports.export(db, tmp_path / "exports").written == ["dim_country.csv"]
    report.build(db, tmp_path / "fresh_report")
    exports.export(db, tmp_path / "fresh_exports")
    assert tree(tmp_path / "report") == tree(tmp_path / "fresh_report")
    assert tree(tmp_path / "exports") == tree(tmp_path / "fresh_exports")


def test_a_changed_template_renders_every_page_and_changed_export_settings_write_every_file(published, tmp_path,
                                                                                            monkeypatch):
    db = _copy_db(published, tmp_path)
    first = report.build(db, tmp_path / "report")
    exports.export(db, tmp_path / "exports")
    templates = tmp_path / "templates"
    shutil.copytree(report.TEMPLATES_DIR, templates)
    base = templates / "base.html"
    base.write_text(base.read_text(encoding="utf-8").replace("</footer>", "<!-- changed --></footer>"), encoding="utf-8")
    monkeypatch.setattr(report, "TEMPLATES_DIR", templates)
    again = report.build(db, tmp_path / "report")
    assert len(again.rendered) == again.pages == first.pages
    assert all("<!-- changed -->" in page.read_text(encoding="utf-8") for page in (tmp_path / "report").rglob("*.html"))
    meta = tmp_path / "exports.yaml"
    meta.write_text(exports.EXPORTS_META_FILE.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    monkeypatch.setattr(exports, "EXPORTS_META_FILE", meta)
    summary = exports.export(db, tmp_path / "exports")
    assert len(summary.written) == sum(name.endswith(".csv") for name in summary.files)


def test_a_changed_observation_key_writes_the_observation_files_again_in_its_order(published, tmp_path, monkeypatch):
    """A CSV file's rows are sorted on the table's key first (schema.yaml): another key gives
    other bytes for the same rows, so those files are written again, not kept from before."""
    db = _copy_db(published, tmp_path)
    exports.export(db, tmp_path / "exports")
    before = inodes(tmp_path / "exports")
    schema = {table: dict(spec) for table, spec in exports.public_schema().items()}
    schema["fact_observation"]["key"] = list(reversed(schema["fact_observation"]["key"]))
    monkeypatch.setattr(exports, "public_schema", lambda: schema)
    exports.export(db, tmp_path / "exports")
    assert {path for path in rewritten(before, tmp_path / "exports") if path.endswith(".csv")} == {
        "fact_observation/PER.csv", "fact_observation/CHL.csv"}
    exports.export(db, tmp_path / "scratch")
    assert tree(tmp_path / "exports") == tree(tmp_path / "scratch")


def test_a_crash_while_rendering_leaves_the_current_report_and_its_manifest(published, tmp_path, monkeypatch):
    db = _copy_db(published, tmp_path)
    report.build(db, tmp_path / "report")
    before = tree(tmp_path / "report")
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE fact_observation SET value = value + 1 WHERE country_iso3 = 'PER'")
    rendered = []

    def crash(*args, **kwargs):
        rendered.append(1)
        if len(rendered) > 1:
            raise OSError("disk full")
        return original(*args, **kwargs)

    original = report.country_context
    monkeypatch.setattr(report, "country_context", crash)
    with pytest.raises(OSError):
        report.build(db, tmp_path / "report")
    assert tree(tmp_path / "report") == before
    assert [p.name for p in tmp_path.glob(".report-*")] == [os.readlink(tmp_path / "report")]
    monkeypatch.setattr(report, "country_context", original)
    assert set(report.build(db, tmp_path / "report").rendered) == {"country/PER.html", "en/country/PER.html"}
