-- A row is the receipt of one staged file: what it brought, counted from what was loaded and
-- quarantined (so rows_read = rows_loaded + rows_quarantined can be checked, not assumed).
INSERT INTO file_receipt
WITH counted AS (
    SELECT f.*,
           (SELECT count(*) FROM observation AS o WHERE o.source_file = f.file_path)
           + (SELECT count(*) FROM policy_instrument AS i WHERE i.source_file = f.file_path) AS loaded,
           CASE WHEN f.rejected THEN f.rows_read
                ELSE (SELECT count(DISTINCT q.source_row) FROM quarantine AS q
                      WHERE q.source_file = f.file_path AND q.source_row IS NOT NULL)
           END AS quarantined
    FROM stage_file AS f
)
SELECT file_path, observatory, sha256, received_at,
       CASE WHEN rejected OR loaded = 0 THEN 'rejected'
            WHEN quarantined > 0 THEN 'partially_loaded'
            ELSE 'loaded' END,
       rows_read, loaded, quarantined
FROM counted
UNION ALL
SELECT file_path, observatory, sha256, received_at, 'duplicate', 0, 0, 0
FROM stage_duplicate;
