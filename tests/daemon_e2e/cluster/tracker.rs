//! What the cluster's shared output directory shows over time, feed by feed, read as a player
//! and a CDN would see it: every playlist version polled (`FEED.m3u8`, read by `m3u8-rs`) and
//! every segment file (`FEED-NNNNN.ts`) seen. Checked at each poll, with each finding kept:
//!
//! - a sequence number is never reused: a segment file, once seen, never comes back with other
//!   bytes (whichever router wrote it), and a listed number keeps its EXTINF duration;
//! - a playlist never goes back: its media sequence and its last number only grow;
//! - each entry's URI carries its own number (media sequence + position), and every listed
//!   segment (not `#EXT-X-GAP`) is in the directory.
//!
//! It also keeps, per feed, the last number and when it last grew (how long a playlist
//! stalled), whether a version ever ended in `#EXT-X-ENDLIST`, and which numbers were listed
//! after an `#EXT-X-DISCONTINUITY`, for the tests' own assertions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::common::m3u8::Playlist;
use crate::durable::Findings;

/// A segment's content: its length and CRC-32.
pub type Digest = (u64, u32);

/// One listed number as first seen.
#[derive(Debug, Clone, Copy)]
pub struct Listed {
    /// EXTINF seconds.
    pub duration: f64,
    /// Preceded by `#EXT-X-DISCONTINUITY` in some version.
    pub discontinuity: bool,
    /// Marked `#EXT-X-GAP` in some version.
    pub gap: bool,
}

/// What one feed showed so far.
#[derive(Debug, Default)]
pub struct Feed {
    /// The newest version read.
    pub playlist: Option<Playlist>,
    /// The highest media sequence read.
    pub media_sequence: Option<u64>,
    /// The highest number listed.
    pub last: Option<u64>,
    /// When `last` last grew.
    pub grew_at: Option<Instant>,
    /// The longest time `last` stood still since [`Tracker::reset_stalls`] (ongoing stalls
    /// are added by [`Tracker::longest_stall`]).
    pub longest_stall: Duration,
    /// Every number listed, as first seen.
    pub listed: BTreeMap<u64, Listed>,
    /// Whether a version ended in `#EXT-X-ENDLIST`.
    pub endlist_seen: bool,
    /// Segment files seen: number → content.
    pub segments: BTreeMap<u64, Digest>,
}

/// [`Findings`] without repeats: a wrong file seen at every poll is one finding.
#[derive(Default)]
pub struct Report {
    findings: Findings,
    seen: HashSet<String>,
}

impl Report {
    /// Notes `what` unless `ok` (once per distinct message).
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            if self.seen.insert(what.clone()) {
                self.findings.check(false, || what);
            }
        }
    }

    /// Every finding so far.
    pub fn messages(&self) -> Vec<&str> {
        self.seen.iter().map(String::as_str).collect()
    }

    /// Panics with every finding, if any, followed by `context`; empties the report.
    pub fn assert_none(&mut self, scenario: &str, context: &str) {
        self.seen.clear();
        std::mem::take(&mut self.findings).assert_none(scenario, context);
    }
}

/// Stat of a file whose digest is known: unchanged, it is not read again.
#[derive(PartialEq, Clone, Copy)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

/// Polls the output directory of a cluster.
pub struct Tracker {
    out: PathBuf,
    /// Feed id → what it showed.
    pub feeds: BTreeMap<String, Feed>,
    /// Everything found wrong so far.
    pub findings: Report,
    stamps: HashMap<String, (Stamp, Digest)>,
    polls: u64,
}

impl Tracker {
    /// A tracker of the feeds `feeds` publishing `FEED.m3u8` and `FEED-NNNNN.ts` into `out`.
    pub fn new(out: &Path, feeds: &[String]) -> Self {
        Self {
            out: out.to_path_buf(),
            feeds: feeds.iter().map(|f| (f.clone(), Feed::default())).collect(),
            findings: Report::default(),
            stamps: HashMap::new(),
            polls: 0,
        }
    }

