//! A sink in a cluster: which work items are for a feed this router no longer owns (dropped,
//! never written: the feed's new owner publishes it now), and the barrier a handover waits on.
//!
//! Owns these decisions only; the waiting of each write at the fence is in `perform`.

use super::super::backlog::WorkItem;
use super::super::links::{PlaylistId, SinkCommand};
use crate::cluster::Fence;

/// The playlist `item` is for, when the fence says its feed is not owned here. Masters and
/// master versions are not checked here (their tasks run only for owned feeds).
pub(super) fn unowned_playlist(fence: Option<&Fence>, item: &WorkItem) -> Option<PlaylistId> {
    let fence = fence?;
    let playlist = match item {
        WorkItem::Command(command) => match command {
            SinkCommand::Segment { playlist, .. }
            | SinkCommand::Plan { playlist, .. }
            | SinkCommand::Init { playlist, .. }
            | SinkCommand::DeleteKey { playlist, .. }
            | SinkCommand::End { playlist, .. } => playlist,
            SinkCommand::Key(delivery) => &delivery.playlist,
            SinkCommand::Master { .. }
            | SinkCommand::ArchiveMaster(_)
            | SinkCommand::Barrier(_) => return None,
        },
        WorkItem::InitLost { playlist, .. } | WorkItem::Gap { playlist, .. } => playlist,
    };
    (!fence.owns(playlist)).then(|| std::sync::Arc::clone(playlist))
}
