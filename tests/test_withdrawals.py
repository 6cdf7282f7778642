"""Withdrawing a file received by mistake (`observatory withdraw`): what it brought leaves
everything published, and its content is never read again until the withdrawal is undone."""
import json
import os
from pathlib import Path

import dagster as dg
from click.testing import CliRunner

from observatory import withdrawals
from observatory.cli import main
from tests.conftest import HEADER, drop, query, run
from tests.test_operations import tick

FIRST = HEADER + "Perú,2015,femicide_count,95,MIMP\nPerú,2016,femicide_count,doce,MIMP\n"
LATER = HEADER + "Perú,2015,femicide_count,95,MIMP\nPerú,2017,femicide_count,131,MIMP\n"


def withdraw(settings, *args: str):
    return CliRunner().invoke(main, ["withdraw", *args, "--raw-dir", str(settings.raw_dir),
                                     "--curated-dir", str(settings.curated_dir)])


def status(settings) -> str:
    return CliRunner().invoke(main, ["status", "--raw-dir", str(settings.raw_dir),
                                     "--curated-dir", str(settings.curated_dir)]).output


def published_files(settings) -> list[Path]:
    """Every file researchers and staff are given: the database, Parquet, exports, report, receipts."""
    folders = (settings.curated_dir, settings.receipts_dir)
    return [path for folder in folders for path in folder.rglob("*")
            if path.is_file() and ".work" not in path.relative_to(folder).parts]


