//! In-process tests of a master's archive and time-shift masters in the running graph, on
//! tokio's paused clock (the wall clock follows it, see `seams::wall_now`): each period gets
//! an archive master listing the variants' archives of that period, never one that is not
//! there; retention deletes it no later than those archives, also after a restart over the
//! same state directory; a reload that gives the variants a DVR view gives the master its
//! time-shift master, and one that takes it away stops it.

use std::collections::BTreeSet;

use streamrouter_plugin::Sink;

use super::testkit::{MemorySink, Running, until};

/// Feed `name` on the tiny stream (one-second segments), with the playlist table body `views`
/// appended (its `dvr` and `archive` tables).
fn feed(name: &str, views: &str) -> String {
    format!(
        "\n[sources.{name}]\ntype = \"file\"\npath = \"{{tiny}}\"\nrealtime = true\n\
         [segmenters.{name}]\ninput = \"{name}\"\ntarget_duration = 1\n\
         [playlists.{name}]\ninput = \"{name}\"\nwindow = 3\n{}\n",
        views.replace("NAME", name)
    )
}

/// Archives of 5 s kept 5 s after their period.
const ARCHIVE: &str = "[playlists.NAME.archive]\nevery = \"5s\"\nretain = \"5s\"\n";
const DVR: &str = "[playlists.NAME.dvr]\nduration = \"5s\"\n";

/// Master `show` over `lo` and `hi`, published by sink `out`.
fn show(views: &str) -> String {
    feed("lo", views)
        + &feed("hi", views)
        + "\n[masters.show]\nvariants = [\"lo\", \"hi\"]\n\
           [sinks.out]\ntype = \"local\"\npath = \"/srv/out\"\ninputs = [\"show\"]\n"
}

/// The archive masters `out` holds (`show-START.m3u8`), each with the URIs it lists.
fn archive_masters(out: &MemorySink) -> Vec<(String, Vec<String>)> {
    let keys = out.keys().into_iter();
    keys.filter(|key| key.starts_with("show-") && key.ends_with("Z.m3u8"))
        .filter_map(|key| {
            let text = out.text(&key)?;
            let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes())
                .unwrap_or_else(|e| panic!("{key} is not a master playlist ({e:?}):\n{text}"));
            let uris = parsed.variants.iter().map(|v| v.uri.clone()).collect();
            Some((key, uris))
        })
        .collect()
}

/// Every archive master lists, in order, the variants' archives of its own period, and they
/// are there; returns their keys.
fn check_archive_masters(out: &MemorySink) -> BTreeSet<String> {
    let keys: BTreeSet<String> = out.keys().into_iter().collect();
    let mut found = BTreeSet::new();
    for (key, uris) in archive_masters(out) {
        let start = &key["show-".len()..key.len() - ".m3u8".len()];
        let expected = [format!("lo/{start}.m3u8"), format!("hi/{start}.m3u8")];
        assert_eq!(uris, expected, "{key}");
        for uri in &uris {
            assert!(keys.contains(uri), "{key} lists {uri}, which is not there");
        }
        found.insert(key);
    }
    found
}

#[tokio::test(start_paused = true)]
async fn each_period_gets_an_archive_master_deleted_with_its_archives() {
    let running = Running::start("", &show(ARCHIVE)).await;
    let out = running.sink("out");
    let mut seen: BTreeSet<String> = BTreeSet::new();
    // Checked every 10 ms of media time: never a listed archive missing.
    let first_gone = until("an archive master deleted by retention", || {
        let now = check_archive_masters(&out);
        let gone = seen.difference(&now).next().cloned();
        seen.extend(now);
        gone
    })
    .await;
    assert!(seen.len() >= 2, "{seen:?}");
    // The periods follow each other 5 s apart (names sort by time).
    let first = seen.first().unwrap();
    assert_eq!(&first_gone, first, "the oldest goes first");
    // Its archives go after it (after the RFC 8216 delay), not before.
    let start = &first["show-".len()..first.len() - ".m3u8".len()];
    until("its archives deleted", || {
        let keys = out.keys();
        (!keys.contains(&format!("lo/{start}.m3u8"))).then_some(())
    })
    .await;
    let master = out.text("show.m3u8").unwrap();
    assert!(master.contains("\nlo.m3u8\n"), "{master}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn retention_deletes_archive_masters_after_a_restart() {
    let config = show("[playlists.NAME.archive]\nevery = \"5s\"\nretain = \"8s\"\n");
    let running = Running::start("", &config).await;
    let out = running.sink("out");
    // The first period's, once a later one is out: the next run never publishes it.
    let published = until("two archive masters", || {
        let now = check_archive_masters(&out);
        (now.len() >= 2).then(|| now.first().cloned()).flatten()
    })
    .await;
    let running = running.restart(&config).await;
    let out = running.sink("out");
    until("the archive master deleted by the next run", || {
        let now = check_archive_masters(&out);
        (!now.contains(&published)).then_some(())
    })
    .await;
    until("archive masters of the new run", || {
        let now = check_archive_masters(&out);
        (now.iter().any(|key| key > &published)).then_some(())
    })
    .await;
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_reload_gives_and_takes_the_time_shift_master_with_the_variants_dvr_views() {
    let mut running = Running::start("", &show("")).await;
    let out = running.sink("out");
    until("the master", || out.text("show.m3u8")).await;
    running.segments("out", "lo.m3u8", 3).await;
    assert_eq!(out.text("show-dvr.m3u8"), None);
    running.reload(&show(DVR), &[]).await;
    let shifted = until("the time-shift master", || out.text("show-dvr.m3u8")).await;
    assert!(
        shifted.contains("\nlo-dvr.m3u8\n") && shifted.contains("\nhi-dvr.m3u8\n"),
        "{shifted}"
    );
    // The master starts again and publishes itself after its variants' next segments; the
    // time-shift master no longer (what it left is not deleted: removed here to tell).
    out.delete("show.m3u8").unwrap();
    out.delete("show-dvr.m3u8").unwrap();
    running.reload(&show(""), &[]).await;
    until("the master again", || out.text("show.m3u8")).await;
    running.segments("out", "lo.m3u8", 3).await;
    let later = out
        .media("lo.m3u8")
        .unwrap()
        .entries
        .last()
        .unwrap()
        .sequence
        + 3;
    until("three more segments", || {
        let last = out.media("hi.m3u8")?.entries.last()?.sequence;
        (last >= later).then_some(())
    })
    .await;
    assert_eq!(out.text("show-dvr.m3u8"), None);
    running.stop().await;
}
