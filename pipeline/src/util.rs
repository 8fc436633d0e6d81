//! Small helpers shared across stages.

use chrono::{Datelike, NaiveDate};
use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The machine's physical memory in bytes, if the system says.
pub fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf only reads system configuration values.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && page > 0).then(|| pages as u64 * page as u64)
}

/// Days since 1970-01-01 (Arrow's Date32).
pub fn date_to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

/// The date of an Arrow Date32 value.
pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163)
}

/// Debug-level timings of the phases inside a stage (`-v` shows them): what a profile
/// of a slow night starts from.
pub struct Phases {
    stage: &'static str,
    entity: String,
    t: std::time::Instant,
}

impl Phases {
    pub fn new(stage: &'static str, entity: &str) -> Phases {
        Phases {
            stage,
            entity: entity.to_string(),
            t: std::time::Instant::now(),
        }
    }

    /// Logs the time since the previous lap under `phase`.
    pub fn lap(&mut self, phase: &str) {
        tracing::debug!(
            stage = self.stage,
            entity = %self.entity,
            phase,
            duration_ms = self.t.elapsed().as_millis() as u64,
            "phase"
        );
        self.t = std::time::Instant::now();
    }
}

/// A `HashMap` with foldhash instead of SipHash, for the maps keyed by record keys, ids
/// and hashes that hold millions of entries. Seeded per process like std's, so nothing
/// may depend on its iteration order (as with std's).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// The set counterpart of [`FastMap`].
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_round_trip() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(days_to_date(date_to_days(d)), Some(d));
        assert_eq!(
            date_to_days(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()),
            0
        );
    }
}
