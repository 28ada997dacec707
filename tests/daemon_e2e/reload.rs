//! Hot reload of `streamrouter run`: the config (a directory of `*.toml` or one file) edited on
//! disk while live feeds run, or SIGHUP. Checks, against the files the daemon publishes and its
//! log lines, that a reload touches only what changed (a shrunk window, an added and a removed
//! feed, a sink moved to a new directory), that a broken config is refused with the errors
//! `streamrouter check` prints while everything goes on, and that a hundred reloads leak no
//! file descriptor, socket or memory.
//!
//! The feeds read a 240 s clip with an IDR every second (made once per build directory by
//! ffmpeg), paced in real time: one-second segments, and no test reaches the end of the clip,
//! where a looping file starts over with an `#EXT-X-DISCONTINUITY` no reload caused. Every
//! playlist version the daemon publishes is recorded by a poller, and every segment a version
//! lists must be in the directory when that version is read.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common::m3u8::Playlist;
use crate::common::{ff, router};
use crate::daemon::{Daemon, free_udp_port, http_get, read_if_exists, write_config};
use crate::feeds::local_feed;

/// Longest wait for one reload to show in the log (the watcher's debounce is ~100 ms).
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Length of the clip the feeds loop; no test may run this long.
const CLIP_SECONDS: u32 = 240;

/// The live clip: H.264 (IDR every 25 frames = 1 s) + AAC, 320x240, `CLIP_SECONDS` long.
fn live_clip() -> PathBuf {
    static CLIP: OnceLock<PathBuf> = OnceLock::new();
    CLIP.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("reload_live_{CLIP_SECONDS}s_gop1s.ts"));
        if path.is_file() {
            return path;
        }
        ff::require_tools();
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        let output = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
            .args(["-f", "lavfi", "-i"])
            .arg(format!("testsrc2=s=320x240:r=25:d={CLIP_SECONDS}"))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=f=440:b=4:r=48000:d={CLIP_SECONDS}"))
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"])
            .args(["-keyint_min", "25", "-sc_threshold", "0", "-b:v", "200k"])
            .args(["-c:a", "aac", "-b:a", "32k", "-f", "mpegts"])
            .arg(&partial)
            .stdin(Stdio::null())
            .output()
            .expect("run ffmpeg");
        assert!(
            output.status.success(),
            "making the live clip failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&partial, &path).unwrap();
        path
    })
    .clone()
}

/// One live feed `name` (see [`local_feed`]) reading the live clip in real time, in a loop.
fn live_feed(name: &str, out: &Path, window: usize) -> String {
    let source = format!(
        "type = \"file\"\npath = \"{}\"\nrealtime = true\nloop = true",
        live_clip().display()
    );
    local_feed(name, &source, out, window)
}

/// Saves `text` as `path` the way editors and config managers do: a temporary file next to it
/// (not `*.toml`), then a rename over the old one.
fn save_atomically(path: &Path, text: &str) {
    let name = path.file_name().unwrap().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

// ------------------------------------------------------------------------------------ logs ---

/// The daemon's logs, without colour codes.
fn logs(daemon: &Daemon) -> String {
    strip_ansi(&daemon.logs())
}

fn strip_ansi(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text
}

/// The last `n` lines of `logs`, for failure messages.
fn tail(logs: &str, n: usize) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The value of the field `key=` on a log line (up to the next space; a quoted value whole).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.find('"').map(|end| &quoted[..end]);
    }
    Some(rest.split(' ').next().unwrap_or(rest))
}

/// `config reloaded` lines with their generation, in log order.
fn reloads(logs: &str) -> Vec<(u64, String)> {
    logs.lines()
        .filter(|line| line.contains("config reloaded"))
        .map(|line| {
            let generation = field(line, "generation")
                .and_then(|g| g.parse().ok())
                .unwrap_or_else(|| panic!("`config reloaded` without a generation: {line}"));
            (generation, line.to_owned())
        })
        .collect()
}

fn lines_with<'a>(logs: &'a str, text: &str) -> Vec<&'a str> {
    logs.lines().filter(|line| line.contains(text)).collect()
}

fn refusals(logs: &str) -> usize {
    lines_with(logs, "reload refused").len()
}

fn unchanged(logs: &str) -> usize {
    lines_with(logs, "config unchanged").len()
}

/// How many times the file source `name` opened its file (once per start of the feed).
fn source_starts(logs: &str, name: &str) -> usize {
    logs.lines()
        .filter(|line| line.contains("reading file") && line.contains(&format!("{{name={name}}}")))
        .count()
}

