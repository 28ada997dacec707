//! Which keys at a playlist's key sink may be deleted: each sink publishing the playlist says,
//! after every item it completes, the oldest key any entry of its views names or will name
//! ([`KeyFloor`], from its plan), in a registry the topology owns ([`KeyFloors`]); the playlist
//! deletes the keys below the lowest floor of its sinks ([`due_deletions`]), each once, as its
//! [`KeyLedger`] in `state_dir` records.
//!
//! The rules, all on the side of keeping a key:
//! - a sink that has not reported (since the daemon started, or since it was added) holds
//!   every key back: after a restart nothing is deleted until each sink has reported again;
//! - a sink behind holds back every key it will still list: its floor is never above the key
//!   of the last segment it planned, and its queued segments have keys at least that one
//!   (keys only go up; see `publish::plan_key_numbers`);
//! - a sink that no longer publishes the playlist keeps, for good, the keys from its last floor
//!   to the last key taken when it left ([`KeyLedger::kept`]): its final version (with
//!   EXT-X-ENDLIST) stays there and names them; later keys are none of its business;
//! - never the key in use, and never sooner than the longest hold a sink asked for (the segment
//!   duration plus the longest playlist that listed it, plus that sink's `delete_grace`).
//!
//! Pure apart from the registry's lock; the playlist task's `key_reaper` acts on it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::links::PlaylistId;
use crate::publish::KeyFloor;

/// Every sink's last floor for every playlist with a key sink, shared by the sink tasks (which
/// write theirs) and the playlist tasks (which read their playlist's).
#[derive(Debug, Clone, Default)]
pub struct KeyFloors(Arc<Mutex<BTreeMap<PlaylistId, BTreeMap<String, KeyFloor>>>>);

impl KeyFloors {
    /// Sink `sink`'s floor for `playlist` now (`None`: it names no key-sink key).
    pub fn report(&self, playlist: &PlaylistId, sink: &str, floor: Option<KeyFloor>) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match floor {
            Some(floor) => {
                let sinks = all.entry(Arc::clone(playlist)).or_default();
                sinks.insert(sink.to_owned(), floor);
            }
            None => {
                if let Some(sinks) = all.get_mut(playlist) {
                    sinks.remove(sink);
                }
            }
        }
    }

    /// The floors of `playlist`'s sinks, by sink name.
    pub fn of(&self, playlist: &PlaylistId) -> BTreeMap<String, KeyFloor> {
        let all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.get(playlist).cloned().unwrap_or_default()
    }
}

/// What a playlist did with its key-sink keys, kept in `state_dir` (`NAME.keyledger`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLedger {
    /// Every key numbered below it was sent for deletion (or is kept for good).
    pub below: u64,
    /// Keys kept for good, from–to inclusive: those a sink that left may still name.
    pub kept: Vec<(u64, u64)>,
}

/// Why a ledger file cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unreadable key ledger line {line}: {text:?}")]
pub struct LedgerError {
    /// The line, from 1.
    pub line: usize,
    /// Its text.
    pub text: String,
}

impl KeyLedger {
    /// The ledger as its file holds it.
    pub fn parse(text: &str) -> Result<Self, LedgerError> {
        let mut ledger = KeyLedger::default();
        for (index, line) in text.lines().enumerate() {
            let bad = || LedgerError {
                line: index + 1,
                text: line.to_owned(),
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let number = |word: &str| word.parse::<u64>().map_err(|_| bad());
            match words.as_slice() {
                [] => {}
                ["below", n] => ledger.below = number(n)?,
                ["kept", from, to] => ledger.kept.push((number(from)?, number(to)?)),
                _ => return Err(bad()),
            }
        }
        Ok(ledger)
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut text = format!("below {}\n", self.below);
        for (from, to) in &self.kept {
            text.push_str(&format!("kept {from} {to}\n"));
        }
        text
    }

    /// Whether key `number` is kept for good.
    fn keeps(&self, number: u64) -> bool {
        (self.kept.iter()).any(|(from, to)| (*from..=*to).contains(&number))
    }

    /// A sink that published the playlist left it with floor `floor` (`None`: it never
    /// reported), the key in use being `last_key`: it keeps what it may still name, and what
    /// it kept for where it stored before a move.
    pub fn sink_left(&mut self, floor: Option<&KeyFloor>, last_key: u64) {
        let from = floor.map_or(self.below, |f| f.oldest).max(self.below);
        self.keep(from, last_key);
        for (from, to) in floor.map(|f| f.kept.clone()).unwrap_or_default() {
            self.keep(from.max(self.below), to);
        }
    }

    /// Keeps `from..=to` for good (unless it is kept already).
    fn keep(&mut self, from: u64, to: u64) {
        let covered = (self.kept.iter()).any(|(f, t)| *f <= from && to <= *t);
        if from <= to && !covered {
            self.kept.push((from, to));
        }
    }
}

/// At most this many keys are considered for deletion at a time (one round a segment).
pub const KEYS_PER_ROUND: u64 = 64;

/// Keys to delete at the key sink, and how long each is kept first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Their numbers, in order.
    pub numbers: Vec<u64>,
    /// The ledger's new `below`.
    pub below: u64,
    /// How long they are kept from now.
    pub hold: Duration,
}

