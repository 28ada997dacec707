//! What the daemon says about itself: the config generation running and what the last reload
//! did, kept for operators (served as JSON at `/status` by the HTTP server).
//!
//! Plain data, serialisable; never holds a config value (secrets stay out: errors and
//! summaries name files, lines, nodes and keys only).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde::Serialize;

use crate::config::model::{NodeId, NodeKind};
use crate::publish::journal::Journal;

/// The daemon's state as reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DaemonStatus {
    /// Applied configs so far: 1 for the one the daemon started with, +1 per applied reload.
    pub generation: u64,
    /// The last reload, if any was tried.
    pub last_reload: Option<ReloadReport>,
    /// Problems nodes report while they run (e.g. a master's variants not aligned), by node.
    pub alerts: BTreeMap<NodeId, String>,
    /// Every running node and its state.
    pub nodes: Vec<NodeReport>,
    /// The playlists of local sinks, as served by `[router] serve`.
    pub streams: Vec<StreamLink>,
    /// In a cluster: this router's name and the feeds it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
}

/// A router's part of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// This router's name.
    pub node: String,
    /// The feeds it owns and runs, sorted.
    pub owned: Vec<String>,
}

/// A served playlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamLink {
    /// The playlist (or master) node.
    pub playlist: String,
    /// The local sink publishing it.
    pub sink: String,
    /// Where a player loads it.
    pub url: String,
}

/// What a node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Started, nothing flowing yet.
    Starting,
    /// Working: data flows, segments are cut, objects stored.
    Live,
    /// Was live, nothing has come for a while.
    Stalled,
    /// Failing and trying again (a source reconnecting, a sink retrying).
    Retrying,
    /// Its task panicked and is being restarted (its last error says why); it stays so until it
    /// is live again.
    Restarting,
    /// Ended.
    Stopped,
}

/// One node's state as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    /// `KIND.NAME`, e.g. `sources.cam1`.
    pub node: NodeId,
    /// `source`, `segmenter`, `playlist`, `master` or `sink`.
    pub kind: &'static str,
    /// The node's name.
    pub name: String,
    /// Its state.
    pub state: NodeState,
    /// The last error it met, if any (names and causes; never a secret).
    pub last_error: Option<String>,
    /// When it entered its state (RFC 3339, UTC).
    pub since: String,
    /// An SRT source's link: its peer and counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srt: Option<SrtLinkReport>,
    /// Which start of the node this is (a restarted node's old task no longer reports).
    #[serde(skip)]
    incarnation: u64,
}

/// An SRT source's link as reported: the caller or peer connected now, and totals over every
/// connection since the source (re)started. srt-protocol 0.4.4 measures the round-trip time
/// only in the handshake and counts loss by the reports it sends (NAKs), not by packet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SrtLinkReport {
    /// The peer's address while connected.
    pub peer: Option<String>,
    /// Connections so far.
    pub connections: u64,
    /// The current (or last) connection's handshake round-trip time, in microseconds.
    pub handshake_rtt_us: Option<u64>,
    /// The receive rate over about the last second, 0 while not connected.
    pub receive_bits_per_second: u64,
    /// DATA packets received.
    pub packets_received: u64,
    /// Loss reports (NAKs) sent to the peer.
    pub loss_reports: u64,
    /// Lost packets recovered by retransmission.
    pub packets_retransmitted: u64,
    /// Packets given up for good (too late to play).
    pub packets_dropped: u64,
}

/// The states of the running nodes, written by their tasks, read by the status endpoint.
#[derive(Debug, Clone, Default)]
pub struct NodeBoard(Arc<Mutex<Entries>>);

#[derive(Debug, Default)]
struct Entries {
    nodes: BTreeMap<NodeId, NodeReport>,
    /// When each segmenter last cut a segment, by node name.
    last_segment: BTreeMap<String, std::time::Instant>,
    /// Each sink's journal, by sink name, read for `/archives` (held by the sink task).
    journals: BTreeMap<String, Weak<Journal>>,
    incarnations: u64,
}

