//! Customer entities and their records in the CRM (`crm_accounts.csv`) and the billing
//! system (`billing_customers.csv`), with planted duplicates, reference errors, stale
//! records, invalid values and malformed rows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use crate::fmt::*;
use crate::geo::{COUNTRIES, City, Country, Geo, Lang, Phone, postal_code, street};
use crate::ids::{CrmId, CusId, Ids};
use crate::names::{Names, compose};
use crate::out::{Defects, Out, Res, Truth};
use crate::rng::{Every, Rng, stream};
use crate::vary::*;
use crate::words::MAILBOXES;

pub const CRM: &str = "crm_accounts";
pub const BILLING: &str = "billing_customers";

/// Share of entities with at least one CRM account.
pub const P_CRM: f64 = 0.98;
/// Share of CRM entities that also have a billing customer (gives ~85% overall).
pub const P_BILLING_GIVEN_CRM: f64 = 0.847;
pub const P_BILLING_DUP: f64 = 0.02;
const P_CRM_SECOND: f64 = 0.10;
const P_CRM_THIRD: f64 = 0.01;

const STALE_DAYS: i64 = 365;
/// Ages (days before as_of) of fresh records stay at or below this, stale ones at or
/// above `STALE_MIN`, so time zones and day boundaries never blur the classification.
const FRESH_MAX: i64 = 330;
const STALE_MIN: i64 = 380;
const P_STALE: f64 = 0.054;
const P_STALE_ATTRIBUTE: f64 = 0.03;
const P_INVALID_EMAIL: f64 = 0.02;
const P_INVALID_PHONE: f64 = 0.02;
const P_INVALID_COUNTRY: f64 = 0.005;
/// Share of malformed rows per text file.
pub const P_MALFORMED: f64 = 0.0005;
/// Minimum expected number of malformed rows per file (small data sets).
pub const MIN_MALFORMED: f64 = 5.0;

/// Expected billing customers per entity.
pub fn billing_per_entity() -> f64 {
    (P_CRM * P_BILLING_GIVEN_CRM + (1.0 - P_CRM)) * (1.0 + P_BILLING_DUP)
}

/// Shared, read-only generation context.
pub struct Ctx<'a> {
    pub seed: u64,
    pub n: u64,
    pub as_of: i64,
    /// Days from 1995-01-01 (oldest CRM account) to as_of.
    pub span: i64,
    /// Days from 2011-01-01 (oldest billing customer) to as_of.
    pub billing_span: i64,
    pub ids: &'a Ids,
    pub geo: &'a Geo,
    pub names: &'a Names,
    pub country_weights: Vec<u32>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        seed: u64,
        n: u64,
        as_of: i64,
        ids: &'a Ids,
        geo: &'a Geo,
        names: &'a Names,
    ) -> Ctx<'a> {
        Ctx {
            seed,
            n,
            as_of,
            span: (as_of - days_from_civil(1995, 1, 1)).max(30),
            billing_span: (as_of - days_from_civil(2011, 1, 1)).max(30),
            ids,
            geo,
            names,
            country_weights: crate::geo::country_weights(),
        }
    }

    /// The cheap, structural part of entity `i`: which records it has and when they
    /// were created. Invoice generation uses it without generating the records.
    pub fn plan(&self, i: u64) -> Plan {
        let mut r = Rng::stream(self.seed, stream::PLAN, i);
        let country = r.weighted(&self.country_weights);
        let has_crm = r.chance(P_CRM);
        let n_crm = if !has_crm {
            0
        } else {
            let u = r.f64();
            if u < P_CRM_THIRD {
                3
            } else if u < P_CRM_SECOND {
                2
            } else {
                1
            }
        };
        let has_billing = !has_crm || r.chance(P_BILLING_GIVEN_CRM);
        let n_billing = if !has_billing {
            0
        } else if r.chance(P_BILLING_DUP) {
            2
        } else {
            1
        };
        // Recent years are more common: age = span * min(U1, U2).
        let skewed = |r: &mut Rng, span: i64| {
            let u = r.f64().min(r.f64());
            (1 + (span as f64 * u) as i64).min(span)
        };
        let created_age = skewed(&mut r, self.span);
        let b0 = if has_crm {
            let b = (created_age - r.range(0, 365)).max(1);
            if b > self.billing_span {
                // Accounts older than the billing system were migrated in its first years.
                (self.billing_span - r.range(0, 1500)).max(1)
            } else {
                b
            }
        } else {
            skewed(&mut r, self.billing_span)
        };
        let b1 = r.range(1, b0);
        Plan {
            country,
            n_crm,
            n_billing,
            created_age,
            billing_created_age: [b0, b1],
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub country: usize,
    pub n_crm: u8,
    pub n_billing: u8,
    /// Age in days (before as_of) of the first CRM account.
    pub created_age: i64,
    pub billing_created_age: [i64; 2],
}

/// A record's last-modified age: fresh (1..=330 days) or, with probability ~5%, stale
/// (>= 380 days), never before its creation.
fn modified_age(r: &mut Rng, created_age: i64) -> i64 {
    if created_age >= STALE_MIN + 20 && r.chance(P_STALE) {
        r.range(STALE_MIN, created_age.min(3000))
    } else {
        r.range(1, created_age.min(FRESH_MAX))
    }
}

fn business_seconds(r: &mut Rng) -> u32 {
    (r.range(7 * 3600, 19 * 3600 + 3599) as u32) / 60 * 60
}

#[derive(Clone, Debug)]
pub struct CrmRow {
    pub id: CrmId,
    pub name: String,
    pub account_type: &'static str,
    pub street: String,
    pub city: String,
    pub state: String,
    pub postal: String,
    pub country: String,
    pub phone: String,
    pub email: String,
    pub website: String,
    pub owner: String,
    pub created_age: i64,
    pub modified_age: i64,
    pub modified_sec: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefKind {
    /// The entity has no CRM account: no reference, not an error.
    NoCrm,
    Correct,
    Alias,
    Empty,
    Wrong,
    Dangling,
}

#[derive(Clone, Debug)]
pub struct BillRow {
    pub id: CusId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub street: String,
    pub city: String,
    pub postal: String,
    pub country: String,
    pub created_age: i64,
    pub created_sec: u32,
    pub updated_age: i64,
    pub updated_sec: u32,
    pub reference: String,
    kind: RefKind,
}

/// The canonical attributes of a customer entity.
struct Entity<'g> {
    country: &'static Country,
    core: String,
    suffix: &'static str,
    comma: bool,
    street: String,
    city: &'g City,
    postal: String,
    phone: Phone,
    email: String,
    /// The company's own domain (also used by the website).
    domain: String,
    /// The e-mail address is at a free-mail provider.
    freemail: bool,
    website: String,
    owner: usize,
    account_type: &'static str,
}

impl Entity<'_> {
    fn name(&self) -> String {
        compose(&self.core, self.comma, self.suffix)
    }
}

