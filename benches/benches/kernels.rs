//! Criterion micro-benchmarks: recon's string-comparison kernels against strsim on the same
//! pairs, and the blocking step (key functions, key hashing, candidate generation).
//!
//! Inputs are generated (company-name cores from the generator, with typos), seeded, so every
//! run compares the same strings. Run: `cargo bench -p recon-benches --bench kernels`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use indexmap::IndexMap;
use recon::matching::block::{candidates, key_hashes, key_part, soundex};
use recon::matching::kernels;
use recon::matching::records::{Records, StrColumn};
use recon::matching::spec::{BlockingRule, KeyFunction, LinkMode};
use recon_benches::geo::COUNTRIES;
use recon_benches::names::Names;
use recon_benches::rng::Rng;
use recon_benches::vary::typo;

/// Pairs of (name, near-duplicate or unrelated name), as a matcher meets them after blocking:
/// half are typo'd copies, half are other names.
fn name_pairs(n: usize) -> Vec<(String, String)> {
    let names = Names::new(7);
    let mut rng = Rng::new(42);
    (0..n)
        .map(|i| {
            let a = names.company_core(i % COUNTRIES.len(), &mut rng);
            let b = if i % 2 == 0 {
                typo(&mut rng, &a, 1 + (i % 3))
            } else {
                names.company_core((i + 3) % COUNTRIES.len(), &mut rng)
            };
            (a, b)
        })
        .collect()
}

/// `n` records of two sources with a name and a postcode, about one in five a typo'd
/// duplicate of an earlier one (the shape blocking meets in a CRM export).
fn records(n: usize) -> Records {
    let names = Names::new(11);
    let mut rng = Rng::new(5);
    let mut name = StrColumn::with_capacity(n);
    let mut postcode = StrColumn::with_capacity(n);
    let mut keys = StrColumn::with_capacity(n);
    let mut made: Vec<(String, String)> = Vec::with_capacity(n);
    for i in 0..n {
        let (nm, pc) = if i > 0 && rng.chance(0.2) {
            let (nm, pc) = &made[rng.below_usize(made.len())];
            (typo(&mut rng, nm, 1), pc.clone())
        } else {
            let pc = format!("{:05}", rng.below(3000));
            (names.company_core(i % COUNTRIES.len(), &mut rng), pc)
        };
        name.push(Some(&nm));
        postcode.push(Some(&pc));
        keys.push(Some(&format!("K{i}")));
        made.push((nm, pc));
    }
    let mut fields = IndexMap::new();
    fields.insert("name".to_string(), name);
    fields.insert("postcode".to_string(), postcode);
    Records {
        sources: vec!["crm".into(), "billing".into()],
        source: (0..n).map(|i| (i % 2) as u16).collect(),
        keys,
        lines: (0..n as i64).collect(),
        fields,
    }
}

/// A string kernel under test, its result as a number (similarity or distance).
type Kernel = fn(&str, &str) -> f64;

fn string_kernels(c: &mut Criterion) {
    let pairs = name_pairs(10_000);
    let kernels: [(&str, Kernel); 8] = [
        ("jaro_winkler/recon", kernels::jaro_winkler),
        ("jaro_winkler/strsim", strsim::jaro_winkler),
        ("levenshtein/recon", |x, y| {
            kernels::levenshtein(x, y) as f64
        }),
        ("levenshtein/strsim", |x, y| {
            strsim::levenshtein(x, y) as f64
        }),
        // What a comparison level needs: "within 2 edits?" — the kernel stops early.
        ("levenshtein_within_2/recon", |x, y| {
            kernels::levenshtein_within(x, y, 2) as f64
        }),
        ("damerau_levenshtein/recon", |x, y| {
            kernels::damerau_levenshtein(x, y) as f64
        }),
        ("damerau_levenshtein/strsim", |x, y| {
            strsim::damerau_levenshtein(x, y) as f64
        }),
        ("damerau_levenshtein_within_2/recon", |x, y| {
            kernels::damerau_levenshtein_within(x, y, 2) as f64
        }),
    ];
    let mut g = c.benchmark_group("string_kernels");
    g.throughput(Throughput::Elements(pairs.len() as u64));
    for (name, f) in kernels {
        g.bench_function(name, |b| {
            b.iter(|| {
                pairs
                    .iter()
                    .map(|(x, y)| f(black_box(x), black_box(y)))
                    .sum::<f64>()
            })
        });
    }
    g.finish();
}

fn key_functions(c: &mut Criterion) {
    let pairs = name_pairs(10_000);
    let values: Vec<&str> = pairs.iter().map(|(a, _)| a.as_str()).collect();
    let mut g = c.benchmark_group("key_functions");
    g.throughput(Throughput::Elements(values.len() as u64));
    for (name, f) in [
        ("exact", KeyFunction::Exact),
        ("company", KeyFunction::Company),
        ("first_token", KeyFunction::FirstToken),
        ("prefix4", KeyFunction::Prefix(4)),
        ("soundex", KeyFunction::Soundex),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                values
                    .iter()
                    .filter_map(|v| key_part(f, black_box(v)))
                    .count()
            })
        });
    }
    g.bench_function("soundex_raw", |b| {
        b.iter(|| values.iter().filter_map(|v| soundex(black_box(v))).count())
    });
    g.finish();
}

fn blocking(c: &mut Criterion) {
    let mut g = c.benchmark_group("blocking");
    g.sample_size(10);
    for n in [10_000usize, 100_000] {
        let recs = records(n);
        let rules = vec![
            BlockingRule {
                name: None,
                keys: vec!["soundex(name)".into(), "postcode".into()],
            },
            BlockingRule {
                name: None,
                keys: vec!["prefix(name, 4)".into()],
            },
        ];
        let names: Vec<String> = vec!["soundex_postcode".into(), "prefix4".into()];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("key_hashes", n), &recs, |b, r| {
            b.iter(|| key_hashes(&rules[0], r))
        });
        g.bench_with_input(BenchmarkId::new("candidates", n), &recs, |b, r| {
            b.iter(|| {
                let col = r.field("name").expect("name field");
                let sort_key = |i: usize| col.get(i).unwrap_or("");
                let (c, _, _) = candidates(&rules, &names, r, LinkMode::Both, 1000, 50, &sort_key);
                c.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, string_kernels, key_functions, blocking);
criterion_main!(benches);
