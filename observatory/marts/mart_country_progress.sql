-- A row of mart_country_progress is one country (of the 33) in one year: its legislation and
-- national plan scores, the progress score they make over the known components with the weights
-- of reference/score_weights.csv and the weighted share of components known
-- (progress_known_share), its rank in the region and subregion that year among the countries
-- with enough known (reference/score_rules.csv: NULL = not ranked; 1 = highest; ties share a
-- rank), the change since the year before, the share of key indicators with a
-- national figure that year (data_coverage, 0-1), and the latest national figure of each key
-- indicator up to that year with its year and source (figures flagged partial_year or
-- incomplete_rollup are left out).
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
key_indicator AS (
    SELECT indicator_code FROM ref_indicator WHERE key_indicator = 'yes'
),
national AS (
    -- A part of a year, or a sum that misses some of the country's units, is not that year's
    -- national figure. A rollup over several files has no single receipt: its age is unknown.
    SELECT f.country_iso3, f.year, f.indicator_code, f.value, f.source, r.received_at
    FROM fact_observation AS f
    JOIN key_indicator USING (indicator_code)
    LEFT JOIN file_receipt AS r ON r.file_path = f.source_file
    WHERE f.subnational_code IS NULL AND f.sex = 'total' AND f.age_group = 'total'
      AND f.population_group = 'total'
      AND coalesce(f.flags, '') NOT LIKE '%partial_year%'
      AND coalesce(f.flags, '') NOT LIKE '%incomplete_rollup%'
),
coverage AS (
    SELECT s.country_iso3, s.year,
           count(DISTINCT n.indicator_code) / (SELECT count(*) FROM key_indicator) AS data_coverage
    FROM scores AS s
    LEFT JOIN national AS n USING (country_iso3, year)
    GROUP BY ALL
),
latest AS (
    SELECT s.country_iso3, s.year, n.indicator_code, n.value, n.year AS observed_year, n.source
    FROM scores AS s
    JOIN national AS n ON n.country_iso3 = s.country_iso3 AND n.year <= s.year
    QUALIFY row_number() OVER (
        PARTITION BY s.country_iso3, s.year, n.indicator_code
        ORDER BY n.year DESC, n.received_at DESC NULLS LAST, n.source
    ) = 1
),
latest_wide AS (
    SELECT country_iso3, year,
           max(value) FILTER (WHERE indicator_code = 'femicide_count') AS femicide_count_latest,
           max(observed_year) FILTER (WHERE indicator_code = 'femicide_count') AS femicide_count_year,
           max(source) FILTER (WHERE indicator_code = 'femicide_count') AS femicide_count_source,
           max(value) FILTER (WHERE indicator_code = 'femicide_rate') AS femicide_rate_latest,
           max(observed_year) FILTER (WHERE indicator_code = 'femicide_rate') AS femicide_rate_year,
           max(source) FILTER (WHERE indicator_code = 'femicide_rate') AS femicide_rate_source,
           max(value) FILTER (WHERE indicator_code = 'sdg511_vaw_score') AS sdg511_vaw_score_latest,
           max(observed_year) FILTER (WHERE indicator_code = 'sdg511_vaw_score') AS sdg511_vaw_score_year,
           max(source) FILTER (WHERE indicator_code = 'sdg511_vaw_score') AS sdg511_vaw_score_source
    FROM latest
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
LEFT JOIN latest_wide AS l USING (country_iso3, year)
ORDER BY s.country_iso3, s.year;
