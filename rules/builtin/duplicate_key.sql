-- id: duplicate_key
-- description: Record keys are unique within a source
-- dimension: uniqueness
-- severity: error
-- source: *
WITH dup AS (
    SELECT _record_key AS k, COUNT(*) AS n
    FROM {{source}}
    GROUP BY _record_key
    HAVING COUNT(*) > 1
)
SELECT '{{source}}' AS source, s._record_key AS record_key,
       'key appears ' || CAST(d.n AS VARCHAR) || ' times in {{source}}' AS detail
FROM {{source}} s
JOIN dup d ON s._record_key = d.k
