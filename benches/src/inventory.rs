//! The inventory item master (`inventory_items.parquet`): products with SKUs, a few
//! duplicate items under variant SKUs, stale items.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use crate::fmt::push_cents;
use crate::out::{Defects, Res, Truth};
use crate::rng::{Rng, Zipf, stream};
use crate::vary::{normalize_sku, typo};
use crate::words::{CATEGORIES, PRODUCT_ADJECTIVES, PRODUCT_MATERIALS, PRODUCT_SPECS};

pub const INVENTORY: &str = "inventory_items";
const STALE_DAYS: i64 = 540;
const FRESH_MAX: i64 = 500;
const STALE_MIN: i64 = 560;

#[derive(Clone, Debug)]
pub struct Item {
    pub sku: String,
    pub name: String,
    pub category: &'static str,
    pub price_cents: u64,
    pub status: &'static str,
    pub stock: i64,
    /// Age in days before as_of and second of the day (UTC) of the last update.
    pub updated_age: i64,
    pub updated_sec: u32,
    /// 1-based product entity.
    pub product: u64,
    /// SKU of the original item when this is a duplicate.
    pub dup_of: Option<String>,
}

pub struct Inventory {
    /// Sorted by SKU, as an ERP export.
    pub items: Vec<Item>,
    /// Indices of original (non-duplicate) items, in popularity order.
    pub popular: Vec<usize>,
    /// Whether the item at an index has a duplicate item.
    pub has_dup: Vec<bool>,
    /// Normalised SKUs of every item.
    pub normalized: HashSet<String>,
    pub exact: HashSet<String>,
    /// SKU prefixes in use.
    pub prefixes: Vec<String>,
}

fn item_name(r: &mut Rng, nouns: &[&str]) -> String {
    let mut s = String::with_capacity(40);
    if r.chance(0.6) {
        s.push_str(r.pick::<&str>(PRODUCT_ADJECTIVES));
        s.push(' ');
    }
    if r.chance(0.5) {
        s.push_str(r.pick::<&str>(PRODUCT_MATERIALS));
        s.push(' ');
    }
    s.push_str(r.pick::<&str>(nouns));
    if r.chance(0.7) {
        s.push(' ');
        s.push_str(r.pick::<&str>(PRODUCT_SPECS));
    }
    if r.chance(0.15) {
        s.push_str(&format!(" Series {}", r.range(1, 9) * 100));
    }
    s
}

fn price(r: &mut Rng, base: u32) -> u64 {
    let cents = base as u64 * r.range(40, 400) as u64 / 100;
    let dollars = (cents / 100).max(1);
    let end = *r.pick_weighted(&[(99u64, 40u32), (0, 20), (49, 10), (95, 10), (50, 5)]);
    if end == 0 && r.chance(0.5) {
        cents.max(1)
    } else {
        dollars * 100 + end
    }
}

/// A variant spelling of a SKU: lower case, space or nothing instead of the hyphen.
pub fn sku_variant(r: &mut Rng, sku: &str) -> String {
    match r.below(3) {
        0 => sku.to_ascii_lowercase(),
        1 => sku.replacen('-', " ", 1),
        _ => sku.replacen('-', "", 1),
    }
}

