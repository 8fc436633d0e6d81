//! The SQL engine: a DataFusion session with recon's memory limit, spill directory and
//! user-defined functions. Used by the rules stage and by `recon query`.
//!
//! UDFs (all null-safe: a NULL argument gives NULL; each accepts scalar or array
//! arguments in any combination, and any string type):
//!
//! | function | returns |
//! |---|---|
//! | `jaro_winkler(a, b)` | similarity 0…1 (DOUBLE) |
//! | `damerau_levenshtein(a, b)` | edit distance (BIGINT) |
//! | `normalize_email(s)` | trimmed, lower-cased email |
//! | `is_valid_email(s)` | BOOLEAN |
//! | `normalize_phone(s [, country])` | `+<digits>` (E.164 style) when placeable, else digits |
//! | `is_valid_phone(s [, country])` | BOOLEAN |
//! | `normalize_company_name(s)` | folded name without legal suffixes |
//! | `normalize_sku(s)` | upper case without separators |
//! | `is_iso_country(s)` | BOOLEAN: ISO 3166-1 alpha-2 |
//! | `canonical_id(s, rule)` | reference canonical form (`exact`, `case_insensitive`, `salesforce`, `sku`) |
//! | `key_hash(s)` | 64-bit hash of the text (BIGINT, xxh3): grouping or joining on it is integer work; equal texts give equal hashes, different ones almost never |

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::normalize;

/// A session with recon's settings and UDFs. `spill_dir` receives temporary files when a
/// query exceeds the memory pool.
pub fn context(
    memory_limit_mb: usize,
    spill_dir: Option<&std::path::Path>,
) -> Result<SessionContext> {
    let threads = rayon::current_num_threads().max(1);
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(true)
        .with_default_catalog_and_schema("recon", "public");
    let mut rt = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(pool_bytes(memory_limit_mb)?)));
    if let Some(d) = spill_dir {
        rt = rt.with_temp_file_path(d);
    }
    let rt = rt
        .build_arc()
        .map_err(|e| Error::datafusion("cannot create the SQL runtime", e))?;
    let ctx = SessionContext::new_with_config_rt(config, rt);
    register_udfs(&ctx);
    Ok(ctx)
}

/// Smallest and largest `[run].memory_limit_mb` (16 MiB … 16 TiB).
pub const MEMORY_LIMIT_MB_RANGE: std::ops::RangeInclusive<usize> = 16..=(1 << 24);

/// The size of the SQL memory pool in bytes for `memory_limit_mb`; the config validates
/// the range, so an error here means a caller skipped validation.
pub fn pool_bytes(memory_limit_mb: usize) -> Result<usize> {
    if !MEMORY_LIMIT_MB_RANGE.contains(&memory_limit_mb) {
        return Err(Error::Other(format!(
            "run.memory_limit_mb = {memory_limit_mb} is outside {}..={} (MiB)",
            MEMORY_LIMIT_MB_RANGE.start(),
            MEMORY_LIMIT_MB_RANGE.end()
        )));
    }
    Ok(memory_limit_mb * 1024 * 1024)
}

/// Registers recon's UDFs on a session.
pub fn register_udfs(ctx: &SessionContext) {
    for f in udfs() {
        ctx.register_udf(f);
    }
}

/// The UDFs, for sessions built elsewhere (tests, sqllogictest).
pub fn udfs() -> Vec<ScalarUDF> {
    use Kind::*;
    [
        ("jaro_winkler", JaroWinkler),
        ("damerau_levenshtein", DamerauLevenshtein),
        ("normalize_email", NormalizeEmail),
        ("is_valid_email", IsValidEmail),
        ("normalize_phone", NormalizePhone),
        ("is_valid_phone", IsValidPhone),
        ("normalize_company_name", NormalizeCompanyName),
        ("normalize_sku", NormalizeSku),
        ("is_iso_country", IsIsoCountry),
        ("canonical_id", CanonicalId),
    ]
    .into_iter()
    .map(|(name, kind)| ScalarUDF::from(StringUdf::new(name, kind)))
    .chain(std::iter::once(ScalarUDF::from(KeyHash::new())))
    .collect()
}

