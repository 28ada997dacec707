//! The views of one playlist's segments besides its live window (issue 16): a time-shift
//! playlist ([`DvrView`], `[playlists.NAME.dvr]`) and finished recordings, one per wall-clock
//! period ([`ArchiveView`], `[playlists.NAME.archive]`, named by an [`ArchiveNamePattern`]).
//!
//! Plain settings as compile checked them, journaled inside the publishing plan's settings
//! (hence serde); owns the period arithmetic (periods aligned to the Unix epoch in UTC) and
//! the archive name pattern. Building and publishing the views is not here.

mod archive_name;

use std::time::{Duration, SystemTime};

pub use archive_name::{ArchiveNameError, ArchiveNamePattern, DEFAULT_START_FORMAT};

/// `[playlists.NAME.dvr]`: a live playlist (no EXT-X-PLAYLIST-TYPE) over the same segments as
/// the live window, sliding by media duration instead of a segment count.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DvrView {
    /// `name`: its file name (default: the live playlist's with `-dvr` before the extension,
    /// `cam-dvr.m3u8`); never the live playlist's.
    pub file_name: String,
    /// `duration`: how much media it lists, at least the live window's (compile checks it).
    pub duration: Duration,
}

impl DvrView {
    /// The default `name` for a live playlist named `live`: `-dvr` before its extension
    /// (`cam.m3u8` → `cam-dvr.m3u8`, `live/index.m3u8` → `live/index-dvr.m3u8`), or after the
    /// name when it has none.
    pub fn default_file_name(live: &str) -> String {
        let file_start = live.rfind('/').map_or(0, |slash| slash + 1);
        match live[file_start..].rfind('.').filter(|dot| *dot > 0) {
            Some(dot) => {
                let (stem, extension) = live.split_at(file_start + dot);
                format!("{stem}-dvr{extension}")
            }
            None => format!("{live}-dvr"),
        }
    }
}

/// `[playlists.NAME.archive]`: one EVENT playlist per period of `every`, aligned to the Unix
/// epoch in UTC, rewritten once as VOD with EXT-X-ENDLIST when its period ends.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ArchiveView {
    /// `every`: the length of a period (at least the segmenter's target duration).
    pub every: Duration,
    /// `name`: the archive's file name from its period's start (default
    /// `NAME/{start:%Y%m%dT%H%M%SZ}.m3u8`, NAME the playlist node's name).
    pub name: ArchiveNamePattern,
    /// `retain`: an archive (its playlist, then the segments no other view lists) is deleted
    /// once its period ended more than this long ago. `None` (the key left out) keeps
    /// archives forever. Never shorter than `every` when set (compile checks it).
    pub retain: Option<Duration>,
}

/// Two periods that would be alive at once under one name (see [`ArchiveView::name_clash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameClash {
    /// The earlier period's start.
    pub first: SystemTime,
    /// The later period's start.
    pub second: SystemTime,
    /// The name both get.
    pub name: String,
}

/// Distances between period starts at which [`ArchiveView::name_clash`] compares names (beyond
/// the next period): a day, a week, a month, a year (catches a pattern without `%d`, `%m`, `%Y`).
const CLASH_DISTANCES: [Duration; 4] = [
    Duration::from_secs(86_400),
    Duration::from_secs(7 * 86_400),
    Duration::from_secs(31 * 86_400),
    Duration::from_secs(365 * 86_400),
];

impl ArchiveView {
    /// The default `name` pattern of playlist node `node`: `NODE/{start:%Y%m%dT%H%M%SZ}.m3u8`.
    pub fn default_name(node: &str) -> String {
        format!("{node}/{{start:{DEFAULT_START_FORMAT}}}.m3u8")
    }

    /// The start of the period holding `at`: floor(t / every) × every since the Unix epoch
    /// (so 1 h periods start at 00:00, 01:00, … UTC and 1 d periods at midnight UTC). A zero
    /// `every` (refused by compile) gives `at` itself.
    pub fn period_start(&self, at: SystemTime) -> SystemTime {
        let every = self.every.as_nanos();
        if every == 0 {
            return at;
        }
        match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => {
                let floor = since.as_nanos() / every * every;
                SystemTime::UNIX_EPOCH + nanos(floor)
            }
            Err(before) => {
                // Before the epoch: round away from it, so the period still holds `at`.
                let before = before.duration().as_nanos();
                let ceil = before.div_ceil(every) * every;
                SystemTime::UNIX_EPOCH - nanos(ceil)
            }
        }
    }

    /// The end of the period that starts at `start` (the next one's start).
    pub fn period_end(&self, start: SystemTime) -> SystemTime {
        start + self.every
    }

    /// Two periods whose archives exist at the same time (their starts less than `every` +
    /// `retain` apart, any distance when archives are kept forever) but get the same name, the
    /// second overwriting the first; `None` when the pattern tells them apart. Sampled: the
    /// next period, and periods a day, a week, a month and a year later, from two starts
    /// (a year's end and its middle).
    pub fn name_clash(&self) -> Option<NameClash> {
        let alive = self.retain.map(|retain| retain.saturating_add(self.every));
        let bases = [1_798_761_598, 1_781_526_896].map(|secs| self.period_start(epoch(secs)));
        // The next period, from a few consecutive ones (one pair may straddle a minute).
        let next = (0..4u32).map(|index| (self.every.saturating_mul(index), self.every));
        let further = (CLASH_DISTANCES.into_iter())
            .filter(|distance| *distance > self.every)
            .map(|distance| (Duration::ZERO, distance));
        let pairs: Vec<(Duration, Duration)> = next.chain(further).collect();
        for base in bases {
            for (offset, distance) in &pairs {
                if alive.is_some_and(|alive| *distance >= alive) {
                    continue;
                }
                let first = self.period_start(base + *offset);
                let second = self.period_start(first + *distance);
                let name = self.name.render(first);
                if second != first && self.name.render(second) == name {
                    return Some(NameClash {
                        first,
                        second,
                        name,
                    });
                }
            }
        }
        None
    }
}

