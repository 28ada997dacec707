//! Which keys of a node differ between two compiled graphs: a plain field-by-field comparison,
//! naming each field by the TOML key a user writes (`name` for a playlist's file name, `loop`
//! for a file source's `looped`, `password` whether it came from `password` or
//! `password_file`).
//!
//! Where a key's change may apply to a running node (a playlist's `window`) or needs the node
//! started again (its `input`), the comparison says so for that key, next to it: [`KeyChanges`]
//! (`live` or `restart`), and the diff classifies the node from that alone.
//!
//! Owns nothing but the comparison. Every node struct is destructured exhaustively, so a field
//! added to the model is a compile error here until it is compared; a backend's settings
//! (`s3`, `ftp`, `scp`) are compared key by key by the backend's settings type itself, so a
//! key added there needs nothing here, and a udp source's settings are private to their type
//! ([`super::super::model::UdpSource`]) and compared through its getters. Secret values
//! ([`super::super::model::Secret`]) are compared but only their key is ever returned. The
//! node's own name is not compared: it is the key the graph stores the node under, so two nodes
//! compared here always have the same one.

use streamrouter_opendal::settings::changed_keys;

use super::super::model::{
    ArchiveView, ClusterSettings, DvrView, HeaderOverrides, MasterNode, PlaylistNode, PluginSink,
    RouterSettings, SegmenterNode, SinkKind, SinkNode, SourceKind, SourceNode, SrtMode, SrtSource,
    TcpMode,
};

/// The keys whose values differ between `self` (the running config) and `new`, in declaration
/// order; empty when they are equal. Key names only, never values.
pub trait ChangedKeys {
    /// The differing keys.
    fn changed_keys(&self, new: &Self) -> Vec<&'static str>;
}

/// The keys whose values differ between `self` (the running config) and `new`, each declared
/// as applying live or not: for the nodes where that differs from key to key.
pub trait KeyEffects {
    /// The differing keys and how they apply.
    fn key_changes(&self, new: &Self) -> KeyChanges;
}

/// Differing keys of a node, in declaration order, and whether one of them cannot apply to the
/// running node. Key names only, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyChanges {
    keys: Vec<&'static str>,
    restart: bool,
}

impl KeyChanges {
    /// The differing keys (empty when the nodes are equal).
    pub fn keys(&self) -> &[&'static str] {
        &self.keys
    }

    /// Every differing key applies to the running node (true when none differs).
    pub fn all_live(&self) -> bool {
        !self.restart
    }

    /// `key` applies to the running node when it changes.
    fn live<T: PartialEq + ?Sized>(&mut self, key: &'static str, old: &T, new: &T) {
        if old != new {
            self.keys.push(key);
        }
    }

    /// `key` cannot change in the running node: the node starts again (the daemon, for a
    /// router setting).
    fn restart<T: PartialEq + ?Sized>(&mut self, key: &'static str, old: &T, new: &T) {
        if old != new {
            self.keys.push(key);
            self.restart = true;
        }
    }
}