    /// The directory it polls.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// How many polls were made.
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Reads every playlist, then every segment file, and checks them against what was seen.
    pub fn observe(&mut self) {
        self.polls += 1;
        let now = Instant::now();
        let names: Vec<String> = self.feeds.keys().cloned().collect();
        let mut listed_now: Vec<(String, String)> = Vec::new();
        for feed in &names {
            let path = self.out.join(format!("{feed}.m3u8"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let playlist = Playlist::parse(&text);
            for entry in playlist.entries.iter().filter(|entry| !entry.gap) {
                listed_now.push((feed.clone(), entry.uri.clone()));
            }
            self.playlist_seen(feed, playlist, &text, now);
        }
        // Listed after the playlists were read: a listed segment was stored before the
        // version that lists it, and is deleted only well after it left the window.
        let present = self.segments_seen();
        for (feed, uri) in listed_now {
            self.findings.check(present.contains_key(&uri), || {
                format!("{feed}: the playlist lists {uri}, which is not in the directory")
            });
        }
    }

    fn playlist_seen(&mut self, feed: &str, playlist: Playlist, text: &str, now: Instant) {
        let findings = &mut self.findings;
        let track = self.feeds.get_mut(feed).expect("a tracked feed");
        let sequence = playlist.media_sequence.unwrap_or(0);
        if let Some(before) = track.media_sequence {
            findings.check(sequence >= before, || {
                format!("{feed}: media sequence went back from {before} to {sequence}:\n{text}")
            });
        }
        track.media_sequence = Some(track.media_sequence.map_or(sequence, |m| m.max(sequence)));
        track.endlist_seen |= playlist.endlist;
        for (index, entry) in playlist.entries.iter().enumerate() {
            let number = sequence + index as u64;
            findings.check(segment_number(feed, &entry.uri) == Some(number), || {
                format!(
                    "{feed}: entry {index} of media sequence {sequence} is {}, not number \
                     {number}:\n{text}",
                    entry.uri
                )
            });
            match track.listed.get_mut(&number) {
                None => {
                    track.listed.insert(
                        number,
                        Listed {
                            duration: entry.duration,
                            discontinuity: entry.discontinuity,
                            gap: entry.gap,
                        },
                    );
                }
                Some(listed) => {
                    findings.check((listed.duration - entry.duration).abs() < 0.0015, || {
                        format!(
                            "{feed}: number {number} listed as {} s, earlier as {} s (a reused \
                             number):\n{text}",
                            entry.duration, listed.duration
                        )
                    });
                    listed.discontinuity |= entry.discontinuity;
                    listed.gap |= entry.gap;
                }
            }
        }
        if let Some(last) =
            (!playlist.entries.is_empty()).then(|| sequence + playlist.entries.len() as u64 - 1)
        {
            match track.last {
                Some(before) if last < before => findings.check(false, || {
                    format!("{feed}: last number went back from {before} to {last}:\n{text}")
                }),
                Some(before) if last == before => {}
                _ => {
                    if let Some(grew) = track.grew_at {
                        track.longest_stall = track.longest_stall.max(now - grew);
                    }
                    track.last = Some(last);
                    track.grew_at = Some(now);
                }
            }
        }
        track.playlist = Some(playlist);
    }

    /// Reads the segment files (new or changed ones only) and checks each number's content;
    /// returns the names present.
    fn segments_seen(&mut self) -> HashMap<String, Digest> {
        let mut present = HashMap::new();
        let Ok(entries) = std::fs::read_dir(&self.out) else {
            return present;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".ts") {
                continue;
            }
            let Some((feed, number)) = split_segment_name(&name) else {
                continue;
            };
            // Deleted between the listing and here: simply not present.
            let Ok(meta) = entry.metadata() else { continue };
            let stamp = Stamp {
                inode: meta.ino(),
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            let digest = match self.stamps.get(&name) {
                Some((known, digest)) if *known == stamp => *digest,
                _ => {
                    let Ok(bytes) = std::fs::read(entry.path()) else {
                        continue;
                    };
                    let digest = (bytes.len() as u64, crc32fast::hash(&bytes));
                    self.stamps.insert(name.clone(), (stamp, digest));
                    digest
                }
            };
            present.insert(name.clone(), digest);
            let Some(track) = self.feeds.get_mut(feed) else {
                continue;
            };
            match track.segments.get(&number) {
                None => {
                    track.segments.insert(number, digest);
                }
                Some(first) => self.findings.check(*first == digest, || {
                    format!(
                        "{name}: number reused: first {} bytes (crc {:08x}), now {} bytes \
                         (crc {:08x})",
                        first.0, first.1, digest.0, digest.1
                    )
                }),
            }
        }
        present
    }

    /// The highest number `feed` listed so far.
    pub fn last(&self, feed: &str) -> Option<u64> {
        self.feeds.get(feed).and_then(|track| track.last)
    }

    /// Every feed's last number (feeds without a playlist yet are left out).
    pub fn lasts(&self) -> BTreeMap<String, u64> {
        (self.feeds.iter())
            .filter_map(|(feed, track)| Some((feed.clone(), track.last?)))
            .collect()
    }

    /// Whether `feed` listed at least `by` numbers more than in `baseline`.
    pub fn advanced(&self, feed: &str, baseline: &BTreeMap<String, u64>, by: u64) -> bool {
        match (self.last(feed), baseline.get(feed)) {
            (Some(last), Some(base)) => last >= base + by,
            // No playlist yet at the baseline: numbers start at 1.
            (Some(last), None) => last >= by,
            (None, _) => false,
        }
    }

    /// Whether an `#EXT-X-DISCONTINUITY` was listed between number `after` (the last segment
    /// of one writer) and the first segment after it that is not a gap (the next writer's
    /// first), that one included; `None` while no such segment was listed.
    pub fn discontinuity_after(&self, feed: &str, after: u64) -> Option<bool> {
        let track = self.feeds.get(feed)?;
        let mut flagged = false;
        for listed in track.listed.range(after + 1..).map(|(_, listed)| listed) {
            flagged |= listed.discontinuity;
            if !listed.gap {
                return Some(flagged);
            }
        }
        None
    }

    /// Starts measuring stalls now: each feed's longest stall is reset, and its last growth
    /// is taken as now.
    pub fn reset_stalls(&mut self) {
        let now = Instant::now();
        for track in self.feeds.values_mut() {
            track.longest_stall = Duration::ZERO;
            track.grew_at = Some(now);
        }
    }

    /// The longest stall of `feed` since [`Tracker::reset_stalls`], the ongoing one included.
    pub fn longest_stall(&self, feed: &str) -> Duration {
        let track = &self.feeds[feed];
        let ongoing = track.grew_at.map_or(Duration::ZERO, |grew| grew.elapsed());
        track.longest_stall.max(ongoing)
    }

    /// One line per feed (last number, media sequence, longest stall), for messages.
    pub fn summary(&self) -> String {
        (self.feeds.iter())
            .map(|(feed, track)| {
                format!(
                    "  {feed}: last {:?}, media sequence {:?}, {} files seen, endlist seen {}, \
                     longest stall {:.1?}",
                    track.last,
                    track.media_sequence,
                    track.segments.len(),
                    track.endlist_seen,
                    self.longest_stall(feed)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `FEED-NNNNN.ts` → (FEED, N).
fn split_segment_name(name: &str) -> Option<(&str, u64)> {
    let (feed, number) = name.strip_suffix(".ts")?.rsplit_once('-')?;
    Some((feed, number.parse().ok()?))
}

/// The number of a listed URI of `feed`, if it is `FEED-NNNNN.ts`.
fn segment_number(feed: &str, uri: &str) -> Option<u64> {
    match split_segment_name(uri) {
        Some((of, number)) if of == feed => Some(number),
        _ => None,
    }
}

#[test]
fn segment_names_split_into_feed_and_number() {
    assert_eq!(split_segment_name("cam1-00012.ts"), Some(("cam1", 12)));
    assert_eq!(split_segment_name("ch-01-00003.ts"), Some(("ch-01", 3)));
    assert_eq!(split_segment_name("cam1.m3u8"), None);
    assert_eq!(segment_number("cam1", "cam1-00004.ts"), Some(4));
    assert_eq!(segment_number("cam1", "cam2-00004.ts"), None);
}
