//! Templates and feeds: `[templates.NAME]` tables (node tables of the five kinds, optionally
//! `extends = "PARENT"`) and `feeds` (one line per feed) in, node declarations `FEED.NODE` out.
//!
//! Owns the template tables and the template chain (child nodes override parent nodes of the
//! same kind and name key by key, inside their tables too, such as a playlist's `dvr`; cycles
//! and unknown parents are errors), and gathers the feeds
//! (top-level or written inside a template). Each feed is instantiated by `feeds`, its
//! placeholders replaced by `placeholder`; checking the instances is left to `nodes` and `link`,
//! like any other node.

use std::collections::BTreeMap;

use super::diagnostics::{Diagnostics, did_you_mean};
use super::feeds;
use super::model::NodeKind;
use super::nodes::NodeDecl;
use super::raw::{Entry, Item, Pos, Table, Value};

/// One `[templates.NAME]` as written.
pub(super) struct TemplateSource {
    pub(super) name: String,
    pub(super) name_pos: Pos,
    pub(super) table: Table,
}

/// One element of a `feeds` array; `key` is its dotted key (`feeds[3]`), `enclosing` the
/// template whose table it is written in, if any (its default `template`).
pub(super) struct FeedSource {
    pub(super) item: Item,
    pub(super) key: String,
    pub(super) enclosing: Option<String>,
}

/// A node of a template (after its chain is merged: the table a feed instantiates).
#[derive(Clone)]
pub(super) struct TemplateNode {
    pub(super) kind: NodeKind,
    /// The local name; instances are `FEED.NAME`.
    pub(super) name: String,
    pub(super) name_pos: Pos,
    pub(super) header: Pos,
    pub(super) table: Table,
}

struct TemplateBody {
    name_pos: Pos,
    extends: Option<(String, Pos)>,
    nodes: Vec<TemplateNode>,
}

/// Checks the templates and instantiates every feed.
pub(super) fn expand(
    templates: Vec<TemplateSource>,
    mut feeds: Vec<FeedSource>,
    diagnostics: &mut Diagnostics,
) -> Vec<NodeDecl> {
    let mut bodies: BTreeMap<String, TemplateBody> = BTreeMap::new();
    for template in templates {
        let (body, nested_feeds) = read_template(
            template.table,
            &template.name,
            template.name_pos,
            diagnostics,
        );
        feeds.extend(nested_feeds);
        if let Some(first) = bodies.get(&template.name) {
            let message = format!(
                "template `{}` is also declared at {}",
                template.name,
                diagnostics.describe(first.name_pos)
            );
            diagnostics.error(
                template.name_pos,
                format!("templates.{}", template.name),
                message,
            );
        } else {
            bodies.insert(template.name, body);
        }
    }
    let mut chains: BTreeMap<String, Option<Vec<TemplateNode>>> = BTreeMap::new();
    for name in bodies.keys() {
        resolve_chain(name, &bodies, &mut chains, &mut Vec::new(), diagnostics);
    }
    feeds.sort_by_key(|feed| feed.item.pos);
    let mut feed_names: BTreeMap<String, Pos> = BTreeMap::new();
    let mut nodes = Vec::new();
    for feed in &feeds {
        feeds::instantiate(feed, &chains, &mut feed_names, &mut nodes, diagnostics);
    }
    nodes
}

fn read_template(
    mut table: Table,
    name: &str,
    name_pos: Pos,
    diagnostics: &mut Diagnostics,
) -> (TemplateBody, Vec<FeedSource>) {
    let prefix = format!("templates.{name}");
    let mut feeds = Vec::new();
    if let Some(entry) = table.remove("feeds") {
        feeds = feed_sources(
            entry.item,
            &format!("{prefix}.feeds"),
            Some(name),
            diagnostics,
        );
    }
    let mut body = TemplateBody {
        name_pos,
        extends: None,
        nodes: Vec::new(),
    };
    for entry in table.entries {
        let key = format!("{prefix}.{}", entry.key);
        if entry.key == "extends" {
            match entry.item.value {
                Value::String(parent) => body.extends = Some((parent, entry.item.pos)),
                other => diagnostics.error(
                    entry.item.pos,
                    key,
                    format!("expected a template name, found {}", other.type_name()),
                ),
            }
        } else if let Some(kind) = NodeKind::from_table(&entry.key) {
            for (name, name_pos, header, table) in node_tables(entry, &key, diagnostics) {
                body.nodes.push(TemplateNode {
                    kind,
                    name,
                    name_pos,
                    header,
                    table,
                });
            }
        } else {
            let valid = [
                "sources",
                "segmenters",
                "playlists",
                "masters",
                "sinks",
                "extends",
                "feeds",
            ];
            let hint = did_you_mean(&entry.key, valid);
            let message = format!(
                "unknown key `{}` in a template (valid: {}){hint}",
                entry.key,
                valid.join(", ")
            );
            diagnostics.error(entry.key_pos, key, message);
        }
    }
    (body, feeds)
}

