//! The compiled graph: every node resolved, validated and ready to run. Produced by
//! [`super::compile`]; consumed by `check`, `graph` and the topology layer.
//!
//! Plain data only: no parsing, no I/O. Node names are unique per kind; references between
//! nodes are by name and always resolve (compile guarantees it).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// A whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Process-wide settings.
    pub router: RouterSettings,
    /// Where bytes come from, by node name.
    pub sources: BTreeMap<String, SourceNode>,
    /// Cutting settings, by node name.
    pub segmenters: BTreeMap<String, SegmenterNode>,
    /// Media playlists, by node name.
    pub playlists: BTreeMap<String, PlaylistNode>,
    /// Publishing destinations, by node name.
    pub sinks: BTreeMap<String, SinkNode>,
}

/// `[router]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouterSettings {
    /// Where sequence numbers are kept across restarts (`state_dir`); none keeps them in memory.
    pub state_dir: Option<PathBuf>,
    /// Address of the built-in HTTP server for local sinks (`serve`).
    pub serve: Option<SocketAddr>,
}

/// `[sources.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceNode {
    /// Node name (for template instances: `FEED.NODE`).
    pub name: String,
    /// What to read.
    pub kind: SourceKind,
}

/// The kinds of live input (`type = ...`).
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// `stdin`: the process's standard input (at most one source may use it).
    Stdin,
    /// `file`: a file, optionally paced in real time and looped.
    File {
        /// `path`.
        path: PathBuf,
        /// `realtime`: pace by PCR/PTS like a live encoder (default false).
        realtime: bool,
        /// `loop`: start again at the end (default false); each loop is a discontinuity.
        looped: bool,
    },
    /// `udp`: datagrams on `bind`, optionally joining a multicast `group`.
    Udp {
        /// `bind`.
        bind: SocketAddr,
        /// `group`: IPv4 multicast group to join.
        group: Option<Ipv4Addr>,
        /// `interface`: local interface address for the multicast join (default any).
        interface: Option<Ipv4Addr>,
    },
    /// `tcp`: one stream, accepted (`listen`) or dialled (`connect`).
    Tcp(TcpMode),
    /// `http`: an HTTP GET whose body is the stream (`url`); reconnects.
    Http {
        /// `url` (http://; https:// is refused until the build has TLS).
        url: String,
    },
    /// `exec`: a child process writing TS to its stdout (`command`); restarted with backoff.
    Exec {
        /// `command`: program and arguments, not run through a shell.
        command: Vec<String>,
    },
}

/// How a TCP source gets its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpMode {
    /// `listen = "ip:port"`: accept one sender at a time.
    Listen(SocketAddr),
    /// `connect = "ip:port"`: dial out, redial with backoff.
    Connect(SocketAddr),
}

/// `[segmenters.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmenterNode {
    /// Node name.
    pub name: String,
    /// `input`: a source.
    pub input: String,
    /// `target_duration` in seconds (default 4).
    pub target_duration: f64,
    /// PAT/PMT at every segment start: from the `repeat_ts_headers` of the playlists fed by this
    /// segmenter (they must agree; default true).
    pub repeat_ts_headers: bool,
}

/// `[playlists.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistNode {
    /// Node name.
    pub name: String,
    /// `input`: a segmenter.
    pub input: String,
    /// `name`: the playlist's file name (default `NAME.m3u8`).
    pub file_name: String,
    /// `segment_name`: segment file name pattern with `{seq}` or `{seq:0N}` (default
    /// `NAME-{seq:05}.ts`).
    pub segment_name: String,
    /// `window`: segments listed; 0 keeps all (default 6).
    pub window: usize,
    /// `repeat_ts_headers` (default true).
    pub repeat_ts_headers: bool,
    /// `base_url`: URI prefix written before each segment name.
    pub base_url: Option<String>,
    /// `delete_expired` (default true).
    pub delete_expired: bool,
    /// `program_date_time`: EXT-X-PROGRAM-DATE-TIME on each segment (default true).
    pub program_date_time: bool,
    /// `endlist_on_stop`: EXT-X-ENDLIST when the daemon stops (default true).
    pub endlist_on_stop: bool,
}

/// `[sinks.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkNode {
    /// Node name.
    pub name: String,
    /// `inputs`: playlists.
    pub inputs: Vec<String>,
    /// Where to publish.
    pub kind: SinkKind,
}

/// The kinds of sink (`type = ...`).
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// `local`: a directory (`path`).
    Local {
        /// `path`.
        path: PathBuf,
    },
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The config is refused.
    Error,
    /// Accepted, but probably not what was meant.
    Warning,
}

/// One finding of compile: where, which key, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// File and position (of the key, or of its table when the key is missing).
    pub location: Location,
    /// Dotted key path, e.g. `playlists.cam1.window`.
    pub key: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {severity}: ",
            self.location.file.display(),
            self.location.line,
            self.location.column,
        )?;
        // Syntax errors and unreadable files have no key.
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}
