//! For the tests that check the examples from outside: the example
//! binaries `cargo test` builds, run against the embedded fake.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

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

/// An example that serves: its process (killed when dropped), its stdout
/// after the first line, and the address it listens on.
pub struct Running {
    pub child: Child,
    pub lines: Lines<BufReader<ChildStdout>>,
    pub addr: String,
}

/// Starts the example `name` with exactly `envs` and waits (30 s at most)
/// for its first line, `listening on 127.0.0.1:PORT`.
pub async fn start_listening(name: &str, envs: Vec<(String, String)>) -> Running {
    let mut child = tokio::process::Command::new(example_binary(name))
        .env_clear()
        .envs(envs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = listening
        .strip_prefix("listening on ")
        .expect(&listening)
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    Running { child, lines, addr }
}