/// Collects the names of differing fields.
#[derive(Default)]
struct Keys(Vec<&'static str>);

impl Keys {
    fn compare<T: PartialEq + ?Sized>(&mut self, key: &'static str, old: &T, new: &T) {
        if old != new {
            self.0.push(key);
        }
    }
}

/// Every router setting needs a restart of the daemon (see the `diff` module doc for why); a
/// setting declared `live` here would also need the topology to apply it, and nothing does yet.
impl KeyEffects for RouterSettings {
    /// Named `router.KEY` and `cluster.KEY` (`cluster` when the table is added or removed), as
    /// in the refusal message.
    fn key_changes(&self, new: &Self) -> KeyChanges {
        let RouterSettings {
            state_dir,
            serve,
            listen,
            stop_timeout,
            cluster,
        } = self;
        let mut keys = KeyChanges::default();
        keys.restart("router.state_dir", state_dir, &new.state_dir);
        keys.restart("router.serve", serve, &new.serve);
        keys.restart("router.listen", listen, &new.listen);
        keys.restart("router.stop_timeout", stop_timeout, &new.stop_timeout);
        cluster_keys(cluster.as_ref(), new.cluster.as_ref(), &mut keys);
        keys
    }
}

/// `[cluster]` is the daemon's membership of the cluster (its etcd session, its lease, its
/// name there): every key restarts the daemon, like a router setting. The password is
/// compared, never shown.
fn cluster_keys(
    old: Option<&ClusterSettings>,
    new: Option<&ClusterSettings>,
    keys: &mut KeyChanges,
) {
    let (Some(old), Some(new)) = (old, new) else {
        keys.restart("cluster", &old, &new);
        return;
    };
    let ClusterSettings {
        endpoints,
        node,
        lease,
        name,
        user,
        password,
        ca_file,
    } = old;
    keys.restart("cluster.etcd", endpoints, &new.endpoints);
    keys.restart("cluster.node", node, &new.node);
    keys.restart("cluster.lease", lease, &new.lease);
    keys.restart("cluster.name", name, &new.name);
    keys.restart("cluster.user", user, &new.user);
    keys.restart("cluster.password", password, &new.password);
    keys.restart("cluster.ca_file", ca_file, &new.ca_file);
}

impl ChangedKeys for SourceNode {
    fn changed_keys(&self, new: &Self) -> Vec<&'static str> {
        let SourceNode { name: _, kind } = self;
        source_kind_keys(kind, &new.kind)
    }
}

/// A change of `type` is reported as `type` alone: every key of the old type is gone anyway.
fn source_kind_keys(old: &SourceKind, new: &SourceKind) -> Vec<&'static str> {
    let mut keys = Keys::default();
    match (old, new) {
        (SourceKind::Stdin, SourceKind::Stdin) => {}
        (
            SourceKind::File {
                path,
                realtime,
                looped,
            },
            SourceKind::File {
                path: new_path,
                realtime: new_realtime,
                looped: new_looped,
            },
        ) => {
            keys.compare("path", path, new_path);
            keys.compare("realtime", realtime, new_realtime);
            keys.compare("loop", looped, new_looped);
        }
        (SourceKind::Udp(udp), SourceKind::Udp(new_udp)) => {
            // Its fields are private to the source (its rule holds them together).
            keys.compare("bind", &udp.bind(), &new_udp.bind());
            keys.compare("group", &udp.group(), &new_udp.group());
            keys.compare("interface", &udp.interface(), &new_udp.interface());
        }
        (SourceKind::Tcp(mode), SourceKind::Tcp(new_mode)) => match (mode, new_mode) {
            (TcpMode::Listen(old), TcpMode::Listen(new)) => keys.compare("listen", old, new),
            (TcpMode::Connect(old), TcpMode::Connect(new)) => keys.compare("connect", old, new),
            // One key replaced by the other.
            _ => keys.0.extend(["listen", "connect"]),
        },
        (SourceKind::Http { url }, SourceKind::Http { url: new_url }) => {
            keys.compare("url", url, new_url);
        }
        (
            SourceKind::Exec { command },
            SourceKind::Exec {
                command: new_command,
            },
        ) => {
            keys.compare("command", command, new_command);
        }
        (SourceKind::Srt(srt), SourceKind::Srt(new_srt)) => srt_keys(srt, new_srt, &mut keys),
        _ => keys.0.push("type"),
    }
    keys.0
}

