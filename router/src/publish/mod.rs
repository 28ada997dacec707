//! Publish: stage 4 of the data flow. Puts segments and playlist versions on a sink in an order
//! that never breaks a player, and deletes segments once RFC 8216 §6.2.2 allows.
//!
//! Ordering: a segment is stored before the first playlist version that lists it, and playlist
//! versions are written one after the other. Expiry: a segment that left the window stays for
//! its duration plus the longest playlist that listed it, counted from the publication of the
//! first playlist without it. Talks to storage only through [`streamrouter_plugin::Sink`].

use std::time::{Duration, Instant};

use streamrouter_plugin::{
    ObjectMeta, PLAYLIST_CONTENT_TYPE, SEGMENT_CONTENT_TYPE, Sink, SinkError,
};

use crate::playlist::{MediaPlaylist, PlaylistConfig, PlaylistEntry};
use crate::segmenter::Segment;

/// Segments never change once written.
const SEGMENT_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// A publishing failure.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The sink refused an operation.
    #[error("sink: {0}")]
    Sink(#[from] SinkError),
}

/// How objects are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Segments are named `{segment_prefix}-{sequence:05}.ts`.
    pub segment_prefix: String,
    /// Key of the media playlist.
    pub playlist_key: String,
    /// Media sequence number of the first segment.
    pub first_sequence: u64,
}

impl Naming {
    /// The key of the segment with this sequence number.
    pub fn segment_key(&self, sequence: u64) -> String {
        format!("{}-{sequence:05}.ts", self.segment_prefix)
    }
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

/// Publishes one media playlist and its segments to one sink.
pub struct Publisher<S: Sink> {
    sink: S,
    naming: Naming,
    playlist: MediaPlaylist,
    playlist_cache_control: String,
    next_sequence: u64,
    expiring: Vec<(Instant, String)>,
    stats: PublishStats,
}

impl<S: Sink> Publisher<S> {
    /// A publisher writing through `sink`.
    pub fn new(sink: S, naming: Naming, config: PlaylistConfig) -> Self {
        let playlist = MediaPlaylist::new(config);
        // A player must not cache a live playlist longer than half a target duration.
        let half_target = (playlist.target_duration() / 2).max(1);
        Self {
            sink,
            next_sequence: naming.first_sequence,
            naming,
            playlist,
            playlist_cache_control: format!("max-age={half_target}"),
            expiring: Vec::new(),
            stats: PublishStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &PublishStats {
        &self.stats
    }

    /// The playlist as last published.
    pub fn playlist(&self) -> &MediaPlaylist {
        &self.playlist
    }

    /// Stores a segment, then the playlist version that lists it; schedules the deletion of the
    /// segments that left the window.
    pub fn publish(&mut self, segment: &Segment, now: Instant) -> Result<(), PublishError> {
        let sequence = self.next_sequence;
        let key = self.naming.segment_key(sequence);
        let meta = ObjectMeta {
            content_type: SEGMENT_CONTENT_TYPE,
            cache_control: Some(SEGMENT_CACHE_CONTROL),
        };
        self.sink.put(&key, &segment.data, &meta)?;
        self.next_sequence += 1;
        self.stats.segments += 1;
        self.stats.media_seconds += segment.duration();
        let entry = PlaylistEntry::new(sequence, key, segment.duration(), segment.discontinuity);
        let outcome = self.playlist.push(entry);
        if let Some((old, new)) = outcome.target_raised {
            tracing::warn!(
                sequence,
                duration = segment.duration(),
                old,
                new,
                "segment longer than EXT-X-TARGETDURATION: the input's keyframe interval exceeds \
                 the target; raising the declared target (set the encoder's GOP to divide the \
                 target duration)"
            );
        }
        self.put_playlist()?;
        let published = Instant::now().max(now);
        for expired in outcome.expired {
            let keep_for = Duration::from_secs_f64(expired.keep_for.max(0.0));
            self.expiring.push((published + keep_for, expired.uri));
        }
        Ok(())
    }

    /// Publishes the final playlist version with EXT-X-ENDLIST.
    pub fn end(&mut self) -> Result<(), PublishError> {
        self.playlist.end();
        if self.stats.segments > 0 {
            self.put_playlist()?;
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

    fn put_playlist(&mut self) -> Result<(), PublishError> {
        let text = self.playlist.render();
        let meta = ObjectMeta {
            content_type: PLAYLIST_CONTENT_TYPE,
            cache_control: Some(&self.playlist_cache_control),
        };
        self.sink
            .put(&self.naming.playlist_key, text.as_bytes(), &meta)?;
        self.stats.playlist_versions += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
