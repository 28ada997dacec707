//! In-process tests of `Topology::apply` on tokio's paused clock, one per kind of node: what a
//! reload that adds, removes, changes or keeps a source, segmenter, playlist, sink or master
//! does to the running graph, read from what the in-memory sinks hold (playlists' text, objects)
//! and from the tasks and the status board. Each feed is the tiny stream generated in process
//! (a keyframe every second, longer than any test), paced in real time, cut into 1 s
//! segments.

use std::path::Path;

use super::testkit::{Running, until};
use crate::status::NodeState;

/// Feed `name` (source, segmenter and playlist named alike) reading `path`.
fn feed_from(name: &str, path: &str) -> String {
    format!(
        "\n[sources.{name}]\ntype = \"file\"\npath = \"{path}\"\nrealtime = true\n\
         [segmenters.{name}]\ninput = \"{name}\"\ntarget_duration = 1\n\
         [playlists.{name}]\ninput = \"{name}\"\nwindow = 0\n"
    )
}

/// Feed `name` on the tiny stream.
fn feed(name: &str) -> String {
    feed_from(name, "{tiny}")
}

/// Sink `name` publishing `inputs` (kept in memory; `path` only names its destination).
fn sink(name: &str, inputs: &[&str], path: &str) -> String {
    format!("\n[sinks.{name}]\ntype = \"local\"\npath = \"{path}\"\ninputs = {inputs:?}\n")
}

/// A copy of the tiny stream under `dir`: the same media from another file.
fn tiny_copy(dir: &Path) -> String {
    let copy = dir.join("copy.ts");
    std::fs::copy(dir.join("tiny.ts"), &copy).unwrap();
    copy.display().to_string()
}

