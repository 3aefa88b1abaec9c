//! Maps keyed by phone number ids: a multiply-rotate hash (FxHash's
//! scheme). The ids come from the application's own URIs, not an
//! adversary's, and are short, so a keyed hash would cost more than the
//! rest of a look-up on the hot path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for short, trusted ids.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.write_u64(u64::from(byte));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by phone number ids.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The hash of `key`, as [`IdMap`] computes it.
#[cfg_attr(not(feature = "tenants"), allow(dead_code))]
pub(crate) fn hash_of<K: std::hash::Hash>(key: &K) -> u64 {
    use std::hash::BuildHasher;
    BuildHasherDefault::<IdHasher>::default().hash_one(key)
}

/// A Graph id, as Graph issues them (phone number ids, account ids):
/// digits, without a leading zero, that fit 64 bits. Kept as a number, a
/// map keyed by it compares no strings.
#[cfg_attr(not(feature = "tenants"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct GraphId(u64);

#[cfg_attr(not(feature = "tenants"), allow(dead_code))]
impl GraphId {
    /// `id` as a Graph id, or `None` when it cannot be one.
    #[inline]
    pub(crate) fn parse(id: &str) -> Option<GraphId> {
        let digits = id.as_bytes();
        if digits.is_empty() || digits.len() > 19 || digits[0] == b'0' {
            return None;
        }
        // Two halves, folded apart: each digit's multiply-add waits for the
        // one before it, and two chains of 8 run side by side where one of
        // 15 (a phone number id) runs end to end. At most 19 digits: the
        // sum fits 64 bits.
        let fold = |part: &[u8]| {
            part.iter().try_fold(0u64, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
            })
        };
        let (high, low) = digits.split_at(digits.len() / 2);
        let (high, low_value) = (fold(high)?, fold(low)?);
        Some(GraphId(high * 10u64.pow(low.len() as u32) + low_value))
    }
}

impl std::fmt::Display for GraphId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_shards() {
        let mut counts = [0u32; 32];
        for n in 0..32_000u64 {
            let id = GraphId::parse(&(106_540_352_242_922 + n).to_string()).unwrap();
            counts[(hash_of(&id) >> 59) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (500..1500).contains(c)), "{counts:?}");
    }

    #[test]
    fn graph_ids_are_digits_without_a_leading_zero_in_64_bits() {
        for (id, want) in [
            ("106540352242922", Some(106_540_352_242_922)),
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("1", Some(1)),
            ("10", Some(10)),
            ("1234567890123456789", Some(1_234_567_890_123_456_789)),
            ("a1", None),
            ("1a", None),
            ("99999999999999999999", None),
            ("0123", None),
            ("", None),
            ("12a4", None),
            ("-12", None),
            ("+12", None),
        ] {
            assert_eq!(GraphId::parse(id).map(|g| g.0), want, "{id}");
        }
        assert_eq!(
            GraphId::parse("106540352242922").unwrap().to_string(),
            "106540352242922"
        );
    }
}
