//! For the tests that check the examples from outside: the example
//! binaries `cargo test` builds, run against the embedded fake.

use std::path::PathBuf;
use std::process::Output;

use super::fake_graph::{FakeConfig, FakeGraph};

/// The example `name`, which `cargo test` builds next to the test
/// binaries' `deps` folder.
pub fn example_binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let bin = deps
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "build the examples first: {}", bin.display());
    bin
}

/// The environment `send` and `doctor` read, for `fake` set up as
/// `config`: its token and phone number, and its app credentials when it
/// has an app secret.
pub fn env_for(fake: &FakeGraph, config: &FakeConfig) -> Vec<(String, String)> {
    let mut envs = vec![
        ("WHATSAPP_TOKEN".to_owned(), config.token.clone()),
        (
            "WHATSAPP_PHONE_NUMBER_ID".to_owned(),
            config.phone_number_id.clone(),
        ),
        ("GRAPH_API_BASE".to_owned(), fake.base_url()),
    ];
    if let Some(secret) = &config.app_secret {
        envs.push(("META_APP_ID".to_owned(), config.app_id.clone()));
        envs.push(("META_APP_SECRET".to_owned(), secret.clone()));
    }
    envs
}

/// Runs the example `name` with exactly `envs` and `args`.
pub async fn run_example(name: &str, envs: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(example_binary(name));
    cmd.env_clear().args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

/// Everything a run printed.
pub fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