/// `secs` after the Unix epoch.
fn epoch(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// A duration of `nanos` nanoseconds (saturating at [`Duration::MAX`]'s seconds).
fn nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // Below 10⁹: fits.
    let subsec = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, subsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    /// 2026-12-01T00:00:00Z.
    const DEC_1: u64 = 1_796_083_200;

    fn view(every: Duration, name: &str, retain: Option<Duration>) -> ArchiveView {
        ArchiveView {
            every,
            name: ArchiveNamePattern::parse(name).unwrap(),
            retain,
        }
    }

    #[test]
    fn periods_are_aligned_to_the_epoch_in_utc() {
        let hourly = view(HOUR, "{start}.m3u8", None);
        let at = |secs: u64| epoch(DEC_1 + secs);
        assert_eq!(hourly.period_start(at(0)), at(0), "00:00 starts a period");
        assert_eq!(hourly.period_start(at(59 * 60 + 59)), at(0));
        assert_eq!(hourly.period_start(at(3600)), at(3600), "01:00");
        assert_eq!(
            hourly.period_start(at(3600) + Duration::from_nanos(1)),
            at(3600)
        );
        assert_eq!(hourly.period_end(at(3600)), at(7200));
        let daily = view(DAY, "{start}.m3u8", None);
        assert_eq!(daily.period_start(at(13 * 3600 + 5)), at(0), "midnight");
        assert_eq!(daily.period_start(at(86_399)), at(0));
        let twenty = view(Duration::from_secs(20), "{start}.m3u8", None);
        assert_eq!(twenty.period_start(at(45)), at(40));
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(30);
        assert_eq!(
            hourly.period_start(before),
            SystemTime::UNIX_EPOCH - HOUR,
            "before the epoch, the period holding the time"
        );
    }

    #[test]
    fn names_that_repeat_while_both_archives_exist_clash() {
        assert_eq!(view(HOUR, "a/{start}.m3u8", None).name_clash(), None);
        let clash = view(Duration::from_secs(20), "a/{start:%Y%m%dT%H%M}.m3u8", None)
            .name_clash()
            .unwrap();
        assert_eq!(clash.second, clash.first + Duration::from_secs(20));
        assert_eq!(clash.name, "a/20270101T0000.m3u8");
        let by_hour = view(HOUR, "a/{start:%H}.m3u8", Some(DAY));
        let clash = by_hour.name_clash().unwrap();
        assert_eq!(clash.second, clash.first + DAY, "{clash:?}");
        assert_eq!(
            view(
                HOUR,
                "a/{start:%H}.m3u8",
                Some(Duration::from_secs(3600 * 22))
            )
            .name_clash(),
            None,
            "the archive of the same hour yesterday is deleted by then"
        );
        assert!(
            view(DAY, "a/{start:%m%d}.m3u8", None)
                .name_clash()
                .is_some(),
            "kept forever: the year is needed"
        );
        assert_eq!(
            view(DAY, "a/{start:%m%d}.m3u8", Some(30 * DAY)).name_clash(),
            None
        );
    }

    #[test]
    fn default_names() {
        assert_eq!(DvrView::default_file_name("cam.m3u8"), "cam-dvr.m3u8");
        assert_eq!(
            DvrView::default_file_name("live.v2/index.m3u8"),
            "live.v2/index-dvr.m3u8"
        );
        assert_eq!(DvrView::default_file_name("a.b/cam"), "a.b/cam-dvr");
        assert_eq!(DvrView::default_file_name(".hidden"), ".hidden-dvr");
        assert_eq!(
            ArchiveView::default_name("ch1.hls"),
            "ch1.hls/{start:%Y%m%dT%H%M%SZ}.m3u8"
        );
    }

    #[test]
    fn views_round_trip_through_serde() {
        let archive = view(HOUR, "cam/{start:%Y%m%dT%H%M%SZ}.m3u8", Some(7 * DAY));
        let json = serde_json::to_string(&archive).unwrap();
        assert_eq!(serde_json::from_str::<ArchiveView>(&json).unwrap(), archive);
        let dvr = DvrView {
            file_name: "cam-dvr.m3u8".to_owned(),
            duration: 2 * HOUR,
        };
        let json = serde_json::to_string(&dvr).unwrap();
        assert_eq!(serde_json::from_str::<DvrView>(&json).unwrap(), dvr);
        let forever = view(DAY, "{start}", None);
        let json = serde_json::to_string(&forever).unwrap();
        assert_eq!(serde_json::from_str::<ArchiveView>(&json).unwrap(), forever);
    }
}
