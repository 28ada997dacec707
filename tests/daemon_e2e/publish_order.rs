//! The publishing order as the S3 server sees it: every request of a live feed is recorded,
//! and no playlist version may list a segment that was not stored (and acknowledged) before
//! that version arrived, or that was already deleted; versions of a playlist never go back.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, http_request, wait_until, write_config};
use crate::recorder::{Operation, Recorder};
use crate::remote_sinks::live_feed_config;
use crate::servers;

#[test]
fn no_playlist_version_lists_a_segment_the_bucket_does_not_hold() {
    let server = servers::s3();
    let (status, _, _) = http_request("PUT", &format!("http://127.0.0.1:{}/live", server.port));
    assert!(status.contains("200"), "create bucket: {status}");
    let recorder = Recorder::start(server.port);
    let dir = tempfile::tempdir().unwrap();
    // A short window, so segments expire and are deleted while the feed runs.
    let sink = format!(
        r#"[sinks.cdn]
type = "s3"
inputs = ["cam"]
bucket = "live"
region = "us-east-1"
endpoint = "http://127.0.0.1:{port}"
access_key_id = "testing"
secret_access_key = "testing"
"#,
        port = recorder.port
    );
    let config = live_feed_config(3, &sink);
    let config = write_config(dir.path(), "order.toml", &config);
    let daemon = Daemon::start(&config);
    let deletes = |operations: &[Operation]| {
        operations
            .iter()
            .filter(|op| op.method == "DELETE" && op.status < 300)
            .count()
    };
    wait_until(
        "segments to be deleted after leaving the window",
        Duration::from_secs(40),
        || deletes(&recorder.operations()) >= 3,
    );
    let (status, logs) = daemon.stop(Duration::from_secs(10));
    assert!(status.success(), "{logs}");

    let mut operations = recorder.operations();
    operations.sort_by_key(|op| op.arrived);
    // Segment path → when it was stored (answered) and when its deletion was asked (arrived).
    let mut stored: BTreeMap<&str, u64> = BTreeMap::new();
    let mut deleted: BTreeMap<&str, u64> = BTreeMap::new();
    for op in &operations {
        match op.method.as_str() {
            "PUT" if op.path.ends_with(".ts") && op.status < 300 => {
                stored.entry(&op.path).or_insert(op.answered);
            }
            "DELETE" => {
                deleted.entry(&op.path).or_insert(op.arrived);
            }
            _ => {}
        }
    }
    let mut versions = 0;
    let mut previous: Option<(u64, Vec<String>)> = None;
    for op in &operations {
        let Some(text) = &op.playlist else { continue };
        versions += 1;
        let playlist = Playlist::parse(text);
        let listed: Vec<String> = playlist
            .uris()
            .iter()
            .map(|u| format!("/live/{u}"))
            .collect();
        for path in &listed {
            let stored_at = stored.get(path.as_str());
            assert!(
                stored_at.is_some_and(|at| *at < op.arrived),
                "playlist version #{versions} (arrived at {}) lists {path}, stored at {stored_at:?}",
                op.arrived
            );
            if let Some(deleted_at) = deleted.get(path.as_str()) {
                assert!(
                    *deleted_at > op.answered,
                    "{path} deleted at {deleted_at} while listed by a version answered at {}",
                    op.answered
                );
            }
        }
        let sequence = playlist.media_sequence.unwrap();
        if let Some((previous_sequence, previous_listed)) = &previous {
            assert!(sequence >= *previous_sequence, "media sequence went back");
            // Each version adds a segment; only the final one (ENDLIST) repeats the list.
            let moved_on = listed.last() > previous_listed.last()
                || (playlist.endlist && listed == *previous_listed);
            assert!(
                moved_on,
                "a playlist version overtook a newer one: {previous_listed:?} then {listed:?}"
            );
        }
        previous = Some((sequence, listed));
    }
    assert!(
        versions >= 8,
        "too few playlist versions recorded: {versions}"
    );
    // Every deleted segment had been stored, and had left the window before.
    for path in deleted.keys() {
        assert!(stored.contains_key(path), "{path} deleted but never stored");
    }
    // The last version is final.
    let last = operations.iter().rev().find_map(|op| op.playlist.as_ref());
    assert!(last.is_some_and(|text| text.ends_with("#EXT-X-ENDLIST\n")));
}