impl NodeBoard {
    /// A new start of node `node`: its entry, starting; the number of this start.
    fn start(&self, node: &NodeId) -> u64 {
        let mut entries = self.lock();
        entries.incarnations += 1;
        let incarnation = entries.incarnations;
        let report = NodeReport {
            node: node.clone(),
            kind: node.kind().noun(),
            name: node.name().to_owned(),
            state: NodeState::Starting,
            last_error: None,
            since: now(),
            srt: None,
            incarnation,
        };
        entries.nodes.insert(node.clone(), report);
        incarnation
    }

    /// Start `incarnation` of node `node` is now in `state`; `error`, when given, becomes its
    /// last error. Nothing happens when the node was removed or started again since. A node
    /// restarting after a panic stays so until it is live again or stops (a restarted source
    /// reconnecting is still restarting).
    fn set(&self, node: &NodeId, incarnation: u64, state: NodeState, error: Option<String>) {
        let mut entries = self.lock();
        let Some(report) = entries.nodes.get_mut(node) else {
            return;
        };
        if report.incarnation != incarnation {
            return;
        }
        let leaves_restarting = matches!(state, NodeState::Live | NodeState::Stopped);
        if report.state != state && (report.state != NodeState::Restarting || leaves_restarting) {
            report.state = state;
            report.since = now();
        }
        if error.is_some() {
            report.last_error = error;
        }
    }

    /// Start `incarnation` of SRT source `node` reports its link.
    fn set_srt(&self, node: &NodeId, incarnation: u64, link: SrtLinkReport) {
        let mut entries = self.lock();
        if let Some(report) = entries.nodes.get_mut(node)
            && report.incarnation == incarnation
        {
            report.srt = Some(link);
        }
    }

    /// Node `node` is gone (removed by a reload).
    pub fn remove(&self, node: &NodeId) {
        let mut entries = self.lock();
        entries.nodes.remove(node);
        if node.kind() == NodeKind::Segmenter {
            entries.last_segment.remove(node.name());
        }
        if node.kind() == NodeKind::Sink {
            entries.journals.remove(node.name());
        }
    }

    /// The journals of the running sinks, by sink name.
    pub fn journals(&self) -> Vec<(String, Arc<Journal>)> {
        let entries = self.lock();
        let held = entries.journals.iter();
        held.filter_map(|(sink, journal)| Some((sink.clone(), journal.upgrade()?)))
            .collect()
    }

    /// Every node, by id (in the order of their `KIND.NAME` texts).
    pub fn snapshot(&self) -> Vec<NodeReport> {
        self.lock().nodes.values().cloned().collect()
    }

    /// Seconds since each segmenter (by name) last cut a segment.
    pub fn seconds_since_last_segment(&self) -> Vec<(String, f64)> {
        let entries = self.lock();
        let since = |at: &std::time::Instant| at.elapsed().as_secs_f64();
        let feeds = entries.last_segment.iter();
        feeds.map(|(name, at)| (name.clone(), since(at))).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One node's entry on the board, held by its task.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    board: NodeBoard,
    node: NodeId,
    incarnation: u64,
}

impl NodeStatus {
    /// A new entry for node `node`, starting; it replaces what an earlier start of the node
    /// reported.
    pub fn starting(board: &NodeBoard, node: NodeId) -> Self {
        let incarnation = board.start(&node);
        Self {
            board: board.clone(),
            node,
            incarnation,
        }
    }

    /// The node this entry is of.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// The node is now in `state`.
    pub fn set(&self, state: NodeState) {
        self.board.set(&self.node, self.incarnation, state, None);
    }

    /// The node met `error` and is now in `state`.
    pub fn fail(&self, state: NodeState, error: String) {
        self.board
            .set(&self.node, self.incarnation, state, Some(error));
    }

