//! Shared by the benches: the ratio table printed after each run, read back
//! from the estimates criterion wrote for this run.

#![allow(dead_code)]

pub mod graph;

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
