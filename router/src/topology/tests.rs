//! In-process tests of a running topology on tokio's paused clock: nodes that panic (armed
//! through `fault`) heal. Each feed is a looping file paced in real time (the 12 s sample,
//! keyframes every 2 s), cut into 2 s segments and published by a local sink to a temporary
//! directory; every wait is on a condition, with a deadline in media time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::testkit::{Media, sample_path, until};
use super::{Topology, fault};
use crate::config::model::{NodeId, NodeKind};
use crate::status::{Board, NodeState};

/// When an armed node panics, after its first run started.
const FAULT_AFTER: Duration = Duration::from_secs(5);

/// One feed `NAME`: source, segmenter and playlist, all named `NAME`.
fn feed(name: &str) -> String {
    format!(
        r#"
[sources.{name}]
type = "file"
path = "{input}"
realtime = true
loop = true

[segmenters.{name}]
input = "{name}"
target_duration = 2

[playlists.{name}]
input = "{name}"
window = 0
"#,
        input = sample_path().display(),
    )
}

/// A local sink `NAME` publishing `input` (a playlist or master) to `out`.
fn sink(name: &str, input: &str, out: &Path) -> String {
    format!(
        "\n[sinks.{name}]\ntype = \"local\"\ninputs = [\"{input}\"]\npath = \"{}\"\n",
        out.display()
    )
}

/// A running graph, publishing under `out`.
struct Running {
    topology: Topology,
    shutdown: CancellationToken,
    board: Board,
    out: PathBuf,
    dir: tempfile::TempDir,
}

impl Running {
    /// Starts the graph of `config(out)`.
    async fn start(config: impl FnOnce(&Path) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let state = dir.path().join("state");
        let text = format!(
            "[router]\nstate_dir = \"{}\"\n{}",
            state.display(),
            config(&out)
        );
        let loaded = crate::config::compile_sources(&[(dir.path().join("test.toml"), text)]);
        let errors: Vec<String> = loaded.errors().map(|e| e.to_string()).collect();
        let graph = loaded.graph.unwrap_or_else(|| panic!("{errors:?}"));
        let (shutdown, board) = (CancellationToken::new(), Board::default());
        let topology = Topology::start(graph, shutdown.clone(), board.clone()).await;
        Self {
            topology,
            shutdown,
            board,
            out,
            dir,
        }
    }

    /// Node `node`'s state and last error.
    fn state(&self, node: &NodeId) -> (NodeState, Option<String>) {
        let nodes = self.board.nodes.snapshot();
        let report = nodes.iter().find(|report| report.node == *node);
        let report = report.unwrap_or_else(|| panic!("{node} is not on the board: {nodes:?}"));
        (report.state, report.last_error.clone())
    }

    /// Waits until node `node` is in `state`; its last error then.
    async fn reaches(&self, node: &NodeId, state: NodeState) -> Option<String> {
        let what = format!("{node} {state:?}");
        until(&what, || {
            let (now, error) = self.state(node);
            (now == state).then_some(error)
        })
        .await
    }

    /// The media playlist `file` as published now, if it is.
    fn playlist(&self, file: &str) -> Option<Media> {
        let text = std::fs::read_to_string(self.out.join(file)).ok()?;
        Some(Media::parse(&text))
    }

    /// Waits until playlist `file` lists at least `count` segments.
    async fn segments(&self, file: &str, count: usize) -> Media {
        let what = format!("{count} segments in {file}");
        until(&what, || {
            self.playlist(file).filter(|m| m.entries.len() >= count)
        })
        .await
    }

    /// Stops the daemon's way: every feed finishes and publishes its final playlist; the
    /// temporary directory, with `out` in it.
    async fn stop(self) -> tempfile::TempDir {
        self.shutdown.cancel();
        self.topology.stop().await;
        self.dir
    }
}

