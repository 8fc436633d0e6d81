//! Record keys: Salesforce-style account IDs (with the 18-character checksum), Stripe
//! style customer, invoice and invoice-line IDs.
//!
//! Every ID is a bijective function of a record number, so IDs never collide; numbers
//! outside the ranges used for real records give IDs that are guaranteed not to exist
//! (dangling references, unknown customers, keys of quarantined rows).

use crate::rng::{mix64, permute64};

pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 3-character case-safety suffix of a 15-character Salesforce ID.
pub fn sf_checksum(id15: &[u8]) -> [u8; 3] {
    assert_eq!(id15.len(), 15, "a Salesforce ID base has 15 characters");
    let mut out = [0u8; 3];
    for (c, chunk) in id15.chunks(5).enumerate() {
        let mut n = 0usize;
        for (j, &b) in chunk.iter().enumerate() {
            if b.is_ascii_uppercase() {
                n |= 1 << j;
            }
        }
        out[c] = CHECKSUM_ALPHABET[n];
    }
    out
}

/// Appends the checksum to a 15-character ID.
pub fn sf_id18(id15: &[u8]) -> [u8; 18] {
    let mut out = [0u8; 18];
    out[..15].copy_from_slice(id15);
    out[15..].copy_from_slice(&sf_checksum(id15));
    out
}

/// 62^7: the number of distinct 7-character base-62 strings.
const CRM_SPACE: u64 = 3_521_614_606_208;

/// Key derivation for one generated data set.
#[derive(Clone, Debug)]
pub struct Ids {
    /// Number of customer entities.
    n: u64,
    crm_offset: u64,
    crm_stride: u64,
    cus_key: u64,
    inv_key: u64,
    line_key: u64,
}

/// A fixed-size ASCII key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key<const N: usize>(pub [u8; N]);

impl<const N: usize> Key<N> {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("keys are ASCII")
    }
}

impl<const N: usize> std::fmt::Debug for Key<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub type CrmId = Key<18>;
pub type CusId = Key<18>;
pub type DocId = Key<17>;

