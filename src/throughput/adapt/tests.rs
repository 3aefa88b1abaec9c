use std::time::Duration;

use tokio::time::Instant;

use super::*;

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn at_its_target_the_pace_neither_measures_nor_moves() {
    let t0 = Instant::now();
    let tuning = Tuning::for_rate(80.0);
    let mut adapt = Adapt::new(t0, 80.0);
    assert!(!adapt.adapting());
    adapt.accepted(t0);
    assert_eq!(adapt.rate_at(&tuning, t0 + 100 * S), 80.0);
}

#[test]
fn a_refusal_without_a_measurement_halves_and_recovery_is_linear() {
    let t0 = Instant::now();
    let tuning = Tuning::for_rate(80.0);
    let mut adapt = Adapt::new(t0, 80.0);
    assert_eq!(adapt.refused(&tuning, t0, t0), Some(40.0));
    assert!(adapt.adapting());
    assert!(close(adapt.rate_at(&tuning, t0 + S), 50.0));
    assert!(close(adapt.rate_at(&tuning, t0 + 3 * S), 70.0));
    assert_eq!(adapt.rate_at(&tuning, t0 + 5 * S), 80.0);
    // Time going backwards (an instant before the last change) is no change.
    assert_eq!(adapt.rate_at(&tuning, t0 - S), 40.0);
}

#[test]
fn a_spell_too_short_or_too_long_measures_nothing() {
    let t0 = Instant::now();
    let tuning = Tuning::for_rate(80.0);
    for spell in [100 * MS, 11 * S] {
        let mut adapt = Adapt::new(t0, 80.0);
        adapt.refused(&tuning, t0, t0);
        for k in 0..40u32 {
            adapt.accepted(t0 + MS * k);
        }
        let at = t0 + spell;
        let before = adapt.rate_at(&tuning, at);
        let after = adapt.refused(&tuning, at, at).unwrap();
        assert!(close(after, before * 0.5), "{spell:?}: {before} → {after}");
        assert_eq!(adapt.measured, None);
    }
}

#[test]
fn a_measurement_sets_the_pace_under_it_and_always_lowers_it() {
    let t0 = Instant::now();
    let tuning = Tuning::for_rate(80.0);
    // 30 accepted in 1.5 s while pacing faster: 95% of 20/s.
    let mut adapt = Adapt::new(t0, 80.0);
    adapt.refused(&tuning, t0, t0);
    for k in 0..30u32 {
        adapt.accepted(t0 + 50 * MS * k);
    }
    let at = t0 + 1500 * MS;
    assert!(close(adapt.refused(&tuning, at, at).unwrap(), 19.0));
    // Measured 2/s: down to the floor (a sixteenth of the target), no lower.
    let mut adapt = Adapt::new(t0, 80.0);
    adapt.refused(&tuning, t0, t0);
    adapt.accepted(t0 + MS);
    adapt.accepted(t0 + 2 * MS);
    assert_eq!(adapt.refused(&tuning, t0 + S, t0 + S), Some(5.0));
    // Measured above the pace (a budget that had filled up): 5% lower.
    let mut adapt = Adapt::new(t0, 80.0);
    adapt.refused(&tuning, t0, t0);
    for k in 0..70u32 {
        adapt.accepted(t0 + 10 * MS * k);
    }
    let before = adapt.rate_at(&tuning, t0 + S);
    assert!(close(
        adapt.refused(&tuning, t0 + S, t0 + S).unwrap(),
        before * 0.95
    ));
}

#[test]
fn odd_tunings_do_not_panic() {
    let t0 = Instant::now();
    let tuning = Tuning {
        decrease: 0.99,
        margin: 0.5,
        fast: 0.0,
        slow: f64::NAN,
        ..Tuning::for_rate(80.0)
    };
    let mut adapt = Adapt::new(t0, 80.0);
    adapt.refused(&tuning, t0, t0);
    for k in 0..30u32 {
        adapt.accepted(t0 + 10 * MS * k);
    }
    let rate = adapt.refused(&tuning, t0 + S, t0 + S).unwrap();
    assert!(rate.is_finite() && rate > 0.0);
    assert!(adapt.rate_at(&tuning, t0 + 100 * S).is_finite());
}

#[test]
fn settling_forgets_the_adaptation_only_when_recovered_and_quiet() {
    let t0 = Instant::now();
    let tuning = Tuning::for_rate(80.0);
    let mut adapt = Adapt::new(t0, 80.0);
    adapt.refused(&tuning, t0, t0);
    adapt.settle(&tuning, t0 + 5 * S);
    assert!(adapt.adapting(), "recovered but a refusal 5 s ago");
    adapt.settle(&tuning, t0 + 11 * S);
    assert!(!adapt.adapting());
    assert_eq!(adapt.rate_at(&tuning, t0 + 11 * S), 80.0);
}
