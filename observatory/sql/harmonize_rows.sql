-- A row of stage_harmonized is one staged record with its harmonized fields beside their
-- raw text: codes from the map_* tables (NULL when unmatched), the subnational unit resolved
-- within its country, the year as an integer, the value as a number in the file's own locale
-- (NULL when missing or unparseable), the value rounded to a whole number when its indicator's
-- unit counts whole things (units.csv `whole`: people, cases, calls; for the suite's
-- value_not_whole), and what its layout said (period, flags, cell). Not
-- sorted: whatever needs the records in order orders them by row_id (a sort of every record
-- cost more than the rest of the statement at 5 million rows).
CREATE OR REPLACE TABLE stage_harmonized AS
WITH staged AS (
    SELECT r.*, f.file_path, f.observatory, f.decimal_mark,
           regexp_replace(r.value, '[\s\x{00A0}\x{202F}]', '', 'g') AS value_compact
    FROM stage_row AS r
    JOIN stage_file AS f USING (file_id)
    WHERE NOT f.rejected
),
parsed AS (
    SELECT
        s.row_id, s.file_id, s.line, s.file_path, s.observatory,
        s.country AS country_raw, mc.code AS country_iso3, mc.suggestions AS country_suggestions,
        s.subnational AS subnational_raw, mn.code AS subnational_code,
        mn.suggestions AS subnational_suggestions,
        (s.subnational IS NULL OR mc.code IS NULL OR mn.code IS NOT NULL) AS subnational_valid,
        s.year AS year_raw,
        CASE WHEN regexp_full_match(s.year, '\d{4}') THEN CAST(s.year AS INTEGER) END AS year,
        s.indicator AS indicator_raw, mi.code AS indicator_code, mi.suggestions AS indicator_suggestions,
        s.value AS value_raw,
        (s.value IS NULL OR lower(s.value_compact) IN (SELECT compact FROM ref_missing_token)) AS value_missing,
        CASE
            WHEN s.decimal_mark = ','
                 AND regexp_full_match(s.value_compact, '[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?')
                THEN CAST(replace(replace(s.value_compact, '.', ''), ',', '.') AS DOUBLE)
            WHEN s.decimal_mark = '.'
                 AND regexp_full_match(s.value_compact, '[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?')
                THEN CAST(replace(s.value_compact, ',', '') AS DOUBLE)
        END AS value,
        s.unit AS unit_raw,
        CASE WHEN s.unit IS NOT NULL THEN coalesce(mu.code, '?') END AS unit_given,
        s.sex AS sex_raw,
        CASE WHEN s.sex IS NULL THEN 'total' ELSE ms.code END AS sex,
        s.age_group AS age_group_raw,
        CASE WHEN s.age_group IS NULL THEN 'total' ELSE ma.code END AS age_group,
        s.population_group AS population_group_raw,
        CASE WHEN s.population_group IS NULL THEN 'total' ELSE mp.code END AS population_group,
        coalesce(s.source, s.observatory) AS source,
        s.period, s.flags, s.flag_note, s.cell, s.record_key
    FROM staged AS s
    LEFT JOIN map_country AS mc ON mc.raw = s.country
    LEFT JOIN map_subnational AS mn ON mn.country_iso3 = mc.code AND mn.raw = s.subnational
    LEFT JOIN map_indicator AS mi ON mi.raw = s.indicator
    LEFT JOIN map_unit AS mu ON mu.raw = s.unit
    LEFT JOIN map_sex AS ms ON ms.raw = s.sex
    LEFT JOIN map_age_group AS ma ON ma.raw = s.age_group
    LEFT JOIN map_population_group AS mp ON mp.raw = s.population_group
)
SELECT
    p.*,
    i.unit,
    CAST(nullif(i.range_min, '') AS DOUBLE) AS range_min,
    CAST(nullif(i.range_max, '') AS DOUBLE) AS range_max,
    CASE WHEN u.whole = 'yes' THEN round(p.value) END AS whole_value
FROM parsed AS p
LEFT JOIN ref_indicator AS i USING (indicator_code)
LEFT JOIN ref_unit AS u ON u.unit = i.unit;
