//! The generated `recon.toml`: the demo configuration with only `[run]` (`output`,
//! `as_of`) and the sources' `path` lines rewritten, so every other section stays in
//! sync with `fixtures/demo/recon.toml`.

fn key_of(t: &str) -> Option<&str> {
    if t.starts_with('#') || !t.contains('=') {
        return None;
    }
    Some(t.split('=').next().unwrap_or("").trim())
}

/// Rewrites `template`. In `[run]`, `output` becomes `"out"` and `as_of` the given
/// date (added after the table's last key when absent). `path = "…"` lines of
/// `[[source]]` tables keep only the file name (the generated files have the demo's
/// file names). Everything else is kept byte for byte.
pub fn render(template: &str, as_of: &str) -> String {
    let mut lines: Vec<String> = template.split_inclusive('\n').map(str::to_string).collect();
    let mut section = String::new();
    let mut run_header: Option<usize> = None;
    let mut run_last_key: Option<usize> = None;
    let (mut has_output, mut has_as_of) = (false, false);
    for (idx, raw) in lines.iter_mut().enumerate() {
        let line = raw.trim_end_matches(['\n', '\r']).to_string();
        let eol = raw[line.len()..].to_string();
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        if t.starts_with('[') {
            section = t.split('#').next().unwrap_or("").trim().to_string();
            if section == "[run]" {
                run_header = Some(idx);
            }
            continue;
        }
        let Some(key) = key_of(t) else { continue };
        if section == "[run]" {
            run_last_key = Some(idx);
            if key == "output" {
                *raw = format!("{indent}output = \"out\"{eol}");
                has_output = true;
            } else if key == "as_of" {
                *raw = format!("{indent}as_of = \"{as_of}\"{eol}");
                has_as_of = true;
            }
        } else if section == "[[source]]" && key == "path" {
            let value = t.split_once('=').map(|x| x.1.trim()).unwrap_or("");
            if let Some(v) = value.strip_prefix('"').and_then(|v| v.split('"').next()) {
                let name = std::path::Path::new(v)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| v.to_string());
                *raw = format!("{indent}path = \"{name}\"{eol}");
            }
        }
    }
    let mut missing = String::new();
    if !has_output {
        missing.push_str("output = \"out\"\n");
    }
    if !has_as_of {
        missing.push_str(&format!("as_of = \"{as_of}\"\n"));
    }
    match (run_header, run_last_key) {
        (_, Some(k)) => {
            if !lines[k].ends_with('\n') {
                lines[k].push('\n');
            }
            lines.insert(k + 1, missing);
        }
        (Some(h), None) => {
            if !lines[h].ends_with('\n') {
                lines[h].push('\n');
            }
            lines.insert(h + 1, missing);
        }
        (None, None) => lines.insert(0, format!("[run]\n{missing}\n")),
    }
    lines.concat()
}

/// Relative directories named by `[rules] dirs = [...]`: they are resolved against the
/// config file's directory, so the generator copies them next to the generated config.
pub fn relative_rule_dirs(template: &str) -> Vec<String> {
    let mut section = String::new();
    let mut collecting = false;
    let mut value = String::new();
    for line in template.lines() {
        let t = line.trim();
        if collecting {
            value.push_str(t.split('#').next().unwrap_or(""));
            if t.contains(']') {
                break;
            }
            continue;
        }
        if t.starts_with('[') {
            section = t.split('#').next().unwrap_or("").trim().to_string();
            continue;
        }
        if section == "[rules]" && key_of(t) == Some("dirs") {
            value = t.split_once('=').map(|x| x.1).unwrap_or("").to_string();
            if !value.contains(']') {
                collecting = true;
                continue;
            }
            break;
        }
    }
    value
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|d| !d.is_empty() && !std::path::Path::new(d).is_absolute())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{relative_rule_dirs, render};

    #[test]
    fn finds_rule_dirs() {
        let t = "[run]\noutput = \"x\"\n\n[rules]\nbuiltin = true\ndirs = [\"rules\", \"/abs\", \"more/rules\"]\n";
        assert_eq!(relative_rule_dirs(t), ["rules", "more/rules"]);
        let t2 = "[rules]\ndirs = [\n  \"a\",\n  \"b\",\n]\n[[source]]\n";
        assert_eq!(relative_rule_dirs(t2), ["a", "b"]);
        assert!(relative_rule_dirs("[run]\n").is_empty());
    }

    #[test]
    fn rewrites_run_and_paths_only() {
        let t = "# comment\n[run]\noutput = \"../../out/demo\"\ntime_zone = \"America/Chicago\"\n\n[[source]]\nname = \"a\"\npath = \"data/a.csv\"\n\n[source.columns]\npath = { from = \"x\" }\n";
        let r = render(t, "2026-11-20");
        assert_eq!(
            r,
            "# comment\n[run]\noutput = \"out\"\ntime_zone = \"America/Chicago\"\nas_of = \"2026-11-20\"\n\n[[source]]\nname = \"a\"\npath = \"a.csv\"\n\n[source.columns]\npath = { from = \"x\" }\n"
        );
        let t2 =
            "[run]\nas_of = \"2020-01-01\"\ntime_zone = \"UTC\"\n\n[[source]]\npath = \"x.csv\"\n";
        let r2 = render(t2, "2026-11-20");
        assert_eq!(
            r2,
            "[run]\nas_of = \"2026-11-20\"\ntime_zone = \"UTC\"\noutput = \"out\"\n\n[[source]]\npath = \"x.csv\"\n"
        );
    }
}
