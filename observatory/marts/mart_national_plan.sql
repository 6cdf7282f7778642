-- A row of mart_national_plan is one country (of the 33) in one year: whether a national plan
-- on violence against women was in force on the day the year is judged on (31 December; the
-- as_of day for a provisional year; a plan for 2016-2021 counts in 2016..2021 only), what the
-- plans in force say of themselves, each yes, no or unknown (NULL), and the national plan score
-- (0-100) over the known components with the weights of reference/score_weights.csv, beside the
-- weighted share of components known.
-- plans lists the plans in force (type, number or title, status, source tier).
-- A flag is yes when a plan in force says yes, no when no plan is in force or every plan in force
-- says no, and unknown when a plan in force leaves it blank and none says yes. A plan whose start
-- is a bare year is unknown in that year when it is provisional (started by as_of or not). The four response
-- areas count as a quarter of the areas_covered component each. Every component is unknown for a
-- country the register lists no law or plan for (its silence is not a no).
CREATE OR REPLACE TABLE mart_national_plan AS
WITH years AS (
    SELECT CAST(range AS INTEGER) AS year, judged_on(CAST(range AS INTEGER)) AS as_of
    FROM range(getvariable('first_year'), getvariable('last_year') + 1)
),
plans AS (
    SELECT i.*
    FROM policy_instrument AS i
    JOIN ref_instrument_type AS t USING (instrument_type)
    WHERE t.family = 'plan'
),
in_force AS (
    SELECT c.country_iso3, y.year, y.as_of, p.instrument_type,
           -- a row the register does not know, or one whose bare start year leaves it open on the day
           -- a provisional year is judged on: either way, what it would answer is unknown that year
           coalesce(p.status = 'not_known'
                    OR start_undecided_on(instrument_start(p.in_force_from, p.adopted_on, p.status), y.as_of), false) AS not_known,
           -- the register covers the country when it lists a law or a plan of it (not_known rows too): a
           -- Belém do Pará ratification (the OAS list gives those) or a protocol alone does not
           c.country_iso3 IN (SELECT i.country_iso3 FROM policy_instrument AS i JOIN ref_instrument_type AS t USING (instrument_type)
                              WHERE t.family IN ('legislation', 'plan', 'plan_other')) AS covered,
           p.has_budget, p.has_monitoring, p.prevention, p.attention, p.sanction, p.reparation,
           p.instrument_type || ' ' || coalesce(p.identifier, p.title) || ' (' || coalesce(p.status, 'status not stated')
             || CASE WHEN start_undecided_on(instrument_start(p.in_force_from, p.adopted_on, p.status), y.as_of)
                     THEN ' from ' || instrument_start(p.in_force_from, p.adopted_on, p.status) || ', not known by '
                          || strftime(y.as_of, '%Y-%m-%d') ELSE '' END
             || ', source ' || coalesce(p.source_tier, 'unclassified') || ')' AS described
    FROM dim_country AS c
    CROSS JOIN years AS y
    LEFT JOIN plans AS p
      ON p.country_iso3 = c.country_iso3
     AND in_force_on(instrument_start(p.in_force_from, p.adopted_on, p.status), p.in_force_to, p.status, y.as_of)
),
stated AS (
    -- Per country-year: is a plan known in force, is that unknown, and each flag over the plans in force.
    SELECT country_iso3, year, as_of,
           coalesce(bool_or(instrument_type IS NOT NULL AND NOT not_known), false) AS known_plan,
           coalesce(bool_or(not_known), false) OR NOT bool_and(covered) AS unknown_plan,
           coalesce(bool_or(instrument_type = 'national_plan_vaw' AND NOT not_known), false) AS known_specific,
           bool_or(has_budget) FILTER (WHERE NOT not_known) AS any_budget,
           bool_or(has_budget IS NULL) FILTER (WHERE instrument_type IS NOT NULL AND NOT not_known) AS blank_budget,
           bool_or(has_monitoring) FILTER (WHERE NOT not_known) AS any_monitoring,
           bool_or(has_monitoring IS NULL) FILTER (WHERE instrument_type IS NOT NULL AND NOT not_known) AS blank_monitoring,
           bool_or(prevention) FILTER (WHERE NOT not_known) AS any_prevention,
           bool_or(prevention IS NULL) FILTER (WHERE instrument_type IS NOT NULL AND NOT not_known) AS blank_prevention,
           bool_or(attention) FILTER (WHERE NOT not_known) AS any_attention,
           bool_or(attention IS NULL) FILTER (WHERE instrument_type IS NOT NULL AND NOT not_known) AS blank_attention,
           bool_or(sanction) FILTER (WHERE NOT not_known) AS any_sanction,
           bool_or(sanction IS NULL) FILTER (WHERE instrument_type IS NOT NULL AND NOT not_known) AS blank_sanction,
           bool_or(reparation) FILTER (WHERE NOT not_known) AS any_reparation,
           bool_or(reparation IS NULL) FILTER (WHERE instrument_type IS NOT NULL AND NOT not_known) AS blank_reparation,
           string_agg(described, '; ' ORDER BY described) AS plans
    FROM in_force
    GROUP BY ALL
),
flags AS (
    -- With no plan known in force and none not known, every flag is no; a plan the register does
    -- not know of leaves every flag unknown unless a known plan says yes.
    SELECT country_iso3, year, as_of, as_of < make_date(year, 12, 31) AS provisional, plans,
           yes_unknown_no(known_plan, unknown_plan) AS plan_in_force,
           yes_unknown_no(known_specific, unknown_plan) AS plan_specific_to_vaw,
           yes_unknown_no(any_budget, unknown_plan OR blank_budget) AS plan_has_budget,
           yes_unknown_no(any_monitoring, unknown_plan OR blank_monitoring) AS plan_has_monitoring,
           yes_unknown_no(any_prevention, unknown_plan OR blank_prevention) AS prevention,
           yes_unknown_no(any_attention, unknown_plan OR blank_attention) AS attention,
           yes_unknown_no(any_sanction, unknown_plan OR blank_sanction) AS sanction,
           yes_unknown_no(any_reparation, unknown_plan OR blank_reparation) AS reparation
    FROM stated
),
status AS (
    SELECT country_iso3, year, as_of, provisional, plans, plan_in_force, plan_specific_to_vaw, plan_has_budget,
           plan_has_monitoring,
           -- NULL (unknown) when no area is known: 0 would say "covers none"
           CASE WHEN coalesce(prevention, attention, sanction, reparation) IS NOT NULL THEN
             CAST(coalesce(prevention, false) AS INTEGER) + CAST(coalesce(attention, false) AS INTEGER)
             + CAST(coalesce(sanction, false) AS INTEGER) + CAST(coalesce(reparation, false) AS INTEGER) END AS areas_covered,
           CAST(prevention IS NOT NULL AS INTEGER) + CAST(attention IS NOT NULL AS INTEGER)
             + CAST(sanction IS NOT NULL AS INTEGER) + CAST(reparation IS NOT NULL AS INTEGER) AS areas_known,
           prevention, attention, sanction, reparation
    FROM flags
),
components AS (
    -- One row per component: its value (0-1, NULL = unknown) and the share of it that is known.
    SELECT country_iso3, year, component, value, CASE WHEN value IS NULL THEN 0.0 ELSE 1.0 END AS known
    FROM (SELECT country_iso3, year,
                 CAST(plan_in_force AS DOUBLE) AS plan_in_force,
                 CAST(plan_specific_to_vaw AS DOUBLE) AS plan_specific_to_vaw,
                 CAST(plan_has_budget AS DOUBLE) AS plan_has_budget,
                 CAST(plan_has_monitoring AS DOUBLE) AS plan_has_monitoring
          FROM status)
    UNPIVOT INCLUDE NULLS (value FOR component IN (plan_in_force, plan_specific_to_vaw, plan_has_budget, plan_has_monitoring))
    UNION ALL
    SELECT country_iso3, year, 'areas_covered',
           CASE WHEN areas_known > 0 THEN areas_covered / areas_known END, areas_known / 4.0
    FROM status
),
score AS (
    SELECT c.country_iso3, c.year,
           round(100 * sum(CAST(w.weight AS DOUBLE) * c.known * c.value) FILTER (WHERE c.known > 0)
                 / sum(CAST(w.weight AS DOUBLE) * c.known) FILTER (WHERE c.known > 0), 1) AS national_plan_score,
           round(sum(CAST(w.weight AS DOUBLE) * c.known) / sum(CAST(w.weight AS DOUBLE)), 3) AS national_plan_known_share
    FROM components AS c
    JOIN ref_score_weight AS w ON w.score = 'national_plan' AND w.component = c.component
    GROUP BY ALL
)
SELECT s.country_iso3, s.year, s.as_of, s.provisional, s.plan_in_force, s.plan_specific_to_vaw,
       s.plan_has_budget, s.plan_has_monitoring, s.areas_covered, s.areas_known,
       score.national_plan_score, score.national_plan_known_share, s.plans
FROM status AS s
JOIN score USING (country_iso3, year)
ORDER BY country_iso3, year;
