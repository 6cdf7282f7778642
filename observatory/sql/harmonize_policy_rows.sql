-- A row of stage_policy_harmonized is one staged line of a policy-instrument file with its
-- harmonized fields beside their raw text: country and instrument type codes, dates as ISO
-- text keeping their precision, status and yes/no flags as codes (NULL when unmatched).
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
        s.has_budget AS has_budget_raw, CAST(m_budget.code AS BOOLEAN) AS has_budget,
        s.has_monitoring AS has_monitoring_raw, CAST(m_monitoring.code AS BOOLEAN) AS has_monitoring,
        s.prevention AS prevention_raw, CAST(m_prevention.code AS BOOLEAN) AS prevention,
        s.attention AS attention_raw, CAST(m_attention.code AS BOOLEAN) AS attention,
        s.sanction AS sanction_raw, CAST(m_sanction.code AS BOOLEAN) AS sanction,
        s.reparation AS reparation_raw, CAST(m_reparation.code AS BOOLEAN) AS reparation
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
    period_end(in_force_to) AS end_date,
    (status_raw IS NULL OR status IS NOT NULL) AS status_valid,
    NOT (coalesce(status, '') IN ('repealed', 'expired') AND in_force_to IS NULL) AS end_date_given,
    coalesce(
        CASE WHEN has_budget_raw IS NOT NULL AND has_budget IS NULL THEN has_budget_raw END,
        CASE WHEN has_monitoring_raw IS NOT NULL AND has_monitoring IS NULL THEN has_monitoring_raw END,
        CASE WHEN prevention_raw IS NOT NULL AND prevention IS NULL THEN prevention_raw END,
        CASE WHEN attention_raw IS NOT NULL AND attention IS NULL THEN attention_raw END,
        CASE WHEN sanction_raw IS NOT NULL AND sanction IS NULL THEN sanction_raw END,
        CASE WHEN reparation_raw IS NOT NULL AND reparation IS NULL THEN reparation_raw END
    ) AS invalid_flag
FROM parsed AS p
ORDER BY p.row_id;
