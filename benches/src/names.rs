//! Company names, e-mail addresses, websites and account owners.

use crate::geo::{COUNTRIES, Lang};
use crate::rng::{Rng, Zipf};
use crate::vary::slug;
use crate::words::*;

/// Zipf samplers over the word lists (built once).
pub struct Names {
    sur: Vec<Zipf>,
    ind: Vec<Zipf>,
    sur_en: Zipf,
    ind_en: Zipf,
    places: Zipf,
    brand_pre: Zipf,
    first: Zipf,
    pub street_en: Zipf,
    pub owners: Vec<String>,
    owner_zipf: Zipf,
}

fn cap_first(s: &mut String) {
    if let Some(c) = s.chars().next()
        && c.is_lowercase()
    {
        let up: String = c.to_uppercase().collect();
        s.replace_range(..c.len_utf8(), &up);
    }
}

impl Names {
    pub fn new(seed: u64) -> Names {
        let mut rng = Rng::stream(seed, crate::rng::stream::KEYS, 77);
        let mut owners = Vec::new();
        while owners.len() < 60 {
            let o = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(SURNAMES_EN));
            if !owners.contains(&o) {
                owners.push(o);
            }
        }
        Names {
            sur: COUNTRIES
                .iter()
                .map(|c| Zipf::new(c.surnames.len(), 12.0))
                .collect(),
            ind: COUNTRIES
                .iter()
                .map(|c| Zipf::new(c.industries.len(), 8.0))
                .collect(),
            sur_en: Zipf::new(SURNAMES_EN.len(), 12.0),
            ind_en: Zipf::new(INDUSTRIES_EN.len(), 8.0),
            places: Zipf::new(PLACES.len(), 10.0),
            brand_pre: Zipf::new(BRAND_PREFIX.len(), 15.0),
            first: Zipf::new(FIRST_NAMES.len(), 5.0),
            street_en: Zipf::new(STREET_NAMES_EN.len(), 3.0),
            owner_zipf: Zipf::new(owners.len(), 3.0),
            owners,
        }
    }

    fn brand(&self, rng: &mut Rng) -> String {
        fn is_vowel(c: u8) -> bool {
            matches!(
                c,
                b'a' | b'e' | b'i' | b'o' | b'u' | b'y' | b'A' | b'E' | b'I' | b'O' | b'U'
            )
        }
        /// Appends `piece`, smoothing a vowel-vowel or doubled-letter joint: a long
        /// piece loses its first letter, a short middle piece is dropped, a short ending
        /// gets a consonant in between.
        fn join(s: &mut String, piece: &str, ending: bool) {
            let (Some(&last), Some(&first)) = (s.as_bytes().last(), piece.as_bytes().first())
            else {
                s.push_str(piece);
                return;
            };
            if (is_vowel(last) && is_vowel(first)) || last == first {
                if piece.len() > 2 {
                    s.push_str(&piece[1..]);
                } else if ending {
                    let c = b"nrlstv"[piece.as_bytes()[0] as usize % 6];
                    if c != last {
                        s.push(c as char);
                    } else {
                        s.push('n');
                    }
                    s.push_str(piece);
                }
            } else {
                s.push_str(piece);
            }
        }
        let mut s = String::with_capacity(12);
        s.push_str(BRAND_PREFIX[self.brand_pre.sample(rng)]);
        join(&mut s, rng.pick::<&str>(BRAND_MIDDLE), false);
        join(&mut s, rng.pick::<&str>(BRAND_END), true);
        s
    }

    /// The distinctive part of a company name (without legal suffix).
    pub fn company_core(&self, ci: usize, rng: &mut Rng) -> String {
        let c = &COUNTRIES[ci];
        let local = c.lang != Lang::En && rng.chance(0.7);
        let (surs, surz, inds, indz) = if local {
            (c.surnames, &self.sur[ci], c.industries, &self.ind[ci])
        } else {
            (SURNAMES_EN, &self.sur_en, INDUSTRIES_EN, &self.ind_en)
        };
        let sur = |rng: &mut Rng| surs[surz.sample(rng)];
        let ind = |rng: &mut Rng| inds[indz.sample(rng)];
        let mut s = match rng.weighted(&[14, 12, 27, 10, 8, 12, 3, 8, 6]) {
            0 => format!("{} {}", sur(rng), ind(rng)),
            1 => {
                let a = sur(rng);
                let mut b = sur(rng);
                for _ in 0..4 {
                    if b != a {
                        break;
                    }
                    b = sur(rng);
                }
                if rng.chance(0.5) {
                    format!("{a} & {b} {}", ind(rng))
                } else {
                    format!("{a} & {b}")
                }
            }
            2 => format!("{} {}", self.brand(rng), ind(rng)),
            3 => self.brand(rng),
            4 => format!("{} {}", PLACES[self.places.sample(rng)], ind(rng)),
            5 => {
                let p = PLACES[self.places.sample(rng)];
                let mid = if rng.chance(0.5) {
                    sur(rng).to_string()
                } else {
                    PLACES[self.places.sample(rng)].to_string()
                };
                if mid == p {
                    format!("{p} {}", ind(rng))
                } else {
                    format!("{p} {mid} {}", ind(rng))
                }
            }
            6 => {
                if c.lang == Lang::En {
                    format!("The {} {}", sur(rng), ind(rng))
                } else {
                    format!("{} {}", sur(rng), ind(rng))
                }
            }
            7 => format!(
                "{} {} {}",
                FIRST_NAMES[self.first.sample(rng)],
                sur(rng),
                ind(rng)
            ),
            _ => format!("{} {}", sur(rng), self.brand(rng)),
        };
        cap_first(&mut s);
        s
    }

    /// A company domain below `example.<tld>`, derived from the name. `attempt` > 0
    /// asks for a more distinctive form (the plain one is taken by another company).
    pub fn domain(&self, core: &str, tld: &str, city: &str, attempt: u32, rng: &mut Rng) -> String {
        let hyphens = rng.chance(0.15);
        let mut words: Vec<String> = Vec::new();
        for w in core.split_whitespace() {
            if matches!(
                w,
                "&" | "and" | "The" | "de" | "van" | "der" | "den" | "la" | "of"
            ) {
                continue;
            }
            let s = slug(w, false);
            if !s.is_empty() {
                words.push(s);
            }
        }
        if words.is_empty() {
            words.push("company".into());
        }
        let mut d = if words.len() > 2 && rng.chance(0.12) {
            // Initials of the leading words and the last word: "nrpbuilders".
            let mut s: String = words[..words.len() - 1]
                .iter()
                .filter_map(|w| w.chars().next())
                .collect();
            s.push_str(&words[words.len() - 1]);
            s
        } else {
            words.join(if hyphens { "-" } else { "" })
        };
        if d.len() > 24 {
            let mut cut = 24;
            while !d.is_char_boundary(cut) {
                cut -= 1;
            }
            d.truncate(cut);
            while d.ends_with('-') {
                d.pop();
            }
        }
        let form = if attempt == 0 {
            rng.weighted(&[62, 14, 12, 12])
        } else if attempt == 1 {
            3
        } else {
            1
        };
        match form {
            0 => {}
            1 => d.push_str(
                &rng.range(1, if attempt > 3 { 99_999 } else { 999 })
                    .to_string(),
            ),
            2 => d.push_str(rng.pick::<&str>(&[
                "inc", "group", "co", "hq", "usa", "corp", "online", "direct",
            ])),
            _ => {
                let c = slug(city, false);
                if hyphens {
                    d.push('-');
                }
                d.push_str(&c[..c.len().min(12)]);
            }
        }
        d.push_str(".example.");
        if tld == "com" {
            d.push_str(rng.pick_weighted::<&str>(&[
                ("com", 86u32),
                ("net", 6),
                ("org", 3),
                ("us", 3),
                ("biz", 2),
            ]));
        } else {
            d.push_str(tld);
        }
        d
    }

    /// An e-mail address at `domain`: a role mailbox or a person.
    pub fn email(&self, domain: &str, rng: &mut Rng) -> String {
        let local = if rng.chance(0.2) {
            let first = slug(FIRST_NAMES[self.first.sample(rng)], false);
            let last = slug(SURNAMES_EN[self.sur_en.sample(rng)], false);
            if rng.chance(0.7) {
                format!("{first}.{last}")
            } else {
                format!("{}{last}", &first[..1])
            }
        } else {
            rng.pick_weighted(MAILBOXES).to_string()
        };
        format!("{local}@{domain}")
    }

    /// A free-mail address (small businesses): `<name><digits>@<provider>`.
    pub fn freemail(&self, core: &str, rng: &mut Rng) -> String {
        let mut local = slug(core, false);
        local.truncate(16);
        if rng.chance(0.7) {
            local.push_str(&rng.range(1, 9999).to_string());
        }
        let provider = rng.pick::<&str>(&[
            "gmail.example.com",
            "outlook.example.com",
            "yahoo.example.com",
            "mail.example.net",
        ]);
        format!("{local}@{provider}")
    }

    pub fn owner(&self, rng: &mut Rng) -> usize {
        self.owner_zipf.sample(rng)
    }
}

/// `core` + optional comma + suffix.
pub fn compose(core: &str, comma: bool, suffix: &str) -> String {
    let mut s = String::with_capacity(core.len() + suffix.len() + 2);
    s.push_str(core);
    if !suffix.is_empty() {
        if comma {
            s.push(',');
        }
        s.push(' ');
        s.push_str(suffix);
    }
    s
}
