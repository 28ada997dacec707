//! AES-128 segment encryption in the daemon (`[playlists.NAME.encryption]`, issue 18), proved
//! from the outside: what a player and an attacker find at the sinks. Every published segment
//! is ciphertext (no MPEG-TS sync bytes) that `openssl enc -d -aes-128-cbc` turns back into
//! whole TS packets with the 16-byte key the playlist's `#EXT-X-KEY` names and the IV it gives
//! (the media sequence number); keys rotate every `rotate_every` segments, are stored only at
//! the key sink (never next to the segments) or, without one, beside the segments, and go on
//! numbering after a stop or a crash without reusing a number. ffmpeg over the daemon's HTTP
//! server decodes exactly the source's frames (TS and fMP4, whose init stays in the clear),
//! hls.js in Chromium plays a live feed whose key changes at every segment, keys and segments
//! go to two S3 buckets, nothing is published while the key sink cannot store the first key,
//! a reload turns encryption on and off without losing a frame, no key reaches the logs, and
//! `check` names an undeclared key sink at its file, line and key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::m3u8::{self, Playlist};
use crate::common::router::streamrouter;
use crate::common::{aes, ff, router, ts};
use crate::daemon::{
    Daemon, http_get, http_request, strip_ansi, tail, try_http_request, write_config,
};
use crate::durable::crash;
use crate::proxy::Proxy;
use crate::reload::save_atomically;
use crate::remote_sinks::s3_with_bucket;
use crate::servers::free_tcp_port;
use crate::watch_page::{play_with_hls_js, require_browser_tools, workspace};

/// The AES block size: ciphertext is a whole number of blocks.
const BLOCK: usize = 16;

/// `[router]` with the built-in HTTP server on 127.0.0.1:`port` and `state_dir = state`.
fn router_table(port: u16, state: &Path) -> String {
    format!(
        "[router]\nserve = \"127.0.0.1:{port}\"\nstate_dir = \"{}\"\n\n",
        state.display()
    )
}

/// Feed `cam` of the TS file `source` (paced in real time or read at once, looped or not), cut
/// every 2 s into playlist `index.m3u8` of `window` entries (segments
/// `cam-NNNNN.ts`), encrypted with a new key every `rotate_every` segments, keys named
/// `cam-NNNN.key` at `key_uri_base` + name and stored at the key sink `key_sink`.
fn encrypted_feed(
    source: &Path,
    (realtime, looped): (bool, bool),
    window: usize,
    rotate_every: usize,
    key_uri_base: &str,
    key_sink: &str,
) -> String {
    format!(
        r#"[sources.cam]
type = "file"
path = "{source}"
realtime = {realtime}
loop = {looped}

[segmenters.cam]
input = "cam"
target_duration = 2

[playlists.cam]
input = "cam"
name = "index.m3u8"
window = {window}

[playlists.cam.encryption]
method = "AES-128"
rotate_every = {rotate_every}
key_name = "cam-{{key:04}}.key"
key_uri = "{key_uri_base}cam-{{key:04}}.key"
key_sink = "{key_sink}"

"#,
        source = source.display()
    )
}

/// The public local sink `web` of playlist `cam` at `web`, and the key sink `keys` (no
/// playlist of its own) at `keys`.
fn local_sinks(web: &Path, keys: &Path) -> String {
    format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n\n\
         [sinks.keys]\ntype = \"local\"\ninputs = []\npath = \"{}\"\n",
        web.display(),
        keys.display()
    )
}

/// Where players fetch the keys of the local key sink `keys` from the daemon at `port`.
fn served_keys(port: u16) -> String {
    format!("http://127.0.0.1:{port}/keys/")
}

/// The sample clip `copies` times back to back in one TS file in `dir` (ffmpeg's concat
/// demuxer, stream copy: continuous timestamps, an IDR every 2 s), for a feed longer than the
/// 12 s clip whose frames are still known exactly.
fn clip_times(dir: &Path, copies: usize) -> PathBuf {
    let clip = router::data("h264_aac.ts");
    let list = dir.join("copies.txt");
    let lines = format!("file '{}'\n", clip.display()).repeat(copies);
    std::fs::write(&list, lines).unwrap();
    let path = dir.join(format!("clip-x{copies}.ts"));
    let output = Command::new("ffmpeg")
        .args([
            "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
        ])
        .arg(&list)
        .args(["-map", "0", "-c", "copy", "-f", "mpegts"])
        .arg(&path)
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "concatenating the clip: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    path
}

