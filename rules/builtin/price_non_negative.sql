-- id: price_non_negative
-- description: Unit prices are not negative
-- dimension: validity
-- severity: error
-- source: *
-- requires: unit_price
SELECT '{{source}}' AS source, _record_key AS record_key,
       'unit price ' || CAST(unit_price AS VARCHAR) || ' is negative' AS detail
FROM {{source}}
WHERE unit_price < 0