/// Waits until `check` holds on the logs; fails with the log tail on timeout or daemon exit.
fn wait_logs(
    daemon: &mut Daemon,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = logs(daemon);
        if check(&text) {
            return text;
        }
        assert!(
            daemon.is_running(),
            "daemon exited while waiting for {what}; logs:\n{}",
            tail(&text, 80)
        );
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; logs:\n{}",
            tail(&text, 80)
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `config reloaded generation=GENERATION` and returns that line. Fails at once if a
/// reload is refused or found unchanged meanwhile.
fn wait_generation(daemon: &mut Daemon, generation: u64) -> String {
    let before = logs(daemon);
    let (refused, same) = (refusals(&before), unchanged(&before));
    let text = wait_logs(
        daemon,
        &format!("`config reloaded` generation={generation}"),
        RELOAD_TIMEOUT,
        |text| {
            assert!(
                refusals(text) == refused && unchanged(text) == same,
                "expected generation {generation}, but a reload was refused or unchanged:\n{}",
                tail(text, 40)
            );
            reloads(text).iter().any(|(g, _)| *g == generation)
        },
    );
    let line = reloads(&text)
        .into_iter()
        .find(|(g, _)| *g == generation)
        .unwrap()
        .1;
    let elapsed: f64 = field(&line, "elapsed_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no elapsed_ms on {line}"));
    assert!(elapsed >= 0.0, "{line}");
    line
}

/// Waits for one more `reload refused` line; returns the logs then.
fn wait_refusal(daemon: &mut Daemon, before: usize) -> String {
    wait_logs(
        daemon,
        &format!("`reload refused` number {}", before + 1),
        RELOAD_TIMEOUT,
        |text| refusals(text) > before,
    )
}

/// The `changes` of a `config reloaded` line name every node of `changed` and none of `kept`.
fn assert_changes(line: &str, changed: &[impl AsRef<str>], kept: &[impl AsRef<str>]) {
    let changes = field(line, "changes").unwrap_or_else(|| panic!("no changes= in {line}"));
    for node in changed.iter().map(AsRef::as_ref) {
        assert!(
            changes.contains(node),
            "{node} missing from the changes: {line}"
        );
    }
    for node in kept.iter().map(AsRef::as_ref) {
        assert!(
            !changes.contains(node),
            "{node} did not change, but the reload says it did: {line}"
        );
    }
}

/// The error lines `streamrouter check CONFIG` prints (`FILE:LINE:COL: error: ...`).
fn check_errors(config: &Path) -> Vec<String> {
    let run = router::streamrouter(&["check", config.to_str().unwrap()]);
    run.assert_failure();
    let errors: Vec<String> = run
        .stderr
        .lines()
        .chain(run.stdout.lines())
        .filter(|line| line.contains(": error: "))
        .map(str::to_owned)
        .collect();
    assert!(
        !errors.is_empty(),
        "check printed no error:\n{}",
        run.stderr
    );
    errors
}

/// After a refused reload: one `config error: ` line per error `check` prints, and the refusal
/// counts them.
fn assert_refused_with(logs: &str, errors: &[String]) {
    for error in errors {
        let expected = format!("config error: {error}");
        assert!(
            logs.contains(&expected),
            "the log lacks `{expected}`:\n{}",
            tail(logs, 40)
        );
    }
    let refused = lines_with(logs, "reload refused");
    let last = refused.last().unwrap();
    assert!(last.contains("the running graph is unchanged"), "{last}");
    assert_eq!(
        field(last, "errors"),
        Some(errors.len().to_string().as_str()),
        "{last}"
    );
}

// ------------------------------------------------------------------------- HTTP /status ---

/// `http://HOST:PORT` of a URL the daemon printed.
fn server_base(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http URL");
    format!("http://{}", &rest[..rest.find('/').unwrap_or(rest.len())])
}

/// `GET /status` (on `[router] listen`) says this generation and last reload result, with these error lines.
fn assert_status(base: &str, generation: u64, result: &str, errors: &[String]) {
    let (status, _, body) = http_get(&format!("{base}/status"));
    let body = String::from_utf8(body).unwrap();
    assert!(status.contains("200"), "GET /status: {status}\n{body}");
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        compact.contains(&format!("\"generation\":{generation},"))
            || compact.contains(&format!("\"generation\":{generation}}}")),
        "GET /status should say generation {generation}: {body}"
    );
    assert!(
        compact.contains(&format!("\"result\":\"{result}\"")),
        "GET /status should say the last reload was {result}: {body}"
    );
    for error in errors {
        let json = error.replace('\\', "\\\\").replace('"', "\\\"");
        assert!(body.contains(&json), "GET /status lacks {error:?}: {body}");
    }
}

/// `GET BASE/SINK/NAME`, parsed.
fn served_playlist(base: &str, sink: &str, name: &str) -> Playlist {
    let (status, _, body) = http_get(&format!("{base}/{sink}/{name}"));
    let text = String::from_utf8(body).unwrap();
    assert!(
        status.contains("200"),
        "GET /{sink}/{name}: {status}\n{text}"
    );
    Playlist::parse(&text)
}

