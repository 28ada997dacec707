//! Showing a compiled graph: plain text for `streamrouter graph` and Graphviz DOT for
//! `streamrouter graph --dot`. Read-only over [`Graph`]; owns only the presentation. Nodes are
//! grouped per feed: a template instance is named `FEED.NODE`, a top-level node has no dot.
//! Credentials are shown as `***` when set, never their value. A sink fed a master lists every
//! playlist it publishes (the variants included) and its masters (`masters=`); in DOT its edges
//! come from the master, whose edges come from its variants. A playlist's DVR and archive
//! views are shown as its `dvr.KEY` and `archive.KEY` settings (an archive's `retain` only
//! when set: none keeps archives forever).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use streamrouter_opendal::settings::{SinkSettings, keys};

use super::model::{
    Graph, MasterNode, NodeKind, PlaylistNode, SegmenterNode, SinkKind, SinkNode, SourceKind,
    SourceNode, SrtMode, SrtSource, TcpMode,
};
use super::sinks::is_credential_key;
use crate::source::KeyLength;

/// One node as both renderings see it.
struct Shown {
    kind: NodeKind,
    name: String,
    /// Names of the nodes it reads, as the text shows them.
    inputs: Vec<String>,
    /// The nodes drawn with an edge into it in DOT: kind and name.
    edges: Vec<(NodeKind, String)>,
    /// Settings as `key=value`, with the config's key names.
    settings: Vec<(&'static str, String)>,
    /// A short summary for the DOT label.
    summary: String,
}

/// DOT shape and fill colour of a kind of node.
fn look(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Source => ("invhouse", "#d8eefe"),
        NodeKind::Segmenter => ("box", "#fff3c4"),
        NodeKind::Playlist => ("note", "#dcf5dc"),
        NodeKind::Master => ("tab", "#e8ddf7"),
        NodeKind::Sink => ("folder", "#eeeeee"),
    }
}

/// The nodes grouped by feed (`None`: top level, first), each group in data-flow order.
fn groups(graph: &Graph) -> BTreeMap<Option<String>, Vec<Shown>> {
    let mut groups: BTreeMap<Option<String>, Vec<Shown>> = BTreeMap::new();
    let all = (graph.sources.values().map(source))
        .chain(graph.segmenters.values().map(segmenter))
        .chain(graph.playlists.values().map(playlist))
        .chain(graph.masters.values().map(master))
        .chain(graph.sinks.values().map(|node| sink(node, graph)));
    for shown in all {
        let feed = shown.name.split_once('.').map(|(feed, _)| feed.to_owned());
        groups.entry(feed).or_default().push(shown);
    }
    groups
}