/// Feed `name` runs with `fault` armed: the node `node` panics [`FAULT_AFTER`] in, reports
/// `restarting` with the panic, is live again, and the feed goes on: numbering on, no
/// EXT-X-ENDLIST, the first discontinuity at segment `first_discontinuity` (0-based), right
/// after the restart. At the stop the playlist ends as usual.
async fn heals(name: &str, node: NodeId, fault: &str, first_discontinuity: usize) {
    fault::arm(fault, FAULT_AFTER);
    let running = Running::start(|out| feed(name) + &sink(name, name, out)).await;
    let file = format!("{name}.m3u8");
    let error = running.reaches(&node, NodeState::Restarting).await;
    let error = error.unwrap_or_default();
    assert!(error.starts_with("panicked: test fault:"), "{error}");
    let before = running.playlist(&file).unwrap();
    assert!(!before.endlist, "{before:?}");
    assert_eq!(before.first_discontinuity(), None, "{before:?}");

    running.reaches(&node, NodeState::Live).await;
    let after = running.segments(&file, first_discontinuity + 3).await;
    after.assert_numbered(name);
    assert!(!after.endlist, "a panic never ends the playlist: {after:?}");
    assert!(after.entries.len() > before.entries.len());
    assert_eq!(
        after.first_discontinuity(),
        Some(first_discontinuity),
        "{after:?}"
    );
    for kind in [
        NodeKind::Source,
        NodeKind::Segmenter,
        NodeKind::Playlist,
        NodeKind::Sink,
    ] {
        let node = NodeId::new(kind, name);
        let (state, _) = running.state(&node);
        assert_eq!(state, NodeState::Live, "{node}");
    }

    let dir = running.stop().await;
    let last = std::fs::read_to_string(dir.path().join("out").join(&file)).unwrap();
    let last = Media::parse(&last);
    assert!(last.endlist, "{last:?}");
    last.assert_numbered(name);
}

#[tokio::test(start_paused = true)]
async fn a_segmenter_that_panics_is_restarted_and_its_feed_goes_on() {
    // Segments 0–2 s and 2–4 s are out; the open one (4–5 s) is lost with the run, and the
    // restarted one cuts from the keyframe at 6 s, after a discontinuity.
    let node = NodeId::segmenter("heal-seg");
    heals("heal-seg", node, "segmenters.heal-seg", 2).await;
}

#[tokio::test(start_paused = true)]
async fn a_source_that_panics_is_restarted_and_its_feed_goes_on() {
    // Its segmenter finishes the open segment (4–5 s), and the file starts over after a
    // discontinuity.
    let node = NodeId::source("heal-src");
    heals("heal-src", node, "sources.heal-src", 3).await;
}

#[tokio::test(start_paused = true)]
async fn a_source_fan_out_that_panics_is_restarted_and_its_feed_goes_on() {
    // The segmenter finishes the open segment (4–5 s) and cuts on from the keyframe at 6 s.
    heals(
        "heal-fan",
        NodeId::source("heal-fan"),
        "sources.heal-fan/fan-out",
        3,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_playlist_that_panics_is_restarted_and_numbers_on() {
    // Nothing is lost (it panicked waiting), but the restarted run starts a new timeline.
    let node = NodeId::playlist("heal-pl");
    heals("heal-pl", node, "playlists.heal-pl", 2).await;
}

#[tokio::test(start_paused = true)]
async fn a_master_that_panics_is_restarted_and_publishes_again() {
    fault::arm("masters.heal-m", FAULT_AFTER);
    let running = Running::start(|out| {
        let master = "\n[masters.heal-m]\nvariants = [\"heal-m-a\", \"heal-m-b\"]\n";
        // The master's sink publishes its variants too.
        feed("heal-m-a") + &feed("heal-m-b") + master + &sink("heal-m", "heal-m", out)
    })
    .await;
    let master = running.out.join("heal-m.m3u8");
    let error = running
        .reaches(&NodeId::master("heal-m"), NodeState::Restarting)
        .await;
    assert!(
        error
            .unwrap_or_default()
            .starts_with("panicked: test fault:")
    );
    // Published before the panic; gone now, so that it shows when it is published again.
    std::fs::remove_file(&master).unwrap();

    running
        .reaches(&NodeId::master("heal-m"), NodeState::Live)
        .await;
    let text = until("the master again", || std::fs::read_to_string(&master).ok()).await;
    assert!(
        text.contains("heal-m-a.m3u8") && text.contains("heal-m-b.m3u8"),
        "{text}"
    );
    for variant in ["heal-m-a", "heal-m-b"] {
        let file = format!("{variant}.m3u8");
        let media = running.segments(&file, 4).await;
        media.assert_numbered(variant);
        assert!(!media.endlist, "{media:?}");
        // The variants never noticed.
        assert_eq!(running.state(&NodeId::playlist(variant)).0, NodeState::Live);
    }
    running.stop().await;
}

#[test]
fn a_restarted_sink_keeps_its_durable_journal_and_gets_a_scratch_one_of_its_own() {
    let root = Path::new("/state/journal");
    let durable = [0, 1].map(|_| super::journal_place(root, "cdn/eu", true).dir);
    assert_eq!(durable, [root.join("cdn_eu"), root.join("cdn_eu")]);
    // Without state_dir, the sink before removes its scratch journal as it ends: never the
    // directory of the sink after it.
    let [first, second] = [0, 1].map(|_| super::journal_place(root, "cdn/eu", false).dir);
    assert_ne!(first, second);
    assert!(first.starts_with(root) && second.starts_with(root));
}
