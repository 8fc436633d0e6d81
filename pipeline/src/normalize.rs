//! Normalisers and validators shared by the SQL rules (as UDFs) and the matcher
//! (standardisation): one definition of "the same email", "a valid phone", "the same
//! company name", so a rule and a match never disagree about it.
//!
//! Every function takes `&str` and is total: no panics on any input, including empty
//! strings and arbitrary Unicode.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folds text for comparison: Unicode compatibility decomposition, accents removed,
/// a few letters transliterated (ß→ss, æ→ae, ø→o, ł→l …), lower case, every run of
/// punctuation or whitespace turned into one space, trimmed. `&` becomes `and`.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return fold_ascii(s.as_bytes());
    }
    fold_unicode(s)
}

/// `fold` of ASCII text, byte by byte: decomposition is the identity and no letter
/// needs transliterating, so only case, apostrophes, `&` and separators remain (the
/// same result as `fold_unicode`, several times faster; most master data is ASCII).
fn fold_ascii(s: &[u8]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(s.len() + 4);
    let mut pending_space = false;
    for &b in s {
        match b {
            b'&' => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(b"and");
                pending_space = true;
            }
            b'\'' | b'`' => {}
            b if b.is_ascii_alphanumeric() => {
                if pending_space && !out.is_empty() {
                    out.push(b' ');
                }
                pending_space = false;
                out.push(b.to_ascii_lowercase());
            }
            _ => pending_space = true,
        }
    }
    String::from_utf8(out).expect("ASCII in, ASCII out")
}

fn fold_unicode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let push = |out: &mut String, c: char, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
        out.push(c);
    };
    for c in s.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => {
                push(&mut out, 's', &mut pending_space);
                out.push('s');
            }
            'æ' | 'Æ' => {
                push(&mut out, 'a', &mut pending_space);
                out.push('e');
            }
            'œ' | 'Œ' => {
                push(&mut out, 'o', &mut pending_space);
                out.push('e');
            }
            'ø' | 'Ø' => push(&mut out, 'o', &mut pending_space),
            'ł' | 'Ł' => push(&mut out, 'l', &mut pending_space),
            'đ' | 'Đ' | 'ð' | 'Ð' => push(&mut out, 'd', &mut pending_space),
            'þ' | 'Þ' => {
                push(&mut out, 't', &mut pending_space);
                out.push('h');
            }
            'ı' => push(&mut out, 'i', &mut pending_space),
            '&' => {
                pending_space = true;
                push(&mut out, 'a', &mut pending_space);
                out.push_str("nd");
                pending_space = true;
            }
            '\'' | '’' | '`' | '´' => {} // O'Brien → obrien
            c if c.is_alphanumeric() => {
                for l in c.to_lowercase() {
                    push(&mut out, l, &mut pending_space);
                }
            }
            _ => pending_space = true,
        }
    }
    out
}

/// Legal-form words removed from the end of company names (after folding).
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "gmbh",
    "mbh",
    "corp",
    "corporation",
    "co",
    "company",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "ag",
    "kg",
    "bv",
    "nv",
    "plc",
    "pty",
    "pte",
    "oy",
    "ab",
    "as",
    "aps",
    "kk",
    "se",
    "sl",
    "lda",
    "cv",
    "sia",
    "kft",
    "doo",
    "ohg",
    "ug",
    "eg",
    "ev",
    "the",
];

/// Folds a company name and removes legal forms (Inc, LLC, Ltd, GmbH, Corp, S.A., …)
/// from its end, repeatedly: "ACME Corp." and "Acme Corporation" both give "acme";
/// "Duff Beer S.A." gives "duff beer". Single letters separated by punctuation are
/// joined first ("S.A." → "sa"). A name made only of legal words is kept folded.
pub fn company_name(s: &str) -> String {
    let folded = fold(s);
    let mut tokens: Vec<String> = Vec::new();
    let mut letters = String::new();
    for t in folded.split(' ').filter(|t| !t.is_empty()) {
        if t.chars().count() == 1 && t.chars().all(|c| c.is_alphabetic()) {
            letters.push_str(t);
            continue;
        }
        if !letters.is_empty() {
            tokens.push(std::mem::take(&mut letters));
        }
        tokens.push(t.to_string());
    }
    if !letters.is_empty() {
        tokens.push(letters);
    }
    let mut end = tokens.len();
    while end > 1 && LEGAL_SUFFIXES.contains(&tokens[end - 1].as_str()) {
        end -= 1;
    }
    // A leading "the" says nothing either.
    let start = if end > 1 && tokens[0] == "the" { 1 } else { 0 };
    tokens[start..end].join(" ")
}

