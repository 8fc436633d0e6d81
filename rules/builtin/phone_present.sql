-- id: phone_present
-- description: Customer records have a phone number
-- dimension: completeness
-- severity: info
-- source: *
-- entity: customer
-- requires: phone
SELECT '{{source}}' AS source, _record_key AS record_key,
       'no phone number' AS detail
FROM {{source}}
WHERE phone IS NULL
