//! Graph checks over linked nodes: one stdin, SRT listeners sharing a port by distinct stream ids, playlists of one segmenter agreeing on
//! `repeat_ts_headers` (and the segmenter taking their value), file name collisions at a sink's
//! place (a local directory, a bucket and prefix, a directory on a server, a plugin library
//! with its options) between playlists (their live and DVR files, archive names) and masters,
//! and unused nodes. A master's own graph
//! checks (its variants' durations, aligned cutting) are in `masters`.
//! Runs after `link` resolved every reference; changes nothing but the segmenters'
//! `repeat_ts_headers`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::diagnostics::Diagnostics;
use super::link::{Declared, Placed};
use super::model::{
    MasterNode, NodeKind, PlaylistNode, Severity, SinkKind, SourceKind, SourceNode, SrtMode,
};
use super::nodes::NodeDecl;
use super::playlist_views::view_pos;
use super::raw::Pos;

/// A segmenter repeats PAT/PMT for all its playlists or for none: they must agree.
pub(super) fn set_segmenter_headers(declared: &mut Declared, diagnostics: &mut Diagnostics) {
    let mut first_reader: BTreeMap<&str, (&NodeDecl, bool)> = BTreeMap::new();
    for playlist in &declared.playlists {
        // A playlist in error may hold a default instead of what was written.
        let Some(node) = playlist.built.node.as_ref().filter(|_| playlist.built.ok) else {
            continue;
        };
        let repeat = node.repeat_ts_headers;
        match first_reader.get(node.input.as_str()) {
            None => {
                first_reader.insert(node.input.as_str(), (&playlist.decl, repeat));
            }
            Some((first, first_repeat)) if *first_repeat != repeat => {
                let message = format!(
                    "playlist `{}` reads the same segmenter `{}` with repeat_ts_headers = \
                     {first_repeat}; playlists of one segmenter must agree (it cuts once for all)",
                    first.name, node.input
                );
                let pos = playlist.decl.key_pos("repeat_ts_headers");
                playlist.decl.report(
                    diagnostics,
                    Severity::Error,
                    pos,
                    "repeat_ts_headers",
                    message,
                );
            }
            Some(_) => {}
        }
    }
    for segmenter in &mut declared.segmenters {
        if let Some(node) = &mut segmenter.built.node {
            node.repeat_ts_headers = first_reader
                .get(node.name.as_str())
                .is_none_or(|(_, repeat)| *repeat);
        }
    }
}

pub(super) fn check_single_stdin(sources: &[Placed<SourceNode>], diagnostics: &mut Diagnostics) {
    let mut first: Option<&NodeDecl> = None;
    for source in sources {
        if !matches!(
            source.built.node,
            Some(SourceNode {
                kind: SourceKind::Stdin,
                ..
            })
        ) {
            continue;
        }
        match first {
            None => first = Some(&source.decl),
            Some(first) => {
                let message = format!(
                    "only one source can read stdin, and `{}` ({}) already does",
                    first.name,
                    diagnostics.describe(first.header)
                );
                let pos = source
                    .decl
                    .table
                    .get("type")
                    .map_or(source.decl.header, |entry| entry.item.pos);
                source
                    .decl
                    .report(diagnostics, Severity::Error, pos, "type", message);
            }
        }
    }
}

/// SRT listeners sharing a port: one `bind` (one socket per port), and each its own `stream_id`
/// (the port routes callers by it). Two binds share a port when their addresses are equal or
/// one is unspecified (`0.0.0.0`).
pub(super) fn check_srt_ports(sources: &[Placed<SourceNode>], diagnostics: &mut Diagnostics) {
    let mut seen: Vec<(&NodeDecl, std::net::SocketAddr, Option<&str>)> = Vec::new();
    for source in sources {
        let Some(SourceNode {
            kind: SourceKind::Srt(srt),
            ..
        }) = &source.built.node
        else {
            continue;
        };
        let SrtMode::Listener { bind } = srt.mode else {
            continue;
        };
        let id = srt.stream_id.as_deref();
        let clash = seen.iter().find_map(|(first, other, other_id)| {
            let same_port = other.port() == bind.port()
                && (other.ip() == bind.ip()
                    || other.ip().is_unspecified()
                    || bind.ip().is_unspecified());
            let why = if !same_port {
                return None;
            } else if *other != bind {
                // One socket per port: the same address, or the second bind fails.
                (
                    "bind",
                    format!("listeners sharing a port share one `bind` ({other})"),
                )
            } else if id.is_none() || other_id.is_none() {
                (
                    "bind",
                    "listeners sharing a port each need a `stream_id`".to_owned(),
                )
            } else if *other_id == id {
                (
                    "stream_id",
                    "listeners sharing a port need distinct `stream_id`s".to_owned(),
                )
            } else {
                return None;
            };
            Some((*first, why))
        });
        if let Some((first, (key, why))) = clash {
            let message = format!(
                "SRT listener on {bind} shares its port with `{}` ({}): {why}",
                first.name,
                diagnostics.describe(first.header)
            );
            let pos = source.decl.key_pos(key);
            source
                .decl
                .report(diagnostics, Severity::Error, pos, key, message);
        }
        seen.push((&source.decl, bind, id));
    }
}

