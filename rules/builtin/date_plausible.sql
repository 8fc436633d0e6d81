-- id: date_plausible
-- description: Last-update dates are neither in the future nor before 1900
-- dimension: validity
-- severity: warn
-- source: *
-- requires: @updated_at
SELECT '{{source}}' AS source, s._record_key AS record_key,
       CASE WHEN CAST(s.{{updated_at}} AS DATE) > r.as_of
            THEN '{{updated_at}} ' || CAST(CAST(s.{{updated_at}} AS DATE) AS VARCHAR) || ' is after the run date ' || CAST(r.as_of AS VARCHAR)
            ELSE '{{updated_at}} ' || CAST(CAST(s.{{updated_at}} AS DATE) AS VARCHAR) || ' is before 1900' END AS detail
FROM {{source}} s CROSS JOIN run r
WHERE CAST(s.{{updated_at}} AS DATE) > r.as_of
   OR CAST(s.{{updated_at}} AS DATE) < DATE '1900-01-01'
