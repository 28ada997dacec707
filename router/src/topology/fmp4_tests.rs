//! In-process tests of fMP4 playlists (`segment_format = "fmp4"`) in a running topology, on
//! tokio's paused clock: every sink stores an init segment before any playlist version naming
//! it (also after an outage and across a restart, from the journal), stores inits and
//! fragments as `video/mp4`, deletes an init only once no entry names it, and a codec change
//! mid-feed gives init n+1 after a discontinuity, a sink that moves gets the current init at
//! its new place, and a codec fMP4 cannot carry is one error at the playlist node. The memory sinks check, at every playlist
//! put and every delete, that each EXT-X-MAP names an object they hold.

use super::testkit::{MemorySink, Running, tiny_stream_changing, until};
use crate::media::fmp4::boxes::decode_times;

/// Feed `m-feed` on the tiny stream (1 s segments) as fMP4, published by `m-good` and
/// `m-flaky`.
const CONFIG: &str = r#"
[sources.m-feed]
type = "file"
path = "{tiny}"
realtime = true
[segmenters.m-feed]
input = "m-feed"
target_duration = 1
[playlists.m-feed]
input = "m-feed"
window = 0
segment_format = "fmp4"
[sinks.m-good]
type = "local"
path = "/srv/good"
inputs = ["m-feed"]
[sinks.m-flaky]
type = "local"
path = "/srv/flaky"
inputs = ["m-feed"]
"#;

const PLAYLIST: &str = "m-feed.m3u8";
const INIT_0: &str = "m-feed-init-0.mp4";

/// Every listed fragment and the init are stored, as `video/mp4`, and no version of a
/// playlist ever named an init that was not there.
fn assert_fmp4_sound(sink: &MemorySink, playlist: &str) {
    assert_eq!(sink.missing_objects(), Vec::<String>::new());
    let text = sink.text(playlist).unwrap();
    assert!(text.contains("#EXT-X-VERSION:7"), "{text}");
    let media = sink.media(playlist).unwrap();
    for entry in &media.entries {
        assert!(entry.uri.ends_with(".m4s"), "{text}");
        assert_eq!(sink.content_type(&entry.uri).as_deref(), Some("video/mp4"));
    }
    for line in text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
    {
        let init = line.trim_end_matches('"');
        assert_eq!(
            sink.content_type(init).as_deref(),
            Some("video/mp4"),
            "{init}"
        );
    }
}

/// Waits until `flaky`, back up, lists as many segments as `good`; then both are sound.
async fn catch_up_soundly(good: &MemorySink, flaky: &MemorySink) {
    until("the flaky sink caught up", || {
        let (now, there) = (good.media(PLAYLIST)?, flaky.media(PLAYLIST)?);
        (there.entries.len() >= now.entries.len()).then_some(())
    })
    .await;
    assert_fmp4_sound(good, PLAYLIST);
    assert_fmp4_sound(flaky, PLAYLIST);
}

