//! Compile: the text of every config file in, a [`Graph`] and every diagnostic out. Owns the
//! order of the steps and the top level of a file (`[router]`, `[cluster]`, the five node
//! tables, `templates`, `feeds`), merging several files and refusing a node declared twice.
//! Pure: no I/O, no clock; `HOME`, environment variables and password files come in as an
//! [`Environment`].
//!
//! Steps: parse every file (a TOML syntax error, the first of each file, stops here, so that a
//! half-read file causes no cascade of false findings) → collect the top-level tables of each
//! → expand templates into feed nodes (`template`) → replace `${VAR}` (`env_vars`) → read
//! `[router]` (`nodes`) and `[cluster]` (`cluster_settings`) → check each node alone (`nodes`,
//! `sources`, `masters`, `sinks`) → link the nodes and check the graph (`link`,
//! `graph_checks`, `cluster_checks`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Environment;
use super::cluster_settings::{self, CLUSTER_ONLY_KEYS};
use super::diagnostics::{Diagnostics, did_you_mean};
use super::env_vars;
use super::fields::Fields;
use super::link::{self, Declared, Placed};
use super::masters;
use super::model::{Diagnostic, Graph, Location, NodeId, NodeKind, Severity};
use super::nodes::{self, Built, NodeDecl};
use super::raw::{self, Item, Pos, Table, Value};
use super::sinks;
use super::sources;
use super::template::{self, FeedSource, TemplateSource};

/// Keys a config file may have at its top level.
pub(super) const TOP_LEVEL_KEYS: [&str; 9] = [
    "router",
    "cluster",
    "sources",
    "segmenters",
    "playlists",
    "masters",
    "sinks",
    "templates",
    "feeds",
];

/// Keys of `[router]`, to point a stray top-level `serve` at its table.
const ROUTER_KEYS: [&str; 4] = ["state_dir", "serve", "listen", "stop_timeout"];

/// Compiles `(file, text)` pairs as one configuration in `environment`.
pub(super) fn compile(
    sources: &[(PathBuf, String)],
    environment: &Environment<'_>,
) -> (Option<Graph>, Vec<Diagnostic>, BTreeMap<String, Location>) {
    let home = environment.home;
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
        return (None, diagnostics.finish(), BTreeMap::new());
    }
    let mut top = TopLevel::default();
    for document in documents {
        top.collect(document, &mut diagnostics);
    }
    let mut decls = top.nodes;
    decls.extend(template::expand(top.templates, top.feeds, &mut diagnostics));
    let decls = without_duplicates(decls, &mut diagnostics);

    let first_line = Pos {
        file: 0,
        line: 1,
        column: 1,
    };
    let router_header = top.router.header.unwrap_or(first_line);
    let mut router_table = top.router.table;
    let router_unresolved =
        expand_settings(&mut router_table, "router", environment, &mut diagnostics);
    let mut router_fields = Fields::new(
        &router_table,
        "router".to_owned(),
        router_header,
        None,
        &mut diagnostics,
    )
    .muting(&router_unresolved);
    let mut router = nodes::build_router(&mut router_fields, home);
    router_fields.finish("[router]");
    let mut router_keys: BTreeMap<String, Location> = (router_table.entries.iter())
        .map(|entry| (entry.key.clone(), diagnostics.location(entry.key_pos)))
        .collect();
    if let Some(cluster_header) = top.cluster.header {
        let mut cluster_table = top.cluster.table;
        let unresolved =
            expand_settings(&mut cluster_table, "cluster", environment, &mut diagnostics);
        let mut fields = Fields::new(
            &cluster_table,
            "cluster".to_owned(),
            cluster_header,
            None,
            &mut diagnostics,
        )
        .muting(&unresolved);
        router.cluster = Some(cluster_settings::build_cluster(&mut fields, home));
        fields.finish("[cluster]");
        // As a reload refusal names them: `cluster.KEY`, and `cluster` for the whole table.
        router_keys.insert("cluster".to_owned(), diagnostics.location(cluster_header));
        router_keys.extend((cluster_table.entries.iter()).map(|entry| {
            let key = format!("cluster.{}", entry.key);
            (key, diagnostics.location(entry.key_pos))
        }));
    }

    let mut declared = Declared::default();
    for mut decl in decls {
        // An instance whose placeholders failed is still built, for its references, but its
        // findings go nowhere: its values are not what the user wrote.
        let mut muted = Diagnostics::new(Vec::new());
        let findings = if decl.unsubstituted {
            &mut muted
        } else {
            &mut diagnostics
        };
        expand_node(&mut decl, environment, findings);
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
            NodeKind::Master => {
                let built = masters::build_master(&decl, findings);
                declared.masters.push(placed(decl, built));
            }
            NodeKind::Sink => {
                let built = sinks::build_sink(&decl, findings, environment);
                declared.sinks.push(placed(decl, built));
            }
        }
    }
    let graph = link::link(declared, router, &mut diagnostics);
    (graph, diagnostics.finish(), router_keys)
}

/// Keeps the node only when its values were judged; a `${VAR}` left unresolved makes it wrong.
fn placed<T>(decl: NodeDecl, mut built: Built<T>) -> Placed<T> {
    if decl.unsubstituted {
        built.node = None;
        built.ok = false;
    }
    if !decl.unresolved.is_empty() {
        built.ok = false;
    }
    Placed { decl, built }
}