/// The node tables of a `sources`/`segmenters`/... entry: (name, name position, header, table).
/// Also used for top-level node tables.
pub(super) fn node_tables(
    entry: Entry,
    key: &str,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, Pos, Pos, Table)> {
    let Value::Table(nodes) = entry.item.value else {
        let message = format!(
            "expected a table of named nodes, like [{key}.NAME], found {}",
            entry.item.value.type_name()
        );
        diagnostics.error(entry.item.pos, key, message);
        return Vec::new();
    };
    let mut found = Vec::new();
    for node in nodes.entries {
        let node_key = format!("{key}.{}", node.key);
        if !is_plain_name(&node.key) {
            let message = format!(
                "node name `{}` may only use letters, digits, `_` and `-`",
                node.key
            );
            diagnostics.error(node.key_pos, node_key, message);
            continue;
        }
        match node.item.value {
            Value::Table(table) => found.push((node.key, node.key_pos, node.item.pos, table)),
            other => diagnostics.error(
                node.item.pos,
                node_key,
                format!("expected a table, found {}", other.type_name()),
            ),
        }
    }
    found
}

/// `[A-Za-z0-9_-]+`: node, feed and variable names.
pub(super) fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The elements of a `feeds` array (`key` is its dotted key); `enclosing` is the template it is
/// written in, if any.
pub(super) fn feed_sources(
    item: Item,
    key: &str,
    enclosing: Option<&str>,
    diagnostics: &mut Diagnostics,
) -> Vec<FeedSource> {
    let Value::Array(items) = item.value else {
        let message = format!(
            "expected an array of feeds, found {}",
            item.value.type_name()
        );
        diagnostics.error(item.pos, key, message);
        return Vec::new();
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| FeedSource {
            item,
            key: format!("{key}[{index}]"),
            enclosing: enclosing.map(str::to_owned),
        })
        .collect()
}

/// The nodes of `name` with its parents' merged in; `None` when the chain is broken (reported
/// once, where it breaks).
fn resolve_chain(
    name: &str,
    bodies: &BTreeMap<String, TemplateBody>,
    chains: &mut BTreeMap<String, Option<Vec<TemplateNode>>>,
    visiting: &mut Vec<String>,
    diagnostics: &mut Diagnostics,
) -> Option<Vec<TemplateNode>> {
    if let Some(done) = chains.get(name) {
        return done.clone();
    }
    let body = bodies.get(name)?;
    let Some((parent, parent_pos)) = &body.extends else {
        chains.insert(name.to_owned(), Some(body.nodes.clone()));
        return Some(body.nodes.clone());
    };
    visiting.push(name.to_owned());
    let key = format!("templates.{name}.extends");
    let parent_nodes = if visiting.contains(parent) {
        let start = visiting
            .iter()
            .position(|visited| visited == parent)
            .unwrap_or(0);
        let mut cycle = visiting[start..].to_vec();
        cycle.push(parent.clone());
        diagnostics.error(
            *parent_pos,
            key,
            format!("the template chain is a cycle: {}", cycle.join(" → ")),
        );
        None
    } else if !bodies.contains_key(parent) {
        let hint = did_you_mean(parent, bodies.keys().map(String::as_str));
        diagnostics.error(
            *parent_pos,
            key,
            format!("no template named `{parent}`{hint}"),
        );
        None
    } else {
        resolve_chain(parent, bodies, chains, visiting, diagnostics)
    };
    visiting.pop();
    let merged = parent_nodes.map(|parent_nodes| merge(parent_nodes, &body.nodes));
    chains.insert(name.to_owned(), merged.clone());
    merged
}

/// The parent's nodes overridden key by key by the child's, plus the child's new nodes.
fn merge(mut nodes: Vec<TemplateNode>, child: &[TemplateNode]) -> Vec<TemplateNode> {
    for node in child {
        match nodes
            .iter_mut()
            .find(|old| old.kind == node.kind && old.name == node.name)
        {
            Some(old) => {
                merge_table(&mut old.table, &node.table);
                old.name_pos = node.name_pos;
                old.header = node.header;
            }
            None => nodes.push(node.clone()),
        }
    }
    nodes
}

/// `parent` overridden key by key by `child`; a table in both (a playlist's `dvr`, a plugin's
/// `options`) is merged the same way, key by key.
fn merge_table(parent: &mut Table, child: &Table) {
    for entry in &child.entries {
        let both_tables = parent.entries.iter_mut().find(|old| old.key == entry.key);
        if let Some(old) = both_tables
            && let (Value::Table(old_table), Value::Table(new_table)) =
                (&mut old.item.value, &entry.item.value)
        {
            merge_table(old_table, new_table);
            continue;
        }
        parent.set(entry.clone());
    }
}
