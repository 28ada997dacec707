//! Compile: the text of every config file in, a [`Graph`] and every diagnostic out. Owns the
//! order of the steps and the top level of a file (`[router]`, the four node tables,
//! `templates`, `feeds`), merging several files and refusing a node declared twice. Pure: no
//! I/O, no clock; `HOME` comes in as an argument.
//!
//! Steps: parse every file (a TOML syntax error, the first of each file, stops here, so that a
//! half-read file causes no cascade of false findings) → collect the top-level tables of each → expand templates into
//! feed nodes → check each node alone (`nodes`) → link the nodes and check the graph (`link`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diagnostics::{Diagnostics, did_you_mean};
use super::fields::{Fields, TOP_LEVEL_KEYS};
use super::link::{self, Declared, Placed};
use super::model::{Diagnostic, Graph};
use super::nodes::{self, Built, NodeDecl, NodeKind};
use super::raw::{self, Pos, Table, Value};
use super::sources;
use super::template::{self, FeedSource, TemplateSource};

/// Keys of `[router]`, to point a stray top-level `serve` at its table.
const ROUTER_KEYS: [&str; 2] = ["state_dir", "serve"];

/// Compiles `(file, text)` pairs as one configuration; `home` expands `~/` in paths.
pub(super) fn compile(
    sources: &[(PathBuf, String)],
    home: Option<&Path>,
) -> (Option<Graph>, Vec<Diagnostic>) {
    let files = sources.iter().map(|(file, _)| file.clone()).collect();
    let mut diagnostics = Diagnostics::new(files);
    let mut documents = Vec::with_capacity(sources.len());
    for (index, (_, text)) in sources.iter().enumerate() {
        match raw::parse(index, text) {
            Ok(document) => documents.push(document),
            Err(error) => diagnostics.error(error.pos, "", error.message),
        }
    }
    if diagnostics.error_count() > 0 {
        return (None, diagnostics.finish());
    }
    let mut top = TopLevel::default();
    for document in documents {
        top.collect(document, &mut diagnostics);
    }
    let mut decls = top.nodes;
    decls.extend(template::expand(top.templates, top.feeds, &mut diagnostics));
    let decls = without_duplicates(decls, &mut diagnostics);

    let router_header = top.router_header.unwrap_or(Pos {
        file: 0,
        line: 1,
        column: 1,
    });
    let mut router_fields = Fields::new(
        &top.router,
        "router".to_owned(),
        router_header,
        None,
        &mut diagnostics,
    );
    let router = nodes::build_router(&mut router_fields, home);
    router_fields.finish("[router]");

    let mut declared = Declared::default();
    for decl in decls {
        // An instance whose placeholders failed is still built, for its references, but its
        // findings go nowhere: its values are not what the user wrote.
        let mut muted = Diagnostics::new(Vec::new());
        let findings = if decl.unsubstituted {
            &mut muted
        } else {
            &mut diagnostics
        };
        match decl.kind {
            NodeKind::Source => {
                let built = sources::build_source(&decl, findings, home);
                declared.sources.push(placed(decl, built));
            }
            NodeKind::Segmenter => {
                let built = nodes::build_segmenter(&decl, findings);
                declared.segmenters.push(placed(decl, built));
            }
            NodeKind::Playlist => {
                let built = nodes::build_playlist(&decl, findings);
                declared.playlists.push(placed(decl, built));
            }
            NodeKind::Sink => {
                let built = nodes::build_sink(&decl, findings, home);
                declared.sinks.push(placed(decl, built));
            }
        }
    }
    let graph = link::link(declared, router, &mut diagnostics);
    (graph, diagnostics.finish())
}

/// Keeps the node only when its values were judged.
fn placed<T>(decl: NodeDecl, mut built: Built<T>) -> Placed<T> {
    if decl.unsubstituted {
        built.node = None;
    }
    Placed { decl, built }
}

