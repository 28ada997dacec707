//! End-to-end tests of `streamrouter segment`: the real binary on the inputs of `tests/data`
//! (see its README), judged by real clients (ffmpeg and ffprobe as subprocesses) and by walking
//! the TS packets of the output.
//!
//! Needs ffmpeg and ffprobe on PATH; every test fails (it is never skipped) without them.

// Helpers outside #[test] functions panic on purpose: a failed check is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod support;

mod damaged;
mod encryption;
mod errors;
mod fmp4;
mod good_inputs;
mod gstreamer;
mod raw_cut;
mod reconfigure;
mod window_and_stdin;

#[test]
fn ffmpeg_and_ffprobe_are_installed() {
    // Every check of the output goes through them: without them this suite must fail, loudly.
    common::ff::require_tools();
}
