//! In-process tests of a running topology at scale and at the stop, on tokio's paused clock: a
//! reload that changes one feed of a thousand leaves the other 999 untouched, and a stop with a
//! sink that is down ends on time (`stop_timeout`) and leaves what it did not send in its
//! journal.

use std::time::Duration;

use tokio::time::Instant;

use super::testkit::{PATIENCE, Running, sample_path, tiny_stream};
use crate::publish::journal::Journal;

const FEEDS: usize = 1000;
/// The feed the reload changes.
const CHANGED: usize = 500;

/// Feed `name` reading `path` (the tiny stream: 1 s segments).
fn tiny_feed(name: &str, path: &std::path::Path) -> String {
    format!(
        "[sources.{name}]\ntype = \"file\"\npath = \"{}\"\nrealtime = true\n\
         [segmenters.{name}]\ninput = \"{name}\"\ntarget_duration = 1\n\
         [playlists.{name}]\ninput = \"{name}\"\nwindow = 0\n",
        path.display()
    )
}

/// `FEEDS` feeds on `paths` (the changed one on `changed`), all published by sink `scale`.
fn thousand(normal: &std::path::Path, changed: &std::path::Path) -> String {
    let names: Vec<String> = (0..FEEDS).map(|n| format!("f{n:04}")).collect();
    let mut config = String::new();
    for (n, name) in names.iter().enumerate() {
        let path = if n == CHANGED { changed } else { normal };
        config.push_str(&tiny_feed(name, path));
    }
    let inputs = format!("{names:?}");
    config + &format!("[sinks.scale]\ntype = \"local\"\npath = \"/srv/scale\"\ninputs = {inputs}\n")
}

/// Waits until every feed's playlist at sink `scale` lists at least `counts[n]` segments,
/// looking again (only at those not there yet) every 100 ms of media time.
async fn all_reach(running: &Running, counts: &[usize]) {
    let sink = running.sink("scale");
    let mut waiting: Vec<usize> = (0..FEEDS).collect();
    let deadline = Instant::now() + PATIENCE;
    while !waiting.is_empty() {
        waiting.retain(|&n| {
            let media = sink.media(&format!("f{n:04}.m3u8"));
            media.is_none_or(|m| m.entries.len() < counts[n])
        });
        assert!(Instant::now() < deadline, "feeds {waiting:?} are behind");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_reload_that_changes_one_of_a_thousand_feeds_leaves_the_others_untouched() {
    // The paused clock, and one blocking thread: the thousand feeds' file reads and sink calls
    // then take one core, not all, from the tests that run beside this one in real time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    runtime.block_on(one_of_a_thousand());
}

async fn one_of_a_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let (normal, other) = (dir.path().join("tiny.ts"), dir.path().join("other.ts"));
    let stream = tiny_stream(60);
    std::fs::write(&normal, &stream).unwrap();
    std::fs::write(&other, &stream).unwrap();
    // No state_dir: nothing of a thousand playlists is fsync'd.
    let mut running = Running::start_ephemeral(&thousand(&normal, &normal)).await;
    all_reach(&running, &[1; FEEDS]).await;
    let names: Vec<String> = (0..FEEDS).map(|n| format!("f{n:04}")).collect();
    let tasks: Vec<_> = names.iter().map(|name| running.feed_tasks(name)).collect();
    let sink = running.sink("scale");
    let counts: Vec<usize> = (names.iter())
        .map(|name| sink.media(&format!("{name}.m3u8")).unwrap().entries.len())
        .collect();

    let diff = running.reload(&thousand(&normal, &other), &[]).await;
    assert_eq!(
        diff.summary(),
        format!(
            "1 changed, 0 added, 0 removed, {} unchanged: sources.f0500 (path)",
            3 * FEEDS
        )
    );
    let wanted: Vec<usize> = counts.iter().map(|count| count + 2).collect();
    all_reach(&running, &wanted).await;

    for (n, name) in names.iter().enumerate() {
        let media = sink.media(&format!("{name}.m3u8")).unwrap();
        media.assert_numbered(name);
        assert!(!media.endlist, "{media:?}");
        if n == CHANGED {
            // Source and segmenter restarted; the playlist numbers on after a discontinuity.
            let now = running.feed_tasks(name);
            let was = &tasks[n];
            assert!(now.source[0] != was.source[0] && now.source[1] != was.source[1]);
            assert_ne!(now.segmenter, was.segmenter);
            assert_eq!(now.playlist, was.playlist);
            assert!(
                media.first_discontinuity().unwrap() >= counts[n],
                "{media:?}"
            );
        } else {
            assert_eq!(running.feed_tasks(name), tasks[n], "{name} was restarted");
            assert_eq!(media.first_discontinuity(), None, "{name}: {media:?}");
        }
    }
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_with_a_dead_sink_ends_on_time_and_leaves_the_unsent_in_its_journal() {
    let feed = format!(
        "[sources.d-feed]\ntype = \"file\"\npath = \"{}\"\nrealtime = true\nloop = true\n\
         [segmenters.d-feed]\ninput = \"d-feed\"\ntarget_duration = 2\n\
         [playlists.d-feed]\ninput = \"d-feed\"\nwindow = 0\n\
         [sinks.d-good]\ntype = \"local\"\npath = \"/srv/good\"\ninputs = [\"d-feed\"]\n\
         [sinks.d-dead]\ntype = \"local\"\npath = \"/srv/dead\"\ninputs = [\"d-feed\"]\n",
        sample_path().display()
    );
    let running = Running::start("stop_timeout = \"3s\"", &feed).await;
    let dead = running.sink("d-dead");
    dead.set_down(true);
    running.segments("d-good", "d-feed.m3u8", 3).await;
    let good = running.sink("d-good");
    let state = running.dir.path().join("state");

    let (took, _dir) = running.stop().await;
    // The dead sink is given its stop_timeout, not a moment more (paused clock: exact).
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_millis(3500), "{took:?}");
    // Every segment went out to the good sink, the last one at the stop, with the end.
    let published = good.media("d-feed.m3u8").unwrap();
    assert!(published.endlist, "{published:?}");
    published.assert_numbered("d-feed");
    // The dead one stored nothing; its journal holds every segment, for the next run.
    assert!(dead.keys().is_empty(), "{:?}", dead.keys());
    let (_journal, held) = Journal::open(&state.join("journal").join("d-dead"), true).unwrap();
    assert_eq!(held.queued_segments(), published.entries.len());
}