impl Ids {
    pub fn new(seed: u64, customers: u64) -> Ids {
        let h = |k: u64| mix64(seed ^ mix64(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let crm_offset = h(1) % CRM_SPACE;
        // Odd and not a multiple of 31, hence coprime to 62^7 = 2^7 * 31^7.
        let mut crm_stride = (h(2) % CRM_SPACE) | 1;
        while crm_stride.is_multiple_of(31) {
            crm_stride = (crm_stride + 2) % CRM_SPACE;
        }
        Ids {
            n: customers,
            crm_offset,
            crm_stride,
            cus_key: h(3),
            inv_key: h(4),
            line_key: h(5),
        }
    }

    /// CRM account number `r` → 18-character ID. Distinct `r < 62^7` give distinct IDs.
    pub fn crm_by_number(&self, r: u64) -> CrmId {
        let v = ((self.crm_offset as u128 + r as u128 * self.crm_stride as u128)
            % CRM_SPACE as u128) as u64;
        let mut id = [0u8; 15];
        id[..3].copy_from_slice(b"001");
        // Salesforce pod/instance marker: a few values, like records from a few pods.
        const PODS: [&[u8; 3]; 4] = [b"5g0", b"Dn0", b"4x0", b"8a0"];
        id[3..6].copy_from_slice(PODS[(mix64(v) % 4) as usize]);
        id[6..8].copy_from_slice(b"00");
        let mut x = v;
        for k in (8..15).rev() {
            id[k] = BASE62[(x % 62) as usize];
            x /= 62;
        }
        Key(sf_id18(&id))
    }

    /// The `k`-th CRM account (0 = primary) of entity `i`.
    pub fn crm(&self, i: u64, k: u64) -> CrmId {
        self.crm_by_number(i * 4 + k)
    }

    /// An ID that looks like an account ID but belongs to no account.
    pub fn crm_dangling(&self, k: u64) -> CrmId {
        self.crm_by_number(self.n * 4 + 2 * k)
    }

    /// The key of a deliberately malformed CRM row (not a real account).
    pub fn crm_malformed(&self, k: u64) -> CrmId {
        self.crm_by_number(self.n * 4 + 2 * k + 1)
    }

    fn prefixed<const N: usize>(prefix: &[u8], key: u64, r: u64) -> Key<N> {
        let body = N - prefix.len();
        debug_assert!(body >= 11);
        let mut out = [0u8; N];
        out[..prefix.len()].copy_from_slice(prefix);
        // 11 base-62 digits encode the whole permuted u64 (62^11 > 2^64): unique.
        let mut x = permute64(key, r);
        let start = prefix.len();
        for k in (start..start + 11).rev() {
            out[k] = BASE62[(x % 62) as usize];
            x /= 62;
        }
        let mut h = mix64(permute64(key, r) ^ 0xA5A5_A5A5_5A5A_5A5A);
        for slot in out.iter_mut().skip(start + 11) {
            *slot = BASE62[(h % 62) as usize];
            h /= 62;
        }
        // Stripe IDs look random: rotate so the digit-heavy head is not always first.
        let rot = (mix64(r ^ key) % body as u64) as usize;
        out[start..].rotate_left(rot);
        Key(out)
    }

    /// The `k`-th billing customer (0 = primary) of entity `i`: `cus_` + 14 characters.
    pub fn cus(&self, i: u64, k: u64) -> CusId {
        Self::prefixed(b"cus_", self.cus_key, i * 2 + k)
    }

    /// A customer ID that exists in no billing export.
    pub fn cus_unknown(&self, k: u64) -> CusId {
        Self::prefixed(b"cus_", self.cus_key, self.n * 2 + 2 * k)
    }

    pub fn cus_malformed(&self, k: u64) -> CusId {
        Self::prefixed(b"cus_", self.cus_key, self.n * 2 + 2 * k + 1)
    }

    /// Invoice number `r`: `in_` + 14 characters.
    pub fn invoice(&self, r: u64) -> DocId {
        Self::prefixed(b"in_", self.inv_key, r)
    }

    /// Invoice line number `r`: `il_` + 14 characters.
    pub fn line(&self, r: u64) -> DocId {
        Self::prefixed(b"il_", self.line_key, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn salesforce_checksum_matches_known_example() {
        assert_eq!(&sf_checksum(b"001D000000IRFma"), b"IAH");
        assert_eq!(&sf_id18(b"001D000000IRFma"), b"001D000000IRFmaIAH");
        // From the demo export.
        assert_eq!(&sf_checksum(b"0015g00000AcMe1"), b"AAF");
        assert_eq!(&sf_checksum(b"0015g00000SoYlA"), b"AAV");
    }

    #[test]
    fn ids_are_unique_and_well_formed() {
        let ids = Ids::new(42, 1000);
        let mut crm = HashSet::new();
        let mut cus = HashSet::new();
        for i in 0..1000 {
            for k in 0..3 {
                let id = ids.crm(i, k);
                assert!(id.as_str().starts_with("001"));
                assert_eq!(&sf_id18(&id.0[..15]), &id.0);
                assert!(crm.insert(id));
            }
            for k in 0..2 {
                let c = ids.cus(i, k);
                assert!(c.as_str().starts_with("cus_"));
                assert!(c.0[4..].iter().all(|b| b.is_ascii_alphanumeric()));
                assert!(cus.insert(c));
            }
        }
        for k in 0..100 {
            assert!(crm.insert(ids.crm_dangling(k)));
            assert!(crm.insert(ids.crm_malformed(k)));
            assert!(cus.insert(ids.cus_unknown(k)));
            assert!(cus.insert(ids.cus_malformed(k)));
        }
        assert!(ids.invoice(7).as_str().starts_with("in_"));
        assert!(ids.line(7).as_str().starts_with("il_"));
        assert_ne!(ids.line(7), ids.line(8));
    }
}
