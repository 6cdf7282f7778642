-- A row of stage_policy_harmonized is one staged line of a policy-instrument file with its
-- harmonized fields beside their raw text: country and instrument type codes, dates as ISO
-- text keeping their precision, status and yes/no flags as codes (NULL when unmatched, or when
-- the cell says the fact is not known: 'no consta', 's/d').
CREATE OR REPLACE TABLE stage_policy_harmonized AS
WITH staged AS (
    SELECT r.*, f.file_path, f.observatory
    FROM stage_policy_row AS r
    JOIN stage_file AS f USING (file_id)
    WHERE NOT f.rejected
),
parsed AS (
    SELECT
        s.row_id, s.file_id, s.line, s.file_path, s.observatory,
        s.country AS country_raw, mc.code AS country_iso3, mc.suggestions AS country_suggestions,
        s.instrument_type AS instrument_type_raw, mt.code AS instrument_type,
        mt.suggestions AS instrument_type_suggestions,
        s.title, s.identifier, s.source, s.notes,
        s.adopted_on AS adopted_on_raw, iso_partial_date(s.adopted_on) AS adopted_on,
        s.in_force_from AS in_force_from_raw, iso_partial_date(s.in_force_from) AS in_force_from,
        s.in_force_to AS in_force_to_raw, iso_partial_date(s.in_force_to) AS in_force_to,
        s.status AS status_raw, ms.code AS status,
        s.has_budget AS has_budget_raw, CAST(nullif(m_budget.code, 'unknown') AS BOOLEAN) AS has_budget,
        s.has_monitoring AS has_monitoring_raw, CAST(nullif(m_monitoring.code, 'unknown') AS BOOLEAN) AS has_monitoring,
        s.prevention AS prevention_raw, CAST(nullif(m_prevention.code, 'unknown') AS BOOLEAN) AS prevention,
        s.attention AS attention_raw, CAST(nullif(m_attention.code, 'unknown') AS BOOLEAN) AS attention,
        s.sanction AS sanction_raw, CAST(nullif(m_sanction.code, 'unknown') AS BOOLEAN) AS sanction,
        s.reparation AS reparation_raw, CAST(nullif(m_reparation.code, 'unknown') AS BOOLEAN) AS reparation,
        -- a yes/no cell that reads as neither yes, no nor not known ('no consta', 's/d': NULL)
        coalesce(
            CASE WHEN s.has_budget IS NOT NULL AND m_budget.code IS NULL THEN s.has_budget END,
            CASE WHEN s.has_monitoring IS NOT NULL AND m_monitoring.code IS NULL THEN s.has_monitoring END,
            CASE WHEN s.prevention IS NOT NULL AND m_prevention.code IS NULL THEN s.prevention END,
            CASE WHEN s.attention IS NOT NULL AND m_attention.code IS NULL THEN s.attention END,
            CASE WHEN s.sanction IS NOT NULL AND m_sanction.code IS NULL THEN s.sanction END,
            CASE WHEN s.reparation IS NOT NULL AND m_reparation.code IS NULL THEN s.reparation END
        ) AS invalid_flag
    FROM staged AS s
    LEFT JOIN map_country AS mc ON mc.raw = s.country
    LEFT JOIN map_instrument_type AS mt ON mt.raw = s.instrument_type
    LEFT JOIN map_status AS ms ON ms.raw = s.status
    LEFT JOIN map_yes_no AS m_budget ON m_budget.raw = s.has_budget
    LEFT JOIN map_yes_no AS m_monitoring ON m_monitoring.raw = s.has_monitoring
    LEFT JOIN map_yes_no AS m_prevention ON m_prevention.raw = s.prevention
    LEFT JOIN map_yes_no AS m_attention ON m_attention.raw = s.attention
    LEFT JOIN map_yes_no AS m_sanction ON m_sanction.raw = s.sanction
    LEFT JOIN map_yes_no AS m_reparation ON m_reparation.raw = s.reparation
)
SELECT
    p.*,
    (adopted_on_raw IS NULL OR adopted_on IS NOT NULL) AS adopted_on_valid,
    (in_force_from_raw IS NULL OR in_force_from IS NOT NULL) AS in_force_from_valid,
    (in_force_to_raw IS NULL OR in_force_to IS NOT NULL) AS in_force_to_valid,
    period_start(coalesce(in_force_from, adopted_on)) AS start_date,
    -- Every row needs a start (in_force_from, or adopted_on), but a not_known row with neither: a
    -- gap the register documents with no date at all, which the marts take as unknown from their
    -- first year (macros.sql, instrument_start).
    (period_start(coalesce(in_force_from, adopted_on)) IS NOT NULL OR coalesce(status, '') = 'not_known') AS start_date_given,
    period_end(in_force_to) AS end_date,
    (status_raw IS NULL OR status IS NOT NULL) AS status_valid,
    NOT (coalesce(status, '') IN ('repealed', 'expired') AND in_force_to IS NULL) AS end_date_given
FROM parsed AS p
ORDER BY p.row_id;
