-- id: email_valid
-- description: Email addresses are syntactically valid
-- dimension: validity
-- severity: error
-- source: *
-- requires: email
SELECT '{{source}}' AS source, _record_key AS record_key,
       'email is not a valid address (one @, a local part, a domain with a dot)' AS detail
FROM {{source}}
WHERE email IS NOT NULL AND NOT is_valid_email(email)
