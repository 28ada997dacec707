//! Test seams of the running graph: what an in-process test puts in place of what a node
//! would build from its config. Production has none (the default), and every sink is built
//! from its config by `sinks`; a test gives sink instances by node name (e.g. in-memory ones
//! it can read, or switch off).
//!
//! The wall clock ([`wall_now`]) is the other seam: the system clock in the daemon; in tests
//! it follows tokio's clock (paused in the in-process tests), so that archive periods and their
//! retention pass in media time like everything else.
//!
//! Owns only those choices; must not change how any node runs.

#[cfg(test)]
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

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

/// Now, by the wall clock that dates segments and retires archives: the system's.
#[cfg(not(test))]
pub(super) fn wall_now() -> SystemTime {
    SystemTime::now()
}

/// Now, by the wall clock that dates segments and retires archives: in tests, the system's
/// time when it was first asked, moved on with tokio's clock since (which a paused test
/// advances by media time).
#[cfg(test)]
pub(super) fn wall_now() -> SystemTime {
    use std::sync::OnceLock;
    static ANCHOR: OnceLock<(std::time::Instant, SystemTime)> = OnceLock::new();
    let (instant, system) = *ANCHOR.get_or_init(|| (std::time::Instant::now(), SystemTime::now()));
    let now = tokio::time::Instant::now().into_std();
    match now.checked_duration_since(instant) {
        Some(since) => system + since,
        None => system - instant.duration_since(now),
    }
}
