//! The compiled graph: every node resolved, validated and ready to run. Produced by
//! `config::compile`; consumed by `check`, `graph` and the topology layer.
//!
//! Plain data only: no parsing, no I/O. Node names are unique per kind; the nodes of a template
//! instance (feed) are named `FEED.NODE`, and only they have a `.` in their name
//! ([`template_feed`]). References between
//! nodes are by name and always resolve (compile guarantees it). A node is named outside its
//! map by its [`NodeId`] (`id`: kind and name, shown `sinks.NAME`). Values with a rule of their
//! own (a URL, a multicast join, a command, a segment name pattern) are held checked, as the
//! types of the stages that run them ([`crate::source`], [`crate::playlist::naming`]), so that
//! no later stage parses them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

mod id;

pub use crate::playlist::views::{ArchiveNamePattern, ArchiveView, DvrView};
pub use crate::playlist::{SegmentFormat, SegmentNamePattern};
pub use crate::publish::key_naming::KeyPattern;
pub use crate::source::{
    CommandError, ExecCommand, HttpUrl, HttpUrlError, KeyLength, MulticastError, PassphraseLength,
    SrtMode, SrtPassphrase, SrtSource, UdpSource,
};
pub use id::{NodeId, NodeKind};
pub use streamrouter_ftp::FtpSettings;
pub use streamrouter_local::LocalSettings;
pub use streamrouter_opendal::settings::Secret;
pub use streamrouter_s3::S3Settings;
pub use streamrouter_scp::ScpSettings;

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
    /// Master playlists over aligned renditions, by node name.
    pub masters: BTreeMap<String, MasterNode>,
}

/// `[router]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    /// Where sequence numbers are kept across restarts (`state_dir`); none keeps them in memory.
    pub state_dir: Option<PathBuf>,
    /// Address of the built-in HTTP server for local sinks (`serve`).
    pub serve: Option<SocketAddr>,
    /// Address of the operator's endpoints (`listen`): `/metrics`, `/status`, `/healthz` and
    /// the watch page. Off unless set; meant for loopback or a management network.
    pub listen: Option<SocketAddr>,
    /// How long sinks may go on publishing once the daemon is told to stop (`stop_timeout`);
    /// what is still unsent then stays in their journals for the next run.
    pub stop_timeout: std::time::Duration,
    /// `[cluster]`: feeds shared over several routers through etcd; none runs alone.
    pub cluster: Option<ClusterSettings>,
}

/// Sinks drain this long at a stop unless `stop_timeout` says otherwise: well inside a service
/// manager's stop timeout even when every sink is down.
pub const DEFAULT_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            state_dir: None,
            serve: None,
            listen: None,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            cluster: None,
        }
    }
}

/// `[cluster]`: the etcd cluster through which routers share the feeds (each feed owned by
/// one router at a time). Only the settings; the daemon's cluster layer uses them. `Debug`
/// shows `password` as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `etcd` (required, at least one): the etcd endpoints, each `http://HOST[:PORT]` or
    /// `https://HOST[:PORT]` (written `HOST:PORT`, it is `http://HOST:PORT`), in the order
    /// written, without a trailing `/`.
    pub endpoints: Vec<String>,
    /// `node`: this router's name in the cluster (`[A-Za-z0-9._-]+`); none: the host name,
    /// which the daemon resolves at start.
    pub node: Option<String>,
    /// `lease`: how long a router's claim on its feeds lasts without renewal (default 5 s,
    /// from [`MIN_CLUSTER_LEASE`] to [`MAX_CLUSTER_LEASE`]).
    pub lease: std::time::Duration,
    /// `name`: the cluster's name, the prefix of its keys in etcd (`[A-Za-z0-9._-]+`, default
    /// [`DEFAULT_CLUSTER_NAME`]).
    pub name: String,
    /// `user`: etcd user name (set exactly when `password` is).
    pub user: Option<String>,
    /// `password`: etcd password (set exactly when `user` is).
    pub password: Option<String>,
    /// `ca_file`: the CA certificate(s) for `https://` endpoints, resolved like every path
    /// (not read by compile).
    pub ca_file: Option<PathBuf>,
}

