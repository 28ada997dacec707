//! `check` on encryption tables, and reloads that turn encryption on and off.

use super::*;

#[test]
fn check_accepts_an_encrypted_playlist_and_names_an_undeclared_key_sink_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = encrypted_feed(
        &router::data("h264_aac.ts"),
        (false, false),
        0,
        3,
        "https://keys.example.com/cam/",
        "keys",
    ) + &local_sinks(&dir.path().join("web"), &dir.path().join("keys"));
    let config = write_config(dir.path(), "good.toml", &good);
    let run = streamrouter(&["check", config.to_str().unwrap()]);
    run.assert_success();

    let broken = good.replace("key_sink = \"keys\"", "key_sink = \"vault\"");
    let config = write_config(dir.path(), "broken.toml", &broken);
    let run = streamrouter(&["check", config.to_str().unwrap()]);
    run.assert_failure();
    let line = 1 + broken
        .lines()
        .position(|line| line == "key_sink = \"vault\"")
        .unwrap();
    let at = format!("{}:{line}:", config.display());
    let reported = (run.stderr.lines()).find(|text| text.contains(&at));
    assert!(
        reported.is_some_and(|text| {
            text.contains("error")
                && text.contains("playlists.cam.encryption.key_sink")
                && text.contains("vault")
        }),
        "no error at {at} naming playlists.cam.encryption.key_sink and `vault`:\n{}",
        run.stderr
    );
    // `keys` now has no playlist and is nobody's key sink: refused too, at its `inputs`.
    let line = 1 + broken
        .lines()
        .position(|line| line == "inputs = []")
        .unwrap();
    let at = format!("{}:{line}:", config.display());
    assert!(
        (run.stderr.lines()).any(|text| text.contains(&at) && text.contains("sinks.keys.inputs")),
        "no error at {at} naming sinks.keys.inputs:\n{}",
        run.stderr
    );
}

