//! Feeds shared over several routers through etcd (issue 19), proved with real processes: a
//! real etcd 3.4 ([`etcd`]), 2–4 `streamrouter run` routers on one config, each feed a looping
//! file paced in real time, all published by one local sink into one shared directory that a
//! [`tracker::Tracker`] polls as a player would. Faults are real signals: SIGKILL (a crash),
//! SIGSTOP/SIGCONT (a router frozen past its lease), SIGTERM (a planned stop), etcd stopped
//! and started again.
//!
//! - `failover`: a router killed; its feeds go on at the survivors after a discontinuity.
//! - `paused`: a router frozen past its lease writes nothing for the feeds that moved.
//! - `etcd_outage`: etcd restarted quickly (nothing moves), then down longer than the lease
//!   (publishing stops, then resumes).
//! - `handover`: SIGTERM hands the feeds over at once; a router joining takes a share.
//! - `examples`: `check` warns about push sources in a cluster; the shipped Kubernetes and
//!   systemd examples are valid configs.
//!
//! Throughout, the tracker checks that no sequence number is ever reused and that no playlist
//! goes back; `tracker_tests` proves the tracker on today's single router (no false alarm,
//! every doctored fault found). [`harness`] holds the cluster (routers, etcd, ownership from `/status`);
//! [`cluster_status`] reads `streamrouter cluster status`.

pub(crate) mod cluster_status;
pub(crate) mod etcd;
pub(crate) mod harness;
pub(crate) mod tracker;

mod etcd_outage;
mod examples;
mod failover;
mod handover;
mod paused;
mod tracker_tests;
