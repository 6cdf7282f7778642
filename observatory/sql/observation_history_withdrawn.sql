-- Run after observation_history.sql in a build that withdraws files (stage_withdrawn): their
-- vintages were deleted, and a figure another file gave the same value as a withdrawn one was
-- no new vintage then, so it has none now. A row of what this inserts is such a figure: a key's
-- winning row in observation (the fact_observation rule: the file received last) that has no
-- vintage of its own and differs from the vintage received before it (or has none), received
-- when its file was. Only the groups the applied files touch (affected_group) are looked at
-- (every group, without the lines marked `-- affected groups only`, when the applied files held
-- every observation).
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
INSERT INTO observation_history
WITH winner AS (
    SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
           source, value, unit, source_file, source_row, received_at
    FROM observation
    SEMI JOIN affected_group USING ({{ group }})  -- affected groups only
    QUALIFY row_number() OVER (
        PARTITION BY {{ key }}
        ORDER BY received_at DESC, source_file DESC, source_row DESC
    ) = 1
),
unrecorded AS (
    SELECT w.* FROM winner AS w
    WHERE NOT EXISTS (SELECT 1 FROM observation_history AS h
                      WHERE {{ key_equal h w }} AND h.source_file = w.source_file
                        AND h.source_row IS NOT DISTINCT FROM w.source_row AND h.value IS NOT DISTINCT FROM w.value)
),
ordered AS (
    SELECT *, lag(value) OVER vintages AS value_before, lag(is_new) OVER vintages IS NOT NULL AS has_before
    FROM (
        SELECT *, true AS is_new FROM unrecorded
        UNION ALL
        SELECT h.country_iso3, h.subnational_code, h.year, h.indicator_code, h.sex, h.age_group,
               h.population_group, h.source, h.value, h.unit, h.source_file, h.source_row, h.received_at, false
        FROM observation_history AS h
        SEMI JOIN unrecorded AS u ON {{ key_equal h u }}
    )
    WINDOW vintages AS (
        PARTITION BY {{ key }}
        ORDER BY received_at, source_file, source_row NULLS FIRST, is_new
    )
)
SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
       source, value, unit, source_file, source_row, received_at
FROM ordered
WHERE is_new AND (NOT has_before OR value IS DISTINCT FROM value_before);
