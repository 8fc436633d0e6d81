-- id: cp
-- description: d
-- dimension: validity
-- severity: warn
-- source: *
-- warn_below: 99%
COPY (SELECT 1) TO '/tmp/x';
