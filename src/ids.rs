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

/// The hash of `id`, as [`IdMap`] computes it.
pub(crate) fn hash_id(id: &str) -> u64 {
    use std::hash::BuildHasher;
    BuildHasherDefault::<IdHasher>::default().hash_one(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_spread_over_shards() {
        let mut counts = [0u32; 32];
        for n in 0..32_000u64 {
            let id = (106_540_352_242_922 + n).to_string();
            counts[(super::hash_id(&id) >> 59) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (500..1500).contains(c)), "{counts:?}");
    }
}
