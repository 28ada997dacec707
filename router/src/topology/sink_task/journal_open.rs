//! Opening a sink's journal at the start of its task: what it held, or memory only when it
//! cannot be used (never a refusal to start).

use std::sync::Arc;
use std::time::Duration;

use super::super::backlog::blocking;
use super::JournalPlace;
use crate::publish::journal::{Journal, Recovered};

/// The sink's journal and what it held; without a usable journal the sink works from memory.
/// A sink started again by a reload waits for the one before to let go of the journal: at most
/// its drain time and a margin.
pub(super) async fn open_journal(
    name: &str,
    place: &JournalPlace,
    drain: Duration,
) -> (Option<Arc<Journal>>, Recovered) {
    let (dir, durable) = (place.dir.clone(), place.durable);
    let wait = drain + Duration::from_secs(3);
    let opened = blocking(move || Journal::open_waiting(&dir, durable, wait)).await;
    match opened {
        Ok((journal, recovered)) => {
            let segments = recovered.queued_segments();
            if !recovered.queue.is_empty() || !recovered.deletions.is_empty() {
                tracing::info!(sink = %name, segments, items = recovered.queue.len(), deletions = recovered.deletions.len(), playlists = recovered.plans.len(), "resuming from the journal");
            }
            if recovered.skipped > 0 {
                tracing::warn!(sink = %name, skipped = recovered.skipped, "journal entries that could not be read were skipped");
            }
            (Some(Arc::new(journal)), recovered)
        }
        Err(error) => {
            tracing::error!(sink = %name, %error, "journal unusable: unsent items are held in memory only");
            (None, Recovered::default())
        }
    }
}
