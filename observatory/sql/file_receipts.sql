-- A row is the receipt of one staged file: what it brought, counted from its staged records
-- that loaded and those quarantined (so rows_read = rows_loaded + rows_quarantined can be
-- checked, not assumed). A record is a data row, or one cell of a wide layout; records summed
-- by a layout count one each. Rows a layout leaves out by design are rows_skipped.
INSERT INTO file_receipt
WITH problem_rows AS (
    SELECT file_id, count(DISTINCT row_id) AS quarantined
    FROM stage_problem WHERE row_id IS NOT NULL GROUP BY file_id
),
loaded_rows AS (
    SELECT file_id, count(*) AS loaded
    FROM (SELECT file_id, row_id FROM stage_harmonized UNION ALL SELECT file_id, row_id FROM stage_policy_harmonized)
    ANTI JOIN stage_problem USING (row_id)
    GROUP BY file_id
),
counted AS (
    SELECT f.*,
           CASE WHEN f.rejected THEN 0 ELSE coalesce(l.loaded, 0) END AS loaded,
           CASE WHEN f.rejected THEN f.rows_read ELSE coalesce(p.quarantined, 0) END AS quarantined
    FROM stage_file AS f
    LEFT JOIN loaded_rows AS l USING (file_id)
    LEFT JOIN problem_rows AS p USING (file_id)
)
SELECT file_path, observatory, sha256, received_at,
       CASE WHEN rejected OR (loaded = 0 AND rows_read > 0) THEN 'rejected'
            WHEN quarantined > 0 THEN 'partially_loaded'
            ELSE 'loaded' END,
       rows_read, loaded, quarantined, layout, rows_skipped
FROM counted
UNION ALL
SELECT file_path, observatory, sha256, received_at, 'duplicate', 0, 0, 0, NULL, 0
FROM stage_duplicate;
