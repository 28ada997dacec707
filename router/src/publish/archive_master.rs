//! Archive masters (issue 16): for one period, a master playlist listing each variant's
//! archive of that period, as one sink publishes and keeps it. The master task says which
//! period and with which attributes ([`ArchiveMasterVersion`]); the sink resolves each
//! variant's archive of that period from its own plans (the key its plan really uses, which a
//! reload of the variant's `archive.name` mid-period does not change) and publishes only when
//! every variant has one there, so an archive master never names an archive the sink does not
//! hold. What the sink keeps of it ([`ArchiveMasterRecord`], in its journal) says when its
//! retention deletes it: no later than the first of the archives it names.
//!
//! Pure: times come in as arguments; nothing here stores or deletes.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::playlist::master::{VariantAttributes, relative_uri, render_master};

/// One version of a period's archive master, as the master task hands it to its sinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveMasterVersion {
    /// Its object key (the master's `archive_name` for the period's start).
    pub key: String,
    /// The period's start.
    pub start: SystemTime,
    /// Each variant: its playlist node and its attributes (the URI is the sink's to set).
    pub variants: Vec<(String, VariantAttributes)>,
}

/// One variant's archive of a period at a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRef {
    /// Its playlist's object key.
    pub key: String,
    /// When its retention deletes it (`None`: kept forever), by the plan's settings now.
    pub retired_at: Option<SystemTime>,
}

/// What a sink keeps of a published archive master, until its retention deletes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveMasterRecord {
    /// The period's start.
    pub start: SystemTime,
    /// The playlist nodes whose archives it lists.
    pub variants: Vec<String>,
    /// When it is deleted at the latest (`None`: kept as long as its archives are).
    pub expires: Option<SystemTime>,
}

impl ArchiveMasterVersion {
    /// Its text and record, given each variant's archive of the period (`archive_of`); `None`
    /// when a variant has none there (then it is not published).
    pub fn resolve(
        &self,
        mut archive_of: impl FnMut(&str) -> Option<ArchiveRef>,
    ) -> Option<(String, ArchiveMasterRecord)> {
        let mut listed = Vec::with_capacity(self.variants.len());
        let mut retirements = Vec::with_capacity(self.variants.len());
        for (playlist, attributes) in &self.variants {
            let archive = archive_of(playlist)?;
            listed.push(VariantAttributes {
                uri: relative_uri(&self.key, &archive.key),
                ..attributes.clone()
            });
            retirements.push(archive.retired_at);
        }
        let record = ArchiveMasterRecord {
            start: self.start,
            variants: self.variants.iter().map(|(name, _)| name.clone()).collect(),
            expires: earliest(retirements),
        };
        Some((render_master(&listed), record))
    }
}

impl ArchiveMasterRecord {
    /// When it is due for deletion now: at `expires`, or at the first retirement of the
    /// archives it names as `archive_of` finds them today (a reload may have shortened a
    /// `retain`), or `now` when one of them is gone already.
    pub fn due(
        &self,
        now: SystemTime,
        mut archive_of: impl FnMut(&str) -> Option<ArchiveRef>,
    ) -> Option<SystemTime> {
        let mut retirements = vec![self.expires];
        for playlist in &self.variants {
            match archive_of(playlist) {
                Some(archive) => retirements.push(archive.retired_at),
                None => return Some(now),
            }
        }
        earliest(retirements)
    }
}