/// A reload that adds `[playlists.cam.encryption]` (and its key sink) to a running clear feed,
/// then one that removes it: the playlist goes clear, encrypted from key 0 after an
/// `#EXT-X-DISCONTINUITY`, then clear again after `#EXT-X-KEY:METHOD=NONE` and a
/// discontinuity, never mixed; the source and segmenter run on, so ffmpeg over HTTP still
/// decodes exactly the source's frames.
#[test]
fn a_reload_adds_then_removes_encryption_and_no_frame_is_lost() {
    ff::require_tools();
    let dir = tempfile::tempdir().unwrap();
    // 36 s paced in real time: ended (#EXT-X-ENDLIST) well after both reloads.
    let source = clip_times(dir.path(), 3);
    let port = free_tcp_port();
    let base = served_keys(port);
    let (web, keys) = (dir.path().join("web"), dir.path().join("keys"));
    let router = router_table(port, &dir.path().join("state"));
    let sealed_feed = encrypted_feed(&source, (true, false), 0, 3, &base, "keys");
    let clear_feed = &sealed_feed[..sealed_feed.find("[playlists.cam.encryption]").unwrap()];
    // The key sink stays (a warning: it publishes no playlist now), so that the keys of the
    // encrypted entries still listed stay served.
    let clear = format!("{router}{clear_feed}{}", local_sinks(&web, &keys));
    let encrypted = router.clone() + &sealed_feed + &local_sinks(&web, &keys);
    let config = write_config(dir.path(), "reload.toml", &clear);
    let playlist_path = web.join("index.m3u8");
    let phases = || match std::fs::read_to_string(&playlist_path) {
        Ok(text) if text.contains("#EXTINF") => keyed_entries(&text),
        _ => Vec::new(),
    };
    let is_sealed = |key: &Option<m3u8_rs::Key>| {
        key.as_ref()
            .is_some_and(|key| key.method == m3u8_rs::KeyMethod::AES128)
    };

    let mut daemon = Daemon::start(&config);
    wait_running(
        &mut daemon,
        "two clear segments",
        Duration::from_secs(30),
        || phases().len() >= 2,
    );
    save_atomically(&config, &encrypted);
    wait_running(
        &mut daemon,
        "three encrypted segments after the reload",
        Duration::from_secs(30),
        || {
            (phases().iter())
                .filter(|(_, _, key)| is_sealed(key))
                .count()
                >= 3
        },
    );
    save_atomically(&config, &clear);
    wait_running(
        &mut daemon,
        "two clear segments after the second reload",
        Duration::from_secs(30),
        || {
            let entries = phases();
            let last_sealed = entries.iter().rposition(|(_, _, key)| is_sealed(key));
            last_sealed.is_some_and(|at| entries.len() - at > 2)
        },
    );
    wait_running(
        &mut daemon,
        "the final playlist",
        Duration::from_secs(60),
        || std::fs::read_to_string(&playlist_path).is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n")),
    );
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let logs = strip_ansi(&daemon.logs());
    let context = format!("{text}\nreloads:\n{}", {
        let lines: Vec<&str> = (logs.lines())
            .filter(|line| line.contains("config reloaded") || line.contains("reload refused"))
            .collect();
        lines.join("\n")
    });
    let entries = keyed_entries(&text);
    let flags = Playlist::parse(&text).entries;
    // clear, then encrypted, then clear: nothing else.
    let first_sealed = (entries.iter().position(|(_, _, key)| is_sealed(key)))
        .unwrap_or_else(|| panic!("nothing encrypted\n{context}"));
    let after = first_sealed
        + (entries[first_sealed..].iter())
            .position(|(_, _, key)| !is_sealed(key))
            .unwrap_or_else(|| panic!("not clear again after the second reload\n{context}"));
    assert!(
        entries[..first_sealed]
            .iter()
            .all(|(_, _, key)| key.is_none()),
        "a key tag before the first reload\n{context}"
    );
    assert!(
        entries[after + 1..].iter().all(|(_, _, key)| key.is_none()),
        "a key tag after the second reload's METHOD=NONE\n{context}"
    );
    let none = entries[after].2.as_ref().map(|key| &key.method);
    assert_eq!(
        none,
        Some(&m3u8_rs::KeyMethod::None),
        "the first clear entry after encrypted ones has no METHOD=NONE\n{context}"
    );
    assert!(
        flags[first_sealed].discontinuity && flags[after].discontinuity,
        "no discontinuity where encryption starts or stops\n{context}"
    );
    let sealed_run: Vec<Sealed> = (entries[first_sealed..after].iter())
        .map(|(seq, uri, key)| sealed(*seq, uri, key.as_ref().unwrap(), &text))
        .collect();
    assert_eq!(key_number(&sealed_run[0].key_uri, &base), 0, "{context}");
    assert_rotation(&sealed_run, 3, &base, &context);
    let stored = keys_at(&keys, &sealed_run, &base);
    let mut media = Vec::new();
    for (at, (_, uri, _)) in entries.iter().enumerate() {
        let bytes = router::read(&web.join(uri));
        if (first_sealed..after).contains(&at) {
            let entry = &sealed_run[at - first_sealed];
            let key = &stored[&key_number(&entry.key_uri, &base)];
            media.extend(assert_sealed_ts(&bytes, key, &entry.iv, uri));
        } else {
            // Whole TS packets: in the clear, as listed.
            ts::packets(&bytes);
            media.extend(bytes);
        }
    }
    // Read from the sink's directory, with the keys from the key sink's (the reload removed
    // the key sink here; `keys_still_listed_stay_served_when_a_reload_turns_encryption_off`
    // keeps it, as the README says to).
    let joined = dir.path().join("all.ts");
    std::fs::write(&joined, media).unwrap();
    assert_same_frames(
        &joined,
        &source,
        "every listed segment, decrypted, in order",
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{}", tail(&logs, 40));
}

/// A reload that turns encryption off keeps the key sink (a warning: it publishes no
/// playlist now), since the playlist still lists the encrypted entries, whose `#EXT-X-KEY`
/// names keys at `/keys/` on the daemon's own server: those keys stay fetchable as long as an
/// entry names them, or players could not decrypt what the playlist still offers.
#[test]
fn keys_still_listed_stay_served_when_a_reload_turns_encryption_off() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let base = served_keys(port);
    let (web, keys) = (dir.path().join("web"), dir.path().join("keys"));
    let router = router_table(port, &dir.path().join("state"));
    let sealed_feed = encrypted_feed(
        &router::data("h264_aac.ts"),
        (true, true),
        0,
        1,
        &base,
        "keys",
    );
    let clear_feed = &sealed_feed[..sealed_feed.find("[playlists.cam.encryption]").unwrap()];
    // The key sink stays (a warning: it publishes no playlist now), so that the keys of the
    // encrypted entries still listed stay served.
    let clear = format!("{router}{clear_feed}{}", local_sinks(&web, &keys));
    let encrypted = router.clone() + &sealed_feed + &local_sinks(&web, &keys);
    let config = write_config(dir.path(), "off.toml", &encrypted);
    let playlist_path = web.join("index.m3u8");
    let entries = || match std::fs::read_to_string(&playlist_path) {
        Ok(text) if text.contains("#EXTINF") => keyed_entries(&text),
        _ => Vec::new(),
    };
    let mut daemon = Daemon::start(&config);
    wait_running(
        &mut daemon,
        "two encrypted segments",
        Duration::from_secs(30),
        || entries().len() >= 2,
    );
    save_atomically(&config, &clear);
    wait_running(
        &mut daemon,
        "a clear segment after the reload",
        Duration::from_secs(30),
        || {
            entries().last().is_some_and(|(_, _, key)| {
                key.as_ref()
                    .is_none_or(|key| key.method == m3u8_rs::KeyMethod::None)
            })
        },
    );
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let named: BTreeSet<String> = (keyed_entries(&text).into_iter())
        .filter_map(|(_, _, key)| key?.uri)
        .collect();
    assert!(!named.is_empty(), "{text}");
    for uri in &named {
        let stored = router::read(&keys.join(key_name(uri, &base)));
        let (status, _, body) = http_get(uri);
        assert!(
            status.contains("200") && body == stored,
            "{uri} (stored at {}) is listed but served as {status}\n{text}",
            keys.display()
        );
    }
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{}", tail(&logs, 40));
}
