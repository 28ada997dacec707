//! In-process tests of encrypted playlists (`[playlists.NAME.encryption]`) in a running
//! topology, on tokio's paused clock: every listed segment decrypts, with the key its
//! `#EXT-X-KEY` names and its IV, to the MPEG-TS it was cut as; keys stored beside the segments
//! are there before any playlist names them (also after an outage) and go once no entry names
//! them; a key sink stores each key before any playlist naming it is published anywhere, a key
//! sink down at the start holds everything back and one down later holds the rotation; a
//! restart goes on with new key numbers. The memory sinks check, at every playlist put and
//! every delete, that each key a playlist names beside it is there.

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};

use super::testkit::{MemorySink, Running, until};

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Feed `e-feed` on the tiny stream (1 s segments), window `{window}`, a new key every 2
/// segments (`{keys}`: more encryption keys), published by `e-good` and `e-flaky`, and a key
/// sink `e-keys` that publishes no playlist.
const CONFIG: &str = r#"
[sources.e-feed]
type = "file"
path = "{tiny}"
realtime = true
[segmenters.e-feed]
input = "e-feed"
target_duration = 1
[playlists.e-feed]
input = "e-feed"
window = {window}
[playlists.e-feed.encryption]
rotate_every = 2
{keys}
[sinks.e-good]
type = "local"
path = "/srv/good"
inputs = ["e-feed"]
[sinks.e-flaky]
type = "local"
path = "/srv/flaky"
inputs = ["e-feed"]
[sinks.e-keys]
type = "local"
path = "/srv/keys"
inputs = []
"#;

pub(super) const PLAYLIST: &str = "e-feed.m3u8";

/// Keys stored beside the segments, under `keys/`.
const BESIDE: &str = "key_name = \"keys/e-{key:03}.key\"";
/// Keys at the key sink, named by URI.
pub(super) const AT_KEY_SINK: &str = "key_name = \"e-{key:03}.key\"\n\
                           key_uri = \"https://keys.example.com/e-{key:03}.key\"\n\
                           key_sink = \"e-keys\"";

pub(super) fn config(window: usize, keys: &str) -> String {
    let keys_sink = match keys.contains("key_sink") {
        true => "",
        false => "[sinks.e-keys]\ntype = \"local\"\npath = \"/srv/keys\"\ninputs = []\n",
    };
    (CONFIG.replace("{window}", &window.to_string()))
        .replace("{keys}", keys)
        .replace(keys_sink, "")
}

/// A listed segment and the key line before it.
#[derive(Debug)]
pub(super) struct Sealed {
    segment: String,
    pub(super) key_uri: String,
    iv: [u8; 16],
}

/// The listed segments of `text` with their keys; panics on a listed segment without one.
pub(super) fn sealed_entries(text: &str) -> Vec<Sealed> {
    let mut key: Option<(String, [u8; 16])> = None;
    let mut found = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#EXT-X-KEY:METHOD=AES-128,URI=\"") {
            let (uri, rest) = rest.split_once("\",IV=0x").unwrap();
            let iv = u128::from_str_radix(rest, 16).unwrap().to_be_bytes();
            key = Some((uri.to_owned(), iv));
        } else if line.starts_with("#EXT-X-KEY") {
            key = None;
        } else if !line.starts_with('#') && !line.is_empty() {
            let (key_uri, iv) = key
                .clone()
                .unwrap_or_else(|| panic!("{line} in the clear: {text}"));
            found.push(Sealed {
                segment: line.to_owned(),
                key_uri,
                iv,
            });
        }
    }
    found
}

/// Every segment `sink` lists decrypts, with the key from `keys` (by its URI), to MPEG-TS
/// that starts with a PAT; what it holds is not readable as MPEG-TS. The key numbers named.
pub(super) fn assert_decrypts(
    sink: &MemorySink,
    keys: impl Fn(&str) -> Option<Vec<u8>>,
) -> Vec<String> {
    let text = sink.text(PLAYLIST).unwrap();
    let entries = sealed_entries(&text);
    assert!(!entries.is_empty(), "{text}");
    let mut named = Vec::new();
    for entry in &entries {
        let stored = sink.bytes(&entry.segment).unwrap();
        let readable = stored.chunks(188).all(|packet| packet[0] == 0x47);
        assert!(!readable, "{} in the clear", entry.segment);
        assert_eq!(stored.len() % 16, 0);
        let key = keys(&entry.key_uri).unwrap_or_else(|| panic!("no key {}", entry.key_uri));
        let key: [u8; 16] = key.try_into().unwrap();
        let clear = Aes128CbcDec::new(&key.into(), &entry.iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&stored)
            .unwrap();
        assert_eq!(clear.len() % 188, 0);
        assert!(clear.chunks(188).all(|packet| packet[0] == 0x47));
        assert_eq!(&clear[1..3], &[0x40, 0x00], "a PAT first");
        if named.last() != Some(&entry.key_uri) {
            named.push(entry.key_uri.clone());
        }
    }
    named
}

