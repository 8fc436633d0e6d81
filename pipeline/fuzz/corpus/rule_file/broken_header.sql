-- id: x
-- id: y
-- severity: loud
-- param.n: {{n}}
SELECT {{n}} FROM {{source}};
