-- id: duplicate_key
-- description: Record keys are unique within a source
-- dimension: uniqueness
-- severity: error
-- source: *
-- Over tens of millions of keys, grouping the strings is the cost (and the memory):
-- the keys are grouped by their 64-bit hash first, and only the keys whose hash
-- repeats (the duplicates, and a hash collision now and then) are counted exactly.
-- The small side of each join comes first: DataFusion builds its hash table from it.
WITH repeated AS (
    SELECT key_hash(_record_key) AS h
    FROM {{source}}
    GROUP BY key_hash(_record_key)
    HAVING COUNT(*) > 1
),
candidates AS (
    SELECT s._record_key AS k
    FROM repeated r
    JOIN {{source}} s ON key_hash(s._record_key) = r.h
),
dup AS (
    SELECT k, COUNT(*) AS n FROM candidates GROUP BY k HAVING COUNT(*) > 1
)
SELECT '{{source}}' AS source, c.k AS record_key,
       'key appears ' || CAST(d.n AS VARCHAR) || ' times in {{source}}' AS detail
FROM dup d
JOIN candidates c ON c.k = d.k
