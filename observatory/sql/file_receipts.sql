-- A row is the receipt of one staged file: what it brought, counted from the rows that reached
-- observation and policy_instrument_loaded and from the quarantine (so rows_read = rows_loaded +
-- rows_quarantined is checked, not assumed). A record is a data row, or one cell of a wide
-- layout; records summed by a layout count one each (observation.records). Rows a layout
-- leaves out by design are rows_skipped.
INSERT INTO file_receipt
WITH counted AS (
    SELECT f.*,
           coalesce((SELECT sum(o.records) FROM observation AS o WHERE o.source_file = f.file_path), 0)
           + (SELECT count(*) FROM policy_instrument_loaded AS i WHERE i.source_file = f.file_path) AS loaded,
           CASE WHEN f.rejected THEN f.rows_read
                ELSE (SELECT count(*) FROM stage_problem AS p WHERE p.file_id = f.file_id AND p.row_id IS NOT NULL)
           END AS quarantined
    FROM stage_file AS f
)
SELECT file_path, observatory, sha256, received_at,
       CASE WHEN rejected OR loaded = 0 THEN 'rejected'
            WHEN quarantined > 0 THEN 'partially_loaded'
            ELSE 'loaded' END,
       rows_read, loaded, quarantined, layout, rows_skipped, from_registry
FROM counted
UNION ALL
SELECT file_path, observatory, sha256, received_at, 'duplicate', 0, 0, 0, NULL, 0, NULL
FROM stage_duplicate;
