-- A row of source_layout is one source layout (observatory/layouts/<layout>.yaml): what kind of
-- published file it reads and the provenance of that source (producer, citation, URL,
-- licence), so file_receipt.layout leads a researcher to where the figures come from.
CREATE OR REPLACE TABLE source_layout AS
SELECT layout, description, producer, citation, url, licence, nullif(accessed, '') AS accessed
FROM ref_source_layout
ORDER BY layout;
