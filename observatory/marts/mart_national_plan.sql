-- A row of mart_national_plan is one country (of the 33) in one year: whether a national plan
-- on violence against women was in force on 31 December (a plan for 2016-2021 counts in
-- 2016..2021 only), what the plans in force say of themselves, and the national plan score
-- (0-100) with the weights of reference/score_weights.csv. A flag counts only when the
-- register says yes: an unknown is not a yes.
CREATE OR REPLACE TABLE mart_national_plan AS
WITH years AS (
    SELECT CAST(range AS INTEGER) AS year
    FROM range(getvariable('first_year'), getvariable('last_year') + 1)
),
plans AS (
    SELECT i.*
    FROM policy_instrument AS i
    JOIN ref_instrument_type AS t USING (instrument_type)
    WHERE t.family = 'plan'
),
in_force AS (
    SELECT c.country_iso3, y.year, p.instrument_type, p.has_budget, p.has_monitoring,
           p.prevention, p.attention, p.sanction, p.reparation
    FROM dim_country AS c
    CROSS JOIN years AS y
    LEFT JOIN plans AS p
      ON p.country_iso3 = c.country_iso3
     AND in_force_at_year_end(coalesce(p.in_force_from, p.adopted_on), p.in_force_to, p.status, y.year)
),
status AS (
    SELECT country_iso3, year,
           count(instrument_type) > 0 AS plan_in_force,
           coalesce(bool_or(instrument_type = 'national_plan_vaw'), false) AS plan_specific_to_vaw,
           coalesce(bool_or(has_budget), false) AS plan_has_budget,
           coalesce(bool_or(has_monitoring), false) AS plan_has_monitoring,
           CAST(coalesce(bool_or(prevention), false) AS INTEGER)
             + CAST(coalesce(bool_or(attention), false) AS INTEGER)
             + CAST(coalesce(bool_or(sanction), false) AS INTEGER)
             + CAST(coalesce(bool_or(reparation), false) AS INTEGER) AS areas_covered
    FROM in_force
    GROUP BY ALL
),
components AS (
    UNPIVOT (
        SELECT country_iso3, year,
               CAST(plan_in_force AS DOUBLE) AS plan_in_force,
               CAST(plan_specific_to_vaw AS DOUBLE) AS plan_specific_to_vaw,
               CAST(plan_has_budget AS DOUBLE) AS plan_has_budget,
               CAST(plan_has_monitoring AS DOUBLE) AS plan_has_monitoring,
               areas_covered / 4.0 AS areas_covered  -- share of the four response areas
        FROM status
    )
    ON plan_in_force, plan_specific_to_vaw, plan_has_budget, plan_has_monitoring, areas_covered
    INTO NAME component VALUE share
),
score AS (
    SELECT c.country_iso3, c.year,
           round(100 * sum(CAST(w.weight AS DOUBLE) * c.share) / sum(CAST(w.weight AS DOUBLE)), 1) AS national_plan_score
    FROM components AS c
    JOIN ref_score_weight AS w ON w.score = 'national_plan' AND w.component = c.component
    GROUP BY ALL
)
SELECT s.*, score.national_plan_score
FROM status AS s
JOIN score USING (country_iso3, year)
ORDER BY country_iso3, year;
