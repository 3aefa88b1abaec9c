//! Real Redis deployments on 127.0.0.1 for the tests, every process
//! killed when the value is dropped: a six-node Redis Cluster (three
//! masters, three replicas) made with `redis-cli --cluster create`, and a
//! master with a replica watched by a Sentinel. `redis-server` and
//! `redis-cli` must be installed (`.ci/run` installs them).
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process, killed (`SIGKILL`) when dropped.
pub struct Server {
    pub port: u16,
    child: Option<Child>,
}

impl Server {
    fn spawn(port: u16, args: &[String]) -> Server {
        let child = Command::new("redis-server")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        Server {
            port,
            child: Some(child),
        }
    }

    /// Kills it as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `redis-cli -p port args…`, its output.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli must be installed (apt-get install redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `check` holds, for at most `limit`.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` free ports whose cluster bus ports (+10000) are free too.
fn free_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    while ports.len() < n {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            ports.push(port);
        }
    }
    ports
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twa-{name}-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_for_ping(port: u16) {
    wait_until(Duration::from_secs(10), "redis-server answers", || {
        cli(port, &["PING"]).trim() == "PONG"
    });
}

pub struct RedisCluster {
    pub nodes: Vec<Server>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Six nodes, three masters with a replica each, every slot covered.
    pub fn start() -> RedisCluster {
        let dir = folder("cluster");
        let nodes: Vec<Server> = free_ports(6)
            .into_iter()
            .map(|port| {
                let own = dir.join(port.to_string());
                std::fs::create_dir_all(&own).unwrap();
                let args: Vec<String> = [
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &own.join("nodes.conf").display().to_string(),
                    "--cluster-node-timeout",
                    "2000",
                    "--appendonly",
                    "no",
                    "--save",
                    "",
                    "--dir",
                    &own.display().to_string(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                Server::spawn(port, &args)
            })
            .collect();
        for node in &nodes {
            wait_for_ping(node.port);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "redis-cli --cluster create");
        let cluster = RedisCluster { nodes, dir };
        cluster.wait_ok();
        cluster
    }

    /// Until every live node says the cluster is ok and every replica is
    /// in sync with its master.
    pub fn wait_ok(&self) {
        wait_until(Duration::from_secs(30), "the cluster is ok", || {
            self.live().all(|n| {
                cli(n.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
                    && !cli(n.port, &["CLUSTER", "SHARDS"]).contains("loading")
            })
        });
    }

    fn live(&self) -> impl Iterator<Item = &Server> {
        self.nodes.iter().filter(|n| n.child.is_some())
    }

    pub fn urls(&self) -> Vec<String> {
        self.live().map(Server::url).collect()
    }

    /// The port of the master that holds `key`'s slot.
    pub fn master_of(&self, key: &str) -> u16 {
        let any = self.live().next().unwrap().port;
        let slot: u16 = cli(any, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .unwrap();
        // `CLUSTER NODES`: id addr@bus flags master ping pong epoch state slots…
        for line in cli(any, &["CLUSTER", "NODES"]).lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let port: u16 = fields[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
            for range in &fields[8..] {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
                    if (lo..=hi).contains(&slot) {
                        return port;
                    }
                }
            }
        }
        panic!("no master holds slot {slot}");
    }

    /// Kills (`SIGKILL`) the node on `port`.
    pub fn kill(&mut self, port: u16) {
        for node in &mut self.nodes {
            if node.port == port {
                node.kill();
            }
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A master, its replica, and one Sentinel watching them as `mymaster`.
pub struct RedisSentinel {
    pub master: Server,
    pub replica: Server,
    pub sentinel: Server,
    dir: PathBuf,
}

impl RedisSentinel {
    pub fn start() -> RedisSentinel {
        let dir = folder("sentinel");
        let ports = free_ports(3);
        let plain = |port: u16, extra: &[String]| {
            let own = dir.join(port.to_string());
            std::fs::create_dir_all(&own).unwrap();
            let mut args: Vec<String> = [
                "--dir",
                &own.display().to_string(),
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend_from_slice(extra);
            Server::spawn(port, &args)
        };
        let master = plain(ports[0], &[]);
        wait_for_ping(master.port);
        let replica = plain(
            ports[1],
            &[
                "--replicaof".into(),
                "127.0.0.1".into(),
                ports[0].to_string(),
            ],
        );
        wait_for_ping(replica.port);
        wait_until(Duration::from_secs(10), "the replica syncs", || {
            cli(replica.port, &["INFO", "replication"]).contains("master_link_status:up")
        });
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {} 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\nsentinel parallel-syncs mymaster 1\n",
                ports[2],
                dir.display(),
                ports[0]
            ),
        )
        .unwrap();
        let sentinel = Server::spawn(ports[2], &[conf.display().to_string(), "--sentinel".into()]);
        wait_for_ping(sentinel.port);
        // The sentinel knows the replica (from the master's INFO) before
        // it can fail over to it.
        wait_until(
            Duration::from_secs(20),
            "the sentinel sees the replica",
            || {
                cli(sentinel.port, &["SENTINEL", "REPLICAS", "mymaster"])
                    .contains(&ports[1].to_string())
            },
        );
        RedisSentinel {
            master,
            replica,
            sentinel,
            dir,
        }
    }

    pub fn sentinel_url(&self) -> String {
        self.sentinel.url()
    }

    /// The port the Sentinel names as the master now.
    pub fn master_port(&self) -> u16 {
        let out = cli(
            self.sentinel.port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        );
        out.lines()
            .nth(1)
            .unwrap_or("0")
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        self.sentinel.kill();
        self.replica.kill();
        self.master.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