/// `key_hash(s)`: xxh3 of the text as BIGINT. Reads every string type in place (no
/// cast to Utf8 copying the values), because its use is over whole tables: finding the
/// few duplicated keys among tens of millions by grouping integers instead of strings.
#[derive(Debug, PartialEq, Eq, Hash)]
struct KeyHash {
    signature: Signature,
}

impl KeyHash {
    fn new() -> Self {
        KeyHash {
            signature: Signature::new(TypeSignature::String(1), Volatility::Immutable),
        }
    }
}

fn key_hash_of(s: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes()) as i64
}

impl ScalarUDFImpl for KeyHash {
    fn name(&self) -> &str {
        "key_hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [arg] = &args.args[..] else {
            return exec_err!("key_hash takes 1 argument, got {}", args.args.len());
        };
        let arr = match arg {
            ColumnarValue::Scalar(v) => {
                let h = match v {
                    ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => {
                        s.as_deref().map(key_hash_of)
                    }
                    ScalarValue::Null => None,
                    other => {
                        return exec_err!("key_hash: expected text, got {}", other.data_type());
                    }
                };
                return Ok(ColumnarValue::Scalar(ScalarValue::Int64(h)));
            }
            ColumnarValue::Array(a) => a,
        };
        let out: datafusion::arrow::array::Int64Array = match arr.data_type() {
            DataType::Utf8 => arr
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(key_hash_of))
                .collect(),
            DataType::LargeUtf8 => arr
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(key_hash_of))
                .collect(),
            DataType::Utf8View => arr
                .as_string_view()
                .iter()
                .map(|v| v.map(key_hash_of))
                .collect(),
            other => return exec_err!("key_hash: expected text, got {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    JaroWinkler,
    DamerauLevenshtein,
    NormalizeEmail,
    IsValidEmail,
    NormalizePhone,
    IsValidPhone,
    NormalizeCompanyName,
    NormalizeSku,
    IsIsoCountry,
    CanonicalId,
}

impl Kind {
    /// Allowed argument counts.
    fn arities(self) -> &'static [usize] {
        match self {
            Kind::JaroWinkler | Kind::DamerauLevenshtein | Kind::CanonicalId => &[2],
            Kind::NormalizePhone | Kind::IsValidPhone => &[1, 2],
            _ => &[1],
        }
    }

    fn return_type(self) -> DataType {
        match self {
            Kind::JaroWinkler => DataType::Float64,
            Kind::DamerauLevenshtein => DataType::Int64,
            Kind::IsValidEmail | Kind::IsValidPhone | Kind::IsIsoCountry => DataType::Boolean,
            _ => DataType::Utf8,
        }
    }
}

/// A scalar UDF over string arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
struct StringUdf {
    name: &'static str,
    kind: Kind,
    signature: Signature,
}

impl StringUdf {
    fn new(name: &'static str, kind: Kind) -> Self {
        let sigs = kind
            .arities()
            .iter()
            .map(|&n| TypeSignature::String(n))
            .collect::<Vec<_>>();
        let signature = if sigs.len() == 1 {
            Signature::new(sigs.into_iter().next().expect("one"), Volatility::Immutable)
        } else {
            Signature::one_of(sigs, Volatility::Immutable)
        };
        StringUdf {
            name,
            kind,
            signature,
        }
    }
}

/// Builds the output column of a UDF row by row.
enum Out {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    F64(Float64Builder),
    I64(Int64Builder),
}

