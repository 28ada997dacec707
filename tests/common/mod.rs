//! Helpers of the `segment_e2e` end-to-end tests: running the `streamrouter` binary, the real
//! clients (ffmpeg/ffprobe) as subprocesses, a small m3u8 parser and MPEG-TS packet walking.

pub mod ff;
pub mod m3u8;
pub mod router;
pub mod ts;
