-- id: duplicate_email
-- description: No two customer records of a source share an email address (a likely duplicate)
-- dimension: uniqueness
-- severity: warn
-- source: *
-- entity: customer
-- requires: email
SELECT '{{source}}' AS source, _record_key AS record_key,
       'shares its email address with ' || CAST(n - 1 AS VARCHAR) || ' other record(s) of {{source}}' AS detail
FROM (SELECT _record_key,
             COUNT(*) OVER (PARTITION BY normalize_email(email)) AS n
      FROM {{source}}
      WHERE email IS NOT NULL) e
WHERE n > 1