/// One entry of an encrypted media playlist, as m3u8-rs reads it.
#[derive(Debug, Clone, PartialEq)]
struct Sealed {
    /// Its media sequence number.
    seq: u64,
    /// The segment's URI.
    uri: String,
    /// The URI of its key (`#EXT-X-KEY` `URI`).
    key_uri: String,
    /// Its IV, 32 lowercase hex digits without `0x`.
    iv: String,
}

/// The entries of `text`, each checked to carry its own `#EXT-X-KEY:METHOD=AES-128` with a
/// URI and an explicit IV equal to its media sequence number (big-endian, 128 bits), and to be
/// named after that number (`cam-NNNNN.ts`, or `.m4s` for fMP4).
fn sealed_entries(text: &str) -> Vec<Sealed> {
    (keyed_entries(text).into_iter())
        .map(|(seq, uri, key)| {
            let key = key.unwrap_or_else(|| panic!("{uri} has no #EXT-X-KEY of its own:\n{text}"));
            sealed(seq, &uri, &key, text)
        })
        .collect()
}

/// Every entry of `text` (checked by [`Playlist::parse`] first) with its media sequence
/// number, URI and the `#EXT-X-KEY` tag right before it, if any (m3u8-rs gives a segment that
/// tag and no other; `METHOD=NONE`, which it cannot read, is taken from its unknown tags).
fn keyed_entries(text: &str) -> Vec<(u64, String, Option<m3u8_rs::Key>)> {
    let playlist = Playlist::parse(text);
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes())
        .unwrap_or_else(|e| panic!("not a media playlist ({e:?}):\n{text}"));
    let first = playlist.media_sequence.unwrap_or(0);
    assert!(!parsed.segments.is_empty(), "no entries:\n{text}");
    (parsed.segments.iter().zip(first..))
        .map(|(segment, seq)| {
            let none = (segment.unknown_tags.iter()).any(m3u8::is_key_method_none);
            let key = segment.key.clone().or_else(|| {
                none.then(|| m3u8_rs::Key {
                    method: m3u8_rs::KeyMethod::None,
                    ..m3u8_rs::Key::default()
                })
            });
            (seq, segment.uri.clone(), key)
        })
        .collect()
}

/// Entry `seq` (`uri`) of `text` encrypted with `key`, checked: `METHOD=AES-128`, a URI, an
/// explicit IV that is its media sequence number, and a name after that number.
fn sealed(seq: u64, uri: &str, key: &m3u8_rs::Key, text: &str) -> Sealed {
    let what = format!("entry {seq} ({uri})");
    assert_eq!(
        key.method,
        m3u8_rs::KeyMethod::AES128,
        "{what}: {key:?}\n{text}"
    );
    let key_uri = (key.uri.clone()).unwrap_or_else(|| panic!("{what}: no URI in {key:?}"));
    let iv = (key.iv.as_deref())
        .and_then(|iv| iv.strip_prefix("0x").or_else(|| iv.strip_prefix("0X")))
        .unwrap_or_else(|| panic!("{what}: no IV=0x… in {key:?}\n{text}"));
    assert!(
        iv.len() == 32 && iv.chars().all(|c| c.is_ascii_hexdigit()),
        "{what}: the IV is not 32 hex digits: {iv}"
    );
    let iv = iv.to_ascii_lowercase();
    assert_eq!(
        iv,
        format!("{seq:032x}"),
        "{what}: the IV is not the media sequence number\n{text}"
    );
    assert!(
        [".ts", ".m4s"]
            .iter()
            .any(|extension| uri == format!("cam-{seq:05}{extension}")),
        "{what}: not named after its media sequence number\n{text}"
    );
    Sealed {
        seq,
        uri: uri.to_owned(),
        key_uri,
        iv,
    }
}

/// The key number in `key_uri` (`BASEcam-NNNN.key`).
fn key_number(key_uri: &str, base: &str) -> u64 {
    (key_uri.strip_prefix(base))
        .and_then(|name| name.strip_prefix("cam-")?.strip_suffix(".key"))
        .filter(|digits| digits.len() == 4)
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("key URI {key_uri} is not {base}cam-NNNN.key"))
}

