-- A row of policy_instrument is one instrument of a country: its type, identifier and title, and
-- for one without an identifier (most plans) its start too: a plan of the same title for
-- another period is another plan. When several loaded lines give it (a register re-exported
-- under another name or corrected there in its dates, status, components or source, a copy
-- whose original was removed, two observatories' files), the line of the file received last
-- gives it, as for an observation key (ties: the later file path, then the later line).
-- The other lines stay loaded (policy_instrument_loaded: their files' receipts count them) but
-- are not published. Within one file an instrument given twice is quarantined
-- (within_file_instrument_duplicates.sql).
-- date_source_tier: the tier of the page the row's dates were read from. A source that names an
-- "earlier copy, for the dates" (its first page does not give them all, often not the day) takes
-- that copy's tier (NULL when no rule of reference/source_tiers.csv matches it); another, its
-- source_tier.
CREATE OR REPLACE TABLE policy_instrument AS
SELECT *,
       CASE WHEN source LIKE '%earlier copy, for the dates: http%'
            THEN source_tier(regexp_extract(source, 'earlier copy, for the dates: (https?://[^\s)|]+)', 1))
            ELSE source_tier END AS date_source_tier
FROM policy_instrument_loaded
QUALIFY row_number() OVER (
    PARTITION BY country_iso3, instrument_type, identifier, title,
                 CASE WHEN identifier IS NULL THEN coalesce(in_force_from, adopted_on) END
    ORDER BY received_at DESC, source_file DESC, source_row DESC
) = 1
ORDER BY source_file, source_row;
