//! A playlist node's encryption stage (`[playlists.NAME.encryption]`): every numbered segment
//! (MPEG-TS, or the fMP4 fragment) is encrypted whole with AES-128-CBC, its IV the media
//! sequence number, with a new key every `rotate_every` segments.
//!
//! Keys are 16 random bytes from the OS, numbered from the playlist's key counter in its
//! [`SequenceStore`] (taken before the key is made: a restart never reuses a number; it starts
//! with a new key). Where a key goes:
//! - no `key_sink`: with each segment, as its key object, which every sink of the playlist
//!   stores before the first segment needing it (and journals with the segment);
//! - a `key_sink`: to that sink first ([`SinkCommand::Key`]); a key is used only once the key
//!   sink said it stored it. The next key is sent as soon as the current one is in use, so a
//!   rotation normally finds it stored; if it is not yet, the current key goes on. The first
//!   key is waited for (the segments queue up behind it); a key refused for good is replaced
//!   by a new one, and a segment is never published in the clear.
//!
//! With a key sink, the keys no sink publishing the playlist names any more are deleted there
//! (`key_reaper`, after each segment).
//!
//! Owns the keys in use; never logs a key's bytes. Knows nothing of sinks beyond the key
//! sink's queue and the key floors they report.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;

use std::collections::BTreeMap;

use super::key_floors::KeyFloors;
use super::key_reaper::KeyReaper;
use super::links::{KeyDelivery, PlaylistId, SinkCommand, SinkQueue};
use super::state::SequenceStore;
use crate::config::model::PlaylistEncryption;
use crate::publish::encryption::{Sealer, SegmentKey};
use crate::segmenter::Segment;
use crate::status::{NodeState, NodeStatus};

/// A key sent to the key sink, not yet known to be stored.
struct KeySent {
    key: SegmentKey,
    stored: oneshot::Receiver<bool>,
}

/// The encryption side of one playlist node.
pub struct EncryptStage {
    playlist: PlaylistId,
    sealer: Sealer,
    key_sink: Option<SinkQueue>,
    /// A key is in use.
    keyed: bool,
    /// With a key sink: the next key, sent there.
    next: Option<KeySent>,
    /// With a key sink: the next key, stored there.
    stored_next: Option<SegmentKey>,
    /// A warning about the key sink is out (not repeated per segment).
    warned: bool,
    /// With a key sink: what deletes the keys there.
    reaper: Option<KeyReaper>,
}

impl EncryptStage {
    /// The stage of `playlist`, its keys stored at `key_sink` (the playlist's own sinks when
    /// `None`), deleted there once no floor its sinks report in `floors` names them.
    pub fn new(
        playlist: PlaylistId,
        settings: PlaylistEncryption,
        key_sink: Option<SinkQueue>,
        floors: KeyFloors,
    ) -> Self {
        let reaper = (key_sink.clone()).map(|queue| {
            let name = settings.key_name.clone();
            KeyReaper::new(Arc::clone(&playlist), floors, queue, name)
        });
        let sealer = Sealer::new(
            settings.rotate_every,
            settings.key_name,
            settings.key_uri,
            key_sink.is_none(),
        );
        Self {
            playlist,
            sealer,
            key_sink,
            keyed: false,
            next: None,
            stored_next: None,
            warned: false,
            reaper,
        }
    }

    /// With a key sink: deletes there the keys that the sinks `outputs` no longer name (never
    /// the one in use).
    pub async fn reap(&mut self, outputs: &BTreeMap<String, SinkQueue>, store: &SequenceStore) {
        let in_use = self.sealer.key_number();
        if let Some(reaper) = &mut self.reaper {
            reaper.reap(outputs, in_use, store).await;
        }
    }

    /// Sink `sink` no longer publishes the playlist: the keys it may still name stay.
    pub async fn sink_left(&mut self, sink: &str, store: &SequenceStore) {
        let in_use = self.sealer.key_number();
        if let Some(reaper) = &mut self.reaper {
            reaper.sink_left(sink, in_use, store).await;
        }
    }

    /// With a key sink, sends the first key at once (before the first segment is cut).
    pub async fn prepare(&mut self, store: &SequenceStore, status: &NodeStatus) {
        if self.key_sink.is_some() && self.next.is_none() && self.stored_next.is_none() {
            self.send_next(store, status).await;
        }
    }

