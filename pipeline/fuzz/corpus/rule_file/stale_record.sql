-- id: stale_record
-- description: Records were updated within their source's staleness SLA (stale_after_days)
-- dimension: timeliness
-- severity: warn
-- source: *
-- requires: @stale_after_days
SELECT '{{source}}' AS source, s._record_key AS record_key,
       'last updated ' || CAST(CAST(s.{{updated_at}} AS DATE) AS VARCHAR) ||
       ', more than {{stale_after_days}} days before ' || CAST(r.as_of AS VARCHAR) AS detail
FROM {{source}} s CROSS JOIN run r
WHERE CAST(s.{{updated_at}} AS DATE) < r.as_of - INTERVAL '{{stale_after_days}} days'
