-- id: address_complete
-- description: Postal addresses have street, city, postal code and country
-- dimension: completeness
-- severity: warn
-- source: *
-- requires: street, city, postal_code, country
SELECT '{{source}}' AS source, _record_key AS record_key,
       'address lacks ' || concat_ws(', ',
           CASE WHEN street IS NULL THEN 'street' END,
           CASE WHEN city IS NULL THEN 'city' END,
           CASE WHEN postal_code IS NULL THEN 'postal code' END,
           CASE WHEN country IS NULL THEN 'country' END) AS detail
FROM {{source}}
WHERE street IS NULL OR city IS NULL OR postal_code IS NULL OR country IS NULL