/// Replaces `${VAR}` in the node's strings, reporting each variable that is not set and noting
/// the keys left unresolved.
fn expand_node(decl: &mut NodeDecl, environment: &Environment<'_>, findings: &mut Diagnostics) {
    let problems = env_vars::expand_table(&mut decl.table, environment.var);
    let mut unresolved: Vec<String> = Vec::new();
    for problem in problems {
        decl.report(
            findings,
            Severity::Error,
            problem.pos,
            &problem.key,
            problem.message,
        );
        if !unresolved.contains(&problem.key) {
            unresolved.push(problem.key);
        }
    }
    decl.unresolved = unresolved;
}

/// Replaces `${VAR}` in `[router]` or `[cluster]` (`table_key`); returns the keys left
/// unresolved.
fn expand_settings(
    table: &mut Table,
    table_key: &str,
    environment: &Environment<'_>,
    diagnostics: &mut Diagnostics,
) -> Vec<String> {
    let mut unresolved = Vec::new();
    for problem in env_vars::expand_table(table, environment.var) {
        let key = format!("{table_key}.{}", problem.key);
        diagnostics.error(problem.pos, key, problem.message);
        if !unresolved.contains(&problem.key) {
            unresolved.push(problem.key);
        }
    }
    unresolved
}

/// A settings table (`[router]`, `[cluster]`) merged over every file: each key set once.
#[derive(Default)]
struct Settings {
    table: Table,
    /// Where the table is first written; none when no file has it.
    header: Option<Pos>,
}

/// The top-level tables of every file, merged.
#[derive(Default)]
struct TopLevel {
    router: Settings,
    cluster: Settings,
    nodes: Vec<NodeDecl>,
    templates: Vec<TemplateSource>,
    feeds: Vec<FeedSource>,
}

impl TopLevel {
    fn collect(&mut self, document: Table, diagnostics: &mut Diagnostics) {
        for entry in document.entries {
            let key = entry.key.clone();
            if let Some(kind) = NodeKind::from_table(&key) {
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
                        unresolved: Vec::new(),
                    });
                }
                continue;
            }
            match key.as_str() {
                "router" => collect_settings(&mut self.router, "router", entry.item, diagnostics),
                "cluster" => {
                    collect_settings(&mut self.cluster, "cluster", entry.item, diagnostics);
                }
                "templates" => self.collect_templates(entry.item, diagnostics),
                "feeds" => {
                    let feeds = template::feed_sources(entry.item, "feeds", None, diagnostics);
                    self.feeds.extend(feeds);
                }
                unknown => {
                    let message = if ROUTER_KEYS.contains(&unknown) {
                        format!("`{unknown}` belongs in [router]: write it after a `[router]` line")
                    } else if CLUSTER_ONLY_KEYS.contains(&unknown) {
                        format!(
                            "`{unknown}` belongs in [cluster]: write it after a `[cluster]` line"
                        )
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

    fn collect_templates(&mut self, item: Item, diagnostics: &mut Diagnostics) {
        let Some((templates, _)) = table_or_report(item, "templates", diagnostics) else {
            return;
        };
        for template in templates.entries {
            let key = format!("templates.{}", template.key);
            if !template::is_plain_name(&template.key) {
                let message = format!(
                    "template name `{}` may only use letters, digits, `_` and `-`",
                    template.key
                );
                diagnostics.error(template.key_pos, key, message);
            } else if let Some((table, _)) = table_or_report(template.item, &key, diagnostics) {
                self.templates.push(TemplateSource {
                    name: template.key,
                    name_pos: template.key_pos,
                    table,
                });
            }
        }
    }
}

/// Adds the keys of one file's `[router]` or `[cluster]` (`key`); a key already set by another
/// file is an error.
fn collect_settings(settings: &mut Settings, key: &str, item: Item, diagnostics: &mut Diagnostics) {
    let Some((table, header)) = table_or_report(item, key, diagnostics) else {
        return;
    };
    settings.header.get_or_insert(header);
    for setting in table.entries {
        if let Some(first) = settings.table.get(&setting.key) {
            let message = format!("also set at {}", diagnostics.describe(first.key_pos));
            diagnostics.error(setting.key_pos, format!("{key}.{}", setting.key), message);
        } else {
            settings.table.entries.push(setting);
        }
    }
}

/// The table and where it starts, or an error when `item` is not a table.
fn table_or_report(item: Item, key: &str, diagnostics: &mut Diagnostics) -> Option<(Table, Pos)> {
    match item.value {
        Value::Table(table) => Some((table, item.pos)),
        other => {
            let message = format!("expected a table, found {}", other.type_name());
            diagnostics.error(item.pos, key, message);
            None
        }
    }
}

/// Drops (and reports) a second node of the same kind and name, e.g. from another file.
fn without_duplicates(decls: Vec<NodeDecl>, diagnostics: &mut Diagnostics) -> Vec<NodeDecl> {
    let mut first_at: BTreeMap<NodeId, Pos> = BTreeMap::new();
    let mut unique = Vec::with_capacity(decls.len());
    for decl in decls {
        let id = decl.id();
        match first_at.get(&id) {
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
                first_at.insert(id, decl.name_pos);
                unique.push(decl);
            }
        }
    }
    unique
}
