//! Embeds the built-in rule pack (`../rules/builtin/*.sql`) into the binary, so an
//! installed `recon` runs the same rules as the repository without shipping files.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // The manifest directory of this build, read when the script runs: `env!` would
    // bake in the directory the script was first compiled in, and cargo reuses a
    // compiled build script for a checkout at another path sharing the target
    // directory — which then embedded no rules at all.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("../rules/builtin");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the built-in rules {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    // A binary without its rule pack would pass every night with no rules checked.
    assert!(
        !files.is_empty(),
        "no built-in rules (*.sql) in {}",
        dir.display()
    );
    files.sort();
    let mut out = String::from(
        "/// Built-in rules: (path relative to rules/, file text).\npub const BUILTIN: &[(&str, &str)] = &[\n",
    );
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let abs = f.canonicalize().unwrap();
        writeln!(
            out,
            "    (\"builtin/{name}\", include_str!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_rules.rs");
    std::fs::write(dest, out).unwrap();
}
