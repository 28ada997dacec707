//! A stop and a crash mid-stream: the key rotation goes on with new numbers, old entries
//! and their keys stay as they were and decrypt.

use super::*;

/// What the sinks held after a run of the daemon: its playlist and every key stored.
struct Held {
    text: String,
    entries: Vec<Sealed>,
    keys: BTreeMap<u64, Vec<u8>>,
}

/// Checks the playlist `text` of a run that followed `before` (a stop or a crash): the old
/// entries are listed as they were (segment, key URI, IV); the run's own entries, after the
/// first `#EXT-X-DISCONTINUITY` that follows them (a segment journaled but not yet listed at a
/// crash comes before it, with its old key), use new key numbers only, above every number listed
/// before, rotating every 2 segments; no stored key changed; every segment decrypts with the
/// key it names. Returns what the sinks hold now and the run's own entries.
fn check_restart(
    before: &Held,
    text: String,
    (web, keys, base): (&Path, &Path, &str),
) -> (Held, Vec<Sealed>) {
    let context = format!("before the restart:\n{}\nafter it:\n{text}", before.text);
    let entries = sealed_entries(&text);
    assert!(
        entries.starts_with(&before.entries),
        "the old entries are not listed as they were\n{context}"
    );
    let flags = Playlist::parse(&text).entries;
    let start = (before.entries.len()..entries.len())
        .find(|&i| flags[i].discontinuity)
        .unwrap_or_else(|| panic!("no #EXT-X-DISCONTINUITY after the old entries\n{context}"));
    let run = entries[start..].to_vec();
    let newest_before = (entries[..start].iter())
        .map(|entry| key_number(&entry.key_uri, base))
        .max()
        .unwrap();
    let numbers: Vec<u64> = (run.iter())
        .map(|entry| key_number(&entry.key_uri, base))
        .collect();
    assert!(
        numbers.iter().all(|number| *number > newest_before),
        "keys after the restart {numbers:?}, before it up to {newest_before}\n{context}"
    );
    assert_rotation(&run, 2, base, &context);
    let stored = keys_at(keys, &entries, base);
    for (number, bytes) in &before.keys {
        assert_eq!(
            stored.get(number),
            Some(bytes),
            "key {number} changed across the restart"
        );
    }
    assert_all_sealed(&entries, &stored, base, web);
    let held = Held {
        text,
        entries,
        keys: stored,
    };
    (held, run)
}

/// Stopped (SIGTERM), crashed (SIGKILL) and started again mid-stream, the feed goes on with new
/// key numbers each time, and everything listed before still decrypts with its own key.
#[test]
fn a_restart_mid_stream_continues_the_key_rotation_and_old_segments_still_decrypt() {
    ff::require_tools();
    let dir = tempfile::tempdir().unwrap();
    // 24 s paced in real time (12 segments): the first two runs end about 10 s in, the third
    // plays it whole and ends the feed (#EXT-X-ENDLIST) while the daemon still serves it.
    let source = clip_times(dir.path(), 2);
    let port = free_tcp_port();
    let base = served_keys(port);
    let (web, keys) = (dir.path().join("web"), dir.path().join("keys"));
    let text = router_table(port, &dir.path().join("state"))
        + &encrypted_feed(&source, (true, false), 40, 2, &base, "keys")
        + &local_sinks(&web, &keys);
    let config = write_config(dir.path(), "restart.toml", &text);
    let playlist_path = web.join("index.m3u8");
    let sinks = (web.as_path(), keys.as_path(), base.as_str());
    let keys_above = |newest: Option<u64>| {
        (listed(&playlist_path).iter())
            .map(|entry| key_number(&entry.key_uri, &base))
            .filter(|number| newest.is_none_or(|newest| *number > newest))
            .collect::<BTreeSet<u64>>()
            .len()
    };

    // A stop mid-stream.
    let mut daemon = Daemon::start(&config);
    wait_running(
        &mut daemon,
        "three keys listed",
        Duration::from_secs(40),
        || keys_above(None) >= 3,
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let entries = sealed_entries(&text);
    assert!(
        entries.len() < 12,
        "not stopped mid-stream: the feed was over\n{text}"
    );
    assert_eq!(key_number(&entries[0].key_uri, &base), 0, "{text}");
    assert_rotation(&entries, 2, &base, &text);
    let stored = keys_at(&keys, &entries, &base);
    assert_all_sealed(&entries, &stored, &base, &web);
    let held = Held {
        text,
        entries,
        keys: stored,
    };

    // A crash mid-stream, once the second run has listed three keys of its own.
    let newest = held.keys.keys().last().copied();
    let mut daemon = Daemon::start(&config);
    wait_running(
        &mut daemon,
        "three new keys listed",
        Duration::from_secs(40),
        || keys_above(newest) >= 3,
    );
    crash(&mut daemon);
    drop(daemon);
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let (held, run) = check_restart(&held, text, sinks);
    assert!(run.len() < 12, "not crashed mid-stream\n{}", held.text);

    // The whole file, after the crash.
    let last = held.entries.last().unwrap().seq;
    let mut daemon = Daemon::start(&config);
    wait_running(
        &mut daemon,
        "the restarted feed's final playlist",
        Duration::from_secs(60),
        || {
            std::fs::read_to_string(&playlist_path).is_ok_and(|t| {
                t.ends_with("#EXT-X-ENDLIST\n") && t.contains(&format!("cam-{:05}.ts", last + 1))
            })
        },
    );
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let (held, run) = check_restart(&held, text, sinks);
    // The last run's segments hold exactly the source's frames.
    let mut plain = Vec::new();
    for entry in &run {
        let key = &held.keys[&key_number(&entry.key_uri, &base)];
        let ciphertext = router::read(&web.join(&entry.uri));
        plain.extend(assert_sealed_ts(&ciphertext, key, &entry.iv, &entry.uri));
    }
    let joined = dir.path().join("last-run.ts");
    std::fs::write(&joined, plain).unwrap();
    assert_same_frames(&joined, &source, "the last run's segments, decrypted");
    // A player decodes the whole playlist, across the stop and the crash, over HTTP.
    assert_decodes_across_discontinuities(&format!("http://127.0.0.1:{port}/web/index.m3u8"));
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}

/// Every entry's segment under `web` is ciphertext that decrypts, with its key from `stored`,
/// to whole TS packets.
fn assert_all_sealed(entries: &[Sealed], stored: &BTreeMap<u64, Vec<u8>>, base: &str, web: &Path) {
    for entry in entries {
        let key = &stored[&key_number(&entry.key_uri, base)];
        let ciphertext = router::read(&web.join(&entry.uri));
        assert_sealed_ts(&ciphertext, key, &entry.iv, &entry.uri);
    }
}
