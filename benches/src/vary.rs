//! Realistic variations of names, streets, e-mails and SKUs: typos, legal-suffix
//! variants, abbreviations, transliteration, case changes.

use crate::rng::Rng;
use crate::words::{
    ADDRESS_ABBREVIATIONS, STREET_TYPES_EN, STREET_TYPES_ES, STREET_TYPES_FR, WORD_ABBREVIATIONS,
};

/// Neighbouring keys on a QWERTY keyboard.
fn neighbours(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'q' => "wa",
        'w' => "qeas",
        'e' => "wrsd",
        'r' => "etdf",
        't' => "ryfg",
        'y' => "tugh",
        'u' => "yihj",
        'i' => "uojk",
        'o' => "ipkl",
        'p' => "ol",
        'a' => "qwsz",
        's' => "awedxz",
        'd' => "serfcx",
        'f' => "drtgvc",
        'g' => "ftyhbv",
        'h' => "gyujnb",
        'j' => "huikmn",
        'k' => "jiolm",
        'l' => "kop",
        'z' => "asx",
        'x' => "zsdc",
        'c' => "xdfv",
        'v' => "cfgb",
        'b' => "vghn",
        'n' => "bhjm",
        'm' => "njk",
        _ => "",
    }
}

fn same_case(template: char, c: char) -> char {
    if template.is_uppercase() {
        c.to_ascii_uppercase()
    } else {
        c
    }
}

/// One or two keyboard typos: swap, drop, insert or substitute an adjacent key.
/// Only letters after the first character are touched; the result always differs.
pub fn typo(rng: &mut Rng, s: &str, edits: usize) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let original = chars.clone();
    for attempt in 0..8 {
        if attempt > 0 {
            chars.clone_from(&original);
        }
        for _ in 0..edits.max(1) {
            let letters: Vec<usize> = (1..chars.len())
                .filter(|&i| chars[i].is_ascii_alphabetic())
                .collect();
            if letters.is_empty() {
                break;
            }
            let i = letters[rng.below_usize(letters.len())];
            match rng.weighted(&[30, 25, 20, 25]) {
                0 => {
                    if i + 1 < chars.len() && chars[i + 1].is_ascii_alphabetic() {
                        chars.swap(i, i + 1);
                    } else {
                        chars.swap(i - 1, i);
                    }
                }
                1 => {
                    if chars.len() > 3 {
                        chars.remove(i);
                    }
                }
                2 => {
                    let n = neighbours(chars[i]);
                    let c = if n.is_empty() || rng.chance(0.4) {
                        chars[i]
                    } else {
                        same_case(chars[i], n.as_bytes()[rng.below_usize(n.len())] as char)
                    };
                    chars.insert(i + 1, c);
                }
                _ => {
                    let n = neighbours(chars[i]);
                    if !n.is_empty() {
                        chars[i] =
                            same_case(chars[i], n.as_bytes()[rng.below_usize(n.len())] as char);
                    }
                }
            }
        }
        if chars != original && chars.iter().any(|c| !c.is_whitespace()) {
            return chars.into_iter().collect();
        }
    }
    // Fallback: double the last letter.
    let mut out = s.to_string();
    if let Some(c) = s.chars().last() {
        out.push(c);
    }
    out
}

const SUFFIX_FAMILIES: &[&[&str]] = &[
    &["Inc", "Inc.", "Incorporated", "INC"],
    &["Corp", "Corp.", "Corporation"],
    &["LLC", "L.L.C.", "Llc"],
    &["Ltd", "Ltd.", "Limited"],
    &["Co", "Co.", "Company"],
    &["GmbH", "Gmbh", "G.m.b.H."],
    &["SA", "S.A.", "S.A"],
    &["plc", "PLC", "Plc"],
    &["AG", "A.G."],
    &["BV", "B.V.", "Bv"],
];