// ---------------------------------------------------------------------------- playlists ---

fn read_playlist(path: &Path) -> Option<Playlist> {
    read_if_exists(path).map(|text| Playlist::parse(&text))
}

/// Sequence number of the last listed segment.
fn last_seq(playlist: &Playlist) -> Option<u64> {
    let first = playlist.media_sequence?;
    (!playlist.entries.is_empty()).then(|| first + playlist.entries.len() as u64 - 1)
}

/// Waits until the playlist at `path` satisfies `check`; fails with the log tail otherwise.
fn wait_playlist(
    daemon: &mut Daemon,
    what: &str,
    path: &Path,
    timeout: Duration,
    mut check: impl FnMut(&Playlist) -> bool,
) -> Playlist {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(playlist) = read_playlist(path).filter(&mut check) {
            return playlist;
        }
        let text = logs(daemon);
        assert!(
            daemon.is_running(),
            "daemon exited while waiting for {what}; logs:\n{}",
            tail(&text, 80)
        );
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; {} is:\n{}\nlogs:\n{}",
            path.display(),
            read_if_exists(path).unwrap_or_else(|| "(missing)".into()),
            tail(&text, 60)
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the playlist at `path` lists a segment after the one it lists last now.
fn wait_new_segment(daemon: &mut Daemon, what: &str, path: &Path) -> Playlist {
    let now = read_playlist(path).and_then(|p| last_seq(&p)).unwrap_or(0);
    wait_playlist(daemon, what, path, Duration::from_secs(10), |p| {
        last_seq(p).is_some_and(|last| last > now)
    })
}

/// Every version of one playlist file, as read by the poller.
#[derive(Debug, Clone, Default)]
struct Track {
    path: PathBuf,
    versions: Vec<String>,
    /// A listed segment that was not in the directory when the version listing it was read.
    missing: Vec<String>,
}

type Tracks = Arc<Mutex<BTreeMap<String, Track>>>;

/// Polls playlist files every 50 ms and keeps every distinct version, in order.
struct Recorder {
    tracks: Tracks,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Self {
        let tracks: Tracks = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (tracks, stop) = (Arc::clone(&tracks), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    Self::poll(&tracks);
                    thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Self {
            tracks,
            stop,
            thread: Some(thread),
        }
    }

    /// Records the versions of the playlist at `path` as `label` from now on.
    fn track(&self, label: &str, path: PathBuf) {
        self.tracks.lock().unwrap().insert(
            label.to_owned(),
            Track {
                path,
                ..Track::default()
            },
        );
        Self::poll(&self.tracks);
    }

    fn poll(tracks: &Tracks) {
        let mut tracks = tracks.lock().unwrap();
        for track in tracks.values_mut() {
            let Some(text) = read_if_exists(&track.path) else {
                continue;
            };
            if track.versions.last() == Some(&text) {
                continue;
            }
            let dir = track.path.parent().unwrap();
            for uri in text.lines().map(str::trim) {
                if !uri.is_empty() && !uri.starts_with('#') && !dir.join(uri).is_file() {
                    track.missing.push(format!(
                        "{uri} is not in {} but this version lists it:\n{text}",
                        dir.display()
                    ));
                }
            }
            track.versions.push(text);
        }
    }

    /// Stops polling, reads every file one last time and returns what was recorded.
    fn finish(mut self) -> BTreeMap<String, Track> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        Self::poll(&self.tracks);
        self.tracks.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What the versions of one feed's playlist published, checked.
struct History {
    /// Sequence number → segment name, over all versions.
    segments: BTreeMap<u64, String>,
    /// Each version parsed, in order.
    versions: Vec<Playlist>,
}

impl History {
    fn first(&self) -> u64 {
        *self.segments.keys().next().unwrap()
    }

    fn last(&self) -> u64 {
        *self.segments.keys().next_back().unwrap()
    }
}

/// Checks every recorded version of feed `name`'s playlist: each listed segment was in the
/// directory, sequence numbers never go back, every sequence number has the one segment name
/// `NAME-{seq:05}.ts` in every version, no `#EXT-X-DISCONTINUITY`, no gap over the union of
/// all versions, `#EXT-X-ENDLIST` only on the last version.
fn check_feed(label: &str, name: &str, track: &Track) -> History {
    assert!(
        track.missing.is_empty(),
        "{label}: a playlist listed a segment that was not there: {}",
        track.missing.join("\n---\n")
    );
    assert!(
        !track.versions.is_empty(),
        "{label}: no playlist at {}",
        track.path.display()
    );
    let mut segments = BTreeMap::new();
    let mut versions = Vec::new();
    let mut previous = 0;
    for (index, text) in track.versions.iter().enumerate() {
        let playlist = Playlist::parse(text);
        let first = playlist
            .media_sequence
            .unwrap_or_else(|| panic!("{label}: no EXT-X-MEDIA-SEQUENCE:\n{text}"));
        assert!(
            first >= previous,
            "{label}: media sequence went back from {previous} to {first}:\n{text}"
        );
        previous = first;
        assert!(
            !playlist.endlist || index + 1 == track.versions.len(),
            "{label}: a version after #EXT-X-ENDLIST:\n{text}\n---\nnext:\n{}",
            track.versions[index + 1]
        );
        for (offset, entry) in playlist.entries.iter().enumerate() {
            let seq = first + offset as u64;
            assert!(
                !entry.discontinuity,
                "{label}: #EXT-X-DISCONTINUITY before {} (this feed never restarts; the clip \
                 loops only after {CLIP_SECONDS} s):\n{text}",
                entry.uri
            );
            assert_eq!(
                entry.uri,
                format!("{name}-{seq:05}.ts"),
                "{label}: sequence {seq} names another segment:\n{text}"
            );
            segments.insert(seq, entry.uri.clone());
        }
        versions.push(playlist);
    }
    assert!(!segments.is_empty(), "{label}: no segment ever listed");
    let (first, last) = (
        *segments.keys().next().unwrap(),
        *segments.keys().next_back().unwrap(),
    );
    let gaps: Vec<u64> = (first..=last)
        .filter(|seq| !segments.contains_key(seq))
        .collect();
    assert!(
        gaps.is_empty(),
        "{label}: sequence numbers {gaps:?} were never listed between {first} and {last}; \
         versions:\n{}",
        track.versions.join("\n---\n")
    );
    History { segments, versions }
}

// -------------------------------------------------------------------------------- /proc ---

/// Open file descriptors of process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status:\n{status}"))
}

/// Whether some socket is bound to UDP port `port` on 127.0.0.1 (from `/proc/net/udp`,
/// without binding anything ourselves).
fn udp_port_bound(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .any(|line| line.split_whitespace().nth(1) == Some(local.as_str()))
}

// -------------------------------------------------------------------------------- tests ---

#[test]
fn reload_changes_only_what_changed() {
    let started = Instant::now();
    live_clip();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    let out = |name: &str| dir.path().join("out").join(name);
    let playlist = |dir: &str, name: &str| out(dir).join(format!("{name}.m3u8"));
    write_config(
        &conf,
        "router.toml",
        "[router]\nserve = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:0\"\n",
    );
    for name in ["a", "b", "c"] {
        write_config(
            &conf,
            &format!("{name}.toml"),
            &live_feed(name, &out(name), 6),
        );
    }
    let nodes = |name: &str| {
        vec![
            format!("sources.{name}"),
            format!("segmenters.{name}"),
            format!("playlists.{name}"),
            format!("sinks.{name}_web"),
        ]
    };

    let mut daemon = Daemon::start(&conf);
    let base = server_base(&daemon.first_line(Duration::from_secs(10)));
    let status_base = server_base(&daemon.status_url(Duration::from_secs(10)));
    let recorder = Recorder::start();
    for name in ["a", "b", "c"] {
        recorder.track(name, playlist(name, name));
    }
    for name in ["a", "b", "c"] {
        wait_playlist(
            &mut daemon,
            &format!("3 segments of {name}"),
            &playlist(name, name),
            Duration::from_secs(20),
            |p| p.entries.len() >= 3,
        );
    }

    // a. B's window 6 → 3, written in place (truncate and write, like `echo ... > b.toml`).
    std::fs::write(conf.join("b.toml"), live_feed("b", &out("b"), 3)).unwrap();
    let line = wait_generation(&mut daemon, 2);
    let b_rest = vec![
        "sources.b".into(),
        "segmenters.b".into(),
        "sinks.b_web".into(),
    ];
    assert_changes(
        &line,
        &["playlists.b"],
        &[nodes("a"), nodes("c"), b_rest].concat(),
    );
    let at_reload = read_playlist(&playlist("b", "b")).and_then(|p| last_seq(&p));
    let shrunk = wait_playlist(
        &mut daemon,
        "b's first version after the reload",
        &playlist("b", "b"),
        Duration::from_secs(10),
        |p| last_seq(p) > at_reload,
    );
    assert!(
        shrunk.entries.len() <= 3,
        "b's first version after window 6 → 3 lists {} segments: {:?}",
        shrunk.entries.len(),
        shrunk.uris()
    );
    let b_shrunk_at = last_seq(&shrunk).unwrap();

    // b. D added (saved by rename), then C removed.
    save_atomically(&conf.join("d.toml"), &live_feed("d", &out("d"), 6));
    let line = wait_generation(&mut daemon, 3);
    assert_changes(
        &line,
        &nodes("d"),
        &[nodes("a"), nodes("b"), nodes("c")].concat(),
    );
    recorder.track("d", playlist("d", "d"));
    wait_playlist(
        &mut daemon,
        "d's first segment",
        &playlist("d", "d"),
        Duration::from_secs(15),
        |p| !p.entries.is_empty(),
    );
    // The built-in server serves the added sink at once.
    let served = served_playlist(&base, "d_web", "d.m3u8");
    assert!(!served.entries.is_empty());

    std::fs::remove_file(conf.join("c.toml")).unwrap();
    let line = wait_generation(&mut daemon, 4);
    assert_changes(
        &line,
        &nodes("c"),
        &[nodes("a"), nodes("b"), nodes("d")].concat(),
    );
    let removed_at = Instant::now();
    let c_final = wait_playlist(
        &mut daemon,
        "c's final playlist with #EXT-X-ENDLIST",
        &playlist("c", "c"),
        Duration::from_secs(6),
        |p| p.endlist,
    );
    eprintln!(
        "c ended {:?} after its removal was applied; final playlist lists {:?}",
        removed_at.elapsed(),
        c_final.uris()
    );

    // c. A's sink moves to a new directory.
    let a_old_at_move = read_playlist(&playlist("a", "a")).and_then(|p| last_seq(&p));
    save_atomically(&conf.join("a.toml"), &live_feed("a", &out("a2"), 6));
    let line = wait_generation(&mut daemon, 5);
    let a_rest = vec![
        "sources.a".into(),
        "segmenters.a".into(),
        "playlists.a".into(),
    ];
    assert_changes(
        &line,
        &["sinks.a_web"],
        &[nodes("b"), nodes("d"), a_rest].concat(),
    );
    recorder.track("a2", playlist("a2", "a"));
    let moved = wait_playlist(
        &mut daemon,
        "3 segments of a in its new directory",
        &playlist("a2", "a"),
        Duration::from_secs(15),
        |p| p.entries.len() >= 3,
    );
    assert!(
        moved.media_sequence > a_old_at_move,
        "a's new directory starts at sequence {:?}, the old one had reached {a_old_at_move:?}",
        moved.media_sequence
    );
    // The first segment the new directory got is a whole one that plays alone.
    ff::assert_decodes_cleanly(&out("a2").join(moved.uris()[0]));
    // The built-in server serves the moved sink from its new directory.
    let served = served_playlist(&base, "a_web", "a.m3u8");
    assert!(
        served.media_sequence >= moved.media_sequence,
        "/a_web/a.m3u8 is still the old directory's playlist: {:?}, the new one starts at {:?}",
        served.uris(),
        moved.media_sequence
    );
    let (status, _, body) = http_get(&format!("{base}/a_web/{}", served.uris()[0]));
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        body,
        std::fs::read(out("a2").join(served.uris()[0])).unwrap()
    );

    // d. A syntax error in b.toml (which also asks for window 5): refused, nothing changes.
    let generations_before = reloads(&logs(&daemon)).len();
    let good_b = live_feed("b", &out("b"), 3);
    let broken_b = good_b.replace("window = 3", "window = = 5");
    assert_ne!(broken_b, good_b);
    let bad_line = broken_b
        .lines()
        .position(|l| l.contains("window = = 5"))
        .unwrap()
        + 1;
    save_atomically(&conf.join("b.toml"), &broken_b);
    let text = wait_refusal(&mut daemon, 0);
    let errors = check_errors(&conf);
    let location = format!("{}:{bad_line}:", conf.join("b.toml").display());
    assert!(
        errors.iter().any(|e| e.starts_with(&location)),
        "check should name {location}: {errors:?}"
    );
    assert_refused_with(&text, &errors);
    assert_status(&status_base, 5, "refused", &errors);
    for (what, path) in [
        ("a", playlist("a2", "a")),
        ("b", playlist("b", "b")),
        ("d", playlist("d", "d")),
    ] {
        let next = wait_new_segment(&mut daemon, &format!("{what} to go on"), &path);
        if what == "b" {
            assert!(
                next.entries.len() <= 3,
                "b's window changed: {:?}",
                next.uris()
            );
        }
    }
    assert_eq!(reloads(&logs(&daemon)).len(), generations_before);

    // Back to the running config: nothing to apply.
    let same_before = unchanged(&logs(&daemon));
    save_atomically(&conf.join("b.toml"), &good_b);
    wait_logs(&mut daemon, "`config unchanged`", RELOAD_TIMEOUT, |text| {
        unchanged(text) > same_before
    });
    assert_status(&status_base, 5, "unchanged", &[]);

    // A [router] setting cannot change while running: refused, naming it; then restored.
    let router_toml = "[router]\nserve = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:0\"\n";
    let moved_server = format!(
        "[router]\nserve = \"127.0.0.1:{}\"\nlisten = \"127.0.0.1:0\"\n",
        free_udp_port()
    );
    save_atomically(&conf.join("router.toml"), &moved_server);
    let text = wait_refusal(&mut daemon, 1);
    let error = lines_with(&text, "config error: ")
        .last()
        .unwrap()
        .to_string();
    assert!(
        error.contains("router.serve"),
        "the error should name router.serve: {error}"
    );
    assert_eq!(
        field(
            lines_with(&text, "reload refused").last().unwrap(),
            "errors"
        ),
        Some("1")
    );
    assert_status(&status_base, 5, "refused", &[]);
    let same_before = unchanged(&logs(&daemon));
    save_atomically(&conf.join("router.toml"), router_toml);
    wait_logs(&mut daemon, "`config unchanged`", RELOAD_TIMEOUT, |text| {
        unchanged(text) > same_before
    });

    // An unknown input name: refused, naming the key; D goes on.
    let good_d = live_feed("d", &out("d"), 6);
    let broken_d = good_d.replace(
        "[playlists.d]\ninput = \"d\"",
        "[playlists.d]\ninput = \"nosuch\"",
    );
    assert_ne!(broken_d, good_d);
    save_atomically(&conf.join("d.toml"), &broken_d);
    let text = wait_refusal(&mut daemon, 2);
    let errors = check_errors(&conf);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("d.toml:") && e.contains("playlists.d.input")),
        "check should name playlists.d.input in d.toml: {errors:?}"
    );
    assert_refused_with(&text, &errors);
    assert_status(&status_base, 5, "refused", &errors);
    wait_new_segment(&mut daemon, "d to go on", &playlist("d", "d"));
    assert_eq!(reloads(&logs(&daemon)).len(), generations_before);

    // A valid config again, with D's window 6 → 4: applied.
    save_atomically(&conf.join("d.toml"), &live_feed("d", &out("d"), 4));
    let line = wait_generation(&mut daemon, 6);
    assert_changes(
        &line,
        &["playlists.d"],
        &["sources.d", "segmenters.d", "sinks.d_web"],
    );
    assert_status(&status_base, 6, "applied", &[]);
    let at_reload = read_playlist(&playlist("d", "d")).and_then(|p| last_seq(&p));
    let d_shrunk = wait_playlist(
        &mut daemon,
        "d's first version after window 6 → 4",
        &playlist("d", "d"),
        Duration::from_secs(10),
        |p| last_seq(p) > at_reload,
    );
    assert!(d_shrunk.entries.len() <= 4, "{:?}", d_shrunk.uris());
    let d_shrunk_at = last_seq(&d_shrunk).unwrap();

    let (status, final_logs) = daemon.stop(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit {status:?}\n{}",
        tail(&final_logs, 60)
    );
    let tracks = recorder.finish();

    // Every feed published without a cut; the moved sink numbered on.
    let a_old = check_feed("a (old directory)", "a", &tracks["a"]);
    let a_new = check_feed("a (new directory)", "a", &tracks["a2"]);
    let b = check_feed("b", "b", &tracks["b"]);
    let c = check_feed("c", "c", &tracks["c"]);
    let d = check_feed("d", "d", &tracks["d"]);
    assert!(
        a_new.first() > a_old.last(),
        "a's new directory starts at {} but the old one went up to {}: a segment was published \
         twice",
        a_new.first(),
        a_old.last()
    );
    if a_new.first() != a_old.last() + 1 {
        eprintln!(
            "note: a's sequence numbers {}..{} are in neither directory's playlist",
            a_old.last() + 1,
            a_new.first() - 1
        );
    }
    for (label, history, bound, window) in [("b", &b, b_shrunk_at, 3), ("d", &d, d_shrunk_at, 4)] {
        for version in &history.versions {
            if last_seq(version).is_some_and(|last| last >= bound) {
                assert!(
                    version.entries.len() <= window,
                    "{label}: a version after the shrink to {window} lists {:?}",
                    version.uris()
                );
            }
        }
    }
    assert!(c.versions.last().unwrap().endlist);
    assert!(c.segments.len() >= 3);
    for (label, history) in [("a", &a_new), ("b", &b), ("d", &d)] {
        assert!(
            history.versions.last().unwrap().endlist,
            "{label}: no #EXT-X-ENDLIST after SIGTERM"
        );
    }

    // The log: generations 2..=6 once each, 3 refusals, 2 unchanged, no feed restarted.
    let final_logs = strip_ansi(&final_logs);
    for line in final_logs.lines().filter(|line| {
        [
            "config reloaded",
            "config unchanged",
            "reload refused",
            "config error",
        ]
        .iter()
        .any(|what| line.contains(what))
    }) {
        eprintln!("{line}");
    }
    let generations: Vec<u64> = reloads(&final_logs).iter().map(|(g, _)| *g).collect();
    assert_eq!(
        generations,
        vec![2, 3, 4, 5, 6],
        "{}",
        tail(&final_logs, 80)
    );
    assert_eq!(refusals(&final_logs), 3);
    assert_eq!(unchanged(&final_logs), 2);
    for name in ["a", "b", "c", "d"] {
        assert_eq!(
            source_starts(&final_logs, name),
            1,
            "source {name} was (re)started more than once:\n{}",
            lines_with(&final_logs, "reading file").join("\n")
        );
    }
    eprintln!(
        "reload_changes_only_what_changed: {:?}; a {}..{} then {}..{}, b {}..{}, c {}..{}, d {}..{}",
        started.elapsed(),
        a_old.first(),
        a_old.last(),
        a_new.first(),
        a_new.last(),
        b.first(),
        b.last(),
        c.first(),
        c.last(),
        d.first(),
        d.last()
    );
}

