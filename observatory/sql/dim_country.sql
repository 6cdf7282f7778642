-- A row of dim_country is one of the 33 countries of Latin America and the Caribbean, with the
-- groups it belongs to (reference/countries.csv and reference/country_groups.csv).
CREATE OR REPLACE TABLE dim_country AS
SELECT c.country_iso3, c.m49, c.name_es, c.name_en, c.subregion,
       coalesce(bool_or(g.group_code = 'BELEM_DO_PARA'), false) AS belem_do_para,
       coalesce(bool_or(g.group_code = 'MIRPS'), false) AS mirps,
       coalesce(bool_or(g.group_code = 'SPOTLIGHT'), false) AS spotlight,
       coalesce(bool_or(g.group_code = 'ESP_COP'), false) AS esp_cop
FROM ref_country AS c
LEFT JOIN ref_country_group AS g USING (country_iso3)
GROUP BY ALL
ORDER BY c.country_iso3;
