//! `type = "plugin"` sinks: `library` (a path, resolved like every path of the config) and the
//! `[sinks.NAME.options]` table, handed to the plugin as TOML text. Pure like the rest of
//! compile: the library is neither read nor loaded here (`check` and the daemon do that after
//! compile), and the options are not judged (only the plugin knows its keys).

use std::path::Path;

use super::fields::Fields;
use super::model::{PluginPlaces, PluginSink, SinkKind};
use super::raw::{Table, Value};

pub(super) fn plugin_sink(fields: &mut Fields<'_>, home: Option<&Path>) -> Option<SinkKind> {
    let header = fields.header();
    let library_pos = fields
        .entry("library")
        .map_or(header, |entry| entry.item.pos);
    let library = fields.required_path("library", "the plugin's shared library", home);
    let (options, options_pos) = match fields.table("options") {
        Some(table) => match toml::to_string(&toml_table(table.value)) {
            Ok(text) => (text, table.pos),
            Err(error) => {
                let message = format!("cannot be handed to the plugin as TOML: {error}");
                fields.error(table.pos, "options", message);
                (String::new(), table.pos)
            }
        },
        None => (String::new(), header),
    };
    let at = PluginPlaces {
        library: fields.diagnostics.location(library_pos),
        options: fields.diagnostics.location(options_pos),
    };
    Some(SinkKind::Plugin(PluginSink {
        library: library?,
        options,
        at,
    }))
}

fn toml_table(table: &Table) -> toml::Table {
    (table.entries.iter())
        .map(|entry| (entry.key.clone(), toml_value(&entry.item.value)))
        .collect()
}

pub(super) fn toml_value(value: &Value) -> toml::Value {
    match value {
        Value::String(text) => toml::Value::String(text.clone()),
        Value::Integer(number) => toml::Value::Integer(*number),
        Value::Float(number) => toml::Value::Float(*number),
        Value::Boolean(flag) => toml::Value::Boolean(*flag),
        Value::Datetime(text) => text
            .parse()
            .map_or_else(|_| toml::Value::String(text.clone()), toml::Value::Datetime),
        Value::Array(items) => {
            toml::Value::Array(items.iter().map(|item| toml_value(&item.value)).collect())
        }
        Value::Table(table) => toml::Value::Table(toml_table(table)),
    }
}

/// The keys of an options text, for showing a plugin sink without its values (they may be
/// credentials).
pub(super) fn option_keys(options: &str) -> Vec<String> {
    options
        .parse::<toml::Table>()
        .map(|table| table.keys().cloned().collect())
        .unwrap_or_default()
}
