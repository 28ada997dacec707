//! Helpers of the end-to-end tests: running the `streamrouter` binary, the real clients
//! (ffmpeg/ffprobe, GStreamer) as subprocesses, a small m3u8 parser and MPEG-TS packet walking.
//! Each test crate uses part of them; the rest is dead code there.
#![allow(dead_code)]

pub mod aes;
pub mod ff;
pub mod gst;
pub mod m3u8;
pub mod router;
pub mod ts;
