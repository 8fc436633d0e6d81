-- id: duplicate_sku
-- description: No two products of a source have SKUs that are equal after normalisation
-- dimension: uniqueness
-- severity: warn
-- source: *
-- entity: product
-- requires: sku
-- The duplicated SKUs (few) come first in the join: DataFusion builds its hash table
-- from the left side.
WITH dup AS (
    SELECT normalize_sku(sku) AS k, COUNT(*) AS n
    FROM {{source}}
    GROUP BY normalize_sku(sku)
    HAVING COUNT(*) > 1
)
SELECT '{{source}}' AS source, s._record_key AS record_key,
       'SKU ' || s.sku || ' equals ' || CAST(d.n - 1 AS VARCHAR) || ' other SKU(s) of {{source}} after normalisation (' || d.k || ')' AS detail
FROM dup d
JOIN {{source}} s ON normalize_sku(s.sku) = d.k