#[tokio::test(start_paused = true)]
async fn the_init_is_stored_before_any_playlist_names_it_also_after_an_outage() {
    let running = Running::start("", CONFIG).await;
    let flaky = running.sink("m-flaky");
    let first = running.segments("m-flaky", PLAYLIST, 2).await;
    assert!(
        flaky
            .text(PLAYLIST)
            .unwrap()
            .contains(&format!("#EXT-X-MAP:URI=\"{INIT_0}\""))
    );
    flaky.set_down(true);
    let before = first.entries.len();
    running.segments("m-good", PLAYLIST, before + 6).await;
    flaky.set_down(false);
    let good = running.sink("m-good");
    catch_up_soundly(&good, &flaky).await;
    let keys = good.keys();
    assert!(keys.iter().all(|k| !k.ends_with(".ts")), "{keys:?}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_codec_change_gives_the_next_init_after_a_discontinuity_and_the_old_one_expires() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changing.ts");
    std::fs::write(&path, tiny_stream_changing(120, 5)).unwrap();
    let config = CONFIG
        .replace("{tiny}", &path.display().to_string())
        .replace("window = 0", "window = 3");
    // 1 s segments, the SPS changes at 5 s.
    let running = Running::start("", &config).await;
    let good = running.sink("m-good");
    // Init 1 named, after a discontinuity, while init 0 is still listed or kept.
    let changed = until("init 1 named", || {
        let text = good.text(PLAYLIST)?;
        text.contains("m-feed-init-1.mp4").then_some(text)
    })
    .await;
    assert!(good.text("m-feed-init-1.mp4").is_some());
    let map = changed.find("URI=\"m-feed-init-1.mp4\"").unwrap();
    assert!(changed[map..].contains("#EXT-X-DISCONTINUITY"), "{changed}");
    // Once no entry names init 0 and the wait RFC 8216 §6.2.2 asks has passed, it goes.
    until("init 0 deleted", || {
        good.text(INIT_0).is_none().then_some(())
    })
    .await;
    assert!(!good.text(PLAYLIST).unwrap().contains(INIT_0));
    assert!(good.text("m-feed-init-1.mp4").is_some());
    assert_fmp4_sound(&good, PLAYLIST);
    assert_fmp4_sound(&running.sink("m-flaky"), PLAYLIST);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_goes_on_with_the_journaled_init_and_replays_it_first() {
    let running = Running::start("stop_timeout = \"1s\"", CONFIG).await;
    let flaky = running.sink("m-flaky");
    // Down before the first segment: the init and the segments stay in its journal when the
    // daemon stops, and the next run stores the init first.
    flaky.set_down(true);
    let cut = running.segments("m-good", PLAYLIST, 5).await.entries.len();
    let running = running.restart(CONFIG).await;
    let good = running.sink("m-good");
    let resumed = running.segments("m-good", PLAYLIST, cut + 3).await;
    let restart = resumed.first_discontinuity().unwrap();
    assert!(restart >= cut - 1, "{resumed:?}");
    // Same codec configuration: the same init, named the same, never another.
    let text = good.text(PLAYLIST).unwrap();
    assert!(!text.contains("init-1"), "{text}");
    assert!(good.keys().contains(&INIT_0.to_owned()));
    assert!(flaky.text(INIT_0).is_none());
    // The feed's timeline goes on across the restart: every fragment's video `tfdt` is past
    // the one before, also at the restart, where the source's timestamps start over.
    let times: Vec<u64> = (resumed.entries.iter())
        .map(|entry| decode_times(&good.bytes(&entry.uri).unwrap())[0])
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    flaky.set_down(false);
    catch_up_soundly(&good, &flaky).await;
    let listed = flaky.media(PLAYLIST).unwrap();
    assert_eq!(
        listed.entries.first().map(|e| e.sequence),
        Some(1),
        "{listed:?}"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_moves_stores_the_current_init_at_the_new_place_first() {
    let mut running = Running::start("", CONFIG).await;
    running.segments("m-good", PLAYLIST, 3).await;
    let moved = CONFIG.replace("/srv/good", "/srv/moved");
    running.reload(&moved, &["m-good"]).await;
    let good = running.sink("m-good");
    let listed = running.segments("m-good", PLAYLIST, 3).await;
    assert!(listed.entries[0].sequence > 1, "{listed:?}");
    assert!(good.text(INIT_0).is_some());
    assert_fmp4_sound(&good, PLAYLIST);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_codec_fmp4_cannot_carry_is_one_error_at_the_playlist_and_nothing_is_published() {
    let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/mpeg2_mp2.ts")
        .display()
        .to_string();
    let config = CONFIG.replace("{tiny}", &sample);
    let running = Running::start("", &config).await;
    let error = until("the playlist's error", || {
        let nodes = running.board.nodes.snapshot();
        let report = nodes
            .iter()
            .find(|r| r.node.to_string() == "playlists.m-feed")?;
        report.last_error.clone()
    })
    .await;
    assert!(error.contains("cannot be written as fMP4"), "{error}");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let good = running.sink("m-good");
    assert_eq!(good.keys(), Vec::<String>::new());
    assert_eq!(
        running.state("playlists.m-feed"),
        Some(crate::status::NodeState::Stalled)
    );
    running.stop().await;
}
