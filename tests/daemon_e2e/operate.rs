//! Operating the daemon: `[router] listen` serves `/metrics` (parsed with a Prometheus text
//! parser: counters move while a feed runs, a sink pointed at a closed port shows retries and
//! a queue), `/status` (every node's state, no secret) and `/healthz`; `streamrouter status`
//! prints the same as a table; without `listen` nothing more listens.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::common::router::BIN;
use crate::daemon::{Daemon, http_get, wait_until, write_config};
use crate::remote_sinks::live_feed_config;

const KEY_ID: &str = "AKIDOPERATEKEYID0001";
const SECRET: &str = "operate-secret-value-never-shown";

/// A looping live feed to a local directory and to an S3 endpoint where nothing listens.
fn config(dir: &std::path::Path, listen: bool) -> String {
    let out = dir.join("out");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let router = if listen {
        "[router]\nlisten = \"127.0.0.1:0\"\n\n"
    } else {
        ""
    };
    let sinks = format!(
        r#"[sinks.web]
type = "local"
inputs = ["cam"]
path = "{out}"

[sinks.dead]
type = "s3"
inputs = ["cam"]
bucket = "nowhere"
endpoint = "http://127.0.0.1:{closed}"
access_key_id = "{KEY_ID}"
secret_access_key = "{SECRET}"
"#,
        out = out.display()
    );
    format!("{router}{}", live_feed_config(6, &sinks))
}

/// The samples of a scrape, by `name{label="value",...}`.
fn scrape(base: &str) -> BTreeMap<String, f64> {
    let (status, headers, body) = http_get(&format!("{base}metrics"));
    assert!(status.contains("200"), "{status}");
    let content_type = headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = String::from_utf8(body).unwrap();
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let mut samples = BTreeMap::new();
    for sample in parsed.samples {
        assert!(
            sample.metric.starts_with("streamrouter_"),
            "every metric is prefixed: {}",
            sample.metric
        );
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        labels.sort();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.last().map_or(0.0, |bucket| bucket.count)
            }
            prometheus_parse::Value::Summary(_) => continue,
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in the scrape: {:#?}", samples.keys()))
}

#[test]
fn metrics_move_and_a_dead_sink_shows_retries_and_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "operate.toml", &config(dir.path(), true));
    let mut daemon = Daemon::start(&path);
    let base = daemon.status_url(Duration::from_secs(10));
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let (status, _, body) = http_get(&format!("{base}healthz"));
    assert!(status.contains("200"), "{status}");
    assert_eq!(String::from_utf8_lossy(&body).trim(), "ok");

    wait_until("two segments", Duration::from_secs(20), || {
        scrape(&base)
            .get("streamrouter_feed_segments_total{feed=\"cam\"}")
            .is_some_and(|n| *n >= 2.0)
    });
    let first = scrape(&base);
    std::thread::sleep(Duration::from_secs(3));
    let second = scrape(&base);
    for counter in [
        "streamrouter_feed_bytes_in_total{feed=\"cam\"}",
        "streamrouter_feed_packets_in_total{feed=\"cam\"}",
        "streamrouter_feed_segments_total{feed=\"cam\"}",
        "streamrouter_sink_upload_seconds_count{sink=\"web\"}",
    ] {
        let key = counter.replace("_count{", "{");
        let key = if counter.contains("_count{") {
            key
        } else {
            counter.to_owned()
        };
        assert!(
            value(&second, &key) > value(&first, &key),
            "{counter} should grow: {} then {}",
            value(&first, &key),
            value(&second, &key)
        );
    }
    assert_eq!(
        value(&second, "streamrouter_feed_cc_errors_total{feed=\"cam\"}"),
        0.0
    );
    assert_eq!(
        value(&second, "streamrouter_feed_sync_losses_total{feed=\"cam\"}"),
        0.0
    );
    let last = value(
        &second,
        "streamrouter_feed_last_segment_duration_seconds{feed=\"cam\"}",
    );
    assert!((0.5..=2.5).contains(&last), "{last}");
    let since = value(
        &second,
        "streamrouter_feed_seconds_since_last_segment{feed=\"cam\"}",
    );
    assert!((0.0..3.0).contains(&since), "{since}");
    assert!(value(&second, "streamrouter_sink_retries_total{sink=\"dead\"}") >= 1.0);
    assert!(value(&second, "streamrouter_sink_queue_depth{sink=\"dead\"}") >= 1.0);
    assert_eq!(
        value(&second, "streamrouter_sink_queue_depth{sink=\"web\"}"),
        0.0
    );
    assert_eq!(
        value(&second, "streamrouter_sink_retries_total{sink=\"web\"}"),
        0.0
    );
    assert_eq!(value(&second, "streamrouter_config_generation{}"), 1.0);

    // /status: every node, the dead sink retrying with its cause, no secret anywhere.
    let (status, _, body) = http_get(&format!("{base}status"));
    assert!(status.contains("200"), "{status}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    let state = |node: &str| {
        nodes
            .iter()
            .find(|n| n["node"] == node)
            .unwrap_or_else(|| panic!("no {node} in {json}"))
            .clone()
    };
    for node in [
        "sources.cam",
        "segmenters.cam",
        "playlists.cam",
        "sinks.web",
    ] {
        assert_eq!(state(node)["state"], "live", "{node}: {json}");
    }
    let dead = state("sinks.dead");
    assert_eq!(dead["state"], "retrying", "{json}");
    let error = dead["last_error"].as_str().unwrap();
    assert!(error.to_lowercase().contains("connect"), "{error}");
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains(SECRET) && !text.contains(KEY_ID), "{text}");
    let scraped = http_get(&format!("{base}metrics")).2;
    let scraped = String::from_utf8_lossy(&scraped);
    assert!(!scraped.contains(SECRET) && !scraped.contains(KEY_ID));

    // `streamrouter status` prints it as a table.
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let output = Command::new(BIN)
        .args(["status", "--listen", addr])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        table.starts_with("generation 1, no reload yet\n"),
        "{table}"
    );
    let dead_row = table
        .lines()
        .find(|line| line.starts_with("sinks.dead "))
        .unwrap_or_else(|| panic!("no sinks.dead row:\n{table}"));
    assert!(dead_row.contains(" retrying "), "{dead_row}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("sources.cam ") && l.contains(" live "))
    );
    assert!(!table.contains(SECRET));

    let (status, logs) = daemon.stop(Duration::from_secs(30));
    assert!(status.success(), "{logs}");
    assert!(!logs.contains(SECRET), "a secret was logged");
}

#[test]
fn without_listen_no_operator_server_and_status_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "quiet.toml", &config(dir.path(), false));
    let daemon = Daemon::start(&path);
    wait_until("the feed to run", Duration::from_secs(20), || {
        daemon.logs().contains("first segment cut")
    });
    assert!(
        !daemon.logs().contains("status and metrics"),
        "no operator server without listen"
    );
    // Nothing listens on the default address in this test: `status` says so and fails.
    // Bound then closed: nothing listens there any more.
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap();
    let output = Command::new(BIN)
        .args(["status", "--listen", &unused.to_string()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach the daemon"), "{stderr}");
    let (status, logs) = daemon.stop(Duration::from_secs(30));
    assert!(status.success(), "{logs}");
}