impl Inventory {
    pub fn generate(seed: u64, customers: u64) -> Inventory {
        let count = (customers / 100).max(500) as usize;
        let mut r = Rng::stream(seed, stream::INVENTORY, 0);
        let cat_zipf = Zipf::new(CATEGORIES.len(), 2.0);
        let codes: HashSet<&str> = CATEGORIES.iter().map(|c| c.1).collect();
        // Per category: current prefix and next number.
        let mut state: Vec<(String, u32, u8)> = CATEGORIES
            .iter()
            .map(|c| (c.1.to_string(), 1000 + r.range(1, 20) as u32, 0u8))
            .collect();
        let mut used_prefixes: HashSet<String> = codes.iter().map(|s| s.to_string()).collect();
        let mut items: Vec<Item> = Vec::with_capacity(count + count / 40);
        for p in 0..count {
            let c = cat_zipf.sample(&mut r);
            let (name, code, base, nouns) = CATEGORIES[c];
            let step = r.range(1, 3) as u32;
            if state[c].1 + step > 9999 {
                // Next prefix for a large category: two letters of the code + A, B, ...
                loop {
                    state[c].2 += 1;
                    let np = format!("{}{}", &code[..2], (b'A' + (state[c].2 - 1) % 26) as char);
                    if used_prefixes.insert(np.clone()) {
                        state[c].0 = np;
                        break;
                    }
                }
                state[c].1 = 1000;
            }
            state[c].1 += step;
            let sku = format!("{}-{:04}", state[c].0, state[c].1);
            let status = if r.chance(0.9) {
                "active"
            } else {
                "discontinued"
            };
            let stock = if status == "discontinued" && r.chance(0.7) {
                0
            } else {
                match r.weighted(&[10, 50, 30, 10]) {
                    0 => 0,
                    1 => r.range(1, 200),
                    2 => r.range(200, 2000),
                    _ => r.range(2000, 20000),
                }
            };
            let updated_age = if r.chance(0.03) {
                r.range(STALE_MIN, 2500)
            } else {
                r.range(1, FRESH_MAX)
            };
            items.push(Item {
                sku,
                name: item_name(&mut r, nouns),
                category: name,
                price_cents: price(&mut r, base),
                status,
                stock,
                updated_age,
                updated_sec: r.below(86_400) as u32,
                product: p as u64 + 1,
                dup_of: None,
            });
        }
        let mut exact: HashSet<String> = items.iter().map(|i| i.sku.clone()).collect();
        let normalized: HashSet<String> = items.iter().map(|i| normalize_sku(&i.sku)).collect();
        // Duplicate items: the same product under a variant SKU.
        let mut dups = Vec::new();
        for it in items.iter() {
            if !r.chance(0.02) {
                continue;
            }
            let mut sku = String::new();
            for _ in 0..4 {
                sku = match r.below(4) {
                    0 => it.sku.to_ascii_lowercase(),
                    1 => it.sku.replacen('-', "", 1),
                    2 => it.sku.replacen('-', " ", 1),
                    _ => it.sku.replacen('-', "_", 1),
                };
                if !exact.contains(&sku) {
                    break;
                }
            }
            if exact.contains(&sku) {
                continue;
            }
            exact.insert(sku.clone());
            let mut d = it.clone();
            d.sku = sku;
            d.name = match r.below(4) {
                0 => typo(&mut r, &it.name, 1),
                1 => it.name.to_uppercase(),
                2 => it
                    .name
                    .replace("Heavy-Duty", "HD")
                    .replace("Stainless", "SS")
                    .replace("Pack of ", "x")
                    .replace("Series ", "Ser. "),
                _ => {
                    let mut w: Vec<&str> = it.name.split(' ').collect();
                    if w.len() > 1 {
                        let last = w.pop().expect("nonempty");
                        w.insert(0, last);
                    }
                    w.join(" ")
                }
            };
            if d.name == it.name {
                d.name = typo(&mut r, &it.name, 1);
            }
            if r.chance(0.5) {
                d.price_cents = price(&mut r, (it.price_cents as u32).max(100));
            }
            d.stock = r.range(0, 300);
            d.status = if r.chance(0.6) {
                "discontinued"
            } else {
                "active"
            };
            d.updated_age = if r.chance(0.2) {
                r.range(STALE_MIN, 2500)
            } else {
                r.range(1, FRESH_MAX)
            };
            d.updated_sec = r.below(86_400) as u32;
            d.dup_of = Some(it.sku.clone());
            dups.push(d);
        }
        items.extend(dups);
        items.sort_by(|a, b| a.sku.cmp(&b.sku));
        let dup_targets: HashSet<String> = items.iter().filter_map(|i| i.dup_of.clone()).collect();
        let has_dup: Vec<bool> = items.iter().map(|i| dup_targets.contains(&i.sku)).collect();
        let mut popular: Vec<usize> = (0..items.len())
            .filter(|&k| items[k].dup_of.is_none())
            .collect();
        r.shuffle(&mut popular);
        let mut prefixes: Vec<String> = used_prefixes.into_iter().collect();
        prefixes.sort();
        Inventory {
            items,
            popular,
            has_dup,
            normalized,
            exact,
            prefixes,
        }
    }

    pub fn record(&self, truth: &mut Truth, defects: &mut Defects) {
        for it in &self.items {
            truth.add(INVENTORY, &it.sku, b'P', it.product);
            if let Some(orig) = &it.dup_of {
                defects.add(INVENTORY, &it.sku, "duplicate", INVENTORY, orig);
            }
            if it.updated_age > STALE_DAYS {
                defects.add(INVENTORY, &it.sku, "stale", "", "");
            }
        }
    }

    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("sku", DataType::Utf8, true),
            Field::new("item_name", DataType::Utf8, true),
            Field::new("category", DataType::Utf8, true),
            Field::new("unit_price", DataType::Utf8, true),
            Field::new("status", DataType::Utf8, true),
            Field::new("stock_qty", DataType::Int64, true),
            Field::new(
                "last_updated",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
        ]))
    }

    /// Writes the Parquet file (zstd); returns its size in bytes.
    pub fn write_parquet(&self, path: &Path, as_of: i64) -> Res<u64> {
        let schema = Self::schema();
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(64 * 1024))
            .build();
        let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
        for chunk in self.items.chunks(16 * 1024) {
            let mut price = Vec::with_capacity(8);
            let prices: Vec<String> = chunk
                .iter()
                .map(|i| {
                    price.clear();
                    push_cents(&mut price, i.price_cents);
                    String::from_utf8(price.clone()).expect("ASCII")
                })
                .collect();
            let cols: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|i| i.sku.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|i| i.name.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|i| i.category),
                )),
                Arc::new(StringArray::from_iter_values(
                    prices.iter().map(|s| s.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|i| i.status),
                )),
                Arc::new(Int64Array::from_iter_values(chunk.iter().map(|i| i.stock))),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(chunk.iter().map(|i| {
                        ((as_of - i.updated_age) * 86_400 + i.updated_sec as i64) * 1_000_000
                    }))
                    .with_timezone("UTC"),
                ),
            ];
            w.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
        }
        w.close()?;
        Ok(std::fs::metadata(path)?.len())
    }
}
