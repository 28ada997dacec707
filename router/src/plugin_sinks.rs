//! Plugin sinks outside compile: loading the library a `type = "plugin"` sink names and
//! creating its instance, for `streamrouter check` (as diagnostics at the sink's `library` or
//! `options`) and for the daemon at start (as a sink). Reload will use the same two steps.
//!
//! Blocking (the system's loader and the plugin's `create` run here): call it off async
//! runtime threads. Owns no state: the host crate keeps the libraries loaded.

use streamrouter_plugin_host::{CreateError, LoadError, PluginSink};

use crate::config::model::{Diagnostic, Graph, NodeId, PluginSink as PluginConfig, Severity};

/// Why a plugin sink cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PluginSinkError {
    /// The library cannot be used.
    #[error("sink `{sink}`: cannot load the plugin: {source}")]
    Load {
        /// The sink's name.
        sink: String,
        /// Why.
        source: LoadError,
    },
    /// The plugin refused its options.
    #[error("sink `{sink}`: {source}")]
    Create {
        /// The sink's name.
        sink: String,
        /// What the plugin said.
        source: CreateError,
    },
}

/// The instance of the plugin sink `sink` (loading its library if no sink did yet).
pub fn instantiate(sink: &str, plugin: &PluginConfig) -> Result<PluginSink, PluginSinkError> {
    let loaded = streamrouter_plugin_host::load(&plugin.library).map_err(|source| {
        PluginSinkError::Load {
            sink: sink.to_owned(),
            source,
        }
    })?;
    loaded
        .create(&plugin.options)
        .map_err(|source| PluginSinkError::Create {
            sink: sink.to_owned(),
            source,
        })
}

/// Loads every plugin sink of `graph` and creates (then drops) an instance of each: one error
/// diagnostic per sink that could not start, at its `library` (loading) or its `options`
/// (creating).
pub fn check(graph: &Graph) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for node in graph.sinks.values() {
        let crate::config::model::SinkKind::Plugin(plugin) = &node.kind else {
            continue;
        };
        let (location, key, message) = match instantiate(&node.name, plugin) {
            Ok(_instance) => continue,
            Err(PluginSinkError::Load { source, .. }) => (
                plugin.at.library.clone(),
                "library",
                format!("cannot load the plugin: {source}"),
            ),
            Err(PluginSinkError::Create { source, .. }) => {
                (plugin.at.options.clone(), "options", source.to_string())
            }
        };
        diagnostics.push(Diagnostic {
            severity: Severity::Error,
            location,
            key: NodeId::sink(&node.name).key(key),
            message,
        });
    }
    diagnostics
}