/// Street-address abbreviations and their canonical words (after folding).
const ADDRESS_WORDS: &[(&str, &str)] = &[
    ("st", "street"),
    ("str", "strasse"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("rd", "road"),
    ("ln", "lane"),
    ("dr", "drive"),
    ("blvd", "boulevard"),
    ("ct", "court"),
    ("pl", "place"),
    ("sq", "square"),
    ("hwy", "highway"),
    ("pkwy", "parkway"),
    ("cres", "crescent"),
    ("ter", "terrace"),
    ("tce", "terrace"),
    ("cir", "circle"),
    ("n", "north"),
    ("s", "south"),
    ("e", "east"),
    ("w", "west"),
    ("ne", "northeast"),
    ("nw", "northwest"),
    ("se", "southeast"),
    ("sw", "southwest"),
    ("apt", "apartment"),
    ("ste", "suite"),
    ("fl", "floor"),
    ("bldg", "building"),
    // French and Spanish forms ("7 r. de la Gare", "C/ San Juan", "Avda. de Madrid").
    ("r", "rue"),
    ("bd", "boulevard"),
    ("ch", "chemin"),
    ("imp", "impasse"),
    ("c", "calle"),
    ("cl", "calle"),
    ("avda", "avenue"),
    ("avenida", "avenue"),
    ("pza", "plaza"),
    ("pso", "paseo"),
    ("ctra", "carretera"),
];

/// Folds a street address and spells out common abbreviations ("100 Main St." and
/// "100 Main Street" both give "100 main street"; "Fichtenstr." gives "fichtenstrasse"
/// only when written as a separate word).
pub fn address(s: &str) -> String {
    let f = fold(s);
    let mut out = String::with_capacity(f.len() + 8);
    for (i, t) in f.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match ADDRESS_WORDS.iter().find(|(a, _)| *a == t) {
            Some((_, full)) => out.push_str(full),
            None => {
                // German compounds: "...str" → "...strasse".
                if t.len() > 4 && t.ends_with("str") {
                    out.push_str(t);
                    out.push_str("asse");
                } else {
                    out.push_str(t);
                }
            }
        }
    }
    out
}

/// Lower-cased, trimmed email; `None` when empty.
pub fn email(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else {
        Some(t.to_lowercase())
    }
}

/// The local part and domain of a syntactically valid email, lower-cased.
pub fn email_parts(s: &str) -> Option<(String, String)> {
    if !is_valid_email(s) {
        return None;
    }
    let e = s.trim().to_lowercase();
    let (l, d) = e.rsplit_once('@')?;
    Some((l.to_string(), d.to_string()))
}

/// A pragmatic email check: one `@`, a local part of allowed characters (no leading,
/// trailing or doubled dot), a domain of at least two dot-separated labels of letters,
/// digits and inner hyphens, and an alphabetic top-level domain of two or more letters.
pub fn is_valid_email(s: &str) -> bool {
    // Runs for every e-mail of every record in the rules and again in survivorship:
    // no allocation, and the allowed characters matched as ASCII.
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if domain.contains('@') || local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    local.chars().all(email_local_char) && email_domain_ok(domain)
}

/// A character allowed in an e-mail's local part: a letter or digit of any script, or
/// one of ``!#$%&'*+/=?^_`{|}~.-`` (matched as ASCII, not searched for in a string).
fn email_local_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '!' | '#'
                | '$'
                | '%'
                | '&'
                | '\''
                | '*'
                | '+'
                | '/'
                | '='
                | '?'
                | '^'
                | '_'
                | '`'
                | '{'
                | '|'
                | '}'
                | '~'
                | '.'
                | '-'
        )
}

