//! Randomness, from one place: jitter for renewals and retry waits.

/// A uniformly random fraction in [0, 1).
pub(crate) fn fraction() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fractions_are_in_the_unit_interval_and_vary() {
        let draws: Vec<f64> = (0..1000).map(|_| super::fraction()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        assert!((300..700).contains(&low), "{low} of 1000 below one half");
    }
}
