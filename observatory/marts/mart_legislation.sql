-- A row of mart_legislation is one country (of the 33) in one year, from mart_first_year to the
-- mart's last year: which kinds of law were in force on the day the year is judged on (31
-- December; the as_of day for a provisional year), each yes, no or unknown (NULL), and the
-- legislation score (0-100) over the known components with the weights of
-- reference/score_weights.csv, beside the weighted share of components known.
-- instruments lists the register rows behind the yes and unknown answers (type, number, status,
-- source tier); policy_instrument has their sources.
-- Unknown, never no: a component is unknown where the register says so (status not_known) or
-- where a start written as a bare year falls in a provisional year (in force by as_of or not);
-- every law is unknown for a country the register lists no law or plan for (its silence is not a
-- no); and a State party to Belém do Pará with no sourced date is unknown until the year by which
-- every current party had joined (reference/groups.csv), true from then on (basis group_membership).
CREATE OR REPLACE TABLE mart_legislation AS
WITH years AS (
    SELECT CAST(range AS INTEGER) AS year, judged_on(CAST(range AS INTEGER)) AS as_of
    FROM range(getvariable('first_year'), getvariable('last_year') + 1)
),
in_force AS (
    SELECT c.country_iso3, y.year, y.as_of, i.instrument_type,
           -- a row the register does not know, or one whose bare start year leaves it open on the day
           -- a provisional year is judged on: either way, what it would answer is unknown that year
           coalesce(i.status = 'not_known'
                    OR start_undecided_on(instrument_start(i.in_force_from, i.adopted_on, i.status), y.as_of), false) AS not_known,
           -- the register covers the country when it lists a law or a plan of it (not_known rows too): a
           -- Belém do Pará ratification (the OAS list gives those) or a protocol alone does not
           c.country_iso3 IN (SELECT i.country_iso3 FROM policy_instrument AS i JOIN ref_instrument_type AS t USING (instrument_type)
                              WHERE t.family IN ('legislation', 'plan', 'plan_other')) AS covered,
           i.instrument_type || ' ' || coalesce(i.identifier, i.title) || ' (' || coalesce(i.status, 'status not stated')
             || CASE WHEN start_undecided_on(instrument_start(i.in_force_from, i.adopted_on, i.status), y.as_of)
                     THEN ' from ' || instrument_start(i.in_force_from, i.adopted_on, i.status) || ', not known by '
                          || strftime(y.as_of, '%Y-%m-%d') ELSE '' END
             || ', source ' || coalesce(i.source_tier, 'unclassified') || ')' AS described
    FROM dim_country AS c
    CROSS JOIN years AS y
    LEFT JOIN policy_instrument AS i
      ON i.country_iso3 = c.country_iso3
     AND in_force_on(instrument_start(i.in_force_from, i.adopted_on, i.status), i.in_force_to, i.status, y.as_of)
),
stated AS (
    SELECT country_iso3, year, as_of,
           bool_or(instrument_type = 'belem_do_para_ratification' AND NOT not_known) AS belem_yes,
           bool_or(instrument_type = 'belem_do_para_ratification' AND not_known) AS belem_unknown,
           yes_unknown_no(bool_or(instrument_type = 'comprehensive_vaw_law' AND NOT not_known),
                          bool_or(instrument_type = 'comprehensive_vaw_law' AND not_known) OR NOT bool_and(covered)) AS has_comprehensive_law,
           yes_unknown_no(bool_or(instrument_type = 'domestic_violence_law' AND NOT not_known),
                          bool_or(instrument_type = 'domestic_violence_law' AND not_known) OR NOT bool_and(covered)) AS has_domestic_violence_law,
           yes_unknown_no(bool_or(instrument_type = 'femicide_offence' AND NOT not_known),
                          bool_or(instrument_type = 'femicide_offence' AND not_known) OR NOT bool_and(covered)) AS has_femicide_offence,
           yes_unknown_no(bool_or(instrument_type = 'political_violence_law' AND NOT not_known),
                          bool_or(instrument_type = 'political_violence_law' AND not_known) OR NOT bool_and(covered)) AS has_political_violence_law,
           string_agg(described, '; ' ORDER BY described) FILTER (
               WHERE instrument_type IN ('belem_do_para_ratification', 'comprehensive_vaw_law', 'domestic_violence_law',
                                         'femicide_offence', 'political_violence_law')) AS instruments
    FROM in_force
    GROUP BY ALL
),
-- States parties by the OAS list (reference/country_groups.csv), and whether the register dates
-- their ratification.
party AS (
    SELECT m.country_iso3, TRY_CAST(g.all_members_by AS INTEGER) AS all_members_by,
           m.country_iso3 NOT IN (
               SELECT country_iso3 FROM policy_instrument
               WHERE instrument_type = 'belem_do_para_ratification'
                 AND coalesce(status, '') NOT IN ('not_known', 'bill')) AS undated
    FROM ref_country_group AS m
    JOIN ref_group AS g USING (group_code)
    WHERE m.group_code = 'BELEM_DO_PARA'
),
status AS (
    SELECT s.country_iso3, s.year, s.as_of, s.as_of < make_date(s.year, 12, 31) AS provisional,
           CASE WHEN s.belem_yes THEN true
                WHEN s.belem_unknown THEN NULL
                WHEN p.country_iso3 IS NULL OR NOT p.undated THEN false
                WHEN s.year >= p.all_members_by THEN true
                END AS has_belem_do_para,
           CASE WHEN s.belem_yes OR s.belem_unknown OR NOT coalesce(p.undated, false) AND p.country_iso3 IS NOT NULL
                THEN 'register' ELSE 'group_membership' END AS belem_do_para_basis,
           s.* EXCLUDE (country_iso3, year, as_of, belem_yes, belem_unknown)
    FROM stated AS s
    LEFT JOIN party AS p USING (country_iso3)
),
components AS (
    SELECT *
    FROM (SELECT country_iso3, year, has_belem_do_para, has_comprehensive_law, has_domestic_violence_law,
                 has_femicide_offence, has_political_violence_law
          FROM status)
    UNPIVOT INCLUDE NULLS (present FOR component IN (
        has_belem_do_para, has_comprehensive_law, has_domestic_violence_law, has_femicide_offence,
        has_political_violence_law))
),
score AS (
    SELECT c.country_iso3, c.year,
           round(100 * sum(CAST(w.weight AS DOUBLE) * CAST(c.present AS INTEGER)) FILTER (WHERE c.present IS NOT NULL)
                 / sum(CAST(w.weight AS DOUBLE)) FILTER (WHERE c.present IS NOT NULL), 1) AS legislation_score,
           round(coalesce(sum(CAST(w.weight AS DOUBLE)) FILTER (WHERE c.present IS NOT NULL), 0)
                 / sum(CAST(w.weight AS DOUBLE)), 3) AS legislation_known_share
    FROM components AS c
    JOIN ref_score_weight AS w ON w.score = 'legislation' AND w.component = c.component
    GROUP BY ALL
)
SELECT s.country_iso3, s.year, s.as_of, s.provisional, s.has_belem_do_para, s.belem_do_para_basis,
       s.has_comprehensive_law, s.has_domestic_violence_law, s.has_femicide_offence,
       s.has_political_violence_law, score.legislation_score, score.legislation_known_share, s.instruments
FROM status AS s
JOIN score USING (country_iso3, year)
ORDER BY country_iso3, year;
