//! In-process tests of key deletion at a key sink, on tokio's paused clock: old keys leave the
//! key sink once no sink publishing the playlist names them and the hold has passed, while
//! every key a playlist version stored anywhere names is there (checked by the memory sinks at
//! every playlist put and every key deletion); a sink that is down holds back every key it
//! lists or will list from its backlog; a restart deletes nothing the sinks still name.

use std::sync::Arc;
use std::time::Duration;

use super::encryption_tests::{AT_KEY_SINK, PLAYLIST, assert_decrypts, config, sealed_entries};
use super::testkit::{MemorySink, Running, until};

/// Key URIs' prefix at the key sink.
const PREFIX: &str = "https://keys.example.com/";
/// Window 3 of 1 s segments: a key stays at least 1 s + 3 s after the last version naming it
/// was replaced.
const HOLD: Duration = Duration::from_secs(4);

/// The publishing sinks and the key sink of `running`, the key sink checked.
fn sinks(running: &Running) -> (Arc<MemorySink>, Arc<MemorySink>, Arc<MemorySink>) {
    let (good, flaky, keys) = (
        running.sink("e-good"),
        running.sink("e-flaky"),
        running.sink("e-keys"),
    );
    MemorySink::serve_keys(
        &keys,
        PREFIX,
        HOLD,
        &[Arc::clone(&good), Arc::clone(&flaky)],
    );
    (good, flaky, keys)
}

/// The numbers of the keys `sink`'s playlist names now.
fn named(sink: &MemorySink) -> Vec<u64> {
    let Some(text) = sink.text(PLAYLIST) else {
        return Vec::new();
    };
    let mut numbers: Vec<u64> = (sealed_entries(&text).iter())
        .filter_map(|entry| entry.key_uri.strip_prefix(PREFIX))
        .filter_map(|name| name.strip_prefix("e-")?.strip_suffix(".key")?.parse().ok())
        .collect();
    numbers.dedup();
    numbers
}

/// The numbers of the keys the key sink holds.
fn held(keys: &MemorySink) -> Vec<u64> {
    (keys.keys().iter())
        .filter_map(|name| name.strip_prefix("e-")?.strip_suffix(".key")?.parse().ok())
        .collect()
}

/// Whether `sink` lists segment `sequence`.
fn lists(sink: &MemorySink, sequence: u64) -> Option<()> {
    let text = sink.text(PLAYLIST)?;
    text.contains(&format!("e-feed-{sequence:05}.ts"))
        .then_some(())
}

/// Nothing any sink recorded as missing or deleted while named.
fn assert_nothing_missing(all: [&MemorySink; 3]) {
    for sink in all {
        assert_eq!(sink.missing_objects(), Vec::<String>::new());
    }
}

