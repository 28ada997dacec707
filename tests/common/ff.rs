//! ffmpeg and ffprobe, the real clients, as subprocesses.
//!
//! Every call first checks that the tool runs at all and fails the test with a clear message if
//! it does not: these tests are worthless without a real decoder and must never pass silently.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// 33-bit PTS/DTS modulus.
pub const PTS_MODULUS: i64 = 1 << 33;
/// The MPEG-TS clock.
pub const CLOCK_HZ: f64 = 90_000.0;

fn require(tool: &'static str) {
    static FFMPEG: OnceLock<Result<(), String>> = OnceLock::new();
    static FFPROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let cell = if tool == "ffmpeg" { &FFMPEG } else { &FFPROBE };
    let found = cell.get_or_init(|| {
        match Command::new(tool)
            .arg("-version")
            .stdin(Stdio::null())
            .output()
        {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(format!("`{tool} -version` exited with {}", output.status)),
            Err(e) => Err(format!("cannot run `{tool}`: {e}")),
        }
    });
    if let Err(why) = found {
        panic!(
            "{why}. The streamrouter end-to-end tests need ffmpeg and ffprobe (5.1 or later) on \
             PATH to check the output with a real demuxer and decoder; install them \
             (e.g. `apt-get install ffmpeg`). They are not skipped when missing."
        );
    }
}

/// Fails the test with installation advice unless both ffmpeg and ffprobe run.
pub fn require_tools() {
    require("ffmpeg");
    require("ffprobe");
}

fn run(tool: &'static str, args: &[&str], path: &Path) -> Output {
    require(tool);
    Command::new(tool)
        .args(args)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} on {}: {e}", path.display()))
}

/// Decodes every stream of `path` (a TS file or a playlist) to nothing with
/// `ffmpeg -v error -i PATH -f null -`; returns what ffmpeg printed, or the exit status if it
/// failed. `Ok("")` is a clean decode.
pub fn decode(path: &Path) -> Result<String, String> {
    require("ffmpeg");
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ffmpeg on {}: {e}", path.display()));
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if output.status.success() {
        Ok(stderr)
    } else {
        Err(format!("ffmpeg exited with {}: {stderr}", output.status))
    }
}

/// Panics unless ffmpeg decodes `path` with exit status 0 and not a single error message.
pub fn assert_decodes_cleanly(path: &Path) {
    match decode(path) {
        Ok(messages) if messages.is_empty() => {}
        Ok(messages) => panic!(
            "`ffmpeg -v error -i {} -f null -` printed errors:\n{messages}",
            path.display()
        ),
        Err(failure) => panic!("decoding {} failed: {failure}", path.display()),
    }
}

/// One top-level section of ffprobe's default output format (`[PACKET]`…`[/PACKET]`); fields of
/// nested sections (side data) are left out.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// PACKET, FRAME, STREAM…
    pub name: String,
    /// key=value lines.
    pub fields: BTreeMap<String, String>,
}

impl Section {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(|v| v.parse().ok())
    }
}

/// Runs ffprobe (`-v error -of default ARGS PATH`), asserts it exits 0, and returns its
/// sections. Decoder complaints on stderr are not errors here (ffprobe decodes a few frames of
/// damaged inputs to find stream parameters); use [`decode`] to judge decodability.
pub fn probe(path: &Path, args: &[&str]) -> Vec<Section> {
    let mut all = vec!["-hide_banner", "-v", "error", "-of", "default"];
    all.extend_from_slice(args);
    let output = run("ffprobe", &all, path);
    assert!(
        output.status.success(),
        "ffprobe {} {} failed with {}: {}",
        all.join(" "),
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    parse_sections(&String::from_utf8_lossy(&output.stdout))
}

fn parse_sections(text: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut current: Option<Section> = None;
    let mut depth = 0usize;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[/").and_then(|l| l.strip_suffix(']')) {
            depth = depth.saturating_sub(1);
            if depth == 0
                && let Some(section) = current.take()
            {
                assert_eq!(section.name, name, "unbalanced ffprobe output:\n{text}");
                sections.push(section);
            }
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if depth == 0 {
                current = Some(Section {
                    name: name.to_owned(),
                    ..Section::default()
                });
            }
            depth += 1;
        } else if depth == 1
            && let (Some(section), Some((key, value))) = (&mut current, line.split_once('='))
        {
            section.fields.insert(key.to_owned(), value.to_owned());
        }
    }
    sections
}

