//! The publishing plan's views besides the live window (see `views.rs`): adding each segment
//! to the time-shift view and the open archive, finishing archives, retiring them after
//! `retain`, applying a reload's view settings, and keeping it all in the plan's snapshot.
//! A segment is deleted once no view lists it and no kept archive holds it.
//!
//! Pure, like the rest of the plan. Owns no state of its own: it is the plan's.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::archive_master::ArchiveRef;
use super::key_runs::KeyRuns;
use super::plan::{Listed, NewEntry, Operation, PlaylistPlan, put_view};
use super::views::{
    Archives, Dvr, FinishedArchive, OpenArchive, OpenArchiveSnapshot, ViewSnapshot, ViewsSnapshot,
    dvr_config,
};
use crate::playlist::{MediaPlaylist, PlaylistEntry, PlaylistSnapshot};

/// A finished archive never changes (until its retention deletes it).
pub const ARCHIVE_CACHE_CONTROL: &str = "public, max-age=86400";

impl PlaylistPlan {
    /// Adds the new segment to the time-shift view and the archive of its period (finishing
    /// the open one when the segment starts a later period).
    pub(super) fn add_to_views(&mut self, entry: &NewEntry<'_>) -> Vec<Operation> {
        let mut operations = Vec::new();
        if let Some(key) = self.dvr.as_ref().map(|dvr| dvr.key.clone()) {
            let listed = self.entry_for(&key, entry);
            if let Some(dvr) = &mut self.dvr {
                let expired = dvr.playlist.push(listed).expired;
                operations.push(put_view(&dvr.key, &dvr.playlist, &self.cache_control));
                self.note_expired(&expired);
            }
        }
        if let Some(archives) = &mut self.archives
            && let Some(done) = archives.open_for(entry.wall_clock, &self.settings.playlist)
        {
            operations.push(finish(archives, done, &self.listed));
        }
        let open_key = (self.archives.as_ref())
            .and_then(|archives| archives.open.as_ref())
            .map(|open| open.key.clone());
        if let Some(key) = open_key {
            let listed = self.entry_for(&key, entry);
            if let Some(open) = self.archives.as_mut().and_then(|a| a.open.as_mut()) {
                open.playlist.push(listed);
                operations.push(put_view(&open.key, &open.playlist, &self.cache_control));
            }
        }
        operations
    }

