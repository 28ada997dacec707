//! One table → one model node: what every node declaration is ([`NodeDecl`], [`Built`]), and the
//! keys of `[router]`, segmenters and playlists (sources, masters and sinks have their own
//! modules), their
//! defaults and the checks that need nothing but the node itself (value ranges, file names,
//! the live window; a segment name pattern is parsed by its owner,
//! [`crate::playlist::naming`]; a playlist's `dvr` and `archive` tables are read by
//! `playlist_views`). References between nodes are only collected here; `link` resolves them.

use std::path::Path;

use super::diagnostics::{Diagnostics, FeedNote};
use super::fields::{Fields, Located};
use super::model::{
    DEFAULT_STOP_TIMEOUT, NodeId, NodeKind, PlaylistNode, RouterSettings, SegmenterNode, Severity,
};
use super::playlist_views;
use super::raw::{Pos, Table};
use super::segment_format;
use crate::playlist::SegmentNamePattern;

/// A node as declared (at top level, or instantiated from a template), not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NodeDecl {
    pub(super) kind: NodeKind,
    /// Full name: `cam1`, or `FEED.NODE` for a template instance.
    pub(super) name: String,
    /// Where the name is written (the key of the node's table).
    pub(super) name_pos: Pos,
    /// Where the node's table starts.
    pub(super) header: Pos,
    pub(super) table: Table,
    /// Set for template instances: names in `input`/`inputs` are looked up in the feed first.
    pub(super) feed: Option<FeedNote>,
    /// A `{{placeholder}}` of this instance could not be replaced (already reported): its values
    /// are not judged, so that one mistake gives one error.
    pub(super) unsubstituted: bool,
    /// Keys with a `${VAR}` that could not be replaced (already reported): nothing more is said
    /// about them, and the node is in error.
    pub(super) unresolved: Vec<String>,
}

impl NodeDecl {
    /// `sources.cam1`.
    pub(super) fn id(&self) -> NodeId {
        NodeId::new(self.kind, &self.name)
    }

    /// `sources.cam1`, as diagnostics name the node.
    pub(super) fn key(&self) -> String {
        self.id().to_string()
    }

    /// Where `key` is written in the node, or its header.
    pub(super) fn key_pos(&self, key: &str) -> Pos {
        self.table
            .get(key)
            .map_or(self.header, |entry| entry.key_pos)
    }

    /// Reports a finding about `key` of this node (the node itself when `key` is empty).
    pub(super) fn report(
        &self,
        diagnostics: &mut Diagnostics,
        severity: Severity,
        pos: Pos,
        key: &str,
        message: String,
    ) {
        if self.unresolved.iter().any(|unresolved| unresolved == key) {
            return;
        }
        let key = if key.is_empty() {
            self.key()
        } else {
            self.id().key(key)
        };
        diagnostics.report(severity, pos, key, message, self.feed.as_ref());
    }

    pub(super) fn fields<'a>(&'a self, diagnostics: &'a mut Diagnostics) -> Fields<'a> {
        Fields::new(
            &self.table,
            self.key(),
            self.header,
            self.feed.as_ref(),
            diagnostics,
        )
        .muting(&self.unresolved)
    }
}

/// A node after its own checks. `node` is there when its required keys were usable (a value in
/// error replaced by its default), so that the graph checks still see it and report more at
/// once; `ok` says whether the node had no error, and only then may the graph use it. Its
/// references as written are kept in every case, so that they are still checked.
pub(super) struct Built<T> {
    pub(super) node: Option<T>,
    pub(super) ok: bool,
    pub(super) inputs: Vec<Located<String>>,
}

/// Segments Apple's HLS authoring specification asks a live playlist to list at least.
const APPLE_MIN_LIVE_WINDOW: usize = 6;
/// A live playlist must last at least this many target durations (RFC 8216 §6.2.2).
const RFC_MIN_LIVE_WINDOW: usize = 3;

pub(super) fn build_router(fields: &mut Fields<'_>, home: Option<&Path>) -> RouterSettings {
    RouterSettings {
        state_dir: fields.path("state_dir", home),
        serve: fields.socket_addr("serve").map(|serve| serve.value),
        listen: fields.socket_addr("listen").map(|listen| listen.value),
        stop_timeout: fields.duration_or("stop_timeout", DEFAULT_STOP_TIMEOUT),
        // `[cluster]`, its own table: read by `cluster_settings`.
        cluster: None,
    }
}

pub(super) fn build_segmenter(
    decl: &NodeDecl,
    diagnostics: &mut Diagnostics,
) -> Built<SegmenterNode> {
    let mut fields = decl.fields(diagnostics);
    let input = fields.required_string("input", "the source to cut");
    let target_duration = fields.seconds("target_duration", 4.0);
    let ok = fields.ok();
    fields.finish("a segmenter");
    let inputs: Vec<Located<String>> = input.iter().map(owned).collect();
    Built {
        node: input.map(|input| SegmenterNode {
            name: decl.name.clone(),
            input: input.value.to_owned(),
            target_duration,
            repeat_ts_headers: true,
            aligned: false,
        }),
        ok,
        inputs,
    }
}

