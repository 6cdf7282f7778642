-- A row of mart_group_progress is one group of countries in one year: the day the year is judged
-- on (31 December; as_of for a provisional year, marked provisional), how many of its countries
-- had a comprehensive law and a national plan in force on that day, for how many of them that is
-- unknown, and the mean and median progress score of its countries ranked that year (enough
-- known overall and in each category, reference/score_rules.csv: a country scored on a few known
-- components would move the group's figures by what is not known), from the unrounded scores,
-- with how many countries have a score and how many are ranked. Groups: LAC (all 33), each M49
-- subregion, and the groups of reference/country_groups.csv (MIRPS, SPOTLIGHT, ESP_COP,
-- BELEM_DO_PARA: current members).
CREATE OR REPLACE TABLE mart_group_progress AS
WITH membership AS (
    SELECT 'LAC' AS group_code, country_iso3 FROM dim_country
    UNION ALL
    SELECT subregion, country_iso3 FROM dim_country
    UNION ALL
    SELECT group_code, country_iso3 FROM ref_country_group
)
SELECT m.group_code, l.year, any_value(l.as_of) AS as_of, any_value(l.provisional) AS provisional,
       CAST(count(*) AS INTEGER) AS countries,
       CAST(count(*) FILTER (WHERE l.has_comprehensive_law) AS INTEGER) AS countries_with_comprehensive_law,
       CAST(count(*) FILTER (WHERE l.has_comprehensive_law IS NULL) AS INTEGER) AS countries_comprehensive_law_unknown,
       CAST(count(*) FILTER (WHERE n.plan_in_force) AS INTEGER) AS countries_with_plan_in_force,
       CAST(count(*) FILTER (WHERE n.plan_in_force IS NULL) AS INTEGER) AS countries_plan_in_force_unknown,
       round(avg(p.progress_score) FILTER (WHERE p.rankable), 1) AS mean_progress_score,
       round(median(p.progress_score) FILTER (WHERE p.rankable), 1) AS median_progress_score,
       CAST(count(p.progress_score) AS INTEGER) AS countries_with_progress_score,
       CAST(count(*) FILTER (WHERE p.rankable) AS INTEGER) AS countries_ranked
FROM membership AS m
JOIN progress_exact AS p USING (country_iso3)
JOIN mart_legislation AS l USING (country_iso3, year)
JOIN mart_national_plan AS n USING (country_iso3, year)
GROUP BY ALL
ORDER BY m.group_code, l.year;
