-- id: reference_present
-- description: Declared cross-source references are filled in
-- dimension: integrity
-- severity: warn
-- for_each: reference
SELECT '{{source}}' AS source, _record_key AS record_key,
       '{{column}} is empty: no {{target}} record is referenced' AS detail
FROM {{source}}
WHERE {{column}} IS NULL