fn default_suffix(c: &Country) -> &'static str {
    c.suffixes
        .iter()
        .filter(|s| !s.0.is_empty())
        .max_by_key(|s| s.1)
        .map(|s| s.0)
        .unwrap_or("")
}

fn has_non_ascii(s: &str) -> bool {
    !s.is_ascii()
}

fn transliterated(s: &str, german: bool) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    transliterate(s, german, &mut out);
    out
}

/// A name variation (as people re-type a name).
fn vary_name(r: &mut Rng, e: &Entity, name_core: &str, suffix: &'static str) -> String {
    let mut core = name_core.to_string();
    let mut suffix = suffix;
    let mut comma = e.comma;
    let n = 1 + (r.chance(0.35) as usize);
    for _ in 0..n {
        match r.weighted(&[34, 30, 10, 8, 8, 6, 4]) {
            0 => {
                let edits = 1 + r.chance(0.3) as usize;
                core = typo(r, &core, edits)
            }
            1 => {
                suffix = suffix_variant(r, suffix, default_suffix(e.country));
                comma = comma && r.chance(0.5);
            }
            2 => match toggle_name_abbreviation(&core) {
                Some(c) => core = c,
                None => core = typo(r, &core, 1),
            },
            3 => match toggle_ampersand(&core) {
                Some(c) => core = c,
                None => suffix = suffix_variant(r, suffix, default_suffix(e.country)),
            },
            4 => {
                if has_non_ascii(&core) {
                    core = transliterated(&core, r.chance(0.6));
                } else {
                    comma = !comma && !suffix.is_empty();
                }
            }
            5 => {
                return compose(&core, comma, suffix).to_uppercase();
            }
            _ => {
                if let Some(rest) = core.strip_prefix("The ") {
                    core = rest.to_string();
                } else {
                    core = core.to_lowercase();
                }
            }
        }
    }
    compose(&core, comma, suffix)
}

/// Another plausible address of the same company (a different mailbox, or another
/// free-mail address).
fn other_email(r: &mut Rng, names: &Names, e: &Entity, current: &str) -> String {
    if e.freemail {
        return names.freemail(&e.core, r);
    }
    let local = current.split('@').next().unwrap_or("");
    let mut mailbox = *r.pick_weighted(MAILBOXES);
    if mailbox == local {
        mailbox = if local == "billing" {
            "accounts"
        } else {
            "billing"
        };
    }
    format!("{mailbox}@{}", e.domain)
}

fn invalid_email(r: &mut Rng, email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, "example.com"));
    match r.below(6) {
        0 => format!("{local}@@{domain}"),
        1 => format!("{local}.{domain}"),
        2 => {
            let host = domain.split('.').next().unwrap_or(domain);
            format!("{local}@{host}")
        }
        3 => format!("{local} @{domain}"),
        4 => format!("{local}@{}", domain.replacen('.', ",", 1)),
        _ => format!("{local}@"),
    }
}

fn invalid_phone(r: &mut Rng, p: &Phone) -> String {
    match r.below(6) {
        0 => format!("{}-555-CALL", p.area),
        1 => "TBD".to_string(),
        2 => "555-01".to_string(),
        3 => format!("+{} {}", p.calling, p.area),
        4 => "ext. 204".to_string(),
        _ => "0000".to_string(),
    }
}

fn invalid_country(r: &mut Rng) -> String {
    r.pick(&["XX", "UK", "Untied States", "ZZ", "Germny"])
        .to_string()
}

/// A deferred CSV row: written when entity `at` is reached, so that duplicates do not
/// sit next to their original in the file.
struct Deferred {
    at: u64,
    seq: u64,
    row: Vec<u8>,
    lines: u64,
}

impl PartialEq for Deferred {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Deferred {}
impl PartialOrd for Deferred {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Deferred {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// One CSV output with physical line accounting.
struct CsvFile {
    out: Out,
    buf: Vec<u8>,
    /// Physical line number the next record starts on.
    line: u64,
    deferred: BinaryHeap<Reverse<Deferred>>,
    seq: u64,
    pub records: u64,
    pub malformed: u64,
}

impl CsvFile {
    fn new(out: Out) -> CsvFile {
        CsvFile {
            out,
            buf: Vec::with_capacity(1 << 21),
            line: 2,
            deferred: BinaryHeap::new(),
            seq: 0,
            records: 0,
            malformed: 0,
        }
    }

    fn header(&mut self, h: &[u8]) -> Res<()> {
        self.out.write(h)
    }

