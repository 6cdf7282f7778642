-- A row of mart_country_progress is one country (of the 33) in one year: its legislation and
-- national plan scores, the progress score they make over the known components with the weights
-- of reference/score_weights.csv and the weighted share of components known
-- (progress_known_share), its rank in the region and subregion that year among the countries
-- with enough known, overall and in each category (reference/score_rules.csv: NULL = not ranked;
-- 1 = highest; ties share a rank), the change since the year before (of the unrounded scores),
-- the share of key indicators with a
-- national figure that year (data_coverage, 0-1), and the latest national figure of each key
-- indicator of the catalogue (key_indicator = yes) up to that year with its year and the source
-- chosen by reference/source_priority.csv when several give that year (figures flagged
-- partial_year or incomplete_rollup are left out).
-- Built in five statements: the national figures of the key indicators, the latest one per
-- country, year and indicator, the same pivoted to one column triple per key indicator (a PIVOT
-- cannot read a CTE), the progress scores unrounded (progress_exact, which mart_group_progress
-- reads too), and the mart.
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

-- The progress score and known share unrounded, and whether the country-year is ranked: the
-- change since the year before and the groups' mean and median (mart_group_progress) are taken
-- from these, and rounded once, so that they do not carry the rounding of each score.
CREATE OR REPLACE TEMP TABLE progress_exact AS
WITH scores AS (
    SELECT country_iso3, year, 'legislation' AS category, 'legislation_score' AS component,
           legislation_score AS score, legislation_known_share AS known
    FROM mart_legislation
    UNION ALL
    SELECT country_iso3, year, 'national_plan', 'national_plan_score', national_plan_score, national_plan_known_share
    FROM mart_national_plan
),
progress AS (
    -- Each score weighs its weight x its known share: the progress score is then the score over
    -- every known component of the two categories.
    SELECT c.country_iso3, c.year,
           sum(CAST(w.weight AS DOUBLE) * c.known * c.score) FILTER (WHERE c.known > 0)
             / sum(CAST(w.weight AS DOUBLE) * c.known) FILTER (WHERE c.known > 0) AS progress_score,
           sum(CAST(w.weight AS DOUBLE) * c.known) / sum(CAST(w.weight AS DOUBLE)) AS progress_known_share,
           min(c.known) AS least_category_known_share
    FROM scores AS c
    JOIN ref_score_weight AS w ON w.score = 'progress' AND w.component = c.component
    GROUP BY ALL
)
-- Ranked (reference/score_rules.csv): enough of the components known overall, and something of
-- each category (a score of one category alone is not compared with scores of both).
SELECT p.country_iso3, p.year, p.progress_score, p.progress_known_share,
       round(p.progress_known_share, 3) >= coalesce(
           (SELECT CAST(value AS DOUBLE) FROM ref_score_rule WHERE rule = 'rank_min_known_share'),
           error('reference/score_rules.csv has no rank_min_known_share'))
       AND p.least_category_known_share >= coalesce(
           (SELECT CAST(value AS DOUBLE) FROM ref_score_rule WHERE rule = 'rank_min_category_known_share'),
           error('reference/score_rules.csv has no rank_min_category_known_share')) AS rankable
FROM progress AS p;

CREATE OR REPLACE TABLE mart_country_progress AS
WITH coverage AS (
    SELECT l.country_iso3, l.year,
           count(DISTINCT n.indicator_code)
             / (SELECT count(*) FROM ref_indicator WHERE key_indicator = 'yes') AS data_coverage
    FROM mart_legislation AS l
    LEFT JOIN key_national AS n USING (country_iso3, year)
    GROUP BY ALL
),
progress AS (
    SELECT country_iso3, year, round(progress_score, 1) AS progress_score,
           round(progress_known_share, 3) AS progress_known_share, rankable,
           round(progress_score - lag(progress_score) OVER (PARTITION BY country_iso3 ORDER BY year), 1)
             AS change_vs_previous_year
    FROM progress_exact
)
SELECT l.country_iso3, l.year, l.as_of, l.provisional,
       l.legislation_score, l.legislation_known_share, n.national_plan_score, n.national_plan_known_share,
       p.progress_score, p.progress_known_share,
       CASE WHEN p.rankable THEN CAST(rank() OVER (PARTITION BY l.year, p.rankable ORDER BY p.progress_score DESC) AS INTEGER) END AS rank_region,
       CASE WHEN p.rankable THEN CAST(rank() OVER (PARTITION BY l.year, p.rankable, d.subregion ORDER BY p.progress_score DESC) AS INTEGER) END AS rank_subregion,
       p.change_vs_previous_year,
       round(c.data_coverage, 3) AS data_coverage,
       k.* EXCLUDE (country_iso3, year)
FROM mart_legislation AS l
JOIN mart_national_plan AS n USING (country_iso3, year)
JOIN progress AS p USING (country_iso3, year)
JOIN coverage AS c USING (country_iso3, year)
JOIN dim_country AS d USING (country_iso3)
LEFT JOIN key_latest_wide AS k USING (country_iso3, year)
ORDER BY l.country_iso3, l.year;
