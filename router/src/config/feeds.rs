//! Feeds: one `feeds` element (a template, a name, variables) and the resolved template chain
//! in, the feed's node declarations `FEED.NODE` out. Owns feed names (plain, unique), variables
//! (scalar, `feed` reserved, unused ones warned) and the "in feed …" note of every instance.

use std::collections::BTreeMap;

use super::diagnostics::{Diagnostics, FeedNote, did_you_mean};
use super::model::NodeId;
use super::nodes::NodeDecl;
use super::placeholder::Substitution;
use super::raw::{Pos, Table, Value};
use super::template::{FeedSource, TemplateNode, is_plain_name};

/// A feed's variables: name → (value as a TOML value, where it is written).
pub(super) type Variables = BTreeMap<String, (Value, Pos)>;

/// A feed as written, its keys checked.
struct Feed {
    name: String,
    name_pos: Pos,
    template: String,
    template_pos: Pos,
    variables: Variables,
}

/// Instantiates one feed into `nodes`; `feed_names` holds the names taken so far, with where.
pub(super) fn instantiate(
    source: &FeedSource,
    chains: &BTreeMap<String, Option<Vec<TemplateNode>>>,
    feed_names: &mut BTreeMap<String, Pos>,
    nodes: &mut Vec<NodeDecl>,
    diagnostics: &mut Diagnostics,
) {
    let Some(mut feed) = read_feed(source, feed_names, diagnostics) else {
        return;
    };
    let template_nodes = match chains.get(&feed.template) {
        Some(Some(template_nodes)) => template_nodes,
        // A broken chain is reported at the template.
        Some(None) => return,
        None => {
            let hint = did_you_mean(&feed.template, chains.keys().map(String::as_str));
            let message = format!("no template named `{}`{hint}", feed.template);
            let key = format!("{}.template", source.key);
            diagnostics.error(feed.template_pos, key, message);
            return;
        }
    };
    let note = FeedNote {
        name: feed.name.clone(),
        at: source.item.pos,
    };
    let feed_name = Value::String(feed.name.clone());
    feed.variables
        .insert("feed".to_owned(), (feed_name, feed.name_pos));
    let mut substitution = Substitution::new(&feed.variables, &note, diagnostics);
    for node in template_nodes {
        let full_name = format!("{}.{}", feed.name, node.name);
        let key = NodeId::new(node.kind, &full_name).to_string();
        let (table, unsubstituted) = substitution.table(&node.table, &key);
        nodes.push(NodeDecl {
            kind: node.kind,
            name: full_name,
            name_pos: node.name_pos,
            header: node.header,
            table,
            feed: Some(note.clone()),
            unsubstituted,
            unresolved: Vec::new(),
        });
    }
    let used = substitution.into_used();
    let unused = (feed.variables.iter())
        .filter(|(variable, _)| *variable != "feed" && !used.contains(*variable));
    for (variable, (_, pos)) in unused {
        let message = format!(
            "variable `{variable}` is not used by template `{}`",
            feed.template
        );
        diagnostics.warning(*pos, format!("{}.{variable}", source.key), message);
    }
}

/// The feed's name, template and variables; `None` (reported) when one is wrong.
fn read_feed(
    source: &FeedSource,
    feed_names: &mut BTreeMap<String, Pos>,
    diagnostics: &mut Diagnostics,
) -> Option<Feed> {
    let Value::Table(table) = &source.item.value else {
        let message = format!(
            "a feed is a table like {{ template = \"…\", name = \"…\" }}, found {}",
            source.item.value.type_name()
        );
        diagnostics.error(source.item.pos, source.key.clone(), message);
        return None;
    };
    let errors_before = diagnostics.error_count();
    let name = feed_string(source, table, "name", diagnostics);
    let written_template = feed_string(source, table, "template", diagnostics);
    let enclosing = (source.enclosing.clone()).map(|template| (template, source.item.pos));
    let template = written_template.or(enclosing);
    let variables = feed_variables(source, table, diagnostics);
    let name_key = format!("{}.name", source.key);
    let (name, name_pos) = match name {
        Some(name) => name,
        None if diagnostics.error_count() == errors_before => {
            let message = "missing `name` (the feed's name, the first part of its node names)";
            diagnostics.error(source.item.pos, name_key, message);
            return None;
        }
        None => return None,
    };
    if !is_plain_name(&name) {
        let message = format!("feed name `{name}` may only use letters, digits, `_` and `-`");
        diagnostics.error(name_pos, name_key, message);
        return None;
    }
    if let Some(first) = feed_names.get(&name) {
        let first = diagnostics.describe(*first);
        let message = format!("feed `{name}` is also declared at {first}");
        diagnostics.error(name_pos, name_key, message);
        return None;
    }
    feed_names.insert(name.clone(), name_pos);
    let (template, template_pos) = match template {
        Some(template) => template,
        None if diagnostics.error_count() == errors_before => {
            let message = "missing `template` (the template this feed instantiates)";
            diagnostics.error(source.item.pos, format!("{}.template", source.key), message);
            return None;
        }
        None => return None,
    };
    (diagnostics.error_count() == errors_before).then_some(Feed {
        name,
        name_pos,
        template,
        template_pos,
        variables,
    })
}

/// The string value of `key` in the feed and where it is written.
fn feed_string(
    source: &FeedSource,
    table: &Table,
    key: &str,
    diagnostics: &mut Diagnostics,
) -> Option<(String, Pos)> {
    let entry = table.get(key)?;
    match &entry.item.value {
        Value::String(text) => Some((text.clone(), entry.item.pos)),
        other => {
            let message = format!("expected a string, found {}", other.type_name());
            diagnostics.error(entry.item.pos, format!("{}.{key}", source.key), message);
            None
        }
    }
}

/// Every key but `name` and `template`: the variables of the feed.
fn feed_variables(source: &FeedSource, table: &Table, diagnostics: &mut Diagnostics) -> Variables {
    let mut variables = Variables::new();
    for entry in &table.entries {
        let key = format!("{}.{}", source.key, entry.key);
        match (entry.key.as_str(), &entry.item.value) {
            ("name" | "template", _) => {}
            ("feed", _) => {
                let message = "`feed` is not a variable: `{{feed}}` is always the feed's name";
                diagnostics.error(entry.key_pos, key, message);
            }
            (_, Value::String(_) | Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                let value = (entry.item.value.clone(), entry.key_pos);
                variables.insert(entry.key.clone(), value);
            }
            (_, other) => {
                let message = format!(
                    "a variable is a string, number or boolean, found {}",
                    other.type_name()
                );
                diagnostics.error(entry.item.pos, key, message);
            }
        }
    }
    variables
}