    /// `segment`, numbered `sequence`, encrypted (on the blocking pool: a few milliseconds for
    /// a large segment, which must not hold up the other feeds' tasks); `None` when no key can
    /// be used yet (call [`Self::ready`] first): it is not published.
    pub async fn seal(&mut self, segment: Arc<Segment>, sequence: u64) -> Option<Segment> {
        let sealing = self.sealer.sealing(sequence)?;
        let sealed = tokio::task::spawn_blocking(move || {
            // The cut's own buffer when nothing else holds it (no master reads it).
            let segment = Arc::try_unwrap(segment).unwrap_or_else(|shared| Segment::clone(&shared));
            sealing.apply(segment)
        });
        match sealed.await {
            Ok(sealed) => Some(sealed),
            Err(error) => {
                tracing::error!(playlist = %self.playlist, %error, "encryption failed: the segment is not published");
                None
            }
        }
    }

    /// Makes sure the next segment has its key, rotating when due; whether it has one.
    pub async fn ready(&mut self, store: &SequenceStore, status: &NodeStatus) -> bool {
        if self.sealer.wants_key()
            && let Some(key) = self.new_key(store, status).await
        {
            self.sealer.use_key(key);
            self.keyed = true;
            if self.key_sink.is_some() && self.sealer.rotates() {
                self.send_next(store, status).await;
            }
        }
        self.keyed
    }

    /// A key to rotate to: a fresh one without a key sink; else the next one once the key sink
    /// stored it (`None` until then).
    async fn new_key(&mut self, store: &SequenceStore, status: &NodeStatus) -> Option<SegmentKey> {
        if self.key_sink.is_none() {
            return make_key(&self.playlist, store, status).await;
        }
        // Without a key in use, the first one is waited for (the segments queue up behind it).
        let wait = !self.keyed;
        self.poll_next(wait, store, status).await;
        match self.stored_next.take() {
            Some(key) => {
                self.warned = false;
                Some(key)
            }
            None => {
                if !std::mem::replace(&mut self.warned, true) {
                    match self.keyed {
                        true => {
                            tracing::warn!(playlist = %self.playlist, "the key sink has not stored the next key yet: the current key goes on")
                        }
                        false => {
                            tracing::warn!(playlist = %self.playlist, "the key sink has not stored a key yet: segments are not published until it does")
                        }
                    }
                }
                None
            }
        }
    }

    /// Whether the key sent to the key sink was stored (waiting for the answer if `wait`): it
    /// becomes the next key; refused, a new one is sent.
    async fn poll_next(&mut self, wait: bool, store: &SequenceStore, status: &NodeStatus) {
        let Some(sent) = &mut self.next else {
            return;
        };
        let answer = match wait {
            true => (&mut sent.stored).await.map_err(|_| TryRecvError::Closed),
            false => sent.stored.try_recv(),
        };
        match answer {
            Ok(true) => {
                self.stored_next = self.next.take().map(|sent| sent.key);
            }
            Ok(false) | Err(TryRecvError::Closed) => {
                self.next = None;
                let state = match self.keyed {
                    true => NodeState::Live,
                    false => NodeState::Stalled,
                };
                status.fail(
                    state,
                    "the key sink did not store a key; another is sent".into(),
                );
                self.send_next(store, status).await;
            }
            Err(TryRecvError::Empty) => {}
        }
    }

    /// Makes the next key and sends it to the key sink.
    async fn send_next(&mut self, store: &SequenceStore, status: &NodeStatus) {
        let Some(queue) = &self.key_sink else {
            return;
        };
        let Some(key) = make_key(&self.playlist, store, status).await else {
            return;
        };
        let (stored, receiver) = oneshot::channel();
        queue.send(SinkCommand::Key(KeyDelivery {
            playlist: Arc::clone(&self.playlist),
            name: self.sealer.key_name(key.number),
            bytes: *key.bytes(),
            stored,
        }));
        self.next = Some(KeySent {
            key,
            stored: receiver,
        });
    }
}

/// A new key, its number taken from the store first.
async fn make_key(
    playlist: &PlaylistId,
    store: &SequenceStore,
    status: &NodeStatus,
) -> Option<SegmentKey> {
    let number = match store.take_key_number().await {
        Ok(number) => number,
        Err(error) => {
            tracing::error!(%playlist, %error, "cannot record the key counter: no new key (segments are not published in the clear)");
            status.fail(
                NodeState::Stalled,
                format!("cannot record the key counter: {error}"),
            );
            return None;
        }
    };
    match SegmentKey::random(number) {
        Ok(key) => {
            tracing::info!(%playlist, key = number, "new key");
            Some(key)
        }
        Err(error) => {
            tracing::error!(%playlist, %error, "no new key");
            status.fail(NodeState::Stalled, error.to_string());
            None
        }
    }
}
