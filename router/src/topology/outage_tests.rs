//! In-process tests of a running topology through an outage and a restart, on tokio's paused
//! clock: a sink that is down catches up in order once it is back, and a daemon restarted over
//! its state directory numbers on and publishes first what the last run left unsent.

use super::testkit::{Running, until};

/// Feed `o-feed` on the tiny stream (1 s segments), published by sinks `o-good` and `o-flaky`.
const CONFIG: &str = r#"
[sources.o-feed]
type = "file"
path = "{tiny}"
realtime = true
[segmenters.o-feed]
input = "o-feed"
target_duration = 1
[playlists.o-feed]
input = "o-feed"
window = 0
[sinks.o-good]
type = "local"
path = "/srv/good"
inputs = ["o-feed"]
[sinks.o-flaky]
type = "local"
path = "/srv/flaky"
inputs = ["o-feed"]
"#;

const PLAYLIST: &str = "o-feed.m3u8";

#[tokio::test(start_paused = true)]
async fn a_sink_that_was_down_catches_up_in_order_when_it_is_back() {
    let running = Running::start("", CONFIG).await;
    let flaky = running.sink("o-flaky");
    let before = running.segments("o-flaky", PLAYLIST, 2).await.entries.len();
    flaky.set_down(true);
    // Ten segments later it still lists what it had.
    running.segments("o-good", PLAYLIST, before + 10).await;
    let stale = flaky.media(PLAYLIST).unwrap();
    assert!(stale.entries.len() <= before + 1, "{stale:?}");

    flaky.set_down(false);
    let good = running.sink("o-good");
    let caught_up = until("the flaky sink caught up", || {
        let (now, there) = (good.media(PLAYLIST)?, flaky.media(PLAYLIST)?);
        (there.entries.len() >= now.entries.len()).then_some(there)
    })
    .await;
    // Every segment, in order, none a gap, and each one stored.
    caught_up.assert_numbered("o-feed");
    assert_eq!(caught_up.first_discontinuity(), None);
    assert!(!flaky.text(PLAYLIST).unwrap().contains("EXT-X-GAP"));
    for entry in &caught_up.entries {
        assert!(flaky.text(&entry.uri).is_some(), "{} is missing", entry.uri);
    }
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_numbers_on_and_first_publishes_what_the_last_run_left() {
    let running = Running::start("stop_timeout = \"1s\"", CONFIG).await;
    let flaky = running.sink("o-flaky");
    let before = running.segments("o-flaky", PLAYLIST, 2).await.entries.len();
    flaky.set_down(true);
    let cut = running
        .segments("o-good", PLAYLIST, before + 3)
        .await
        .entries
        .len();

    // Stopped while the flaky sink is down: what it did not send stays in its journal.
    let running = running.restart(CONFIG).await;
    flaky.set_down(false);
    let good = running.sink("o-good");
    // The second run numbers on after the first (its sequence numbers are kept), from a new
    // timeline; the flaky sink publishes the first run's rest before it.
    let wanted = cut + 3;
    let resumed = running.segments("o-good", PLAYLIST, wanted).await;
    resumed.assert_numbered("o-feed");
    let restart = resumed.first_discontinuity().unwrap();
    assert!(restart >= cut, "{resumed:?}");
    let flaky_now = until("the flaky sink caught up", || {
        let there = flaky.media(PLAYLIST)?;
        (there.entries.len() >= wanted).then_some(there)
    })
    .await;
    flaky_now.assert_numbered("o-feed");
    // Its replay of the first run's rest is a new timeline of the sink too (see the sink
    // task's resume tests), then comes the second run's.
    let marks: Vec<usize> = (flaky_now.entries.iter().enumerate())
        .filter(|(_, entry)| entry.discontinuity)
        .map(|(at, _)| at)
        .collect();
    assert_eq!(marks.last(), Some(&restart), "{flaky_now:?}");
    assert!(marks.len() <= 2 && marks[0] >= before, "{flaky_now:?}");
    for entry in &flaky_now.entries {
        assert!(flaky.text(&entry.uri).is_some(), "{} is missing", entry.uri);
    }
    assert!(good.media(PLAYLIST).is_some());
    running.stop().await;
}
