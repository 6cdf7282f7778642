"""The observation key is declared once (schema.yaml) and the SQL is spelled from it."""
import pytest

from observatory import observation_key
from observatory.publish import public_schema
from tests.conftest import HEADER, drop, query, run


def test_the_key_is_the_one_schema_yaml_declares_and_its_columns_are_fact_observation_s():
    declared = public_schema()["fact_observation"]["key"]
    assert observation_key.key() == tuple(declared)
    assert set(declared) <= set(public_schema()["fact_observation"]["columns"])
    assert observation_key.group() == tuple(c for c in declared if c != "subnational_code")


def test_tokens_are_spelled_on_one_line_and_a_malformed_one_is_an_error():
    sql = observation_key.render("SELECT {{ key o }} FROM t AS o JOIN u ON {{ group_equal o u }}  -- marked")
    assert "\n" not in sql and sql.endswith("-- marked") and "{{" not in sql
    assert "o.subnational_code" in sql and "o.subnational_code IS NOT DISTINCT" not in sql
    assert "o.source IS NOT DISTINCT FROM u.source" in sql
    with pytest.raises(ValueError):
        observation_key.render("{{ key_equal o }}")


def test_a_national_and_a_unit_figure_of_one_group_are_two_keys(settings):
    """The NULL unit of a national figure is equal to itself in every join spelled from the key:
    giving the same national figure again is no revision, a unit beside it is another key."""
    drop(settings, "mimp/a.csv", HEADER.replace("value,source", "value,departamento,source")
         + "PER,2019,femicide_rate,1.2,,MIMP\nPER,2019,femicide_rate,1.5,PE.CS,MIMP\n")
    run(settings)
    drop(settings, "mimp/b.csv", HEADER + "PER,2019,femicide_rate,1.2,MIMP\n")
    run(settings)
    assert query(settings, "SELECT coalesce(subnational_code, 'national'), value FROM fact_observation ORDER BY 1") == [
        ("PE.CS", 1.5), ("national", 1.2)]
    assert query(settings, "SELECT count(*) FROM observation_history") == [(2,)]


def test_a_changed_key_reads_every_file_again(settings, monkeypatch):
    """The key shapes the build, not only the publication: it is part of the reading rules."""
    from observatory import state

    before = state.rules(settings)
    declared = observation_key.key()
    monkeypatch.setattr(observation_key, "key", lambda: (*declared, "unit"))
    assert state.rules(settings) != before
