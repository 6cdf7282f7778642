-- A row is one loaded observation: a staged record that passed validation, or, for files whose
-- layout sums records, the sum of the valid records of one key (source_row NULL, flagged
-- 'aggregated'; 'partial_year' when fewer periods than the year has were summed, with the
-- missing months in flag_note, in Spanish and English, and in missing_periods for the receipt).
-- A layout's national_total adds the country's own sum. `records` says how many staged records
-- a row accounts for, so receipts count what was loaded.
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
INSERT INTO observation
-- Not materialized: most files sum nothing, so the summing below reads no row of it; a copy of
-- every staged column of every valid record (millions, spilled to disk) cost more than the rest.
WITH valid AS NOT MATERIALIZED (
    SELECT h.*, f.received_at, f.aggregate, f.periods_per_year, f.national_total
    FROM stage_harmonized AS h
    JOIN stage_file AS f USING (file_id)
    ANTI JOIN stage_problem AS p USING (row_id)
),
summable AS (
    SELECT *, 1 AS counts FROM valid WHERE aggregate
    UNION ALL
    -- A national total: each record again under the country (its units already counted it).
    SELECT * REPLACE (CAST(NULL AS VARCHAR) AS subnational_code), 0 AS counts
    FROM valid WHERE aggregate AND national_total AND subnational_code IS NOT NULL
),
summed AS (
    SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
           sum(value) AS value, any_value(unit) AS unit, source, file_path, received_at,
           count(*) AS summed_records, sum(counts) AS records, any_value(periods_per_year) AS periods_per_year,
           bool_or(coalesce(flags, '') LIKE '%partial_year%') AS flagged_partial,
           string_agg(DISTINCT flag_note, ' ' ORDER BY flag_note) AS layout_note
    FROM summable
    GROUP BY {{ key }}, file_path, received_at
),
-- Which periods of a year the file covers at all: judged over the whole file (a province with
-- no case in a month is a zero, not a gap), so every figure of that year shares the verdict.
file_periods AS (
    SELECT file_path, year, indicator_code, list(DISTINCT period) AS periods
    FROM valid
    WHERE aggregate AND period IS NOT NULL
    GROUP BY ALL
),
described AS (
    SELECT s.*,
           CASE WHEN s.periods_per_year IS NOT NULL THEN list_filter(
               list_transform(range(1, s.periods_per_year + 1), lambda m: printf('%04d-%02d', s.year, m)),
               lambda p: NOT list_contains(coalesce(fp.periods, []), p)) END AS missing_periods
    FROM summed AS s
    LEFT JOIN file_periods AS fp USING (file_path, year, indicator_code)
)
SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
       value, unit, source, file_path, line, received_at, flags, flag_note, 1, CAST(NULL AS VARCHAR)
FROM valid
WHERE NOT aggregate
UNION ALL
SELECT country_iso3, subnational_code, year, indicator_code, sex, age_group, population_group,
       value, unit, source, file_path, CAST(NULL AS INTEGER), received_at,
       CASE WHEN flagged_partial OR len(missing_periods) > 0 THEN 'aggregated;partial_year' ELSE 'aggregated' END,
       concat_ws(' ',
           'Suma de ' || summed_records || ' registros.',
           CASE WHEN len(missing_periods) > 0
                THEN 'Meses sin un registro cargado: ' || array_to_string(missing_periods, ', ') || '.' END,
           '/ Sum of ' || summed_records || ' records.',
           CASE WHEN len(missing_periods) > 0
                THEN 'Months without a loaded record: ' || array_to_string(missing_periods, ', ') || '.' END,
           layout_note),
       records,
       CASE WHEN len(missing_periods) > 0 THEN array_to_string(missing_periods, ', ') END
FROM described;
