//! `streamrouter cluster status CONFIG` as the tests read it: run with `NODE` unset (it needs
//! only `[cluster]`), its lines parsed strictly, so any line that is not in the contract's
//! shape fails the test:
//!
//! ```text
//! cluster NAME: N members, M feeds
//! member NODE: K feeds: f1 f2 ...     (one per live member, sorted)
//! unowned: f5 f6                      (or `unowned: none`)
//! moving: FEED from A to B            (one per move in progress, or `moving: none`)
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::router::BIN;

/// What `cluster status` printed.
#[derive(Debug, Default, PartialEq)]
pub struct ClusterStatus {
    /// The `name` of `[cluster]`.
    pub name: String,
    /// The `M feeds` of the first line.
    pub feeds: usize,
    /// Live member → the feeds it owns, as listed.
    pub members: BTreeMap<String, Vec<String>>,
    /// Feeds no member owns.
    pub unowned: Vec<String>,
    /// Moves in progress: (feed, from, to).
    pub moving: Vec<(String, String, String)>,
}

/// Runs `streamrouter cluster status CONFIG` as an operator on another machine would: with
/// the variables the config names set (`NODE`, any name: it is not a member); the parsed
/// output, or the command's failure (exit status and stderr).
pub fn cluster_status(config: &Path) -> Result<ClusterStatus, String> {
    let output = Command::new(BIN)
        .args(["cluster", "status"])
        .arg(config)
        .env("NODE", "operator")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "`streamrouter cluster status` exited with {}; stdout:\n{stdout}stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&stdout)
}

/// Parses the output; `Err` names the first line that is not in the contract's shape.
pub fn parse(text: &str) -> Result<ClusterStatus, String> {
    let bad = |line: &str, why: &str| format!("{why}: {line:?} in:\n{text}");
    let mut lines = text.lines();
    let first = lines.next().ok_or_else(|| bad("", "no output"))?;
    let (name, counts) = (first.strip_prefix("cluster "))
        .and_then(|rest| rest.rsplit_once(": "))
        .ok_or_else(|| bad(first, "not `cluster NAME: N members, M feeds`"))?;
    let (members, feeds) = (counts.split_once(" members, "))
        .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest.strip_suffix(" feeds")?)))
        .and_then(|(n, m)| Some((n, m.parse::<usize>().ok()?)))
        .ok_or_else(|| bad(first, "not `N members, M feeds`"))?;
    let mut status = ClusterStatus {
        name: name.to_owned(),
        feeds,
        ..ClusterStatus::default()
    };
    let mut unowned_seen = false;
    let mut moving_seen = false;
    for line in lines {
        if let Some(rest) = line.strip_prefix("member ") {
            if unowned_seen || moving_seen {
                return Err(bad(line, "a member line after `unowned:`"));
            }
            let (node, rest) = rest
                .split_once(": ")
                .ok_or_else(|| bad(line, "not `member NODE: K feeds: ...`"))?;
            // `K feeds:` then the feeds; with K = 0 a trailing `:` (or nothing) ends it.
            let (count, owned) = match rest.split_once(" feeds:") {
                Some((count, owned)) => (count, owned),
                None => (
                    rest.strip_suffix(" feeds")
                        .ok_or_else(|| bad(line, "not `K feeds: ...`"))?,
                    "",
                ),
            };
            let count: usize = count.parse().map_err(|_| bad(line, "K is no number"))?;
            let owned: Vec<String> = owned.split_whitespace().map(str::to_owned).collect();
            if owned.len() != count {
                return Err(bad(line, "K is not the number of feeds listed"));
            }
            if status
                .members
                .keys()
                .last()
                .is_some_and(|last| last.as_str() >= node)
            {
                return Err(bad(line, "members not sorted (or repeated)"));
            }
            status.members.insert(node.to_owned(), owned);
        } else if let Some(rest) = line.strip_prefix("unowned: ") {
            if unowned_seen || moving_seen {
                return Err(bad(line, "a second `unowned:` line, or after `moving:`"));
            }
            unowned_seen = true;
            if rest != "none" {
                status.unowned = rest.split_whitespace().map(str::to_owned).collect();
            }
        } else if let Some(rest) = line.strip_prefix("moving: ") {
            if !unowned_seen {
                return Err(bad(line, "`moving:` before `unowned:`"));
            }
            if rest == "none" {
                if moving_seen {
                    return Err(bad(line, "`moving: none` after moves"));
                }
            } else {
                let parsed = (rest.split_once(" from "))
                    .and_then(|(feed, rest)| Some((feed, rest.split_once(" to ")?)))
                    .ok_or_else(|| bad(line, "not `moving: FEED from A to B`"))?;
                let (feed, (from, to)) = parsed;
                status
                    .moving
                    .push((feed.to_owned(), from.to_owned(), to.to_owned()));
            }
            moving_seen = true;
        } else {
            return Err(bad(line, "a line not in the contract"));
        }
    }
    if !unowned_seen || !moving_seen {
        return Err(bad("", "no `unowned:` or no `moving:` line"));
    }
    if status.members.len() != members {
        return Err(bad(first, "N is not the number of member lines"));
    }
    Ok(status)
}

