-- id: quantity_positive
-- description: Quantities are positive
-- dimension: validity
-- severity: error
-- source: *
-- requires: quantity
SELECT '{{source}}' AS source, _record_key AS record_key,
       'quantity ' || CAST(quantity AS VARCHAR) || ' is not positive' AS detail
FROM {{source}}
WHERE quantity <= 0