#[tokio::test(start_paused = true)]
async fn sources_added_removed_changed_and_unchanged() {
    let before = feed("s-keep") + &feed("s-change") + &feed("s-gone");
    let outputs = sink("out", &["s-keep", "s-change", "s-gone"], "/srv/out");
    let mut running = Running::start("", &(before + &outputs)).await;
    running.segments("out", "s-change.m3u8", 2).await;
    running.segments("out", "s-gone.m3u8", 2).await;
    let kept = running.feed_tasks("s-keep");
    let cut = running
        .segments("out", "s-change.m3u8", 2)
        .await
        .entries
        .len();

    let copy = tiny_copy(running.dir.path());
    let after = feed("s-keep") + &feed_from("s-change", &copy) + &feed("s-new");
    let outputs = sink("out", &["s-keep", "s-change", "s-new"], "/srv/out");
    let diff = running.reload(&(after + &outputs), &[]).await;
    assert_eq!(diff.sources.changed["s-change"], ["path"]);
    assert!(diff.sources.added.contains("s-new") && diff.sources.removed.contains("s-gone"));

    // Removed: its playlist ends; its nodes leave the board.
    let gone = running.sink("out").media("s-gone.m3u8").unwrap();
    let gone = if gone.endlist {
        gone
    } else {
        until("s-gone's end", || {
            running
                .sink("out")
                .media("s-gone.m3u8")
                .filter(|m| m.endlist)
        })
        .await
    };
    gone.assert_numbered("s-gone");
    for kind in ["sources", "segmenters", "playlists"] {
        assert_eq!(running.state(&format!("{kind}.s-gone")), None, "{kind}");
    }
    // Changed: it reads the new file and numbers on after a discontinuity.
    let changed = running.segments("out", "s-change.m3u8", cut + 3).await;
    changed.assert_numbered("s-change");
    let at = changed.first_discontinuity().unwrap();
    assert!(at >= cut && !changed.endlist, "{changed:?}");
    // Added: numbered from 1.
    let added = running.segments("out", "s-new.m3u8", 2).await;
    added.assert_numbered("s-new");
    assert_eq!(running.state("sources.s-new"), Some(NodeState::Live));
    // Unchanged: the same tasks, never a discontinuity.
    assert_eq!(running.feed_tasks("s-keep"), kept);
    let keep = running.segments("out", "s-keep.m3u8", cut + 3).await;
    keep.assert_numbered("s-keep");
    assert_eq!(keep.first_discontinuity(), None, "{keep:?}");

    let (_, _dir) = running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn segmenters_changed_added_on_a_running_source_and_removed() {
    let outputs = |inputs: &[&str]| sink("out", inputs, "/srv/out");
    let config = feed("g-a") + &feed("g-b") + &outputs(&["g-a", "g-b"]);
    let mut running = Running::start("", &config).await;
    let cut = running.segments("out", "g-a.m3u8", 2).await.entries.len();
    let b = running.feed_tasks("g-b");

    // g-a cuts 2 s segments; a second segmenter and playlist read g-b's source.
    let second = "\n[segmenters.g-b2]\ninput = \"g-b\"\ntarget_duration = 1\n\
                  [playlists.g-b2]\ninput = \"g-b2\"\nwindow = 0\n";
    let slower = feed("g-a").replace("target_duration = 1", "target_duration = 2");
    let config = slower + &feed("g-b") + second + &outputs(&["g-a", "g-b", "g-b2"]);
    let diff = running.reload(&config, &[]).await;
    assert_eq!(diff.segmenters.changed["g-a"], ["target_duration"]);
    assert_eq!(diff.relinked.sources.iter().collect::<Vec<_>>(), ["g-b"]);

    // The changed segmenter restarts; its playlist numbers on, after a discontinuity, with
    // the new target duration.
    let a = running.segments("out", "g-a.m3u8", cut + 2).await;
    a.assert_numbered("g-a");
    assert!(a.first_discontinuity().unwrap() >= cut, "{a:?}");
    assert_eq!(a.target_duration, 2, "{a:?}");
    // The new segmenter is one more reader of the running source, which did not restart.
    let b2 = running.segments("out", "g-b2.m3u8", 2).await;
    b2.assert_numbered("g-b2");
    assert_eq!(running.feed_tasks("g-b"), b);

    // Removed again: its playlist ends, the source goes on for g-b.
    let config = feed("g-a").replace("target_duration = 1", "target_duration = 2")
        + &feed("g-b")
        + &outputs(&["g-a", "g-b"]);
    running.reload(&config, &[]).await;
    let out = running.sink("out");
    let ended = until("g-b2's end", || {
        out.media("g-b2.m3u8").filter(|m| m.endlist)
    })
    .await;
    ended.assert_numbered("g-b2");
    assert_eq!(running.state("segmenters.g-b2"), None);
    let before = running.segments("out", "g-b.m3u8", 1).await.entries.len();
    let after = running.segments("out", "g-b.m3u8", before + 2).await;
    assert_eq!(after.first_discontinuity(), None, "{after:?}");
    assert!(!after.endlist);
    assert_eq!(running.feed_tasks("g-b"), b);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn playlists_changed_live_restarted_added_and_removed() {
    let outputs = |inputs: &[&str]| sink("out", inputs, "/srv/out");
    let config = feed("p-live") + &feed("p-re") + &outputs(&["p-live", "p-re"]);
    let mut running = Running::start("", &config).await;
    let cut = running.segments("out", "p-re.m3u8", 3).await.entries.len();
    let listed = running
        .segments("out", "p-live.m3u8", 4)
        .await
        .entries
        .len() as u64;
    let live = running.feed_tasks("p-live");
    let re = running.feed_tasks("p-re");

    // p-live keeps a window of 3 (live); p-re's segments get new names (a restart); a second
    // playlist starts on p-re's running segmenter.
    let windowed = feed("p-live").replace("window = 0", "window = 3");
    let renamed = feed("p-re").replace(
        "window = 0",
        "window = 0\nsegment_name = \"renamed-{seq:05}.ts\"",
    );
    let copy = "\n[playlists.p-copy]\ninput = \"p-re\"\nwindow = 0\n";
    let config = windowed.clone() + &renamed + copy + &outputs(&["p-live", "p-re", "p-copy"]);
    let diff = running.reload(&config, &[]).await;
    assert!(diff.playlists_live.contains("p-live") && diff.playlists_restart.contains("p-re"));

    // Live: the same tasks; the next version lists the last 3, numbering on, no discontinuity.
    let out = running.sink("out");
    let next = until("the next p-live version", || {
        let media = out.media("p-live.m3u8")?;
        let last = media.entries.last()?.sequence;
        (last > listed).then_some(media)
    })
    .await;
    let numbers: Vec<u64> = next.entries.iter().map(|e| e.sequence).collect();
    let last = numbers[numbers.len() - 1];
    assert_eq!(numbers, [last - 2, last - 1, last], "{next:?}");
    assert_eq!(next.first_discontinuity(), None, "{next:?}");
    assert_eq!(running.feed_tasks("p-live"), live);
    // Restarted: a new playlist task on the same segmenter, new names, numbers going on.
    let renamed_media = until("a renamed segment", || {
        let media = out.media("p-re.m3u8")?;
        media
            .entries
            .iter()
            .any(|e| e.uri.starts_with("renamed-"))
            .then_some(media)
    })
    .await;
    let first = (renamed_media.entries.iter())
        .find(|e| e.uri.starts_with("renamed-"))
        .unwrap();
    assert_eq!(first.uri, format!("renamed-{:05}.ts", first.sequence));
    assert!(first.sequence as usize > cut, "{renamed_media:?}");
    let now = running.feed_tasks("p-re");
    assert_eq!((now.source, now.segmenter), (re.source, re.segmenter));
    assert_ne!(now.playlist, re.playlist);
    // Added on a running segmenter: numbered from 1.
    let copied = running.segments("out", "p-copy.m3u8", 2).await;
    copied.assert_numbered("p-copy");

    // Removed: it ends; its segmenter goes on for p-re.
    let config = windowed + &renamed + &outputs(&["p-live", "p-re"]);
    running.reload(&config, &[]).await;
    let ended = until("p-copy's end", || {
        out.media("p-copy.m3u8").filter(|m| m.endlist)
    })
    .await;
    ended.assert_numbered("p-copy");
    assert_eq!(running.state("playlists.p-copy"), None);
    let now = running.feed_tasks("p-re");
    assert_eq!((now.source, now.segmenter), (re.source, re.segmenter));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn sinks_added_changed_in_place_moved_and_removed() {
    let mut running = Running::start("", &(feed("k-a") + &sink("out", &["k-a"], "/srv/out"))).await;
    running.segments("out", "k-a.m3u8", 2).await;
    let tasks = running.feed_tasks("k-a");

    // Added on a running playlist (relinked): it publishes from the next segment on.
    let config = |out: &str, grace: &str| {
        feed("k-a") + &sink("out", &["k-a"], out) + grace + &sink("more", &["k-a"], "/srv/more")
    };
    let diff = running.reload(&config("/srv/out", ""), &[]).await;
    assert_eq!(diff.relinked.playlists.iter().collect::<Vec<_>>(), ["k-a"]);
    let more = running.segments("more", "k-a.m3u8", 2).await;
    assert!(more.entries[0].sequence > 1 && more.first_discontinuity().is_none());
    // Changed in place (a setting that keeps the destination): the plan goes on, every
    // segment since 1 still listed.
    let grace = "delete_grace = \"30s\"\n";
    let diff = running.reload(&config("/srv/out", grace), &[]).await;
    assert_eq!(diff.sinks.changed["out"], ["delete_grace"]);
    let listed = running.segments("out", "k-a.m3u8", 1).await.entries.len();
    let out = running.segments("out", "k-a.m3u8", listed + 2).await;
    out.assert_numbered("k-a");
    // Moved: the new destination lists only what it stored.
    running.reload(&config("/srv/moved", grace), &["out"]).await;
    let moved = running.segments("out", "k-a.m3u8", 2).await;
    assert!(moved.entries[0].sequence as usize > listed, "{moved:?}");
    // Removed: it gets a final version.
    let config = feed("k-a") + &sink("out", &["k-a"], "/srv/moved") + grace;
    running.reload(&config, &[]).await;
    let more = running.sink("more");
    until("more's end", || {
        more.media("k-a.m3u8").filter(|m| m.endlist)
    })
    .await;
    assert_eq!(running.state("sinks.more"), None);
    // The feed never noticed.
    assert_eq!(running.feed_tasks("k-a"), tasks);
    let last = running
        .segments("out", "k-a.m3u8", moved.entries.len() + 1)
        .await;
    assert_eq!(last.first_discontinuity(), None, "{last:?}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn masters_added_changed_unchanged_and_removed() {
    let feeds = feed("m-lo") + &feed("m-hi");
    let mut running = Running::start(
        "",
        &(feeds.clone() + &sink("out", &["m-lo", "m-hi"], "/srv/out")),
    )
    .await;
    running.segments("out", "m-hi.m3u8", 1).await;
    let master = |variants: &str| format!("\n[masters.m-show]\nvariants = {variants}\n");
    let out = running.sink("out");

    let config =
        feeds.clone() + &master(r#"["m-lo", "m-hi"]"#) + &sink("out", &["m-show"], "/srv/out");
    let diff = running.reload(&config, &[]).await;
    assert!(diff.masters.added.contains("m-show"));
    let text = until("the master", || out.text("m-show.m3u8")).await;
    assert!(
        text.contains("m-lo.m3u8") && text.contains("m-hi.m3u8"),
        "{text}"
    );

    // Changed: a new master task over the one variant left.
    let config = feeds.clone() + &master(r#"["m-lo"]"#) + &sink("out", &["m-show"], "/srv/out");
    let diff = running.reload(&config, &[]).await;
    assert_eq!(diff.masters.changed["m-show"], ["variants"]);
    let text = until("the master of one variant", || {
        out.text("m-show.m3u8")
            .filter(|text| !text.contains("m-hi.m3u8"))
    })
    .await;
    assert!(text.contains("m-lo.m3u8"), "{text}");
    // m-hi is no longer published there: it got its end.
    assert!(out.media("m-hi.m3u8").unwrap().endlist);

    // Unchanged, with a sink added on it: the same task, which tells the new sink.
    let task = running.topology.masters["m-show"].task.id();
    let more = sink("more", &["m-show"], "/srv/more");
    let config = feeds.clone() + &master(r#"["m-lo"]"#) + &sink("out", &["m-show"], "/srv/out");
    let diff = running.reload(&(config + &more), &[]).await;
    assert!(diff.masters.unchanged.contains("m-show"));
    let more = running.sink("more");
    let text = until("the master at the new sink", || more.text("m-show.m3u8")).await;
    assert!(
        text.contains("m-lo.m3u8") && !text.contains("m-hi.m3u8"),
        "{text}"
    );
    assert_eq!(running.topology.masters["m-show"].task.id(), task);

    // Removed: its task and its node go.
    let config = feeds + &sink("out", &["m-lo", "m-hi"], "/srv/out");
    running.reload(&config, &[]).await;
    assert!(running.topology.masters.is_empty());
    assert_eq!(running.state("masters.m-show"), None);
    let lo = running.segments("out", "m-lo.m3u8", 1).await.entries.len();
    let lo = running.segments("out", "m-lo.m3u8", lo + 1).await;
    lo.assert_numbered("m-lo");
    assert!(!lo.endlist);
    running.stop().await;
}
