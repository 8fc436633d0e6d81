-- id: phone_valid
-- description: Phone numbers are plausible for their country (E.164 length, digits only)
-- dimension: validity
-- severity: warn
-- source: *
-- requires: phone, country
SELECT '{{source}}' AS source, _record_key AS record_key,
       'phone number is not a plausible number' ||
           CASE WHEN country IS NULL THEN '' ELSE ' for country ' || country END AS detail
FROM {{source}}
WHERE phone IS NOT NULL AND NOT is_valid_phone(phone, country)
