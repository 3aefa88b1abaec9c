//! `rediss://`: the token store over TLS to a real `redis-server` on
//! 127.0.0.1 with a certificate from a CA made for the test (by the
//! `openssl` command). Trusting that CA, the store works; without it, the
//! connection is refused for the unknown issuer. Behind the `redis-tls`
//! feature:
//!
//! ```text
//! cargo test --features redis-tls --test redis_tls
//! ```
#![cfg(feature = "redis-tls")]

#[path = "support/redis_cluster.rs"]
mod deploy;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use tower_whatsapp_auth::{
    store::{RedisTokenStore, StoredToken, TokenStore},
    RedisConnection, Secret,
};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, and a certificate it signed for 127.0.0.1 and localhost.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_speaks_tls_to_a_server_it_trusts() {
    let dir = std::env::temp_dir().join(format!("twa-tls-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = |name: &str| dir.join(name).display().to_string();
    let mut server = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args([
            "--tls-cert-file",
            &file("server.crt"),
            "--tls-key-file",
            &file("server.key"),
        ])
        .args([
            "--tls-ca-cert-file",
            &file("ca.crt"),
            "--tls-auth-clients",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed");
    deploy::wait_until(Duration::from_secs(10), "the TLS port listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let url = format!("rediss://127.0.0.1:{port}/");

    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let conn = RedisConnection::connect_tls(&url, Some(&ca)).await.unwrap();
    let store = RedisTokenStore::new(conn, "wa-tls");
    let token = StoredToken {
        token: Secret::new("EAAG-over-tls"),
        expires_at: None,
        lineage: "tls".into(),
        saved_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        generation: 1,
    };
    store.save(token.clone()).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(token));

    // The system's roots alone do not know the test's CA.
    let refused = RedisConnection::connect(&url).await.expect_err("refused");
    assert!(
        refused
            .to_string()
            .to_ascii_lowercase()
            .contains("certificate"),
        "{refused}"
    );
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
