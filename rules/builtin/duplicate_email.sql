-- id: duplicate_email
-- description: No two customer records of a source share an email address (a likely duplicate)
-- dimension: uniqueness
-- severity: warn
-- source: *
-- entity: customer
-- requires: email
-- The duplicated addresses (few) come first in the join: DataFusion builds its hash
-- table from the left side.
WITH e AS (
    SELECT _record_key, normalize_email(email) AS k
    FROM {{source}}
    WHERE email IS NOT NULL
),
dup AS (
    SELECT k, COUNT(*) AS n FROM e GROUP BY k HAVING COUNT(*) > 1
)
SELECT '{{source}}' AS source, e._record_key AS record_key,
       'shares its email address with ' || CAST(d.n - 1 AS VARCHAR) || ' other record(s) of {{source}}' AS detail
FROM dup d
JOIN e ON e.k = d.k
