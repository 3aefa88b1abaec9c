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
fn a_drop_spaces_every_turn_still_ahead_at_the_new_period() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(100.0));
    let turns: Vec<Turn> = (0..10)
        .map(|_| s.take(t0, Duration::ZERO, LONG).unwrap())
        .collect();
    // At 25 ms the turns at 0, 10 and 20 ms have gone; halve the pace.
    let at = t0 + 25 * MS;
    s.stretch(at, period_of(50.0));
    assert_eq!(s.restate(turns[2]).due, t0 + 20 * MS, "already due stays");
    // One new period from now, then 20 ms apart.
    assert_eq!(s.restate(turns[3]).due, at + 20 * MS);
    assert_eq!(s.restate(turns[4]).due, at + 40 * MS);
    assert_eq!(s.restate(turns[9]).due, at + 140 * MS);
    let next = s.take(at, Duration::ZERO, LONG).unwrap();
    assert_eq!(next.due, at + 160 * MS);
    // A second drop spaces them at its period, not its period times the
    // first drop's (no compounding).
    let later = at + 30 * MS;
    s.stretch(later, period_of(25.0));
    assert_eq!(s.restate(turns[4]).due, later + 40 * MS);
    assert_eq!(s.restate(turns[9]).due, later + 240 * MS);
    assert_eq!(s.restate(next).due, later + 280 * MS);
}

#[test]
fn a_drop_never_brings_a_turn_earlier() {
    let t0 = Instant::now();
    let mut s = Schedule::new(t0, period_of(1.0));
    let turns: Vec<Turn> = (0..3)
        .map(|_| s.take(t0, Duration::ZERO, LONG).unwrap())
        .collect();
    s.stretch(t0, period_of(2.0));
    assert_eq!(s.restate(turns[1]).due, t0 + Duration::from_secs(1));
    assert_eq!(s.restate(turns[2]).due, t0 + Duration::from_secs(2));
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
    let stale = Turn {
        ticket: u64::MAX,
        due: t0,
    };
    assert_eq!(s.restate(stale), stale);
}
