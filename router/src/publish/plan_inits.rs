//! The publishing plan's fMP4 init segments: which init each planned segment names (its
//! EXT-X-MAP), and when an init may be deleted — once no entry of any view (live window,
//! time-shift view, open or finished archive) names it any more, and no sooner than the last
//! segment that needed it.
//!
//! An init's *run* starts at the sequence number of the first segment planned after it was
//! stored and lasts until the next run (another init, or MPEG-TS segments after a reload).
//! Runs are kept in the plan's snapshot, so a restarted sink still knows what each listed
//! entry needs. Pure, like the rest of the plan.

use std::collections::VecDeque;
use std::time::Duration;

use super::plan::{Operation, PlaylistPlan};
use crate::playlist::{PlaylistEntry, SegmentFormat};

/// The object the segments from `first_sequence` on need beside them: an init segment (`None`:
/// MPEG-TS, no init) or a key file (`None`: in the clear, or the key is stored elsewhere), by
/// object key; or the key a key sink holds for them, by number (`K = u64`; `None`: none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectRun<K = String> {
    /// Its object key (or key number).
    #[serde(alias = "number")]
    pub key: Option<K>,
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
        start_run(&mut self.inits, key, self.next_sequence);
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
        object_for(&self.inits, sequence)
    }

    /// `entry` as listed in the view stored under `view_key`: its EXT-X-MAP (and a key stored
    /// beside it) named from there.
    pub(super) fn mapped_for(&self, view_key: &str, mut entry: PlaylistEntry) -> PlaylistEntry {
        if entry.map.is_some()
            && let Some(init) = self.init_for(entry.sequence)
        {
            entry.map = Some(self.uri_for(view_key, init));
        }
        self.key_mapped_for(view_key, &mut entry);
        entry
    }

    /// Expires the inits no entry names any more, each kept `keep_for` (at least as long as
    /// the last segment that needed it) — never the current one.
    pub(super) fn expire_inits(&mut self, oldest_named: u64, keep_for: Duration) -> Vec<Operation> {
        let gone = expire_runs(&mut self.inits, self.init_key.as_ref(), oldest_named);
        if !self.settings.delete_expired {
            return Vec::new();
        }
        (gone.into_iter())
            .map(|key| {
                tracing::debug!(%key, "init segment no longer named: expired");
                Operation::Expire { key, keep_for }
            })
            .collect()
    }
}

/// `runs` go on with `key` from the segment numbered `first_sequence` (nothing changes when the
/// last run has it; a run of nothing needs no start).
pub(super) fn start_run<K: PartialEq>(
    runs: &mut VecDeque<ObjectRun<K>>,
    key: Option<K>,
    first_sequence: u64,
) {
    if runs.back().is_some_and(|run| run.key == key) {
        return;
    }
    if key.is_none() && runs.is_empty() {
        return;
    }
    runs.push_back(ObjectRun {
        key,
        first_sequence,
    });
}

/// The object `runs` give segment `sequence`, when they know it.
pub(super) fn object_for(runs: &VecDeque<ObjectRun>, sequence: u64) -> Option<&str> {
    (runs.iter().rev())
        .find(|run| run.first_sequence <= sequence)
        .and_then(|run| run.key.as_deref())
}

/// Drops the runs that end before `oldest_named` (the oldest entry any view names); returns
/// the objects of those that no entry names any more — never `current`, nor one a later run
/// names again.
pub(super) fn expire_runs<K: PartialEq>(
    runs: &mut VecDeque<ObjectRun<K>>,
    current: Option<&K>,
    oldest_named: u64,
) -> Vec<K> {
    let mut gone_keys = Vec::new();
    while runs.len() > 1 && runs[1].first_sequence <= oldest_named {
        let Some(gone) = runs.pop_front() else {
            break;
        };
        let Some(key) = gone.key else { continue };
        let named = current == Some(&key) || runs.iter().any(|run| run.key.as_ref() == Some(&key));
        if !named {
            gone_keys.push(key);
        }
    }
    // Only segments without the object are planned now and no entry names the last one.
    if let [last] = runs.make_contiguous()
        && last.key.is_none()
        && last.first_sequence <= oldest_named
    {
        runs.clear();
    }
    gone_keys
}
