//! Evictions: idle tenants, and past the capacity the least recently
//! used. Sweeps start epochs; a request marks its tenant seen in the
//! current one.

use std::sync::atomic::Ordering;

use super::{Registry, Slot, SHARDS};

impl Registry {
    /// Starts a new epoch, evicting the tenants not seen in the two before
    /// it (idle ones) and, past the capacity, the least recently seen.
    pub(crate) fn sweep(&self) -> usize {
        self.evict(true, None)
    }

    /// Evicts idle tenants (starting a new epoch) and, past the capacity,
    /// the least recently seen; never `keep`.
    pub(super) fn evict(&self, new_epoch: bool, keep: Option<crate::ids::GraphId>) -> usize {
        let epoch = match new_epoch {
            true => self.epoch.fetch_add(1, Ordering::Relaxed).wrapping_add(1),
            false => self.epoch.load(Ordering::Relaxed),
        };
        let mut capacity = Capacity::of(self, epoch);
        let mut evicted = 0;
        let mut forgotten = 0;
        let now = tokio::time::Instant::now();
        for shard in 0..SHARDS {
            self.write(shard).retain(|id, slot| {
                let entry = match slot {
                    Slot::Resident(entry) => entry,
                    Slot::Unknown { until, .. } if new_epoch && *until <= now => {
                        forgotten += 1;
                        return false;
                    }
                    Slot::Unknown { .. } | Slot::Loading(_) => return true,
                };
                if keep == Some(*id) {
                    return true;
                }
                let age = epoch.wrapping_sub(entry.seen.load(Ordering::Relaxed));
                // Unused for two whole epochs (the sweeper's epochs are half
                // `idle_after`): idle.
                let idle = new_epoch && age >= 3;
                if idle || capacity.evicts(age) {
                    evicted += 1;
                    return false;
                }
                true
            });
        }
        self.resident.fetch_sub(evicted, Ordering::Relaxed);
        self.unknown.fetch_sub(forgotten, Ordering::Relaxed);
        evicted
    }

    /// How many epochs ago each resident tenant was seen.
    fn ages(&self, epoch: u32) -> Vec<u32> {
        let mut ages = Vec::with_capacity(self.len());
        for shard in 0..SHARDS {
            for slot in self.read(shard).values() {
                if let Slot::Resident(entry) = slot {
                    ages.push(epoch.wrapping_sub(entry.seen.load(Ordering::Relaxed)));
                }
            }
        }
        ages
    }
}

/// Which tenants a sweep evicts for the capacity: the least recently
/// seen, `excess` of them (ties, common with coarse epochs, broken in map
/// order).
struct Capacity {
    /// Entries at least this old are candidates.
    cutoff: Option<u32>,
    /// How many of the candidates exactly at the cutoff may still go.
    ties: usize,
}

impl Capacity {
    fn of(registry: &Registry, epoch: u32) -> Capacity {
        let max = registry.settings.max_tenants;
        let over = registry.len().saturating_sub(max);
        if over == 0 {
            return Capacity {
                cutoff: None,
                ties: 0,
            };
        }
        // Down to 90% of the capacity: room for the next few before the
        // next scan.
        let excess = over.saturating_add(max / 10);
        let mut ages = registry.ages(epoch);
        ages.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&cutoff) = ages.get(excess.min(ages.len()).saturating_sub(1)) else {
            return Capacity {
                cutoff: None,
                ties: 0,
            };
        };
        let older = ages.iter().take_while(|age| **age > cutoff).count();
        Capacity {
            cutoff: Some(cutoff),
            ties: excess.saturating_sub(older),
        }
    }

    fn evicts(&mut self, age: u32) -> bool {
        match self.cutoff {
            Some(cutoff) if age > cutoff => true,
            Some(cutoff) if age == cutoff && self.ties > 0 => {
                self.ties -= 1;
                true
            }
            _ => false,
        }
    }
}
