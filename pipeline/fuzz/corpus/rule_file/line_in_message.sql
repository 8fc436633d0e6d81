-- id: ln
-- description: d
-- dimension: validity
-- severity: warn
-- source: *
SELECT 1 FROM t WHERE x 'Line: 18446744073709551615'