pub(super) fn build_playlist(
    decl: &NodeDecl,
    diagnostics: &mut Diagnostics,
) -> Built<PlaylistNode> {
    let mut fields = decl.fields(diagnostics);
    let input = fields.required_string("input", "the segmenter to list");
    let file_name = fields.string("name").map_or_else(
        || format!("{}.m3u8", decl.name),
        |name| checked_relative(&mut fields, "name", name),
    );
    let format = segment_format::segment_format(&mut fields);
    let default_segment_name = || segment_format::default_segment_name(&decl.name, format);
    let segment_name = match fields.string("segment_name") {
        Some(written) => {
            let parsed = SegmentNamePattern::parse(written.value);
            if let Err(refused) = &parsed {
                fields.error(written.pos, "segment_name", refused);
            }
            checked_relative(&mut fields, "segment_name", written);
            // In error: the default stands in, for the graph checks.
            parsed.unwrap_or_else(|_| default_segment_name())
        }
        None => default_segment_name(),
    };
    let window = fields.count("window", APPLE_MIN_LIVE_WINDOW);
    check_window(&mut fields, window);
    let repeat_ts_headers = fields.boolean("repeat_ts_headers", true);
    let headers_pos = fields.pos_of("repeat_ts_headers");
    segment_format::check_headers(&mut fields, format, repeat_ts_headers, headers_pos);
    let init_name = segment_format::init_name(&mut fields, &decl.name, format, &segment_name);
    let base_url = fields.string("base_url");
    if let Some(base_url) = &base_url
        && !base_url.value.ends_with('/')
    {
        let message = format!(
            "`{}` does not end with `/`: segment URIs will be it directly followed by the \
             segment name",
            base_url.value
        );
        fields.warning(base_url.pos, "base_url", message);
    }
    let delete_expired = fields.boolean("delete_expired", true);
    let program_date_time = fields.boolean("program_date_time", true);
    let endlist_on_stop = fields.boolean("endlist_on_stop", true);
    let (dvr, archive) = playlist_views::build_views(decl, &mut fields, &file_name);
    let encryption = super::encryption::build_encryption(decl, &mut fields);
    let ok = fields.ok();
    fields.finish("a playlist");
    let inputs: Vec<Located<String>> = input.iter().map(owned).collect();
    Built {
        node: input.map(|input| PlaylistNode {
            name: decl.name.clone(),
            input: input.value.to_owned(),
            file_name,
            segment_name,
            window: window.value,
            repeat_ts_headers,
            base_url: base_url.map(|url| url.value.to_owned()),
            delete_expired,
            program_date_time,
            endlist_on_stop,
            dvr,
            archive,
            segment_format: format,
            init_name,
            encryption,
        }),
        ok,
        inputs,
    }
}

fn check_window(fields: &mut Fields<'_>, window: Located<usize>) {
    let count = window.value;
    if (1..RFC_MIN_LIVE_WINDOW).contains(&count) {
        let message = format!(
            "window {count} is too short: a live playlist must last at least \
             {RFC_MIN_LIVE_WINDOW} target durations (RFC 8216 §6.2.2) and each segment lasts \
             about one; use {RFC_MIN_LIVE_WINDOW} or more ({APPLE_MIN_LIVE_WINDOW} recommended), \
             or 0 to keep every segment"
        );
        fields.error(window.pos, "window", message);
    } else if (RFC_MIN_LIVE_WINDOW..APPLE_MIN_LIVE_WINDOW).contains(&count) {
        let message = format!(
            "window {count} is below the {APPLE_MIN_LIVE_WINDOW} segments Apple's HLS authoring \
             specification asks of a live playlist; players may stall"
        );
        fields.warning(window.pos, "window", message);
    }
}

pub(super) fn owned(located: &Located<&str>) -> Located<String> {
    Located {
        value: located.value.to_owned(),
        pos: located.pos,
    }
}

/// The name as written, after reporting it if it is not a relative path inside the sink.
pub(super) fn checked_relative(fields: &mut Fields<'_>, key: &str, name: Located<&str>) -> String {
    if let Some(problem) = relative_path_problem(name.value) {
        fields.error(name.pos, key, format!("`{}` {problem}", name.value));
    }
    name.value.to_owned()
}

fn relative_path_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('/') {
        Some("must be relative to the sink's directory, not absolute")
    } else if name.ends_with('/') {
        Some("must name a file, not a directory")
    } else if name.split('/').any(|part| part == "..") {
        Some("must not contain `..`")
    } else if name.split('/').any(|part| part.is_empty() || part == ".") {
        Some("must not contain empty or `.` parts")
    } else {
        None
    }
}
