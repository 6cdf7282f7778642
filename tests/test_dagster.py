"""The Dagster layer: definitions load, the job materializes, checks report."""
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from assets.definitions import defs
from assets.resources import ObservatoryResource
from observatory.publish import public_schema
from observatory.settings import PROJECT_ROOT
from tests.conftest import HEADER, drop, query


def test_dagster_definitions_validate():
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"}
    env.pop("DAGSTER_HOME", None)
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def materialize(settings, selection: list[str] | None = None):
    resource = ObservatoryResource(raw_dir=str(settings.raw_dir), curated_dir=str(settings.curated_dir))
    with dg.instance_for_test() as instance:
        return dg.materialize([*defs.assets, *defs.asset_checks], instance=instance, selection=selection,
                              resources={"observatory": resource}, raise_on_error=False)


def test_materialize_every_asset_with_checks(settings):
    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\nAtlantis,2015,femicide_count,1,MIMP\n")
    result = materialize(settings)
    assert result.success
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert materialized == {"staged_observations", "validated_observations", "published_database",
                            "research_exports", "report", *public_schema()}
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    blocking = ("receipts_balance", "unique_observation_key", "countries_known", "every_country_every_year")
    assert {name: checks[name].passed for name in blocking} == dict.fromkeys(blocking, True)
    assert checks["policy_instrument_suite"].passed is True
    suite = checks["observation_suite"]
    assert suite.passed is False and suite.severity == dg.AssetCheckSeverity.WARN  # one row failed: a warning
    failed = suite.metadata["failed_expectations"].value
    assert any(key.startswith("unknown_country") and value["first lines"] == ["mimp/carga.csv:3"]
               for key, value in failed.items())
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(1,)]
    # Dagster keeps metadata for good: the tables' counts and columns, never their rows (the
    # working tables hold figures the publication withholds; a row would show its source file).
    tables = {event.asset_key.to_user_string(): event.materialization.metadata
              for event in result.get_asset_materialization_events()
              if event.asset_key.to_user_string() in public_schema()}
    assert tables["fact_observation"]["dagster/row_count"].value == 1
    assert "value" in {column.name for column in tables["fact_observation"]["dagster/column_schema"].value.columns}
    assert all(set(metadata) == {"dagster/row_count", "dagster/column_schema"} for metadata in tables.values())
    assert "carga.csv" not in repr(tables) and "MIMP" not in repr(tables)


def test_a_broken_invariant_blocks_publishing(settings, monkeypatch):
    from observatory import pipeline

    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    monkeypatch.setattr(pipeline, "unbalanced_receipts", lambda settings: [("mimp/carga.csv", 1, 0, 0)])
    result = materialize(settings)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["receipts_balance"] is False
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "published_database" not in materialized
    assert not settings.published_db.exists()


def test_the_nightly_marts_job_never_publishes_tables_that_broke_an_invariant(settings):
    """The marts job selects the marts and what follows them, not the curated tables' checks:
    publishing checks what no check passed on the current tables, and refuses when it fails."""
    from assets.runner import _failure_reason
    from observatory import pipeline, state

    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\nChile,2016,femicide_count,34,INEI\n")
    assert materialize(settings).success
    published = query(settings, "SELECT count(*) FROM fact_observation")
    with pipeline.working_db(settings) as con:  # a build whose tables break the observation key
        con.execute("INSERT INTO fact_observation SELECT * FROM fact_observation WHERE year = 2015")
        state.bump_data_version(con)
    job = defs.resolve_job_def("marts_job")
    refused = "blocking check failed, nothing published / falló una verificación bloqueante, no se publica nada"
    config = {"resources": {"observatory": {"config": {
        "raw_dir": str(settings.raw_dir), "curated_dir": str(settings.curated_dir)}}}}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
        assert not result.success
        assert _failure_reason(result).endswith(f"InvariantFailed: duplicated_keys: {refused}: 1")
        assert query(settings, "SELECT count(*) FROM fact_observation") == published
        with pipeline.working_db(settings) as con:  # a later build: keys unique, a country unknown
            con.execute("DELETE FROM fact_observation WHERE year = 2015")
            con.execute("INSERT INTO fact_observation SELECT * FROM fact_observation WHERE year = 2016")
            con.execute("UPDATE fact_observation SET country_iso3 = 'ATL' WHERE year = 2016 AND rowid = "
                        "(SELECT max(rowid) FROM fact_observation)")
            state.bump_data_version(con)
        result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
        assert _failure_reason(result).endswith(f"InvariantFailed: unknown_countries: {refused}: 1")
        assert query(settings, "SELECT count(*) FROM fact_observation") == published
        with pipeline.working_db(settings) as con:  # a later build that holds every invariant
            con.execute("DELETE FROM fact_observation WHERE country_iso3 = 'ATL'")
            state.bump_data_version(con)
        assert job.execute_in_process(instance=instance, run_config=config, raise_on_error=False).success
    assert query(settings, "SELECT count(*) FROM fact_observation") == [(published[0][0] - 1,)]


