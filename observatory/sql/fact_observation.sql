-- A row of fact_observation is one observation: the value one source gives for a country,
-- subnational unit, year, indicator, sex, age group and population group. Where files give the
-- same key, the row of the file received later wins; the others stay in `observation`.
-- Where a source gives an additive indicator (dim_indicator.additive) for subnational units
-- but no national figure, the national figure is their sum, flagged 'rollup' (and
-- 'incomplete_rollup' when some of the country's units are missing, 'partial_year' when a
-- unit's figure is partial); source_row is then NULL. A unit within another (Peru's Lima
-- Metropolitana and Lima Provincias, parent_code the department of Lima) rolls up to its parent
-- first, when the source gives no figure for the parent, and counts toward the country only
-- through it.
-- Kept up to date group by group: only the groups the applied files touch (affected_group: a
-- source's rows for a country, year, indicator and disaggregation) are computed again. When
-- the applied files hold every observation (a first run, or every file read again), the
-- lines marked `-- affected groups only` are left out and the table is computed whole.
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
CREATE TABLE IF NOT EXISTS fact_observation (
    country_iso3 VARCHAR, subnational_code VARCHAR, year INTEGER, indicator_code VARCHAR, sex VARCHAR,
    age_group VARCHAR, population_group VARCHAR, value DOUBLE, unit VARCHAR, source VARCHAR,
    source_file VARCHAR, source_row INTEGER, flags VARCHAR, flag_note VARCHAR
);
DELETE FROM fact_observation AS f
USING affected_group AS a  -- affected groups only
WHERE {{ group_equal f a }}  -- affected groups only
;
-- The groups that have figures for subnational units: only their rows can make, or stop, a
-- rollup. A table, so that the joins below know it is small (most figures are national): they
-- then look up the few rows that matter instead of building hash tables of every figure.
CREATE OR REPLACE TEMP TABLE unit_group AS
SELECT DISTINCT {{ group }} FROM observation
SEMI JOIN affected_group USING ({{ group }})  -- affected groups only
WHERE subnational_code IS NOT NULL;
INSERT INTO fact_observation
-- Not materialized: read from observation where used (a copy of every figure, spilled to disk,
-- cost more than reading it three times).
WITH given AS NOT MATERIALIZED (
    SELECT *, hash({{ key }}) AS key_hash
    FROM observation
    SEMI JOIN affected_group USING ({{ group }})  -- affected groups only
),
-- Keys given more than once, found by counting their hashes first (cheap): only their rows are
-- ranked. Two keys sharing a hash by chance only send more rows to the ranking.
repeated AS (
    SELECT key_hash FROM given GROUP BY key_hash HAVING count(*) > 1
),
latest AS NOT MATERIALIZED (
    SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
           value, unit, source, source_file, source_row, flags, flag_note
    FROM given ANTI JOIN repeated USING (key_hash)
    UNION ALL
    SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
           value, unit, source, source_file, source_row, flags, flag_note
    FROM given SEMI JOIN repeated USING (key_hash)
    QUALIFY row_number() OVER (
        PARTITION BY {{ key }}
        ORDER BY received_at DESC, source_file DESC, source_row DESC
    ) = 1
),
-- The latest figures of the groups with units: what the rollups are made from and defer to.
latest_units AS (
    SELECT * FROM latest SEMI JOIN unit_group USING ({{ group }})
),
units AS (
    SELECT country_iso3, count(*) AS units FROM ref_subnational_unit WHERE coalesce(parent_code, '') = '' GROUP BY ALL
),
children AS (
    SELECT subnational_code, parent_code, count(*) OVER (PARTITION BY parent_code) AS siblings
    FROM ref_subnational_unit WHERE coalesce(parent_code, '') <> ''
),
parent_rollup AS (
    SELECT s.country_iso3, c.parent_code AS subnational_code, s.year, s.indicator_code,
           s.sex, s.age_group, s.population_group, sum(s.value) AS value, any_value(s.unit) AS unit,
           s.source,
           CASE WHEN count(DISTINCT s.source_file) = 1 THEN min(s.source_file) END AS source_file,
           CAST(NULL AS INTEGER) AS source_row,
           concat_ws(';', 'rollup',
               CASE WHEN count(DISTINCT s.subnational_code) < any_value(c.siblings) THEN 'incomplete_rollup' END,
               CASE WHEN bool_or(coalesce(s.flags, '') LIKE '%partial_year%') THEN 'partial_year' END) AS flags,
           concat_ws(' ', 'Suma de ' || count(DISTINCT s.subnational_code) || ' de ' || any_value(c.siblings)
               || ' unidades dentro de ' || c.parent_code || '. / Sum of ' || count(DISTINCT s.subnational_code)
               || ' of ' || any_value(c.siblings) || ' units within ' || c.parent_code || '.',
               string_agg(DISTINCT s.flag_note, ' ' ORDER BY s.flag_note) FILTER (WHERE s.flags LIKE '%partial_year%')) AS flag_note
    FROM latest_units AS s
    JOIN children AS c USING (subnational_code)
    JOIN ref_indicator AS i ON i.indicator_code = s.indicator_code AND i.additive = 'yes'
    GROUP BY s.country_iso3, c.parent_code, s.year, s.indicator_code, s.sex, s.age_group, s.population_group, s.source
),
parents AS (
    SELECT r.* FROM parent_rollup AS r
    ANTI JOIN latest_units AS n ON {{ key_equal n r }}
),
top_level AS (
    SELECT * FROM latest_units WHERE subnational_code NOT IN (SELECT subnational_code FROM children)
    UNION ALL
    SELECT * FROM parents
),
rollup AS (
    SELECT s.country_iso3, CAST(NULL AS VARCHAR) AS subnational_code, s.year, s.indicator_code,
           s.sex, s.age_group, s.population_group, sum(s.value) AS value, any_value(s.unit) AS unit,
           s.source,
           CASE WHEN count(DISTINCT s.source_file) = 1 THEN min(s.source_file) END AS source_file,
           CAST(NULL AS INTEGER) AS source_row,
           concat_ws(';', 'rollup',
               CASE WHEN count(DISTINCT s.subnational_code) < any_value(u.units) THEN 'incomplete_rollup' END,
               CASE WHEN bool_or(coalesce(s.flags, '') LIKE '%partial_year%') THEN 'partial_year' END) AS flags,
           concat_ws(' ', 'Suma de ' || count(DISTINCT s.subnational_code) || ' de ' || any_value(u.units)
               || ' unidades subnacionales. / Sum of ' || count(DISTINCT s.subnational_code) || ' of '
               || any_value(u.units) || ' subnational units.',
               string_agg(DISTINCT s.flag_note, ' ' ORDER BY s.flag_note) FILTER (WHERE s.flags LIKE '%partial_year%')) AS flag_note
    FROM top_level AS s
    JOIN ref_indicator AS i ON i.indicator_code = s.indicator_code AND i.additive = 'yes'
    JOIN units AS u USING (country_iso3)
    WHERE s.subnational_code IS NOT NULL
    GROUP BY s.country_iso3, s.year, s.indicator_code, s.sex, s.age_group, s.population_group, s.source
),
-- The national figures a source gives for the groups it also gives units for: the rollups
-- defer to them.
national AS (
    SELECT n.* FROM latest_units AS n
    SEMI JOIN rollup AS r USING ({{ group }})
    WHERE n.subnational_code IS NULL
)
SELECT * FROM latest
UNION ALL
SELECT * FROM parents
UNION ALL
SELECT r.* FROM rollup AS r
ANTI JOIN national AS n USING ({{ group }})
-- Clustered by country (what researchers and the publication filter on); no finer order: a
-- full sort costs more than the rest of the statement at 5 million rows.
ORDER BY country_iso3;