/// Another spelling of a legal suffix (or none; or one where there was none).
pub fn suffix_variant(
    rng: &mut Rng,
    suffix: &str,
    default_for_country: &'static str,
) -> &'static str {
    if suffix.is_empty() {
        return default_for_country;
    }
    if rng.chance(0.3) {
        return "";
    }
    for fam in SUFFIX_FAMILIES {
        if fam.contains(&suffix) {
            let others: Vec<&'static str> = fam.iter().copied().filter(|s| *s != suffix).collect();
            return others[rng.below_usize(others.len())];
        }
    }
    ""
}

/// Finds `word` in `s` as a whole word (bounded by start/end, space, newline, comma
/// or period).
fn find_word(s: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(k) = s[from..].find(word) {
        let start = from + k;
        let end = start + word.len();
        let before_ok = start == 0 || matches!(s.as_bytes()[start - 1], b' ' | b'\n');
        let after_ok = end == s.len() || matches!(s.as_bytes()[end], b' ' | b'\n' | b',' | b'.');
        if before_ok && after_ok {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

fn replace_at(s: &str, at: usize, len: usize, with: &str) -> String {
    let mut out = String::with_capacity(s.len() + with.len());
    out.push_str(&s[..at]);
    out.push_str(with);
    out.push_str(&s[at + len..]);
    out
}

/// Abbreviates or expands one address word ("Street" ↔ "St", "straße" ↔ "str.",
/// "Avenida" ↔ "Avda."). `None` when the street has no such word.
pub fn toggle_street_abbreviation(rng: &mut Rng, s: &str) -> Option<String> {
    // Suffix forms inside a word (German, Dutch).
    for (long, shorts) in [
        ("straße", &["str.", "strasse", "Str."][..]),
        ("strasse", &["straße", "str."][..]),
        ("straat", &["str."][..]),
    ] {
        if let Some(k) = s.find(long) {
            let short = shorts[rng.below_usize(shorts.len())];
            return Some(replace_at(s, k, long.len(), short));
        }
    }
    if let Some(k) = s.find("str.") {
        return Some(replace_at(s, k, 4, "straße"));
    }
    let mut candidates: Vec<(usize, usize, String)> = Vec::new();
    let mut consider = |full: &str, abbr: &str, dot: bool| {
        if full == abbr {
            return;
        }
        if let Some(k) = find_word(s, full) {
            let with = if dot && rng.chance(0.3) {
                format!("{abbr}.")
            } else {
                abbr.to_string()
            };
            candidates.push((k, full.len(), with));
        } else if let Some(k) = find_word(s, abbr) {
            // Expand, swallowing a trailing period.
            let len = if s[k + abbr.len()..].starts_with('.') {
                abbr.len() + 1
            } else {
                abbr.len()
            };
            candidates.push((k, len, full.to_string()));
        }
    };
    for &(full, abbr, _) in STREET_TYPES_EN {
        consider(full, abbr, true);
    }
    for &(full, abbr) in ADDRESS_ABBREVIATIONS {
        consider(full, abbr, true);
    }
    for &(full, abbr, _) in STREET_TYPES_FR {
        consider(full, abbr, false);
    }
    for &(full, abbr, _) in STREET_TYPES_ES {
        consider(full, abbr, false);
    }
    if candidates.is_empty() {
        return None;
    }
    // Prefer the street type (the last candidate found in the text).
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let pick = if candidates.len() > 1 && rng.chance(0.25) {
        1
    } else {
        0
    };
    let (k, len, with) = &candidates[pick];
    Some(replace_at(s, *k, *len, with))
}

/// Abbreviates or expands a word of a company name ("International" ↔ "Intl").
pub fn toggle_name_abbreviation(s: &str) -> Option<String> {
    for &(full, abbr) in WORD_ABBREVIATIONS {
        if let Some(k) = find_word(s, full) {
            return Some(replace_at(s, k, full.len(), abbr));
        }
    }
    for &(full, abbr) in WORD_ABBREVIATIONS {
        if let Some(k) = find_word(s, abbr) {
            let len = if s[k + abbr.len()..].starts_with('.') {
                abbr.len() + 1
            } else {
                abbr.len()
            };
            return Some(replace_at(s, k, len, full));
        }
    }
    None
}

/// "&" ↔ "and".
pub fn toggle_ampersand(s: &str) -> Option<String> {
    if s.contains(" & ") {
        Some(s.replacen(" & ", " and ", 1))
    } else if s.contains(" and ") {
        Some(s.replacen(" and ", " & ", 1))
    } else {
        None
    }
}

/// ASCII transliteration: German style (ü → ue) or stripped accents (ü → u).
pub fn transliterate(s: &str, german: bool, out: &mut String) {
    out.clear();
    for c in s.chars() {
        let r: &str = match c {
            'ä' if german => "ae",
            'ö' if german => "oe",
            'ü' if german => "ue",
            'Ä' if german => "Ae",
            'Ö' if german => "Oe",
            'Ü' if german => "Ue",
            'ä' | 'à' | 'á' | 'â' | 'ã' => "a",
            'ö' | 'ò' | 'ó' | 'ô' | 'õ' | 'º' => "o",
            'ü' | 'ù' | 'ú' | 'û' => "u",
            'Ä' | 'À' | 'Á' | 'Â' => "A",
            'Ö' | 'Ó' | 'Ò' | 'Ô' => "O",
            'Ü' | 'Ú' | 'Ù' => "U",
            'ß' => "ss",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'É' | 'È' | 'Ê' => "E",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'Í' | 'Î' => "I",
            'ç' => "c",
            'Ç' => "C",
            'ñ' => "n",
            'Ñ' => "N",
            'ª' => "a",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(r);
    }
}

/// Lower-case ASCII letters and digits only (for domains).
pub fn slug(s: &str, hyphens: bool) -> String {
    let mut t = String::with_capacity(s.len());
    transliterate(s, true, &mut t);
    let mut out = String::with_capacity(t.len());
    let mut pending_sep = false;
    for c in t.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_sep && hyphens && !out.is_empty() {
                out.push('-');
            }
            pending_sep = false;
            out.push(c.to_ascii_lowercase());
        } else if c == ' ' || c == '-' {
            pending_sep = true;
        }
    }
    out
}

/// Normal form of a SKU: upper case without spaces, hyphens, underscores and dots.
pub fn normalize_sku(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_differ() {
        let mut r = Rng::new(3);
        for _ in 0..200 {
            let edits = 1 + r.below_usize(2);
            let t = typo(&mut r, "Harper Logistics", edits);
            assert_ne!(t, "Harper Logistics");
            assert!(!t.is_empty());
        }
    }

    #[test]
    fn abbreviations() {
        let mut r = Rng::new(1);
        let s = toggle_street_abbreviation(&mut r, "100 Main Street").unwrap();
        assert!(s == "100 Main St" || s == "100 Main St.", "{s}");
        assert_eq!(
            toggle_street_abbreviation(&mut r, "4120 Freidrich Ln").unwrap(),
            "4120 Freidrich Lane"
        );
        let de = toggle_street_abbreviation(&mut r, "Goethestraße 5").unwrap();
        assert!(de.starts_with("Goethestr") && de != "Goethestraße 5");
        assert!(
            toggle_street_abbreviation(&mut r, "5230 Newell Road\nSuite 3")
                .map(|s| s.contains("Rd") || s.contains("Ste"))
                .unwrap()
        );
        assert_eq!(
            toggle_name_abbreviation("Acme International").unwrap(),
            "Acme Intl"
        );
        assert_eq!(
            toggle_ampersand("Miller & Cole").unwrap(),
            "Miller and Cole"
        );
        let mut t = String::new();
        transliterate("Café Müller Königsallee", true, &mut t);
        assert_eq!(t, "Cafe Mueller Koenigsallee");
        assert_eq!(slug("Café Müller & Co", false), "cafemuellerco");
        assert_eq!(normalize_sku("wid 1001"), "WID1001");
    }
}
