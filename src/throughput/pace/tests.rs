use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use tokio::time::Instant;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn shape(rate: f64) -> Shape {
    Shape {
        burst: Duration::from_millis(250),
        pair_base: Duration::from_secs(1),
        tuning: Some(Tuning::for_rate(rate)),
    }
}

fn ticket(turn: Turn) -> Ticket {
    match turn {
        Turn::Ticket(ticket) => ticket,
        other => panic!("no ticket: {other:?}"),
    }
}

#[test]
fn a_refusal_halves_the_pace_once_for_everything_sent_before_it() {
    let t0 = Instant::now();
    let mut pace = Pace::new(t0, 80.0, shape(80.0));
    for _ in 0..60 {
        pace.admit(t0, None, Duration::from_secs(30));
    }
    let at = t0 + 20 * MS;
    assert_eq!(pace.refused(at, t0), Some(40.0));
    // The other messages sent before that refusal say nothing new.
    assert_eq!(pace.refused(at + MS, t0 + 10 * MS), None);
    assert_eq!(pace.rate(at + MS), 40.0 + 10.0 * 0.001);
    // A message sent after it, refused: the pace drops again.
    assert_eq!(
        pace.refused(at + 40 * MS, at + 30 * MS),
        Some(pace.rate(at + 40 * MS))
    );
    assert!(pace.rate(at + 40 * MS) < 21.0);
}

#[test]
fn waiting_turns_stretch_when_the_pace_drops() {
    let t0 = Instant::now();
    let mut pace = Pace::new(
        t0,
        100.0,
        Shape {
            burst: Duration::ZERO,
            ..shape(100.0)
        },
    );
    let tickets: Vec<Ticket> = (0..10)
        .map(|_| ticket(pace.admit(t0, None, Duration::from_secs(30))))
        .collect();
    assert_eq!(tickets[9].due, t0 + 90 * MS);
    let at = t0 + 5 * MS;
    pace.refused(at, t0);
    // The turns ahead are spaced again at 20 ms, from the refusal on.
    assert_eq!(pace.restate(tickets[1], at).due, at + 20 * MS);
    assert_eq!(pace.restate(tickets[9], at).due, at + 180 * MS);
}

#[test]
fn the_pace_recovers_additively_back_to_its_target() {
    let t0 = Instant::now();
    let mut pace = Pace::new(t0, 80.0, shape(80.0));
    pace.admit(t0, None, Duration::from_secs(30));
    pace.refused(t0, t0);
    assert_eq!(pace.rate(t0), 40.0);
    // An eighth of the target (10/s) per second, away from any measured limit.
    assert!((pace.rate(t0 + Duration::from_secs(2)) - 60.0).abs() < 1e-9);
    assert_eq!(pace.rate(t0 + Duration::from_secs(4)), 80.0);
    assert_eq!(pace.rate(t0 + Duration::from_secs(400)), 80.0);
    // Back at the target and quiet: the adaptation is forgotten.
    assert!(pace.adapting());
    assert!(pace.idle(t0 + Duration::from_secs(60), Duration::from_secs(30)));
    assert!(!pace.adapting());
}

#[test]
fn a_limit_measured_between_two_refusals_sets_the_pace_just_under_it() {
    let t0 = Instant::now();
    let mut pace = Pace::new(t0, 80.0, shape(80.0));
    pace.refused(t0, t0);
    // 30 accepted in the 1.5 s to the next refusal: the limit is 20/s.
    for k in 0..30u32 {
        pace.accepted(t0 + 50 * MS * k, None);
    }
    // One sent before the first refusal does not count.
    pace.accepted(t0 - MS, None);
    let at = t0 + Duration::from_millis(1500);
    let rate = pace.refused(at, at - 10 * MS).unwrap();
    assert!((rate - 19.0).abs() < 1e-9, "{rate}");
    // Near the measured limit the pace recovers slowly (80/32 = 2.5/s a second).
    assert!((pace.rate(at + Duration::from_secs(1)) - 21.5).abs() < 1e-9);
    // Past 10% above it, fast again (10/s a second).
    let later = pace.rate(at + Duration::from_secs(3));
    assert!(
        (later - (22.0 + 10.0 * (3.0 - 1.2))).abs() < 1e-9,
        "{later}"
    );
}

#[test]
fn the_pace_never_drops_below_its_floor_and_a_fixed_pace_never_moves() {
    let t0 = Instant::now();
    let mut pace = Pace::new(t0, 80.0, shape(80.0));
    let mut at = t0;
    for _ in 0..20 {
        at += MS;
        pace.refused(at, at);
    }
    assert_eq!(pace.rate(at), 5.0);
    let fixed = Shape {
        tuning: None,
        ..shape(80.0)
    };
    let mut pace = Pace::new(t0, 80.0, fixed);
    assert_eq!(pace.refused(t0, t0), None);
    assert!((pace.rate(t0) - 80.0).abs() < 1e-6);
}

