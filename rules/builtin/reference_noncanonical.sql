-- id: reference_noncanonical
-- description: References are written exactly as the target key (not only equal after normalisation)
-- dimension: integrity
-- severity: warn
-- for_each: reference
WITH unmatched AS (
    -- References equal to a target key as written are dropped first by an anti join
    -- (no normalisation needed); only the rest are normalised and joined.
    SELECT s._record_key, s.{{column}} AS v
    FROM {{source}} s
    LEFT ANTI JOIN (SELECT {{target_column}} AS raw FROM {{target}}) e
      ON s.{{column}} = e.raw
    WHERE s.{{column}} IS NOT NULL AND '{{aliases}}' <> 'salesforce'
)
SELECT '{{source}}' AS source, u._record_key AS record_key,
       '{{column}} ' || u.v || ' is known to {{target}} only after normalisation, as ' || t.raw AS detail
FROM unmatched u
JOIN (SELECT canonical_id({{target_column}}, '{{aliases}}') AS k, MIN({{target_column}}) AS raw
      FROM {{target}} GROUP BY canonical_id({{target_column}}, '{{aliases}}')) t
  ON canonical_id(u.v, '{{aliases}}') = t.k
