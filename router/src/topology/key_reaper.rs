//! A playlist's deletions at its key sink: after each segment (and when its sinks change) it
//! reads the key floors its sinks reported (`key_floors`) and sends the key sink a deletion
//! ([`SinkCommand::DeleteKey`], journaled there and carried out after the hold through its
//! expiry) for each key no sink names any more, once. What was sent, and what a sink that left
//! keeps for good, is recorded in the playlist's key ledger (`state_dir`) before anything is
//! sent: a crash in between leaves a key behind, never deletes one twice or too soon.
//!
//! Owns the playlist's side of key deletion; the rules are in `key_floors`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::key_floors::{KeyFloors, KeyLedger, due_deletions};
use super::links::{PlaylistId, SinkCommand, SinkQueue};
use super::state::SequenceStore;
use crate::publish::key_naming::KeyPattern;

/// The deletion side of a playlist with a key sink.
pub struct KeyReaper {
    playlist: PlaylistId,
    floors: KeyFloors,
    key_sink: SinkQueue,
    key_name: KeyPattern,
    /// A warning about the ledger is out (not repeated per segment).
    warned: bool,
}

impl KeyReaper {
    /// The reaper of `playlist`, whose keys are named `key_name` at `key_sink`.
    pub fn new(
        playlist: PlaylistId,
        floors: KeyFloors,
        key_sink: SinkQueue,
        key_name: KeyPattern,
    ) -> Self {
        Self {
            playlist,
            floors,
            key_sink,
            key_name,
            warned: false,
        }
    }

    /// Sends the key sink a deletion for each key the sinks `outputs` no longer name, never
    /// `in_use` (the key the playlist encrypts with) nor a later one.
    pub async fn reap(
        &mut self,
        outputs: &BTreeMap<String, SinkQueue>,
        in_use: Option<u64>,
        store: &SequenceStore,
    ) {
        let Some(mut ledger) = self.ledger(store).await else {
            return;
        };
        let floors = self.floors.of(&self.playlist);
        let Some(due) = due_deletions(outputs.keys(), &floors, &ledger, in_use) else {
            return;
        };
        ledger.below = due.below;
        ledger.kept.retain(|(_, to)| *to >= due.below);
        if !self.save(store, &ledger).await {
            return;
        }
        for number in &due.numbers {
            self.key_sink.send(SinkCommand::DeleteKey {
                playlist: Arc::clone(&self.playlist),
                name: self.key_name.render(*number),
                keep_for: due.hold,
            });
        }
        if let (Some(first), Some(last)) = (due.numbers.first(), due.numbers.last()) {
            tracing::info!(playlist = %self.playlist, first, last, hold_secs = due.hold.as_secs_f64(), "keys no sink names any more: deleted at the key sink after the hold");
        }
    }

    /// Sink `sink` no longer publishes the playlist: the keys its final version may name are
    /// kept for good — up to `in_use`, the key of the last segments it was given (keys only
    /// go up), or when none was used yet by this task, the last key taken.
    pub async fn sink_left(&mut self, sink: &str, in_use: Option<u64>, store: &SequenceStore) {
        let Some(mut ledger) = self.ledger(store).await else {
            return;
        };
        let last_key = match in_use.map(|n| Ok(Some(n))) {
            Some(known) => known,
            None => store.last_key_number().await,
        };
        let last_key = match last_key {
            Ok(Some(last)) => last,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(playlist = %self.playlist, %error, "cannot read the key counter: no key is deleted at the key sink from now on");
                // Keep everything not yet deleted, for good.
                u64::MAX
            }
        };
        let floors = self.floors.of(&self.playlist);
        ledger.sink_left(floors.get(sink), last_key);
        if self.save(store, &ledger).await {
            tracing::info!(playlist = %self.playlist, %sink, "the keys its last version names stay at the key sink");
        }
    }

    /// The ledger; `None` (logged once) when it cannot be read: nothing is deleted.
    async fn ledger(&mut self, store: &SequenceStore) -> Option<KeyLedger> {
        match store.load_key_ledger().await {
            Ok(ledger) => Some(ledger),
            Err(error) => {
                if !std::mem::replace(&mut self.warned, true) {
                    tracing::error!(playlist = %self.playlist, %error, "cannot read the key ledger: keys at the key sink are kept");
                }
                None
            }
        }
    }

    /// Records `ledger`; whether it was (nothing is sent otherwise).
    async fn save(&mut self, store: &SequenceStore, ledger: &KeyLedger) -> bool {
        match store.save_key_ledger(ledger).await {
            Ok(()) => true,
            Err(error) => {
                if !std::mem::replace(&mut self.warned, true) {
                    tracing::error!(playlist = %self.playlist, %error, "cannot record the key ledger: keys at the key sink are kept");
                }
                false
            }
        }
    }
}
