-- id: reference_exists
-- description: Declared cross-source references point at an existing record (aliases accepted)
-- dimension: integrity
-- severity: error
-- for_each: reference
SELECT '{{source}}' AS source, s._record_key AS record_key,
       '{{column}} ' || s.{{column}} || ' matches no {{target}}.{{target_column}}' AS detail
FROM {{source}} s
LEFT JOIN (SELECT DISTINCT canonical_id({{target_column}}, '{{aliases}}') AS k FROM {{target}}) t
       ON canonical_id(s.{{column}}, '{{aliases}}') = t.k
WHERE s.{{column}} IS NOT NULL AND t.k IS NULL