/// A demuxed packet as ffprobe reports it. Timestamps are raw 90 kHz values (ffprobe runs with
/// `-correct_ts_overflow 0`, so 33-bit wraps are not undone).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub pts: Option<i64>,
    pub duration: Option<i64>,
    pub size: u64,
    pub key: bool,
    /// MD5 of the packet data.
    pub hash: String,
}

impl Packet {
    /// What identifies the packet's content: size and data hash (not its timestamps).
    pub fn content(&self) -> (u64, &str) {
        (self.size, self.hash.as_str())
    }
}

/// The packets of one stream (`v:0`, `a:0`) of a TS file or a playlist, in demux order.
pub fn packets(path: &Path, stream: &str) -> Vec<Packet> {
    probe(
        path,
        &[
            "-correct_ts_overflow",
            "0",
            "-select_streams",
            stream,
            "-show_data_hash",
            "MD5",
            "-show_entries",
            "packet=pts,duration,size,flags,data_hash",
        ],
    )
    .into_iter()
    .filter(|s| s.name == "PACKET")
    .map(|s| Packet {
        pts: s.int("pts"),
        duration: s.int("duration"),
        size: s
            .int("size")
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or_else(|| panic!("ffprobe packet without size: {s:?}")),
        key: s.get("flags").is_some_and(|f| f.starts_with('K')),
        hash: s
            .get("data_hash")
            .unwrap_or_else(|| panic!("ffprobe packet without data_hash: {s:?}"))
            .to_owned(),
    })
    .collect()
}

/// A decoded video frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub key_frame: bool,
    /// I, P, B… (for messages).
    pub pict_type: String,
}

/// The decoded frames of the first video stream of `path`, in output order.
pub fn video_frames(path: &Path) -> Vec<Frame> {
    probe(
        path,
        &[
            "-correct_ts_overflow",
            "0",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=key_frame,pict_type",
        ],
    )
    .into_iter()
    .filter(|s| s.name == "FRAME")
    .map(|s| Frame {
        key_frame: s.get("key_frame") == Some("1"),
        pict_type: s.get("pict_type").unwrap_or("?").to_owned(),
    })
    .collect()
}

/// Codec names of the streams of `path`, in stream order.
pub fn codec_names(path: &Path) -> Vec<String> {
    probe(path, &["-show_entries", "stream=codec_name"])
        .into_iter()
        .filter(|s| s.name == "STREAM")
        .map(|s| s.get("codec_name").unwrap_or("?").to_owned())
        .collect()
}

/// Undoes 33-bit wraps in a sequence of raw timestamps (in decode order, where B-frames may
/// step back and forth across a wrap): each value becomes the candidate `raw + k * 2^33`
/// closest to the previous unwrapped value.
pub fn unwrap_timestamps(raw: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    for value in raw {
        let unwrapped = match out.last() {
            None => value,
            Some(&previous) => {
                let base = previous - previous.rem_euclid(PTS_MODULUS) + value;
                [base - PTS_MODULUS, base, base + PTS_MODULUS]
                    .into_iter()
                    .min_by_key(|candidate| (candidate - previous).abs())
                    .unwrap_or(base)
            }
        };
        out.push(unwrapped);
    }
    out
}

/// Whether two raw or unwrapped timestamps name the same instant modulo 2^33.
pub fn same_timestamp(a: i64, b: i64) -> bool {
    (a - b).rem_euclid(PTS_MODULUS) == 0
}

/// The MD5 of every decoded frame of stream `kind` (`v` or `a`), in presentation order
/// (`ffmpeg -map 0:KIND -f framemd5`, hash column only: ffmpeg's timestamp columns differ
/// between a TS and an fMP4 HLS input of the same frames, see docs/fmp4.md).
pub fn frame_hashes(path: &Path, kind: &str) -> Vec<String> {
    frame_hashes_with(path, kind, &[])
}

/// [`frame_hashes`] with input options (e.g. `-c:a mp2`: the decoder to use).
pub fn frame_hashes_with(path: &Path, kind: &str, input_options: &[&str]) -> Vec<String> {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input_options)
        .arg("-i")
        .arg(path)
        .args(["-map", &format!("0:{kind}"), "-f", "framemd5", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg runs");
    assert!(
        output.status.success(),
        "ffmpeg framemd5 of {}",
        path.display()
    );
    let hashes: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect();
    assert!(
        !hashes.is_empty(),
        "no {kind} frames decoded from {}",
        path.display()
    );
    hashes
}
