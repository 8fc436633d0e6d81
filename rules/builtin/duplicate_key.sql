-- id: duplicate_key
-- description: Record keys are unique within a source
-- dimension: uniqueness
-- severity: error
-- source: *
SELECT '{{source}}' AS source, _record_key AS record_key,
       'key appears ' || CAST(n AS VARCHAR) || ' times in {{source}}' AS detail
FROM (SELECT _record_key, COUNT(*) OVER (PARTITION BY _record_key) AS n FROM {{source}}) k
WHERE n > 1
