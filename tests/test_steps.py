"""`observatory run` without a Dagster run history takes the steps without Dagster
(observatory/steps.py): the same steps, the same publication, the same blocking checks."""
import duckdb
import pytest

from assets.runner import run_pipeline
from observatory import pipeline, steps
from observatory.publish import public_schema
from observatory.settings import Settings
from tests.conftest import HEADER, drop
from tests.test_ingest_engine import MESSY, MESSY_POLICY

WAYS = {"steps": False, "dagster": True}


def _settings(tmp_path, way: str) -> Settings:
    return Settings.resolve(tmp_path / "raw", tmp_path / f"curated_{way}")


def _published(settings: Settings) -> dict[str, list[tuple]]:
    """Every public table, without the moments of the run (when each file was received)."""
    tables = {}
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        for table, spec in public_schema().items():
            columns = [name for name, (kind, _) in spec["columns"].items() if kind != "TIMESTAMP"]
            tables[table] = con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").fetchall()
    return tables


@pytest.fixture
def raw(tmp_path):
    settings = _settings(tmp_path, "steps")
    (tmp_path / "raw").mkdir()
    drop(settings, "mimp/messy.csv", MESSY)
    drop(settings, "inei/good.csv", HEADER + "Chile,2016,femicide_count,34,INEI\n")
    drop(settings, "registro/leyes.csv", MESSY_POLICY.replace("comprehensive_law", "comprehensive_vaw_law"))
    drop(settings, "otro/vacio.csv", "")
    return tmp_path


def test_both_ways_take_the_same_steps_and_publish_the_same_tables(raw):
    outcomes, published = {}, {}
    for way, through_dagster in WAYS.items():
        settings = _settings(raw, way)
        outcomes[way] = run_pipeline(settings, through_dagster=through_dagster)
        assert outcomes[way].success, outcomes[way].reason
        published[way] = _published(settings)
    assert published["steps"] == published["dagster"]
    assert published["steps"]["quarantine"] and published["steps"]["policy_instrument"]
    names = {way: [name for name, _ in outcome.steps] for way, outcome in outcomes.items()}
    assert names["steps"] == list(steps.STEP_NAMES)
    assert sorted(names["dagster"]) == sorted(steps.STEP_NAMES)  # Dagster's job has no step the steps lack
    checks = {*steps.CURATED_CHECKS, *steps.MART_CHECKS}
    main = {way: [name for name in found if name not in checks] for way, found in names.items()}
    assert main["steps"] == main["dagster"]  # in the same order
    assert outcomes["steps"].report.splitlines()[0] == outcomes["dagster"].report.splitlines()[0]


FAILING = {"unbalanced_receipts": [("mimp/messy.csv", 17, 0, 0)], "duplicated_keys": 1, "unknown_countries": 2,
           "missing_country_years": 3}


def test_every_blocking_check_is_an_invariant_publishing_checks_again():
    assert sorted({**steps.CURATED_CHECKS, **steps.MART_CHECKS}.values()) == sorted(pipeline.INVARIANTS)


@pytest.mark.parametrize("way", WAYS)
def test_each_invariant_is_checked_once_when_the_checks_ran(raw, monkeypatch, way):
    """Publishing checks again only what the blocking checks did not pass on the current tables."""
    calls = dict.fromkeys(pipeline.INVARIANTS, 0)

    def counted(name, find):
        def count(con, settings):
            calls[name] += 1
            return find(con, settings)
        return count

    for name, (version, find) in pipeline.INVARIANTS.items():
        monkeypatch.setitem(pipeline.INVARIANTS, name, (version, counted(name, find)))
    outcome = run_pipeline(_settings(raw, way), through_dagster=WAYS[way])
    assert outcome.success, outcome.reason
    assert calls == dict.fromkeys(pipeline.INVARIANTS, 1)


@pytest.mark.parametrize("step", [*steps.CURATED_CHECKS, *steps.MART_CHECKS])
def test_a_broken_invariant_stops_both_ways_before_anything_is_published(raw, monkeypatch, step):
    function = {**steps.CURATED_CHECKS, **steps.MART_CHECKS}[step]
    monkeypatch.setattr(pipeline, function, lambda settings: FAILING[function])
    for way, through_dagster in WAYS.items():
        settings = _settings(raw, way)
        outcome = run_pipeline(settings, through_dagster=through_dagster)
        assert not outcome.success
        assert outcome.reason.startswith(f"{step}: "), (way, outcome.reason)
        assert "published_database" not in [name for name, _ in outcome.steps]
        assert not settings.published_db.exists()


def test_run_after_run_both_ways_publish_the_same(raw):
    """New files, a revised figure, a withdrawn file, a duplicate, then nothing new: after each
    run both ways publish the same tables and say the same about the run."""
    changes = [
        lambda s: drop(s, "inei/good.csv", HEADER + "Chile,2016,femicide_count,35,INEI\nChile,2017,femicide_count,40,INEI\n"),
        lambda s: ((s.raw_dir / "mimp/messy.csv").unlink(), drop(s, "copia/good.csv", (s.raw_dir / "inei/good.csv").read_text())),
        lambda s: None,
    ]
    for way, through_dagster in WAYS.items():
        assert run_pipeline(_settings(raw, way), through_dagster=through_dagster).success
    for change in changes:
        change(_settings(raw, "steps"))  # one raw folder for both
        reports, published = {}, {}
        for way, through_dagster in WAYS.items():
            settings = _settings(raw, way)
            outcome = run_pipeline(settings, through_dagster=through_dagster)
            assert outcome.success, outcome.reason
            reports[way], published[way] = outcome.report.splitlines()[:2], _published(settings)
        assert published["steps"] == published["dagster"]
        assert reports["steps"] == reports["dagster"]
    assert any("duplicate" in row for row in published["steps"]["file_receipt"])


def test_a_step_that_raises_fails_the_run_with_its_name_and_one_line(raw, monkeypatch):
    def broken(settings):
        raise RuntimeError("la tabla se fue / the table went\nsecond line")

    monkeypatch.setattr(pipeline, "build_marts", broken)
    for way, through_dagster in WAYS.items():
        outcome = run_pipeline(_settings(raw, way), through_dagster=through_dagster)
        assert not outcome.success
        assert outcome.reason == "marts: RuntimeError: la tabla se fue / the table went", (way, outcome.reason)