    /// The node (an SRT source) reports its link.
    pub fn srt_link(&self, link: SrtLinkReport) {
        self.board.set_srt(&self.node, self.incarnation, link);
    }

    /// The node (a sink) keeps its work in `journal`, which `/archives` reads.
    pub fn journal(&self, journal: &Arc<Journal>) {
        if self.node.kind() == NodeKind::Sink {
            let mut entries = self.board.lock();
            let name = self.node.name().to_owned();
            entries.journals.insert(name, Arc::downgrade(journal));
        }
    }

    /// A segmenter cut a segment now.
    pub fn segment_cut(&self) {
        if self.node.kind() == NodeKind::Segmenter {
            let mut entries = self.board.lock();
            let name = self.node.name().to_owned();
            entries.last_segment.insert(name, std::time::Instant::now());
        }
    }
}

/// What running nodes report: their states and their alerts.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// Node states.
    pub nodes: NodeBoard,
    /// Problems that need an operator.
    pub alerts: Alerts,
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Problems running nodes report, shared between the nodes and the status endpoint.
#[derive(Debug, Clone, Default)]
pub struct Alerts(Arc<Mutex<BTreeMap<NodeId, String>>>);

impl Alerts {
    /// Node `node` has this problem now (replacing what it said before).
    pub fn raise(&self, node: &NodeId, message: String) {
        self.lock().insert(node.clone(), message);
    }

    /// Node `node` no longer has a problem.
    pub fn clear(&self, node: &NodeId) {
        self.lock().remove(node);
    }

