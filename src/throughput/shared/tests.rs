//! Replicas sharing a number's pace through a budget kept in memory (the
//! GCRA the Redis script runs), under paused time; and what a replica does
//! when the budget fails or hangs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use tokio::time::Instant;
use tower::{service_fn, BoxError, Layer, ServiceExt};

use super::*;
use crate::body::ReplayBody;
use crate::throughput::ThroughputLayer;

const A: &str = "106540352242922";

/// How the budget behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Up,
    Down,
    Hang,
}

/// The Redis script's GCRA, in memory: one theoretical arrival time per
/// number, the replicas that leased lately.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    pub(crate) mode: Mutex<Mode>,
    tat: Mutex<Option<Instant>>,
    pub(crate) leases: Mutex<u32>,
    replicas: u32,
}

impl MemoryBudget {
    pub(crate) fn new(mode: Mode, replicas: u32) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            mode: Mutex::new(mode),
            tat: Mutex::new(None),
            leases: Mutex::new(0),
            replicas,
        })
    }
}

impl Budget for MemoryBudget {
    fn lease(&self, _number: &str, ask: Ask) -> Leasing {
        *self.leases.lock().unwrap() += 1;
        let mode = *self.mode.lock().unwrap();
        let now = Instant::now();
        let credit = ask.burst.saturating_sub(ask.period);
        let mut tat = self.tat.lock().unwrap();
        let start = tat.unwrap_or(now).max(now - credit);
        let wait_us = start.saturating_duration_since(now).as_micros() as i64
            - now.saturating_duration_since(start).as_micros() as i64;
        let grant = if start.saturating_duration_since(now) > ask.max_wait {
            0
        } else {
            *tat = Some(start + ask.period * ask.count);
            ask.count
        };
        let grant = Grant {
            wait_us,
            period: ask.period,
            count: grant,
            replicas: 2,
        };
        Box::pin(async move {
            match mode {
                Mode::Up => Ok(grant),
                Mode::Down => Err("connection refused".to_owned()),
                Mode::Hang => std::future::pending().await,
            }
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(200)
    }

    fn batch(&self) -> u32 {
        4
    }

    fn replicas(&self) -> u32 {
        self.replicas
    }
}

/// A replica: a layer of its own over the shared budget.
fn replica(budget: &Arc<MemoryBudget>, rate: u32) -> ThroughputLayer {
    let budget: Arc<dyn Budget> = budget.clone();
    ThroughputLayer::new(rate)
        .burst(Duration::ZERO)
        .with_budget(budget)
}

type Sent = Arc<Mutex<Vec<Instant>>>;

async fn send_many(
    layer: &ThroughputLayer,
    sent: &Sent,
    count: usize,
) -> Vec<Result<(), BoxError>> {
    let log = sent.clone();
    let svc = layer.layer(service_fn(move |_req: Request<ReplayBody>| {
        log.lock().unwrap().push(Instant::now());
        async { Ok::<_, BoxError>(Response::new(())) }
    }));
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let req = Request::post(format!("/v25.0/{A}/messages"))
                .body(ReplayBody::from("{\"to\":\"1555\"}"))
                .unwrap();
            tokio::spawn(svc.clone().oneshot(req))
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap().map(|_| ()));
    }
    out
}

fn gaps(sent: &Sent) -> Vec<Duration> {
    let mut at = sent.lock().unwrap().clone();
    at.sort();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn two_replicas_share_one_pace_leasing_in_batches() {
    let budget = MemoryBudget::new(Mode::Up, 1);
    let (one, two) = (replica(&budget, 10), replica(&budget, 10));
    let sent = Sent::default();
    let t0 = Instant::now();
    let (a, b) = tokio::join!(send_many(&one, &sent, 10), send_many(&two, &sent, 10));
    assert!(a.iter().chain(&b).all(Result::is_ok));
    // Twenty messages at ten a second between them, 100 ms apart: 1.9 s,
    // and a permit or two leased and not used.
    let took = t0.elapsed();
    assert!(gaps(&sent)
        .iter()
        .all(|gap| *gap >= Duration::from_millis(100)));
    assert!(
        took >= Duration::from_millis(1900) && took <= Duration::from_millis(2200),
        "{took:?}"
    );
    let leases = *budget.leases.lock().unwrap();
    assert!(leases < 20, "{leases} leases for 20 messages");
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_budget_leaves_each_replica_its_share() {
    for mode in [Mode::Down, Mode::Hang] {
        // Two replicas at least: alone, each paces at half the pace.
        let budget = MemoryBudget::new(mode, 2);
        let layer = replica(&budget, 10);
        let sent = Sent::default();
        let results = send_many(&layer, &sent, 6).await;
        assert!(results.iter().all(Result::is_ok), "{mode:?}");
        let gaps = gaps(&sent);
        assert!(
            gaps.iter().all(|gap| *gap >= Duration::from_millis(200)),
            "{mode:?}: {gaps:?}"
        );
        // The budget is tried again a second later, not for every message.
        assert!(*budget.leases.lock().unwrap() <= 3, "{mode:?}");
        // Back up: leases again.
        *budget.mode.lock().unwrap() = Mode::Up;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = *budget.leases.lock().unwrap();
        send_many(&layer, &sent, 2).await;
        assert!(*budget.leases.lock().unwrap() > before, "{mode:?}");
    }
}
