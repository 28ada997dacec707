//! What the in-process tests of a running topology share: a tiny live stream generated in
//! process, an in-memory sink, a running graph built from TOML text through the config
//! compiler (reloaded the daemon's way: compile, diff, apply), and a reading of the media
//! playlists the sinks hold. Every wait is on a condition, polled on tokio's (paused) clock.
//!
//! Test-only. Writes only under its temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::Id;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(super) use super::memory_sink::MemorySink;
use super::{Seams, Topology};
use crate::config::diff::GraphDiff;
use crate::config::model::Graph;
use crate::media::PACKET_SIZE;
use crate::media::pes::tests::pes_header;
use crate::media::psi::tests::{pat_section, pmt_section};
use crate::status::{Board, NodeState};

/// The tiny stream's file in a running graph's directory, and how long it lasts: longer than
/// any test, so that it never loops (a loop is a discontinuity).
const TINY: &str = "tiny.ts";
const TINY_SECONDS: u64 = 120;

/// Longest wait for anything (media time).
pub(super) const PATIENCE: Duration = Duration::from_secs(60);

/// The repo's 12 s sample (H.264 + AAC, a keyframe every 2 s).
pub(super) fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/h264_aac.ts")
}

/// Waits until `check` gives something, polling in media time, for at most [`PATIENCE`].
pub(super) async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "no {what} within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const PMT_PID: u16 = 0x1000;
const VIDEO_PID: u16 = 0x100;
/// 10 pictures a second, in 90 kHz ticks.
const PICTURE_TICKS: u64 = 9000;
/// Where the first picture is, as ffmpeg starts.
const FIRST_PTS: u64 = 126_000;

/// A video-only H.264 stream of `seconds` at 10 pictures a second, an IDR every second with
/// PAT/PMT before it and a PCR on it, each picture one TS packet: about 2 kB a second, so that
/// a thousand feeds cost little.
pub(super) fn tiny_stream(seconds: u64) -> Vec<u8> {
    tiny_stream_changing(seconds, u64::MAX)
}

/// [`tiny_stream`] whose SPS changes (another profile) from second `change_at` on: a new
/// codec configuration.
pub(super) fn tiny_stream_changing(seconds: u64, change_at: u64) -> Vec<u8> {
    let mut counters = BTreeMap::new();
    let mut out = Vec::new();
    for n in 0..seconds * 10 {
        let key = n % 10 == 0;
        if key {
            let mut pat = vec![0];
            pat.extend(pat_section(0, 1, PMT_PID));
            out.extend(packet(&mut counters, 0, None, &pat));
            let mut pmt = vec![0];
            pmt.extend(pmt_section(0, VIDEO_PID, &[(0x1b, VIDEO_PID)]));
            out.extend(packet(&mut counters, PMT_PID, None, &pmt));
        }
        let pts = FIRST_PTS + n * PICTURE_TICKS;
        let mut es = vec![0, 0, 0, 1, 0x09, 0xf0];
        if key {
            let profile = if n / 10 >= change_at { 0x4d } else { 0x64 };
            es.extend_from_slice(&[0, 0, 0, 1, 0x67, profile, 0, 0x1e, 0, 0, 0, 1, 0x68, 0xee]);
        }
        es.extend_from_slice(&[0, 0, 1, if key { 0x65 } else { 0x41 }, 0x88]);
        es.extend((0..24).map(|i| i as u8 + 2));
        let pes = pes_header(pts, None, &es);
        // A PCR with each keyframe only: the file source then reads a second at a time.
        let pcr = key.then(|| pts - PICTURE_TICKS);
        out.extend(packet(&mut counters, VIDEO_PID, pcr, &pes));
    }
    out
}

