//! streamrouter: live MPEG-TS in, HLS out.
//!
//! The data flows through four stages, each a module that depends only on [`media`] and its own
//! configuration, never on the next stage:
//!
//! ```text
//! source ─▶ media::framing ─▶ segmenter ─▶ playlist ─▶ publish ─▶ sink (plugins/*)
//! (stage 1)                    (stage 2)    (stage 3)   (stage 4)
//! ```
//!
//! The stages:
//! - [`source`]: stage 1, bytes in (stdin, file, UDP, TCP, HTTP, child process); owns sockets,
//!   files, processes, reconnection and pacing.
//! - [`media`]: TS framing and resync, PSI, PES timing, keyframe detection, codec parameters
//!   (pure; shared by every stage).
//! - [`segmenter`]: stage 2, packets → segments cut at random access points (pure).
//! - [`playlist`]: stage 3, segments → sliding-window m3u8 text, master playlists, segment
//!   names and the settings a playlist is published with (pure).
//! - [`publish`]: stage 4, the order of segment and playlist writes on a sink, deletion timing,
//!   each sink's own plan of a playlist (its gaps, its listing), and the per-sink journal that
//!   makes the queue durable.
//!
//! Around them:
//! - [`config`]: TOML in, a validated graph out (raw → compile → model), and the reload diff of
//!   two graphs (pure; reads only the files it is given). Its model's `NodeId` (`sinks.NAME`)
//!   is how every module names a node; its values (URL, multicast join, command, segment
//!   name pattern) come checked, so no later stage parses them.
//! - [`topology`]: the only module that spawns tasks: runs a graph, applies reload diffs,
//!   supervises and heals nodes, stops in order.
//! - [`supervisor`]: the daemon's life: start, reload (compile, diff, apply), stop.
//! - [`reload`]: says when the config should be loaded again (file changes, SIGHUP).
//! - [`http`]: the built-in servers: local sinks' files (`serve`), and `/status`, `/metrics`,
//!   `/healthz` and the watch page (`listen`).
//! - [`status`]: the board of node states, alerts and the last reload's outcome, for operators.
//! - [`segment_job`]: the one-shot `streamrouter segment` command wiring the stages together.
//! - [`plugin_sinks`]: loading `type = "plugin"` sinks, for `check` and at start.
//! - `backoff`: the retry delays of every retry loop (doubling, jitter).
//! - [`logging`]: the log filter: `RUST_LOG`, with the crates that print credentials capped;
//!   and the span each graph node's tasks log in.
//!
//! The binary's subcommands live in `cli/` (not part of the library); `main.rs` dispatches.

pub(crate) mod backoff;
pub mod cluster;
pub mod config;
pub mod http;
pub mod logging;
pub mod media;
pub mod playlist;
pub mod plugin_sinks;
pub mod publish;
pub mod reload;
pub mod segment_job;
pub mod segmenter;
pub mod source;
pub mod status;
pub mod supervisor;
pub mod topology;
