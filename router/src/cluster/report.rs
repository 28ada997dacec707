//! `streamrouter cluster status`: what etcd says of a cluster — its live members, the feeds
//! each owns, feeds nobody owns, and planned moves in progress — read once, rendered as text.
//!
//! Owns reading and rendering only; claims nothing.

use std::collections::{BTreeMap, BTreeSet};

use etcd_client::{Client, GetOptions};

use super::{ClusterError, Keys};

/// What etcd says of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterReport {
    /// The cluster's name.
    pub name: String,
    /// Live member → the feeds it owns.
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// Feeds of the config nobody owns.
    pub unowned: BTreeSet<String>,
    /// Planned moves: feed → (from, to).
    pub moving: BTreeMap<String, (String, String)>,
    /// Feeds in the config.
    pub feeds: usize,
}

async fn pairs(
    client: &mut Client,
    prefix: &str,
) -> Result<Vec<(String, String)>, etcd_client::Error> {
    let answer = client
        .get(prefix.to_owned(), Some(GetOptions::new().with_prefix()))
        .await?;
    Ok(answer
        .kvs()
        .iter()
        .filter_map(|kv| {
            let name = Keys::name_after(prefix, kv.key())?;
            let value = std::str::from_utf8(kv.value()).ok()?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect())
}

/// Reads the cluster `name`, for the config's `feeds`.
pub async fn read(
    client: &mut Client,
    name: &str,
    endpoints: &str,
    feeds: &BTreeSet<String>,
) -> Result<ClusterReport, ClusterError> {
    let keys = Keys::new(name);
    let etcd = |source| ClusterError::Etcd {
        endpoints: endpoints.to_owned(),
        source,
    };
    let members = pairs(client, &keys.members()).await.map_err(etcd)?;
    let owners = pairs(client, &keys.owners()).await.map_err(etcd)?;
    let moves = pairs(client, &keys.moves()).await.map_err(etcd)?;
    let mut report = ClusterReport {
        name: name.to_owned(),
        feeds: feeds.len(),
        ..ClusterReport::default()
    };
    for (node, _) in members {
        report.members.entry(node).or_default();
    }
    for (feed, node) in &owners {
        report
            .members
            .entry(node.clone())
            .or_default()
            .insert(feed.clone());
    }
    let owned: BTreeSet<&String> = owners.iter().map(|(feed, _)| feed).collect();
    report.unowned = feeds
        .iter()
        .filter(|f| !owned.contains(f))
        .cloned()
        .collect();
    for (feed, value) in moves {
        if let Some((from, to)) = value.split_once(' ') {
            report.moving.insert(feed, (from.to_owned(), to.to_owned()));
        }
    }
    Ok(report)
}

fn list(names: &BTreeSet<String>) -> String {
    match names.is_empty() {
        true => "none".to_owned(),
        false => names.iter().cloned().collect::<Vec<_>>().join(" "),
    }
}

impl ClusterReport {
    /// The report as `streamrouter cluster status` prints it.
    pub fn render(&self) -> String {
        let mut out = format!(
            "cluster {}: {} members, {} feeds\n",
            self.name,
            self.members.len(),
            self.feeds
        );
        for (node, feeds) in &self.members {
            let names = match feeds.is_empty() {
                true => String::new(),
                false => format!(" {}", list(feeds)),
            };
            out.push_str(&format!("member {node}: {} feeds:{names}\n", feeds.len()));
        }
        out.push_str(&format!("unowned: {}\n", list(&self.unowned)));
        if self.moving.is_empty() {
            out.push_str("moving: none\n");
        }
        for (feed, (from, to)) in &self.moving {
            out.push_str(&format!("moving: {feed} from {from} to {to}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn renders_members_unowned_and_moves() {
        let report = ClusterReport {
            name: "prod".to_owned(),
            members: [
                ("a".to_owned(), set(&["cam1", "cam3"])),
                ("b".to_owned(), set(&[])),
            ]
            .into_iter()
            .collect(),
            unowned: set(&["cam2"]),
            moving: [("cam3".to_owned(), ("a".to_owned(), "b".to_owned()))]
                .into_iter()
                .collect(),
            feeds: 3,
        };
        assert_eq!(
            report.render(),
            "cluster prod: 2 members, 3 feeds\nmember a: 2 feeds: cam1 cam3\nmember b: 0 feeds:\nunowned: cam2\nmoving: cam3 from a to b\n"
        );
        let quiet = ClusterReport {
            name: "prod".to_owned(),
            ..ClusterReport::default()
        };
        assert!(quiet.render().ends_with("unowned: none\nmoving: none\n"));
    }
}
