-- A row of mart_country_progress is one country (of the 33) in one year: its legislation and
-- national plan scores, the progress score they make over the known components with the weights
-- of reference/score_weights.csv and the weighted share of components known
-- (progress_known_share), its rank in the region and subregion that year among the countries
-- with enough known (reference/score_rules.csv: NULL = not ranked; 1 = highest; ties share a
-- rank), the change since the year before, the share of key indicators with a
-- national figure that year (data_coverage, 0-1), and the latest national figure of each key
-- indicator of the catalogue (key_indicator = yes) up to that year with its year and the source
-- chosen by reference/source_priority.csv when several give that year (figures flagged
-- partial_year or incomplete_rollup are left out).
-- Built in four statements: the national figures of the key indicators, the latest one per
-- country, year and indicator, the same pivoted to one column triple per key indicator (a PIVOT
-- cannot read a CTE), and the mart.
CREATE OR REPLACE TEMP TABLE key_national AS
-- A part of a year, or a sum that misses some of the country's units, is not that year's national
-- figure. A rollup over several files has no single receipt: its age is unknown.
SELECT f.country_iso3, f.year, f.indicator_code, f.value, f.source, r.received_at
FROM fact_observation AS f
JOIN ref_indicator AS k ON k.indicator_code = f.indicator_code AND k.key_indicator = 'yes'
LEFT JOIN file_receipt AS r ON r.file_path = f.source_file
WHERE f.subnational_code IS NULL AND f.sex = 'total' AND f.age_group = 'total'
  AND f.population_group = 'total'
  AND coalesce(f.flags, '') NOT LIKE '%partial_year%'
  AND coalesce(f.flags, '') NOT LIKE '%incomplete_rollup%';

CREATE OR REPLACE TEMP TABLE key_latest AS
WITH source_rank AS (
    -- Which source wins when several give a figure for the same country, indicator and year:
    -- the first rule of reference/source_priority.csv whose pattern the source text matches.
    SELECT n.source, arg_min(CAST(p.priority AS INTEGER), CAST(p.rule AS INTEGER)) AS priority
    FROM (SELECT DISTINCT source FROM key_national) AS n
    JOIN ref_source_priority AS p ON regexp_matches(n.source, p.pattern, 'i')
    GROUP BY n.source
),
latest AS (
    SELECT m.country_iso3, m.year, n.indicator_code, n.value, n.year AS observed_year, n.source
    FROM mart_legislation AS m
    JOIN key_national AS n ON n.country_iso3 = m.country_iso3 AND n.year <= m.year
    LEFT JOIN source_rank AS r USING (source)
    QUALIFY row_number() OVER (
        PARTITION BY m.country_iso3, m.year, n.indicator_code
        ORDER BY n.year DESC, r.priority NULLS LAST, n.received_at DESC NULLS LAST, n.source
    ) = 1
)
-- Every key indicator of the catalogue in every country-year, so that each gets its columns.
SELECT m.country_iso3, m.year, k.indicator_code, l.value, l.observed_year, l.source
FROM mart_legislation AS m
CROSS JOIN (SELECT indicator_code FROM ref_indicator WHERE key_indicator = 'yes') AS k
LEFT JOIN latest AS l USING (country_iso3, year, indicator_code);

-- <code>_latest, <code>_year, <code>_source for each key indicator (reference/indicators.csv).
CREATE OR REPLACE TEMP TABLE key_latest_wide AS
PIVOT key_latest ON indicator_code
USING first(value) AS latest, first(observed_year) AS year, first(source) AS source
GROUP BY country_iso3, year;

CREATE OR REPLACE TABLE mart_country_progress AS
WITH scores AS (
    SELECT l.country_iso3, l.year, l.as_of, l.provisional, l.legislation_score, l.legislation_known_share,
           p.national_plan_score, p.national_plan_known_share
    FROM mart_legislation AS l
    JOIN mart_national_plan AS p USING (country_iso3, year)
),
progress AS (
    -- Each score weighs its weight x its known share: the progress score is then the score over
    -- every known component of the two categories.
    SELECT c.country_iso3, c.year,
           round(sum(CAST(w.weight AS DOUBLE) * c.known * c.score) FILTER (WHERE c.known > 0)
                 / sum(CAST(w.weight AS DOUBLE) * c.known) FILTER (WHERE c.known > 0), 1) AS progress_score,
           round(sum(CAST(w.weight AS DOUBLE) * c.known) / sum(CAST(w.weight AS DOUBLE)), 3) AS progress_known_share
    FROM (
        SELECT country_iso3, year, 'legislation_score' AS component, legislation_score AS score,
               legislation_known_share AS known
        FROM scores
        UNION ALL
        SELECT country_iso3, year, 'national_plan_score', national_plan_score, national_plan_known_share
        FROM scores
    ) AS c
    JOIN ref_score_weight AS w ON w.score = 'progress' AND w.component = c.component
    GROUP BY ALL
),
ranked AS (
    SELECT p.*, p.progress_known_share >= (
               SELECT CAST(value AS DOUBLE) FROM ref_score_rule WHERE rule = 'rank_min_known_share') AS rankable
    FROM progress AS p
),
coverage AS (
    SELECT s.country_iso3, s.year,
           count(DISTINCT n.indicator_code)
             / (SELECT count(*) FROM ref_indicator WHERE key_indicator = 'yes') AS data_coverage
    FROM scores AS s
    LEFT JOIN key_national AS n USING (country_iso3, year)
    GROUP BY ALL
)
SELECT s.country_iso3, s.year, s.as_of, s.provisional,
       s.legislation_score, s.legislation_known_share, s.national_plan_score, s.national_plan_known_share,
       p.progress_score, p.progress_known_share,
       CASE WHEN p.rankable THEN CAST(rank() OVER (PARTITION BY s.year, p.rankable ORDER BY p.progress_score DESC) AS INTEGER) END AS rank_region,
       CASE WHEN p.rankable THEN CAST(rank() OVER (PARTITION BY s.year, p.rankable, d.subregion ORDER BY p.progress_score DESC) AS INTEGER) END AS rank_subregion,
       round(p.progress_score - lag(p.progress_score) OVER (PARTITION BY s.country_iso3 ORDER BY s.year), 1) AS change_vs_previous_year,
       round(c.data_coverage, 3) AS data_coverage,
       l.* EXCLUDE (country_iso3, year)
FROM scores AS s
JOIN ranked AS p USING (country_iso3, year)
JOIN coverage AS c USING (country_iso3, year)
JOIN dim_country AS d USING (country_iso3)
LEFT JOIN key_latest_wide AS l USING (country_iso3, year)
ORDER BY s.country_iso3, s.year;
