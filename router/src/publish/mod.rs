//! Publish: stage 4 of the data flow. Puts segments and playlist versions on a sink in an order
//! that never breaks a player, and deletes segments once RFC 8216 §6.2.2 allows.
//!
//! [`plan`] decides what to do (pure); [`Publisher`] does it synchronously on one sink for the
//! one-shot `segment` command; the daemon's sink tasks do it asynchronously. Talks to storage
//! only through [`streamrouter_plugin::Sink`].

pub mod archive_master;
pub mod encryption;
pub mod journal;
pub mod key_naming;
pub mod key_runs;
pub mod plan;
mod plan_inits;
#[cfg(test)]
mod plan_inits_tests;
mod plan_key_numbers;
#[cfg(test)]
mod plan_key_numbers_tests;
mod plan_keys;
#[cfg(test)]
mod plan_keys_tests;
mod plan_views;
pub mod views;

use std::time::{Instant, SystemTime};

use streamrouter_plugin::{
    ObjectMeta, PLAYLIST_CONTENT_TYPE, SEGMENT_CONTENT_TYPE, Sink, SinkError,
};

pub use plan::{Operation, PlaylistPlan, SEGMENT_CACHE_CONTROL};
pub use plan_inits::ObjectRun;
pub use plan_key_numbers::{KeyFloor, KeySinkKeys};

use crate::playlist::{MediaPlaylist, PlanSettings};
use crate::segmenter::Segment;

/// A publishing failure.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The sink refused an operation.
    #[error("sink: {0}")]
    Sink(#[from] SinkError),
}

/// What has been published.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PublishStats {
    /// Segments stored.
    pub segments: u64,
    /// Media seconds stored.
    pub media_seconds: f64,
    /// Playlist versions stored.
    pub playlist_versions: u64,
    /// Expired segments deleted.
    pub deleted: u64,
}

/// The Content-Type and Cache-Control objects are stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHeaders {
    /// Content-Type of segments.
    pub segment_content_type: String,
    /// Cache-Control of segments.
    pub segment_cache_control: String,
    /// Content-Type of playlists.
    pub playlist_content_type: String,
    /// Cache-Control of playlists; `None` keeps the plan's (half a target duration).
    pub playlist_cache_control: Option<String>,
}

impl Default for ObjectHeaders {
    fn default() -> Self {
        Self {
            segment_content_type: SEGMENT_CONTENT_TYPE.to_owned(),
            segment_cache_control: SEGMENT_CACHE_CONTROL.to_owned(),
            playlist_content_type: PLAYLIST_CONTENT_TYPE.to_owned(),
            playlist_cache_control: None,
        }
    }
}

/// Content type of fMP4 init segments and fragments.
pub const FMP4_CONTENT_TYPE: &str = "video/mp4";

impl ObjectHeaders {
    /// These headers for fMP4 objects (init segments and fragments): `video/mp4`, whatever
    /// segment content type was configured, the rest as they are.
    pub fn for_fmp4(&self) -> ObjectHeaders {
        ObjectHeaders {
            segment_content_type: FMP4_CONTENT_TYPE.to_owned(),
            ..self.clone()
        }
    }
}

/// Content type of AES-128 key files (16 raw bytes).
pub const KEY_CONTENT_TYPE: &str = "application/octet-stream";
/// A key file never changes; shared caches must not keep it.
pub const KEY_CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

/// Stores an AES-128 key file (its 16 bytes, raw: what players fetch from the key URI).
pub fn put_key(sink: &dyn Sink, name: &str, bytes: &[u8; 16]) -> Result<(), SinkError> {
    let meta = ObjectMeta {
        content_type: KEY_CONTENT_TYPE,
        cache_control: Some(KEY_CACHE_CONTROL),
    };
    sink.put(name, bytes, &meta)
}

/// Stores a segment's bytes as planned.
pub fn put_segment(
    sink: &dyn Sink,
    key: &str,
    data: &[u8],
    headers: &ObjectHeaders,
) -> Result<(), SinkError> {
    let meta = ObjectMeta {
        content_type: &headers.segment_content_type,
        cache_control: Some(&headers.segment_cache_control),
    };
    sink.put(key, data, &meta)
}

/// Stores a playlist version as planned (`planned_cache_control` unless overridden).
pub fn put_playlist(
    sink: &dyn Sink,
    key: &str,
    text: &str,
    planned_cache_control: &str,
    headers: &ObjectHeaders,
) -> Result<(), SinkError> {
    let meta = ObjectMeta {
        content_type: &headers.playlist_content_type,
        cache_control: Some(
            headers
                .playlist_cache_control
                .as_deref()
                .unwrap_or(planned_cache_control),
        ),
    };
    sink.put(key, text.as_bytes(), &meta)
}