/// `mode` when the mode changes (its addresses come with it), else its addresses.
fn srt_keys(old: &SrtSource, new: &SrtSource, keys: &mut Keys) {
    let SrtSource {
        mode,
        stream_id,
        passphrase,
        pbkeylen,
        latency,
    } = old;
    match (mode, &new.mode) {
        (SrtMode::Listener { bind }, SrtMode::Listener { bind: new_bind }) => {
            keys.compare("bind", bind, new_bind);
        }
        (
            SrtMode::Caller { connect },
            SrtMode::Caller {
                connect: new_connect,
            },
        ) => {
            keys.compare("connect", connect, new_connect);
        }
        (
            SrtMode::Rendezvous { bind, connect },
            SrtMode::Rendezvous {
                bind: new_bind,
                connect: new_connect,
            },
        ) => {
            keys.compare("bind", bind, new_bind);
            keys.compare("connect", connect, new_connect);
        }
        _ => keys.0.push("mode"),
    }
    keys.compare("stream_id", stream_id, &new.stream_id);
    keys.compare("passphrase", passphrase, &new.passphrase);
    keys.compare("pbkeylen", pbkeylen, &new.pbkeylen);
    keys.compare("latency", latency, &new.latency);
}

impl ChangedKeys for SegmenterNode {
    fn changed_keys(&self, new: &Self) -> Vec<&'static str> {
        let SegmenterNode {
            name: _,
            input,
            target_duration,
            repeat_ts_headers,
            aligned,
        } = self;
        let mut keys = Keys::default();
        keys.compare("input", input, &new.input);
        keys.compare("target_duration", target_duration, &new.target_duration);
        // Taken from the segmenter's playlists by compile.
        keys.compare(
            "repeat_ts_headers",
            repeat_ts_headers,
            &new.repeat_ts_headers,
        );
        // Set by compile when the segmenter feeds a master's variant.
        keys.compare("aligned", aligned, &new.aligned);
        keys.0
    }
}

impl ChangedKeys for PlaylistNode {
    fn changed_keys(&self, new: &Self) -> Vec<&'static str> {
        self.key_changes(new).keys
    }
}

/// Live keys only shape the text each sink renders and what it deletes (`endlist_on_stop` is
/// only read when the daemon stops; the `dvr` and `archive` views are the publishing plan's,
/// compared key by key); they apply to the next playlist version. The others are
/// the playlist's timeline (`input`) or what and where its objects are at every sink (`name`,
/// `segment_name`, `segment_format`, `init_name`): the playlist restarts. See the `diff` module doc.
impl KeyEffects for PlaylistNode {
    fn key_changes(&self, new: &Self) -> KeyChanges {
        let PlaylistNode {
            name: _,
            input,
            file_name,
            segment_name,
            window,
            repeat_ts_headers,
            base_url,
            delete_expired,
            program_date_time,
            endlist_on_stop,
            dvr,
            archive,
            segment_format,
            init_name,
            encryption,
        } = self;
        let mut keys = KeyChanges::default();
        keys.restart("input", input, &new.input);
        // What the segments are and where their init segments live at every sink.
        keys.restart("segment_format", segment_format, &new.segment_format);
        keys.restart("init_name", init_name, &new.init_name);
        // Which key seals the next segment and where keys are stored.
        keys.restart("encryption", encryption, &new.encryption);
        keys.restart("name", file_name, &new.file_name);
        keys.restart("segment_name", segment_name, &new.segment_name);
        keys.live("window", window, &new.window);
        // Its EXT-X-INDEPENDENT-SEGMENTS tag; its segmenter restarts for the headers.
        keys.live(
            "repeat_ts_headers",
            repeat_ts_headers,
            &new.repeat_ts_headers,
        );
        keys.live("base_url", base_url, &new.base_url);
        keys.live("delete_expired", delete_expired, &new.delete_expired);
        keys.live(
            "program_date_time",
            program_date_time,
            &new.program_date_time,
        );
        keys.live("endlist_on_stop", endlist_on_stop, &new.endlist_on_stop);
        dvr_keys(dvr.as_ref(), new.dvr.as_ref(), &mut keys);
        archive_keys(archive.as_ref(), new.archive.as_ref(), &mut keys);
        keys
    }
}

/// `dvr` when the view is added or removed, else its keys (`dvr.name`, `dvr.duration`). All
/// live: the playlist's publishing plan starts, moves or drops the view at the next version.
fn dvr_keys(old: Option<&DvrView>, new: Option<&DvrView>, keys: &mut KeyChanges) {
    let (Some(old), Some(new)) = (old, new) else {
        keys.live("dvr", &old, &new);
        return;
    };
    let DvrView {
        file_name,
        duration,
    } = old;
    keys.live("dvr.name", file_name, &new.file_name);
    keys.live("dvr.duration", duration, &new.duration);
}

