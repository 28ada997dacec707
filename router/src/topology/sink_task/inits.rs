//! A sink's fMP4 init segments: stored when their command comes, which is before any segment
//! naming them (the playlist task queues the init first, and the journal keeps it like a
//! segment, so a replay after a crash or an outage stores it again first); only then does the
//! plan name it (EXT-X-MAP) in the next playlist versions. An init refused for good, or lost
//! from the journal, makes the playlist's next segments gaps until the next init, so no
//! version ever names a missing init. After a move the current init is stored at the new place
//! before the next segment. Segments of an fMP4 playlist are stored as `video/mp4`.
//!
//! Owns the current init bytes of each playlist (in memory: a restarted daemon's playlist task
//! sends its init again with its first segment); the plan keeps which entries name which init
//! and expires them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::super::links::PlaylistId;
use super::Worker;
use super::perform::Pin;
use crate::publish::put_segment;

/// The init segments a sink holds for its playlists.
#[derive(Default)]
pub(super) struct Inits {
    /// Each playlist's current init: its key and bytes.
    current: BTreeMap<PlaylistId, (String, Arc<Vec<u8>>)>,
    /// Playlists whose current init is not stored here: their segments are listed as gaps.
    missing: BTreeSet<PlaylistId>,
    /// Playlists whose current init must be stored again (the sink moved).
    to_restore: BTreeSet<PlaylistId>,
}

impl Inits {
    /// The sink moved: every current init goes to the new place before its next segment.
    pub(super) fn moved(&mut self) {
        self.to_restore = self.current.keys().cloned().collect();
    }

    /// Whether `playlist`'s segments cannot be listed (their init is not stored here).
    pub(super) fn is_missing(&self, playlist: &PlaylistId) -> bool {
        self.missing.contains(playlist)
    }

    /// `playlist` left the sink.
    pub(super) fn forget(&mut self, playlist: &PlaylistId) {
        self.current.remove(playlist);
        self.missing.remove(playlist);
        self.to_restore.remove(playlist);
    }
}

impl Worker<'_> {
    /// Stores init segment `key` of `playlist`, retrying temporary failures; from then on the
    /// plan names it.
    pub(super) async fn store_init(
        &mut self,
        playlist: &PlaylistId,
        key: String,
        data: Arc<Vec<u8>>,
    ) {
        if !self.plans.contains_key(playlist) {
            return;
        }
        let stored = self.put_init(&key, &data).await;
        if let Some(destination) = stored
            && self.destination != Some(destination)
        {
            self.follow_destination();
        }
        self.inits.to_restore.remove(playlist);
        if stored.is_some() {
            tracing::info!(sink = %self.name, %playlist, %key, "init segment stored");
            self.inits.missing.remove(playlist);
        } else {
            tracing::error!(sink = %self.name, %playlist, %key, "init segment refused: the playlist's segments are listed as gaps until the next init");
            self.inits.missing.insert(Arc::clone(playlist));
        }
        if let Some(plan) = self.plans.get_mut(playlist) {
            plan.set_init_key(key.clone());
        }
        self.inits.current.insert(Arc::clone(playlist), (key, data));
    }

    /// Init `key` of `playlist` was lost from the journal: its segments are gaps until the
    /// next init.
    pub(super) fn init_lost(&mut self, playlist: &PlaylistId, key: String) {
        self.inits.missing.insert(Arc::clone(playlist));
        if let Some(plan) = self.plans.get_mut(playlist) {
            plan.set_init_key(key);
        }
    }

    /// Before a segment of `playlist`: its init is stored again where the sink moved to.
    pub(super) async fn restore_init(&mut self, playlist: &PlaylistId) {
        if !self.inits.to_restore.remove(playlist) {
            return;
        }
        let Some((key, data)) = self.inits.current.get(playlist).cloned() else {
            return;
        };
        if self.put_init(&key, &data).await.is_some() {
            tracing::info!(sink = %self.name, %playlist, %key, "init segment stored where the sink moved");
        } else {
            tracing::error!(sink = %self.name, %playlist, %key, "init segment refused where the sink moved: segments are listed as gaps until the next init");
            self.inits.missing.insert(Arc::clone(playlist));
        }
    }

    async fn put_init(&self, key: &str, data: &Arc<Vec<u8>>) -> Option<u64> {
        let (target, data) = (key.to_owned(), Arc::clone(data));
        self.perform(key, Pin::Any, move |sink, headers| {
            put_segment(sink, &target, &data, &headers.for_fmp4())
        })
        .await
    }
}
