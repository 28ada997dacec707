//! End-to-end tests of the daemon: `streamrouter run` on configs written by each test, fed by
//! real traffic (a looping file paced in real time, ffmpeg sending UDP), read back by real
//! clients (ffmpeg over the built-in HTTP server) and stopped with SIGTERM; plus `check` and
//! `graph` on good and broken configs, sink plugins (`.so` files built by the tests), and logs
//! (JSON lines, and no credential in them at any level); and clusters of routers sharing feeds
//! through a real etcd, with crashes, freezes and etcd outages (`cluster`).

// Helpers outside #[test] functions panic on purpose: a failed check is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod archive_list;
mod cluster;
mod config_tools;
mod daemon;
mod durable;
mod encryption;
mod feeds;
mod fmp4;
mod heal;
mod inputs;
mod logs;
mod masters;
mod operate;
mod plugins;
mod proxy;
mod publish_order;
mod recorder;
mod reload;
mod remote_sinks;
mod secrets;
mod servers;
mod sink_failures;
mod srt;
mod srt_faults;
mod views;
mod watch_page;
