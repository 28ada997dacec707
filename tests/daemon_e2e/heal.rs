//! Healing in the daemon: the test fault switch of a debug build (`STREAMROUTER_TEST_PANIC`)
//! makes the segmenter of a live feed panic; `/status` shows the panic as its last error and
//! the node live again, and the playlist goes on after a discontinuity, numbering on, without
//! EXT-X-ENDLIST. (The `restarting` state in between lasts a quarter of a second here; the
//! in-process tests in `router/src/topology/tests.rs` see it on a paused clock.)

use std::time::Duration;

use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, http_get, read_if_exists, wait_until, write_config};
use crate::remote_sinks::live_feed_config;

/// The state and last error of node `node` in the daemon's `/status` at `base`.
fn node_state(base: &str, node: &str) -> (String, String) {
    let (status, _, body) = http_get(&format!("{base}status"));
    assert!(status.contains("200"), "{status}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    let report = nodes.iter().find(|n| n["node"] == node);
    let report = report.unwrap_or_else(|| panic!("no {node} in {json}"));
    let text = |key: &str| report[key].as_str().unwrap_or_default().to_owned();
    (text("state"), text("last_error"))
}

#[test]
fn a_segmenter_that_panics_is_restarted_and_its_feed_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sinks = format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
        out.display()
    );
    let config = format!(
        "[router]\nlisten = \"127.0.0.1:0\"\n\n{}",
        live_feed_config(0, &sinks)
    );
    let config = write_config(dir.path(), "heal.toml", &config);
    let fault = [("STREAMROUTER_TEST_PANIC", "segmenters.cam@5s")];
    let mut daemon = Daemon::start_with_env(&config, &fault);
    let base = daemon.status_url(Duration::from_secs(10));
    let playlist = || read_if_exists(&out.join("index.m3u8")).map(|text| Playlist::parse(&text));

    wait_until("the panic in the status", Duration::from_secs(30), || {
        node_state(&base, "segmenters.cam").1.contains("test fault")
    });
    wait_until("the segmenter live again", Duration::from_secs(30), || {
        node_state(&base, "segmenters.cam").0 == "live"
    });
    let (_, error) = node_state(&base, "segmenters.cam");
    assert!(
        error.starts_with("panicked: test fault: segmenters.cam"),
        "{error}"
    );
    // Segments after the restart: the first of them starts a discontinuity.
    wait_until(
        "two segments after the restart",
        Duration::from_secs(30),
        || {
            playlist().is_some_and(|p| {
                let first = p.entries.iter().position(|e| e.discontinuity);
                first.is_some_and(|first| p.entries.len() >= first + 3)
            })
        },
    );
    let running = playlist().unwrap();
    assert!(!running.endlist, "a panic never ends the playlist");
    let first = running.entries.iter().position(|e| e.discontinuity);
    assert!(first.is_some_and(|first| first >= 1), "{running:?}");
    for (index, uri) in running.uris().iter().enumerate() {
        assert_eq!(
            *uri,
            format!("cam-{:05}.ts", index + 1),
            "numbering goes on"
        );
    }
    for node in ["sources.cam", "playlists.cam", "sinks.web"] {
        assert_eq!(
            node_state(&base, node),
            ("live".into(), String::new()),
            "{node}"
        );
    }

    let (status, logs) = daemon.stop(Duration::from_secs(30));
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("STREAMROUTER_TEST_PANIC: this task will panic once"),
        "{logs}"
    );
    assert!(logs.contains("a node task panicked; it restarts"), "{logs}");
    let last = playlist().unwrap();
    assert!(last.endlist, "the stop still ends it");
    assert_eq!(last.media_sequence, Some(1));
}