/// `archive` when the view is added or removed, else its keys (`archive.every`,
/// `archive.name`, `archive.retain`). All live, like the DVR view's.
fn archive_keys(old: Option<&ArchiveView>, new: Option<&ArchiveView>, keys: &mut KeyChanges) {
    let (Some(old), Some(new)) = (old, new) else {
        keys.live("archive", &old, &new);
        return;
    };
    let ArchiveView {
        every,
        name,
        retain,
    } = old;
    keys.live("archive.every", every, &new.every);
    keys.live("archive.name", name, &new.name);
    keys.live("archive.retain", retain, &new.retain);
}

impl ChangedKeys for MasterNode {
    fn changed_keys(&self, new: &Self) -> Vec<&'static str> {
        let MasterNode {
            name: _,
            variants,
            file_name,
            archive_name,
        } = self;
        let mut keys = Keys::default();
        // The order matters: it is the order the master lists them in.
        keys.compare("variants", variants, &new.variants);
        keys.compare("name", file_name, &new.file_name);
        keys.compare("archive_name", archive_name, &new.archive_name);
        keys.0
    }
}

impl ChangedKeys for SinkNode {
    fn changed_keys(&self, new: &Self) -> Vec<&'static str> {
        let SinkNode {
            name: _,
            inputs,
            masters,
            kind,
            delete_grace,
            spool_limit,
            headers,
        } = self;
        let mut keys = Keys::default();
        // Both come from the one `inputs` key.
        if inputs != &new.inputs || masters != &new.masters {
            keys.0.push("inputs");
        }
        keys.0.extend(sink_kind_keys(kind, &new.kind));
        keys.compare("delete_grace", delete_grace, &new.delete_grace);
        keys.compare("spool_limit", spool_limit, &new.spool_limit);
        keys.0.extend(header_keys(headers, &new.headers));
        keys.0
    }
}

/// A change of `type` is reported as `type` alone, like for sources.
fn sink_kind_keys(old: &SinkKind, new: &SinkKind) -> Vec<&'static str> {
    match (old, new) {
        // A backend's settings: every key of its type, compared through its serialized form.
        (SinkKind::Local(old), SinkKind::Local(new)) => changed_keys(old, new),
        (SinkKind::S3(old), SinkKind::S3(new)) => changed_keys(old, new),
        (SinkKind::Ftp(old), SinkKind::Ftp(new)) => changed_keys(old, new),
        (SinkKind::Scp(old), SinkKind::Scp(new)) => changed_keys(old, new),
        (SinkKind::Plugin(old), SinkKind::Plugin(new)) => {
            // Where the keys are written (`at`) is not a change of the sink.
            let PluginSink {
                library,
                options,
                at: _,
            } = old;
            let mut keys = Vec::new();
            if *library != new.library {
                keys.push("library");
            }
            if *options != new.options {
                keys.push("options");
            }
            keys
        }
        _ => vec!["type"],
    }
}

fn header_keys(old: &HeaderOverrides, new: &HeaderOverrides) -> Vec<&'static str> {
    let HeaderOverrides {
        segment_content_type,
        segment_cache_control,
        playlist_content_type,
        playlist_cache_control,
    } = old;
    let mut keys = Keys::default();
    keys.compare(
        "segment_content_type",
        segment_content_type,
        &new.segment_content_type,
    );
    keys.compare(
        "segment_cache_control",
        segment_cache_control,
        &new.segment_cache_control,
    );
    keys.compare(
        "playlist_content_type",
        playlist_content_type,
        &new.playlist_content_type,
    );
    keys.compare(
        "playlist_cache_control",
        playlist_cache_control,
        &new.playlist_cache_control,
    );
    keys.0
}
