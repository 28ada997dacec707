//! etcd going away under a running cluster (3 routers, 6 feeds):
//!
//! 1. Restarted quickly (SIGTERM, started again on the same ports and data at once, well
//!    within the lease): nothing moves. At every poll no feed is owned by another router than
//!    before, every feed keeps advancing, and afterwards the owners are the same.
//! 2. Down for lease + 4 s: a router that cannot renew its lease must stop publishing, so
//!    every playlist stops advancing within lease + 2 s of the stop (a segment already being
//!    cut when etcd went may still come out); the growths seen after the stop are printed.
//!    Once etcd is back, within lease + 10 s every feed is owned by exactly one router and
//!    advances again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::harness::{Cluster, LEASE, TARGET};

/// The long outage.
const DOWN: Duration = Duration::from_secs(LEASE.as_secs() + 4);
/// Publishing must have stopped this long after etcd did.
const STOPS_WITHIN: Duration = Duration::from_secs(LEASE.as_secs() + 2);

#[test]
fn etcd_restart_keeps_owners() {
    let started = Instant::now();
    let mut cluster = Cluster::start("etcdrestart", &["a", "b", "c"], 6, LEASE);
    let owners = cluster.wait_running(Duration::from_secs(25));
    eprintln!("etcd outage: owners {owners:?}");

    // 1. A quick restart.
    cluster.tracker.observe();
    let before = cluster.tracker.lasts();
    let restart = Instant::now();
    cluster.etcd.restart();
    eprintln!("etcd outage: etcd restarted in {:.1?}", restart.elapsed());
    let nodes = cluster.live_nodes();
    cluster.wait(
        "every feed to advance twice after the etcd restart, owners unchanged",
        Duration::from_secs(4 * TARGET.as_secs() + 6),
        |cluster| {
            // Another owner at any poll is a finding; a router not answering is waited for.
            let owned = cluster.owned_by(&nodes)?;
            for (node, feeds) in &owned {
                for feed in feeds {
                    let was = owners.get(feed);
                    cluster.tracker.findings.check(was == Some(node), || {
                        format!("{feed} owned by {node} after the etcd restart, was {was:?}")
                    });
                }
            }
            let behind: Vec<&String> = (cluster.feeds.iter())
                .filter(|feed| !cluster.tracker.advanced(feed, &before, 2))
                .collect();
            if behind.is_empty() {
                Ok(())
            } else {
                Err(format!("not advanced by 2: {behind:?}"))
            }
        },
    );
    let after = cluster.wait_owned(
        "one owner per feed after the restart",
        Duration::from_secs(3),
    );
    assert_eq!(after, owners, "owners changed across a quick etcd restart");

    // 2. Down for longer than the lease.
    cluster.tracker.observe();
    let mut lasts = cluster.tracker.lasts();
    cluster.etcd.stop();
    let stopped = Instant::now();
    let mut growths: Vec<(String, u64, Duration)> = Vec::new();
    cluster.watch(DOWN, |cluster| {
        for (feed, last) in cluster.tracker.lasts() {
            if lasts.get(&feed) != Some(&last) {
                growths.push((feed.clone(), last, stopped.elapsed()));
                lasts.insert(feed, last);
            }
        }
    });
    eprintln!(
        "etcd outage: down {DOWN:?}; growths after the stop (feed, number, when): {growths:?}"
    );
    for (feed, number, when) in &growths {
        cluster.tracker.findings.check(*when <= STOPS_WITHIN, || {
            format!(
                "{feed} published number {number} {when:.1?} after etcd stopped (the lease is \
                 {LEASE:?}: publishing must stop within {STOPS_WITHIN:?})"
            )
        });
    }

    cluster.etcd.start_again();
    let back = Instant::now();
    let limit = LEASE + Duration::from_secs(10);
    let baseline: BTreeMap<String, u64> = cluster.tracker.lasts();
    let owners_back = cluster.wait_owned("one owner per feed once etcd is back", limit);
    let left = limit.saturating_sub(back.elapsed());
    cluster.wait_advanced(
        "every feed to advance once etcd is back",
        left,
        &baseline,
        1,
    );
    eprintln!(
        "etcd outage: back; owners {owners_back:?}, every feed advancing {:.1?} after etcd \
         started; {:.0?} wall time",
        back.elapsed(),
        started.elapsed()
    );
    let context = cluster.context();
    cluster
        .tracker
        .findings
        .assert_none("etcd outage", &context);
}