/// One TS packet of `pid` with `payload` (a unit start): a section padded with 0xff, or a PES
/// after adaptation stuffing, which carries `pcr` (and the random access flag) when given.
fn packet(
    counters: &mut BTreeMap<u16, u8>,
    pid: u16,
    pcr: Option<u64>,
    payload: &[u8],
) -> [u8; PACKET_SIZE] {
    let counter = counters.entry(pid).or_insert(0);
    let mut p = [0xffu8; PACKET_SIZE];
    p[0] = 0x47;
    p[1] = 0x40 | (pid >> 8) as u8;
    p[2] = pid as u8;
    if pid == 0 || pid == PMT_PID {
        p[3] = 0x10 | *counter;
        p[4..4 + payload.len()].copy_from_slice(payload);
    } else {
        p[3] = 0x30 | *counter;
        p[4] = (PACKET_SIZE - 5 - payload.len()) as u8;
        p[5] = 0;
        if let Some(base) = pcr {
            p[5] = 0x50;
            p[6..12].copy_from_slice(&crate::media::pcr_field(base));
        }
        p[PACKET_SIZE - payload.len()..].copy_from_slice(payload);
    }
    *counter = (*counter + 1) & 0x0f;
    p
}

/// The tasks of a running feed (source, segmenter, playlist named alike): the same ids after a
/// reload mean that node was not restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FeedTasks {
    /// The source's reading task and its fan-out.
    pub(super) source: [Id; 2],
    pub(super) segmenter: Id,
    pub(super) playlist: Id,
}

/// A running graph whose sinks are in memory, under a temporary directory (its `state_dir`).
pub(super) struct Running {
    pub(super) topology: Topology,
    shutdown: CancellationToken,
    pub(super) board: Board,
    pub(super) dir: tempfile::TempDir,
    /// `[router]` of every config it runs.
    router: String,
    sinks: BTreeMap<String, Arc<MemorySink>>,
}

impl Running {
    /// Starts `config` (without `[router]`; `router` holds extra keys of it) with every sink of
    /// it in memory.
    pub(super) async fn start(router: &str, config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let router = format!("[router]\nstate_dir = \"{}\"\n{router}\n", state.display());
        Self::start_in(dir, router, config).await
    }

    /// [`Running::start`] without a `state_dir`: numbers and journals are not kept (nor
    /// fsync'd); sink names must then be unique among the tests (the journals of the process
    /// share a directory).
    pub(super) async fn start_ephemeral(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, "[router]\n".to_owned(), config).await
    }

    async fn start_in(dir: tempfile::TempDir, router: String, config: &str) -> Self {
        std::fs::write(dir.path().join(TINY), tiny_stream(TINY_SECONDS)).unwrap();
        let graph = compiled(dir.path(), &format!("{router}{config}"));
        let sinks = (graph.sinks.keys())
            .map(|name| (name.clone(), Arc::new(MemorySink::default())))
            .collect();
        Self::run(dir, router, graph, sinks).await
    }

    /// Runs `graph` with `sinks` as its sinks' instances.
    async fn run(
        dir: tempfile::TempDir,
        router: String,
        graph: crate::config::model::Graph,
        sinks: BTreeMap<String, Arc<MemorySink>>,
    ) -> Self {
        let mut seams = Seams::default();
        for (name, sink) in &sinks {
            seams.sinks.insert(name.clone(), Arc::clone(sink) as _);
        }
        let (shutdown, board) = (CancellationToken::new(), Board::default());
        let topology =
            Topology::start_with(graph, shutdown.clone(), board.clone(), seams, None).await;
        Self {
            topology,
            shutdown,
            board,
            dir,
            router,
            sinks,
        }
    }

    /// Reloads with `config` the daemon's way (compile, diff, apply); a sink it adds, or
    /// whose name is in `fresh`, gets a new memory sink.
    pub(super) async fn reload(&mut self, config: &str, fresh: &[&str]) -> GraphDiff {
        let graph = compiled(self.dir.path(), &format!("{}{config}", self.router));
        for name in graph.sinks.keys() {
            if self.sinks.contains_key(name) && !fresh.contains(&name.as_str()) {
                continue;
            }
            let sink = Arc::new(MemorySink::default());
            let seams = &mut self.topology.seams.sinks;
            seams.insert(name.clone(), Arc::clone(&sink) as _);
            self.sinks.insert(name.clone(), sink);
        }
        let diff = crate::config::diff::diff(self.topology.graph(), &graph).unwrap();
        self.topology.apply(graph, &diff).await;
        diff
    }

    /// Memory sink `name` (the latest one given that name).
    pub(super) fn sink(&self, name: &str) -> Arc<MemorySink> {
        Arc::clone(&self.sinks[name])
    }

    /// Node `node` (`KIND.NAME`)'s state, if it is on the board.
    pub(super) fn state(&self, node: &str) -> Option<NodeState> {
        let nodes = self.board.nodes.snapshot();
        let report = nodes.iter().find(|r| r.node.to_string() == node);
        report.map(|r| r.state)
    }

    /// Waits until sink `sink` holds playlist `key` listing at least `count` segments.
    pub(super) async fn segments(&self, sink: &str, key: &str, count: usize) -> Media {
        let sink = self.sink(sink);
        let what = format!("{count} segments in {key}");
        until(&what, || {
            sink.media(key).filter(|m| m.entries.len() >= count)
        })
        .await
    }

    /// The tasks of feed `name` now.
    pub(super) fn feed_tasks(&self, name: &str) -> FeedTasks {
        let t = &self.topology;
        let [reading, fanning] = &t.sources[name].tasks;
        FeedTasks {
            source: [reading.id(), fanning.id()],
            segmenter: t.segmenters[name].task.id(),
            playlist: t.playlists[name].task.id(),
        }
    }

    /// Stops, and starts `config` again over the same state directory with the same sinks
    /// (they keep what they hold, like a remote store across a restart of the daemon).
    pub(super) async fn restart(self, config: &str) -> Self {
        let Self {
            topology,
            shutdown,
            dir,
            router,
            sinks,
            ..
        } = self;
        shutdown.cancel();
        topology.stop().await;
        let graph = compiled(dir.path(), &format!("{router}{config}"));
        Self::run(dir, router, graph, sinks).await
    }

    /// Stops the daemon's way; how long the stop took (media time).
    pub(super) async fn stop(self) -> (Duration, tempfile::TempDir) {
        let began = Instant::now();
        self.shutdown.cancel();
        self.topology.stop().await;
        (began.elapsed(), self.dir)
    }
}