    /// Appends a finished row (ending with its terminator); returns its start line.
    fn push_row(&mut self, row: &[u8]) -> Res<u64> {
        let start = self.line;
        let embedded = row.iter().filter(|&&b| b == b'\n').count() as u64;
        self.line += embedded.max(1);
        self.buf.extend_from_slice(row);
        if self.buf.len() >= 1 << 20 {
            self.out.write(&self.buf)?;
            self.buf.clear();
        }
        Ok(start)
    }

    fn defer(&mut self, at: u64, row: Vec<u8>) {
        let lines = row.iter().filter(|&&b| b == b'\n').count() as u64;
        self.seq += 1;
        self.deferred.push(Reverse(Deferred {
            at,
            seq: self.seq,
            row,
            lines,
        }));
    }

    fn flush_deferred(&mut self, upto: u64) -> Res<()> {
        while let Some(Reverse(d)) = self.deferred.peek() {
            if d.at > upto {
                break;
            }
            let Reverse(d) = self.deferred.pop().expect("peeked");
            debug_assert!(d.lines >= 1);
            self.push_row(&d.row)?;
            self.records += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Res<u64> {
        self.flush_deferred(u64::MAX)?;
        self.out.write(&self.buf)?;
        self.out.finish()
    }
}

pub const CRM_HEADER: &str = "Account ID,Account Name,Type,Billing Street,Billing City,Billing State/Province,Billing Zip/Postal Code,Billing Country,Phone,Primary Email,Website,Account Owner,Created Date,Last Modified Date";
pub const BILLING_HEADER: &str = "id,Name,Email,Phone,Address Line1,Address City,Address Postal Code,Address Country,Created (UTC),Updated (UTC),crm_account_id (metadata)";

fn crm_fields(row: &CrmRow, as_of: i64) -> [FieldOut<'_>; 14] {
    [
        FieldOut::S(row.id.as_str()),
        FieldOut::S(&row.name),
        FieldOut::S(row.account_type),
        FieldOut::S(&row.street),
        FieldOut::S(&row.city),
        FieldOut::S(&row.state),
        FieldOut::S(&row.postal),
        FieldOut::S(&row.country),
        FieldOut::S(&row.phone),
        FieldOut::S(&row.email),
        FieldOut::S(&row.website),
        FieldOut::S(&row.owner),
        FieldOut::Mdy(as_of - row.created_age),
        FieldOut::MdyHm(as_of - row.modified_age, row.modified_sec),
    ]
}

fn billing_fields(row: &BillRow, as_of: i64) -> [FieldOut<'_>; 11] {
    [
        FieldOut::S(row.id.as_str()),
        FieldOut::S(&row.name),
        FieldOut::S(&row.email),
        FieldOut::S(&row.phone),
        FieldOut::S(&row.street),
        FieldOut::S(&row.city),
        FieldOut::S(&row.postal),
        FieldOut::S(&row.country),
        FieldOut::YmdHms(as_of - row.created_age, row.created_sec),
        FieldOut::YmdHms(as_of - row.updated_age, row.updated_sec),
        FieldOut::S(&row.reference),
    ]
}

/// A field to write.
#[derive(Clone, Copy)]
enum FieldOut<'a> {
    S(&'a str),
    /// Raw text, written without quoting (malformed rows).
    Raw(&'a str),
    Mdy(i64),
    MdyHm(i64, u32),
    YmdHms(i64, u32),
}

fn push_field(buf: &mut Vec<u8>, f: FieldOut) {
    match f {
        FieldOut::S(s) => push_csv(buf, s),
        FieldOut::Raw(s) => buf.extend_from_slice(s.as_bytes()),
        FieldOut::Mdy(d) => push_mdy(buf, d),
        FieldOut::MdyHm(d, s) => {
            push_mdy(buf, d);
            buf.push(b' ');
            push_hm12(buf, s);
        }
        FieldOut::YmdHms(d, s) => {
            push_ymd(buf, d);
            buf.push(b' ');
            push_hms(buf, existing_local_second(d, s));
        }
    }
}

fn push_fields(buf: &mut Vec<u8>, fields: &[FieldOut], eol: &[u8]) {
    for (k, f) in fields.iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        push_field(buf, *f);
    }
    buf.extend_from_slice(eol);
}

/// Removes characters that would make a malformed row span lines or close quotes.
fn flat(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('"', "")
}

/// Where a malformed row is broken: the key, name and a date column, the bad date
/// texts to choose from and the line terminator.
struct Breakage<'b> {
    key_col: usize,
    name_col: usize,
    date_col: usize,
    bad_dates: &'b [&'static str],
    eol: &'b [u8],
}

/// Builds a malformed row from `fields` (already flattened strings).
fn malformed_row(
    r: &mut Rng,
    fields: &mut [FieldOut],
    how: &Breakage,
    buf: &mut Vec<u8>,
) -> &'static str {
    let Breakage {
        key_col,
        name_col,
        date_col,
        bad_dates,
        eol,
    } = *how;
    buf.clear();
    let kind = r.weighted(&[25, 20, 25, 15, 15]);
    let what;
    match kind {
        0 => {
            // Wrong field count: a surplus field or a cut row.
            if r.chance(0.5) {
                push_fields(buf, fields, b"");
                buf.extend_from_slice(if r.chance(0.5) { b",surplus" } else { b"," });
                buf.extend_from_slice(eol);
                what = "extra_field";
            } else {
                let k = r.range(2, fields.len() as i64 - 2) as usize;
                push_fields(buf, &fields[..k], eol);
                what = "missing_fields";
            }
        }
        1 => {
            // An unbalanced quote opening the name field; the rest of the line has no
            // quote characters (the flattened values contain none).
            for (k, f) in fields.iter().enumerate() {
                if k > 0 {
                    buf.push(b',');
                }
                if k == name_col {
                    buf.push(b'"');
                    if let FieldOut::S(s) | FieldOut::Raw(s) = f {
                        buf.extend_from_slice(s.as_bytes());
                    }
                } else {
                    match f {
                        FieldOut::S(s) => buf.extend_from_slice(s.as_bytes()),
                        other => push_field(buf, *other),
                    }
                }
            }
            buf.extend_from_slice(eol);
            what = "unbalanced_quote";
        }
        2 => {
            fields[date_col] = FieldOut::Raw(bad_dates[r.below_usize(bad_dates.len())]);
            push_fields(buf, fields, eol);
            what = "bad_date";
        }
        3 => {
            fields[name_col] = FieldOut::S(if r.chance(0.7) { "" } else { "   " });
            push_fields(buf, fields, eol);
            what = "empty_name";
        }
        _ => {
            fields[key_col] = FieldOut::S("");
            push_fields(buf, fields, eol);
            what = "empty_key";
        }
    }
    what
}

/// Writes the CRM and billing exports and their truth/defect rows.
pub struct CustomerWriter<'a> {
    ctx: &'a Ctx<'a>,
    crm: CsvFile,
    billing: CsvFile,
    pub truth: Truth,
    pub defects: Defects,
    truth_out: &'a mut Out,
    defects_out: &'a mut Out,
    mal_crm: Every,
    mal_billing: Every,
    defer_rng: Rng,
    dangling: u64,
    malformed_keys: u64,
    row: Vec<u8>,
    tmp: String,
    /// Hashes of the domains and free-mail addresses given out so far.
    used_domains: HashSet<u64>,
}

pub type TruthCounts = std::collections::BTreeMap<&'static str, u64>;
pub type DefectCounts = std::collections::BTreeMap<(&'static str, &'static str), u64>;

pub struct CustomerCounts {
    pub crm_rows: u64,
    pub crm_malformed: u64,
    pub crm_bytes: u64,
    pub billing_rows: u64,
    pub billing_malformed: u64,
    pub billing_bytes: u64,
}

impl<'a> CustomerWriter<'a> {
    pub fn new(
        ctx: &'a Ctx<'a>,
        crm_out: Out,
        billing_out: Out,
        truth_out: &'a mut Out,
        defects_out: &'a mut Out,
    ) -> Res<CustomerWriter<'a>> {
        let mut crm = CsvFile::new(crm_out);
        let mut h = vec![0xEF, 0xBB, 0xBF];
        h.extend_from_slice(CRM_HEADER.as_bytes());
        h.extend_from_slice(b"\r\n");
        crm.header(&h)?;
        let mut billing = CsvFile::new(billing_out);
        billing.header(format!("{BILLING_HEADER}\n").as_bytes())?;
        let n = ctx.n as f64;
        let p_mal_crm = (P_MALFORMED * (1.0 + P_CRM_SECOND + P_CRM_THIRD))
            .max(MIN_MALFORMED / (n * P_CRM).max(1.0))
            .min(0.5);
        let p_mal_billing = (P_MALFORMED * (1.0 + P_BILLING_DUP))
            .max(MIN_MALFORMED / (n * billing_per_entity() / (1.0 + P_BILLING_DUP)).max(1.0))
            .min(0.5);
        Ok(CustomerWriter {
            ctx,
            crm,
            billing,
            truth: Truth::default(),
            defects: Defects::default(),
            truth_out,
            defects_out,
            mal_crm: Every::new(
                Rng::stream(ctx.seed, stream::MALFORMED_CRM, 0),
                1.0 / p_mal_crm,
            ),
            mal_billing: Every::new(
                Rng::stream(ctx.seed, stream::MALFORMED_BILLING, 0),
                1.0 / p_mal_billing,
            ),
            defer_rng: Rng::stream(ctx.seed, stream::DEFER, 0),
            dangling: 0,
            malformed_keys: 0,
            row: Vec::with_capacity(1024),
            tmp: String::new(),
            used_domains: HashSet::new(),
        })
    }

