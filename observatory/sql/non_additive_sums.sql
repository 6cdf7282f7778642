-- Records a layout would sum although their indicator is not additive (a rate, a percentage):
-- quarantined, since their sum would mean nothing. A layout with a constant non-additive
-- indicator is refused when it is loaded; this catches indicators that come from the file.
INSERT INTO stage_problem
SELECT h.file_id, h.row_id, h.line, 'not_additive',
       json_object('indicator', h.indicator_code, 'layout', f.layout)
FROM stage_harmonized AS h
JOIN stage_file AS f USING (file_id)
JOIN ref_indicator AS i USING (indicator_code)
ANTI JOIN stage_problem AS p USING (row_id)
WHERE f.aggregate AND i.additive <> 'yes';