    /// The oldest sequence number a view lists (the next one when none lists any).
    fn front(&self) -> u64 {
        let mut views = vec![self.playlist.media_sequence()];
        views.extend(self.dvr.as_ref().map(|dvr| dvr.playlist.media_sequence()));
        let open = self.archives.as_ref().and_then(|a| a.open.as_ref());
        views.extend(open.map(|open| open.playlist.media_sequence()));
        views
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_sequence)
    }

    /// The view listing every listed segment: the one reaching back furthest.
    pub(super) fn longest_view(&self) -> &MediaPlaylist {
        let mut longest = &self.playlist;
        let mut candidates: Vec<&MediaPlaylist> = Vec::new();
        candidates.extend(self.dvr.as_ref().map(|dvr| &dvr.playlist));
        let open = self.archives.as_ref().and_then(|a| a.open.as_ref());
        candidates.extend(open.map(|open| &open.playlist));
        for view in candidates {
            if view.entries().len() > longest.entries().len() {
                longest = view;
            }
        }
        longest
    }

    /// Forgets the segments no view lists any more; those no kept archive holds are expired.
    pub(super) fn release(&mut self) -> Vec<Operation> {
        let front = self.front();
        let mut operations = Vec::new();
        let mut keep_for = 0.0f64;
        while let Some(first) = self.listed.front()
            && first.sequence < front
        {
            let Some(gone) = self.listed.pop_front() else {
                break;
            };
            keep_for = keep_for.max(gone.keep_for);
            let held = (self.archives.as_ref()).is_some_and(|a| a.finished_holds(gone.sequence));
            if gone.gap || held || !self.settings.delete_expired {
                continue;
            }
            operations.push(Operation::Expire {
                key: gone.key,
                keep_for: Duration::from_secs_f64(gone.keep_for.max(0.0)),
            });
        }
        let target = self.playlist.target_duration() as f64;
        let keep_for = Duration::from_secs_f64(keep_for.max(target));
        let oldest_named = self.oldest_named();
        operations.extend(self.expire_inits(oldest_named, keep_for));
        operations.extend(self.expire_key_objects(oldest_named, keep_for));
        self.expire_key_numbers(oldest_named, keep_for);
        operations
    }

    /// The oldest sequence number an entry of any view names: the listed ones and those of
    /// the finished archives kept (the next one when none is).
    pub(super) fn oldest_named(&self) -> u64 {
        let finished = (self.archives.as_ref())
            .and_then(|archives| archives.finished.iter().map(|archive| archive.first).min());
        let listed = self.listed.front().map(|listed| listed.sequence);
        [finished, listed]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_sequence)
    }

    /// Deletes the finished archives whose period ended more than `retain` before `now`: each
    /// playlist, then its segments that no view lists (the others go when they leave the
    /// views).
    pub fn retire(&mut self, now: SystemTime) -> Vec<Operation> {
        let front = self.front();
        let delete_segments = self.settings.delete_expired;
        let target = Duration::from_secs(self.playlist.target_duration());
        let Some(archives) = &mut self.archives else {
            return Vec::new();
        };
        let mut operations = Vec::new();
        for archive in archives.retire(now) {
            tracing::info!(archive = %archive.key, segments = archive.segments.len(), "archive past its retention: deleted");
            operations.push(Operation::Expire {
                key: archive.key.clone(),
                keep_for: Duration::ZERO,
            });
            if !delete_segments {
                continue;
            }
            for (sequence, key) in archive.segments.iter() {
                if sequence < front {
                    operations.push(Operation::Expire {
                        key,
                        keep_for: target,
                    });
                }
            }
        }
        let oldest_named = self.oldest_named();
        operations.extend(self.expire_inits(oldest_named, target));
        operations.extend(self.expire_key_objects(oldest_named, target));
        self.expire_key_numbers(oldest_named, target);
        operations
    }

    /// When [`Self::retire`] has something to do next.
    pub fn next_retirement(&self) -> Option<SystemTime> {
        self.archives.as_ref().and_then(Archives::next_retirement)
    }

    /// Its archive of the period starting at `start` (open or finished), if it holds one: its
    /// key and when its retention deletes it by the settings now.
    pub fn archive_of(&self, start: SystemTime) -> Option<ArchiveRef> {
        let archives = self.archives.as_ref()?;
        let retain = archives.view.retain;
        if let Some(open) = archives.open.as_ref().filter(|open| open.start == start) {
            let end = archives.view.period_end(start);
            return Some(ArchiveRef {
                key: open.key.clone(),
                retired_at: retain.map(|retain| end + retain),
            });
        }
        let finished = archives.finished.iter().find(|a| a.start == start)?;
        Some(ArchiveRef {
            key: finished.key.clone(),
            retired_at: retain.map(|retain| finished.end + retain),
        })
    }

    /// The archives finished so far, oldest first.
    pub fn finished_archives(&self) -> impl Iterator<Item = &FinishedArchive> {
        self.archives
            .iter()
            .flat_map(|archives| archives.finished.iter())
    }

    /// Applies the views of the settings just set (a reload): a time-shift view added starts
    /// with the live window's segments; one removed or moved gets its final version at its old
    /// key; archives added start with the next segment; removed, the open one is finished and
    /// the finished ones still reach their retention.
    pub(super) fn update_views(&mut self) -> Vec<Operation> {
        let mut operations = Vec::new();
        let live = self.settings.playlist.clone();
        match (self.dvr.take(), self.settings.dvr.clone()) {
            (None, Some(view)) => {
                let mut dvr = Dvr::new(&view, &live);
                let skip = self
                    .listed
                    .len()
                    .saturating_sub(self.playlist.entries().len());
                for (entry, listed) in self.playlist.entries().zip(self.listed.iter().skip(skip)) {
                    let mut entry = self.mapped_for(&dvr.key, entry.clone());
                    entry.uri = self.uri_for(&dvr.key, &listed.key);
                    dvr.playlist.push(entry);
                }
                self.dvr = Some(dvr);
            }
            (Some(mut dvr), None) => {
                if !dvr.playlist.is_ended() && dvr.playlist.entries().len() > 0 {
                    dvr.playlist.end();
                    operations.push(put_view(&dvr.key, &dvr.playlist, &self.cache_control));
                }
            }
            (Some(mut dvr), Some(view)) => {
                if dvr.key != view.file_name
                    && !dvr.playlist.is_ended()
                    && dvr.playlist.entries().len() > 0
                {
                    dvr.playlist.end();
                    operations.push(put_view(&dvr.key, &dvr.playlist, &self.cache_control));
                }
                dvr.playlist.reopen();
                dvr.key = view.file_name.clone();
                dvr.playlist.set_config(dvr_config(&view, &live));
                self.dvr = Some(dvr);
            }
            (None, None) => {}
        }
        match (&mut self.archives, self.settings.archive.clone()) {
            (None, Some(view)) => self.archives = Some(Archives::new(view)),
            (Some(archives), Some(view)) => {
                archives.view = view;
                archives.recording = true;
            }
            (Some(archives), None) => {
                archives.recording = false;
                if let Some(open) = archives.open.take() {
                    operations.push(finish(archives, open, &self.listed));
                }
            }
            (None, None) => {}
        }
        operations.extend(self.release());
        operations
    }

    /// The views without their entries, for the plan's snapshot.
    pub(super) fn views_header(&self) -> ViewsSnapshot {
        let view = |key: &str, playlist: &MediaPlaylist| ViewSnapshot {
            key: key.to_owned(),
            playlist: playlist.header(),
            first: playlist.media_sequence(),
        };
        let archives = self.archives.as_ref();
        let open = archives.and_then(|archives| archives.open.as_ref());
        ViewsSnapshot {
            live_first: Some(self.playlist.media_sequence().unwrap_or(self.next_sequence)),
            dvr: (self.dvr.as_ref()).map(|dvr| view(&dvr.key, &dvr.playlist)),
            open_archive: open.map(|open| OpenArchiveSnapshot {
                start: open.start,
                view: view(&open.key, &open.playlist),
            }),
            finished_archives: self.finished_archives().cloned().collect(),
            recording: archives.is_none_or(|archives| archives.recording),
            archive_view: archives.map(|archives| archives.view.clone()),
        }
    }

    /// Sets the views up again from a snapshot: each lists the snapshot's `entries` (with
    /// their `keys`) from its first sequence number on, under its own URIs. A snapshot from
    /// before views existed lists every entry in the live window.
    pub(super) fn restore_views(
        &mut self,
        live: PlaylistSnapshot,
        views: ViewsSnapshot,
        entries: &[PlaylistEntry],
        keys: &[String],
    ) {
        // Each entry was journaled as one view listed it: in this view it was listed in
        // playlists at least as long as the view is now.
        let listing = |plan: &Self, key: &str, first: Option<u64>| -> Vec<PlaylistEntry> {
            let Some(first) = first else {
                return Vec::new();
            };
            let listed = || (entries.iter().zip(keys)).filter(|(e, _)| e.sequence >= first);
            let lasting: f64 = listed().map(|(entry, _)| entry.duration).sum();
            listed()
                .map(|(entry, stored)| {
                    let mut entry =
                        plan.mapped_for(key, entry.clone().listed_for_at_least(lasting));
                    entry.uri = plan.uri_for(key, stored);
                    entry
                })
                .collect()
        };
        let restored = |plan: &Self, header: PlaylistSnapshot, key: &str, first| {
            let entries = listing(plan, key, first);
            MediaPlaylist::restore(PlaylistSnapshot { entries, ..header })
        };
        let live_first = views.live_first.or(entries.first().map(|e| e.sequence));
        let live_key = self.settings.playlist_key.clone();
        self.playlist = restored(self, live, &live_key, live_first);
        if let Some(dvr) = views.dvr {
            let playlist = restored(self, dvr.playlist, &dvr.key, dvr.first);
            self.dvr = Some(Dvr {
                key: dvr.key,
                playlist,
            });
        }
        let view = views.archive_view.or_else(|| self.settings.archive.clone());
        if let Some(view) = view {
            let mut archives = Archives::new(view);
            archives.recording = views.recording;
            archives.finished = views.finished_archives.into();
            if let Some(open) = views.open_archive {
                let key = open.view.key;
                let playlist = restored(self, open.view.playlist, &key, open.view.first);
                archives.open = Some(OpenArchive {
                    start: open.start,
                    key,
                    playlist,
                });
            }
            self.archives = Some(archives);
        }
    }
}

/// Finishes `open` as a VOD recording: its final version, and its record among the finished
/// archives (with the keys of its stored segments, from `listed`).
fn finish(archives: &mut Archives, open: OpenArchive, listed: &VecDeque<Listed>) -> Operation {
    let OpenArchive {
        start,
        key,
        mut playlist,
    } = open;
    playlist.finish_as_vod();
    let first = playlist.media_sequence().unwrap_or_default();
    let last = playlist
        .entries()
        .last()
        .map_or(first, |entry| entry.sequence);
    let mut segments = KeyRuns::default();
    for stored in listed
        .iter()
        .filter(|l| !l.gap && (first..=last).contains(&l.sequence))
    {
        segments.push(stored.sequence, &stored.key);
    }
    tracing::info!(archive = %key, segments = segments.len(), "archive finished");
    let operation = Operation::PutPlaylist {
        key: key.clone(),
        text: playlist.render(),
        cache_control: ARCHIVE_CACHE_CONTROL.to_owned(),
    };
    archives.finished.push_back(FinishedArchive {
        key,
        start,
        end: archives.view.period_end(start),
        duration: playlist.duration(),
        first,
        last,
        segments,
    });
    operation
}

#[cfg(test)]
#[path = "views_tests.rs"]
mod views_tests;
