//! No credential reaches the logs, even at `RUST_LOG=trace`: the daemon publishes to S3
//! (moto), FTP (pyftpdlib) and SCP (a test-owned sshd) with credentials of random values, the
//! S3 sink through an error first (its bucket is created only once the sink reported it
//! missing), and its whole log is searched for them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::Duration;

use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, http_get, http_request, wait_until, write_config};
use crate::remote_sinks::feed_config;
use crate::servers;

/// `what-` and 16 random hex digits: a value no log line can hold by coincidence.
fn distinctive(what: &str) -> String {
    let random = RandomState::new().build_hasher().finish();
    format!("{what}-{random:016x}")
}

/// The final playlist's text once it ends with `#EXT-X-ENDLIST`.
fn finished(text: Option<String>) -> Option<String> {
    text.filter(|t| t.ends_with("#EXT-X-ENDLIST\n"))
}

/// The playlist at `url` on the S3 server, if it is there.
fn s3_text(url: &str) -> Option<String> {
    let (status, _, body) = http_get(url);
    status
        .contains("200")
        .then(|| String::from_utf8_lossy(&body).into_owned())
}

/// Every segment `text` lists passes `exists`, and there is at least one.
fn assert_segments_arrived(what: &str, text: &str, exists: impl Fn(&str) -> bool) {
    let playlist = Playlist::parse(text);
    assert!(!playlist.uris().is_empty(), "{what}: no segment:\n{text}");
    for uri in playlist.uris() {
        assert!(exists(uri), "{what}: {uri} is listed but missing");
    }
}

/// The lines of the private key file that carry key material (not the BEGIN/END markers).
fn key_lines(key_file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(key_file).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    assert!(lines.len() >= 3, "an unexpected key file:\n{text}");
    lines
}

#[test]
fn no_credential_is_logged_at_trace_level() {
    let key_id = distinctive("AKIDSR13");
    let secret_key = distinctive("s3-secret-sr13");
    let ftp_password = distinctive("ftp-password-sr13");

    let s3 = servers::s3();
    let s3_base = format!("http://127.0.0.1:{}", s3.port);
    let ftp_root = tempfile::tempdir().unwrap();
    let ftp = servers::ftp(ftp_root.path(), "streamer", &ftp_password);
    let ssh_dir = tempfile::tempdir().unwrap();
    let ssh = servers::ssh(ssh_dir.path());
    let remote = tempfile::tempdir().unwrap();
    // The config lives apart from the servers' files: the daemon watches its directory.
    let config_dir = tempfile::tempdir().unwrap();

    let sinks = format!(
        r#"[sinks.cdn]
type = "s3"
inputs = ["clip"]
bucket = "later"
region = "us-east-1"
endpoint = "{s3_base}"
access_key_id = "${{TEST_S3_KEY}}"
secret_access_key = "${{TEST_S3_SECRET}}"
acl = "public-read"

[sinks.partner]
type = "ftp"
inputs = ["clip"]
host = "127.0.0.1"
port = {ftp_port}
user = "streamer"
password = "${{TEST_FTP_PASSWORD}}"
directory = "live"

[sinks.origin]
type = "scp"
inputs = ["clip"]
host = "127.0.0.1"
port = {ssh_port}
user = "{ssh_user}"
key_file = "{key_file}"
directory = "{remote}"
"#,
        ftp_port = ftp.port,
        ssh_port = ssh.port(),
        ssh_user = ssh.user,
        key_file = ssh.key_file.display(),
        remote = remote.path().display()
    );
    let config = write_config(config_dir.path(), "secrets.toml", &feed_config(&sinks));
    let daemon = Daemon::start_with_env(
        &config,
        &[
            ("RUST_LOG", "trace"),
            ("TEST_S3_KEY", &key_id),
            ("TEST_S3_SECRET", &secret_key),
            ("TEST_FTP_PASSWORD", &ftp_password),
        ],
    );

    // The S3 sink signs its probe and its first uploads and reports their errors...
    wait_until(
        "the S3 sink's start-up report",
        Duration::from_secs(20),
        || {
            daemon.logs().lines().any(|line| {
                line.contains("sink not reachable at start") && line.contains("sink=cdn")
            })
        },
    );
    // ...then publishes once its bucket exists.
    let (status, _, _) = http_request("PUT", &format!("{s3_base}/later"));
    assert!(status.contains("200"), "create bucket: {status}");

    let s3_playlist = format!("{s3_base}/later/index.m3u8");
    let ftp_dir = ftp_root.path().join("live");
    let scp_dir = remote.path();
    let read = |dir: &Path| std::fs::read_to_string(dir.join("index.m3u8")).ok();
    wait_until(
        "the final playlist in the bucket",
        Duration::from_secs(30),
        || finished(s3_text(&s3_playlist)).is_some(),
    );
    wait_until(
        "the final playlist on the FTP server",
        Duration::from_secs(10),
        || finished(read(&ftp_dir)).is_some(),
    );
    wait_until(
        "the final playlist on the SSH server",
        Duration::from_secs(10),
        || finished(read(scp_dir)).is_some(),
    );
    let (status, logs) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "{logs}");

    // The credentials were used: every sink holds the stream.
    let s3_exists = |uri: &str| {
        http_request("HEAD", &format!("{s3_base}/later/{uri}"))
            .0
            .contains("200")
    };
    assert_segments_arrived("s3", &s3_text(&s3_playlist).unwrap(), s3_exists);
    assert_segments_arrived("ftp", &read(&ftp_dir).unwrap(), |uri| {
        ftp_dir.join(uri).is_file()
    });
    assert_segments_arrived("scp", &read(scp_dir).unwrap(), |uri| {
        scp_dir.join(uri).is_file()
    });
    // The log is a trace log: the search below is not vacuous.
    assert!(
        logs.contains(" TRACE "),
        "no trace line in the logs:\n{logs}"
    );

    let mut secrets = vec![
        ("the S3 secret access key", secret_key.clone()),
        ("the S3 access key id", key_id.clone()),
        ("an S3 request signature", "Signature=".to_owned()),
        ("the FTP password", ftp_password.clone()),
    ];
    for line in key_lines(&ssh.key_file) {
        secrets.push(("a line of the SSH private key", line));
    }
    let leaks: Vec<String> = secrets
        .iter()
        .filter_map(|(what, value)| {
            let line = logs.lines().find(|line| line.contains(value.as_str()))?;
            Some(format!("{what} is logged: {line}"))
        })
        .collect();
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
