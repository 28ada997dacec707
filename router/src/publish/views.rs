//! The views of a playlist besides its live window, as one sink publishes them: a time-shift
//! (DVR) playlist that slides by media time, and archives: one playlist per UTC-aligned period,
//! `EVENT` while the period is open, rewritten once as `VOD` with `#EXT-X-ENDLIST` when a
//! segment of a later period comes, and deleted with its segments once `retain` has passed
//! since the period ended. Every view lists the same segment objects; the plan
//! ([`super::PlaylistPlan`]) deletes a segment only when it has left them all.
//!
//! A segment belongs to the period in which it starts (its wall-clock time), so none falls
//! between two archives; a period is finished by the first segment of a later one (a segment
//! queued during an outage still reaches its own period's archive), never by a clock.
//!
//! Pure: times come in as arguments. Owns the views' playlists and the records of finished
//! archives (their keys kept as [`KeyRuns`]); stores and deletes nothing itself.

use std::collections::VecDeque;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::key_runs::KeyRuns;
use crate::playlist::views::{ArchiveView, DvrView};
use crate::playlist::{MediaPlaylist, PlaylistConfig, PlaylistSnapshot};

/// The time-shift view.
#[derive(Debug, Clone)]
pub(super) struct Dvr {
    /// Its object key.
    pub(super) key: String,
    pub(super) playlist: MediaPlaylist,
}

impl Dvr {
    /// An empty view with `view`'s settings, sliding over the live playlist's segments.
    pub(super) fn new(view: &DvrView, live: &PlaylistConfig) -> Self {
        Self {
            key: view.file_name.clone(),
            playlist: MediaPlaylist::new(dvr_config(view, live)),
        }
    }
}

/// The settings of a time-shift view: the live playlist's, sliding by `duration`, never
/// listing fewer segments than the live window.
pub(super) fn dvr_config(view: &DvrView, live: &PlaylistConfig) -> PlaylistConfig {
    PlaylistConfig {
        max_duration: Some(view.duration.as_secs_f64()),
        ..live.clone()
    }
}

/// The settings of an archive: the live playlist's, keeping every segment (an EVENT).
pub(super) fn archive_config(live: &PlaylistConfig) -> PlaylistConfig {
    PlaylistConfig {
        window: 0,
        max_duration: None,
        ..live.clone()
    }
}

/// The archive of the period open now.
#[derive(Debug, Clone)]
pub(super) struct OpenArchive {
    /// The period's start.
    pub(super) start: SystemTime,
    /// Its object key.
    pub(super) key: String,
    pub(super) playlist: MediaPlaylist,
}

/// A finished archive, as kept until its retention deletes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedArchive {
    /// Its playlist's object key.
    pub key: String,
    /// The period's start.
    pub start: SystemTime,
    /// The period's end.
    pub end: SystemTime,
    /// Media seconds listed.
    pub duration: f64,
    /// The sequence numbers of its first and last entries.
    pub first: u64,
    /// See `first`.
    pub last: u64,
    /// The keys of its stored segments (gaps left out), by sequence number.
    pub segments: KeyRuns,
}

impl FinishedArchive {
    /// Whether it lists segment `sequence`.
    pub(super) fn holds(&self, sequence: u64) -> bool {
        (self.first..=self.last).contains(&sequence)
    }
}

/// The archives of one playlist at one sink.
#[derive(Debug, Clone)]
pub(super) struct Archives {
    pub(super) view: ArchiveView,
    pub(super) open: Option<OpenArchive>,
    /// Oldest first.
    pub(super) finished: VecDeque<FinishedArchive>,
    /// New archives are opened (a reload that removes `archive` only lets the finished ones
    /// reach their retention).
    pub(super) recording: bool,
}

impl Archives {
    pub(super) fn new(view: ArchiveView) -> Self {
        Self {
            view,
            open: None,
            finished: VecDeque::new(),
            recording: true,
        }
    }

    /// Whether a finished archive still lists segment `sequence` (an open one lists what it
    /// holds in its playlist).
    pub(super) fn finished_holds(&self, sequence: u64) -> bool {
        self.finished.iter().any(|archive| archive.holds(sequence))
    }

    /// The open archive for a segment starting at `wall_clock`: the open one, unless the
    /// segment starts a later period; then the open one comes back to be finished.
    pub(super) fn open_for(
        &mut self,
        wall_clock: SystemTime,
        live: &PlaylistConfig,
    ) -> Option<OpenArchive> {
        let start = self.view.period_start(wall_clock);
        let finished = match &self.open {
            // A clock going back stays in the open period: no segment falls between two.
            Some(open) if start > open.start => self.open.take(),
            _ => None,
        };
        if self.open.is_none() && self.recording {
            self.open = Some(OpenArchive {
                start,
                key: self.view.name.render(start),
                playlist: MediaPlaylist::new(archive_config(live)),
            });
        }
        finished
    }

    /// When the oldest finished archive is due for deletion.
    pub(super) fn next_retirement(&self) -> Option<SystemTime> {
        self.finished
            .iter()
            .filter_map(|archive| Some(archive.end + self.view.retain?))
            .min()
    }

    /// The finished archives whose retention has passed at `now`, oldest first; they are
    /// forgotten. Without `retain` they are kept for ever.
    pub(super) fn retire(&mut self, now: SystemTime) -> Vec<FinishedArchive> {
        let Some(retain) = self.view.retain else {
            return Vec::new();
        };
        let (due, kept): (Vec<_>, Vec<_>) =
            (self.finished.drain(..)).partition(|archive| archive.end + retain <= now);
        self.finished = kept.into();
        due
    }
}

/// The views as kept in a sink's journal: each view's playlist without entries and the first
/// sequence number it lists (the plan's listed entries are journaled once, for all views).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViewsSnapshot {
    /// The live window's first listed sequence number (`None`: it lists every entry kept).
    pub live_first: Option<u64>,
    /// The time-shift view.
    pub dvr: Option<ViewSnapshot>,
    /// The archive of the open period.
    pub open_archive: Option<OpenArchiveSnapshot>,
    /// Finished archives, oldest first.
    pub finished_archives: Vec<FinishedArchive>,
    /// Archives are still opened (see the plan's settings); `false` after `archive` was
    /// removed while finished ones wait for their retention.
    #[serde(default)]
    pub recording: bool,
    /// The archive settings the finished archives are kept by.
    #[serde(default)]
    pub archive_view: Option<ArchiveView>,
}

/// One view's playlist without entries, and its first listed sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewSnapshot {
    /// Its object key.
    pub key: String,
    /// The playlist, entries left out.
    pub playlist: PlaylistSnapshot,
    /// Its first listed sequence number.
    pub first: Option<u64>,
}

/// The open archive as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenArchiveSnapshot {
    /// The period's start.
    pub start: SystemTime,
    /// The view.
    pub view: ViewSnapshot,
}
