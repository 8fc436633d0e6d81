-- id: invoice_currency_usd
-- description: The wholesaler invoices in US dollars only (a user rule, not built in)
-- dimension: consistency
-- severity: error
-- source: invoice_lines
SELECT 'invoice_lines' AS source, _record_key AS record_key,
       'currency ' || currency || ' is not usd' AS detail
FROM invoice_lines
WHERE currency IS NOT NULL AND lower(currency) <> 'usd'