/// Where a sink's files land: sinks at the same place write into one directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place<'a> {
    /// A local directory (compared as a path: `/srv/live/` is `/srv/live`).
    Local(&'a Path),
    /// A bucket at an endpoint (none: AWS); the key prefix goes before each file name.
    S3 {
        endpoint: Option<&'a str>,
        bucket: &'a str,
    },
    /// A directory on an FTP or SSH server; a relative one is in the user's login directory.
    Server {
        host: String,
        port: u16,
        user: Option<&'a str>,
        directory: &'a str,
    },
    /// Wherever a plugin writes: the same library with the same options is the same place.
    Plugin { library: &'a Path, options: &'a str },
}

/// The sink's place, the text written before each file name there, and how messages name it.
fn place(kind: &SinkKind) -> (Place<'_>, &str, String) {
    match kind {
        SinkKind::Local(local) => {
            let path = &local.path;
            (Place::Local(path), "", path.display().to_string())
        }
        SinkKind::S3(s3) => {
            let at = s3
                .endpoint
                .as_ref()
                .map(|endpoint| format!(" at {endpoint}"));
            let shown = format!("s3://{}/{}{}", s3.bucket, s3.prefix, at.unwrap_or_default());
            let place = Place::S3 {
                endpoint: s3.endpoint.as_deref().map(|e| e.trim_end_matches('/')),
                bucket: &s3.bucket,
            };
            (place, s3.prefix.as_str(), shown)
        }
        SinkKind::Ftp(ftp) => server_place(&ftp.host, ftp.port, &ftp.user, &ftp.directory),
        SinkKind::Scp(scp) => server_place(&scp.host, scp.port, &scp.user, &scp.directory),
        SinkKind::Plugin(plugin) => {
            let place = Place::Plugin {
                library: &plugin.library,
                options: &plugin.options,
            };
            (place, "", format!("plugin {}", plugin.library.display()))
        }
    }
}

/// [`place`] of a directory on a server; `~USER` in messages is the user's login directory.
fn server_place<'a>(
    host: &str,
    port: u16,
    user: &'a str,
    directory: &'a str,
) -> (Place<'a>, &'a str, String) {
    let relative = !directory.starts_with('/');
    let trimmed = directory.trim_end_matches('/');
    let place = Place::Server {
        host: host.to_ascii_lowercase(),
        port,
        user: relative.then_some(user),
        directory: if trimmed.is_empty() && !relative {
            "/"
        } else {
            trimmed
        },
    };
    let shown = match (relative, trimmed) {
        (true, "") => format!("{host}:{port} ~{user}"),
        (true, _) => format!("{host}:{port} ~{user}/{trimmed}"),
        (false, _) => format!("{host}:{port} {directory}"),
    };
    (place, "", shown)
}

