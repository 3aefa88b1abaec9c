use std::time::Duration;

use tokio::time::Instant;

use super::*;

const MS: Duration = Duration::from_millis(1);
const LONG: Duration = Duration::from_secs(60);

fn dues(s: &mut Schedule, now: Instant, burst: Duration, n: usize) -> Vec<Instant> {
    (0..n)
        .map(|_| s.take(now, burst, LONG).unwrap().due)
        .collect()
}

#[test]
fn a_fresh_schedule_lets_a_burst_go_then_spaces_by_the_period() {
    let t0 = Instant::now();
    // 100 a second, a burst of 50 ms: five at once, then one every 10 ms.
    let mut s = Schedule::new(t0, period_of(100.0));
    let dues = dues(&mut s, t0, 50 * MS, 8);
    assert!(dues[..5].iter().all(|due| *due <= t0));
    assert_eq!(dues[5], t0 + 10 * MS);
    assert_eq!(dues[7], t0 + 30 * MS);
}

#[test]
fn a_burst_of_at_most_the_period_sends_one_at_once() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(10.0));
    assert_eq!(dues(&mut s, t0, Duration::ZERO, 2), [t0, t0 + 100 * MS]);
}

#[test]
fn credit_comes_back_after_idle_but_never_more_than_the_burst() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(100.0));
    dues(&mut s, t0, 30 * MS, 10);
    // An hour later: three at once again, not 360,000.
    let later = t0 + Duration::from_secs(3600);
    let at_once = dues(&mut s, later, 30 * MS, 10)
        .into_iter()
        .filter(|due| *due <= later)
        .count();
    assert_eq!(at_once, 3);
    assert!(s.idle_since(later + Duration::from_secs(2), Duration::from_secs(1)));
    assert!(!s.idle_since(later, Duration::from_secs(1)));
}

#[test]
fn a_turn_due_past_the_allowed_wait_is_not_taken() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(1.0));
    let allowed = Duration::from_secs(3);
    for k in 0..=3 {
        let turn = s.take(t0, Duration::ZERO, allowed).unwrap();
        assert_eq!(turn.due, t0 + Duration::from_secs(k));
    }
    assert_eq!(
        s.take(t0, Duration::ZERO, allowed),
        Err(Duration::from_secs(4))
    );
    // A refused take leaves no hole.
    let turn = s.take(t0, Duration::ZERO, Duration::from_secs(5)).unwrap();
    assert_eq!(turn.due, t0 + Duration::from_secs(4));
}

#[test]
fn a_drop_stretches_every_turn_still_ahead_to_the_new_spacing() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(100.0));
    let turns: Vec<Turn> = (0..10)
        .map(|_| s.take(t0, Duration::ZERO, LONG).unwrap())
        .collect();
    // At 25 ms the turns at 0, 10 and 20 ms have gone; halve the pace.
    let at = t0 + 25 * MS;
    s.stretch(at, period_of(50.0));
    assert_eq!(s.restate(turns[2]).due, t0 + 20 * MS, "already due stays");
    // 30 ms → 25 + 20 + 5 × 2; then 20 ms apart.
    assert_eq!(s.restate(turns[3]).due, at + 30 * MS);
    assert_eq!(s.restate(turns[4]).due, at + 50 * MS);
    assert_eq!(s.restate(turns[9]).due, at + 150 * MS);
    let next = s.take(at, Duration::ZERO, LONG).unwrap();
    assert_eq!(next.due, at + 170 * MS);
    // Restating twice changes nothing more.
    let once = s.restate(turns[9]);
    assert_eq!(s.restate(once), once);
    // Two drops compose.
    let later = at + 40 * MS;
    s.stretch(later, period_of(25.0));
    assert_eq!(s.restate(turns[9]).due, later + 40 * MS + 110 * MS * 2);
}

#[test]
fn a_speed_up_keeps_promised_turns_and_brings_later_ones_closer() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(10.0));
    let turns: Vec<Turn> = (0..4)
        .map(|_| s.take(t0, Duration::ZERO, LONG).unwrap())
        .collect();
    s.respace(t0 + 150 * MS, period_of(20.0));
    assert_eq!(s.restate(turns[3]).due, t0 + 300 * MS, "promised: kept");
    let next = s.take(t0 + 150 * MS, Duration::ZERO, LONG).unwrap();
    assert_eq!(next.due, t0 + 350 * MS);
}

#[test]
fn a_drop_when_idle_leaves_no_burst() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(100.0));
    s.take(t0, 100 * MS, LONG).unwrap();
    let at = t0 + Duration::from_secs(5);
    s.stretch(at, period_of(10.0));
    let turn = s.take(at, Duration::from_secs(1), LONG).unwrap();
    assert_eq!(turn.due, at + 100 * MS);
}

#[test]
fn a_turn_older_than_the_stretches_remembered_goes_to_the_back() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(1000.0));
    let old = s.take(t0, Duration::ZERO, LONG).unwrap();
    let waiting = s.take(t0, Duration::ZERO, LONG).unwrap();
    for k in 0..=STRETCHES as u32 {
        s.stretch(t0 + MS * k / 10, period_of(1000.0));
    }
    let back = s.restate(waiting);
    assert!(back.due >= s.next_at, "{back:?}");
    assert!(s.restate(old).due >= old.due);
}

#[test]
fn huge_numbers_saturate_instead_of_panicking() {
    assert_eq!(period_of(f64::NAN), Duration::from_secs(3600));
    assert_eq!(period_of(-1.0), Duration::from_secs(3600));
    assert_eq!(period_of(0.0), Duration::from_secs(3600));
    assert_eq!(period_of(1e300), Duration::from_nanos(1));
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, Duration::from_secs(3600));
    for _ in 0..1000 {
        let _ = s.take(t0, Duration::MAX, Duration::MAX);
    }
    s.stretch(t0, Duration::from_nanos(1));
    s.stretch(t0, Duration::MAX);
    s.respace(t0, Duration::MAX);
    let _ = s.take(t0, Duration::MAX, Duration::MAX);
    let stale = Turn { due: t0, epoch: 0 };
    let _ = s.restate(stale);
}
