//! Shared by the benches: the ratio table printed after each run, read back
//! from the estimates criterion wrote for this run.

#![allow(dead_code)]

pub mod graph;
pub mod tenant_graph;

use std::path::PathBuf;
use std::time::SystemTime;

fn criterion_dir() -> PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from);
            target.join("criterion")
        })
}

/// Mean time in nanoseconds of `group/id`, if criterion measured it in
/// this run (its estimates were written after `since`): a ratio never mixes
/// runs.
pub fn mean_ns(since: SystemTime, group: &str, id: &str) -> Option<f64> {
    // Criterion writes `a/b` ids as `a_b` directories.
    let path = criterion_dir()
        .join(group)
        .join(id.replace('/', "_"))
        .join("new")
        .join("estimates.json");
    let written = std::fs::metadata(&path).ok()?.modified().ok()?;
    if written < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

/// Prints each benchmark's mean and its ratio to `baseline`, for those
/// measured since `since` (none in `--test` mode, or when filtered out).
pub fn print_ratios(since: SystemTime, group: &str, baseline: &str, ids: &[&str]) {
    let Some(base) = mean_ns(since, group, baseline) else {
        return;
    };
    println!("\n{group}: mean time, and ratio to {baseline} (this run)");
    for id in ids {
        if let Some(mean) = mean_ns(since, group, id) {
            println!("  {id:<44} {:>12}  {:>6.3}x", human(mean), mean / base);
        }
    }
}

pub fn human(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.3} s", n / 1e9),
        n if n >= 1e6 => format!("{:.3} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.3} µs", n / 1e3),
        n => format!("{n:.1} ns"),
    }
}

/// One variant of a paired measurement: its id, and a closure that makes
/// `n` calls and returns the time they took.
pub type Timed<'a> = (&'a str, Box<dyn FnMut(u64) -> std::time::Duration + 'a>);

/// A [`Timed`] runner: `n` awaits of `call()` on `rt`, timed together.
pub fn timed<'a, F, Fut>(
    rt: &'a tokio::runtime::Runtime,
    mut call: F,
) -> Box<dyn FnMut(u64) -> std::time::Duration + 'a>
where
    F: FnMut() -> Fut + 'a,
    Fut: std::future::Future<Output = ()>,
{
    Box::new(move |n| {
        rt.block_on(async {
            let start = std::time::Instant::now();
            for _ in 0..n {
                call().await;
            }
            start.elapsed()
        })
    })
}

/// [`timed`] for a service: `n` calls of a clone of `svc` with `oneshot`,
/// each with a request from `request`, as in the criterion runs.
pub fn timed_oneshot<'a, S>(
    rt: &'a tokio::runtime::Runtime,
    svc: S,
    request: fn() -> http::Request<http_body_util::Full<bytes::Bytes>>,
) -> Box<dyn FnMut(u64) -> std::time::Duration + 'a>
where
    S: tower::Service<http::Request<http_body_util::Full<bytes::Bytes>>> + Clone + 'a,
    S::Error: std::fmt::Debug,
{
    use tower::ServiceExt;
    timed(rt, move || {
        let svc = svc.clone();
        async move {
            svc.oneshot(request()).await.unwrap();
        }
    })
}

/// Whether criterion runs in test mode (each benchmark once, for its
/// assertions), where timings mean nothing: with `--test`, or without
/// `--bench` (as `cargo test --benches` runs it), criterion's own rule.
pub fn test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|arg| arg == "--test") || !args.iter().any(|arg| arg == "--bench")
}

/// Paired ratios: in each of `rounds` rounds every variant makes `n` calls
/// (`unit` names what one call is) back to back, in an order that rotates
/// each round, so a slow spell of a shared machine hits all of them alike. Each round's times are divided by
/// that round's baseline time (the first variant), and the median ratio
/// over the rounds is printed with its quartiles. Criterion's separate
/// measurements, seconds apart, drift by more than the differences measured
/// here on a 2-core machine; these ratios do not.
pub fn print_paired(group: &str, variants: Vec<Timed<'_>>, rounds: usize, n: u64, unit: &str) {
    print_paired_with(group, variants, rounds, n, unit, &[]);
}

/// [`print_paired`], and for each `(variant, baseline)` of `pairs` (their
/// indices) the median of that variant's per-round ratio to that baseline.
pub fn print_paired_with(
    group: &str,
    mut variants: Vec<Timed<'_>>,
    rounds: usize,
    n: u64,
    unit: &str,
    pairs: &[(usize, usize)],
) {
    if test_mode() || variants.is_empty() {
        return;
    }
    assert!(rounds > 0 && n > 0, "at least one round of one call");
    for (_, run) in variants.iter_mut() {
        run(n); // warm-up
    }
    let count = variants.len();
    let mut ratios: Vec<Vec<f64>> = (0..count).map(|_| Vec::with_capacity(rounds)).collect();
    let mut times: Vec<Vec<f64>> = (0..count).map(|_| Vec::with_capacity(rounds)).collect();
    for round in 0..rounds {
        let mut took = vec![0.0; count];
        // Rotated each round, and reversed every other one, so no variant
        // always runs first, or always right after the same one.
        let mut order: Vec<usize> = (0..count).map(|k| (round + k) % count).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            took[i] = variants[i].1(n).as_secs_f64() * 1e9 / n as f64;
        }
        for i in 0..count {
            ratios[i].push(took[i] / took[0]);
            times[i].push(took[i]);
        }
    }
    println!(
        "\n{group}: paired, {rounds} rounds of {n} {unit} each; median time per one, and median time ratio to {} [quartiles]",
        variants[0].0
    );
    for &(i, base) in pairs {
        let mut against: Vec<f64> = (0..rounds).map(|r| times[i][r] / times[base][r]).collect();
        let (q1, mid, q3) = quartiles(&mut against);
        let (id, base) = (variants[i].0, variants[base].0);
        println!("  {id} / {base}: {mid:.3}x  [{q1:.3}–{q3:.3}]");
    }
    for (i, (id, _)) in variants.iter().enumerate() {
        let (q1, mid, q3) = quartiles(&mut ratios[i]);
        let (_, time, _) = quartiles(&mut times[i]);
        println!(
            "  {id:<44} {:>12}  {mid:>6.3}x  [{q1:.3}–{q3:.3}]",
            human(time)
        );
    }
}

/// First quartile, median and third quartile of `values` (not empty),
/// interpolated between the nearest ranks.
fn quartiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let rank = (values.len() - 1) as f64 * q;
        let (below, above) = (rank.floor() as usize, rank.ceil() as usize);
        values[below] + (values[above] - values[below]) * (rank - below as f64)
    };
    (at(0.25), at(0.5), at(0.75))
}
