//! What the daemon says about itself: the config generation running and what the last reload
//! did, kept for operators (served as JSON at `/status` by the HTTP server).
//!
//! Plain data, serialisable; never holds a config value (secrets stay out: errors and
//! summaries name files, lines, nodes and keys only).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// The daemon's state as reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DaemonStatus {
    /// Applied configs so far: 1 for the one the daemon started with, +1 per applied reload.
    pub generation: u64,
    /// The last reload, if any was tried.
    pub last_reload: Option<ReloadReport>,
    /// Problems nodes report while they run (e.g. a master's variants not aligned), by node.
    pub alerts: BTreeMap<String, String>,
    /// Every running node and its state.
    pub nodes: Vec<NodeReport>,
    /// The playlists of local sinks, as served by `[router] serve`.
    pub streams: Vec<StreamLink>,
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
    pub node: String,
    /// `source`, `segmenter`, `playlist`, `master` or `sink`.
    pub kind: String,
    /// The node's name.
    pub name: String,
    /// Its state.
    pub state: NodeState,
    /// The last error it met, if any (names and causes; never a secret).
    pub last_error: Option<String>,
    /// When it entered its state (RFC 3339, UTC).
    pub since: String,
    /// Which start of the node this is (a restarted node's old task no longer reports).
    #[serde(skip)]
    incarnation: u64,
}

/// The states of the running nodes, written by their tasks, read by the status endpoint.
#[derive(Debug, Clone, Default)]
pub struct NodeBoard(Arc<Mutex<Entries>>);

#[derive(Debug, Default)]
struct Entries {
    nodes: BTreeMap<String, NodeReport>,
    /// When each segmenter last cut a segment, by node name.
    last_segment: BTreeMap<String, std::time::Instant>,
    incarnations: u64,
}

impl NodeBoard {
    /// A new start of node `node` (`KIND.NAME`): its entry, starting; the number of this start.
    fn start(&self, node: &str) -> u64 {
        let mut entries = self.lock();
        entries.incarnations += 1;
        let incarnation = entries.incarnations;
        let (table, name) = node.split_once('.').unwrap_or(("", node));
        let report = NodeReport {
            node: node.to_owned(),
            kind: table.strip_suffix('s').unwrap_or(table).to_owned(),
            name: name.to_owned(),
            state: NodeState::Starting,
            last_error: None,
            since: now(),
            incarnation,
        };
        entries.nodes.insert(node.to_owned(), report);
        incarnation
    }

    /// Start `incarnation` of node `node` is now in `state`; `error`, when given, becomes its
    /// last error. Nothing happens when the node was removed or started again since. A node
    /// restarting after a panic stays so until it is live again or stops (a restarted source
    /// reconnecting is still restarting).
    fn set(&self, node: &str, incarnation: u64, state: NodeState, error: Option<String>) {
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

    /// Node `node` is gone (removed by a reload).
    pub fn remove(&self, node: &str) {
        let mut entries = self.lock();
        entries.nodes.remove(node);
        if let Some(name) = node.strip_prefix("segmenters.") {
            entries.last_segment.remove(name);
        }
    }

    /// Every node, by name.
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
    node: String,
    incarnation: u64,
}

impl NodeStatus {
    /// A new entry for node `node` (`KIND.NAME`), starting; it replaces what an earlier start
    /// of the node reported.
    pub fn starting(board: &NodeBoard, node: String) -> Self {
        let incarnation = board.start(&node);
        Self {
            board: board.clone(),
            node,
            incarnation,
        }
    }

    /// The node's name on the board (`KIND.NAME`).
    pub fn node(&self) -> &str {
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

    /// A segmenter cut a segment now.
    pub fn segment_cut(&self) {
        if let Some(name) = self.node.strip_prefix("segmenters.") {
            let mut entries = self.board.lock();
            entries
                .last_segment
                .insert(name.to_owned(), std::time::Instant::now());
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
pub struct Alerts(Arc<Mutex<BTreeMap<String, String>>>);

impl Alerts {
    /// Node `node` has this problem now (replacing what it said before).
    pub fn raise(&self, node: &str, message: String) {
        self.lock().insert(node.to_owned(), message);
    }

    /// Node `node` no longer has a problem.
    pub fn clear(&self, node: &str) {
        self.lock().remove(node);
    }

    /// What is reported now.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
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
            alerts: BTreeMap::from([("masters.m".into(), "variants not aligned".into())]),
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
        let old = NodeStatus::starting(&board, "sinks.cdn".into());
        let sink = NodeStatus::starting(&board, "sinks.cdn".into());
        sink.fail(NodeState::Retrying, "connection refused".into());
        sink.set(NodeState::Live);
        // The replaced start no longer reports.
        old.set(NodeState::Stopped);
        let nodes = board.snapshot();
        assert_eq!(nodes.len(), 1);
        assert_eq!(
            (nodes[0].kind.as_str(), nodes[0].name.as_str()),
            ("sink", "cdn")
        );
        assert_eq!(nodes[0].state, NodeState::Live);
        assert_eq!(nodes[0].last_error.as_deref(), Some("connection refused"));
        let json = serde_json::to_value(&nodes[0]).unwrap();
        assert_eq!(json["state"], "live");
        board.remove("sinks.cdn");
        assert!(board.snapshot().is_empty());
    }

    #[test]
    fn a_restarting_node_stays_so_until_it_is_live() {
        let board = NodeBoard::default();
        let source = NodeStatus::starting(&board, "sources.cam".into());
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
}
