//! Small deterministic random number generation: SplitMix64 streams, keyed
//! permutations and integer/rational samplers.
//!
//! Only integer arithmetic and IEEE-exact floating-point operations (`+ - * /`,
//! comparisons) are used, never `ln`/`exp`/`pow` from the platform's libm, so the
//! output is bit-identical on every machine.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser; a bijection on `u64`.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A keyed bijection on `u64` (distinct inputs give distinct outputs).
#[inline]
pub fn permute64(key: u64, x: u64) -> u64 {
    let a = mix64(x ^ key);
    let b = mix64(a.wrapping_add(key.rotate_left(17)) ^ 0x2545_F491_4F6C_DD1D);
    mix64(b ^ key.rotate_left(41))
}

/// Named random streams, so that independent parts of the data do not shift each
/// other when one of them changes.
pub mod stream {
    pub const PLAN: u64 = 1;
    pub const ENTITY: u64 = 2;
    pub const INVOICE: u64 = 3;
    pub const INVENTORY: u64 = 4;
    pub const MALFORMED_CRM: u64 = 5;
    pub const MALFORMED_BILLING: u64 = 6;
    pub const MALFORMED_LINES: u64 = 7;
    pub const GEO: u64 = 8;
    pub const KEYS: u64 = 9;
    pub const DEFER: u64 = 10;
}

/// SplitMix64.
#[derive(Clone, Debug)]
pub struct Rng {
    s: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            s: mix64(seed ^ 0x5851_F42D_4C95_7F2D),
        }
    }

    /// The generator for item `index` of stream `stream` under `seed`.
    pub fn stream(seed: u64, stream: u64, index: u64) -> Rng {
        let base = mix64(seed.wrapping_mul(GOLDEN) ^ mix64(stream.wrapping_add(0x1234_5678)));
        Rng {
            s: mix64(base ^ mix64(index.wrapping_add(0x0DDB_1A5E_5BAD_5EED))),
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.s = self.s.wrapping_add(GOLDEN);
        mix64(self.s)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    #[inline]
    pub fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    #[inline]
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below_usize(xs.len())]
    }

    /// Index chosen with the given integer weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w as u64 {
                return i;
            }
            x -= w as u64;
        }
        weights.len() - 1
    }

    /// Picks from `(value, weight)` pairs.
    pub fn pick_weighted<'a, T>(&mut self, xs: &'a [(T, u32)]) -> &'a T {
        let total: u64 = xs.iter().map(|(_, w)| *w as u64).sum();
        let mut x = self.below(total);
        for (v, w) in xs {
            if x < *w as u64 {
                return v;
            }
            x -= *w as u64;
        }
        &xs[xs.len() - 1].0
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below_usize(i + 1);
            xs.swap(i, j);
        }
    }
}

/// Fires on about one call in `mean`, with uniformly distributed gaps (lower variance
/// than independent coin flips, so small data sets still get their share).
#[derive(Clone, Debug)]
pub struct Every {
    rng: Rng,
    mean: f64,
    left: u64,
}

impl Every {
    pub fn new(mut rng: Rng, mean: f64) -> Every {
        let mean = mean.max(1.0);
        let left = Self::gap(&mut rng, mean);
        Every { rng, mean, left }
    }

    fn gap(rng: &mut Rng, mean: f64) -> u64 {
        let span = ((2.0 * mean) as u64).saturating_sub(1).max(1);
        1 + rng.below(span)
    }

    /// Counts one opportunity; true when it is selected.
    pub fn tick(&mut self) -> bool {
        self.left -= 1;
        if self.left == 0 {
            self.left = Self::gap(&mut self.rng, self.mean);
            true
        } else {
            false
        }
    }

    /// The generator, for choices about the selected item.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
}

/// A Zipf-like sampler over `0..n`: weight of rank `k` is `1 / (k + offset)`. A small
/// offset gives a steep head, a large one a flatter distribution.
#[derive(Clone, Debug)]
pub struct Zipf {
    cum: Vec<u64>,
}

impl Zipf {
    pub fn new(n: usize, offset: f64) -> Zipf {
        assert!(n > 0);
        let mut acc = Vec::with_capacity(n);
        let mut total = 0.0f64;
        for k in 0..n {
            total += 1.0 / (k as f64 + offset);
            acc.push(total);
        }
        let scale = (1u64 << 53) as f64;
        let cum = acc.iter().map(|&a| ((a / total) * scale) as u64).collect();
        Zipf { cum }
    }

    pub fn len(&self) -> usize {
        self.cum.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cum.is_empty()
    }

    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.next_u64() >> 11;
        let i = self.cum.partition_point(|&c| c <= x);
        i.min(self.cum.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(1, 2, 3).next_u64()).collect();
        assert!(a.iter().all(|&x| x == a[0]));
        assert_ne!(
            Rng::stream(1, 2, 3).next_u64(),
            Rng::stream(1, 2, 4).next_u64()
        );
        assert_ne!(
            Rng::stream(1, 2, 3).next_u64(),
            Rng::stream(1, 3, 3).next_u64()
        );
        assert_ne!(
            Rng::stream(1, 2, 3).next_u64(),
            Rng::stream(2, 2, 3).next_u64()
        );
    }

    #[test]
    fn zipf_is_skewed() {
        let z = Zipf::new(100, 1.0);
        let mut r = Rng::new(7);
        let mut counts = [0u32; 100];
        for _ in 0..20000 {
            counts[z.sample(&mut r)] += 1;
        }
        assert!(counts[0] > counts[10] * 5);
        assert!(counts.iter().all(|&c| c > 0) || counts[99] == 0);
    }
}