#[tokio::test(start_paused = true)]
async fn keys_beside_the_segments_are_stored_before_any_playlist_names_them_and_expire() {
    let running = Running::start("", &config(3, BESIDE)).await;
    let (good, flaky) = (running.sink("e-good"), running.sink("e-flaky"));
    running.segments("e-flaky", PLAYLIST, 3).await;
    flaky.set_down(true);
    running.segments("e-good", PLAYLIST, 3).await;
    until("a few more segments at the good sink", || {
        let text = good.text(PLAYLIST)?;
        text.contains("e-feed-00009.ts").then_some(())
    })
    .await;
    flaky.set_down(false);
    until("the flaky sink caught up", || {
        let text = flaky.text(PLAYLIST)?;
        text.contains("e-feed-00010.ts").then_some(())
    })
    .await;
    for sink in [&good, &flaky] {
        assert_eq!(sink.missing_objects(), Vec::<String>::new());
        let named = assert_decrypts(sink, |uri| sink.bytes(uri));
        // Window 3, a key every 2 segments: two keys named, numbered in order.
        assert!(named.len() >= 2, "{named:?}");
        let keys: Vec<String> = (sink.keys().into_iter())
            .filter(|k| k.ends_with(".key"))
            .collect();
        for key in &keys {
            assert_eq!(
                sink.content_type(key).as_deref(),
                Some("application/octet-stream")
            );
            assert_eq!(sink.bytes(key).unwrap().len(), 16);
        }
        assert!(
            named.iter().all(|uri| keys.contains(uri)),
            "{named:?} {keys:?}"
        );
        // Key 0 (segments 1, 2) goes once no entry names it and the wait RFC 8216 §6.2.2
        // asks has passed.
        until("key 0 deleted", || {
            sink.bytes("keys/e-000.key").is_none().then_some(())
        })
        .await;
        assert_eq!(sink.missing_objects(), Vec::<String>::new());
    }
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_key_sink_stores_each_key_first_and_holds_the_playlist_while_it_is_down() {
    let running = Running::start("", &config(0, AT_KEY_SINK)).await;
    let (good, keys) = (running.sink("e-good"), running.sink("e-keys"));
    // The key sink is down from the start: nothing is published until it stores a key.
    keys.set_down(true);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let held = good.keys();
    assert!(
        held.is_empty() || keys.keys().iter().any(|k| k == "e-000.key"),
        "published before its key was stored: {held:?}"
    );
    keys.set_down(false);
    let key_of = |uri: &str| {
        let name = uri.strip_prefix("https://keys.example.com/")?;
        keys.bytes(name)
    };
    until("six segments listed", || {
        let media = good.media(PLAYLIST)?;
        (media.entries.len() >= 6).then_some(())
    })
    .await;
    let before = assert_decrypts(&good, key_of);
    assert!(before.len() >= 3, "{before:?}");
    // No key where the segments are.
    assert!(good.keys().iter().all(|k| !k.ends_with(".key")));
    // The key sink goes down: segments go on with the current key, past rotate_every.
    keys.set_down(true);
    let listed = good.media(PLAYLIST).unwrap().entries.len();
    until("six more segments listed", || {
        let media = good.media(PLAYLIST)?;
        (media.entries.len() >= listed + 6).then_some(())
    })
    .await;
    keys.set_down(false);
    until("six more segments listed", || {
        let media = good.media(PLAYLIST)?;
        (media.entries.len() >= listed + 12).then_some(())
    })
    .await;
    let text = good.text(PLAYLIST).unwrap();
    let entries = sealed_entries(&text);
    let longest_run = (entries.chunk_by(|a, b| a.key_uri == b.key_uri))
        .map(<[Sealed]>::len)
        .max();
    assert!(
        longest_run >= Some(4),
        "the rotation went on while the key sink was down: {text}"
    );
    let after = assert_decrypts(&good, key_of);
    assert!(
        after.len() > before.len() + 1,
        "the rotation resumed: {after:?}"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_goes_on_with_new_key_numbers_and_old_segments_still_decrypt() {
    let config = config(0, BESIDE);
    let running = Running::start("", &config).await;
    running.segments("e-good", PLAYLIST, 5).await;
    let running = running.restart(&config).await;
    let good = running.sink("e-good");
    let first = good.media(PLAYLIST).unwrap().entries.len();
    until("segments after the restart", || {
        let media = good.media(PLAYLIST)?;
        (media.entries.len() >= first + 4).then_some(())
    })
    .await;
    let named = assert_decrypts(&good, |uri| good.bytes(uri));
    let numbers: Vec<u64> = (named.iter())
        .map(|uri| uri.trim_start_matches("keys/e-").trim_end_matches(".key"))
        .map(|n| n.parse().unwrap())
        .collect();
    // Strictly increasing: no key number reused across the restart.
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let text = good.text(PLAYLIST).unwrap();
    assert!(text.contains("#EXT-X-DISCONTINUITY"), "{text}");
    assert_eq!(good.missing_objects(), Vec::<String>::new());
    running.stop().await;
}