/// The keys the sinks `outputs` (publishing the playlist now) no longer name, given their
/// `floors` and `ledger`, never `in_use` nor later; `None` when there is none or a sink has
/// not reported (or there is no sink at all).
pub fn due_deletions<'a>(
    outputs: impl IntoIterator<Item = &'a String>,
    floors: &BTreeMap<String, KeyFloor>,
    ledger: &KeyLedger,
    in_use: Option<u64>,
) -> Option<Deletion> {
    let mut lowest: Option<u64> = None;
    let mut hold = Duration::ZERO;
    // What a sink kept for where it stored before a move stays too.
    let mut moved = Vec::new();
    for sink in outputs {
        let floor = floors.get(sink)?;
        lowest = Some(lowest.map_or(floor.oldest, |l| l.min(floor.oldest)));
        hold = hold.max(floor.hold);
        moved.extend(floor.kept.iter().copied());
    }
    let lowest = lowest?;
    let below = in_use.map_or(lowest, |in_use| in_use.min(lowest));
    if below <= ledger.below {
        return None;
    }
    let kept = |n: u64| ledger.keeps(n) || moved.iter().any(|(f, t)| (*f..=*t).contains(&n));
    // A few at a time (the first run after an upgrade may find many): each is journaled.
    let below = below.min(ledger.below.saturating_add(KEYS_PER_ROUND));
    let numbers = (ledger.below..below).filter(|n| !kept(*n)).collect();
    Some(Deletion {
        numbers,
        below,
        hold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(oldest: u64, hold: u64) -> KeyFloor {
        KeyFloor {
            oldest,
            hold: Duration::from_secs(hold),
            kept: Vec::new(),
        }
    }

    fn sinks(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn keys_below_every_sinks_floor_go_once_with_the_longest_hold() {
        let outputs = sinks(&["a", "b"]);
        let mut floors = BTreeMap::from([("a".to_owned(), floor(5, 4))]);
        let mut ledger = KeyLedger::default();
        assert_eq!(
            due_deletions(&outputs, &floors, &ledger, Some(9)),
            None,
            "b not heard"
        );
        floors.insert("b".into(), floor(3, 7));
        let due = due_deletions(&outputs, &floors, &ledger, Some(9)).unwrap();
        assert_eq!(due.numbers, [0, 1, 2]);
        assert_eq!(due.hold, Duration::from_secs(7));
        ledger.below = due.below;
        assert_eq!(
            due_deletions(&outputs, &floors, &ledger, Some(9)),
            None,
            "once"
        );
        // Never the key in use, and nothing without a sink.
        floors.insert("b".into(), floor(20, 7));
        let due = due_deletions(&outputs, &floors, &ledger, Some(4)).unwrap();
        assert_eq!(due.numbers, [3]);
        assert_eq!(due_deletions(&sinks(&[]), &floors, &ledger, Some(9)), None);
        // Many at once go a round at a time.
        floors.insert("a".into(), floor(1000, 0));
        floors.insert("b".into(), floor(1000, 0));
        let due = due_deletions(&outputs, &floors, &ledger, None).unwrap();
        assert_eq!(due.numbers.len() as u64, KEYS_PER_ROUND);
        assert_eq!(due.below, ledger.below + KEYS_PER_ROUND);
    }

    #[test]
    fn a_sink_that_left_keeps_what_its_last_version_names_for_good() {
        let mut ledger = KeyLedger {
            below: 2,
            kept: Vec::new(),
        };
        // It last named keys 4 on; key 6 was in use when it left.
        ledger.sink_left(Some(&floor(4, 0)), 6);
        // One that never reported keeps everything not yet deleted.
        ledger.sink_left(None, 3);
        assert_eq!(ledger.kept, [(4, 6), (2, 3)]);
        ledger.sink_left(Some(&floor(5, 0)), 6);
        assert_eq!(ledger.kept.len(), 2, "already kept");
        // A sink that moved keeps what its playlist at the old place names.
        let mut moved = floor(10, 1);
        moved.kept = vec![(8, 8)];
        let floors = BTreeMap::from([("a".to_owned(), moved.clone())]);
        let due = due_deletions(&sinks(&["a"]), &floors, &ledger, None).unwrap();
        assert_eq!(due.numbers, [7, 9]);
        assert_eq!(due.below, 10);
        let mut left = ledger.clone();
        left.sink_left(Some(&moved), 12);
        assert_eq!(left.kept, [(4, 6), (2, 3), (10, 12), (8, 8)]);
        let text = ledger.render();
        assert_eq!(KeyLedger::parse(&text), Ok(ledger));
        assert_eq!(KeyLedger::parse("below x").unwrap_err().line, 1);
        assert!(KeyLedger::parse("below 1\nkept 2").is_err());
    }
}
