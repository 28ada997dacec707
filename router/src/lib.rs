//! streamrouter: live MPEG-TS in, HLS out.
//!
//! The data flows through four stages, each a module that depends only on [`media`] and its own
//! configuration, never on the next stage:
//!
//! ```text
//! input bytes ─▶ media::framing ─▶ segmenter ─▶ playlist ─▶ publish ─▶ sink (plugins/*)
//! ```
//!
//! - [`media`]: TS framing and resync, PSI, PES timing, keyframe detection (pure).
//! - [`segmenter`]: packets → segments cut at random access points (pure).
//! - [`playlist`]: segments → sliding-window m3u8 text and expiry decisions (pure).
//! - [`publish`]: orders segment and playlist writes on a sink and deletes expired segments.
//! - [`reload`]: says when the config should be loaded again (file changes, SIGHUP).
//! - [`supervisor`]: the daemon's life: start, reload (compile, diff, apply), stop.
//! - [`status`]: the config generation and the last reload's outcome, for operators.
//! - [`segment_job`]: the one-shot `streamrouter segment` command wiring the stages together.
//! - [`plugin_sinks`]: loading `type = "plugin"` sinks, for `check` and at start.
//! - [`logging`]: the log filter: `RUST_LOG`, with the crates that print credentials capped.

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
