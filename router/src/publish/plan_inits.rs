//! The publishing plan's fMP4 init segments: which init each planned segment names (its
//! EXT-X-MAP), and when an init may be deleted — once no entry of any view (live window,
//! time-shift view, open or finished archive) names it any more, and no sooner than the last
//! segment that needed it.
//!
//! An init's *run* starts at the sequence number of the first segment planned after it was
//! stored and lasts until the next run (another init, or MPEG-TS segments after a reload).
//! Runs are kept in the plan's snapshot, so a restarted sink still knows what each listed
//! entry needs. Pure, like the rest of the plan.

use std::time::Duration;

use super::plan::{Operation, PlaylistPlan};
use crate::playlist::{PlaylistEntry, SegmentFormat};

/// The init segment the segments from `first_sequence` on need (`None`: MPEG-TS, no init).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InitRun {
    /// Object key of the init segment.
    pub key: Option<String>,
    /// The first segment planned after it.
    pub first_sequence: u64,
}

impl PlaylistPlan {
    /// The segments planned from now on are fMP4 fragments needing the init segment stored
    /// under `key` (listed as their EXT-X-MAP). The caller stores it before the next segment.
    pub fn set_init_key(&mut self, key: String) {
        self.start_run(Some(key.clone()));
        self.init_key = Some(key);
    }

    /// The init segment the next segments name, if they are fMP4.
    pub fn init_key(&self) -> Option<&str> {
        self.init_key.as_deref()
    }

    /// Whether the planned segments are fMP4 fragments.
    pub fn is_fmp4(&self) -> bool {
        self.settings.segment_format == SegmentFormat::Fmp4
    }

    fn start_run(&mut self, key: Option<String>) {
        if self.inits.back().is_some_and(|run| run.key == key) {
            return;
        }
        if key.is_none() && self.inits.is_empty() {
            return;
        }
        self.inits.push_back(InitRun {
            key,
            first_sequence: self.next_sequence,
        });
    }

    /// After new settings: MPEG-TS segments name no init.
    pub(super) fn follow_format(&mut self) {
        if self.settings.segment_format == SegmentFormat::Ts && self.init_key.take().is_some() {
            self.start_run(None);
        }
    }

    /// The plan now publishes where nothing it listed is: only the current init's run is
    /// left (the caller stores that init there again before the next segment).
    pub(super) fn rebase_inits(&mut self) {
        self.inits.clear();
        self.start_run(self.init_key.clone());
    }

    /// The key of the init segment segment `sequence` names, when the runs know it.
    pub(super) fn init_for(&self, sequence: u64) -> Option<&str> {
        (self.inits.iter().rev())
            .find(|run| run.first_sequence <= sequence)
            .and_then(|run| run.key.as_deref())
    }

    /// `entry` as listed in the view stored under `view_key`: its EXT-X-MAP named from there.
    pub(super) fn mapped_for(&self, view_key: &str, mut entry: PlaylistEntry) -> PlaylistEntry {
        if entry.map.is_some()
            && let Some(init) = self.init_for(entry.sequence)
        {
            entry.map = Some(self.uri_for(view_key, init));
        }
        entry
    }

    /// Expires the inits no entry names any more, each kept `keep_for` (at least as long as
    /// the last segment that needed it) — never the current one.
    pub(super) fn expire_inits(&mut self, oldest_named: u64, keep_for: Duration) -> Vec<Operation> {
        let mut operations = Vec::new();
        while self.inits.len() > 1 && self.inits[1].first_sequence <= oldest_named {
            let Some(gone) = self.inits.pop_front() else {
                break;
            };
            let Some(key) = gone.key else { continue };
            let named = self.init_key.as_deref() == Some(key.as_str())
                || self
                    .inits
                    .iter()
                    .any(|run| run.key.as_deref() == Some(key.as_str()));
            if named || !self.settings.delete_expired {
                continue;
            }
            tracing::debug!(%key, "init segment no longer named: expired");
            operations.push(Operation::Expire { key, keep_for });
        }
        // Only MPEG-TS is planned now and no entry names the last init.
        if let [last] = self.inits.make_contiguous()
            && last.key.is_none()
            && last.first_sequence <= oldest_named
        {
            self.inits.clear();
        }
        operations
    }
}