/// The key object's name at the key sink for key URI `key_uri` under `base`.
fn key_name(key_uri: &str, base: &str) -> String {
    format!("cam-{:04}.key", key_number(key_uri, base))
}

/// Runs of consecutive entries sharing a key: (key number, entries).
fn key_runs<'a>(entries: &'a [Sealed], base: &str) -> Vec<(u64, Vec<&'a Sealed>)> {
    let mut runs: Vec<(u64, Vec<&Sealed>)> = Vec::new();
    for entry in entries {
        let number = key_number(&entry.key_uri, base);
        match runs.last_mut() {
            Some((last, run)) if *last == number => run.push(entry),
            _ => runs.push((number, vec![entry])),
        }
    }
    runs
}

/// Keys of one uninterrupted run rotate every `every` segments: each key is used by exactly
/// `every` consecutive entries (the last one by at most that many), each next key has the next
/// number, and no key comes back.
fn assert_rotation(entries: &[Sealed], every: usize, base: &str, context: &str) {
    let runs = key_runs(entries, base);
    let numbers: Vec<u64> = runs.iter().map(|(number, _)| *number).collect();
    for (i, (number, run)) in runs.iter().enumerate() {
        let seqs: Vec<u64> = run.iter().map(|entry| entry.seq).collect();
        let last = i + 1 == runs.len();
        assert!(
            run.len() == every || (last && run.len() < every),
            "key {number} encrypts segments {seqs:?}, not {every} in a row (keys in order: \
             {numbers:?})\n{context}"
        );
    }
    assert!(
        numbers.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "key numbers do not go up one by one: {numbers:?}\n{context}"
    );
}

/// Lowercase hex of `bytes` (for messages).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `ciphertext` (segment `what`, a whole number of AES blocks) decrypted with `key` and IV
/// `iv` by `openssl enc -d -aes-128-cbc`, which checks and removes the PKCS#7 padding.
fn decrypt(ciphertext: &[u8], key: &[u8], iv: &str, what: &str) -> Vec<u8> {
    assert!(
        !ciphertext.is_empty() && ciphertext.len().is_multiple_of(BLOCK),
        "{what}: {} bytes is not a whole number of AES blocks",
        ciphertext.len()
    );
    let decrypted = std::panic::catch_unwind(|| aes::openssl_decrypt(ciphertext, key, iv));
    let plain = decrypted.unwrap_or_else(|_| {
        panic!(
            "openssl cannot decrypt {what} with key {} and IV {iv}",
            hex(key)
        )
    });
    assert_eq!(
        ciphertext.len(),
        (plain.len() / BLOCK + 1) * BLOCK,
        "{what}: PKCS#7 pads 1 to 16 bytes"
    );
    plain
}

/// Checks that `ciphertext` (segment `what`) is not readable as MPEG-TS and that it decrypts,
/// with `key` and IV `iv`, to whole TS packets starting with the PAT; returns the plaintext.
fn assert_sealed_ts(ciphertext: &[u8], key: &[u8], iv: &str, what: &str) -> Vec<u8> {
    // A TS file has 0x47 every 188 bytes; ciphertext has it at 1 in 256 of those places.
    let places = ciphertext.len().div_ceil(ts::PACKET_SIZE);
    let syncs = (ciphertext.chunks(ts::PACKET_SIZE))
        .filter(|chunk| chunk[0] == 0x47)
        .count();
    assert!(
        syncs * 10 < places,
        "{what} is readable as MPEG-TS: {syncs} of {places} packet starts are sync bytes"
    );
    let plain = decrypt(ciphertext, key, iv, what);
    let packets = ts::packets(&plain);
    assert_eq!(
        packets[0].pid(),
        ts::PAT_PID,
        "{what}: the decrypted segment does not start with the PAT"
    );
    plain
}

