//! Encrypted feeds to local sinks served by the daemon: TS with a key sink, keys beside the
//! segments, fMP4, and hls.js playing a live feed whose key changes at every segment.

use super::*;

/// The config of `feed` without its key sink (keys beside the segments), served on `port`,
/// its state under `dir`, published to a local sink `web`.
fn keys_beside(feed: &str, port: u16, dir: &Path, web: &Path) -> String {
    let feed: String = (feed.lines())
        .filter(|line| !line.starts_with("key_uri") && !line.starts_with("key_sink"))
        .map(|line| format!("{line}\n"))
        .collect();
    let sink = format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
        web.display()
    );
    router_table(port, &dir.join("state")) + &feed + &sink
}

#[test]
fn encrypted_segments_decode_frame_for_frame_over_http_with_keys_from_the_key_sink() {
    ff::require_tools();
    let dir = tempfile::tempdir().unwrap();
    // 36 s paced in real time (a key is used only once the key sink stored it, so a feed read
    // at once may keep a key longer while the next one is on its way): 18 segments of 2 s, 6
    // keys of 3 segments.
    let source = clip_times(dir.path(), 3);
    let port = free_tcp_port();
    let base = served_keys(port);
    let (web, keys) = (dir.path().join("web"), dir.path().join("keys"));
    let text = router_table(port, &dir.path().join("state"))
        + &encrypted_feed(&source, (true, false), 0, 3, &base, "keys")
        + &local_sinks(&web, &keys);
    let config = write_config(dir.path(), "encrypted.toml", &text);
    let mut daemon = Daemon::start(&config);
    let playlist_path = web.join("index.m3u8");
    wait_running(
        &mut daemon,
        "the final playlist",
        Duration::from_secs(75),
        || std::fs::read_to_string(&playlist_path).is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n")),
    );
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let playlist = Playlist::parse(&text);
    assert!(
        (playlist.total_duration() - 36.0).abs() < 0.5,
        "36 s listed?\n{text}"
    );
    let entries = sealed_entries(&text);
    assert!(entries.len() >= 10, "{} segments:\n{text}", entries.len());
    assert_eq!(
        key_number(&entries[0].key_uri, &base),
        0,
        "the first key of a new playlist is number 0\n{text}"
    );
    assert_rotation(&entries, 3, &base, &text);
    assert!(distinct_keys(&entries) >= 4, "{text}");

    // The keys are at the key sink, and nothing but the playlist and its segments is public.
    let key_bytes = keys_at(&keys, &entries, &base);
    let mut public: Vec<String> = entries.iter().map(|entry| entry.uri.clone()).collect();
    public.push("index.m3u8".to_owned());
    public.sort();
    let at_web = files_under(&web);
    assert!(
        at_web.iter().all(|name| !name.ends_with(".key")),
        "a key in the public sink: {at_web:?}"
    );
    assert_eq!(
        at_web, public,
        "the public sink holds other files than the playlist and its segments"
    );
    // The daemon serves each key under /keys/ (what EXT-X-KEY names), never under /web/.
    for (number, bytes) in &key_bytes {
        let name = format!("cam-{number:04}.key");
        let (status, _, body) = http_get(&format!("{base}{name}"));
        assert!(status.contains("200"), "{base}{name}: {status}");
        assert_eq!(&body, bytes, "{base}{name} is not the stored key");
        let (status, _, _) = http_get(&format!("http://127.0.0.1:{port}/web/{name}"));
        assert!(!status.contains("200"), "/web/{name}: {status}");
    }

    // Each segment is ciphertext that openssl turns back into TS with its key and IV.
    for entry in &entries {
        let key = &key_bytes[&key_number(&entry.key_uri, &base)];
        let ciphertext = router::read(&web.join(&entry.uri));
        assert_sealed_ts(&ciphertext, key, &entry.iv, &entry.uri);
    }

    // A player over HTTP decodes exactly the source's frames.
    let url = format!("http://127.0.0.1:{port}/web/index.m3u8");
    assert_same_frames(Path::new(&url), &source, "the playlist over HTTP");
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}

/// Without `key_sink` (and `key_uri`), each key is stored with the segments at the playlist's
/// own sink and named relative to the playlist; players still decode every frame.
#[test]
fn without_a_key_sink_the_keys_are_stored_beside_the_segments_and_named_relative_to_the_playlist() {
    ff::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let web = dir.path().join("web");
    let source = router::data("h264_aac.ts");
    let feed = encrypted_feed(&source, (false, false), 0, 2, "", "keys");
    let text = keys_beside(&feed, port, dir.path(), &web);
    let config = write_config(dir.path(), "beside.toml", &text);
    let mut daemon = Daemon::start_with_env(&config, &[("RUST_LOG", "trace")]);
    let playlist_path = web.join("index.m3u8");
    wait_running(
        &mut daemon,
        "the final playlist",
        Duration::from_secs(40),
        || std::fs::read_to_string(&playlist_path).is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n")),
    );
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let entries = sealed_entries(&text);
    assert_eq!(entries.len(), 6, "{text}");
    // `cam-NNNN.key`, relative: the key object's name.
    assert_rotation(&entries, 2, "", &text);
    let mut expected: BTreeSet<String> = (entries.iter())
        .flat_map(|entry| [entry.uri.clone(), entry.key_uri.clone()])
        .collect();
    expected.insert("index.m3u8".to_owned());
    let stored: BTreeSet<String> = files_under(&web).into_iter().collect();
    assert_eq!(
        stored, expected,
        "the sink holds other files than the playlist, its segments and keys"
    );
    for entry in &entries {
        let key = router::read(&web.join(&entry.key_uri));
        assert_eq!(key.len(), 16, "{}: {} bytes", entry.key_uri, key.len());
        let ciphertext = router::read(&web.join(&entry.uri));
        assert_sealed_ts(&ciphertext, &key, &entry.iv, &entry.uri);
    }
    let url = format!("http://127.0.0.1:{port}/web/index.m3u8");
    assert_same_frames(Path::new(&url), &source, "the playlist over HTTP");
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{}", tail(&logs, 40));
    // No key reaches the logs, even at trace level: not in hex, nor as a byte list.
    assert!(
        strip_ansi(&logs).contains(" TRACE "),
        "no trace-level line logged"
    );
    for entry in &entries {
        let key = router::read(&web.join(&entry.key_uri));
        let list = format!("{key:?}");
        let compact = list.replace(' ', "");
        for shown in [hex(&key), hex(&key).to_uppercase(), list, compact] {
            assert!(
                !logs.contains(&shown),
                "key {} is in the logs as {shown}",
                entry.key_uri
            );
        }
    }
}

