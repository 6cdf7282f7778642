-- Run after observation_history.sql in a build that withdraws files (stage_withdrawn): the
-- vintages of the keys the withdrawn files gave (withdrawn_key, found before their rows were
-- deleted) are made again without them. A key's vintages are then its remaining vintages and
-- the rows of observation that are none (a figure equal to a withdrawn one was no new vintage
-- when it came), in the order received; a row is a vintage when it is the key's first or its
-- value differs from the row before it. So a later file's figure equal to the withdrawn one
-- becomes the vintage, credited to the first file that gave it, and a vintage that now equals
-- the one before it (a, withdrawn w, b giving a's value again) is no revision and goes.
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
CREATE OR REPLACE TEMP TABLE _vintages AS
WITH candidates AS (
    SELECT h.country_iso3, h.subnational_code, h.year, h.indicator_code, h.sex, h.age_group,
           h.population_group, h.source, h.value, h.unit, h.source_file, h.source_row, h.received_at,
           false AS unrecorded
    FROM observation_history AS h
    SEMI JOIN withdrawn_key AS k ON {{ key_equal h k }}
    UNION ALL
    SELECT o.country_iso3, o.subnational_code, o.year, o.indicator_code, o.sex, o.age_group,
           o.population_group, o.source, o.value, o.unit, o.source_file, o.source_row, o.received_at, true
    FROM observation AS o
    SEMI JOIN withdrawn_key AS k ON {{ key_equal o k }}
    WHERE NOT EXISTS (SELECT 1 FROM observation_history AS h
                      WHERE {{ key_equal h o }} AND h.source_file = o.source_file
                        AND h.source_row IS NOT DISTINCT FROM o.source_row AND h.value IS NOT DISTINCT FROM o.value)
),
ordered AS (
    SELECT *, lag(value) OVER vintages AS value_before, row_number() OVER vintages AS position
    FROM candidates
    WINDOW vintages AS (
        PARTITION BY {{ key }}
        ORDER BY received_at, source_file, source_row NULLS FIRST, unrecorded
    )
)
SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
       source, value, unit, source_file, source_row, received_at
FROM ordered
WHERE position = 1 OR value IS DISTINCT FROM value_before;
DELETE FROM observation_history AS h USING withdrawn_key AS k WHERE {{ key_equal h k }};
INSERT INTO observation_history SELECT * FROM _vintages;
DROP TABLE _vintages;
