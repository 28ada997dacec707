//! Test seams of the running graph: what an in-process test puts in place of what a node
//! would build from its config. Production has none (the default), and every sink is built
//! from its config by `sinks`; a test gives sink instances by node name (e.g. in-memory ones
//! it can read, or switch off).
//!
//! Owns only that choice; must not change how any node runs.

#[cfg(test)]
use std::collections::BTreeMap;
use std::sync::Arc;

use streamrouter_plugin::Sink;

use super::sinks;
use crate::config::model::SinkNode;

/// What replaces what the config names.
#[derive(Default)]
pub(super) struct Seams {
    /// Sink instances by node name, used instead of building the configured sink.
    #[cfg(test)]
    pub(super) sinks: BTreeMap<String, Arc<dyn Sink>>,
}

impl Seams {
    /// The sink instance of `node`: the configured one, unless a test put one in its place.
    pub(super) async fn sink(&self, node: &SinkNode) -> Arc<dyn Sink> {
        #[cfg(test)]
        if let Some(sink) = self.sinks.get(&node.name) {
            return Arc::clone(sink);
        }
        sinks::start(node).await
    }
}
