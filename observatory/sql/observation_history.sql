-- A row of observation_history is one vintage of an observation key: a row loaded in this run
-- (from applied_path) whose value differs from the vintage before it — the key's latest
-- vintage of earlier runs, or an earlier row of this run (files in the order received, then by
-- path and line) — or whose key is new. The same value given again is not a new vintage. A file
-- read again with the content it had (reread_path: the code or reference data changed) brings
-- only the figure that now wins its key (fact_observation), when it differs from the latest
-- vintage (a corrected reading, or a later file's figure set aside now), received now
-- (`recorded_at`), so that it is the latest vintage: its other rows were looked at when it
-- arrived. Only
-- the groups the applied files touch (affected_group) are looked at (every group, without the
-- lines marked `-- affected groups only`, when the applied files hold every observation).
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
INSERT INTO observation_history
WITH latest AS (
    SELECT *
    FROM observation_history
    SEMI JOIN affected_group USING ({{ group }})  -- affected groups only
    QUALIFY row_number() OVER (
        PARTITION BY {{ key }}
        ORDER BY received_at DESC, source_file DESC, source_row DESC
    ) = 1
),
candidates AS (
    SELECT *, hash({{ key }}) AS key_hash
    FROM (
        SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
               source, value, unit, source_file, source_row, received_at, false AS is_new
        FROM latest
        UNION ALL
        SELECT o.country_iso3, o.subnational_code, o.year, o.indicator_code, o.sex, o.age_group,
               o.population_group, o.source, o.value, o.unit, o.source_file, o.source_row,
               CASE WHEN o.source_file IN (SELECT file_path FROM reread_path) THEN getvariable('recorded_at')
                    ELSE o.received_at END, true
        FROM observation AS o
        JOIN applied_path AS a ON a.file_path = o.source_file
        WHERE o.source_file NOT IN (SELECT file_path FROM reread_path)
           OR EXISTS (SELECT 1 FROM fact_observation AS f
                      WHERE f.source_file IN (SELECT file_path FROM reread_path)  -- only those files' figures are looked up
                        AND f.source_file = o.source_file AND {{ key_equal f o }})
    )
),
-- Keys with more than one candidate, found by counting their hashes first (cheap): only their
-- rows are ordered into vintages; a key's one new row is its first vintage. Two keys sharing a
-- hash by chance only send more rows to the ordering.
repeated AS (
    SELECT key_hash FROM candidates GROUP BY key_hash HAVING count(*) > 1
),
ordered AS (
    SELECT *, lag(value) OVER vintages AS value_before, row_number() OVER vintages AS position
    FROM candidates
    SEMI JOIN repeated USING (key_hash)
    WINDOW vintages AS (
        PARTITION BY {{ key }}
        ORDER BY is_new, received_at, source_file, source_row NULLS FIRST
    )
)
SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
       source, value, unit, source_file, source_row, received_at
FROM candidates
ANTI JOIN repeated USING (key_hash)
WHERE is_new
UNION ALL
SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
       source, value, unit, source_file, source_row, received_at
FROM ordered
WHERE is_new AND (position = 1 OR value IS DISTINCT FROM value_before);
