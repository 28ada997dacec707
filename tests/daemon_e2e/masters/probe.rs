//! What ffprobe says of the inputs and of the published segments.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::ff;

// ------------------------------------------------------------------------------- ffprobe ---

/// What ffprobe says about a file's streams.
#[derive(Debug, Clone, Default)]
pub(crate) struct Streams {
    /// The first video stream's fields, if any.
    pub(crate) video: Option<BTreeMap<String, String>>,
    /// The first audio stream's fields, if any.
    pub(crate) audio: Option<BTreeMap<String, String>>,
}

pub(crate) fn streams(path: &Path) -> Streams {
    let mut found = Streams::default();
    for section in ff::probe(path, &["-show_streams"]) {
        if section.name != "STREAM" {
            continue;
        }
        let slot = match section.fields.get("codec_type").map(String::as_str) {
            Some("video") => &mut found.video,
            Some("audio") => &mut found.audio,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(section.fields);
        }
    }
    found
}

pub(crate) fn field<'a>(fields: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    fields
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("ffprobe gave no {key}: {fields:?}"))
}

/// `25/1` → 25.0.
pub(crate) fn rational(text: &str) -> f64 {
    let (num, den) = text.split_once('/').unwrap_or((text, "1"));
    let (num, den): (f64, f64) = (num.parse().unwrap(), den.parse().unwrap());
    assert!(den > 0.0, "bad rational {text}");
    num / den
}

/// H.264 profile_idc of ffprobe's profile name.
pub(crate) fn profile_idc(name: &str) -> u8 {
    match name {
        "Baseline" | "Constrained Baseline" => 0x42,
        "Main" => 0x4d,
        "Extended" => 0x58,
        "High" | "Constrained High" | "Progressive High" => 0x64,
        other => panic!("unexpected H.264 profile {other:?}"),
    }
}

/// The video's start PTS (90 kHz) and whether it is a keyframe: the first video packet of
/// `path` (the first audio packet for audio-only files).
pub(crate) fn first_packet(path: &Path) -> (i64, bool) {
    let stream = if streams(path).video.is_some() {
        "v:0"
    } else {
        "a:0"
    };
    let sections = ff::probe(
        path,
        &[
            "-select_streams",
            stream,
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "packet=pts,flags",
        ],
    );
    let packet = sections
        .iter()
        .find(|s| s.name == "PACKET")
        .unwrap_or_else(|| panic!("no packet in {}", path.display()));
    let pts = field(&packet.fields, "pts").parse().unwrap();
    let key = field(&packet.fields, "flags").starts_with('K');
    (pts, key)
}

/// PTS (90 kHz) of the video keyframes of `path`.
pub(crate) fn keyframe_pts(path: &Path) -> Vec<i64> {
    ff::packets(path, "v:0")
        .into_iter()
        .filter(|p| p.key)
        .filter_map(|p| p.pts)
        .collect()
}

/// Decodes every stream of `path` (`-map 0`); returns ffmpeg's stderr at `-v error`, or panics
/// if it fails.
pub(crate) fn decode_all_streams(path: &Path) -> String {
    ff::require_tools();
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0", "-f", "null", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("run ffmpeg");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert!(
        output.status.success(),
        "ffmpeg -i {} -map 0 failed with {}: {stderr}",
        path.display(),
        output.status
    );
    stderr
}
