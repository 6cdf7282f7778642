-- Rows about an area outside the 33 countries (map_out_of_scope) are skipped by design: they
-- leave stage_harmonized and move from rows_read to rows_skipped in stage_file. A file left with
-- no row in scope is rejected (outside_region) with one file-level problem saying why.
CREATE OR REPLACE TEMP TABLE _out_of_scope AS
SELECT h.row_id, h.file_id, m.area
FROM stage_harmonized AS h JOIN map_out_of_scope AS m ON m.raw = h.country_raw;

UPDATE stage_file AS f
SET rows_read = f.rows_read - c.skipped, rows_skipped = coalesce(f.rows_skipped, 0) + c.skipped
FROM (SELECT file_id, count(*) AS skipped FROM _out_of_scope GROUP BY file_id) AS c
WHERE f.file_id = c.file_id;

DELETE FROM stage_harmonized WHERE row_id IN (SELECT row_id FROM _out_of_scope);

INSERT INTO stage_problem
SELECT f.file_id, NULL, NULL, 'outside_region',
       json_object('skipped', f.rows_skipped,
                   'areas', (SELECT string_agg(DISTINCT area, ', ' ORDER BY area) FROM _out_of_scope AS o WHERE o.file_id = f.file_id))
FROM stage_file AS f
WHERE f.file_id IN (SELECT file_id FROM _out_of_scope) AND f.rows_read = 0 AND NOT f.rejected;

UPDATE stage_file SET rejected = true
WHERE file_id IN (SELECT file_id FROM _out_of_scope) AND rows_read = 0 AND NOT rejected;
