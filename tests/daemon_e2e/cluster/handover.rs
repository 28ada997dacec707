//! Planned moves:
//!
//! - `planned_move_on_sigterm`: 2 routers; SIGTERM to the busier one. It hands its feeds over
//!   before exiting: the other owns them within 3 s of the signal, and the leaver exits 0
//!   within `stop_timeout` + 2 s. The lease here is 8 s, so an owner found within 3 s can
//!   only come from the handover, never from the lease running out. The moved playlists go
//!   on at the new owner, after an `#EXT-X-DISCONTINUITY`, and no version ever ends in
//!   `#EXT-X-ENDLIST`.
//! - `join_takes_a_share`: 3 routers, 8 feeds; a 4th joins. Within 30 s it owns at least one
//!   feed and every feed is owned by exactly one router. Meanwhile (polls every 100 ms) no
//!   feed is owned by two routers in two polls running, at most one feed is in motion at a
//!   time (owned by none; and at most one `moving:` line in `cluster status`), and no
//!   playlist stands still for more than 2 × target duration + 3 s.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::harness::{Cluster, LEASE, TARGET};

#[test]
fn planned_move_on_sigterm() {
    let lease = Duration::from_secs(8);
    let mut cluster = Cluster::start("sigterm", &["a", "b"], 4, lease);
    let owners = cluster.wait_running(Duration::from_secs(25));
    let leaving = cluster.busiest(&owners);
    let staying = if leaving == "a" { "b" } else { "a" }.to_owned();
    let moved: Vec<String> = (owners.iter())
        .filter(|(_, node)| **node == leaving)
        .map(|(feed, _)| feed.clone())
        .collect();
    eprintln!("sigterm: owners {owners:?}; SIGTERM to {leaving} (owns {moved:?})");

    cluster.tracker.observe();
    let at_signal = cluster.tracker.lasts();
    cluster.signal(&leaving, "TERM");
    let sent = Instant::now();
    let (mut exited, mut handed) = (None, None);
    let all = cluster.feeds.clone();
    cluster.wait(
        "the handover and the exit",
        Duration::from_secs(12),
        |cluster| {
            if exited.is_none() {
                exited = cluster
                    .try_exit(&leaving)
                    .map(|status| (status, sent.elapsed()));
            }
            if handed.is_none() && cluster.owned(&staying).is_ok_and(|owned| owned == all) {
                handed = Some(sent.elapsed());
            }
            match (exited, handed) {
                (Some(_), Some(_)) => Ok(()),
                _ => Err(format!("exited {exited:?}, handed over {handed:?}")),
            }
        },
    );
    let (status, exit_took) = exited.expect("exited");
    let handed = handed.expect("handed over");
    eprintln!(
        "sigterm: {staying} owns every feed {handed:.1?} after SIGTERM; exit {exit_took:.1?}"
    );
    assert!(status.success(), "{leaving} exited with {status}");
    assert!(
        exit_took <= Duration::from_secs(7),
        "{leaving} took {exit_took:.1?} to exit (stop_timeout is 5 s)"
    );
    assert!(
        handed <= Duration::from_secs(3),
        "{staying} owned every feed only {handed:.1?} after SIGTERM (lease {lease:?}): no \
         handover\n{}",
        cluster.context()
    );

    // The leaver's final versions are out (it exited): the new owner's numbers come after.
    cluster.tracker.observe();
    let at_exit = cluster.tracker.lasts();
    cluster.wait_advanced(
        "every feed to advance at the remaining router",
        Duration::from_secs(3 * TARGET.as_secs() + 4),
        &at_exit,
        2,
    );
    cluster.check_discontinuities(&moved, &at_exit, "handed over at SIGTERM");
    for feed in &cluster.feeds {
        let track = &cluster.tracker.feeds[feed];
        let (seen, before) = (track.endlist_seen, at_signal.get(feed));
        cluster.tracker.findings.check(!seen, || {
            format!("{feed}: a version ended in #EXT-X-ENDLIST (last number {before:?} at SIGTERM)")
        });
    }
    let context = cluster.context();
    cluster.tracker.findings.assert_none("sigterm", &context);
}