def test_the_publication_materialized_alone_checks_the_marts_it_publishes(settings):
    """`published_database` alone (a click in the UI): marts not built from the current tables
    are refused, and marts that failed their check are checked again and refused."""
    from observatory import pipeline, state

    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    assert materialize(settings).success
    published = settings.published_db.read_bytes()
    with pipeline.working_db(settings) as con:  # a build, whose marts were not rebuilt
        state.bump_data_version(con)

    def publish_alone():
        from assets.runner import _failure_reason

        result = materialize(settings, selection=["published_database"])
        return result.success, _failure_reason(result)

    success, reason = publish_alone()
    assert not success and "InvariantFailed: marts: not built from the current tables" in reason
    with pipeline.working_db(settings) as con:  # marts rebuilt, but one country's year went missing
        con.execute("DELETE FROM mart_country_progress WHERE country_iso3 = 'PER' AND year = 2015")
        state.put(con, "marts", state.marts(con, settings))
        state.put(con, "marts_built_from", state.marts(con, settings, day=False))
    success, reason = publish_alone()
    assert not success and reason.endswith("InvariantFailed: missing_country_years: blocking check failed, "
                                           "nothing published / falló una verificación bloqueante, no se publica nada: 1")
    assert settings.published_db.read_bytes() == published


def test_the_publication_materialized_alone_the_next_day_publishes(settings, monkeypatch):
    """What the marts were built from leaves the day aside: with a provisional year shown, their
    fingerprint moves at midnight, but a publication due the next day is not refused for it."""
    monkeypatch.setenv("OBSERVATORY_MART_LAST_YEAR", "2026")
    monkeypatch.setenv("OBSERVATORY_AS_OF", "2026-06-01")
    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    assert materialize(settings).success
    monkeypatch.setenv("OBSERVATORY_AS_OF", "2026-06-02")
    (settings.report_dir / "index.html").unlink()  # so that a publication is due
    result = materialize(settings, selection=["published_database"])
    assert result.success
    assert "published_database" in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_the_readme_dagster_cli_command_materializes_everything(tmp_path):
    """The README's `dagster asset materialize` line, run as written, in a throwaway instance."""
    import re

    readme = (PROJECT_ROOT / "README.md").read_text()
    command = re.search(r"`(dagster asset materialize [^`]+)`", readme)[1]
    raw = tmp_path / "raw" / "mimp"
    raw.mkdir(parents=True)
    (raw / "carga.csv").write_text(HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    (tmp_path / "home").mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "DAGSTER_DISABLE_TELEMETRY": "1",
           "OBSERVATORY_RAW_DIR": str(tmp_path / "raw"), "OBSERVATORY_CURATED_DIR": str(tmp_path / "curated"),
           "OBSERVATORY_RECEIPTS_DIR": str(tmp_path / "receipts")}
    argv = [str(Path(sys.executable).with_name("dagster")), *command.split()[1:]]
    result = subprocess.run([arg.strip("'") for arg in argv], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "curated" / "observatory.duckdb").exists()
    assert (tmp_path / "receipts" / "mimp" / "carga.csv.md").exists()


def test_the_report_materializes_alone_and_a_failing_export_lets_it_finish(settings, monkeypatch):
    """The exports and the report are one step made side by side (pipeline.outputs): either can
    be materialized alone, a run with nothing new makes neither, and when one fails the other is
    still made and recorded before the step fails."""
    from observatory import pipeline

    drop(settings, "mimp/carga.csv", HEADER + "Perú,2015,femicide_count,95,MIMP\n")
    assert materialize(settings).success
    again = materialize(settings)
    assert again.success
    assert not {"research_exports", "report"} & {e.asset_key.to_user_string() for e in again.get_asset_materialization_events()}

    exports_version = os.readlink(settings.exports_dir)
    index = settings.report_dir / "index.html"
    index.unlink()
    resource = ObservatoryResource(raw_dir=str(settings.raw_dir), curated_dir=str(settings.curated_dir))
    with dg.instance_for_test() as instance:
        alone = dg.materialize(defs.assets, selection=["report"], instance=instance, resources={"observatory": resource})
    assert {e.asset_key.to_user_string() for e in alone.get_asset_materialization_events()} == {"report"}
    assert index.is_file()
    assert os.readlink(settings.exports_dir) == exports_version  # the exports were not made again

    index.unlink()
    with monkeypatch.context() as patched, dg.instance_for_test() as instance:
        patched.setitem(pipeline.OUTPUTS, "research_exports", lambda settings: 1 / 0)
        failing = dg.materialize(defs.assets, selection=["research_exports", "report"], instance=instance,
                                 resources={"observatory": resource}, raise_on_error=False)
    assert not failing.success
    assert [e.step_key for e in failing.all_events if e.is_step_failure] == ["research_outputs"]
    assert {e.asset_key.to_user_string() for e in failing.get_asset_materialization_events()} == {"report"}
    assert index.is_file()  # the report was made all the same

    # A new file published without the exports and the report (a selection in the UI): they
    # show the publication before until the next run, nothing new, makes them (the publication
    # is materialized unchanged, its files left as they are); the run after it makes nothing.
    drop(settings, "mimp/otra.csv", HEADER + "Perú,2016,femicide_count,124,MIMP\n")
    assert materialize(settings, selection=dg.AssetSelection.assets("published_database").upstream()).success
    exported = settings.exports_dir / "fact_observation" / "PER.csv"
    assert ";2016;" not in exported.read_text(encoding="utf-8-sig")
    published = settings.published_db.read_bytes()
    events = materialize(settings).get_asset_materialization_events()
    assert {"published_database", "research_exports", "report"} <= {e.asset_key.to_user_string() for e in events}
    assert [e.materialization.metadata["unchanged"].value for e in events
            if e.asset_key.to_user_string() == "published_database"] == [True]
    assert settings.published_db.read_bytes() == published
    assert ";2016;" in exported.read_text(encoding="utf-8-sig")
    again = materialize(settings)
    assert again.success and not {"published_database", "research_exports"} & {
        e.asset_key.to_user_string() for e in again.get_asset_materialization_events()}
