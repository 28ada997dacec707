//! Watching what the daemon publishes: every playlist version recorded and checked, `/status`
//! over HTTP, and what /proc says of the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common::m3u8::Playlist;
use crate::daemon::{Daemon, http_get, read_if_exists};

use super::*;

// ------------------------------------------------------------------------- HTTP /status ---

/// `http://HOST:PORT` of a URL the daemon printed.
pub(crate) fn server_base(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http URL");
    format!("http://{}", &rest[..rest.find('/').unwrap_or(rest.len())])
}

/// `GET /status` (on `[router] listen`) says this generation and last reload result, with these error lines.
pub(crate) fn assert_status(base: &str, generation: u64, result: &str, errors: &[String]) {
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
pub(crate) fn served_playlist(base: &str, sink: &str, name: &str) -> Playlist {
    let (status, _, body) = http_get(&format!("{base}/{sink}/{name}"));
    let text = String::from_utf8(body).unwrap();
    assert!(
        status.contains("200"),
        "GET /{sink}/{name}: {status}\n{text}"
    );
    Playlist::parse(&text)
}

// ---------------------------------------------------------------------------- playlists ---

pub(crate) fn read_playlist(path: &Path) -> Option<Playlist> {
    read_if_exists(path).map(|text| Playlist::parse(&text))
}

/// Sequence number of the last listed segment.
pub(crate) fn last_seq(playlist: &Playlist) -> Option<u64> {
    let first = playlist.media_sequence?;
    (!playlist.entries.is_empty()).then(|| first + playlist.entries.len() as u64 - 1)
}

/// Waits until the playlist at `path` satisfies `check`; fails with the log tail otherwise.
pub(crate) fn wait_playlist(
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
pub(crate) fn wait_new_segment(daemon: &mut Daemon, what: &str, path: &Path) -> Playlist {
    let now = read_playlist(path).and_then(|p| last_seq(&p)).unwrap_or(0);
    wait_playlist(daemon, what, path, Duration::from_secs(10), |p| {
        last_seq(p).is_some_and(|last| last > now)
    })
}

/// Every version of one playlist file, as read by the poller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Track {
    pub(crate) path: PathBuf,
    pub(crate) versions: Vec<String>,
    /// A listed segment that was not in the directory when the version listing it was read.
    pub(crate) missing: Vec<String>,
}

pub(crate) type Tracks = Arc<Mutex<BTreeMap<String, Track>>>;

/// Polls playlist files every 50 ms and keeps every distinct version, in order.
pub(crate) struct Recorder {
    pub(crate) tracks: Tracks,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

impl Recorder {
    pub(crate) fn start() -> Self {
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
    pub(crate) fn track(&self, label: &str, path: PathBuf) {
        self.tracks.lock().unwrap().insert(
            label.to_owned(),
            Track {
                path,
                ..Track::default()
            },
        );
        Self::poll(&self.tracks);
    }

    pub(crate) fn poll(tracks: &Tracks) {
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
    pub(crate) fn finish(mut self) -> BTreeMap<String, Track> {
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
pub(crate) struct History {
    /// Sequence number → segment name, over all versions.
    pub(crate) segments: BTreeMap<u64, String>,
    /// Each version parsed, in order.
    pub(crate) versions: Vec<Playlist>,
}

impl History {
    pub(crate) fn first(&self) -> u64 {
        *self.segments.keys().next().unwrap()
    }

    pub(crate) fn last(&self) -> u64 {
        *self.segments.keys().next_back().unwrap()
    }
}

/// Checks every recorded version of feed `name`'s playlist: each listed segment was in the
/// directory, sequence numbers never go back, every sequence number has the one segment name
/// `NAME-{seq:05}.ts` in every version, no `#EXT-X-DISCONTINUITY`, no gap over the union of
/// all versions, `#EXT-X-ENDLIST` only on the last version.
pub(crate) fn check_feed(label: &str, name: &str, track: &Track) -> History {
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
pub(crate) fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Resident memory of process `pid`, in KiB.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status:\n{status}"))
}

/// Whether some socket is bound to UDP port `port` on 127.0.0.1 (from `/proc/net/udp`,
/// without binding anything ourselves).
pub(crate) fn udp_port_bound(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .any(|line| line.split_whitespace().nth(1) == Some(local.as_str()))
}