/// An e-mail's domain: two or more labels of letters, digits and inner hyphens, the
/// last alphabetic and two or more letters long (walked without collecting the labels).
fn email_domain_ok(domain: &str) -> bool {
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    for l in domain.split('.') {
        if l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        {
            return false;
        }
    }
    tld.chars().count() >= 2 && tld.chars().all(|c| c.is_alphabetic())
}

/// International calling code of a country (ISO alpha-2), for phone normalisation.
pub fn calling_code(country: &str) -> Option<&'static str> {
    // Every code below has two ASCII letters: upper-cased on the stack, not allocated
    // (this runs for every phone number of every record).
    let &[a, b] = country.trim().as_bytes() else {
        return None;
    };
    let upper = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
    Some(match std::str::from_utf8(&upper).ok()? {
        "US" | "CA" | "PR" | "BS" | "BB" | "JM" | "TT" | "AG" | "DM" | "GD" | "KN" | "LC"
        | "VC" | "BM" | "KY" | "VG" | "VI" | "TC" | "AI" | "MS" | "GU" | "AS" | "MP" | "SX"
        | "DO" => "1",
        "GB" | "UK" | "GG" | "JE" | "IM" => "44",
        "DE" => "49",
        "FR" => "33",
        "ES" => "34",
        "IT" => "39",
        "NL" => "31",
        "BE" => "32",
        "CH" => "41",
        "AT" => "43",
        "IE" => "353",
        "PT" => "351",
        "LU" => "352",
        "SE" => "46",
        "NO" => "47",
        "DK" => "45",
        "FI" => "358",
        "PL" => "48",
        "CZ" => "420",
        "GR" => "30",
        "AU" => "61",
        "NZ" => "64",
        "JP" => "81",
        "CN" => "86",
        "IN" => "91",
        "BR" => "55",
        "MX" => "52",
        "AR" => "54",
        "ZA" => "27",
        "SG" => "65",
        "HK" => "852",
        "KR" => "82",
        "IL" => "972",
        "AE" => "971",
        "TR" => "90",
        "RU" => "7",
        _ => return None,
    })
}

