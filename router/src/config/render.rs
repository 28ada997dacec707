//! Showing a compiled graph: plain text for `streamrouter graph` and Graphviz DOT for
//! `streamrouter graph --dot`. Read-only over [`Graph`]; owns only the presentation. Nodes are
//! grouped per feed: a template instance is named `FEED.NODE`, a top-level node has no dot.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{
    Graph, PlaylistNode, SegmenterNode, SinkKind, SinkNode, SourceKind, SourceNode, TcpMode,
};

/// One node as both renderings see it.
struct Shown {
    /// `source`, `segmenter`, `playlist` or `sink`.
    kind: &'static str,
    name: String,
    /// Names of the nodes it reads.
    inputs: Vec<String>,
    /// Settings as `key=value`, with the config's key names.
    settings: Vec<(&'static str, String)>,
    /// A short summary for the DOT label.
    summary: String,
}

/// The nodes grouped by feed (`None`: top level, first), each group in data-flow order.
fn groups(graph: &Graph) -> BTreeMap<Option<String>, Vec<Shown>> {
    let mut groups: BTreeMap<Option<String>, Vec<Shown>> = BTreeMap::new();
    let all = (graph.sources.values().map(source))
        .chain(graph.segmenters.values().map(segmenter))
        .chain(graph.playlists.values().map(playlist))
        .chain(graph.sinks.values().map(sink));
    for shown in all {
        let feed = shown.name.split_once('.').map(|(feed, _)| feed.to_owned());
        groups.entry(feed).or_default().push(shown);
    }
    groups
}

fn source(node: &SourceNode) -> Shown {
    let (type_name, settings, summary): (_, Vec<(&'static str, String)>, String) = match &node.kind
    {
        SourceKind::Stdin => ("stdin", vec![], "stdin".to_owned()),
        SourceKind::File {
            path,
            realtime,
            looped,
        } => (
            "file",
            vec![
                ("path", path.display().to_string()),
                ("realtime", realtime.to_string()),
                ("loop", looped.to_string()),
            ],
            format!("file {}", path.display()),
        ),
        SourceKind::Udp {
            bind,
            group,
            interface,
        } => {
            let mut settings = vec![("bind", bind.to_string())];
            settings.extend(group.map(|group| ("group", group.to_string())));
            settings.extend(interface.map(|interface| ("interface", interface.to_string())));
            let joined = group
                .map(|group| format!(" group {group}"))
                .unwrap_or_default();
            ("udp", settings, format!("udp {bind}{joined}"))
        }
        SourceKind::Tcp(TcpMode::Listen(address)) => (
            "tcp",
            vec![("listen", address.to_string())],
            format!("tcp listen {address}"),
        ),
        SourceKind::Tcp(TcpMode::Connect(address)) => (
            "tcp",
            vec![("connect", address.to_string())],
            format!("tcp connect {address}"),
        ),
        SourceKind::Http { url } => ("http", vec![("url", url.clone())], format!("http {url}")),
        SourceKind::Exec { command } => (
            "exec",
            vec![("command", format!("{command:?}"))],
            format!("exec {}", command.first().map_or("", String::as_str)),
        ),
    };
    let mut all = vec![("type", type_name.to_owned())];
    all.extend(settings);
    Shown {
        kind: "source",
        name: node.name.clone(),
        inputs: vec![],
        settings: all,
        summary,
    }
}

fn segmenter(node: &SegmenterNode) -> Shown {
    Shown {
        kind: "segmenter",
        name: node.name.clone(),
        inputs: vec![node.input.clone()],
        settings: vec![
            ("target_duration", node.target_duration.to_string()),
            ("repeat_ts_headers", node.repeat_ts_headers.to_string()),
        ],
        summary: format!("target {} s", node.target_duration),
    }
}

fn playlist(node: &PlaylistNode) -> Shown {
    let mut settings = vec![
        ("name", node.file_name.clone()),
        ("segment_name", node.segment_name.clone()),
        ("window", node.window.to_string()),
    ];
    settings.extend(node.base_url.iter().map(|url| ("base_url", url.clone())));
    settings.extend([
        ("repeat_ts_headers", node.repeat_ts_headers.to_string()),
        ("delete_expired", node.delete_expired.to_string()),
        ("program_date_time", node.program_date_time.to_string()),
        ("endlist_on_stop", node.endlist_on_stop.to_string()),
    ]);
    let window = match node.window {
        0 => "all segments".to_owned(),
        window => format!("window {window}"),
    };
    Shown {
        kind: "playlist",
        name: node.name.clone(),
        inputs: vec![node.input.clone()],
        settings,
        summary: format!("{}, {window}", node.file_name),
    }
}

fn sink(node: &SinkNode) -> Shown {
    let SinkKind::Local { path } = &node.kind;
    Shown {
        kind: "sink",
        name: node.name.clone(),
        inputs: node.inputs.clone(),
        settings: vec![
            ("type", "local".to_owned()),
            ("path", path.display().to_string()),
        ],
        summary: format!("local {}", path.display()),
    }
}

/// A value as written in `key=value`: quoted when it has spaces or quotes, or is empty.
fn text_value(value: &str) -> String {
    let needs_quotes = value.contains(|c: char| c.is_whitespace() || c == '"');
    // An array (`command`) is already shown in its own brackets and quotes.
    if value.is_empty() || (needs_quotes && !value.starts_with('[')) {
        format!("{value:?}")
    } else {
        value.to_owned()
    }
}

/// The expanded graph as text: router settings, then every node with its inputs and settings,
/// grouped per feed.
pub fn render_text(graph: &Graph) -> String {
    let mut out = String::new();
    let mut router = Vec::new();
    router.extend(graph.router.serve.map(|serve| format!("serve={serve}")));
    router.extend(
        graph
            .router
            .state_dir
            .as_ref()
            .map(|dir| format!("state_dir={}", text_value(&dir.display().to_string()))),
    );
    if router.is_empty() {
        router.push("(defaults)".to_owned());
    }
    let _ = writeln!(out, "router {}", router.join(" "));
    let _ = writeln!(
        out,
        "{} sources, {} segmenters, {} playlists, {} sinks",
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
        let width = nodes
            .iter()
            .map(|node| node.name.chars().count())
            .max()
            .unwrap_or(0);
        for node in nodes {
            let mut line = format!("  {:<9} {:<width$}", node.kind, node.name);
            if !node.inputs.is_empty() {
                let _ = write!(line, " <- {}", node.inputs.join(", "));
            }
            for (key, value) in &node.settings {
                let _ = write!(line, " {key}={}", text_value(value));
            }
            let _ = writeln!(out, "{line}");
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

/// Node ids carry the kind: names are unique per kind only (`cam1` can be all four).
fn dot_id(kind: &str, name: &str) -> String {
    dot_string(&format!("{kind}:{name}"))
}

/// The expanded graph as a Graphviz digraph: one node per graph node, shaped by kind, feeds as
/// clusters, edges in data-flow direction (source → segmenter → playlist → sink).
pub fn render_dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph streamrouter {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n",
    );
    let mut edges = Vec::new();
    for (index, (feed, nodes)) in groups(graph).into_iter().enumerate() {
        let indent = if feed.is_some() { "    " } else { "  " };
        if let Some(feed) = &feed {
            let _ = writeln!(
                out,
                "  subgraph cluster_{index} {{\n    label={};",
                dot_string(&format!("feed {feed}"))
            );
        }
        for node in nodes {
            let (shape, color, input_kind) = match node.kind {
                "source" => ("invhouse", "#d8eefe", ""),
                "segmenter" => ("box", "#fff3c4", "source"),
                "playlist" => ("note", "#dcf5dc", "segmenter"),
                _ => ("folder", "#eeeeee", "playlist"),
            };
            let label = format!("{}\n{}", node.name, node.summary);
            let id = dot_id(node.kind, &node.name);
            let _ = writeln!(
                out,
                "{indent}{id} [shape={shape}, fillcolor=\"{color}\", label={}];",
                dot_string(&label)
            );
            edges.extend(
                node.inputs
                    .iter()
                    .map(|input| format!("  {} -> {id};", dot_id(input_kind, input))),
            );
        }
        if feed.is_some() {
            out.push_str("  }\n");
        }
    }
    for edge in edges {
        out.push_str(&edge);
        out.push('\n');
    }
    out.push_str("}\n");
    out
}
