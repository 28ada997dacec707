//! Findings of one compile: every check reports here with a position, a dotted key and a plain
//! message. Owns their order, the "in feed …" notes of template instances, merging the copies one
//! template mistake makes in every feed, and "did you mean" suggestions. Decides nothing itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::{Diagnostic, Location, Severity};
use super::raw::Pos;

/// The feed a template instance belongs to, for messages: "in feed ch2 (file.toml:14)".
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FeedNote {
    /// The feed's name (the first part of its nodes' names).
    pub(super) name: String,
    /// Where the feed is written.
    pub(super) at: Pos,
}

#[derive(Debug)]
struct Finding {
    severity: Severity,
    pos: Pos,
    key: String,
    message: String,
    feed: Option<FeedNote>,
}

/// Collects findings for the files being compiled.
#[derive(Debug)]
pub(super) struct Diagnostics {
    files: Vec<PathBuf>,
    findings: Vec<Finding>,
    errors: usize,
}

/// How many feeds a merged finding names before "and N more".
const FEEDS_NAMED: usize = 3;

impl Diagnostics {
    pub(super) fn new(files: Vec<PathBuf>) -> Self {
        Diagnostics {
            files,
            findings: Vec::new(),
            errors: 0,
        }
    }

    pub(super) fn error(&mut self, pos: Pos, key: impl Into<String>, message: impl Into<String>) {
        self.report(Severity::Error, pos, key.into(), message.into(), None);
    }

    pub(super) fn warning(&mut self, pos: Pos, key: impl Into<String>, message: impl Into<String>) {
        self.report(Severity::Warning, pos, key.into(), message.into(), None);
    }

    /// Records a finding; `feed` is set for values of a template instance.
    pub(super) fn report(
        &mut self,
        severity: Severity,
        pos: Pos,
        key: String,
        message: String,
        feed: Option<&FeedNote>,
    ) {
        if severity == Severity::Error {
            self.errors += 1;
        }
        self.findings.push(Finding {
            severity,
            pos,
            key,
            message,
            feed: feed.cloned(),
        });
    }

    /// Errors recorded so far.
    pub(super) fn error_count(&self) -> usize {
        self.errors
    }

    /// The directory of the file `pos` is in (where its relative paths start).
    pub(super) fn dir_of(&self, pos: Pos) -> &Path {
        self.files
            .get(pos.file)
            .and_then(|file| file.parent())
            .unwrap_or(Path::new(""))
    }

    /// The file, line and column of `pos`.
    pub(super) fn location(&self, pos: Pos) -> Location {
        Location {
            file: self.files.get(pos.file).cloned().unwrap_or_default(),
            line: pos.line,
            column: pos.column,
        }
    }

    /// `file:line`, for messages that point at a second place.
    pub(super) fn describe(&self, pos: Pos) -> String {
        describe(&self.files, pos)
    }

    /// Sorted by file (in the order given), line and column. A template mistake repeated in
    /// several feeds (same place, key and message) becomes one diagnostic naming the feeds.
    pub(super) fn finish(self) -> Vec<Diagnostic> {
        let mut merged: Vec<(Finding, Vec<FeedNote>)> = Vec::new();
        let mut index_of: BTreeMap<(Pos, String, String), usize> = BTreeMap::new();
        let Diagnostics {
            files, findings, ..
        } = self;
        for mut finding in findings {
            let Some(feed) = finding.feed.take() else {
                merged.push((finding, Vec::new()));
                continue;
            };
            let node_key = finding.key.replacen(&format!(".{}.", feed.name), ".*.", 1);
            let group = (finding.pos, node_key, finding.message.clone());
            match index_of
                .get(&group)
                .and_then(|&index| merged.get_mut(index))
            {
                Some((first, feeds)) if first.severity == finding.severity => feeds.push(feed),
                _ => {
                    index_of.insert(group, merged.len());
                    merged.push((finding, vec![feed]));
                }
            }
        }
        merged.sort_by_key(|(finding, _)| finding.pos);
        merged
            .into_iter()
            .map(|(finding, feeds)| {
                let mut message = finding.message;
                if !feeds.is_empty() {
                    message.push_str(&feeds_note(&files, &feeds));
                }
                Diagnostic {
                    severity: finding.severity,
                    location: Location {
                        file: files.get(finding.pos.file).cloned().unwrap_or_default(),
                        line: finding.pos.line,
                        column: finding.pos.column,
                    },
                    key: finding.key,
                    message,
                }
            })
            .collect()
    }
}

fn describe(files: &[PathBuf], pos: Pos) -> String {
    match files.get(pos.file) {
        Some(file) => format!("{}:{}", file.display(), pos.line),
        None => format!("line {}", pos.line),
    }
}

fn feeds_note(files: &[PathBuf], feeds: &[FeedNote]) -> String {
    let named: Vec<String> = feeds
        .iter()
        .take(FEEDS_NAMED)
        .map(|feed| format!("{} ({})", feed.name, describe(files, feed.at)))
        .collect();
    let noun = if feeds.len() == 1 { "feed" } else { "feeds" };
    let mut note = format!("; in {noun} {}", named.join(", "));
    if feeds.len() > FEEDS_NAMED {
        note.push_str(&format!(" and {} more", feeds.len() - FEEDS_NAMED));
    }
    note
}

/// The closest known word to a misspelt one, and the "; did you mean `x`?" suffix: the same
/// rule for the router's keys as for a sink backend's.
pub(super) use streamrouter_opendal::settings::{closest, did_you_mean};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::NodeId;

    fn pos(line: usize) -> Pos {
        Pos {
            file: 0,
            line,
            column: 1,
        }
    }

    #[test]
    fn suggestions_find_typos_but_not_strangers() {
        let keys = ["bind", "group", "interface", "target_duration"];
        assert_eq!(closest("bnd", keys), Some("bind"));
        assert_eq!(closest("targt_duration", keys), Some("target_duration"));
        assert_eq!(closest("Group", keys), Some("group"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(closest("upd", ["stdin", "file", "udp"]), Some("udp"));
        assert_eq!(
            closest("kitten", ["sitting"]),
            None,
            "3 edits, over the limit of 2"
        );
        assert_eq!(
            closest("kitten", ["kitetn"]),
            Some("kitetn"),
            "one swap: one edit"
        );
    }

    #[test]
    fn findings_are_sorted_and_feed_copies_merged() {
        let mut diagnostics = Diagnostics::new(vec![PathBuf::from("c/f.toml")]);
        let feed = |name: &str, line| FeedNote {
            name: name.to_owned(),
            at: pos(line),
        };
        diagnostics.error(pos(9), "sinks.web.path", "late");
        for (name, line) in [("a", 20), ("b", 21), ("c", 22), ("d", 23), ("e", 24)] {
            let key = NodeId::playlist(&format!("{name}.hls")).key("window");
            let note = feed(name, line);
            diagnostics.report(
                Severity::Error,
                pos(3),
                key,
                "too short".into(),
                Some(&note),
            );
        }
        diagnostics.warning(pos(1), "router.x", "early");
        assert_eq!(diagnostics.error_count(), 6);
        let found = diagnostics.finish();
        let lines: Vec<usize> = found.iter().map(|d| d.location.line).collect();
        assert_eq!(lines, [1, 3, 9]);
        assert_eq!(found[1].key, "playlists.a.hls.window");
        assert_eq!(
            found[1].message,
            "too short; in feeds a (c/f.toml:20), b (c/f.toml:21), c (c/f.toml:22) and 2 more"
        );
    }
}