/// An SRT source's settings (its passphrase as `***`) and summary.
fn srt_settings(srt: &SrtSource, settings: &mut Vec<(&'static str, String)>) -> String {
    let (mode, bind, connect) = match &srt.mode {
        SrtMode::Listener { bind } => ("listener", Some(bind), None),
        SrtMode::Caller { connect } => ("caller", None, Some(connect)),
        SrtMode::Rendezvous { bind, connect } => ("rendezvous", Some(bind), Some(connect)),
    };
    settings.extend([("type", "srt".to_owned()), ("mode", mode.to_owned())]);
    settings.extend(bind.map(|bind| ("bind", bind.to_string())));
    settings.extend(connect.map(|connect| ("connect", connect.clone())));
    settings.extend(srt.stream_id.as_ref().map(|id| ("stream_id", id.clone())));
    settings.extend(
        srt.passphrase
            .as_ref()
            .map(|_| ("passphrase", "***".to_owned())),
    );
    settings.extend([
        (
            "pbkeylen",
            match (srt.pbkeylen, &srt.mode) {
                (Some(length), _) => length.bytes().to_string(),
                (None, SrtMode::Listener { .. }) => "the caller's".to_owned(),
                (None, _) => KeyLength::default().bytes().to_string(),
            },
        ),
        (
            "latency",
            humantime::format_duration(srt.latency).to_string(),
        ),
    ]);
    let at = bind.map_or_else(|| connect.cloned().unwrap_or_default(), ToString::to_string);
    let id = srt.stream_id.as_ref().map(|id| format!(" id {id}"));
    format!("srt {mode} {at}{}", id.unwrap_or_default())
}

fn source(node: &SourceNode) -> Shown {
    let mut settings: Vec<(&'static str, String)> = Vec::new();
    let summary = match &node.kind {
        SourceKind::Stdin => {
            settings.push(("type", "stdin".to_owned()));
            "stdin".to_owned()
        }
        SourceKind::File {
            path,
            realtime,
            looped,
        } => {
            settings.extend([
                ("type", "file".to_owned()),
                ("path", path.display().to_string()),
                ("realtime", realtime.to_string()),
                ("loop", looped.to_string()),
            ]);
            format!("file {}", path.display())
        }
        SourceKind::Udp(udp) => {
            let (bind, group, interface) = (udp.bind(), udp.group(), udp.interface());
            settings.extend([("type", "udp".to_owned()), ("bind", bind.to_string())]);
            settings.extend(group.map(|group| ("group", group.to_string())));
            settings.extend(interface.map(|interface| ("interface", interface.to_string())));
            let joined = group.map(|group| format!(" group {group}"));
            format!("udp {bind}{}", joined.unwrap_or_default())
        }
        SourceKind::Tcp(mode) => {
            let (key, address) = match mode {
                TcpMode::Listen(address) => ("listen", address),
                TcpMode::Connect(address) => ("connect", address),
            };
            settings.extend([("type", "tcp".to_owned()), (key, address.to_string())]);
            format!("tcp {key} {address}")
        }
        SourceKind::Http { url } => {
            settings.extend([("type", "http".to_owned()), ("url", url.to_string())]);
            format!("http {url}")
        }
        SourceKind::Exec { command } => {
            settings.extend([
                ("type", "exec".to_owned()),
                ("command", format!("{:?}", command.argv())),
            ]);
            format!("exec {}", command.program())
        }
        SourceKind::Srt(srt) => srt_settings(srt, &mut settings),
    };
    Shown {
        kind: NodeKind::Source,
        name: node.name.clone(),
        inputs: Vec::new(),
        edges: Vec::new(),
        settings,
        summary,
    }
}

fn segmenter(node: &SegmenterNode) -> Shown {
    let mut settings = vec![
        ("target_duration", node.target_duration.to_string()),
        ("repeat_ts_headers", node.repeat_ts_headers.to_string()),
    ];
    // Only variants of a master cut aligned: shown when set, like a key written.
    if node.aligned {
        settings.push(("aligned", "true".to_owned()));
    }
    Shown {
        kind: NodeKind::Segmenter,
        name: node.name.clone(),
        inputs: vec![node.input.clone()],
        edges: vec![(NodeKind::Source, node.input.clone())],
        settings,
        summary: format!("target {} s", node.target_duration),
    }
}

fn playlist(node: &PlaylistNode) -> Shown {
    let mut settings = vec![
        ("name", node.file_name.clone()),
        ("segment_name", node.segment_name.to_string()),
        ("window", node.window.to_string()),
    ];
    settings.extend(node.base_url.iter().map(|url| ("base_url", url.clone())));
    settings.extend([
        ("repeat_ts_headers", node.repeat_ts_headers.to_string()),
        ("delete_expired", node.delete_expired.to_string()),
        ("program_date_time", node.program_date_time.to_string()),
        ("endlist_on_stop", node.endlist_on_stop.to_string()),
    ]);
    // Shown when not the default, like a key written.
    if node.segment_format == crate::playlist::SegmentFormat::Fmp4 {
        settings.extend([
            ("segment_format", "fmp4".to_owned()),
            ("init_name", node.init_name.clone()),
        ]);
    }
    let mut summary = match node.window {
        0 => format!("{}, all segments", node.file_name),
        window => format!("{}, window {window}", node.file_name),
    };
    if let Some(dvr) = &node.dvr {
        let duration = humantime::format_duration(dvr.duration).to_string();
        summary.push_str(&format!(", dvr {duration}"));
        settings.extend([
            ("dvr.name", dvr.file_name.clone()),
            ("dvr.duration", duration),
        ]);
    }
    if let Some(encryption) = &node.encryption {
        let method = match encryption.method {
            super::model::EncryptionMethod::Aes128 => "AES-128",
        };
        summary.push_str(&match encryption.rotate_every {
            0 => format!(", {method}"),
            every => format!(", {method} (key every {every})"),
        });
        settings.extend([
            ("encryption.method", method.to_owned()),
            (
                "encryption.rotate_every",
                encryption.rotate_every.to_string(),
            ),
            ("encryption.key_name", encryption.key_name.to_string()),
        ]);
        let uri = encryption.key_uri.as_ref().map(ToString::to_string);
        settings.extend(uri.map(|uri| ("encryption.key_uri", uri)));
        let key_sink = encryption.key_sink.clone();
        settings.extend(key_sink.map(|sink| ("encryption.key_sink", sink)));
    }
    if let Some(archive) = &node.archive {
        let every = humantime::format_duration(archive.every).to_string();
        summary.push_str(&format!(", archive every {every}"));
        settings.extend([
            ("archive.every", every),
            ("archive.name", archive.name.to_string()),
        ]);
        let retain = archive.retain.map(humantime::format_duration);
        settings.extend(retain.map(|retain| ("archive.retain", retain.to_string())));
    }
    Shown {
        kind: NodeKind::Playlist,
        name: node.name.clone(),
        inputs: vec![node.input.clone()],
        edges: vec![(NodeKind::Segmenter, node.input.clone())],
        settings,
        summary,
    }
}

fn master(node: &MasterNode) -> Shown {
    let count = node.variants.len();
    let plural = if count == 1 { "" } else { "s" };
    Shown {
        kind: NodeKind::Master,
        name: node.name.clone(),
        inputs: node.variants.clone(),
        edges: (node.variants.iter())
            .map(|variant| (NodeKind::Playlist, variant.clone()))
            .collect(),
        settings: vec![("name", node.file_name.clone())],
        summary: format!("{}, {count} variant{plural}", node.file_name),
    }
}

/// The sink's edges in DOT: from each master, and from each playlist no master of it lists.
fn sink_edges(node: &SinkNode, graph: &Graph) -> Vec<(NodeKind, String)> {
    let variants: Vec<&String> = (node.masters.iter())
        .filter_map(|name| graph.masters.get(name))
        .flat_map(|master| &master.variants)
        .collect();
    let masters = (node.masters.iter()).map(|name| (NodeKind::Master, name.clone()));
    let playlists = (node.inputs.iter())
        .filter(|input| !variants.contains(input))
        .map(|input| (NodeKind::Playlist, input.clone()));
    playlists.chain(masters).collect()
}

fn sink(node: &SinkNode, graph: &Graph) -> Shown {
    let (kind, settings, summarized): (&str, Vec<(&'static str, String)>, &[&str]) =
        match &node.kind {
            SinkKind::Local(local) => ("local", backend(local), &["path"]),
            SinkKind::S3(s3) => ("s3", backend(s3), &["bucket", "prefix", "endpoint"]),
            SinkKind::Ftp(ftp) => (
                "ftp",
                backend(ftp),
                &["host", "port", "user", "directory", "tls"],
            ),
            SinkKind::Scp(scp) => ("scp", backend(scp), &["host", "port", "user", "directory"]),
            SinkKind::Plugin(plugin) => {
                // Option values may be credentials: only their keys are shown.
                let keys = super::plugin_sink::option_keys(&plugin.options).join(",");
                let settings = vec![
                    ("library", plugin.library.display().to_string()),
                    ("options", format!("[{keys}]")),
                ];
                ("plugin", settings, &["library"])
            }
        };
    let summary = match &node.kind {
        SinkKind::Local(local) => format!("local {}", local.path.display()),
        _ => {
            let shown = (settings.iter())
                .filter(|(key, _)| summarized.contains(key))
                .map(|(key, value)| format!("{key}={}", text_value(value)));
            std::iter::once(kind.to_owned())
                .chain(shown)
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let mut all = vec![("type", kind.to_owned())];
    if !node.masters.is_empty() {
        all.push(("masters", node.masters.join(",")));
    }
    all.extend(settings);
    Shown {
        kind: NodeKind::Sink,
        name: node.name.clone(),
        inputs: node.inputs.clone(),
        edges: sink_edges(node, graph),
        settings: all,
        summary,
    }
}

/// A backend's settings in the order its type declares them, unset ones left out; a
/// credential is `***`, never its value.
fn backend<T: SinkSettings>(settings: &T) -> Vec<(&'static str, String)> {
    let table = toml::Table::try_from(settings).unwrap_or_default();
    let shown = |key: &'static str| {
        let value = match table.get(key)? {
            _ if is_credential_key(key) => "***".to_owned(),
            toml::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Some((key, value))
    };
    keys::<T>().iter().copied().filter_map(shown).collect()
}

/// A value as written in `key=value`: quoted when it is empty or has spaces or quotes.
fn text_value(value: &str) -> String {
    let needs_quotes = value.contains(|c: char| c.is_whitespace() || c == '"');
    // An array (`command`) is already shown in its own brackets and quotes.
    if value.is_empty() || (needs_quotes && !value.starts_with('[')) {
        format!("{value:?}")
    } else {
        value.to_owned()
    }
}

/// The expanded graph as text: router settings, counts, then every node with its inputs and
/// settings, grouped per feed.
pub fn render_text(graph: &Graph) -> String {
    let mut out = String::new();
    let mut router = Vec::new();
    router.extend(graph.router.serve.map(|serve| format!("serve={serve}")));
    router.extend(graph.router.state_dir.as_ref().map(|dir| {
        let dir = dir.display().to_string();
        format!("state_dir={}", text_value(&dir))
    }));
    if router.is_empty() {
        router.push("(defaults)".to_owned());
    }
    let _ = writeln!(out, "router {}", router.join(" "));
    // Masters are counted only when there are some: most configs have none.
    let masters = match graph.masters.len() {
        0 => String::new(),
        count => format!(", {count} masters"),
    };
    let _ = writeln!(
        out,
        "{} sources, {} segmenters, {} playlists{masters}, {} sinks",
        graph.sources.len(),
        graph.segmenters.len(),
        graph.playlists.len(),
        graph.sinks.len()
    );
    for (feed, nodes) in groups(graph) {
        let _ = match feed {
            Some(feed) => writeln!(out, "\nfeed {feed}"),
            None => writeln!(out, "\ntop level"),
        };
        let width = nodes.iter().map(|node| node.name.chars().count()).max();
        let width = width.unwrap_or(0);
        for node in nodes {
            let _ = write!(out, "  {:<9} {:<width$}", node.kind.noun(), node.name);
            if !node.inputs.is_empty() {
                let _ = write!(out, " <- {}", node.inputs.join(", "));
            }
            for (key, value) in &node.settings {
                let _ = write!(out, " {key}={}", text_value(value));
            }
            out.push('\n');
        }
    }
    out
}

/// A Graphviz string literal.
fn dot_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Node ids carry the kind: names are unique per kind only (`cam1` can be all five).
fn dot_id(kind: &str, name: &str) -> String {
    dot_string(&format!("{kind}:{name}"))
}

/// The expanded graph as a Graphviz digraph: one node per graph node, shaped by kind, feeds as
/// clusters, edges in data-flow direction (source → segmenter → playlist → (master →) sink).
pub fn render_dot(graph: &Graph) -> String {
    let mut out = String::from("digraph streamrouter {\n  rankdir=LR;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n");
    let mut edges = Vec::new();
    for (index, (feed, nodes)) in groups(graph).into_iter().enumerate() {
        let indent = if feed.is_some() { "    " } else { "  " };
        if let Some(feed) = &feed {
            let label = dot_string(&format!("feed {feed}"));
            let _ = writeln!(out, "  subgraph cluster_{index} {{\n    label={label};");
        }
        for node in nodes {
            let (shape, color) = look(node.kind);
            let id = dot_id(node.kind.noun(), &node.name);
            let label = dot_string(&format!("{}\n{}", node.name, node.summary));
            let _ = writeln!(
                out,
                "{indent}{id} [shape={shape}, fillcolor=\"{color}\", label={label}];"
            );
            let node_edges = (node.edges.iter())
                .map(|(kind, input)| format!("  {} -> {id};\n", dot_id(kind.noun(), input)));
            edges.extend(node_edges);
        }
        if feed.is_some() {
            out.push_str("  }\n");
        }
    }
    edges.into_iter().for_each(|edge| out.push_str(&edge));
    out.push_str("}\n");
    out
}
