-- id: reference_noncanonical
-- description: References are written exactly as the target key (not only equal after normalisation)
-- dimension: integrity
-- severity: warn
-- for_each: reference
SELECT '{{source}}' AS source, s._record_key AS record_key,
       '{{column}} ' || s.{{column}} || ' is known to {{target}} only after normalisation, as ' || t.raw AS detail
FROM {{source}} s
JOIN (SELECT canonical_id({{target_column}}, '{{aliases}}') AS k, MIN({{target_column}}) AS raw
      FROM {{target}} GROUP BY canonical_id({{target_column}}, '{{aliases}}')) t
  ON canonical_id(s.{{column}}, '{{aliases}}') = t.k
LEFT JOIN (SELECT DISTINCT {{target_column}} AS raw FROM {{target}}) e
  ON s.{{column}} = e.raw
WHERE e.raw IS NULL AND '{{aliases}}' <> 'salesforce'