/// `s` in ASCII lower case, borrowed when it has no upper-case ASCII letter (phone
/// numbers rarely do).
fn ascii_lowercase(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `+` and the parts, in one allocation (`format!` costs more: this runs for every
/// phone number of every record, in matching and in survivorship).
fn plus(parts: &[&str]) -> String {
    let mut s = String::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    s.push('+');
    for p in parts {
        s.push_str(p);
    }
    s
}

/// A phone number as `+<country code><number>` (E.164 style) when it can be placed,
/// else its digits. `+` or `00` mark an international number; otherwise the country's
/// calling code is prefixed (a national trunk `0` is dropped) when `country` is known.
/// Extensions (`x123`, `ext. 123`) are dropped. `None` when there are no digits.
pub fn phone(s: &str, country: Option<&str>) -> Option<String> {
    let lower = ascii_lowercase(s);
    let main = lower
        .split(['x', '#'])
        .next()
        .unwrap_or("")
        .split("ext")
        .next()
        .unwrap_or("");
    let trimmed = main.trim_start();
    // "+44 (0)20 …": the bracketed trunk 0 is dialled only from inside the country.
    let main = if trimmed.starts_with('+') || trimmed.starts_with("00") {
        std::borrow::Cow::Owned(main.replace("(0)", ""))
    } else {
        std::borrow::Cow::Borrowed(main)
    };
    let digits: String = main.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    if trimmed.starts_with('+') {
        return Some(plus(&[&digits]));
    }
    if let Some(rest) = digits.strip_prefix("00")
        && rest.len() >= 8
    {
        return Some(plus(&[rest]));
    }
    match country.and_then(calling_code) {
        Some("1") => {
            if digits.len() == 11 && digits.starts_with('1') {
                Some(plus(&[&digits]))
            } else {
                Some(plus(&["1", &digits]))
            }
        }
        Some(cc) => {
            let national = digits.strip_prefix('0').unwrap_or(&digits);
            if digits.starts_with(cc) && digits.len() > 9 + cc.len().saturating_sub(1) {
                Some(plus(&[&digits]))
            } else {
                Some(plus(&[cc, national]))
            }
        }
        None => Some(digits),
    }
}

/// A plausible phone number: only digits, spaces and `+ - . ( ) /` (plus an
/// extension), 8 to 15 digits once placed (E.164), and exactly 10 national digits for
/// North-American (+1) numbers.
pub fn is_valid_phone(s: &str, country: Option<&str>) -> bool {
    let lower = ascii_lowercase(s.trim());
    let main = lower
        .split(" x")
        .next()
        .unwrap_or("")
        .split("ext")
        .next()
        .unwrap_or("")
        .split('#')
        .next()
        .unwrap_or("");
    if !phone_text_ok(main) {
        return false;
    }
    let Some(p) = phone(main, country) else {
        return false;
    };
    let digits = p.trim_start_matches('+');
    if !p.starts_with('+') {
        // Country unknown: judge the length alone.
        return (7..=15).contains(&digits.len());
    }
    if let Some(nanp) = digits.strip_prefix('1') {
        return nanp.len() == 10 && !nanp.starts_with('0') && !nanp.starts_with('1');
    }
    (8..=15).contains(&digits.len())
}

/// The number part of a phone (extension cut off) is non-empty, holds only digits,
/// spaces and `+ - . ( ) /`, and a `+` only first. Bytes, not chars: anything else,
/// ASCII or not, fails.
fn phone_text_ok(main: &str) -> bool {
    !main.is_empty()
        && main.bytes().all(|c| {
            matches!(
                c,
                b'0'..=b'9' | b' ' | b'+' | b'-' | b'.' | b'(' | b')' | b'/'
            )
        })
        && !main.bytes().skip(1).any(|c| c == b'+')
}

/// SKU canonical form: upper case without spaces, hyphens, underscores, dots or slashes
/// ("wid 1001", "WID_1001", "wid1001" → "WID1001").
pub fn sku(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.' | '/' | '\t'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Postcode canonical form: upper case, letters and digits only.
pub fn postcode(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// ISO 3166-1 alpha-2 codes (249, as assigned).
const ISO_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";
/// The matching alpha-3 codes, in the same order.
const ISO_ALPHA3: &str = "AND ARE AFG ATG AIA ALB ARM AGO ATA ARG ASM AUT AUS ABW ALA AZE BIH BRB BGD BEL BFA BGR BHR BDI BEN BLM BMU BRN BOL BES BRA BHS BTN BVT BWA BLR BLZ CAN CCK COD CAF COG CHE CIV COK CHL CMR CHN COL CRI CUB CPV CUW CXR CYP CZE DEU DJI DNK DMA DOM DZA ECU EST EGY ESH ERI ESP ETH FIN FJI FLK FSM FRO FRA GAB GBR GRD GEO GUF GGY GHA GIB GRL GMB GIN GLP GNQ GRC SGS GTM GUM GNB GUY HKG HMD HND HRV HTI HUN IDN IRL ISR IMN IND IOT IRQ IRN ISL ITA JEY JAM JOR JPN KEN KGZ KHM KIR COM KNA PRK KOR KWT CYM KAZ LAO LBN LCA LIE LKA LBR LSO LTU LUX LVA LBY MAR MCO MDA MNE MAF MDG MHL MKD MLI MMR MNG MAC MNP MTQ MRT MSR MLT MUS MDV MWI MEX MYS MOZ NAM NCL NER NFK NGA NIC NLD NOR NPL NRU NIU NZL OMN PAN PER PYF PNG PHL PAK POL SPM PCN PRI PSE PRT PLW PRY QAT REU ROU SRB RUS RWA SAU SLB SYC SDN SWE SGP SHN SVN SJM SVK SLE SMR SEN SOM SUR SSD STP SLV SXM SYR SWZ TCA TCD ATF TGO THA TJK TKL TLS TKM TUN TON TUR TTO TUV TWN TZA UKR UGA UMI USA URY UZB VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM MYT ZAF ZMB ZWE";

/// Whether `s` is an ISO 3166-1 alpha-2 country code (case-insensitive). "UK" is not
/// (the code is GB); alpha-3 codes are not either — use [`country`] to map them.
pub fn is_iso_country(s: &str) -> bool {
    // One bit per pair of letters (26 × 26), set once: a lookup is an index, not a hash.
    static CODES: std::sync::OnceLock<[u32; 26]> = std::sync::OnceLock::new();
    let codes = CODES.get_or_init(|| {
        let mut bits = [0u32; 26];
        for c in ISO_ALPHA2.split(' ') {
            let b = c.as_bytes();
            bits[(b[0] - b'A') as usize] |= 1 << (b[1] - b'A');
        }
        bits
    });
    let &[a, b] = s.trim().as_bytes() else {
        return false;
    };
    let (a, b) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
    a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && codes[(a - b'A') as usize] & (1 << (b - b'A')) != 0
}

/// The ISO alpha-2 code for an alpha-2 or alpha-3 code, "UK", or a few common names.
pub fn country(s: &str) -> Option<String> {
    let t = s.trim();
    if is_iso_country(t) {
        return Some(t.to_ascii_uppercase());
    }
    if t.len() == 3
        && let Some(i) = ISO_ALPHA3
            .split(' ')
            .position(|c| c.eq_ignore_ascii_case(t))
    {
        return ISO_ALPHA2.split(' ').nth(i).map(str::to_string);
    }
    let f = fold(t);
    Some(
        match f.as_str() {
            "uk" | "united kingdom" | "great britain" | "england" | "scotland" | "wales" => "GB",
            "united states" | "united states of america" | "us of a" | "america" | "u s a" => "US",
            "germany" | "deutschland" => "DE",
            "france" => "FR",
            "spain" | "espana" => "ES",
            "italy" | "italia" => "IT",
            "netherlands" | "the netherlands" | "holland" => "NL",
            "canada" => "CA",
            "australia" => "AU",
            "switzerland" | "schweiz" | "suisse" => "CH",
            "austria" | "osterreich" => "AT",
            "ireland" => "IE",
            "belgium" => "BE",
            _ => return None,
        }
        .to_string(),
    )
}

/// How reference values are compared with the keys they point at (see
/// [`crate::config::AliasRule`]): the canonical form of an identifier.
///
/// `salesforce`: a 15-character ID is canonical; an 18-character ID is reduced to its
/// 15-character form with the letter case restored from its checksum suffix, so the
/// 18-character form matches in any case while 15-character IDs stay case-sensitive.
/// `case_insensitive`: lower case. `sku`: [`sku`]. `exact`: trimmed.
pub fn canonical_id(value: &str, rule: &str) -> String {
    let v = value.trim();
    match rule {
        "salesforce" => salesforce_15(v).unwrap_or_else(|| v.to_string()),
        "case_insensitive" => v.to_lowercase(),
        "sku" => sku(v),
        _ => v.to_string(),
    }
}

/// The 15-character, case-correct form of a Salesforce ID.
pub fn salesforce_15(id: &str) -> Option<String> {
    if !id.is_ascii() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        15 => Some(id.to_string()),
        18 => {
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
            let b = id.as_bytes();
            let mut out = Vec::with_capacity(15);
            for chunk in 0..3 {
                let code = b[15 + chunk].to_ascii_uppercase();
                let mask = ALPHABET.iter().position(|&a| a == code)? as u32;
                for j in 0..5 {
                    let c = b[chunk * 5 + j];
                    out.push(if mask & (1 << j) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    });
                }
            }
            String::from_utf8(out).ok()
        }
        _ => None,
    }
}

/// The 18-character form of a 15-character Salesforce ID.
pub fn salesforce_18(id15: &str) -> Option<String> {
    if id15.len() != 15 || !id15.is_ascii() {
        return None;
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let b = id15.as_bytes();
    let mut out = id15.to_string();
    for chunk in 0..3 {
        let mut n = 0usize;
        for j in 0..5 {
            if b[chunk * 5 + j].is_ascii_uppercase() {
                n |= 1 << j;
            }
        }
        out.push(ALPHABET[n] as char);
    }
    Some(out)
}

/// Jaro–Winkler similarity of two strings (0 … 1), on characters; the matcher's kernel.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    crate::matching::kernels::jaro_winkler(a, b)
}

/// Damerau–Levenshtein distance (unrestricted) on characters; the matcher's kernel.
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    crate::matching::kernels::damerau_levenshtein(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("  Café  Müller—GmbH "), "cafe muller gmbh");
        assert_eq!(fold("Straße & Söhne"), "strasse and sohne");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold(""), "");
        assert_eq!(fold("ÆØÅ"), "aeoa");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("ＡＣＭＥ"), "acme", "full-width letters fold");
    }

    #[test]
    fn ascii_folding_equals_the_unicode_path() {
        // Every ASCII byte alone and in pairs, then seeded random strings mixing the
        // characters that matter (separators, '&', apostrophes, digits, both cases).
        let mut cases: Vec<String> = (0u8..128).map(|b| (b as char).to_string()).collect();
        for a in 0u8..128 {
            for b in [b' ', b'&', b'\'', b'A', b'z', b'7', b'-', a] {
                cases.push(format!("{}{}", a as char, b as char));
            }
        }
        let alphabet = b" &'`-.,/AbZy09\t_O";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut s = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 12) {
                s.push(alphabet[((x >> (4 * k + 8)) % alphabet.len() as u64) as usize] as char);
            }
            cases.push(s);
        }
        for c in &cases {
            assert!(c.is_ascii());
            assert_eq!(fold_ascii(c.as_bytes()), fold_unicode(c), "{c:?}");
        }
    }

    #[test]
    fn company_names() {
        assert_eq!(company_name("ACME Corp."), "acme");
        assert_eq!(company_name("Acme Corporation"), "acme");
        assert_eq!(company_name("Globex, Inc."), "globex");
        assert_eq!(company_name("Duff Beer S.A."), "duff beer");
        assert_eq!(company_name("Duff Beer SA"), "duff beer");
        assert_eq!(company_name("Café Müller GmbH"), "cafe muller");
        assert_eq!(
            company_name("Dunder Mifflin Paper Company, Inc."),
            "dunder mifflin paper"
        );
        assert_eq!(company_name("The Company"), "the");
        assert_eq!(company_name("Inc"), "inc");
        assert_eq!(company_name(""), "");
        assert_eq!(
            company_name("Gringotts Wizarding Bank plc"),
            "gringotts wizarding bank"
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(address("100 Main St."), "100 main street");
        assert_eq!(address("100 Main Street"), "100 main street");
        assert_eq!(address("1007 Mountain Dr"), "1007 mountain drive");
        assert_eq!(address("7 r. de la Gare"), address("7 rue de la Gare"));
        assert_eq!(address("C/ San Juan 180"), address("Calle San Juan 180"));
        assert_eq!(
            address("Avda. de Madrid 102"),
            address("Avenida de Madrid 102")
        );
        assert_eq!(address("Pza. San Juan 79"), address("Plaza San Juan 79"));
        assert_eq!(address("Friedrichstr 68"), "friedrichstrasse 68");
        assert_eq!(address("Fichtenstraße 36"), "fichtenstrasse 36");
        assert_eq!(
            address("12000 Coors Blvd NW"),
            "12000 coors boulevard northwest"
        );
        assert_eq!(address(""), "");
    }

    #[test]
    fn emails() {
        assert_eq!(
            email(" AP@Acme.Example.com "),
            Some("ap@acme.example.com".into())
        );
        assert_eq!(email("  "), None);
        assert!(is_valid_email("ap@acme.example.com"));
        assert!(is_valid_email("o'neil+tag@sub.example.co.uk"));
        assert!(is_valid_email("jörg@müller.de"));
        assert!(!is_valid_email("info@@cyberdyne.example.com"));
        assert!(!is_valid_email("sales.virtucon.example.com"));
        assert!(!is_valid_email("name@domain"));
        assert!(!is_valid_email("a..b@example.com"));
        assert!(!is_valid_email("@example.com"));
        assert!(!is_valid_email("a@-example.com"));
        assert!(!is_valid_email(""));
        assert_eq!(
            email_parts("AP@Acme.com"),
            Some(("ap".into(), "acme.com".into()))
        );
    }

    /// The validators as they were before they were rewritten without allocation: the
    /// rewrites must agree with them on every input.
    mod reference {
        use super::super::ISO_ALPHA2;

        /// The local part's character check inside the old `is_valid_email`.
        pub fn email_local_char(c: char) -> bool {
            c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
        }

        /// The domain's checks inside the old `is_valid_email` (the rest of it is
        /// unchanged).
        pub fn email_domain_ok(domain: &str) -> bool {
            let labels: Vec<&str> = domain.split('.').collect();
            if labels.len() < 2 {
                return false;
            }
            for l in &labels {
                if l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
                {
                    return false;
                }
            }
            let tld = labels[labels.len() - 1];
            tld.chars().count() >= 2 && tld.chars().all(|c| c.is_alphabetic())
        }

        /// The number part's check inside the old `is_valid_phone` (the rest of it is
        /// unchanged).
        pub fn phone_text_ok(main: &str) -> bool {
            !(main.is_empty()
                || !main
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-.()/".contains(c))
                || main.chars().skip(1).any(|c| c == '+'))
        }

        pub fn is_iso_country(s: &str) -> bool {
            let codes: std::collections::HashSet<[u8; 2]> = ISO_ALPHA2
                .split(' ')
                .map(|c| [c.as_bytes()[0], c.as_bytes()[1]])
                .collect();
            let t = s.trim().as_bytes();
            t.len() == 2 && codes.contains(&[t[0].to_ascii_uppercase(), t[1].to_ascii_uppercase()])
        }
    }

    #[test]
    fn validators_agree_with_their_reference_versions() {
        // Strings of pieces that matter to the validators (a fixed seed): separators,
        // the allowed and some disallowed characters, letters of other scripts,
        // extensions, country codes of every case.
        const PIECES: &[&str] = &[
            "a", "Z", "7", "0", "1", "@", ".", "..", "-", "+", "_", "!", "#", "'", "`", "~", "|",
            "{", " ", "\t", "(", ")", "/", " x", "ext", "X", "é", "Ä", "日本", "١", "ß", "com",
            "co", "uk", "00", "44", "555", "0100", "(0)", "\u{a0}", ",", "\"", "de", "US", "gB",
            "Gb", "uk", "zz", "a@b.cd", "@x.y", "a-", "-b",
        ];
        let mut rng = crate::matching::fellegi_sunter::Rng::new(7);
        let mut checked = (0, 0, 0);
        for _ in 0..60_000 {
            let x = rng.next_u64();
            let n = (x % 9) as usize;
            let s: String = (0..n)
                .map(|j| PIECES[((x >> (8 + 6 * j)) % PIECES.len() as u64) as usize])
                .collect();
            let domain = s.split_once('@').map_or(s.as_str(), |(_, d)| d);
            assert_eq!(
                email_domain_ok(domain),
                reference::email_domain_ok(domain),
                "{domain:?}"
            );
            assert_eq!(phone_text_ok(&s), reference::phone_text_ok(&s), "{s:?}");
            assert_eq!(is_iso_country(&s), reference::is_iso_country(&s), "{s:?}");
            checked.0 += email_domain_ok(domain) as u32;
            checked.1 += phone_text_ok(&s) as u32;
            checked.2 += is_iso_country(&s) as u32;
        }
        // Every character.
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            assert_eq!(email_local_char(c), reference::email_local_char(c), "{c:?}");
        }
        // Every string of two bytes (letters of both cases among them).
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let s = String::from_utf8_lossy(&[a, b]).into_owned();
                assert_eq!(is_iso_country(&s), reference::is_iso_country(&s), "{s:?}");
            }
        }
        // The corpus reached both answers of each validator.
        assert!(
            checked.0 > 10 && checked.1 > 10 && checked.2 > 10,
            "{checked:?}"
        );
        for ok in [
            "first.last+tag@sub.example.co.uk",
            "o'neil@x.org",
            "josé@exämple.de",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            phone("+1 217-555-0100", None).as_deref(),
            Some("+12175550100")
        );
        assert_eq!(
            phone("(217) 555-0100", Some("US")).as_deref(),
            Some("+12175550100")
        );
        assert_eq!(
            phone("1-217-555-0100", Some("US")).as_deref(),
            Some("+12175550100")
        );
        assert_eq!(
            phone("030 5550 1234", Some("DE")).as_deref(),
            Some("+493055501234")
        );
        assert_eq!(
            phone("0049 30 5550 1234", Some("DE")).as_deref(),
            Some("+493055501234")
        );
        assert_eq!(
            phone("+1 212 555 0124 x 12", None).as_deref(),
            Some("+12125550124")
        );
        // The bracketed trunk prefix of the international form is not dialled.
        assert_eq!(
            phone("+44 (0)116 869 0991", None).as_deref(),
            Some("+441168690991")
        );
        assert_eq!(
            phone("0044 (0)20 7946 0018", None).as_deref(),
            Some("+442079460018")
        );
        assert_eq!(phone("call me", None), None);
        assert!(is_valid_phone("+1 217-555-0100", Some("US")));
        assert!(is_valid_phone("(217) 555-0100", Some("US")));
        assert!(is_valid_phone("+49 30 5550 1234", Some("DE")));
        assert!(is_valid_phone("+44 20 5550 0127", Some("GB")));
        assert!(!is_valid_phone("555-CALL", Some("US")));
        assert!(!is_valid_phone("12345", Some("US")));
        assert!(!is_valid_phone("+1 217 555", None));
        assert!(!is_valid_phone("", None));
        assert!(!is_valid_phone("12+34", None));
    }

    #[test]
    fn skus_postcodes_countries() {
        assert_eq!(sku("wid 1001"), "WID1001");
        assert_eq!(sku("WID-1001"), "WID1001");
        assert_eq!(sku("gad_2002"), "GAD2002");
        assert_eq!(postcode("wc2h 0aw"), "WC2H0AW");
        assert!(is_iso_country("US") && is_iso_country("de") && is_iso_country(" GB "));
        assert!(!is_iso_country("XX") && !is_iso_country("UK") && !is_iso_country("USA"));
        assert_eq!(country("USA").as_deref(), Some("US"));
        assert_eq!(country("uk").as_deref(), Some("GB"));
        assert_eq!(country("Deutschland").as_deref(), Some("DE"));
        assert_eq!(country("Untied States"), None);
    }

    #[test]
    fn salesforce_ids() {
        assert_eq!(
            salesforce_18("001D000000IRFma").as_deref(),
            Some("001D000000IRFmaIAH")
        );
        assert_eq!(
            salesforce_15("001D000000IRFmaIAH").as_deref(),
            Some("001D000000IRFma")
        );
        assert_eq!(
            salesforce_15("001d000000irfmaiah").as_deref(),
            Some("001D000000IRFma")
        );
        assert_eq!(
            canonical_id("001D000000IRFma", "salesforce"),
            "001D000000IRFma"
        );
        assert_ne!(
            canonical_id("001d000000irfma", "salesforce"),
            "001D000000IRFma"
        );
        assert_eq!(canonical_id(" Ab ", "case_insensitive"), "ab");
        assert_eq!(canonical_id("wid 1001", "sku"), "WID1001");
    }

    #[test]
    fn distances() {
        assert!((jaro_winkler("martha", "marhta") - 0.9611).abs() < 1e-3);
        assert_eq!(damerau_levenshtein("ca", "abc"), 2);
        assert_eq!(damerau_levenshtein("", "abc"), 3);
        assert_eq!(jaro_winkler("", ""), 1.0);
    }
}
