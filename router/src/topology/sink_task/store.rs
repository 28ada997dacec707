//! Storing one segment at a sink: after its key file when the sink stores the playlist's keys,
//! as `video/mp4` for an fMP4 playlist, retried while it fails temporarily, and how it fared
//! (stored, refused for good, not published here).

use std::sync::Arc;

use super::super::links::PlaylistId;
use super::Worker;
use super::keys::KeyReady;
use super::perform::Pin;
use crate::publish::{PlaylistPlan, put_segment};
use crate::segmenter::Segment;

/// How a segment fared at the sink.
pub(super) enum Stored {
    /// It is stored: list it.
    Yes,
    /// It was refused for good: list it as a gap.
    Refused,
    /// The sink does not publish its playlist.
    NotPublished,
}

impl Worker<'_> {
    /// Stores a segment after the key it needs (see `keys`): a segment whose key is not beside
    /// it is listed as a gap.
    pub(super) async fn store_sealed(
        &mut self,
        playlist: &PlaylistId,
        key: &str,
        segment: &Arc<Segment>,
    ) -> Stored {
        let ready = self.ready_key(playlist, segment).await;
        if matches!(ready, KeyReady::Refused) {
            return Stored::Refused;
        }
        match self.store_segment(playlist, key, segment).await {
            Stored::Yes if !self.key_beside(playlist, &ready) => Stored::Refused,
            stored => stored,
        }
    }

    /// Stores a segment, retrying temporary failures for as long as it takes.
    pub(super) async fn store_segment(
        &mut self,
        playlist: &PlaylistId,
        key: &str,
        segment: &Arc<Segment>,
    ) -> Stored {
        if !self.plans.contains_key(playlist) {
            return Stored::NotPublished;
        }
        let (target, data) = (key.to_owned(), Arc::clone(segment));
        let fmp4 = self.plans.get(playlist).is_some_and(PlaylistPlan::is_fmp4);
        let stored = self
            .perform(key, Pin::Any, move |sink, headers| match fmp4 {
                true => put_segment(sink, &target, &data.data, &headers.for_fmp4()),
                false => put_segment(sink, &target, &data.data, headers),
            })
            .await;
        let Some(destination) = stored else {
            return Stored::Refused;
        };
        tracing::debug!(sink = %self.name, %key, "segment stored");
        // Stored by a sink a reload put in place during the tries: list it there.
        if self.destination != Some(destination) {
            self.follow_destination();
        }
        Stored::Yes
    }
}
