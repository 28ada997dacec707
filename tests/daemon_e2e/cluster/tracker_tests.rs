//! The [`Tracker`] itself, on a real daemon of today: one router alone (the cluster config
//! without `[cluster]`) publishing 3 looping feeds into the shared directory. A healthy run
//! gives no finding at all (looped clips, sliding windows and deletions are no false alarms)
//! and no stall beyond a segment; its stop is seen as `#EXT-X-ENDLIST`. Then the output is
//! doctored as a broken cluster would leave it, and each fault is found: a segment number
//! rewritten with other bytes, a playlist version going back, a listed segment gone.

use std::time::Duration;

use super::harness::{LEASE, TARGET, config_text, feed_names, without_cluster};
use super::tracker::Tracker;
use crate::daemon::{Daemon, wait_until, write_config};

#[test]
fn tracker_finds_nothing_on_a_healthy_router_and_each_doctored_fault() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = feed_names(3);
    let text = config_text(dir.path(), "http://127.0.0.1:1", "tsolo", &feeds, LEASE);
    let config = write_config(dir.path(), "solo.toml", &without_cluster(&text));
    let out = dir.path().join("out");
    let mut tracker = Tracker::new(&out, &feeds);
    let mut daemon = Daemon::start_with_env(&config, &[("NODE", "solo")]);
    let mut polls = 0;
    wait_until("3 segments of every feed", Duration::from_secs(40), || {
        tracker.observe();
        polls += 1;
        assert!(daemon.is_running(), "{}", daemon.logs());
        feeds.iter().all(|feed| tracker.last(feed) >= Some(2))
    });
    tracker.reset_stalls();
    // Past the clip's 12 s loop: its discontinuity, and the window's deletions.
    let target = tracker.lasts();
    wait_until(
        "7 more segments of every feed",
        Duration::from_secs(30),
        || {
            tracker.observe();
            feeds
                .iter()
                .all(|feed| tracker.last(feed) >= Some(target[feed] + 7))
        },
    );
    for feed in &feeds {
        let stall = tracker.longest_stall(feed);
        assert!(
            stall <= TARGET + Duration::from_secs(2),
            "{feed}: {stall:?}"
        );
        assert!(!tracker.feeds[feed].endlist_seen);
    }
    let (status, logs) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "{logs}");
    tracker.observe();
    assert!(tracker.feeds.values().all(|feed| feed.endlist_seen));
    assert!(
        tracker.findings.messages().is_empty(),
        "{:?}\n{}",
        tracker.findings.messages(),
        tracker.summary()
    );

    // A number rewritten with other bytes.
    let listed = tracker.feeds["cam1"].playlist.clone().unwrap();
    let uris: Vec<String> = listed.uris().iter().map(|uri| (*uri).to_owned()).collect();
    std::fs::write(out.join(&uris[1]), b"other bytes").unwrap();
    // A listed segment gone.
    std::fs::remove_file(out.join(&uris[2])).unwrap();
    // A version going back: cam2's playlist as it was one number earlier.
    let text = std::fs::read_to_string(out.join("cam2.m3u8")).unwrap();
    let sequence = tracker.feeds["cam2"].media_sequence.unwrap();
    let older = text.replace(
        &format!("#EXT-X-MEDIA-SEQUENCE:{sequence}\n"),
        &format!("#EXT-X-MEDIA-SEQUENCE:{}\n", sequence - 1),
    );
    assert_ne!(older, text);
    std::fs::write(out.join("cam2.m3u8"), older).unwrap();
    tracker.observe();
    let found = tracker.findings.messages().join("\n");
    for expected in [
        format!("{}: number reused", uris[1]),
        format!(
            "cam1: the playlist lists {}, which is not in the directory",
            uris[2]
        ),
        format!(
            "cam2: media sequence went back from {sequence} to {}",
            sequence - 1
        ),
    ] {
        assert!(
            found.contains(&expected),
            "not found: {expected}\nin:\n{found}"
        );
    }
    eprintln!("tracker: {polls} polls; doctored faults found:\n{found}");
}