/// `lease` unless written.
pub const DEFAULT_CLUSTER_LEASE: std::time::Duration = std::time::Duration::from_secs(5);
/// The shortest `lease`: shorter, one slow renewal would hand the feeds over.
pub const MIN_CLUSTER_LEASE: std::time::Duration = std::time::Duration::from_secs(2);
/// The longest `lease`: longer, the feeds of a router that died stay dark that long.
pub const MAX_CLUSTER_LEASE: std::time::Duration = std::time::Duration::from_secs(300);
/// `name` unless written.
pub const DEFAULT_CLUSTER_NAME: &str = "streamrouter";

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ClusterSettings {
            endpoints,
            node,
            lease,
            name,
            user,
            password,
            ca_file,
        } = self;
        f.debug_struct("ClusterSettings")
            .field("endpoints", endpoints)
            .field("node", node)
            .field("lease", lease)
            .field("name", name)
            .field("user", user)
            .field("password", &password.as_ref().map(|_| "***"))
            .field("ca_file", ca_file)
            .finish()
    }
}

/// The feed (template instance) a node was made by, from its name: a template instance is
/// named `FEED.NODE`, and no other node name has a `.` (compile refuses it).
pub fn template_feed(name: &str) -> Option<&str> {
    name.split_once('.').map(|(feed, _)| feed)
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
    /// `udp`: datagrams on `bind`, optionally joining a multicast `group` (on `interface`).
    Udp(UdpSource),
    /// `tcp`: one stream, accepted (`listen`) or dialled (`connect`).
    Tcp(TcpMode),
    /// `http`: an HTTP GET whose body is the stream (`url`); reconnects.
    Http {
        /// `url` (http://; https:// is refused until the build has TLS).
        url: HttpUrl,
    },
    /// `exec`: a child process writing TS to its stdout (`command`); restarted with backoff.
    Exec {
        /// `command`: program and arguments, not run through a shell.
        command: ExecCommand,
    },
    /// `srt`: MPEG-TS over SRT as listener (many feeds on one port by `stream_id`), caller or
    /// rendezvous, optionally encrypted (`passphrase`, `pbkeylen`), with `latency`.
    Srt(SrtSource),
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
    /// Cut on the PTS grid so renditions line up: set by compile when this segmenter feeds a
    /// variant of a master playlist.
    pub aligned: bool,
}

/// `[masters.NAME]`: a master playlist over renditions of one program.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterNode {
    /// Node name.
    pub name: String,
    /// `variants`: playlists, in the order the master lists them. Their segmenters share one
    /// `target_duration` and cut aligned (compile checks and sets it).
    pub variants: Vec<String>,
    /// `name`: the master playlist's file name (default `NAME.m3u8`).
    pub file_name: String,
    /// `archive_name`: the archive masters' name pattern, as written (default: the file name
    /// with `-{start:%Y%m%dT%H%M%SZ}` before its extension, see
    /// [`crate::playlist::master::default_archive_name`]). Written, every variant must have
    /// an archive on the same periods (compile checks it).
    pub archive_name: Option<ArchiveNamePattern>,
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
    pub segment_name: SegmentNamePattern,
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
    /// `[playlists.NAME.dvr]`: a time-shift view over the same segments (none: no such view).
    pub dvr: Option<DvrView>,
    /// `[playlists.NAME.archive]`: one recording per UTC-aligned period (none: no archives).
    pub archive: Option<ArchiveView>,
    /// `segment_format`: `ts` (default) or `fmp4` (segments remuxed to CMAF fragments).
    pub segment_format: SegmentFormat,
    /// `init_name`: the init segments' name pattern with `{n}` (default `NAME-init-{n}.mp4`);
    /// only used with `segment_format = "fmp4"`.
    pub init_name: String,
    /// `[playlists.NAME.encryption]`: segments encrypted (none: in the clear).
    pub encryption: Option<PlaylistEncryption>,
}