/// The top-level tables of every file, merged.
#[derive(Default)]
struct TopLevel {
    /// `[router]` keys of every file (each key set once).
    router: Table,
    router_header: Option<Pos>,
    nodes: Vec<NodeDecl>,
    templates: Vec<TemplateSource>,
    feeds: Vec<FeedSource>,
}

impl TopLevel {
    fn collect(&mut self, document: Table, diagnostics: &mut Diagnostics) {
        for entry in document.entries {
            let key = entry.key.clone();
            if let Some(kind) = NodeKind::from_table_key(&key) {
                for (name, name_pos, header, table) in
                    template::node_tables(entry, &key, diagnostics)
                {
                    self.nodes.push(NodeDecl {
                        kind,
                        name,
                        name_pos,
                        header,
                        table,
                        feed: None,
                        unsubstituted: false,
                    });
                }
                continue;
            }
            match (key.as_str(), entry.item.value) {
                ("router", Value::Table(router)) => {
                    self.router_header.get_or_insert(entry.item.pos);
                    for setting in router.entries {
                        if let Some(first) = self.router.get(&setting.key) {
                            let message =
                                format!("also set at {}", diagnostics.describe(first.key_pos));
                            diagnostics.error(
                                setting.key_pos,
                                format!("router.{}", setting.key),
                                message,
                            );
                        } else {
                            self.router.entries.push(setting);
                        }
                    }
                }
                ("templates", Value::Table(templates)) => {
                    for template in templates.entries {
                        let template_key = format!("templates.{}", template.key);
                        match template.item.value {
                            Value::Table(table) if template::is_plain_name(&template.key) => {
                                self.templates.push(TemplateSource {
                                    name: template.key,
                                    name_pos: template.key_pos,
                                    table,
                                });
                            }
                            Value::Table(_) => {
                                let message = format!(
                                    "template name `{}` may only use letters, digits, `_` and `-`",
                                    template.key
                                );
                                diagnostics.error(template.key_pos, template_key, message);
                            }
                            other => {
                                let message =
                                    format!("expected a table, found {}", other.type_name());
                                diagnostics.error(template.item.pos, template_key, message);
                            }
                        }
                    }
                }
                ("feeds", value) => {
                    let entry = raw::Entry {
                        key: entry.key,
                        key_pos: entry.key_pos,
                        item: raw::Item {
                            value,
                            pos: entry.item.pos,
                        },
                    };
                    self.feeds
                        .extend(template::feed_sources(entry, "feeds", None, diagnostics));
                }
                ("router" | "templates", other) => {
                    let message = format!("expected a table, found {}", other.type_name());
                    diagnostics.error(entry.item.pos, key, message);
                }
                (unknown, _) => {
                    let message = if ROUTER_KEYS.contains(&unknown) {
                        format!("`{unknown}` belongs in [router]: write it after a `[router]` line")
                    } else {
                        let hint = did_you_mean(unknown, TOP_LEVEL_KEYS);
                        format!(
                            "unknown top-level key `{unknown}` (valid: {}){hint}",
                            TOP_LEVEL_KEYS.join(", ")
                        )
                    };
                    diagnostics.error(entry.key_pos, key, message);
                }
            }
        }
    }
}

/// Drops (and reports) a second node of the same kind and name, e.g. from another file.
fn without_duplicates(decls: Vec<NodeDecl>, diagnostics: &mut Diagnostics) -> Vec<NodeDecl> {
    let mut first_at: BTreeMap<(NodeKind, String), Pos> = BTreeMap::new();
    let mut unique = Vec::with_capacity(decls.len());
    for decl in decls {
        match first_at.get(&(decl.kind, decl.name.clone())) {
            Some(first) => {
                let message = format!(
                    "{} `{}` is also declared at {}; names must be unique per kind",
                    decl.kind.noun(),
                    decl.name,
                    diagnostics.describe(*first)
                );
                diagnostics.error(decl.name_pos, decl.key(), message);
            }
            None => {
                first_at.insert((decl.kind, decl.name.clone()), decl.name_pos);
                unique.push(decl);
            }
        }
    }
    unique
}
