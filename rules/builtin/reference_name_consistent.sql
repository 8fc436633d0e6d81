-- id: reference_name_consistent
-- description: A record and the record it references have similar names (a wrong reference otherwise)
-- dimension: consistency
-- severity: warn
-- for_each: reference
-- requires: name, target.name
-- param.min_similarity: 0.80
SELECT '{{source}}' AS source, s._record_key AS record_key,
       'name is unlike the referenced {{target}} record ' || t._record_key ||
       ' (Jaro-Winkler ' || CAST(ROUND(jaro_winkler(normalize_company_name(s.name), normalize_company_name(t.name)), 2) AS VARCHAR) || ')' AS detail
FROM {{source}} s
JOIN {{target}} t
  ON canonical_id(s.{{column}}, '{{aliases}}') = canonical_id(t.{{target_column}}, '{{aliases}}')
WHERE jaro_winkler(normalize_company_name(s.name), normalize_company_name(t.name)) < {{min_similarity}}
