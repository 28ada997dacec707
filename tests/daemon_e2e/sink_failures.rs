//! Sinks that cannot work from the start: a refused login, a host where nothing listens. Each
//! is reported clearly at start, retried while the daemon runs, never crashes it and never
//! holds up the other sink of the same feed; the daemon still stops promptly.

use std::net::TcpListener;
use std::time::Duration;

use crate::daemon::{Daemon, wait_until, write_config};
use crate::remote_sinks::feed_config;
use crate::servers;

/// Runs a finite feed to `sink` (named `remote`) and to a local sink, and returns the logs of
/// a daemon that had to stop while `remote` still failed.
fn run_with_failing_sink(sink: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let config = feed_config(&format!(
        "[sinks.disk]\ntype = \"local\"\ninputs = [\"clip\"]\npath = \"{}\"\n\n{sink}",
        local.display()
    ));
    let config = write_config(dir.path(), "failing.toml", &config);
    let mut daemon = Daemon::start(&config);
    wait_until("the start-up report", Duration::from_secs(20), || {
        daemon.logs().contains("sink not reachable at start")
    });
    wait_until("the local sink to finish", Duration::from_secs(20), || {
        std::fs::read_to_string(local.join("index.m3u8"))
            .is_ok_and(|text| text.ends_with("#EXT-X-ENDLIST\n"))
    });
    wait_until(
        "a retry of the failing sink",
        Duration::from_secs(20),
        || daemon.logs().contains("sink operation failed; retrying"),
    );
    assert!(daemon.is_running(), "{}", daemon.logs());
    let started = std::time::Instant::now();
    let (status, logs) = daemon.stop(Duration::from_secs(30));
    assert!(status.success(), "{logs}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopping with a dead sink took {:?}",
        started.elapsed()
    );
    assert!(
        logs.contains("stop timeout: ") || logs.contains("giving up on this object"),
        "{logs}"
    );
    for line in logs
        .lines()
        .filter(|line| line.contains("sink not reachable at start"))
    {
        assert!(line.contains("sink=remote"), "{line}");
    }
    logs
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_refused_ftp_login_is_reported_and_retried_without_harm() {
    let root = tempfile::tempdir().unwrap();
    let server = servers::ftp(root.path(), "streamer", "secret");
    let logs = run_with_failing_sink(&format!(
        r#"[sinks.remote]
type = "ftp"
inputs = ["clip"]
host = "127.0.0.1"
port = {port}
user = "streamer"
password = "not-the-password"
directory = "live"
"#,
        port = server.port
    ));
    let report = logs
        .lines()
        .find(|line| line.contains("sink not reachable at start"))
        .unwrap();
    assert!(
        report.contains("530"),
        "the server's refusal is quoted: {report}"
    );
    assert!(!logs.contains("not-the-password"), "a password was logged");
    assert!(!root.path().join("live").join("index.m3u8").exists());
}

#[test]
fn an_unreachable_s3_endpoint_is_reported_and_retried_without_harm() {
    let logs = run_with_failing_sink(&format!(
        r#"[sinks.remote]
type = "s3"
inputs = ["clip"]
bucket = "live"
region = "us-east-1"
endpoint = "http://127.0.0.1:{port}"
access_key_id = "testing"
secret_access_key = "very-secret"
"#,
        port = closed_port()
    ));
    let report = logs
        .lines()
        .find(|line| line.contains("sink not reachable at start"))
        .unwrap();
    assert!(report.to_lowercase().contains("connect"), "{report}");
    assert!(!logs.contains("very-secret"), "a secret was logged");
}

#[test]
fn an_unreachable_ssh_host_is_reported_and_retried_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    std::fs::write(&key, "not really a key\n").unwrap();
    let logs = run_with_failing_sink(&format!(
        r#"[sinks.remote]
type = "scp"
inputs = ["clip"]
host = "127.0.0.1"
port = {port}
user = "streamer"
key_file = "{key}"
directory = "/srv/live"
"#,
        port = closed_port(),
        key = key.display()
    ));
    let report = logs
        .lines()
        .find(|line| line.contains("sink not reachable at start"))
        .unwrap();
    assert!(report.to_lowercase().contains("connect"), "{report}");
}