/// Publishes one media playlist and its segments to one sink, synchronously.
pub struct Publisher<S: Sink> {
    sink: S,
    plan: PlaylistPlan,
    expiring: Vec<(Instant, String)>,
    stats: PublishStats,
    headers: ObjectHeaders,
    /// The key file last stored (encrypted segments carry theirs).
    stored_key: Option<String>,
}

impl<S: Sink> Publisher<S> {
    /// A publisher writing through `sink`.
    pub fn new(sink: S, settings: PlanSettings) -> Self {
        Self {
            sink,
            plan: PlaylistPlan::new(settings),
            expiring: Vec::new(),
            stats: PublishStats::default(),
            headers: ObjectHeaders::default(),
            stored_key: None,
        }
    }

    /// The same publisher storing objects with these headers (e.g. `video/mp4` segments).
    pub fn with_headers(mut self, headers: ObjectHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// Stores an fMP4 init segment under `key`, before any playlist names it; the segments
    /// published from now on name it in their EXT-X-MAP. It expires once no listed entry
    /// names it.
    pub fn publish_init(&mut self, key: &str, data: &[u8]) -> Result<(), PublishError> {
        put_segment(&self.sink, key, data, &self.headers)?;
        self.plan.set_init_key(key.to_owned());
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> &PublishStats {
        &self.stats
    }

    /// The playlist as last published.
    pub fn playlist(&self) -> &MediaPlaylist {
        self.plan.playlist()
    }

    /// The media sequence number the next segment gets.
    pub fn next_sequence(&self) -> u64 {
        self.plan.next_sequence()
    }

    /// Stores a segment (after the key file it needs, when it is encrypted and that is not
    /// stored yet), then the playlist version that lists it; schedules the deletion of the
    /// segments (and keys) that left the window.
    pub fn publish(&mut self, segment: &Segment, now: Instant) -> Result<(), PublishError> {
        if let Some(object) = (segment.encryption.as_ref()).and_then(|e| e.key_object.as_ref())
            && self.stored_key.as_deref() != Some(object.name.as_str())
        {
            put_key(&self.sink, &object.name, &object.bytes)?;
            self.stored_key = Some(object.name.clone());
        }
        for operation in self.plan.add(segment, SystemTime::now()) {
            match operation {
                Operation::PutSegment { key } => {
                    put_segment(&self.sink, &key, &segment.data, &self.headers)?;
                    self.stats.segments += 1;
                    self.stats.media_seconds += segment.duration();
                }
                Operation::PutPlaylist {
                    key,
                    text,
                    cache_control,
                } => {
                    put_playlist(&self.sink, &key, &text, &cache_control, &self.headers)?;
                    self.stats.playlist_versions += 1;
                }
                Operation::Expire { key, keep_for } => {
                    let published = Instant::now().max(now);
                    self.expiring.push((published + keep_for, key));
                }
            }
        }
        Ok(())
    }

    /// Publishes the final playlist version with EXT-X-ENDLIST.
    pub fn end(&mut self) -> Result<(), PublishError> {
        for operation in self.plan.end() {
            let Operation::PutPlaylist {
                key,
                text,
                cache_control,
            } = operation
            else {
                continue;
            };
            put_playlist(&self.sink, &key, &text, &cache_control, &self.headers)?;
            self.stats.playlist_versions += 1;
        }
        Ok(())
    }

    /// Deletes the expired segments whose time has come; returns how many. A segment whose
    /// deletion fails stays scheduled and is tried again on the next call.
    pub fn delete_due(&mut self, now: Instant) -> Result<usize, PublishError> {
        let mut deleted = 0;
        // Deadlines are scheduled in publication order but keep_for varies: scan them all.
        while let Some(index) = self
            .expiring
            .iter()
            .position(|(deadline, _)| *deadline <= now)
        {
            let key = &self.expiring[index].1;
            self.sink.delete(key)?;
            self.expiring.remove(index);
            deleted += 1;
            self.stats.deleted += 1;
        }
        Ok(deleted)
    }

    /// When the next expired segment may be deleted, if any waits.
    pub fn next_deletion(&self) -> Option<Instant> {
        self.expiring.iter().map(|(deadline, _)| *deadline).min()
    }

    /// Expired segments still waiting for deletion.
    pub fn pending_deletions(&self) -> usize {
        self.expiring.len()
    }
}

#[cfg(test)]
mod tests;