impl ClusterStatus {
    /// Checks what a settled cluster of `nodes` over `feeds` prints: exactly these members,
    /// every feed owned by one of them, none unowned, nothing moving, `M` = the feed count.
    pub fn check_settled(&self, nodes: &[String], feeds: &[String]) -> Result<(), String> {
        let members: Vec<&String> = self.members.keys().collect();
        let nodes: Vec<&String> = nodes.iter().collect();
        if members != nodes {
            return Err(format!("members {members:?}, expected {nodes:?}"));
        }
        let mut owned: Vec<&String> = self.members.values().flatten().collect();
        owned.sort();
        let expected: Vec<&String> = feeds.iter().collect();
        if owned != expected {
            return Err(format!(
                "owned feeds {owned:?}, expected each of {expected:?} once"
            ));
        }
        if !self.unowned.is_empty() || !self.moving.is_empty() || self.feeds != feeds.len() {
            return Err(format!(
                "unowned {:?}, moving {:?}, {} feeds (expected none, none, {})",
                self.unowned,
                self.moving,
                self.feeds,
                feeds.len()
            ));
        }
        Ok(())
    }
}

#[test]
fn cluster_status_output_is_parsed_strictly() {
    let text = "cluster t1: 2 members, 3 feeds\nmember a: 2 feeds: cam1 cam3\n\
                member b: 0 feeds:\nunowned: cam2\nmoving: cam3 from a to b\n";
    let status = parse(text).unwrap();
    assert_eq!(status.name, "t1");
    assert_eq!(status.feeds, 3);
    assert_eq!(status.members["a"], ["cam1", "cam3"]);
    assert!(status.members["b"].is_empty());
    assert_eq!(status.unowned, ["cam2"]);
    assert_eq!(status.moving, [("cam3".into(), "a".into(), "b".into())]);
    let settled = parse(
        "cluster t1: 2 members, 2 feeds\nmember a: 1 feeds: cam1\nmember b: 1 feeds: cam2\n\
         unowned: none\nmoving: none\n",
    )
    .unwrap();
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        settled.check_settled(&strings(&["a", "b"]), &strings(&["cam1", "cam2"])),
        Ok(())
    );
    assert!((settled.check_settled(&strings(&["a"]), &strings(&["cam1", "cam2"]))).is_err());
    for wrong in [
        "cluster t1: 1 members, 1 feeds\nmember a: 2 feeds: cam1\nunowned: none\nmoving: none\n",
        "cluster t1: 2 members, 1 feeds\nmember a: 1 feeds: cam1\nunowned: none\nmoving: none\n",
        "cluster t1: 2 members, 0 feeds\nmember b: 0 feeds:\nmember a: 0 feeds:\nunowned: none\n\
         moving: none\n",
        "cluster t1: 0 members, 0 feeds\nunowned: none\n",
        "cluster t1: 0 members, 0 feeds\nmoving: none\nunowned: none\n",
        "cluster t1: 0 members, 0 feeds\nunowned: none\nmoving: none\nextra\n",
        "cluster t1: 0 members, 0 feeds\nunowned: none\nmoving: cam1 to b\n",
    ] {
        assert!(parse(wrong).is_err(), "accepted:\n{wrong}");
    }
}
