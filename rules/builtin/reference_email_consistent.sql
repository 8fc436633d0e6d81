-- id: reference_email_consistent
-- description: A record and the record it references agree on the email address
-- dimension: consistency
-- severity: warn
-- for_each: reference
-- requires: email, target.email
SELECT '{{source}}' AS source, s._record_key AS record_key,
       'email differs from the referenced {{target}} record ' || t._record_key AS detail
FROM {{source}} s
JOIN {{target}} t
  ON canonical_id(s.{{column}}, '{{aliases}}') = canonical_id(t.{{target_column}}, '{{aliases}}')
WHERE s.email IS NOT NULL AND t.email IS NOT NULL
  AND normalize_email(s.email) <> normalize_email(t.email)
