//! A router crashes (SIGKILL): 3 routers, 6 looping feeds; the router owning the most feeds is
//! killed. Within the lease plus 10 s every feed is owned by exactly one survivor and advances
//! again; the feeds that did not belong to the dead router stay where they were (rendezvous
//! hashing moves only the dead member's); each moved playlist goes on with the next numbers
//! after an `#EXT-X-DISCONTINUITY`; no number is reused; `streamrouter cluster status` shows
//! the two survivors and nothing unowned.

use std::time::{Duration, Instant};

use super::harness::{Cluster, LEASE};

#[test]
fn failover() {
    let started = Instant::now();
    let mut cluster = Cluster::start("failover", &["a", "b", "c"], 6, LEASE);
    let owners = cluster.wait_running(Duration::from_secs(25));
    let victim = cluster.busiest(&owners);
    let moved: Vec<String> = (owners.iter())
        .filter(|(_, node)| **node == victim)
        .map(|(feed, _)| feed.clone())
        .collect();
    eprintln!("failover: owners {owners:?}; killing {victim} (owns {moved:?})");

    cluster.kill(&victim);
    let killed = Instant::now();
    cluster.tracker.observe();
    // What the dead router had listed last: the new owners' numbers come after these.
    let before = cluster.tracker.lasts();
    let limit = LEASE + Duration::from_secs(10);
    let after = cluster.wait_owned("every feed owned by exactly one survivor", limit);
    let owned_in = killed.elapsed();
    let left = limit.saturating_sub(killed.elapsed());
    cluster.wait_advanced("every feed to advance on the survivors", left, &before, 1);
    let advancing_in = killed.elapsed();
    eprintln!(
        "failover: owners after {after:?}: every feed owned {owned_in:.1?} and advancing \
         {advancing_in:.1?} after the kill"
    );

    for (feed, node) in &owners {
        let now = &after[feed];
        let findings = &mut cluster.tracker.findings;
        findings.check(node == &victim || now == node, || {
            format!("{feed} moved from {node} to {now}, though {node} still runs")
        });
        findings.check(now != &victim, || {
            format!("{feed} still owned by the dead {victim}")
        });
    }
    cluster.check_discontinuities(&moved, &before, "after the crash of its owner");

    let survivors = cluster.live_nodes();
    let feeds = cluster.feeds.clone();
    let status = cluster.wait(
        "`cluster status` to show the 2 survivors",
        Duration::from_secs(5),
        |cluster| {
            let status = cluster.cluster_status()?;
            status.check_settled(&survivors, &feeds)?;
            Ok(status)
        },
    );
    assert_eq!(status.members.len(), 2, "{status:?}");
    assert!(status.unowned.is_empty(), "{status:?}");
    for (member, listed) in &status.members {
        for feed in listed {
            assert_eq!(
                &after[feed], member,
                "cluster status disagrees with /status"
            );
        }
    }

    // A little more of the survivors' publishing, still checked.
    let baseline = cluster.tracker.lasts();
    cluster.wait_advanced(
        "every feed to advance once more",
        Duration::from_secs(8),
        &baseline,
        1,
    );
    let context = cluster.context();
    cluster.tracker.findings.assert_none("failover", &context);
    eprintln!("failover: {:.0?} wall time", started.elapsed());
}