/// The type of the first ISO BMFF box of `bytes` (`ftyp`, `moof`…), if it has 8 bytes.
fn first_box(bytes: &[u8]) -> Option<&[u8]> {
    bytes.get(4..8)
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                found.push(relative.display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// Checks that the key sink's directory holds key objects only (`cam-NNNN.key`, 16 bytes each,
/// all different; hidden temporary files aside) and at least every key `entries` name; returns
/// them by number.
fn keys_at(keys: &Path, entries: &[Sealed], base: &str) -> BTreeMap<u64, Vec<u8>> {
    let mut found = BTreeMap::new();
    // A hidden name is a key being written (stored under a temporary name, then renamed).
    let stored = files_under(keys)
        .into_iter()
        .filter(|name| !name.starts_with('.'));
    for name in stored {
        let number = key_number(&format!("{base}{name}"), base);
        let bytes = router::read(&keys.join(&name));
        assert_eq!(
            bytes.len(),
            16,
            "key {name} has {} bytes, not 16",
            bytes.len()
        );
        found.insert(number, bytes);
    }
    for entry in entries {
        let number = key_number(&entry.key_uri, base);
        assert!(
            found.contains_key(&number),
            "entry {} names key {}, which is not in {} (it holds {:?})",
            entry.seq,
            entry.key_uri,
            keys.display(),
            found.keys().collect::<Vec<_>>()
        );
    }
    let distinct: BTreeSet<&Vec<u8>> = found.values().collect();
    assert_eq!(
        distinct.len(),
        found.len(),
        "two key numbers hold the same key"
    );
    found
}

/// Waits until `check` holds while the daemon runs; panics with `what` and the daemon's last
/// logs when it exits first (a refused config) or after `timeout`.
fn wait_running(
    daemon: &mut Daemon,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            daemon.is_running(),
            "the daemon exited while waiting for {what}; logs:\n{}",
            tail(&strip_ansi(&daemon.logs()), 30)
        );
        assert!(
            Instant::now() < deadline,
            "timed out ({timeout:?}) waiting for {what}; daemon logs (tail):\n{}",
            tail(&strip_ansi(&daemon.logs()), 30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sealed entries of the playlist file `path`, if it exists and lists any.
fn listed(path: &Path) -> Vec<Sealed> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.contains("#EXTINF") => sealed_entries(&text),
        _ => Vec::new(),
    }
}

/// How many different keys `entries` name.
fn distinct_keys(entries: &[Sealed]) -> usize {
    (entries.iter().map(|entry| &entry.key_uri))
        .collect::<BTreeSet<_>>()
        .len()
}

/// Checks that `got` (a TS file or a playlist) decodes, stream by stream (video, audio), to
/// exactly the frames of `source` (ffmpeg `framemd5`); the message says how many frames each
/// has and where they first differ.
fn assert_same_frames(got: &Path, source: &Path, what: &str) {
    for stream in ["v", "a"] {
        let want = ff::frame_hashes(source, stream);
        let found = ff::frame_hashes(got, stream);
        assert!(want.len() > 100, "{stream}: {} frames", want.len());
        let first_difference = (want.iter().zip(&found)).position(|(a, b)| a != b);
        assert!(
            found == want,
            "{what}: stream {stream} decodes to {} frames, the source to {}; first different \
             frame: {first_difference:?}",
            found.len(),
            want.len()
        );
    }
}

/// ffmpeg's decode of `url` (`-v error`) without its complaints about timestamps going back at
/// a discontinuity (the null muxer's "non monotonically increasing dts"); panics if ffmpeg
/// fails or prints anything else.
fn assert_decodes_across_discontinuities(url: &str) {
    match ff::decode(Path::new(url)) {
        Ok(messages) => {
            let errors: Vec<&str> = (messages.lines())
                .filter(|line| !line.contains("non monotonically increasing dts to muxer"))
                .collect();
            assert!(
                errors.is_empty(),
                "ffmpeg decodes {url} with errors:\n{}",
                errors.join("\n")
            );
        }
        Err(failure) => panic!("ffmpeg cannot decode {url}: {failure}"),
    }
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
    let feed = (feed.lines())
        .filter(|line| !line.starts_with("key_uri") && !line.starts_with("key_sink"))
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let text = router_table(port, &dir.path().join("state"))
        + &feed
        + &format!(
            "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
            web.display()
        );
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
    let feed = (feed.lines())
        .filter(|line| !line.starts_with("key_uri") && !line.starts_with("key_sink"))
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let text = router_table(port, &dir.path().join("state"))
        + &feed
        + &format!(
            "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
            web.display()
        );
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
    for entry in &entries {
        let key = &stored[&key_number(&entry.key_uri, base)];
        let ciphertext = router::read(&web.join(&entry.uri));
        assert_sealed_ts(&ciphertext, key, &entry.iv, &entry.uri);
    }
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
    for entry in &entries {
        let key = &stored[&key_number(&entry.key_uri, &base)];
        let ciphertext = router::read(&web.join(&entry.uri));
        assert_sealed_ts(&ciphertext, key, &entry.iv, &entry.uri);
    }
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

/// The object keys of bucket `bucket` at `base` (ListObjectsV2, one page: the tests store far
/// fewer than 1000).
fn bucket_keys(base: &str, bucket: &str) -> Vec<String> {
    let (status, _, body) = http_request("GET", &format!("{base}/{bucket}?list-type=2"));
    assert!(status.contains("200"), "listing {bucket}: {status}");
    let xml = String::from_utf8(body).unwrap();
    assert!(
        !xml.contains("<IsTruncated>true</IsTruncated>"),
        "{bucket}: more than one page"
    );
    let mut keys: Vec<String> = (xml.split("<Key>").skip(1))
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect();
    keys.sort();
    keys
}

/// An S3 sink `name` of `inputs` to bucket `bucket` on the S3 server at `base`.
fn s3_sink(name: &str, inputs: &str, bucket: &str, base: &str) -> String {
    format!(
        r#"[sinks.{name}]
type = "s3"
inputs = {inputs}
bucket = "{bucket}"
region = "us-east-1"
endpoint = "{base}"
access_key_id = "testing"
secret_access_key = "testing"
acl = "public-read"

"#
    )
}

#[test]
fn keys_go_to_their_own_s3_bucket_while_segments_go_to_another() {
    ff::require_tools();
    let (_server, base) = s3_with_bucket("media");
    let (status, _, _) = http_request("PUT", &format!("{base}/keys"));
    assert!(status.contains("200"), "create bucket keys: {status}");
    let dir = tempfile::tempdir().unwrap();
    let key_base = format!("{base}/keys/");
    let source = router::data("h264_aac.ts");
    // Paced in real time, so that each next key is stored in the bucket before it is due.
    let text = format!(
        "[router]\nstate_dir = \"{}\"\n\n",
        dir.path().join("state").display()
    ) + &encrypted_feed(&source, (true, false), 0, 2, &key_base, "keys")
        + &s3_sink("cdn", "[\"cam\"]", "media", &base)
        + &s3_sink("keys", "[]", "keys", &base);
    let config = write_config(dir.path(), "s3.toml", &text);
    let mut daemon = Daemon::start(&config);
    let playlist_url = format!("{base}/media/index.m3u8");
    wait_running(
        &mut daemon,
        "the final playlist in the media bucket",
        Duration::from_secs(40),
        || {
            try_http_request("GET", &playlist_url).is_ok_and(|(status, _, body)| {
                status.contains("200") && body.ends_with(b"#EXT-X-ENDLIST\n")
            })
        },
    );
    let (_, _, body) = http_get(&playlist_url);
    let text = String::from_utf8(body).unwrap();
    let entries = sealed_entries(&text);
    assert_eq!(entries.len(), 6, "{text}");
    assert_rotation(&entries, 2, &key_base, &text);
    assert_eq!(distinct_keys(&entries), 3, "{text}");

    // The keys bucket holds the key objects and nothing else; the media bucket no key.
    let in_keys = bucket_keys(&base, "keys");
    let in_media = bucket_keys(&base, "media");
    let named: Vec<String> = (entries.iter())
        .map(|entry| key_name(&entry.key_uri, &key_base))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        named.iter().all(|name| in_keys.contains(name)),
        "keys named {named:?}, keys bucket holds {in_keys:?}"
    );
    assert!(
        in_keys.iter().all(|name| name.ends_with(".key")),
        "the keys bucket holds other objects: {in_keys:?}"
    );
    assert!(
        in_media.iter().all(|name| !name.ends_with(".key")),
        "a key in the media bucket: {in_media:?}"
    );
    let mut public: Vec<String> = entries.iter().map(|entry| entry.uri.clone()).collect();
    public.push("index.m3u8".to_owned());
    public.sort();
    assert_eq!(in_media, public, "the media bucket holds other objects");

    let mut key_bytes = BTreeMap::new();
    for name in &in_keys {
        let (status, _, body) = http_get(&format!("{key_base}{name}"));
        assert!(status.contains("200"), "{name}: {status}");
        assert_eq!(body.len(), 16, "key {name} has {} bytes", body.len());
        key_bytes.insert(name.clone(), body);
    }
    for entry in &entries {
        let (status, _, ciphertext) = http_get(&format!("{base}/media/{}", entry.uri));
        assert!(status.contains("200"), "{}: {status}", entry.uri);
        let key = &key_bytes[&key_name(&entry.key_uri, &key_base)];
        assert_sealed_ts(&ciphertext, key, &entry.iv, &entry.uri);
    }
    // A player reads the segments from one bucket and the keys from the other.
    assert_same_frames(
        Path::new(&playlist_url),
        &source,
        "the playlist from the media bucket, keys from the keys bucket",
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{logs}");
}

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
    let clear = format!(
        "{router}{clear_feed}[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
        web.display()
    );
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
    // Read from the sink's directory, with the keys from the key sink's: a player over HTTP
    // cannot fetch the keys any more once the reload removed the key sink (see
    // `keys_still_listed_are_still_served_after_a_reload_removes_their_key_sink`).
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

/// A reload that turns encryption off must also remove the key sink (`check` refuses a sink
/// with `inputs = []` that is no playlist's key sink), but the playlist still lists the
/// encrypted entries, whose `#EXT-X-KEY` names keys at `/keys/` on the daemon's own server:
/// those keys must stay fetchable as long as an entry names them, or players cannot decrypt
/// what the playlist still offers.
#[test]
fn keys_still_listed_are_still_served_after_a_reload_removes_their_key_sink() {
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
    let clear = format!(
        "{router}{clear_feed}[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n",
        web.display()
    );
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

/// The key sink (an S3 bucket behind a proxy) is down when the daemon starts: nothing reaches
/// the public sink while the first key cannot be stored, never a segment in the clear; once
/// the bucket is back, the feed is published encrypted from key 0 and decrypts.
#[test]
fn nothing_is_published_until_the_key_sink_stores_the_first_key() {
    let (server, base) = s3_with_bucket("keys");
    let proxy = Proxy::start(server.port);
    proxy.set_down(true);
    let dir = tempfile::tempdir().unwrap();
    let key_base = format!("{base}/keys/");
    let web = dir.path().join("web");
    let text = format!(
        "[router]\nstate_dir = \"{}\"\n\n",
        dir.path().join("state").display()
    ) + &encrypted_feed(
        &router::data("h264_aac.ts"),
        (true, true),
        0,
        2,
        &key_base,
        "keys",
    ) + &format!(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"{}\"\n\n",
        web.display()
    ) + &s3_sink(
        "keys",
        "[]",
        "keys",
        &format!("http://127.0.0.1:{}", proxy.port),
    );
    let config = write_config(dir.path(), "down.toml", &text);
    let mut daemon = Daemon::start(&config);
    // 8 s of media (four segments cut) while the key sink is down: nothing at the public sink.
    let down_until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < down_until {
        let published = if web.exists() {
            files_under(&web)
        } else {
            Vec::new()
        };
        assert!(
            published.iter().all(|name| name.starts_with('.')),
            "published while the key sink is down: {published:?}"
        );
        assert!(daemon.is_running(), "{}", daemon.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.set_down(false);
    let playlist_path = web.join("index.m3u8");
    wait_running(
        &mut daemon,
        "four segments listed once the key sink is back",
        Duration::from_secs(60),
        || listed(&playlist_path).len() >= 4,
    );
    let (status, logs) = daemon.stop(Duration::from_secs(15));
    assert!(status.success(), "{}", tail(&logs, 40));
    let text = std::fs::read_to_string(&playlist_path).unwrap();
    let entries = sealed_entries(&text);
    assert_eq!(key_number(&entries[0].key_uri, &key_base), 0, "{text}");
    // Every segment file at the public sink, listed or not, is encrypted with a listed key.
    let ivs: BTreeMap<&str, &Sealed> = (entries.iter())
        .map(|entry| (entry.uri.as_str(), entry))
        .collect();
    for name in files_under(&web) {
        if name == "index.m3u8" {
            continue;
        }
        let entry = ivs
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} at the public sink is not listed\n{text}"));
        let (status, _, key) = http_get(&entry.key_uri);
        assert!(status.contains("200"), "{}: {status}", entry.key_uri);
        assert_sealed_ts(&router::read(&web.join(&name)), &key, &entry.iv, &name);
    }
}
