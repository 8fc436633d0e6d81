//! Embeds the built-in rule pack (`../rules/builtin/*.sql`) into the binary, so an
//! installed `recon` runs the same rules as the repository without shipping files.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/builtin");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect()
        })
        .unwrap_or_default();
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