/// fMP4: each fragment is encrypted whole, while the init segment (`#EXT-X-MAP`, declared
/// before any key) stays in the clear; ffmpeg over HTTP decodes exactly the source's frames.
#[test]
fn an_encrypted_fmp4_feed_keeps_its_init_in_the_clear_and_decodes_frame_for_frame() {
    ff::require_tools();
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let web = dir.path().join("web");
    let source = router::data("h264_aac.ts");
    let feed = encrypted_feed(&source, (false, false), 0, 2, "", "keys")
        .replace("window = 0\n", "window = 0\nsegment_format = \"fmp4\"\n");
    let text = keys_beside(&feed, port, dir.path(), &web);
    let config = write_config(dir.path(), "fmp4.toml", &text);
    let mut daemon = Daemon::start(&config);
    let playlist_path = web.join("index.m3u8");
    wait_running(
        &mut daemon,
        "the final playlist",
        Duration::from_secs(40),
        || std::fs::read_to_string(&playlist_path).is_ok_and(|t| t.ends_with("#EXT-X-ENDLIST\n")),
    );
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let map = "#EXT-X-MAP:URI=\"cam-init-0.mp4\"\n";
    let (map_at, key_at) = (text.find(map), text.find("#EXT-X-KEY:"));
    assert!(
        map_at.is_some() && map_at < key_at,
        "the init is not declared before the first key (a key before EXT-X-MAP applies to \
         the init too, RFC 8216 §4.3.2.4):\n{text}"
    );
    let entries = sealed_entries(&text);
    assert_eq!(entries.len(), 6, "{text}");
    assert_rotation(&entries, 2, "", &text);
    let init = router::read(&web.join("cam-init-0.mp4"));
    assert_eq!(
        first_box(&init),
        Some(&b"ftyp"[..]),
        "the init is not clear"
    );
    for entry in &entries {
        let key = router::read(&web.join(&entry.key_uri));
        assert_eq!(key.len(), 16, "{}: {} bytes", entry.key_uri, key.len());
        let ciphertext = router::read(&web.join(&entry.uri));
        let kind = first_box(&ciphertext);
        assert!(
            kind != Some(&b"moof"[..]) && kind != Some(&b"styp"[..]),
            "{} is readable as a fragment",
            entry.uri
        );
        let plain = decrypt(&ciphertext, &key, &entry.iv, &entry.uri);
        let kind = first_box(&plain);
        assert!(
            kind == Some(&b"moof"[..]) || kind == Some(&b"styp"[..]),
            "{} does not decrypt to a fragment: {:?}",
            entry.uri,
            kind.map(String::from_utf8_lossy)
        );
    }
    let url = format!("http://127.0.0.1:{port}/web/index.m3u8");
    assert_same_frames(Path::new(&url), &source, "the playlist over HTTP");
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}

/// hls.js, in Chromium, fetches a new key at every segment of a live feed (`rotate_every = 1`)
/// from the key sink while it plays past two segment boundaries, hence two key changes.
#[test]
fn hls_js_plays_a_live_encrypted_feed_whose_key_changes_at_every_segment() {
    require_browser_tools(&workspace().join("tests/browser"));
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let base = served_keys(port);
    let (web, keys) = (dir.path().join("web"), dir.path().join("keys"));
    let text = router_table(port, &dir.path().join("state"))
        + &encrypted_feed(
            &router::data("h264_aac.ts"),
            (true, true),
            6,
            1,
            &base,
            "keys",
        )
        + &local_sinks(&web, &keys);
    let config = write_config(dir.path(), "live.toml", &text);
    let mut daemon = Daemon::start(&config);
    let playlist_path = web.join("index.m3u8");
    wait_running(
        &mut daemon,
        "three segments listed, each with its own key",
        Duration::from_secs(30),
        || {
            let entries = listed(&playlist_path);
            entries.len() >= 3 && distinct_keys(&entries) == entries.len()
        },
    );
    let url = format!("http://127.0.0.1:{port}/web/index.m3u8");
    let spec = json!([{"name": "encrypted live", "url": url, "vod": false}]);
    let (result, context) = play_with_hls_js(&spec, &daemon);
    assert!(
        result["playlists"][0]["playback"]["played"]
            .as_f64()
            .unwrap_or(0.0)
            > 4.5,
        "{context}"
    );
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let entries = sealed_entries(&text);
    assert_rotation(&entries, 1, &base, &text);
    keys_at(&keys, &entries, &base);
    assert!(daemon.is_running(), "{}", daemon.logs());
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}