/// `[playlists.NAME.encryption]`: every segment encrypted whole, its key stored (at the key
/// sink, or at the playlist's own sinks) before any playlist naming it is published.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistEncryption {
    /// `method`: only `AES-128` (whole segment, CBC, PKCS#7) for now.
    pub method: EncryptionMethod,
    /// `rotate_every`: a new key every N segments; 0 keeps one key (default 0).
    pub rotate_every: u64,
    /// `key_name`: the key objects' names, with `{key}` or `{key:0N}` (default
    /// `NAME-{key:04}.key`), a relative path in the sink that stores them.
    pub key_name: KeyPattern,
    /// `key_uri`: the URI written in `#EXT-X-KEY`, `{key}` its number (required with
    /// `key_sink`); `None`: the key object's name, relative to the playlist like segments.
    pub key_uri: Option<KeyPattern>,
    /// `key_sink`: the sink that stores the keys; `None`: the playlist's own sinks.
    pub key_sink: Option<String>,
}

/// `method` of `[playlists.NAME.encryption]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionMethod {
    /// `AES-128`: RFC 8216 §4.3.2.4, the whole segment with AES-128-CBC and PKCS#7 padding.
    Aes128,
}

/// `[sinks.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkNode {
    /// Node name.
    pub name: String,
    /// `inputs`: playlists, with every variant of each master in `masters`.
    pub inputs: Vec<String>,
    /// The masters among `inputs` as written: the sink publishes each master playlist too.
    pub masters: Vec<String>,
    /// Where to publish.
    pub kind: SinkKind,
    /// `delete_grace`: extra time an expired segment stays before it is deleted, beyond what
    /// RFC 8216 §6.2.2 requires, for CDN caches (`"30s"`, `"2m"` or seconds; default 0).
    pub delete_grace: std::time::Duration,
    /// `spool_limit`: unsent segment bytes this sink may hold while it is slow or down, in
    /// memory and then on disk (`"1GiB"`, `"500MB"` or bytes; default 1 GiB). Beyond it the
    /// oldest unsent segments are dropped and the playlist marks the gap.
    pub spool_limit: u64,
    /// Header overrides (`segment_content_type`, `segment_cache_control`,
    /// `playlist_content_type`, `playlist_cache_control`); `None` keeps the defaults.
    pub headers: HeaderOverrides,
}

/// Content-Type and Cache-Control a sink stores instead of the defaults (`video/mp2t` with a
/// year-long immutable lifetime for segments; `application/vnd.apple.mpegurl` with `max-age`
/// of half a target duration for playlists).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderOverrides {
    /// `segment_content_type`.
    pub segment_content_type: Option<String>,
    /// `segment_cache_control`.
    pub segment_cache_control: Option<String>,
    /// `playlist_content_type`.
    pub playlist_content_type: Option<String>,
    /// `playlist_cache_control`.
    pub playlist_cache_control: Option<String>,
}

/// The kinds of sink (`type = ...`).
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// `local`: a directory (`path`, resolved).
    Local(LocalSettings),
    /// `s3`: a bucket on AWS S3 or any S3-compatible server (the keys are the backend's).
    S3(S3Settings),
    /// `ftp`: a directory on an FTP server (`password_file` already read into `password`).
    Ftp(FtpSettings),
    /// `scp`: a directory on an SSH server (SFTP underneath), its paths resolved.
    Scp(ScpSettings),
    /// `plugin`: a sink from a shared library, loaded at start.
    Plugin(PluginSink),
}

/// `type = "plugin"`. Compile only resolves the path; loading the library and creating the
/// instance happen at `check` and at start, and report at `at`. `Debug` shows the option keys,
/// never their values: they may be credentials.
#[derive(Clone, PartialEq)]
pub struct PluginSink {
    /// `library` (required): the shared library.
    pub library: PathBuf,
    /// `[sinks.NAME.options]` as TOML text (after `${VAR}` substitution), handed to the
    /// plugin as is; empty when there is no such table.
    pub options: String,
    /// Where `library` and `options` are written, for the findings of loading.
    pub at: PluginPlaces,
}

impl std::fmt::Debug for PluginSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSink")
            .field("library", &self.library)
            .field("options", &super::plugin_sink::option_keys(&self.options))
            .field("at", &self.at)
            .finish()
    }
}

/// Where a plugin sink's keys are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginPlaces {
    /// The `library` value.
    pub library: Location,
    /// The `options` table, or the sink's table when there is none.
    pub options: Location,
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