    /// What is reported now.
    pub fn snapshot(&self) -> BTreeMap<NodeId, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What one reload did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadReport {
    /// Applied, nothing to do, or refused.
    pub result: ReloadResult,
    /// When it finished (RFC 3339, UTC).
    pub at: String,
    /// The change, node by node (names and keys only); empty when refused.
    pub summary: String,
    /// Why it was refused: one line per problem, `FILE:LINE:COL: error: KEY: MESSAGE`.
    pub errors: Vec<String>,
}

/// The outcome of a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReloadResult {
    /// The new config runs.
    Applied,
    /// The new config is the running one.
    Unchanged,
    /// The new config has errors or changes what cannot change live; the old one runs on.
    Refused,
}

impl ReloadReport {
    /// A report dated now.
    pub fn now(result: ReloadResult, summary: String, errors: Vec<String>) -> Self {
        Self {
            result,
            at: now(),
            summary,
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_reload_serialises_with_its_errors() {
        let status = DaemonStatus {
            generation: 3,
            last_reload: Some(ReloadReport {
                result: ReloadResult::Refused,
                at: "2026-11-25T12:00:00Z".into(),
                summary: String::new(),
                errors: vec!["a.toml:3:1: error: playlists.b.input: no such segmenter".into()],
            }),
            alerts: BTreeMap::from([(NodeId::master("m"), "variants not aligned".into())]),
            ..DaemonStatus::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["generation"], 3);
        assert_eq!(json["last_reload"]["result"], "refused");
        assert_eq!(
            json["last_reload"]["errors"][0],
            "a.toml:3:1: error: playlists.b.input: no such segmenter"
        );
        assert_eq!(json["alerts"]["masters.m"], "variants not aligned");
    }

    #[test]
    fn a_node_keeps_its_last_error_and_dates_its_state() {
        let board = NodeBoard::default();
        let old = NodeStatus::starting(&board, NodeId::sink("cdn"));
        let sink = NodeStatus::starting(&board, NodeId::sink("cdn"));
        sink.fail(NodeState::Retrying, "connection refused".into());
        sink.set(NodeState::Live);
        // The replaced start no longer reports.
        old.set(NodeState::Stopped);
        let nodes = board.snapshot();
        assert_eq!(nodes.len(), 1);
        assert_eq!((nodes[0].kind, nodes[0].name.as_str()), ("sink", "cdn"));
        assert_eq!(nodes[0].state, NodeState::Live);
        assert_eq!(nodes[0].last_error.as_deref(), Some("connection refused"));
        let json = serde_json::to_value(&nodes[0]).unwrap();
        assert_eq!(json["state"], "live");
        assert_eq!(
            (&json["node"], &json["kind"], &json["name"]),
            (&"sinks.cdn".into(), &"sink".into(), &"cdn".into())
        );
        board.remove(&NodeId::sink("cdn"));
        assert!(board.snapshot().is_empty());
    }

    #[test]
    fn a_segmenter_reports_its_last_cut_by_name_until_it_is_removed() {
        let board = NodeBoard::default();
        let segmenter = NodeStatus::starting(&board, NodeId::segmenter("cam"));
        let sink = NodeStatus::starting(&board, NodeId::sink("cam"));
        sink.segment_cut();
        assert!(board.seconds_since_last_segment().is_empty());
        segmenter.segment_cut();
        let feeds = || -> Vec<String> {
            let since = board.seconds_since_last_segment().into_iter();
            since.map(|(name, _)| name).collect()
        };
        assert_eq!(feeds(), ["cam"]);
        board.remove(&NodeId::sink("cam"));
        assert_eq!(feeds(), ["cam"]);
        board.remove(&NodeId::segmenter("cam"));
        assert!(feeds().is_empty());
    }

    #[test]
    fn the_board_lists_nodes_in_the_order_of_their_text() {
        let board = NodeBoard::default();
        for node in [
            NodeId::source("a"),
            NodeId::master("b"),
            NodeId::segmenter("c"),
            NodeId::sink("a"),
        ] {
            NodeStatus::starting(&board, node);
        }
        let nodes: Vec<String> = (board.snapshot().iter())
            .map(|report| report.node.to_string())
            .collect();
        assert_eq!(nodes, ["masters.b", "segmenters.c", "sinks.a", "sources.a"]);
    }

    #[test]
    fn a_restarting_node_stays_so_until_it_is_live() {
        let board = NodeBoard::default();
        let source = NodeStatus::starting(&board, NodeId::source("cam"));
        source.set(NodeState::Live);
        source.fail(NodeState::Restarting, "panicked: boom".into());
        let state = || board.snapshot()[0].state;
        // Reconnecting or stalling after the restart is still restarting.
        source.fail(NodeState::Retrying, "restarted after a panic".into());
        source.set(NodeState::Stalled);
        assert_eq!(state(), NodeState::Restarting);
        assert_eq!(
            board.snapshot()[0].last_error.as_deref(),
            Some("restarted after a panic")
        );
        source.set(NodeState::Live);
        assert_eq!(state(), NodeState::Live);
        source.fail(NodeState::Restarting, "panicked again".into());
        source.set(NodeState::Stopped);
        assert_eq!(state(), NodeState::Stopped);
        let json = serde_json::to_value(NodeState::Restarting).unwrap();
        assert_eq!(json, "restarting");
    }

    #[test]
    fn an_srt_link_shows_on_its_node_only_from_its_current_start() {
        let board = NodeBoard::default();
        let old = NodeStatus::starting(&board, NodeId::source("cam"));
        let source = NodeStatus::starting(&board, NodeId::source("cam"));
        old.srt_link(SrtLinkReport {
            peer: Some("10.0.0.9:1".into()),
            ..SrtLinkReport::default()
        });
        assert_eq!(board.snapshot()[0].srt, None);
        let json = serde_json::to_value(&board.snapshot()[0]).unwrap();
        assert!(json.get("srt").is_none(), "{json}");
        source.srt_link(SrtLinkReport {
            peer: Some("10.0.0.1:4000".into()),
            packets_received: 7,
            ..SrtLinkReport::default()
        });
        let json = serde_json::to_value(&board.snapshot()[0]).unwrap();
        assert_eq!(json["srt"]["peer"], "10.0.0.1:4000");
        assert_eq!(json["srt"]["packets_received"], 7);
    }
}