#[test]
fn sighup_reloads() {
    live_clip();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = |window| {
        format!(
            "[router]\nserve = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:0\"\n{}",
            live_feed("s", &out, window)
        )
    };
    let path = write_config(dir.path(), "live.toml", &config(6));
    let mut daemon = Daemon::start(&path);
    daemon.first_line(Duration::from_secs(10));
    let status_base = server_base(&daemon.status_url(Duration::from_secs(10)));
    let recorder = Recorder::start();
    let playlist = out.join("s.m3u8");
    recorder.track("s", playlist.clone());
    wait_playlist(
        &mut daemon,
        "2 segments",
        &playlist,
        Duration::from_secs(20),
        |p| p.entries.len() >= 2,
    );

    // SIGHUP with the config as it runs: nothing to apply.
    daemon.signal("HUP");
    let text = wait_logs(&mut daemon, "`config unchanged`", RELOAD_TIMEOUT, |t| {
        unchanged(t) == 1
    });
    assert!(reloads(&text).is_empty(), "{}", tail(&text, 40));
    assert_status(&status_base, 1, "unchanged", &[]);
    wait_new_segment(&mut daemon, "s to go on after SIGHUP", &playlist);

    // An edit the watcher applies; SIGHUP after it finds nothing more to do.
    save_atomically(&path, &config(4));
    wait_generation(&mut daemon, 2);
    thread::sleep(Duration::from_millis(500)); // past the watcher's debounce
    let same_before = unchanged(&logs(&daemon));
    daemon.signal("HUP");
    let text = wait_logs(
        &mut daemon,
        "a second `config unchanged`",
        RELOAD_TIMEOUT,
        |t| unchanged(t) > same_before,
    );
    let generations: Vec<u64> = reloads(&text).iter().map(|(g, _)| *g).collect();
    assert_eq!(generations, vec![2], "{}", tail(&text, 40));
    assert_status(&status_base, 2, "unchanged", &[]);
    wait_new_segment(&mut daemon, "s to go on after the second SIGHUP", &playlist);
    assert!(daemon.is_running());

    let (status, final_logs) = daemon.stop(Duration::from_secs(10));
    let final_logs = strip_ansi(&final_logs);
    assert!(
        status.success(),
        "exit {status:?}\n{}",
        tail(&final_logs, 60)
    );
    let history = check_feed("s", "s", &recorder.finish()["s"]);
    assert!(history.versions.last().unwrap().endlist);
    assert_eq!(
        source_starts(&final_logs, "s"),
        1,
        "{}",
        tail(&final_logs, 60)
    );
}