def test_a_withdrawn_file_leaves_everything_published_and_is_not_read_again(settings):
    drop(settings, "mimp/nombre_de_una_victima.csv", FIRST)
    run(settings)
    drop(settings, "otro/later.csv", LATER)  # the same 2015 figure, received later: no new vintage then
    drop(settings, "otro/copia.csv", FIRST)  # a copy: a duplicate
    run(settings)
    assert query(settings, "SELECT count(*) FROM observation_history WHERE year = 2015") == [(1,)]

    result = withdraw(settings, str(settings.raw_dir / "mimp" / "nombre_de_una_victima.csv"))
    assert result.exit_code == 0, result.output
    assert "Withdrawn: mimp/nombre_de_una_victima.csv (and the other files received with its content: otro/copia.csv)" in result.output
    assert "Files received, withdrawn and removed from what is published (observatory withdraw): 2." in result.output
    assert query(settings, "SELECT file_path, status FROM file_receipt") == [("otro/later.csv", "loaded")]
    assert query(settings, "SELECT count(*) FROM quarantine") == [(0,)]
    # The later file's figure, which was no vintage while the withdrawn one gave the same value,
    # is the key's vintage now.
    assert query(settings, "SELECT year, value, source_file FROM observation_history ORDER BY year") == [
        (2015, 95.0, "otro/later.csv"), (2017, 131.0, "otro/later.csv")]
    assert query(settings, "SELECT year, source_file FROM fact_observation ORDER BY year") == [
        (2015, "otro/later.csv"), (2017, "otro/later.csv")]
    # Not a byte of its name in anything published (the database is made fresh, not copied).
    files = published_files(settings)
    assert settings.published_db in files and any(path.suffix == ".parquet" for path in files)
    assert [path for path in files if b"nombre_de_una_victima" in path.read_bytes() or b"copia.csv" in path.read_bytes()] == []
    assert "victima" not in settings.withdrawn_list.read_text()

    # Still in the raw folder, and copied under a third name: never read.
    drop(settings, "tercero/otra_copia.csv", FIRST)
    result = run(settings)
    assert "nuevos o modificados: 0" in result.output and "3 withdrawn (not read)" in result.output
    assert query(settings, "SELECT count(*) FROM file_receipt") == [(1,)]
    shown = status(settings)
    assert "Nothing waiting" in shown and "Withdrawn, still in" in shown and "  tercero/otra_copia.csv" in shown
    checked = CliRunner().invoke(main, ["check", str(settings.raw_dir / "tercero" / "otra_copia.csv"),
                                        "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    # Its receipt says so, on stdout and in --json, with how to take it back.
    assert checked.exit_code == 3 and "**retirado** / **withdrawn**" in checked.stdout, checked.output
    assert "`withdrawn_file`" in checked.stdout and "--undo data/raw/tercero/otra_copia.csv" in checked.stdout

    # Corrected under the same name: other content, read as new.
    drop(settings, "mimp/nombre_de_una_victima.csv", HEADER + "Perú,2015,femicide_count,96,MIMP\n")
    run(settings)
    assert query(settings, "SELECT status FROM file_receipt WHERE file_path = 'mimp/nombre_de_una_victima.csv'") == [("loaded",)]

    # Undone: the copy is read again.
    result = withdraw(settings, "tercero/otra_copia.csv", "--undo")
    assert result.exit_code == 0, result.output
    assert "Withdrawal undone: this run receives tercero/otra_copia.csv again." in result.output
    assert query(settings, "SELECT file_path, status FROM file_receipt WHERE file_path LIKE '%copia%' ORDER BY ALL") == [
        ("otro/copia.csv", "partially_loaded"), ("tercero/otra_copia.csv", "duplicate")]


def test_a_withdrawal_whose_run_did_not_happen_is_applied_by_the_next_run_and_asked_for_by_the_sensor(settings, monkeypatch):
    monkeypatch.setenv("OBSERVATORY_RAW_DIR", str(settings.raw_dir))
    monkeypatch.setenv("OBSERVATORY_CURATED_DIR", str(settings.curated_dir))
    path = drop(settings, "mimp/a.csv", FIRST)
    run(settings)
    receipt = settings.receipts_dir / "mimp" / "a.csv.md"
    assert receipt.is_file()
    path.unlink()  # gone from the raw folder: still published, as before
    assert "no longer in" in status(settings)
    # Recorded as the command records it, its run never came (the writer was busy, the machine stopped).
    withdrawals.withdraw(settings.withdrawn_list, json.loads(receipt.with_suffix(".json").read_text())["sha256"])
    assert "Withdrawn (observatory withdraw), still published: the next run removes them: 1" in status(settings)
    with dg.instance_for_test() as instance:
        requests, cursor = tick(instance, None)
        assert len(requests) == 1
    run(settings)  # not taken for a run with nothing to do
    assert query(settings, "SELECT count(*) FROM file_receipt") == [(0,)]
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(0,)]
    assert not receipt.exists() and not receipt.with_suffix(".json").exists()
    with dg.instance_for_test() as instance:
        for _ in range(2):
            requests, cursor = tick(instance, cursor if _ else None)
            assert requests == []
    assert "Nothing waiting" in status(settings) and "no longer in" not in status(settings)


def test_withdraw_names_a_file_received_or_in_the_raw_folder(settings, tmp_path):
    drop(settings, "mimp/a.csv", FIRST)
    run(settings)
    result = withdraw(settings, "mimp/b.csv")
    assert result.exit_code == 2 and "No file mimp/b.csv was received, and it is not in" in result.output
    outside = tmp_path / "fuera.csv"
    outside.write_text(FIRST)
    result = withdraw(settings, str(outside))
    assert result.exit_code == 2 and "is not in the raw folder" in result.output
    result = withdraw(settings, "mimp/a.csv", "--undo")
    assert result.exit_code == 2 and "was not withdrawn" in result.output
    assert withdrawals.load(settings.withdrawn_list) == withdrawals.Withdrawn()
    assert query(settings, "SELECT status FROM file_receipt") == [("partially_loaded",)]
    # A file dropped by mistake, withdrawn before any run read it: never read.
    os.makedirs(settings.raw_dir / "borrador", exist_ok=True)
    drop(settings, "borrador/b.csv", LATER)
    result = withdraw(settings, "borrador/b.csv")
    assert result.exit_code == 0, result.output
    assert query(settings, "SELECT file_path FROM file_receipt") == [("mimp/a.csv",)]


def test_the_receipt_of_a_file_that_revised_a_withdrawn_figure_no_longer_names_it(settings):
    """A later file's receipt lists the figures it revised and the file that gave them before:
    once that file is withdrawn, the receipt is written again without its name or value."""
    drop(settings, "mimp/nombre_de_una_victima.csv", FIRST)
    run(settings)
    drop(settings, "otro/later.csv", HEADER + "Perú,2015,femicide_count,97,MIMP\n")
    run(settings)
    receipt = settings.receipts_dir / "otro" / "later.csv"
    written = [receipt.with_name("later.csv.md"), receipt.with_name("later.csv.json")]
    assert all("nombre_de_una_victima" in path.read_text() for path in written)  # the value before, and where
    assert withdraw(settings, "mimp/nombre_de_una_victima.csv").exit_code == 0
    assert [path for path in written if "nombre_de_una_victima" in path.read_text()] == []
    assert [path for path in published_files(settings) if b"nombre_de_una_victima" in path.read_bytes()] == []


def test_the_vintages_of_the_keys_a_withdrawn_file_gave_are_made_again_without_it(settings):
    """Five files, one run each; the second is withdrawn. A figure equal to the withdrawn one is
    credited to the first file that gave it afterwards, and a vintage that now repeats the one
    before it (10, withdrawn 12, 10 again) is no revision and goes."""
    files = {"obs/a.csv": [("Honduras", 10), ("Guatemala", 10)], "obs/w.csv": [("Honduras", 12), ("Guatemala", 12)],
             "obs/b.csv": [("Honduras", 10)], "obs/c.csv": [("Guatemala", 12)], "obs/d.csv": [("Guatemala", 12), ("Panamá", 1)]}
    for path, rows in files.items():
        drop(settings, path, HEADER + "".join(f"{country},2014,femicide_count,{value},OBS\n" for country, value in rows))
        run(settings)
    history = "SELECT country_iso3, value, source_file FROM observation_history ORDER BY country_iso3, received_at"
    assert query(settings, history) == [("GTM", 10.0, "obs/a.csv"), ("GTM", 12.0, "obs/w.csv"), ("HND", 10.0, "obs/a.csv"),
                                        ("HND", 12.0, "obs/w.csv"), ("HND", 10.0, "obs/b.csv"), ("PAN", 1.0, "obs/d.csv")]
    assert withdraw(settings, "obs/w.csv").exit_code == 0
    assert query(settings, history) == [("GTM", 10.0, "obs/a.csv"), ("GTM", 12.0, "obs/c.csv"), ("HND", 10.0, "obs/a.csv"),
                                        ("PAN", 1.0, "obs/d.csv")]
    assert query(settings, "SELECT country_iso3, value, source_file FROM fact_observation ORDER BY 1") == [
        ("GTM", 12.0, "obs/d.csv"), ("HND", 10.0, "obs/b.csv"), ("PAN", 1.0, "obs/d.csv")]


def test_a_copy_is_withdrawn_alone_and_a_corrected_file_already_in_place_is_read(settings):
    drop(settings, "mimp/a.csv", FIRST)
    run(settings)
    drop(settings, "otro/juana_perez.csv", FIRST)  # a copy, under a name that identifies someone
    run(settings)
    result = withdraw(settings, "otro/juana_perez.csv")
    assert result.exit_code == 0, result.output
    assert "Withdrawn: otro/juana_perez.csv, a copy of the content mimp/a.csv brought" in result.output
    assert query(settings, "SELECT file_path, status FROM file_receipt") == [("mimp/a.csv", "partially_loaded")]
    assert [path for path in published_files(settings) if b"juana_perez" in path.read_bytes()] == []
    assert not (settings.receipts_dir / "otro").exists()  # its receipts' folder, left empty, goes too
    # The original gone, the copy would be read as new (the content's only holder): it is withdrawn.
    (settings.raw_dir / "mimp" / "a.csv").unlink()
    assert "1 withdrawn (not read)" in run(settings).output
    assert query(settings, "SELECT file_path FROM file_receipt") == [("mimp/a.csv",)]

    drop(settings, "mimp/b.csv", LATER)
    run(settings)
    drop(settings, "mimp/b.csv", HEADER + "Perú,2017,femicide_count,132,MIMP\n")  # corrected before withdrawing
    result = withdraw(settings, "mimp/b.csv")
    assert "The file now at mimp/b.csv has other content: this run reads it as new" in result.output
    assert query(settings, "SELECT year, value FROM fact_observation WHERE source_file = 'mimp/b.csv'") == [(2017, 132.0)]


def test_a_file_in_the_wrong_observatory_s_folder_is_withdrawn_moved_and_undone_under_its_own(settings):
    """Moving it alone would leave the first folder's receipt and rows published (a file gone
    from the raw folder stays published), and a withdrawn content is read under no name: the
    procedure `check` and the README give is withdraw, move, undo the new path."""
    drop(settings, "mimp/peru.csv", FIRST)
    run(settings)
    assert withdraw(settings, "mimp/peru.csv").exit_code == 0
    (settings.raw_dir / "inei").mkdir()
    (settings.raw_dir / "mimp" / "peru.csv").rename(settings.raw_dir / "inei" / "peru.csv")
    checked = CliRunner().invoke(main, ["check", "--json", str(settings.raw_dir / "inei" / "peru.csv"),
                                        "--raw-dir", str(settings.raw_dir), "--curated-dir", str(settings.curated_dir)])
    receipt = json.loads(checked.stdout)
    assert checked.exit_code == 3 and receipt["status"] == "withdrawn" and receipt["rows_loaded"] == 0
    assert "observatory withdraw --undo data/raw/<observatory>/peru.csv" in receipt["problems"][0]["message_en"]
    assert withdraw(settings, "inei/peru.csv", "--undo").exit_code == 0
    assert query(settings, "SELECT file_path, observatory, status FROM file_receipt") == [("inei/peru.csv", "inei", "partially_loaded")]
    assert query(settings, "SELECT DISTINCT source_file FROM fact_observation") == [("inei/peru.csv",)]