#[test]
fn a_recipient_under_a_pair_wait_waits_and_others_take_tickets() {
    let t0 = Instant::now();
    let mut pace = Pace::new(t0, 80.0, shape(80.0));
    assert!(!pace.has_pairs());
    let until = pace.pair_refused("1555", t0);
    assert!(pace.has_pairs());
    assert_eq!(
        pace.admit(t0, Some("1555"), Duration::from_secs(30)),
        Turn::Recipient { until }
    );
    ticket(pace.admit(t0, Some("1666"), Duration::from_secs(30)));
    // The third refusal in a row asks 16 s: past a 10 s maximum wait.
    let t1 = until + MS;
    let t2 = pace.pair_refused("1555", t1) + MS;
    pace.pair_refused("1555", t2);
    assert_eq!(
        pace.admit(t2, Some("1555"), Duration::from_secs(10)),
        Turn::TooLong {
            reason: ThrottleReason::PairRate,
            wait: Duration::from_secs(16)
        }
    );
    // Once the wait is over, the recipient takes a ticket like any other.
    let after = t2 + Duration::from_secs(16);
    ticket(pace.admit(after, Some("1555"), Duration::from_secs(10)));
    pace.accepted(after, Some("1555"));
    assert!(!pace.has_pairs());
}

/// A send run, simulated with explicit instants: `in_flight` senders push
/// `count` messages through a pace of `configured` a second to a number
/// whose budget is a token bucket of `limit` (one second's worth), a
/// millisecond or two away; a refused message is retried, as `GraphRetry`
/// does, after a jittered wait, and goes through the pace again. Returns
/// the seconds it took and the refusals.
fn simulate(configured: f64, limit: f64, in_flight: usize, count: usize) -> (f64, u64) {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Event {
        Arrive,
        Due(Ticket),
        AtGraph(Instant),
        Answer(Instant, bool),
    }
    let t0 = Instant::now();
    let mut pace = Pace::new(t0, configured, shape(configured));
    let mut queue = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |queue: &mut BinaryHeap<_>, at: Instant, event: Event| {
        seq += 1;
        queue.push(Reverse((at, seq, event)));
    };
    let mut started = in_flight.min(count);
    for _ in 0..started {
        push(&mut queue, t0, Event::Arrive);
    }
    let (mut done, mut refusals) = (0, 0);
    let (mut tokens, mut filled) = (limit, t0);
    let mut seed: u64 = 7;
    let mut jitter = |most: Duration| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        most.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64)
    };
    while let Some(Reverse((at, _, event))) = queue.pop() {
        match event {
            Event::Arrive => match pace.admit(at, None, Duration::from_secs(30)) {
                Turn::Ticket(ticket) => push(&mut queue, ticket.due.max(at), Event::Due(ticket)),
                other => panic!("{other:?}"),
            },
            Event::Due(ticket) => match pace.restate(ticket, at) {
                d if d.due > at => push(&mut queue, d.due, Event::Due(d)),
                _ => push(&mut queue, at + MS + jitter(MS), Event::AtGraph(at)),
            },
            Event::AtGraph(sent) => {
                tokens = (tokens + (at - filled).as_secs_f64() * limit).min(limit);
                filled = at;
                let accepted = tokens >= 1.0;
                if accepted {
                    tokens -= 1.0;
                }
                push(&mut queue, at + MS, Event::Answer(sent, accepted));
            }
            Event::Answer(sent, true) => {
                pace.accepted(sent, None);
                done += 1;
                if done == count {
                    return ((at - t0).as_secs_f64(), refusals);
                }
                if started < count {
                    started += 1;
                    push(&mut queue, at, Event::Arrive);
                }
            }
            Event::Answer(sent, false) => {
                refusals += 1;
                pace.refused(at, sent);
                let wait = jitter(Duration::from_millis(500));
                push(&mut queue, at + wait, Event::Arrive);
            }
        }
    }
    unreachable!("every message is answered")
}

#[test]
fn simulated_a_number_at_its_configured_limit_is_never_refused() {
    let (secs, refusals) = simulate(80.0, 80.0, 128, 800);
    println!("80/s number, 80/s pace: {secs:.2} s, {refusals} refusals");
    assert_eq!(refusals, 0);
    assert!(secs <= 10.0, "{secs}");
}

#[test]
fn simulated_a_number_four_times_slower_is_found_in_a_few_refusals() {
    let (secs, refusals) = simulate(80.0, 20.0, 64, 400);
    println!("20/s number, 80/s pace: {secs:.2} s, {refusals} refusals");
    assert!(refusals <= 40, "{refusals}");
    assert!(secs <= 24.0, "{secs}");
}
