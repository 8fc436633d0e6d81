//! Smoke run of the fuzz targets (`pipeline/fuzz/`) in the default test command: each
//! target body from `recon::fuzzing` runs over its committed seed corpus and over a few
//! thousand deterministic mutations of it, and must keep its invariants (no panic; rows
//! read = accepted + quarantined; accepted rows survive Parquet; …). Crashes the long
//! libFuzzer runs found are pinned as regression inputs at the end.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{}: too few seeds", dir.display());
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes the parsers treat specially.
const TOKENS: &[&[u8]] = &[
    b",",
    b";",
    b"\t",
    b"|",
    b"\"",
    b"'",
    b"\"\"",
    b"\n",
    b"\r",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc3",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"\\",
    b"\\u",
    b"null",
    b"true",
    b"-",
    b"+",
    b".",
    b"e",
    b"0",
    b"9999",
    b"%",
    b"%Y",
    b"T",
    b"Z",
    b"+23:59",
    b"{{",
    b"}}",
    b"-- ",
    b"=",
    b"[[source]]",
    b"\x80",
    b"\xe9",
];

/// One deterministic mutation of `seed` (splicing with `other`); the option block at
/// the front is mutated like the rest.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let pos = rng.below(d.len() + 1);
        match rng.below(7) {
            0 if !d.is_empty() => {
                let i = pos.min(d.len() - 1);
                d[i] = rng.next() as u8;
            }
            1 | 2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                d.splice(pos..pos, t.iter().copied());
            }
            3 if !d.is_empty() => {
                let end = (pos + 1 + rng.below(16)).min(d.len());
                d.drain(pos.min(end)..end);
            }
            4 => {
                let end = (pos + rng.below(32)).min(d.len());
                let chunk: Vec<u8> = d[pos.min(end)..end].to_vec();
                d.splice(pos..pos, chunk);
            }
            5 if !other.is_empty() => {
                let a = rng.below(other.len());
                let b = (a + rng.below(64)).min(other.len());
                d.splice(pos..pos, other[a..b].iter().copied());
            }
            _ => d.truncate(pos),
        }
    }
    d
}

/// Runs `body` over the seeds and `n` mutations; reports the input on a panic.
fn smoke<R>(target: &str, n: usize, mut body: impl FnMut(&[u8]) -> R) -> Vec<R> {
    let seeds = corpus(target);
    let mut out = Vec::new();
    let run = |name: &str, data: &[u8], body: &mut dyn FnMut(&[u8]) -> R| -> R {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(data))) {
            Ok(r) => r,
            Err(_) => {
                let dump = std::env::temp_dir().join(format!("recon-fuzz-smoke-{target}"));
                std::fs::write(&dump, data).unwrap();
                panic!(
                    "fuzz target {target} panicked on {name}; input saved to {} (replay: cargo test -p recon --test fuzz_smoke, or the fuzz target with that file)",
                    dump.display()
                );
            }
        }
    };
    for (name, data) in &seeds {
        out.push(run(name, data, &mut body));
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    for i in 0..n {
        let a = &seeds[rng.below(seeds.len())].1;
        let b = &seeds[rng.below(seeds.len())].1;
        let data = mutate(&mut rng, a, b);
        out.push(run(&format!("mutation {i}"), &data, &mut body));
    }
    out
}

#[test]
fn csv_target_smoke() {
    let seeds = corpus("csv").len();
    let got = smoke("csv", 3000, recon::fuzzing::csv);
    // Not vacuous: every seed is extracted, and the runs accept and quarantine rows.
    assert!(
        got[..seeds].iter().all(Option::is_some),
        "a seed was refused: {got:?}"
    );
    let accepted: u64 = got.iter().flatten().map(|r| r.0).sum();
    let quarantined: u64 = got.iter().flatten().map(|r| r.1).sum();
    assert!(
        accepted > 500 && quarantined > 500,
        "{accepted} / {quarantined}"
    );
}

#[test]
fn ndjson_target_smoke() {
    let seeds = corpus("ndjson").len();
    let got = smoke("ndjson", 3000, recon::fuzzing::ndjson);
    assert!(
        got[..seeds].iter().all(Option::is_some),
        "a seed was refused: {got:?}"
    );
    let accepted: u64 = got.iter().flatten().map(|r| r.0).sum();
    let quarantined: u64 = got.iter().flatten().map(|r| r.1).sum();
    assert!(
        accepted > 500 && quarantined > 500,
        "{accepted} / {quarantined}"
    );
}

#[test]
fn coerce_target_smoke() {
    smoke("coerce", 10000, recon::fuzzing::coerce);
}

#[test]
fn config_target_smoke() {
    smoke("config", 5000, recon::fuzzing::config);
}

#[test]
fn rule_file_target_smoke() {
    smoke("rule_file", 5000, recon::fuzzing::rule_file);
}

/// A reader that hands out its parts one `read` at a time.
struct Parts(Vec<Vec<u8>>);

impl std::io::Read for Parts {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Ok(0);
        }
        let part = &mut self.0[0];
        let n = part.len().min(buf.len());
        buf[..n].copy_from_slice(&part[..n]);
        part.drain(..n);
        if part.is_empty() {
            self.0.remove(0);
        }
        Ok(n)
    }
}

/// Regression: the NDJSON twin of the CSV scanner's bug — skipping a line longer than
/// max_record_bytes refilled the buffer that lines already found in the chunk point
/// into (a panic at the end of a file, lines carrying other lines' bytes in the middle).
#[test]
fn ndjson_lines_survive_skipping_a_too_large_line_after_them() {
    let long = "y".repeat(1500);
    for parts in [
        vec![format!("{{\"a\":1}}\n{{\"b\":\"{long}")],
        vec![
            format!("{{\"a\":1}}\n{{\"b\":\"{long}"),
            format!("{long}\"}}\n{{\"c\":3}}\n"),
        ],
    ] {
        let reader = Parts(parts.into_iter().map(String::into_bytes).collect());
        let mut lines =
            recon::extract::ndjson::LineChunker::new(reader, Path::new("t.ndjson"), 1024, 10);
        let mut got = Vec::new();
        while let Some(c) = lines.next_chunk(100).unwrap() {
            for r in &c.records {
                let text = c.data.get(r.start..r.end).expect("the line's bytes");
                got.push((r.line, String::from_utf8_lossy(text).into_owned()));
            }
            for b in &c.bad {
                got.push((b.line, b.reason.as_str().to_string()));
            }
        }
        got.sort();
        assert_eq!(got[0], (1, "{\"a\":1}".to_string()));
        assert_eq!(got[1], (2, "record_too_large".to_string()));
        if got.len() > 2 {
            assert_eq!(got[2], (3, "{\"c\":3}".to_string()));
        }
    }
}
