//! `--log-format json`: every line `streamrouter run` writes on stderr is one JSON object a log
//! shipper can read (timestamp, level, target, the event's fields), while it runs and when it
//! fails to start.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::router;
use crate::daemon::{Daemon, wait_until, write_config};
use crate::feeds::local_feed;

/// A config with one looping feed published to `dir/live/cam.m3u8`, served on `serve`.
fn one_feed(dir: &Path, serve: &str) -> std::path::PathBuf {
    let source = format!(
        "type = \"file\"\npath = \"{}\"\nrealtime = true\nloop = true",
        router::data("h264_aac.ts").display()
    );
    write_config(
        dir,
        "router.toml",
        &format!(
            "[router]\nserve = \"{serve}\"\nstate_dir = \"{}\"\n{}",
            dir.join("state").display(),
            local_feed("cam", &source, &dir.join("live"), 6)
        ),
    )
}

/// Every non-empty line of `logs` as JSON, each checked for the fields a shipper relies on.
fn json_lines(logs: &str) -> Vec<Value> {
    let events: Vec<Value> = logs
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\nall logs:\n{logs}"))
        })
        .collect();
    for event in &events {
        let timestamp = event["timestamp"].as_str().unwrap_or_default();
        assert!(
            timestamp.len() >= 20 && timestamp.as_bytes()[10] == b'T' && timestamp.ends_with('Z'),
            "no RFC 3339 UTC timestamp: {event}"
        );
        let level = event["level"].as_str().unwrap_or_default();
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "no level: {event}"
        );
        assert!(event["target"].is_string(), "no target: {event}");
        assert!(
            event["fields"]["message"].is_string(),
            "no message: {event}"
        );
    }
    events
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = one_feed(dir.path(), "127.0.0.1:0");
    let mut daemon = Daemon::start_with(&config, &["--log-format", "json"]);
    let url = daemon.first_line(Duration::from_secs(10));
    let playlist = dir.path().join("live/cam.m3u8");
    wait_until("a published playlist", Duration::from_secs(15), || {
        playlist.exists()
    });
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");

    let events = json_lines(&logs);
    assert!(events.len() >= 3, "too few log lines:\n{logs}");
    // Structured fields stay fields: the served URL is its own key, not text in a message.
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "serving" && e["fields"]["url"] == url.as_str()),
        "no `serving` event with url={url}:\n{logs}"
    );
    // Each node's lines name it in their span, under a key of its own (not `name`, which the
    // JSON formatter uses for the span's own name).
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "reading file"
                && e["span"]["name"] == "source"
                && e["span"]["node"] == "cam"),
        "no `reading file` event in span source{{node=cam}}:\n{logs}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["fields"]["message"], "stopped", "{logs}");
    assert_eq!(last["level"], "INFO", "{logs}");
}

#[test]
fn log_format_json_reports_a_failed_start_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let config = one_feed(dir.path(), &addr);
    let run = router::streamrouter(&["run", config.to_str().unwrap(), "--log-format", "json"]);
    run.assert_failure();
    let events = json_lines(&run.stderr);
    let last = events.last().expect("a log line");
    assert_eq!(last["level"], "ERROR", "{}", run.stderr);
    let message = last["fields"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&addr) && message.contains("cannot listen"),
        "{}",
        run.stderr
    );
}