impl ScalarUDFImpl for StringUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.kind.return_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        if !self.kind.arities().contains(&args.args.len()) {
            return exec_err!(
                "{} takes {:?} arguments, got {}",
                self.name,
                self.kind.arities(),
                args.args.len()
            );
        }
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if all_scalar { 1 } else { args.number_rows };
        let mut cols = Vec::with_capacity(args.args.len());
        for a in &args.args {
            let arr: ArrayRef = a.to_array(n)?;
            let arr = if arr.data_type() == &DataType::Utf8 {
                arr
            } else {
                cast(&arr, &DataType::Utf8)?
            };
            cols.push(arr);
        }
        let strs: Vec<_> = cols.iter().map(|c| c.as_string::<i32>()).collect();
        let mut out = match self.kind.return_type() {
            DataType::Boolean => Out::Bool(BooleanBuilder::with_capacity(n)),
            DataType::Float64 => Out::F64(Float64Builder::with_capacity(n)),
            DataType::Int64 => Out::I64(Int64Builder::with_capacity(n)),
            _ => Out::Str(StringBuilder::with_capacity(n, n * 16)),
        };
        for i in 0..n {
            // NULL in the first argument gives NULL; an optional country may be NULL.
            let a = if strs[0].is_null(i) {
                None
            } else {
                Some(strs[0].value(i))
            };
            let b = strs
                .get(1)
                .and_then(|s| if s.is_null(i) { None } else { Some(s.value(i)) });
            let second_required = matches!(
                self.kind,
                Kind::JaroWinkler | Kind::DamerauLevenshtein | Kind::CanonicalId
            );
            let Some(a) = a.filter(|_| !second_required || b.is_some()) else {
                match &mut out {
                    Out::Str(o) => o.append_null(),
                    Out::Bool(o) => o.append_null(),
                    Out::F64(o) => o.append_null(),
                    Out::I64(o) => o.append_null(),
                }
                continue;
            };
            match (&mut out, self.kind) {
                (Out::F64(o), Kind::JaroWinkler) => {
                    o.append_value(normalize::jaro_winkler(a, b.unwrap_or("")))
                }
                (Out::I64(o), Kind::DamerauLevenshtein) => {
                    o.append_value(normalize::damerau_levenshtein(a, b.unwrap_or("")) as i64)
                }
                (Out::Str(o), Kind::NormalizeEmail) => o.append_option(normalize::email(a)),
                (Out::Bool(o), Kind::IsValidEmail) => o.append_value(normalize::is_valid_email(a)),
                (Out::Str(o), Kind::NormalizePhone) => o.append_option(normalize::phone(a, b)),
                (Out::Bool(o), Kind::IsValidPhone) => {
                    o.append_value(normalize::is_valid_phone(a, b))
                }
                (Out::Str(o), Kind::NormalizeCompanyName) => {
                    o.append_value(normalize::company_name(a))
                }
                (Out::Str(o), Kind::NormalizeSku) => o.append_value(normalize::sku(a)),
                (Out::Bool(o), Kind::IsIsoCountry) => o.append_value(normalize::is_iso_country(a)),
                (Out::Str(o), Kind::CanonicalId) => {
                    o.append_value(normalize::canonical_id(a, b.unwrap_or("exact")))
                }
                _ => return exec_err!("{}: internal type mismatch", self.name),
            }
        }
        let arr: ArrayRef = match out {
            Out::Str(mut o) => Arc::new(o.finish()),
            Out::Bool(mut o) => Arc::new(o.finish()),
            Out::F64(mut o) => Arc::new(o.finish()),
            Out::I64(mut o) => Arc::new(o.finish()),
        };
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&arr, 0)?))
        } else {
            Ok(ColumnarValue::Array(arr))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BooleanArray, Float64Array, StringArray};
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;

    fn call(name: &str, args: Vec<ColumnarValue>, rows: usize) -> ColumnarValue {
        let f = udfs().into_iter().find(|u| u.name() == name).unwrap();
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
            .collect();
        f.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: rows,
            return_field: Arc::new(Field::new("r", f.return_type(&[]).unwrap(), true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
        .unwrap()
    }

    fn s(v: Option<&str>) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(v.map(str::to_string)))
    }

    fn arr(v: Vec<Option<&str>>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from(v)))
    }

    #[test]
    fn scalar_arguments_give_a_scalar() {
        match call("normalize_sku", vec![s(Some("wid 1001"))], 1) {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(v))) => assert_eq!(v, "WID1001"),
            other => panic!("{other:?}"),
        }
        match call("is_valid_email", vec![s(None)], 1) {
            ColumnarValue::Scalar(ScalarValue::Boolean(None)) => {}
            other => panic!("null in, null out: {other:?}"),
        }
    }

    #[test]
    fn array_and_scalar_mixed() {
        let r = call(
            "jaro_winkler",
            vec![
                arr(vec![Some("martha"), None, Some(""), Some("Müller")]),
                s(Some("marhta")),
            ],
            4,
        );
        let ColumnarValue::Array(a) = r else { panic!() };
        let a = a.as_any().downcast_ref::<Float64Array>().unwrap();
        assert!((a.value(0) - 0.9611).abs() < 1e-3);
        assert!(a.is_null(1));
        assert_eq!(a.value(2), 0.0);
        assert!(!a.is_null(3));
        let r = call(
            "is_valid_phone",
            vec![
                arr(vec![Some("(217) 555-0100"), Some("555-CALL"), Some("")]),
                s(Some("US")),
            ],
            3,
        );
        let ColumnarValue::Array(a) = r else { panic!() };
        let a = a.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(false), Some(false)]
        );
        let r = call(
            "normalize_company_name",
            vec![arr(vec![Some("Café Müller GmbH"), Some(""), None])],
            3,
        );
        let ColumnarValue::Array(a) = r else { panic!() };
        let a = a.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![Some("cafe muller"), Some(""), None]
        );
    }

    #[test]
    fn optional_country_may_be_null() {
        let r = call(
            "normalize_phone",
            vec![arr(vec![Some("+1 217 555 0100")]), arr(vec![None])],
            1,
        );
        let ColumnarValue::Array(a) = r else { panic!() };
        assert_eq!(
            a.as_any().downcast_ref::<StringArray>().unwrap().value(0),
            "+12175550100"
        );
    }

    #[tokio::test]
    async fn key_hash_is_equal_for_equal_text_of_any_string_type() {
        let ctx = context(256, None).unwrap();
        let df = ctx
            .sql("SELECT key_hash('cus_1') AS a, key_hash(arrow_cast('cus_1', 'Utf8View')) AS b, key_hash(arrow_cast('cus_1', 'LargeUtf8')) AS c, key_hash('cus_2') AS d, key_hash(NULL) AS e")
            .await
            .unwrap();
        let b = df.collect().await.unwrap();
        let col = |i: usize| {
            b[0].column(i)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .clone()
        };
        assert_eq!(col(0).value(0), col(1).value(0));
        assert_eq!(col(0).value(0), col(2).value(0));
        assert_ne!(col(0).value(0), col(3).value(0));
        assert!(col(4).is_null(0));
        // Over a column (the array path), the same values as the scalar path.
        let df = ctx
            .sql("SELECT key_hash(k) AS h FROM (VALUES ('cus_1'), ('cus_2'), (NULL)) AS t(k)")
            .await
            .unwrap();
        let b2 = df.collect().await.unwrap();
        let h = b2[0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(h.value(0), col(0).value(0));
        assert_eq!(h.value(1), col(3).value(0));
        assert!(h.is_null(2));
    }

    #[tokio::test]
    async fn udfs_work_in_sql_over_view_strings() {
        let ctx = context(256, None).unwrap();
        let df = ctx
            .sql("SELECT normalize_email(arrow_cast(' A@B.CO ', 'Utf8View')) AS e, damerau_levenshtein('ca', 'abc') AS d, canonical_id('001d000000irfmaiah', 'salesforce') AS c, is_iso_country('de') AS i")
            .await
            .unwrap();
        let b = df.collect().await.unwrap();
        let e = b[0].column(0).as_string::<i32>().value(0).to_string();
        assert_eq!(e, "a@b.co");
        assert_eq!(
            b[0].column(1)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(0),
            2
        );
        assert_eq!(
            b[0].column(2).as_string::<i32>().value(0),
            "001D000000IRFma"
        );
        assert!(b[0].column(3).as_boolean().value(0));
    }
}
