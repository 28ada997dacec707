//! Node identity: the five kinds of node ([`NodeKind`]) and a node's id ([`NodeId`], a kind
//! and a name), the one way every part of the daemon names a node: config diagnostics, the
//! reload diff, the topology's status board and log spans, `/status`.
//!
//! Plain data only: an id is written `KIND.NAME` with the kind's table (`sinks.cdn`,
//! `segmenters.feed1.cam`), and nothing here parses config or knows what a node does.

use std::fmt;
use std::sync::Arc;

/// The five kinds of node, in the order of the graph (data-flow order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// `[sources.NAME]`.
    Source,
    /// `[segmenters.NAME]`.
    Segmenter,
    /// `[playlists.NAME]`.
    Playlist,
    /// `[masters.NAME]`.
    Master,
    /// `[sinks.NAME]`.
    Sink,
}

impl NodeKind {
    /// Every kind, in graph order.
    pub const ALL: [NodeKind; 5] = [
        Self::Source,
        Self::Segmenter,
        Self::Playlist,
        Self::Master,
        Self::Sink,
    ];

    /// The config table that declares this kind: `sources`, `segmenters`, `playlists`,
    /// `masters`, `sinks`.
    pub fn table(self) -> &'static str {
        match self {
            Self::Source => "sources",
            Self::Segmenter => "segmenters",
            Self::Playlist => "playlists",
            Self::Master => "masters",
            Self::Sink => "sinks",
        }
    }

    /// The kind whose table is `table`.
    pub fn from_table(table: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.table() == table)
    }

    /// `source`, `segmenter`, `playlist`, `master`, `sink`.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Segmenter => "segmenter",
            Self::Playlist => "playlist",
            Self::Master => "master",
            Self::Sink => "sink",
        }
    }
}

/// A node of the graph: its kind and its name (names are unique per kind only: `cam1` can be
/// all five). Shown, and serialised, as `KIND.NAME` (`sinks.cdn`). Cheap to clone (the name is
/// shared). Ordered like that text, so a map keyed by ids lists them as one keyed by the text
/// would: by table (alphabetically), then name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId {
    kind: NodeKind,
    name: Arc<str>,
}

impl NodeId {
    /// Node `name` of kind `kind`.
    pub fn new(kind: NodeKind, name: &str) -> Self {
        Self {
            kind,
            name: Arc::from(name),
        }
    }

    /// `[sources.NAME]`.
    pub fn source(name: &str) -> Self {
        Self::new(NodeKind::Source, name)
    }

    /// `[segmenters.NAME]`.
    pub fn segmenter(name: &str) -> Self {
        Self::new(NodeKind::Segmenter, name)
    }

    /// `[playlists.NAME]`.
    pub fn playlist(name: &str) -> Self {
        Self::new(NodeKind::Playlist, name)
    }

    /// `[masters.NAME]`.
    pub fn master(name: &str) -> Self {
        Self::new(NodeKind::Master, name)
    }

    /// `[sinks.NAME]`.
    pub fn sink(name: &str) -> Self {
        Self::new(NodeKind::Sink, name)
    }

    /// The node's kind.
    pub fn kind(&self) -> NodeKind {
        self.kind
    }

    /// The node's name, without its kind.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id's text, `KIND.NAME`, with `.KEY` after it: the dotted path of one of the node's
    /// keys, as diagnostics name it.
    pub fn key(&self, key: &str) -> String {
        format!("{self}.{key}")
    }
}

impl Ord for NodeId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // No table is a prefix of another, so this is the order of the `KIND.NAME` texts.
        (self.kind.table(), &*self.name).cmp(&(other.kind.table(), &*other.name))
    }
}

impl PartialOrd for NodeId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.table(), self.name)
    }
}

/// As its text, `KIND.NAME` (also as a map key).
impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_shows_and_serialises_as_its_table_and_name() {
        let id = NodeId::segmenter("feed1.cam");
        assert_eq!(id.to_string(), "segmenters.feed1.cam");
        assert_eq!(id.key("input"), "segmenters.feed1.cam.input");
        assert_eq!((id.kind(), id.name()), (NodeKind::Segmenter, "feed1.cam"));
        let json = serde_json::to_value(&id).unwrap();
        assert_eq!(json, "segmenters.feed1.cam");
        let map = std::collections::BTreeMap::from([(NodeId::master("m"), 1)]);
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"masters.m":1}"#);
    }

    #[test]
    fn ids_sort_like_their_text() {
        let names = ["a", "a.b", "a-b", "b", "cam1", ""];
        let mut ids: Vec<NodeId> = NodeKind::ALL
            .into_iter()
            .flat_map(|kind| names.map(|name| NodeId::new(kind, name)))
            .collect();
        ids.sort();
        let texts: Vec<String> = ids.iter().map(NodeId::to_string).collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted);
    }

    #[test]
    fn every_kind_is_found_by_its_table() {
        for kind in NodeKind::ALL {
            assert_eq!(NodeKind::from_table(kind.table()), Some(kind));
            assert_eq!(format!("{}s", kind.noun()), kind.table());
        }
        assert_eq!(NodeKind::from_table("templates"), None);
    }
}
