//! Which live router should own a feed: rendezvous (highest random weight) hashing. Every
//! router computes the same answer from the same member list, and a member joining or leaving
//! moves only the feeds it wins or held (about 1/n of them).
//!
//! The weight is XXH3-64 of `member \0 feed`: the same on every machine and every release
//! (std's hasher is not). Pure; no etcd.

use xxhash_rust::xxh3::xxh3_64;

/// The weight of `member` for `feed`.
fn weight(member: &str, feed: &str) -> u64 {
    let mut bytes = Vec::with_capacity(member.len() + feed.len() + 1);
    bytes.extend_from_slice(member.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(feed.as_bytes());
    xxh3_64(&bytes)
}

/// The member that should own `feed`: the highest weight, ties to the smaller name. `None`
/// without members.
pub fn owner_of<'a>(feed: &str, members: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    members
        .into_iter()
        .max_by(|a, b| weight(a, feed).cmp(&weight(b, feed)).then_with(|| b.cmp(a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn shares(feeds: usize, members: &[&str]) -> BTreeMap<String, String> {
        (0..feeds)
            .map(|n| {
                let feed = format!("cam{n}");
                let owner = owner_of(&feed, members.iter().copied()).unwrap_or_default();
                (feed, owner.to_owned())
            })
            .collect()
    }

    #[test]
    fn same_answer_whatever_the_order_of_members() {
        let forward = shares(50, &["a", "b", "c"]);
        let backward = shares(50, &["c", "b", "a"]);
        assert_eq!(forward, backward);
        assert_eq!(owner_of("cam1", []), None);
    }

    #[test]
    fn spreads_feeds_about_evenly() {
        let owners = shares(1000, &["a", "b", "c", "d"]);
        for member in ["a", "b", "c", "d"] {
            let count = owners.values().filter(|o| *o == member).count();
            assert!(
                (180..=320).contains(&count),
                "{member} owns {count} of 1000"
            );
        }
    }

    #[test]
    fn a_join_moves_only_what_the_newcomer_wins_and_a_death_only_what_it_held() {
        let three = shares(1000, &["a", "b", "c"]);
        let four = shares(1000, &["a", "b", "c", "d"]);
        for (feed, owner) in &four {
            if owner != "d" {
                assert_eq!(&three[feed], owner, "{feed} moved between old members");
            }
        }
        let two = shares(1000, &["a", "b"]);
        for (feed, owner) in &three {
            if owner != "c" {
                assert_eq!(&two[feed], owner, "{feed} moved though its owner lives");
            }
        }
    }

    #[test]
    fn stable_across_releases() {
        // Routers of different builds must agree: these are XXH3's, fixed by its spec.
        assert_eq!(weight("a", "cam1"), xxh3_64(b"a\0cam1"));
        let owners = shares(4, &["router-a", "router-b"]);
        let again = shares(4, &["router-b", "router-a"]);
        assert_eq!(owners, again);
    }
}
