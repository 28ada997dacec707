//! Feeds: one `feeds` element (a template, a name, variables) and the resolved template chain
//! in, the feed's node declarations `FEED.NODE` out. Owns feed names (plain, unique), variables
//! (scalar, `feed` reserved, unused ones warned) and the "in feed …" note of every instance.

use std::collections::BTreeMap;

use super::diagnostics::{Diagnostics, FeedNote, did_you_mean};
use super::nodes::NodeDecl;
use super::placeholder::Substitution;
use super::raw::{Pos, Value};
use super::template::{FeedSource, TemplateNode, is_plain_name};

/// A feed's variables: name → (value as a TOML value, where it is written).
pub(super) type Variables = BTreeMap<String, (Value, Pos)>;

/// Instantiates one feed into `nodes`; `feed_names` holds the names taken so far.
pub(super) fn instantiate(
    feed: &FeedSource,
    chains: &BTreeMap<String, Option<Vec<TemplateNode>>>,
    feed_names: &mut BTreeMap<String, Pos>,
    nodes: &mut Vec<NodeDecl>,
    diagnostics: &mut Diagnostics,
) {
    let Value::Table(table) = &feed.item.value else {
        let message = format!(
            "a feed is a table like {{ template = \"…\", name = \"…\" }}, found {}",
            feed.item.value.type_name()
        );
        diagnostics.error(feed.item.pos, feed.key.clone(), message);
        return;
    };
    let mut name = None;
    let mut template = feed
        .enclosing
        .clone()
        .map(|template| (template, feed.item.pos));
    let mut variables = Variables::new();
    let mut broken = false;
    for entry in &table.entries {
        let key = format!("{}.{}", feed.key, entry.key);
        match (entry.key.as_str(), &entry.item.value) {
            ("name", Value::String(text)) => name = Some((text.clone(), entry.item.pos)),
            ("template", Value::String(text)) => template = Some((text.clone(), entry.item.pos)),
            ("name" | "template", other) => {
                diagnostics.error(
                    entry.item.pos,
                    key,
                    format!("expected a string, found {}", other.type_name()),
                );
                broken = true;
            }
            ("feed", _) => {
                diagnostics.error(
                    entry.key_pos,
                    key,
                    "`feed` is not a variable: `{{feed}}` is always the feed's name",
                );
                broken = true;
            }
            (_, Value::String(_) | Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                variables.insert(entry.key.clone(), (entry.item.value.clone(), entry.key_pos));
            }
            (_, other) => {
                let message = format!(
                    "a variable is a string, number or boolean, found {}",
                    other.type_name()
                );
                diagnostics.error(entry.item.pos, key, message);
                broken = true;
            }
        }
    }
    let Some((name, name_pos)) = name else {
        diagnostics.error(
            feed.item.pos,
            format!("{}.name", feed.key),
            "missing `name` (the feed's name, the first part of its node names)",
        );
        return;
    };
    if !is_plain_name(&name) {
        let message = format!("feed name `{name}` may only use letters, digits, `_` and `-`");
        diagnostics.error(name_pos, format!("{}.name", feed.key), message);
        return;
    }
    if let Some(first) = feed_names.get(&name) {
        let message = format!(
            "feed `{name}` is also declared at {}",
            diagnostics.describe(*first)
        );
        diagnostics.error(name_pos, format!("{}.name", feed.key), message);
        return;
    }
    feed_names.insert(name.clone(), name_pos);
    let Some((template, template_pos)) = template else {
        diagnostics.error(
            feed.item.pos,
            format!("{}.template", feed.key),
            "missing `template` (the template this feed instantiates)",
        );
        return;
    };
    let template_nodes = match chains.get(&template) {
        Some(Some(template_nodes)) => template_nodes,
        Some(None) => return,
        None => {
            let hint = did_you_mean(&template, chains.keys().map(String::as_str));
            diagnostics.error(
                template_pos,
                format!("{}.template", feed.key),
                format!("no template named `{template}`{hint}"),
            );
            return;
        }
    };
    if broken {
        return;
    }
    let note = FeedNote {
        name: name.clone(),
        at: feed.item.pos,
    };
    variables.insert("feed".to_owned(), (Value::String(name.clone()), name_pos));
    let mut substitution = Substitution::new(&variables, &note, diagnostics);
    for node in template_nodes {
        let full_name = format!("{name}.{}", node.name);
        let key = format!("{}.{full_name}", node.kind.table_key());
        let (table, unsubstituted) = substitution.table(&node.table, &key);
        nodes.push(NodeDecl {
            kind: node.kind,
            name: full_name,
            name_pos: node.name_pos,
            header: node.header,
            table,
            feed: Some(note.clone()),
            unsubstituted,
        });
    }
    let used = substitution.into_used();
    for (variable, (_, pos)) in variables
        .iter()
        .filter(|(variable, _)| *variable != "feed" && !used.contains(*variable))
    {
        let message = format!("variable `{variable}` is not used by template `{template}`");
        diagnostics.warning(*pos, format!("{}.{variable}", feed.key), message);
    }
}