    /// Generates every entity; returns the counts, the truth rows per source and the
    /// defect counts.
    pub fn run(mut self) -> Res<(CustomerCounts, TruthCounts, DefectCounts)> {
        for i in 0..self.ctx.n {
            self.crm.flush_deferred(i)?;
            self.billing.flush_deferred(i)?;
            self.entity(i)?;
            self.truth.spill(self.truth_out, false)?;
            self.defects.spill(self.defects_out, false)?;
        }
        self.truth.spill(self.truth_out, true)?;
        self.defects.spill(self.defects_out, true)?;
        let crm_rows = self.crm.records + self.crm.deferred.len() as u64;
        let billing_rows = self.billing.records + self.billing.deferred.len() as u64;
        let (crm_malformed, billing_malformed) = (self.crm.malformed, self.billing.malformed);
        let crm_bytes = self.crm.finish()?;
        let billing_bytes = self.billing.finish()?;
        Ok((
            CustomerCounts {
                crm_rows,
                crm_malformed,
                crm_bytes,
                billing_rows,
                billing_malformed,
                billing_bytes,
            },
            self.truth.rows,
            self.defects.counts,
        ))
    }

    fn make_entity(&self, p: &Plan, r: &mut Rng, used: &mut HashSet<u64>) -> Entity<'a> {
        let ctx = self.ctx;
        let c = &COUNTRIES[p.country];
        let cg = &ctx.geo.countries[p.country];
        let core = ctx.names.company_core(p.country, r);
        let suffix = *r.pick_weighted(c.suffixes);
        let comma = !suffix.is_empty()
            && c.lang == Lang::En
            && matches!(
                suffix,
                "Inc" | "Inc." | "LLC" | "Ltd" | "Limited" | "Co" | "Corp" | "Corp."
            )
            && r.chance(0.05);
        let city = &cg.cities[cg.zipf.sample(r)];
        let mut st = String::new();
        street(c, r, &ctx.names.street_en, &mut st);
        let mut postal = String::new();
        postal_code(c, city, r, &mut postal);
        let phone = Phone::new(c, city, r);
        // Domains belong to one company: retry with more distinctive forms when taken.
        let mut domain = String::new();
        for attempt in 0..32 {
            domain = ctx.names.domain(&core, c.tld, &city.name, attempt, r);
            if used.insert(fnv1a(domain.as_bytes())) {
                break;
            }
        }
        let freemail = r.chance(0.04);
        let email = if freemail {
            let mut e = String::new();
            for _ in 0..32 {
                e = ctx.names.freemail(&core, r);
                if used.insert(fnv1a(e.as_bytes())) {
                    break;
                }
            }
            e
        } else {
            ctx.names.email(&domain, r)
        };
        let website = match r.weighted(&[55, 25, 8, if freemail { 60 } else { 12 }]) {
            0 => format!("www.{domain}"),
            1 => domain.clone(),
            2 => format!("https://www.{domain}"),
            _ => String::new(),
        };
        let owner = ctx.names.owner(r);
        let account_type = *r.pick_weighted(&[
            ("Customer - Direct", 60u32),
            ("Customer - Channel", 22),
            ("Prospect", 10),
            ("Partner", 5),
            ("Other", 3),
        ]);
        Entity {
            country: c,
            core,
            suffix,
            comma,
            street: st,
            city,
            postal,
            phone,
            email,
            domain,
            freemail,
            website,
            owner,
            account_type,
        }
    }

    fn phone_style(&self, r: &mut Rng, e: &Entity) -> String {
        let mut s = String::new();
        let style = if e.phone.nanp {
            r.weighted(&[50, 28, 8, 8, 4, 2]) as u32
        } else {
            r.weighted(&[65, 25, 10]) as u32
        };
        e.phone.format(style, &mut s);
        s
    }

    fn entity(&mut self, i: u64) -> Res<()> {
        let ctx = self.ctx;
        let p = ctx.plan(i);
        let mut r = Rng::stream(ctx.seed, stream::ENTITY, i);
        let mut used = std::mem::take(&mut self.used_domains);
        let e = self.make_entity(&p, &mut r, &mut used);
        self.used_domains = used;
        let ent = i + 1;

        // --- CRM primary (canonical values) ---
        let mut crm0: Option<CrmRow> = None;
        if p.n_crm > 0 {
            let mut row = CrmRow {
                id: ctx.ids.crm(i, 0),
                name: e.name(),
                account_type: e.account_type,
                street: e.street.clone(),
                city: e.city.name.clone(),
                state: e.city.region.to_string(),
                postal: e.postal.clone(),
                country: e.country.code.to_string(),
                phone: self.phone_style(&mut r, &e),
                email: e.email.clone(),
                website: e.website.clone(),
                owner: ctx.names.owners[e.owner].clone(),
                created_age: p.created_age,
                modified_age: modified_age(&mut r, p.created_age),
                modified_sec: business_seconds(&mut r),
            };
            if r.chance(0.03) {
                row.email.clear();
            }
            if r.chance(0.04) {
                row.phone.clear();
            }
            if r.chance(0.03) {
                row.postal.clear();
            }
            crm0 = Some(row);
        }

        // --- CRM duplicates (variations of the canonical primary) ---
        let mut crm_dups: Vec<CrmRow> = Vec::new();
        if let Some(c0) = &crm0 {
            for k in 1..p.n_crm as u64 {
                let d = self.crm_duplicate(&mut r, &e, c0, ctx.ids.crm(i, k), p.created_age);
                crm_dups.push(d);
            }
        }

        // --- Billing customers ---
        let mut bills: Vec<BillRow> = Vec::new();
        for k in 0..p.n_billing as usize {
            let id = ctx.ids.cus(i, k as u64);
            let created_age = p.billing_created_age[k];
            let mut b = if k == 0 {
                self.billing_primary(&mut r, &e, id, crm0.is_some())
            } else {
                self.billing_duplicate(&mut r, &e, &bills[0], id)
            };
            b.created_age = created_age;
            b.created_sec = r.below(86_400) as u32;
            b.updated_age = modified_age(&mut r, created_age);
            b.updated_sec = r.below(86_400) as u32;
            if let Some(c0) = &crm0 {
                self.reference(&mut r, i, c0, &mut b);
            }
            bills.push(b);
        }

        // --- Stale attribute: the billing record moved on, the CRM record did not ---
        let mut stale_attr = false;
        if let (Some(c0), Some(b0)) = (crm0.as_mut(), bills.first_mut())
            && matches!(b0.kind, RefKind::Correct | RefKind::Alias)
            && p.created_age >= 120
            && r.chance(P_STALE_ATTRIBUTE)
        {
            stale_attr = true;
            let what = r.below(3);
            if what != 1 || c0.email.is_empty() {
                // A new e-mail address.
                b0.email = other_email(&mut r, ctx.names, &e, &b0.email);
                if c0.email.is_empty() {
                    c0.email = e.email.clone();
                }
            }
            if what != 0 {
                let mut s = String::new();
                for _ in 0..5 {
                    street(e.country, &mut r, &ctx.names.street_en, &mut s);
                    if flat_street(&s) != flat_street(&c0.street) {
                        break;
                    }
                }
                b0.street = flat_street(&s);
                if c0.street.is_empty() {
                    c0.street = e.street.clone();
                }
            }
            b0.updated_age = r.range(1, b0.created_age.min(60));
            c0.modified_age = r.range(90, p.created_age.min(FRESH_MAX));
        }

        // --- Invalid values (planted after the duplicates copied the canonical ones) ---
        let mut inv_crm: Vec<[bool; 3]> = Vec::new();
        for row in crm0.iter_mut().chain(crm_dups.iter_mut()) {
            inv_crm.push(plant_invalid(
                &mut r,
                &e,
                &mut row.email,
                &mut row.phone,
                &mut row.country,
            ));
        }
        let mut inv_bill: Vec<[bool; 3]> = Vec::new();
        for b in bills.iter_mut() {
            inv_bill.push(plant_invalid(
                &mut r,
                &e,
                &mut b.email,
                &mut b.phone,
                &mut b.country,
            ));
        }

        // --- Make the CRM record the newer one wherever a linked billing record differs
        // for reasons other than a planted stale attribute ---
        if let Some(c0) = crm0.as_mut() {
            let linked_diff = |k: usize, b: &BillRow, c0: &CrmRow| {
                matches!(b.kind, RefKind::Correct | RefKind::Alias)
                    && !(k == 0 && stale_attr)
                    && differs(c0, b)
            };
            if !stale_attr {
                for (k, b) in bills.iter().enumerate() {
                    if linked_diff(k, b, c0) {
                        let target = b.updated_age - r.range(2, 10);
                        if target >= 1 {
                            c0.modified_age = c0.modified_age.min(target);
                        }
                    }
                }
            }
            for (k, b) in bills.iter_mut().enumerate() {
                if linked_diff(k, b, c0) && b.updated_age < c0.modified_age + 2 {
                    b.updated_age = c0.modified_age + r.range(2, 10);
                    b.created_age = b.created_age.max(b.updated_age);
                }
            }
        }

        // --- Write: CRM primary now, duplicates later in the file ---
        if let Some(c0) = &crm0 {
            if self.mal_crm.tick() {
                self.malformed_crm(c0)?;
            }
            self.row.clear();
            push_fields(&mut self.row, &crm_fields(c0, ctx.as_of), b"\r\n");
            let row = std::mem::take(&mut self.row);
            self.crm.push_row(&row)?;
            self.row = row;
            self.crm.records += 1;
            self.truth.add(CRM, c0.id.as_str(), b'C', ent);
            self.crm_defects(c0, inv_crm[0], None);
            if stale_attr {
                self.defects.add(
                    CRM,
                    c0.id.as_str(),
                    "stale_attribute",
                    BILLING,
                    bills[0].id.as_str(),
                );
            }
        }
        for (k, d) in crm_dups.iter().enumerate() {
            let mut row = Vec::with_capacity(256);
            push_fields(&mut row, &crm_fields(d, ctx.as_of), b"\r\n");
            let at = i + 1 + self.defer_rng.below(ctx.n / 3 + 1);
            self.crm.defer(at, row);
            self.truth.add(CRM, d.id.as_str(), b'C', ent);
            let orig = crm0.as_ref().expect("duplicates have a primary").id;
            self.crm_defects(d, inv_crm[k + 1], Some(orig.as_str()));
        }
        for (k, b) in bills.iter().enumerate() {
            self.row.clear();
            push_fields(&mut self.row, &billing_fields(b, ctx.as_of), b"\n");
            if k == 0 {
                if self.mal_billing.tick() {
                    self.malformed_billing(b)?;
                }
                let row = std::mem::take(&mut self.row);
                self.billing.push_row(&row)?;
                self.row = row;
                self.billing.records += 1;
            } else {
                let at = i + 1 + self.defer_rng.below(ctx.n / 3 + 1);
                self.billing.defer(at, self.row.clone());
            }
            self.truth.add(BILLING, b.id.as_str(), b'C', ent);
            let key = b.id.as_str();
            if k > 0 {
                self.defects
                    .add(BILLING, key, "duplicate", BILLING, bills[0].id.as_str());
            }
            if b.updated_age > STALE_DAYS {
                self.defects.add(BILLING, key, "stale", "", "");
            }
            let [em, ph, co] = inv_bill[k];
            if em {
                self.defects.add(BILLING, key, "invalid_email", "", "");
            }
            if ph {
                self.defects.add(BILLING, key, "invalid_phone", "", "");
            }
            if co {
                self.defects.add(BILLING, key, "invalid_country", "", "");
            }
            if let Some(c0) = &crm0 {
                let code = match b.kind {
                    RefKind::Empty => Some("missing_reference"),
                    RefKind::Wrong => Some("wrong_reference"),
                    RefKind::Dangling => Some("dangling_reference"),
                    RefKind::Alias => Some("alias_reference"),
                    RefKind::Correct | RefKind::NoCrm => None,
                };
                if let Some(code) = code {
                    self.defects.add(BILLING, key, code, CRM, c0.id.as_str());
                }
            }
        }
        Ok(())
    }

    fn crm_defects(&mut self, row: &CrmRow, invalid: [bool; 3], dup_of: Option<&str>) {
        let key = row.id.as_str();
        if let Some(orig) = dup_of {
            self.defects.add(CRM, key, "duplicate", CRM, orig);
        }
        if row.modified_age > STALE_DAYS {
            self.defects.add(CRM, key, "stale", "", "");
        }
        let [em, ph, co] = invalid;
        if em {
            self.defects.add(CRM, key, "invalid_email", "", "");
        }
        if ph {
            self.defects.add(CRM, key, "invalid_phone", "", "");
        }
        if co {
            self.defects.add(CRM, key, "invalid_country", "", "");
        }
    }

    fn crm_duplicate(
        &self,
        r: &mut Rng,
        e: &Entity,
        c0: &CrmRow,
        id: CrmId,
        created_age: i64,
    ) -> CrmRow {
        let mut d = c0.clone();
        d.id = id;
        d.created_age = r.range(1, created_age);
        d.modified_age = modified_age(r, d.created_age);
        d.modified_sec = business_seconds(r);
        if r.chance(0.05) {
            // An exact copy under a new ID (a double import).
            return d;
        }
        if r.chance(0.85) {
            d.name = vary_name(r, e, &e.core, e.suffix);
        }
        if r.chance(0.5) {
            if let Some(s) = toggle_street_abbreviation(r, &d.street) {
                d.street = s;
            }
        } else if r.chance(0.1) && !d.street.is_empty() {
            d.street = typo(r, &d.street, 1);
        }
        if r.chance(0.05) {
            d.street.clear();
        }
        if r.chance(0.05) {
            d.city = d.city.to_uppercase();
        } else if r.chance(0.04) {
            d.city = typo(r, &d.city, 1);
        } else if has_non_ascii(&d.city) && r.chance(0.3) {
            d.city = transliterated(&d.city, true);
        }
        if r.chance(0.05) {
            d.postal.clear();
        }
        if r.chance(0.05) {
            d.state.clear();
        }
        if r.chance(0.5) {
            let mut s = String::new();
            let style = r.below(6) as u32;
            e.phone.format(style, &mut s);
            d.phone = s;
        }
        if r.chance(0.15) {
            d.phone.clear();
        }
        match r.weighted(&[55, 12, 8, 20, 5]) {
            0 => {}
            1 => d.email = d.email.to_lowercase(),
            2 => d.email = d.email.to_uppercase(),
            3 => d.email.clear(),
            _ => d.email = other_email(r, self.ctx.names, e, &e.email),
        }
        if r.chance(0.4) {
            d.website.clear();
        } else if let Some(w) = d.website.strip_prefix("www.") {
            d.website = w.to_string();
        }
        if r.chance(0.4) {
            d.account_type = *r.pick(&[
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Other",
            ]);
        }
        if r.chance(0.5) {
            d.owner = self.ctx.names.owners[self.ctx.names.owner(r)].clone();
        }
        d
    }

    fn billing_primary(&self, r: &mut Rng, e: &Entity, id: CusId, has_crm: bool) -> BillRow {
        let mut phone = String::new();
        if r.chance(0.95) {
            e.phone.e164(&mut phone);
        } else {
            e.phone.format(3, &mut phone);
        }
        if r.chance(0.08) {
            phone.clear();
        }
        let mut b = BillRow {
            id,
            name: e.name(),
            email: e.email.clone(),
            phone,
            street: flat_street(&e.street),
            city: e.city.name.clone(),
            postal: e.postal.clone(),
            country: e.country.code.to_string(),
            created_age: 0,
            created_sec: 0,
            updated_age: 0,
            updated_sec: 0,
            reference: String::new(),
            kind: RefKind::NoCrm,
        };
        if has_crm && r.chance(0.2) {
            // A small variation against the CRM record.
            match r.weighted(&[30, 25, 15, 15, 10, 5]) {
                0 => {
                    let s = suffix_variant(r, e.suffix, default_suffix(e.country));
                    b.name = compose(&e.core, e.comma && r.chance(0.5), s);
                }
                1 => {
                    if let Some(s) = toggle_street_abbreviation(r, &b.street) {
                        b.street = s;
                    } else {
                        b.name = vary_name(r, e, &e.core, e.suffix);
                    }
                }
                2 => b.name = compose(&typo(r, &e.core, 1), e.comma, e.suffix),
                3 => {
                    if has_non_ascii(&b.name) || has_non_ascii(&b.street) || has_non_ascii(&b.city)
                    {
                        let german = r.chance(0.6);
                        b.name = transliterated(&b.name, german);
                        b.street = transliterated(&b.street, german);
                        b.city = transliterated(&b.city, german);
                    } else {
                        b.name = vary_name(r, e, &e.core, e.suffix);
                    }
                }
                4 => b.name = vary_name(r, e, &e.core, e.suffix),
                _ => b.name = b.name.to_uppercase(),
            }
        }
        b
    }

    fn billing_duplicate(&self, r: &mut Rng, e: &Entity, b0: &BillRow, id: CusId) -> BillRow {
        let mut d = b0.clone();
        d.id = id;
        d.name = vary_name(r, e, &e.core, e.suffix);
        if r.chance(0.4)
            && let Some(s) = toggle_street_abbreviation(r, &d.street)
        {
            d.street = s;
        }
        match r.weighted(&[60, 20, 10, 10]) {
            0 => {}
            1 => d.email = d.email.to_lowercase(),
            2 => d.email.clear(),
            _ => d.email = other_email(r, self.ctx.names, e, &e.email),
        }
        if r.chance(0.3) {
            let mut s = String::new();
            e.phone.format(r.below(4) as u32, &mut s);
            d.phone = s;
        }
        d
    }

    /// Draws the CRM reference of a billing record of an entity that has a CRM account.
    fn reference(&mut self, r: &mut Rng, i: u64, c0: &CrmRow, b: &mut BillRow) {
        // 88 : 4 : 3 : 1 : 1, the remaining 3% spread proportionally.
        let kind = match r.weighted(&[8800, 400, 300, 100, 100]) {
            0 => RefKind::Correct,
            1 => RefKind::Alias,
            2 => RefKind::Empty,
            3 => RefKind::Wrong,
            _ => RefKind::Dangling,
        };
        let kind = if kind == RefKind::Wrong {
            let mut target = None;
            if self.ctx.n > 1 {
                for _ in 0..16 {
                    let j = r.below(self.ctx.n);
                    if j != i && self.ctx.plan(j).n_crm > 0 {
                        target = Some(j);
                        break;
                    }
                }
            }
            match target {
                Some(j) => {
                    b.reference = self.ctx.ids.crm(j, 0).as_str().to_string();
                    RefKind::Wrong
                }
                None => RefKind::Dangling,
            }
        } else {
            kind
        };
        match kind {
            RefKind::Correct => b.reference = c0.id.as_str().to_string(),
            RefKind::Alias => b.reference = c0.id.as_str()[..15].to_string(),
            RefKind::Empty => b.reference.clear(),
            RefKind::Dangling => {
                let id = self.ctx.ids.crm_dangling(self.dangling);
                self.dangling += 1;
                b.reference = id.as_str().to_string();
            }
            RefKind::Wrong | RefKind::NoCrm => {}
        }
        b.kind = kind;
    }

    fn malformed_crm(&mut self, c0: &CrmRow) -> Res<()> {
        let mut m = c0.clone();
        m.id = self.ctx.ids.crm_malformed(self.malformed_keys);
        self.malformed_keys += 1;
        let strs: Vec<String> = [
            m.name.as_str(),
            &m.street,
            &m.city,
            &m.state,
            &m.postal,
            &m.country,
            &m.phone,
            &m.email,
            &m.website,
            &m.owner,
        ]
        .iter()
        .map(|s| flat(s))
        .collect();
        let mut fields = crm_fields(&m, self.ctx.as_of);
        for (k, s) in [1usize, 3, 4, 5, 6, 7, 8, 9, 10, 11]
            .iter()
            .zip(strs.iter())
        {
            fields[*k] = FieldOut::S(s);
        }
        let bad = [
            "31/12/2025",
            "2025-12-31",
            "13/01/2024",
            "2019.12.05",
            "00/00/0000",
        ];
        let bad_mod = [
            "2026-10-01 14:30",
            "10/01/2026 14:30",
            "yesterday",
            "10/01/2026",
        ];
        let (date_col, bads): (usize, &[&str]) = if self.mal_crm.rng().chance(0.6) {
            (12, &bad)
        } else {
            (13, &bad_mod)
        };
        let mut buf = std::mem::take(&mut self.tmp).into_bytes();
        let how = Breakage {
            key_col: 0,
            name_col: 1,
            date_col,
            bad_dates: bads,
            eol: b"\r\n",
        };
        malformed_row(self.mal_crm.rng(), &mut fields, &how, &mut buf);
        let line = self.crm.push_row(&buf)?;
        self.tmp = String::from_utf8(buf).unwrap_or_default();
        self.crm.malformed += 1;
        self.defects.malformed(CRM, line);
        Ok(())
    }

    fn malformed_billing(&mut self, b0: &BillRow) -> Res<()> {
        let mut m = b0.clone();
        m.id = self.ctx.ids.cus_malformed(self.malformed_keys);
        self.malformed_keys += 1;
        let strs: Vec<String> = [
            m.name.as_str(),
            &m.email,
            &m.phone,
            &m.street,
            &m.city,
            &m.postal,
            &m.country,
            &m.reference,
        ]
        .iter()
        .map(|s| flat(s))
        .collect();
        let mut fields = billing_fields(&m, self.ctx.as_of);
        for (k, s) in [1usize, 2, 3, 4, 5, 6, 7, 10].iter().zip(strs.iter()) {
            fields[*k] = FieldOut::S(s);
        }
        let bad = [
            "yesterday",
            "2025/12/31 10:00:00",
            "12/31/2025 10:00:00",
            "2025-13-01 10:00:00",
            "2026-10-01T10:00:00Z",
        ];
        let date_col = if self.mal_billing.rng().chance(0.5) {
            8
        } else {
            9
        };
        let mut buf = std::mem::take(&mut self.tmp).into_bytes();
        let how = Breakage {
            key_col: 0,
            name_col: 1,
            date_col,
            bad_dates: &bad,
            eol: b"\n",
        };
        malformed_row(self.mal_billing.rng(), &mut fields, &how, &mut buf);
        let line = self.billing.push_row(&buf)?;
        self.tmp = String::from_utf8(buf).unwrap_or_default();
        self.billing.malformed += 1;
        self.defects.malformed(BILLING, line);
        Ok(())
    }
}

/// FNV-1a, 64 bit.
fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A street as a single line (billing systems have no multi-line address field).
fn flat_street(s: &str) -> String {
    if s.contains('\n') {
        s.replace('\n', " ")
    } else {
        s.to_string()
    }
}

/// Whether the e-mail or street of a linked billing record differs from the CRM's.
fn differs(c: &CrmRow, b: &BillRow) -> bool {
    let email =
        !c.email.is_empty() && !b.email.is_empty() && !c.email.eq_ignore_ascii_case(&b.email);
    let street = !c.street.is_empty() && !b.street.is_empty() && flat_street(&c.street) != b.street;
    email || street
}

fn plant_invalid(
    r: &mut Rng,
    e: &Entity,
    email: &mut String,
    phone: &mut String,
    country: &mut String,
) -> [bool; 3] {
    let mut flags = [false; 3];
    if !email.is_empty() && r.chance(P_INVALID_EMAIL) {
        *email = invalid_email(r, email);
        flags[0] = true;
    }
    if r.chance(P_INVALID_PHONE) {
        *phone = invalid_phone(r, &e.phone);
        flags[1] = true;
    }
    if r.chance(P_INVALID_COUNTRY) {
        *country = invalid_country(r);
        flags[2] = true;
    }
    flags
}
