//! A sink's AES-128 key files, when the playlist's own sinks store its keys (no `key_sink`):
//! each segment carries its key object, stored here before the first segment needing it, so no
//! playlist version ever names a key that is not there. A key refused for good makes the
//! segments needing it gaps (tried again with the next segment). After a move or a restart the
//! key is stored again before the next segment. The plan expires keys with their last entry.
//!
//! As a playlist's `key_sink`, the sink stores the keys it is given ([`KeyDelivery`]) and says
//! whether it did; the playlist encrypts with a key only then. It deletes them when told
//! (`SinkCommand::DeleteKey`, through its expiry like a segment). As a sink publishing a
//! playlist whose keys are at a key sink, it says after each item which is the oldest key its
//! plan names or will name (`key_floors`), the delay its `delete_grace` adds included.
//!
//! Owns which key of each playlist is stored where; never logs a key's bytes.

use std::collections::BTreeMap;

use super::super::links::{KeyDelivery, PlaylistId};
use super::Worker;
use super::perform::Pin;
use crate::publish::{KeyFloor, PlaylistPlan, put_key};
use crate::segmenter::Segment;

/// The key file of each playlist last stored at the sink, and at which destination.
#[derive(Default)]
pub(super) struct StoredKeys(BTreeMap<PlaylistId, (String, u64)>);

impl StoredKeys {
    /// `playlist` left the sink.
    pub(super) fn forget(&mut self, playlist: &PlaylistId) {
        self.0.remove(playlist);
    }
}

/// Whether a segment's key is where the segment goes.
pub(super) enum KeyReady {
    /// In the clear, or its key is stored elsewhere (a key sink).
    NotNeeded,
    /// Stored at this destination.
    At(u64),
    /// Refused: the segment is listed as a gap.
    Refused,
}

impl Worker<'_> {
    /// Says which key-sink keys `playlist`'s plan still names (or will).
    pub(super) fn report_key_floor(&self, playlist: &PlaylistId) {
        let grace = self.setup.borrow().limits.delete_grace;
        let floor =
            (self.plans.get(playlist).and_then(PlaylistPlan::key_floor)).map(|floor| KeyFloor {
                hold: floor.hold + grace,
                ..floor
            });
        self.key_floors.report(playlist, self.name, floor);
    }

    /// Stores a key file for a playlist that keeps its keys here, retrying temporary
    /// failures; tells the playlist whether it was stored.
    pub(super) async fn store_delivered_key(&mut self, delivery: KeyDelivery) {
        let KeyDelivery {
            playlist,
            name,
            bytes,
            stored,
        } = delivery;
        let target = name.clone();
        let put = self
            .perform(&name, Pin::Any, move |sink, _| {
                put_key(sink, &target, &bytes)
            })
            .await;
        match put {
            Some(_) => tracing::info!(sink = %self.name, %playlist, key = %name, "key stored"),
            None => {
                tracing::error!(sink = %self.name, %playlist, key = %name, "key refused: the playlist goes on with its current key, or publishes nothing until a key is stored")
            }
        }
        let _ = stored.send(put.is_some());
    }

    /// Stores the key object `segment` needs before it, unless already stored here.
    pub(super) async fn ready_key(&mut self, playlist: &PlaylistId, segment: &Segment) -> KeyReady {
        let Some(object) = (segment.encryption.as_ref()).and_then(|e| e.key_object.as_ref()) else {
            return KeyReady::NotNeeded;
        };
        if !self.plans.contains_key(playlist) {
            return KeyReady::NotNeeded;
        }
        if let Some((name, destination)) = self.keys.0.get(playlist)
            && *name == object.name
            && Some(*destination) == self.destination
        {
            return KeyReady::At(*destination);
        }
        let (name, bytes) = (object.name.clone(), object.bytes);
        let stored = self
            .perform(&object.name, Pin::Any, move |sink, _| {
                put_key(sink, &name, &bytes)
            })
            .await;
        match stored {
            Some(destination) => {
                tracing::info!(sink = %self.name, %playlist, key = %object.name, "key stored");
                (self.keys.0).insert(playlist.clone(), (object.name.clone(), destination));
                KeyReady::At(destination)
            }
            None => {
                tracing::error!(sink = %self.name, %playlist, key = %object.name, "key refused: the segments encrypted with it are listed as gaps");
                self.keys.0.remove(playlist);
                KeyReady::Refused
            }
        }
    }

    /// After the segment was stored: whether its key is at the same destination (a reload may
    /// have moved the sink in between; the key is then stored again with the next segment).
    pub(super) fn key_beside(&mut self, playlist: &PlaylistId, ready: &KeyReady) -> bool {
        match ready {
            KeyReady::NotNeeded => true,
            KeyReady::Refused => false,
            KeyReady::At(destination) => {
                let beside = self.destination == Some(*destination);
                if !beside {
                    self.keys.0.remove(playlist);
                }
                beside
            }
        }
    }
}
