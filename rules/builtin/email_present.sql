-- id: email_present
-- description: Customer records have an email address
-- dimension: completeness
-- severity: warn
-- source: *
-- entity: customer
-- requires: email
SELECT '{{source}}' AS source, _record_key AS record_key,
       'no email address' AS detail
FROM {{source}}
WHERE email IS NULL