/// `text` compiled as config file `dir/test.toml`, `{tiny}` in it replaced by the path of the
/// tiny stream and `{sample}` by that of the sample; panics with the errors.
pub(super) fn compiled(dir: &Path, text: &str) -> Graph {
    let text = text.replace("{tiny}", &dir.join(TINY).display().to_string());
    let text = text.replace("{sample}", &sample_path().display().to_string());
    let loaded = crate::config::compile_sources(&[(dir.join("test.toml"), text)]);
    let errors: Vec<String> = loaded.errors().map(|e| e.to_string()).collect();
    loaded.graph.unwrap_or_else(|| panic!("{errors:?}"))
}

/// A listed segment: its media sequence number, URI and whether a discontinuity precedes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    pub(super) sequence: u64,
    pub(super) uri: String,
    pub(super) discontinuity: bool,
}

/// What the tests read of a media playlist.
#[derive(Debug, Clone)]
pub(super) struct Media {
    pub(super) target_duration: u64,
    pub(super) entries: Vec<Entry>,
    pub(super) endlist: bool,
}

impl Media {
    /// Reads playlist text with `m3u8-rs`, an independent parser: the tests never check our
    /// renderer with our own reading of it.
    pub(super) fn parse(text: &str) -> Self {
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes())
            .unwrap_or_else(|e| panic!("not a media playlist ({e:?}):\n{text}"));
        let first = parsed.media_sequence;
        Media {
            target_duration: parsed.target_duration,
            entries: (parsed.segments.iter().zip(first..))
                .map(|(segment, sequence)| Entry {
                    sequence,
                    uri: segment.uri.clone(),
                    discontinuity: segment.discontinuity,
                })
                .collect(),
            endlist: parsed.end_list,
        }
    }

    /// Where the first discontinuity is.
    pub(super) fn first_discontinuity(&self) -> Option<usize> {
        self.entries.iter().position(|entry| entry.discontinuity)
    }

    /// Numbered 1, 2, 3… under names that follow their numbers: nothing reused or skipped.
    pub(super) fn assert_numbered(&self, name: &str) {
        for (index, entry) in self.entries.iter().enumerate() {
            let sequence = index as u64 + 1;
            assert_eq!(entry.sequence, sequence, "{self:?}");
            assert_eq!(entry.uri, format!("{name}-{sequence:05}.ts"), "{self:?}");
        }
    }
}