/// Two playlists must not write the same file at one place (a local directory, a bucket and
/// key prefix, a directory on a server; shared by every sink with that place): neither the
/// playlist file (live or DVR) nor segment names that can coincide, nor the same archive name
/// pattern. A master's file must not be the file of
/// a playlist or another master there either, nor its written `archive_name` another's. A sink with an unresolved `${VAR}` is left out:
/// its place is not known.
pub(super) fn check_sink_collisions(declared: &Declared, diagnostics: &mut Diagnostics) {
    let playlists: BTreeMap<&str, &Placed<PlaylistNode>> = declared
        .playlists
        .iter()
        .filter_map(|placed| Some((placed.built.node.as_ref()?.name.as_str(), placed)))
        .collect();
    let masters: BTreeMap<&str, &Placed<MasterNode>> = declared
        .masters
        .iter()
        .filter_map(|placed| Some((placed.built.node.as_ref()?.name.as_str(), placed)))
        .collect();
    let mut files: BTreeMap<(Place<'_>, String), Writer<'_>> = BTreeMap::new();
    let mut patterns: BTreeMap<(Place<'_>, String, &str), Writer<'_>> = BTreeMap::new();
    let mut archives: BTreeMap<(Place<'_>, String), Writer<'_>> = BTreeMap::new();
    let sinks = (declared.sinks.iter())
        .filter(|placed| placed.decl.unresolved.is_empty())
        .filter_map(|placed| placed.built.node.as_ref());
    for sink in sinks {
        let (place, before_names, shown) = place(&sink.kind);
        for input in &sink.inputs {
            let Some(placed) = playlists.get(input.as_str()) else {
                continue;
            };
            let Some(playlist) = &placed.built.node else {
                continue;
            };
            let writer = Writer {
                kind: NodeKind::Playlist,
                name: &playlist.name,
                sink: &sink.name,
            };
            let file = format!("{before_names}{}", playlist.file_name);
            let owner = *files.entry((place.clone(), file)).or_insert(writer);
            if owner.node() != writer.node() {
                let pos = placed.decl.key_pos("name");
                let file = (playlist.file_name.as_str(), "name", pos);
                report_file(&placed.decl, file, &shown, owner, diagnostics);
            }
            if let Some(dvr) = &playlist.dvr {
                let file = format!("{before_names}{}", dvr.file_name);
                let owner = *files.entry((place.clone(), file)).or_insert(writer);
                if owner.node() != writer.node() {
                    let pos = view_pos(&placed.decl, "dvr", "name");
                    let file = (dvr.file_name.as_str(), "dvr.name", pos);
                    report_file(&placed.decl, file, &shown, owner, diagnostics);
                }
            }
            if let Some(archive) = &playlist.archive {
                let key = (place.clone(), format!("{before_names}{}", archive.name));
                let owner = *archives.entry(key).or_insert(writer);
                if owner.node() != writer.node() {
                    let message = format!(
                        "archive names `{}` in {shown} are those of {} `{}` (sink `{}`) \
                         too; give each playlist its own archive name",
                        archive.name,
                        owner.kind.noun(),
                        owner.name,
                        owner.sink
                    );
                    let pos = view_pos(&placed.decl, "archive", "name");
                    let decl = &placed.decl;
                    decl.report(diagnostics, Severity::Error, pos, "archive.name", message);
                }
            }
            let (before, after) = playlist.segment_name.parts();
            let key = (place.clone(), format!("{before_names}{before}"), after);
            let owner = *patterns.entry(key).or_insert(writer);
            if owner.node() != writer.node() {
                let message = format!(
                    "segment names `{}` in {shown} can be the same as those of playlist `{}` \
                     (sink `{}`); give each playlist its own segment_name",
                    playlist.segment_name, owner.name, owner.sink
                );
                let pos = placed.decl.key_pos("segment_name");
                placed
                    .decl
                    .report(diagnostics, Severity::Error, pos, "segment_name", message);
            }
        }
        for name in &sink.masters {
            let Some(placed) = masters.get(name.as_str()) else {
                continue;
            };
            let Some(master) = &placed.built.node else {
                continue;
            };
            let writer = Writer {
                kind: NodeKind::Master,
                name: &master.name,
                sink: &sink.name,
            };
            let file = format!("{before_names}{}", master.file_name);
            let owner = *files.entry((place.clone(), file)).or_insert(writer);
            if owner.node() != writer.node() {
                let file = (
                    master.file_name.as_str(),
                    "name",
                    placed.decl.key_pos("name"),
                );
                report_file(&placed.decl, file, &shown, owner, diagnostics);
            }
            if let Some(pattern) = &master.archive_name {
                let key = (place.clone(), format!("{before_names}{pattern}"));
                let owner = *archives.entry(key).or_insert(writer);
                if owner.node() != writer.node() {
                    let message = format!(
                        "archive names `{pattern}` in {shown} are those of {} `{}` (sink `{}`) \
                         too; give each its own archive name",
                        owner.kind.noun(),
                        owner.name,
                        owner.sink
                    );
                    let pos = placed.decl.key_pos("archive_name");
                    let decl = &placed.decl;
                    decl.report(diagnostics, Severity::Error, pos, "archive_name", message);
                }
            }
        }
    }
}

/// The node that writes a file at a place, and through which sink.
#[derive(Clone, Copy)]
struct Writer<'a> {
    kind: NodeKind,
    name: &'a str,
    sink: &'a str,
}

impl Writer<'_> {
    fn node(&self) -> (NodeKind, &str) {
        (self.kind, self.name)
    }
}

/// Reports at `key` (written at `pos`) of `decl` that its file `file_name` is already written
/// by `owner`.
fn report_file(
    decl: &NodeDecl,
    (file_name, key, pos): (&str, &str, Pos),
    shown: &str,
    owner: Writer<'_>,
    diagnostics: &mut Diagnostics,
) {
    let message = format!(
        "`{file_name}` in {shown} is also written by {} `{}` (sink `{}`)",
        owner.kind.noun(),
        owner.name,
        owner.sink
    );
    decl.report(diagnostics, Severity::Error, pos, key, message);
}

pub(super) fn warn_unused(
    declared: &Declared,
    read: &BTreeSet<(NodeKind, String)>,
    diagnostics: &mut Diagnostics,
) {
    let unread = |decl: &NodeDecl| !read.contains(&(decl.kind, decl.name.clone()));
    let warnings = (declared.sources.iter())
        .map(|placed| (&placed.decl, "source is not read by any segmenter"))
        .chain(
            declared
                .segmenters
                .iter()
                .map(|p| (&p.decl, "segmenter is not listed by any playlist")),
        )
        .chain(
            declared
                .playlists
                .iter()
                .map(|p| (&p.decl, "playlist is not published by any sink")),
        )
        .chain(
            declared
                .masters
                .iter()
                .map(|p| (&p.decl, "master is not published by any sink")),
        );
    for (decl, message) in warnings.filter(|(decl, _)| unread(decl)) {
        decl.report(
            diagnostics,
            Severity::Warning,
            decl.name_pos,
            "",
            message.to_owned(),
        );
    }
}
