-- A row of revisions is one change a file made to a figure: a vintage of observation_history
-- that followed an earlier vintage of the same key with another value; for the keys the files
-- whose receipts are due (receipt_due) give, which are the only receipts written.
-- The value before is withheld (NULL, previous_withheld) when it is a figure of a sensitive
-- indicator (the list is the parameter) that another observatory's file gave: a receipt is for
-- the staff of the observatory that sent the file, and must not show them another observatory's
-- small counts of victims, which the publication itself withholds. Unless the observatory gave
-- that same value itself, in an earlier file (the same figure given again is no new vintage, so
-- the history credits it to the other file only): then the value before is theirs, credited to
-- their own file (else the withholding itself would say that the other figure equals theirs).
-- The observation key's columns and joins are written as tokens (`key`, `group`, `key_equal a b`
-- between double braces) that observatory/observation_key.py spells from schema.yaml.
WITH keyed AS (
    SELECT *,
           hash({{ key }}) AS key_hash,
           source_file IN (SELECT file_path FROM receipt_due) AS due
    FROM observation_history
),
-- Only a key with two vintages or more, one of them from a due file, can hold a revision worth
-- writing: counting hashes is cheaper than ordering every key's history (a first load has none
-- to order), and only the hashes the due files give are counted (a new file among millions of
-- rows: 0.3 s instead of 0.8 s at 5 million). Two keys sharing a hash by chance only send more
-- rows to the ordering.
revised AS (
    SELECT key_hash FROM keyed
    WHERE key_hash IN (SELECT key_hash FROM keyed WHERE due)
    GROUP BY key_hash HAVING count(*) > 1
),
changes AS (
    SELECT *,
           indicator_code IN (SELECT unnest(?::VARCHAR[]))
           AND (sent_by IS NULL OR previous_sent_by IS DISTINCT FROM sent_by) AS others
    FROM (
        SELECT k.*, r.observatory AS sent_by,
               lag(value) OVER key_history AS before,
               lag(source_file) OVER key_history AS previous_file,
               lag(r.observatory) OVER key_history AS previous_sent_by
        FROM keyed AS k
        SEMI JOIN revised USING (key_hash)
        LEFT JOIN (SELECT file_path, observatory FROM file_receipt) AS r ON r.file_path = k.source_file
        WINDOW key_history AS (
            PARTITION BY {{ key }}
            ORDER BY received_at, source_file, source_row
        )
    )
    WHERE previous_file IS NOT NULL AND before IS DISTINCT FROM value
),
-- For a value before from another observatory: the earliest file of this vintage's observatory,
-- received before it, that gave the key that same value.
own AS (
    SELECT c.source_file, c.source_row, {{ key c }},
           arg_min(o.source_file, (o.received_at, o.source_file)) AS own_file
    FROM changes AS c
    JOIN observation AS o
      ON {{ key_equal o c }} AND o.value = c.before AND o.source_file <> c.source_file
     AND (o.received_at, o.source_file) < (c.received_at, c.source_file)
    JOIN (SELECT file_path, observatory FROM file_receipt) AS r ON r.file_path = o.source_file AND r.observatory = c.sent_by
    WHERE c.others
    GROUP BY ALL
)
SELECT c.source_file, c.source_row, {{ key c }},
       CASE WHEN NOT c.others OR w.own_file IS NOT NULL THEN c.before END AS previous_value, c.value,
       coalesce(w.own_file, c.previous_file) AS previous_file,
       c.others AND w.own_file IS NULL AS previous_withheld
FROM changes AS c
LEFT JOIN own AS w
  ON w.source_file = c.source_file AND w.source_row IS NOT DISTINCT FROM c.source_row AND {{ key_equal w c }}
-- Summed figures have no row: the key orders them, so a receipt lists its changes the same way every time.
ORDER BY c.source_file, c.source_row, {{ key c }};