/// The earliest of some retirement times, `None` (never) counting as the latest.
pub fn earliest(times: impl IntoIterator<Item = Option<SystemTime>>) -> Option<SystemTime> {
    times.into_iter().flatten().min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_200 + secs)
    }

    fn attributes(bandwidth: u64) -> VariantAttributes {
        VariantAttributes {
            uri: String::new(),
            bandwidth,
            average_bandwidth: bandwidth,
            codecs: String::new(),
            resolution: None,
            frame_rate: None,
            independent: true,
        }
    }

    fn version() -> ArchiveMasterVersion {
        ArchiveMasterVersion {
            key: "show-20261201T000000Z.m3u8".into(),
            start: at(0),
            variants: vec![("lo".into(), attributes(1)), ("hi".into(), attributes(2))],
        }
    }

    fn archive(key: &str, retired_at: Option<u64>) -> Option<ArchiveRef> {
        Some(ArchiveRef {
            key: key.into(),
            retired_at: retired_at.map(at),
        })
    }

    #[test]
    fn lists_each_variants_archive_relative_to_the_archive_master() {
        let (text, record) = version()
            .resolve(|playlist| match playlist {
                "lo" => archive("lo/20261201T000000Z.m3u8", Some(100)),
                _ => archive("hi/20261201T000000Z.m3u8", Some(60)),
            })
            .unwrap();
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\nlo/20261201T000000Z.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2,AVERAGE-BANDWIDTH=2\nhi/20261201T000000Z.m3u8\n"
        );
        assert_eq!(record.variants, ["lo", "hi"]);
        assert_eq!(
            record.expires,
            Some(at(60)),
            "the first archive's retirement"
        );
        let nested = ArchiveMasterVersion {
            key: "archive/show/20261201.m3u8".into(),
            ..version()
        };
        let (text, _) = nested
            .resolve(|_| archive("lo/20261201T000000Z.m3u8", None))
            .unwrap();
        assert!(
            text.contains("\n../../lo/20261201T000000Z.m3u8\n"),
            "{text}"
        );
    }

    #[test]
    fn not_published_while_a_variant_has_no_archive_of_the_period() {
        let resolved = version().resolve(|playlist| match playlist {
            "lo" => archive("lo/a.m3u8", None),
            _ => None,
        });
        assert_eq!(resolved, None);
    }

    #[test]
    fn kept_forever_only_when_every_archive_is() {
        let (_, forever) = version().resolve(|_| archive("a.m3u8", None)).unwrap();
        assert_eq!(forever.expires, None);
        let (_, one) = version()
            .resolve(|playlist| archive("a.m3u8", (playlist == "hi").then_some(7)))
            .unwrap();
        assert_eq!(one.expires, Some(at(7)), "the one retained decides");
    }

    #[test]
    fn due_at_the_first_retirement_or_at_once_when_an_archive_is_gone() {
        let record = ArchiveMasterRecord {
            start: at(0),
            variants: vec!["lo".into(), "hi".into()],
            expires: Some(at(100)),
        };
        let now = at(50);
        assert_eq!(record.due(now, |_| archive("a", None)), Some(at(100)));
        assert_eq!(
            record.due(now, |p| archive("a", (p == "lo").then_some(80))),
            Some(at(80)),
            "a retain shortened since"
        );
        assert_eq!(record.due(now, |_| archive("a", Some(200))), Some(at(100)));
        assert_eq!(
            record.due(now, |p| (p == "lo").then(|| ArchiveRef {
                key: "a".into(),
                retired_at: None
            })),
            Some(now),
            "hi's archive is gone"
        );
    }

    #[test]
    fn the_journal_keeps_records_and_queued_versions_across_a_reopen() {
        use crate::publish::journal::{Completion, Journal, Record};
        let dir = tempfile::tempdir().unwrap();
        let record = ArchiveMasterRecord {
            start: at(0),
            variants: vec!["lo".into(), "hi".into()],
            expires: Some(at(60)),
        };
        {
            let (journal, recovered) = Journal::open(dir.path(), true).unwrap();
            assert!(recovered.archive_masters.is_empty());
            journal
                .append(0, &Record::ArchiveMaster(version()), None)
                .unwrap();
            journal
                .append(1, &Record::ArchiveMaster(version()), None)
                .unwrap();
            let mut done = Completion {
                archive_master: Some(("a.m3u8".into(), record.clone())),
                ..Completion::default()
            };
            journal.complete(0, done.clone()).unwrap();
            done.archive_master = Some(("b.m3u8".into(), record.clone()));
            journal.record(done).unwrap();
            let gone = Completion {
                archive_masters_gone: vec!["a.m3u8".into()],
                ..Completion::default()
            };
            journal.record(gone).unwrap();
        }
        let (_, recovered) = Journal::open(dir.path(), true).unwrap();
        assert_eq!(recovered.queue, [(1, Record::ArchiveMaster(version()))]);
        let kept: Vec<_> = recovered.archive_masters.into_iter().collect();
        assert_eq!(kept, [("b.m3u8".to_owned(), record)]);
    }

    #[test]
    fn a_journal_from_before_archive_masters_opens_with_none() {
        use crate::publish::journal::Journal;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("segments")).unwrap();
        {
            // The tables a journal had before, one master kept.
            let db = redb::Database::create(dir.path().join("journal.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            let masters: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("masters");
            txn.open_table(masters)
                .unwrap()
                .insert("show.m3u8", "#EXTM3U\n")
                .unwrap();
            txn.commit().unwrap();
        }
        let (_, recovered) = Journal::open(dir.path(), true).unwrap();
        assert_eq!(recovered.masters["show.m3u8"], "#EXTM3U\n");
        assert!(recovered.archive_masters.is_empty() && recovered.skipped == 0);
    }
}