#[test]
fn hundred_reloads_leak_nothing() {
    const RELOADS: usize = 100;
    let started = Instant::now();
    live_clip();
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join("out").join(name);
    let port = free_udp_port();
    let idle = local_feed(
        "x",
        &format!("type = \"udp\"\nbind = \"127.0.0.1:{port}\""),
        &out("x"),
        6,
    );
    // Odd reloads add the idle UDP feed x and shrink s2's window, even ones undo both.
    let config = |reload: usize| {
        let odd = reload % 2 == 1;
        format!(
            "{}{}{}",
            live_feed("s1", &out("s1"), 6),
            live_feed("s2", &out("s2"), if odd { 5 } else { 6 }),
            if odd { idle.as_str() } else { "" }
        )
    };
    let path = dir.path().join("live.toml");
    save_atomically(&path, &config(0));
    let mut daemon = Daemon::start(&path);
    let pid = daemon.pid();
    let recorder = Recorder::start();
    for name in ["s1", "s2"] {
        recorder.track(name, out(name).join(format!("{name}.m3u8")));
    }
    for name in ["s1", "s2"] {
        wait_playlist(
            &mut daemon,
            &format!("3 segments of {name}"),
            &out(name).join(format!("{name}.m3u8")),
            Duration::from_secs(20),
            |p| p.entries.len() >= 3,
        );
    }

    let mut samples = Vec::new();
    let mut elapsed_ms = Vec::new();
    let reloads_started = Instant::now();
    for reload in 1..=RELOADS {
        save_atomically(&path, &config(reload));
        let line = wait_generation(&mut daemon, reload as u64 + 1);
        elapsed_ms.push(field(&line, "elapsed_ms").unwrap().parse::<f64>().unwrap());
        if reload == 1 {
            assert_changes(
                &line,
                &["sources.x", "playlists.s2"],
                &["sources.s1", "sources.s2"],
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while !udp_port_bound(port) {
                assert!(Instant::now() < deadline, "x never bound UDP port {port}");
                thread::sleep(Duration::from_millis(20));
            }
        }
        if reload == 10 || reload == RELOADS {
            // x is removed at even reloads: its socket must be closed.
            let deadline = Instant::now() + Duration::from_secs(5);
            while udp_port_bound(port) {
                assert!(
                    Instant::now() < deadline,
                    "UDP port {port} still bound 5 s after x was removed (reload {reload})"
                );
                thread::sleep(Duration::from_millis(20));
            }
            thread::sleep(Duration::from_millis(500));
            samples.push((reload, open_fds(pid), rss_kib(pid)));
        }
    }
    let reload_time = reloads_started.elapsed();
    // Nobody else may bind the port once it is free; we can.
    drop(UdpSocket::bind(("127.0.0.1", port)).expect("x's port is free again"));
    wait_new_segment(
        &mut daemon,
        "s1 after the reloads",
        &out("s1").join("s1.m3u8"),
    );
    wait_new_segment(
        &mut daemon,
        "s2 after the reloads",
        &out("s2").join("s2.m3u8"),
    );

    let (status, final_logs) = daemon.stop(Duration::from_secs(10));
    let final_logs = strip_ansi(&final_logs);
    assert!(
        status.success(),
        "exit {status:?}\n{}",
        tail(&final_logs, 60)
    );
    let tracks = recorder.finish();
    let s1 = check_feed("s1", "s1", &tracks["s1"]);
    let s2 = check_feed("s2", "s2", &tracks["s2"]);
    assert!(s2.versions.iter().all(|v| v.entries.len() <= 6));

    let generations: Vec<u64> = reloads(&final_logs).iter().map(|(g, _)| *g).collect();
    assert_eq!(generations, (2..=RELOADS as u64 + 1).collect::<Vec<_>>());
    assert_eq!(refusals(&final_logs), 0, "{}", tail(&final_logs, 60));
    assert_eq!(source_starts(&final_logs, "s1"), 1);
    assert_eq!(source_starts(&final_logs, "s2"), 1);
    // x bound its port at each of its 50 starts, never finding it still held by the x before.
    let x_starts = lines_with(&final_logs, "receiving UDP")
        .into_iter()
        .filter(|line| line.contains("{name=x}"))
        .count();
    assert_eq!(x_starts, RELOADS / 2, "{}", tail(&final_logs, 60));
    let bind_failures = lines_with(&final_logs, "cannot open UDP socket");
    assert!(bind_failures.is_empty(), "{}", bind_failures.join("\n"));
    let errors = lines_with(&final_logs, " ERROR ");
    assert!(errors.is_empty(), "errors logged:\n{}", errors.join("\n"));

    let [(_, fds_10, rss_10), (_, fds_100, rss_100)] = samples[..] else {
        panic!("samples: {samples:?}");
    };
    let mut sorted = elapsed_ms.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "hundred_reloads_leak_nothing: {:?} in all, {RELOADS} reloads in {reload_time:?}; \
         elapsed_ms median {:.1} max {:.1}; after reload 10: {fds_10} fds, {rss_10} KiB; \
         after reload {RELOADS}: {fds_100} fds, {rss_100} KiB; s1 {}..{}, s2 {}..{}",
        started.elapsed(),
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        s1.first(),
        s1.last(),
        s2.first(),
        s2.last()
    );
    assert!(
        fds_100.abs_diff(fds_10) <= 2,
        "open fds went from {fds_10} (reload 10) to {fds_100} (reload {RELOADS})"
    );
    assert!(
        rss_100 < rss_10 + 20 * 1024,
        "RSS grew from {rss_10} KiB (reload 10) to {rss_100} KiB (reload {RELOADS})"
    );
}
