-- A row of mart_legislation is one country (of the 33) in one year, from mart_first_year to the
-- current year: which kinds of law were in force on 31 December of that year, and the
-- legislation score (0-100) they add up to with the weights of reference/score_weights.csv.
-- A country with no instrument yet still has its rows, scored 0.
CREATE OR REPLACE TABLE mart_legislation AS
WITH years AS (
    SELECT CAST(range AS INTEGER) AS year
    FROM range(getvariable('first_year'), getvariable('last_year') + 1)
),
in_force AS (
    SELECT c.country_iso3, y.year, i.instrument_type
    FROM dim_country AS c
    CROSS JOIN years AS y
    LEFT JOIN policy_instrument AS i
      ON i.country_iso3 = c.country_iso3
     AND in_force_at_year_end(coalesce(i.in_force_from, i.adopted_on), i.in_force_to, i.status, y.year)
),
status AS (
    SELECT country_iso3, year,
           coalesce(bool_or(instrument_type = 'belem_do_para_ratification'), false) AS has_belem_do_para,
           coalesce(bool_or(instrument_type = 'comprehensive_vaw_law'), false) AS has_comprehensive_law,
           coalesce(bool_or(instrument_type = 'domestic_violence_law'), false) AS has_domestic_violence_law,
           coalesce(bool_or(instrument_type = 'femicide_offence'), false) AS has_femicide_offence,
           coalesce(bool_or(instrument_type = 'political_violence_law'), false) AS has_political_violence_law
    FROM in_force
    GROUP BY ALL
),
components AS (
    UNPIVOT status
    ON has_belem_do_para, has_comprehensive_law, has_domestic_violence_law, has_femicide_offence,
       has_political_violence_law
    INTO NAME component VALUE present
),
score AS (
    SELECT c.country_iso3, c.year,
           round(100 * sum(CAST(w.weight AS DOUBLE) * CAST(c.present AS INTEGER)) / sum(CAST(w.weight AS DOUBLE)), 1) AS legislation_score
    FROM components AS c
    JOIN ref_score_weight AS w ON w.score = 'legislation' AND w.component = c.component
    GROUP BY ALL
)
SELECT s.*, score.legislation_score
FROM status AS s
JOIN score USING (country_iso3, year)
ORDER BY country_iso3, year;
