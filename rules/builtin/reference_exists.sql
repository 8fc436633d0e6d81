-- id: reference_exists
-- description: Declared cross-source references point at an existing record (aliases accepted)
-- dimension: integrity
-- severity: error
-- for_each: reference
WITH unmatched AS (
    -- A reference equal to a target key as written exists (an anti join, no
    -- normalisation); only the rest are normalised and looked up. Anti joins keep a
    -- row once whatever the number of partners: no DISTINCT (a hash aggregate over the
    -- whole target) is needed on their other side.
    SELECT s._record_key, s.{{column}} AS v
    FROM {{source}} s
    LEFT ANTI JOIN (SELECT {{target_column}} AS raw FROM {{target}}) e
      ON s.{{column}} = e.raw
    WHERE s.{{column}} IS NOT NULL
)
SELECT '{{source}}' AS source, u._record_key AS record_key,
       '{{column}} ' || u.v || ' matches no {{target}}.{{target_column}}' AS detail
FROM unmatched u
LEFT ANTI JOIN (SELECT canonical_id({{target_column}}, '{{aliases}}') AS k FROM {{target}}) t
       ON canonical_id(u.v, '{{aliases}}') = t.k
