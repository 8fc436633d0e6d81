//! Invoice lines (`invoice_lines.ndjson`): a skewed number of lines per billing
//! customer, skewed SKU popularity, planted unknown SKUs, SKU variants, unknown
//! customers and malformed lines.

use crate::customers::{Ctx, MIN_MALFORMED, P_MALFORMED, billing_per_entity};
use crate::fmt::*;
use crate::inventory::{INVENTORY, Inventory, sku_variant};
use crate::out::{Defects, Out, Res};
use crate::rng::{Every, Rng, Zipf, stream};
use crate::vary::normalize_sku;

pub const LINES: &str = "invoice_lines";
const P_UNKNOWN_CUSTOMER: f64 = 0.002;
const P_UNKNOWN_SKU: f64 = 0.005;
const P_SKU_VARIANT: f64 = 0.01;

pub struct LineCounts {
    pub lines: u64,
    pub malformed: u64,
    pub invoices: u64,
    pub bytes: u64,
}

struct Line<'a> {
    id: &'a str,
    invoice: &'a str,
    customer: &'a str,
    sku: &'a str,
    description: &'a str,
    quantity: u64,
    cents: u64,
    currency: &'a str,
    date: i64,
}

fn push_line(buf: &mut Vec<u8>, l: &Line) {
    buf.extend_from_slice(b"{\"id\": ");
    push_json_str(buf, l.id);
    buf.extend_from_slice(b", \"invoice\": ");
    push_json_str(buf, l.invoice);
    buf.extend_from_slice(b", \"customer\": ");
    push_json_str(buf, l.customer);
    buf.extend_from_slice(b", \"sku\": ");
    push_json_str(buf, l.sku);
    buf.extend_from_slice(b", \"description\": ");
    push_json_str(buf, l.description);
    buf.extend_from_slice(b", \"quantity\": ");
    push_u64(buf, l.quantity);
    buf.extend_from_slice(b", \"unit_amount_decimal\": \"");
    push_cents(buf, l.cents);
    buf.extend_from_slice(b"\", \"currency\": ");
    push_json_str(buf, l.currency);
    buf.extend_from_slice(b", \"invoice_date\": \"");
    push_ymd(buf, l.date);
    buf.extend_from_slice(b"\"}\n");
}

/// A line that recon must quarantine, built from a valid one.
fn push_malformed(r: &mut Rng, buf: &mut Vec<u8>, l: &Line) {
    let start = buf.len();
    match r.weighted(&[30, 20, 20, 10, 10, 10]) {
        0 => {
            // Truncated JSON (an interrupted export).
            push_line(buf, l);
            let len = buf.len() - start;
            let cut = start + len / 3 + r.below_usize(len / 2);
            buf.truncate(cut);
            buf.push(b'\n');
        }
        1 => {
            buf.push(b'[');
            push_json_str(buf, l.id);
            buf.extend_from_slice(b", ");
            push_json_str(buf, l.invoice);
            buf.extend_from_slice(b", ");
            push_json_str(buf, l.customer);
            buf.extend_from_slice(b"]\n");
        }
        2 => {
            push_line(buf, l);
            let text = String::from_utf8(buf[start..].to_vec()).expect("UTF-8");
            let word = *r.pick(&["two", "three", "ten", "a dozen", "1.5"]);
            let fixed = text.replacen(
                &format!("\"quantity\": {}", l.quantity),
                &format!("\"quantity\": \"{word}\""),
                1,
            );
            buf.truncate(start);
            buf.extend_from_slice(fixed.as_bytes());
        }
        3 => {
            // No key.
            push_line(buf, l);
            let text = String::from_utf8(buf[start..].to_vec()).expect("UTF-8");
            let fixed = text.replacen(&format!("\"id\": \"{}\", ", l.id), "", 1);
            buf.truncate(start);
            buf.extend_from_slice(fixed.as_bytes());
        }
        4 => {
            // A nested value where a scalar is expected.
            push_line(buf, l);
            let text = String::from_utf8(buf[start..].to_vec()).expect("UTF-8");
            let fixed = text.replacen(
                &format!("\"sku\": \"{}\"", l.sku),
                &format!("\"sku\": {{\"code\": \"{}\"}}", l.sku),
                1,
            );
            buf.truncate(start);
            buf.extend_from_slice(fixed.as_bytes());
        }
        _ => {
            // A required value left empty.
            let e = Line { customer: "", ..*l };
            push_line(buf, &e);
        }
    }
}