#[test]
fn join_takes_a_share() {
    let started = Instant::now();
    let mut cluster = Cluster::start("join", &["a", "b", "c"], 8, LEASE);
    let owners = cluster.wait_running(Duration::from_secs(25));
    eprintln!("join: owners {owners:?}");

    cluster.tracker.reset_stalls();
    cluster.start_router("d");
    let joined = Instant::now();
    let nodes = cluster.live_nodes(); // a, b, c, d: the new one asked last
    let mut overlapping: BTreeSet<String> = BTreeSet::new();
    let mut in_motion_most = 0;
    let mut moving_most = 0;
    let mut asked_cli = Instant::now();
    let feeds = cluster.feeds.clone();
    let settled = cluster.wait(
        "the 4th router to own a share, every feed owned once, nothing moving",
        Duration::from_secs(30),
        |cluster| {
            let owned = cluster.owned_by(&nodes)?;
            let mut count: std::collections::BTreeMap<&String, usize> = Default::default();
            for feed in owned.values().flatten() {
                *count.entry(feed).or_default() += 1;
            }
            let twice: BTreeSet<String> = (count.iter())
                .filter(|(_, n)| **n > 1)
                .map(|(feed, _)| (*feed).clone())
                .collect();
            // Asked one after the other, a move can look like two owners in one poll; in two
            // polls running it is two owners.
            for feed in twice.intersection(&overlapping) {
                cluster.tracker.findings.check(false, || {
                    format!("{feed} owned by two routers in two polls running: {owned:?}")
                });
            }
            overlapping = twice;
            let in_motion: Vec<&String> = feeds.iter().filter(|f| !count.contains_key(f)).collect();
            in_motion_most = in_motion_most.max(in_motion.len());
            if asked_cli.elapsed() >= Duration::from_secs(1) {
                asked_cli = Instant::now();
                if let Ok(status) = cluster.cluster_status() {
                    moving_most = moving_most.max(status.moving.len());
                }
            }
            let mine = owned.get("d").map_or(0, Vec::len);
            let status = cluster.ownership(&nodes)?;
            if mine == 0 {
                return Err("d owns nothing yet".into());
            }
            let cli = cluster.cluster_status()?;
            cli.check_settled(&nodes, &feeds)?;
            Ok(status)
        },
    );
    let took = joined.elapsed();
    let moved: Vec<&String> = (settled.iter())
        .filter(|(feed, node)| owners[*feed] != **node)
        .map(|(feed, _)| feed)
        .collect();
    eprintln!(
        "join: settled {took:.1?} after d started; owners {settled:?}; moved {moved:?}; at most \
         {in_motion_most} in motion at a poll, {moving_most} `moving:` lines"
    );
    for (feed, node) in &settled {
        let was = &owners[feed];
        cluster
            .tracker
            .findings
            .check(node == was || node == "d", || {
                format!("{feed} moved from {was} to {node}, not to the new router")
            });
    }
    cluster.tracker.findings.check(in_motion_most <= 1, || {
        format!("{in_motion_most} feeds in motion at once (owned by none): not one at a time")
    });
    cluster.tracker.findings.check(moving_most <= 1, || {
        format!("`cluster status` showed {moving_most} moves at once")
    });

    // Long enough after the last move for a stall there to show.
    let limit = 2 * TARGET + Duration::from_secs(3);
    let baseline = cluster.tracker.lasts();
    cluster.wait_advanced("every feed to advance after the join", limit, &baseline, 1);
    cluster.watch(limit.saturating_sub(Duration::from_secs(2)), |_| {});
    for feed in cluster.feeds.clone() {
        let stall = cluster.tracker.longest_stall(&feed);
        cluster.tracker.findings.check(stall <= limit, || {
            format!("{feed} stood still for {stall:.1?} (more than {limit:?}) around the join")
        });
    }
    eprintln!("join: {:.0?} wall time, lease {LEASE:?}", started.elapsed());
    let context = cluster.context();
    cluster.tracker.findings.assert_none("join", &context);
}
