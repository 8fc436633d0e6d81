-- id: country_valid
-- description: Country codes are ISO 3166-1 alpha-2
-- dimension: validity
-- severity: error
-- source: *
-- requires: country
SELECT '{{source}}' AS source, _record_key AS record_key,
       'country ' || country || ' is not an ISO 3166-1 alpha-2 code' AS detail
FROM {{source}}
WHERE country IS NOT NULL AND NOT is_iso_country(country)