pub fn write_lines(
    ctx: &Ctx,
    inv: &Inventory,
    lines_per_customer: f64,
    mut out: Out,
) -> Res<(LineCounts, Defects)> {
    let mut defects = Defects::default();
    let ids = ctx.ids;
    let mean = lines_per_customer / billing_per_entity();
    let sku_zipf = Zipf::new(inv.popular.len(), 4.0);
    let expected_lines = (ctx.n as f64 * lines_per_customer).max(1.0);
    let p_mal = P_MALFORMED.max(MIN_MALFORMED / expected_lines).min(0.5);
    let mut mal = Every::new(
        Rng::stream(ctx.seed, stream::MALFORMED_LINES, 0),
        1.0 / p_mal,
    );
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 21);
    let mut line_no: u64 = 1;
    let mut line_counter: u64 = 0;
    let mut invoice_counter: u64 = 0;
    let mut unknown_counter: u64 = 0;
    let mut malformed = 0u64;
    let mut written = 0u64;
    let mut var_buf = String::new();
    let mut unknown_buf = String::new();
    for i in 0..ctx.n {
        let p = ctx.plan(i);
        if p.n_billing == 0 {
            continue;
        }
        // The wholesaler invoices in US dollars only (the demo's user rule).
        let currency = "usd";
        for k in 0..p.n_billing as u64 {
            let cus = ids.cus(i, k);
            let mut r = Rng::stream(ctx.seed, stream::INVOICE, i * 2 + k);
            // Activity tiers with mean multiplier 1: most customers buy little, a few a lot.
            let mult = *r.pick_weighted(&[(0.2f64, 45u32), (1.0, 35), (2.4, 15), (4.0, 5)]);
            let mut remaining = (2.0 * mult * mean * r.f64() + 0.5) as u64;
            let max_age = p.billing_created_age[k as usize].clamp(1, 730);
            while remaining > 0 {
                let n_lines = remaining.min(r.range(1, 5) as u64);
                remaining -= n_lines;
                let invoice = ids.invoice(invoice_counter);
                invoice_counter += 1;
                let date = ctx.as_of - r.range(1, max_age);
                for _ in 0..n_lines {
                    let id = ids.line(line_counter);
                    line_counter += 1;
                    let item = &inv.items[inv.popular[sku_zipf.sample(&mut r)]];
                    let quantity = *r.pick_weighted(&[
                        (1u64, 30u32),
                        (2, 15),
                        (3, 10),
                        (4, 7),
                        (5, 8),
                        (6, 5),
                        (8, 4),
                        (10, 8),
                        (12, 4),
                        (15, 2),
                        (20, 3),
                        (24, 2),
                        (25, 2),
                        (50, 2),
                        (100, 1),
                    ]);
                    let cents = if r.chance(0.1) {
                        let d = *r.pick(&[5u64, 10, 15, 20]);
                        (item.price_cents * (100 - d) / 100).max(1)
                    } else {
                        item.price_cents
                    };
                    let mut customer = cus.as_str();
                    let mut sku = item.sku.as_str();
                    let u = r.f64();
                    let mut planted: Option<(&'static str, &'static str, String)> = None;
                    if u < P_UNKNOWN_CUSTOMER {
                        let unknown = ids.cus_unknown(unknown_counter);
                        unknown_counter += 1;
                        unknown_buf.clear();
                        unknown_buf.push_str(unknown.as_str());
                        customer = &unknown_buf;
                        planted = Some((
                            "unknown_customer",
                            "billing_customers",
                            cus.as_str().to_string(),
                        ));
                    } else if u < P_UNKNOWN_CUSTOMER + P_UNKNOWN_SKU {
                        unknown_sku(&mut r, inv, &mut var_buf);
                        sku = &var_buf;
                        planted = Some(("unknown_sku", "", String::new()));
                    } else if u < P_UNKNOWN_CUSTOMER + P_UNKNOWN_SKU + P_SKU_VARIANT {
                        // A variant of an item that has no duplicate item, so it matches
                        // no SKU exactly.
                        let idx = inv.popular[sku_zipf.sample(&mut r)];
                        if !inv.has_dup[idx] {
                            let base = &inv.items[idx];
                            var_buf = sku_variant(&mut r, &base.sku);
                            if !inv.exact.contains(&var_buf) {
                                sku = &var_buf;
                                planted = Some(("sku_variant", INVENTORY, base.sku.clone()));
                            }
                        }
                    }
                    let description = if planted.as_ref().is_some_and(|p| p.0 == "unknown_sku") {
                        "Custom item"
                    } else {
                        item.name.as_str()
                    };
                    let line = Line {
                        id: id.as_str(),
                        invoice: invoice.as_str(),
                        customer,
                        sku,
                        description,
                        quantity,
                        cents,
                        currency,
                        date,
                    };
                    if mal.tick() {
                        // An extra, broken line before this one (its own line ID).
                        let mid = ids.line(line_counter);
                        line_counter += 1;
                        let m = Line {
                            id: mid.as_str(),
                            ..line
                        };
                        push_malformed(mal.rng(), &mut buf, &m);
                        defects.malformed(LINES, line_no);
                        line_no += 1;
                        malformed += 1;
                    }
                    push_line(&mut buf, &line);
                    if let Some((code, rs, rk)) = &planted {
                        defects.add(LINES, id.as_str(), code, rs, rk);
                    }
                    line_no += 1;
                    written += 1;
                    if buf.len() >= 1 << 20 {
                        out.write(&buf)?;
                        buf.clear();
                    }
                }
            }
        }
    }
    out.write(&buf)?;
    let bytes = out.finish()?;
    Ok((
        LineCounts {
            lines: written,
            malformed,
            invoices: invoice_counter,
            bytes,
        },
        defects,
    ))
}

/// A SKU that is not in the inventory, not even after normalisation.
fn unknown_sku(r: &mut Rng, inv: &Inventory, out: &mut String) {
    loop {
        out.clear();
        if r.chance(0.7) {
            out.push_str(&inv.prefixes[r.below_usize(inv.prefixes.len())]);
        } else {
            for _ in 0..3 {
                out.push((b'A' + r.below(26) as u8) as char);
            }
        }
        out.push('-');
        out.push_str(&format!("{:04}", r.range(1000, 9999)));
        if !inv.normalized.contains(&normalize_sku(out)) {
            return;
        }
    }
}
