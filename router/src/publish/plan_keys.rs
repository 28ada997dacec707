//! The publishing plan's key files (HLS AES-128, when the playlist's own sinks store its keys):
//! which key object each planned segment names in its `#EXT-X-KEY`, and when a key may be
//! deleted — once no entry of any view (live window, time-shift view, open or finished archive)
//! names it any more, and no sooner than the last segment encrypted with it.
//!
//! A key object's run starts at the first segment planned with it and lasts until the next run
//! (another key, or segments in the clear or with their key stored elsewhere). Runs are kept
//! in the plan's snapshot like the init segments' (`plan_inits.rs`). Pure, like the rest of
//! the plan; the sink stores each key before the first segment naming it.

use std::time::Duration;

use super::plan::{NewEntry, Operation, PlaylistPlan};
use super::plan_inits::{expire_runs, start_run};
use crate::playlist::{EntryKey, PlaylistEntry};

impl PlaylistPlan {
    /// The key object segment `entry` names, stored beside it: from now on, its run.
    pub(super) fn note_key_object(&mut self, entry: &NewEntry<'_>) {
        let object = (entry.encryption)
            .and_then(|encryption| encryption.key_object.as_ref())
            .map(|object| object.name.clone());
        start_run(&mut self.key_objects, object, entry.sequence);
    }

    /// `listed` encrypted as `entry` says, its key named from the view stored under
    /// `view_key`. An encrypted segment whose key has no URI at all cannot be played: it is
    /// listed as a gap.
    pub(super) fn with_key_for(
        &self,
        view_key: &str,
        entry: &NewEntry<'_>,
        listed: PlaylistEntry,
    ) -> PlaylistEntry {
        let Some(encryption) = entry.encryption else {
            return listed;
        };
        let object = encryption.key_object.as_ref().map(|o| o.name.clone());
        let uri = match (&encryption.key_uri, &object) {
            (Some(uri), _) => uri.clone(),
            (None, Some(name)) => self.uri_for(view_key, name),
            (None, None) => return listed.as_gap(),
        };
        let relative = encryption.key_uri.is_none().then_some(object).flatten();
        listed.with_key(uri, encryption.iv, relative)
    }

    /// `entry`'s key as named from the view stored under `view_key` (a key object relative to
    /// the playlist; a URI written as is stays).
    pub(super) fn key_mapped_for(&self, view_key: &str, entry: &mut PlaylistEntry) {
        if let Some(EntryKey::Aes128 {
            uri,
            object: Some(name),
            ..
        }) = &mut entry.key
        {
            *uri = self.uri_for(view_key, name);
        }
    }

    /// The plan publishes where nothing it listed is: no listed entry names a key here.
    pub(super) fn rebase_key_objects(&mut self) {
        self.key_objects.clear();
    }

    /// Expires the key objects no entry names any more, each kept `keep_for` (at least as long
    /// as the last segment encrypted with it) — never the one the last segment named.
    pub(super) fn expire_key_objects(
        &mut self,
        oldest_named: u64,
        keep_for: Duration,
    ) -> Vec<Operation> {
        let current = self.key_objects.back().and_then(|run| run.key.clone());
        let gone = expire_runs(&mut self.key_objects, current.as_ref(), oldest_named);
        if !self.settings.delete_expired {
            return Vec::new();
        }
        (gone.into_iter())
            .map(|key| {
                tracing::debug!(%key, "key no longer named: expired");
                Operation::Expire { key, keep_for }
            })
            .collect()
    }
}