#[tokio::test(start_paused = true)]
async fn old_keys_leave_the_key_sink_once_no_sink_names_them_and_the_hold_passed() {
    let running = Running::start("", &config(3, AT_KEY_SINK)).await;
    let (good, flaky, keys) = sinks(&running);
    until("keys 0 and 1 deleted", || {
        let held = held(&keys);
        (!held.contains(&0) && !held.contains(&1) && !held.is_empty()).then_some(())
    })
    .await;
    let at = last_sequence(&good);
    until("four more segments", || lists(&good, at + 4)).await;
    assert_nothing_missing([&good, &flaky, &keys]);
    let key_of = |uri: &str| keys.bytes(uri.strip_prefix(PREFIX)?);
    assert_decrypts(&good, key_of);
    assert_decrypts(&flaky, key_of);
    // Left: the keys named (two, a key every two segments in a window of 3), those within
    // their hold, the next one.
    let held = held(&keys);
    let lowest = named(&good).into_iter().chain(named(&flaky)).min().unwrap();
    assert!(held.len() <= 6, "{held:?}");
    assert!(held.iter().all(|n| *n + 3 >= lowest), "{held:?} {lowest}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_sink_down_holds_back_every_key_it_lists_or_will_list() {
    let running = Running::start("", &config(3, AT_KEY_SINK)).await;
    let (good, flaky, keys) = sinks(&running);
    running.segments("e-flaky", PLAYLIST, 3).await;
    flaky.set_down(true);
    let listed = named(&flaky);
    let oldest = *listed.first().unwrap();
    let at = last_sequence(&good);
    until("twelve more segments at the good sink", || {
        lists(&good, at + 12)
    })
    .await;
    // The good sink is far past them: still, every key the flaky sink lists, and every later
    // one (its backlog's), is there.
    let now = held(&keys);
    let newest = *now.iter().max().unwrap();
    assert!(newest >= oldest + 5, "{now:?}");
    assert!(
        (oldest..=newest).all(|n| now.contains(&n)),
        "{now:?} {listed:?}"
    );
    flaky.set_down(false);
    until("the flaky sink caught up", || lists(&flaky, at + 14)).await;
    until("its old keys deleted", || {
        (!held(&keys).contains(&(oldest + 2))).then_some(())
    })
    .await;
    assert_nothing_missing([&good, &flaky, &keys]);
    assert_decrypts(&flaky, |uri| keys.bytes(uri.strip_prefix(PREFIX)?));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_nothing_the_sinks_name_is_deleted_and_old_keys_go_on_going() {
    let config = config(3, AT_KEY_SINK);
    let running = Running::start("", &config).await;
    let (good, flaky, keys) = sinks(&running);
    until("a key deleted", || {
        let held = held(&keys);
        (!held.is_empty() && !held.contains(&0)).then_some(())
    })
    .await;
    // The flaky sink is down across the restart: its journal holds its playlist and backlog.
    flaky.set_down(true);
    let listed = named(&flaky);
    let oldest = *listed.first().unwrap();
    let running = running.restart(&config).await;
    let ledger = running.dir.path().join("state/playlists/e-feed.keyledger");
    let text = std::fs::read_to_string(&ledger).unwrap();
    assert!(text.starts_with("below "), "{text}");
    let at = last_sequence(&good);
    until("ten segments after the restart", || lists(&good, at + 10)).await;
    let now = held(&keys);
    let newest = *now.iter().max().unwrap();
    assert!(
        (oldest..=newest).all(|n| now.contains(&n)),
        "{now:?} {listed:?}"
    );
    flaky.set_down(false);
    until("the flaky sink caught up", || lists(&flaky, at + 12)).await;
    until("its old keys deleted", || {
        (!held(&keys).contains(&oldest)).then_some(())
    })
    .await;
    assert_nothing_missing([&good, &flaky, &keys]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_never_reported_holds_every_key_back_across_a_restart() {
    let config = config(3, AT_KEY_SINK);
    let running = Running::start("", &config).await;
    let (good, flaky, keys) = sinks(&running);
    // Down from the start: its plan lists nothing; its backlog will list every key.
    flaky.set_down(true);
    running.segments("e-good", PLAYLIST, 3).await;
    let at = last_sequence(&good);
    until("eight more segments", || lists(&good, at + 8)).await;
    assert!(held(&keys).contains(&0), "{:?}", held(&keys));
    let running = running.restart(&config).await;
    let at = last_sequence(&good);
    until("eight segments after the restart", || lists(&good, at + 8)).await;
    let now = held(&keys);
    let newest = *now.iter().max().unwrap();
    assert!(newest >= 6, "{now:?}");
    assert!((0..=newest).all(|n| now.contains(&n)), "{now:?}");
    flaky.set_down(false);
    until("the flaky sink caught up", || lists(&flaky, at + 10)).await;
    until("the old keys deleted", || {
        (!held(&keys).contains(&2)).then_some(())
    })
    .await;
    assert_nothing_missing([&good, &flaky, &keys]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_left_keeps_the_keys_its_final_version_names_and_later_ones_go() {
    let config = config(3, AT_KEY_SINK);
    let mut running = Running::start("", &config).await;
    let (good, flaky, keys) = sinks(&running);
    running.segments("e-flaky", PLAYLIST, 3).await;
    let without_flaky = config.replace(
        "path = \"/srv/flaky\"\ninputs = [\"e-feed\"]",
        "path = \"/srv/flaky\"\ninputs = []",
    );
    assert_ne!(without_flaky, config);
    running.reload(&without_flaky, &[]).await;
    until("the flaky sink's final version", || {
        flaky.media(PLAYLIST).filter(|m| m.endlist)
    })
    .await;
    let last = named(&flaky);
    let at = last_sequence(&good);
    until("keys after the flaky sink's deleted", || {
        let held = held(&keys);
        let newest = *last.last()?;
        let listed = good.media(PLAYLIST)?.entries.last()?.sequence;
        (!held.contains(&(newest + 1)) && listed >= at + 6).then_some(())
    })
    .await;
    let held = held(&keys);
    assert!(last.iter().all(|n| held.contains(n)), "{held:?} {last:?}");
    assert_nothing_missing([&good, &flaky, &keys]);
    assert_decrypts(&flaky, |uri| keys.bytes(uri.strip_prefix(PREFIX)?));
    running.stop().await;
}

/// The sequence number of the last entry `sink`'s playlist lists.
fn last_sequence(sink: &MemorySink) -> u64 {
    let media = sink.media(PLAYLIST).unwrap();
    media.entries.last().unwrap().sequence
}
