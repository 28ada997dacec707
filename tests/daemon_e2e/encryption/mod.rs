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

mod local;
mod reload;
mod remote;
mod restart;
