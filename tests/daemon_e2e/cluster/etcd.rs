//! A real etcd server for the cluster tests: Debian's `/usr/bin/etcd` (3.4) as a single-member
//! cluster on two free 127.0.0.1 ports (clients, peers), with its own data directory in a
//! temporary directory, waited for until `/health` says `{"health":"true"}`. It can be stopped
//! (SIGTERM) and started again on the same ports and data, as an operator restarting it would;
//! dropped, it is killed. Its log goes to `etcd.log` beside the data, whose tail failure
//! messages show. `etcdctl` (v3 API) reads and writes keys for the tests' own checks.
//!
//! There is no skip when etcd is missing: CI installs it (`.ci/run`), so a missing binary is
//! a loud failure naming the Debian packages.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::daemon::tail;

/// Debian's etcd 3.4 server (package `etcd-server`).
pub const ETCD: &str = "/usr/bin/etcd";
/// Its client (package `etcd-client`).
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// How long a start may take before `/health` says true.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a SIGTERM may take before the fixture kills etcd.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running (or stopped) etcd of one test.
pub struct Etcd {
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl Etcd {
    /// Starts etcd on free ports with a new data directory; returns once it is healthy.
    pub fn start() -> Self {
        for (binary, package) in [(ETCD, "etcd-server"), (ETCDCTL, "etcd-client")] {
            assert!(
                Path::new(binary).is_file(),
                "{binary} is missing: the cluster tests need a real etcd \
                 (Debian: apt-get install {package}; .ci/run installs it)"
            );
        }
        let mut etcd = Self {
            dir: tempfile::tempdir().expect("etcd temp dir"),
            client_port: free_tcp_port(),
            peer_port: free_tcp_port(),
            child: None,
        };
        etcd.start_again();
        etcd
    }

    /// `http://127.0.0.1:PORT`, the endpoint routers are configured with.
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The process id of the running etcd (for the benches' /proc readings).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().expect("poll etcd").is_none(),
            None => false,
        }
    }

    /// Starts etcd (again) on the same ports and data directory, and waits until healthy.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "etcd already runs");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("etcd log file");
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(ETCD)
            .args(["--name", "default", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &self.client_url()])
            .args(["--advertise-client-urls", &self.client_url()])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("default={peer}")])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {ETCD}: {e}"));
        self.child = Some(child);
        self.wait_healthy(START_TIMEOUT);
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 10 s, which fails the test).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            panic!("etcd is not running");
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM etcd failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait().expect("poll etcd").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "etcd did not stop within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}",
                    self.log_tail(20)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops and starts again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Whether `/health` answers `{"health":"true"}` now.
    pub fn healthy(&self) -> bool {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("HTTP client");
        let Ok(response) = client.get(format!("{}/health", self.client_url())).send() else {
            return false;
        };
        let Ok(body) = response.bytes() else {
            return false;
        };
        serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|health| health["health"] == "true")
    }

    fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.healthy() {
            assert!(
                self.is_running(),
                "etcd exited during its start; log:\n{}",
                self.log_tail(30)
            );
            assert!(
                Instant::now() < deadline,
                "etcd not healthy within {timeout:?}; log:\n{}",
                self.log_tail(30)
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `/metrics` in Prometheus text format: sample name (with its labels) → value.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let (status, _, body) = crate::daemon::http_get(&format!("{}/metrics", self.client_url()));
        assert!(status.contains("200"), "etcd /metrics: {status}");
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// One sample of [`Etcd::metrics`] by its exact name, 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        (self.metrics().into_iter())
            .find(|(sample, _)| sample == name)
            .map_or(0.0, |(_, value)| value)
    }

    /// `etcdctl ARGS...` against this etcd (v3 API): its stdout; panics on failure.
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let output = Command::new(ETCDCTL)
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.client_url(), "--dial-timeout", "2s"])
            .args(["--command-timeout", "5s"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {ETCDCTL}: {e}"));
        assert!(
            output.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Every key and value under `prefix` as `etcdctl get --prefix` prints them (for failure
    /// messages: what the routers keep there), or why they could not be read.
    pub fn dump(&self, prefix: &str) -> String {
        let output = Command::new(ETCDCTL)
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.client_url(), "--dial-timeout", "1s"])
            .args(["--command-timeout", "2s", "get", "--prefix", prefix])
            .output();
        match output {
            Ok(output) if output.status.success() => {
                String::from_utf8_lossy(&output.stdout).into_owned()
            }
            Ok(output) => format!("(etcdctl: {})", String::from_utf8_lossy(&output.stderr)),
            Err(e) => format!("(etcdctl: {e})"),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// The last `n` lines of etcd's log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(
            &std::fs::read_to_string(self.log_path()).unwrap_or_default(),
            n,
        )
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}

/// The fixture itself, on the real etcd: healthy after its start, keeps its data across a
/// stop and a start on the same ports, answers nothing while stopped, counts writes in
/// `/metrics`, stops at once with a lease client attached and keeps leased keys across a
/// quick restart, and is gone once dropped.
#[test]
fn etcd_fixture_starts_keeps_data_across_restarts_and_dies_on_drop() {
    let mut etcd = Etcd::start();
    assert!(etcd.healthy());
    let puts = etcd.metric("etcd_mvcc_put_total");
    etcd.etcdctl(&["put", "fixture/key", "one"]);
    assert_eq!(etcd.etcdctl(&["get", "fixture/key"]), "fixture/key\none\n");
    assert_eq!(etcd.metric("etcd_mvcc_put_total"), puts + 1.0);

    let url = etcd.client_url();
    etcd.stop();
    assert!(!etcd.is_running());
    assert!(!etcd.healthy(), "stopped etcd still answers at {url}");
    let started = Instant::now();
    etcd.start_again();
    eprintln!("etcd start on the same data: {:.0?}", started.elapsed());
    assert_eq!(etcd.client_url(), url, "the same port after a restart");
    assert_eq!(etcd.etcdctl(&["get", "fixture/key"]), "fixture/key\none\n");

    // What the quick-restart test relies on: with a client holding a lease open (as routers
    // do), SIGTERM ends etcd at once, and a key under a 3 s lease outlives a quick restart
    // (etcd gives leases their whole TTL again when it becomes leader).
    let lease = etcd.etcdctl(&["lease", "grant", "3"]);
    let lease = lease
        .split_whitespace()
        .nth(1)
        .expect("lease ID")
        .to_owned();
    etcd.etcdctl(&["put", "fixture/leased", "yes", "--lease", &lease]);
    let mut keep_alive = Command::new(ETCDCTL)
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &etcd.client_url(),
            "lease",
            "keep-alive",
            &lease,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcdctl lease keep-alive");
    thread::sleep(Duration::from_millis(500)); // the keep-alive stream opened
    let stopping = Instant::now();
    etcd.stop();
    let stop_took = stopping.elapsed();
    let _ = keep_alive.kill();
    let _ = keep_alive.wait();
    etcd.start_again();
    eprintln!(
        "etcd stop with a lease client: {stop_took:.0?}; stop + start: {:.0?}",
        stopping.elapsed()
    );
    assert!(stop_took < Duration::from_secs(2), "{stop_took:?}");
    assert!(etcd.healthy());
    assert!(etcd.dump("fixture/").contains("one"));
    assert_eq!(
        etcd.etcdctl(&["get", "fixture/leased"]),
        "fixture/leased\nyes\n",
        "the leased key did not outlive a quick restart"
    );

    let pid = etcd.pid().expect("a running etcd");
    drop(etcd);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "etcd (pid {pid}) still runs after the fixture was dropped"
    );
}
