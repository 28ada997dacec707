//! Master playlists (multi-bitrate): renditions of one program fed as live feeds, a
//! `[masters.NAME]` over their playlists and a sink fed the master. Checks what a player sees:
//! the master's attributes against ffprobe's view of each input, segment N starting at the same
//! PTS in every variant (so a player can switch there), the master decoding with ffmpeg, and
//! segments of different variants concatenated at a switch decoding without an error. Also: an
//! audio-only rendition, misaligned renditions reported, and the shipped `configs/ladder.toml`.
//!
//! The renditions are made once per build directory by one ffmpeg run (one source, split and
//! scaled, keyframes forced every 2 s), so their PTS timelines are identical; the test checks
//! that premise with ffprobe before judging the daemon.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::m3u8::Playlist;
use crate::common::router::BIN;
use crate::common::{ff, ts};
use crate::daemon::{Daemon, http_get, read_if_exists, write_config};

/// Length of the ladder clip, seconds.
const LADDER_SECONDS: u32 = 20;
/// Length of the misaligned pair, seconds.
const MISALIGNED_SECONDS: u32 = 12;
/// The segmenters' target duration, seconds (the keyframe interval of the aligned clips).
const TARGET: u32 = 2;
/// One frame at 25 fps in 90 kHz ticks.
const FRAME_TICKS: i64 = 3600;
/// Keyframes every 2 s of output time, whatever the encoder would choose.
const ALIGNED_KEYFRAMES: &str = "expr:gte(t,n_forced*2)";
/// Longest a test waits for its feeds to end (they last at most `LADDER_SECONDS` in real time).
const FEED_TIMEOUT: Duration = Duration::from_secs(90);

// --------------------------------------------------------------------------------- inputs ---

/// The renditions of one synthetic clip (testsrc2 1280x720 + 440 Hz sine, `LADDER_SECONDS`).
struct Ladder {
    /// 640x360, H.264 Main 3.0, 400 kbit/s.
    low: PathBuf,
    /// 960x540, H.264 Main 3.1, 800 kbit/s.
    mid: PathBuf,
    /// 1280x720, H.264 High 4.0, 1500 kbit/s.
    high: PathBuf,
    /// 416x234, H.264 Constrained Baseline 2.1, 200 kbit/s (no B-frames, so its timeline is
    /// not the others': it is only used with the audio-only rendition).
    mobile: PathBuf,
    /// AAC-LC only, 64 kbit/s.
    audio: PathBuf,
}

/// Runs ffmpeg with `args`, writing into the fresh directory `partial`, then moves it to
/// `done` (another test process may have won the race: then its directory is used).
fn make_once(done: &Path, what: &str, args: &[String]) {
    if done.is_dir() {
        return;
    }
    ff::require_tools();
    let partial = done.with_extension(format!("{}.partial", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).unwrap();
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .current_dir(&partial)
        .stdin(Stdio::null())
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "making {what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if std::fs::rename(&partial, done).is_err() {
        assert!(
            done.is_dir(),
            "cannot move {} into place",
            partial.display()
        );
        let _ = std::fs::remove_dir_all(&partial);
    }
}

/// One H.264 + AAC output of the ladder run.
fn rendition_args(label: &str, file: &str, profile: &str, level: &str, kbits: u32) -> Vec<String> {
    let mut args: Vec<String> = ["-map", &format!("[{label}]"), "-map", "1:a"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            profile,
            "-level:v",
            level,
            "-b:v",
            &format!("{kbits}k"),
            "-maxrate",
            &format!("{kbits}k"),
            "-bufsize",
            &format!("{}k", kbits * 2),
            "-force_key_frames",
            ALIGNED_KEYFRAMES,
            "-sc_threshold",
            "0",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "mpegts",
            file,
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    args
}

fn ladder() -> &'static Ladder {
    static LADDER: OnceLock<Ladder> = OnceLock::new();
    LADDER.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("masters_ladder_{LADDER_SECONDS}s_v1"));
        let mut args: Vec<String> = vec![
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("testsrc2=s=1280x720:r=25:d={LADDER_SECONDS}"),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("sine=f=440:b=4:r=48000:d={LADDER_SECONDS}"),
            "-filter_complex".into(),
            "[0:v]split=4[a][b][c][d];[a]scale=640:360[lo];[b]scale=960:540[mi];[c]null[hi];\
             [d]scale=416:234[mo]"
                .into(),
        ];
        args.extend(rendition_args("lo", "low.ts", "main", "3.0", 400));
        args.extend(rendition_args("mi", "mid.ts", "main", "3.1", 800));
        args.extend(rendition_args("hi", "high.ts", "high", "4.0", 1500));
        args.extend(rendition_args("mo", "mobile.ts", "baseline", "2.1", 200));
        args.extend(
            [
                "-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", "audio.ts",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        make_once(&dir, "the ladder renditions", &args);
        Ladder {
            low: dir.join("low.ts"),
            mid: dir.join("mid.ts"),
            high: dir.join("high.ts"),
            mobile: dir.join("mobile.ts"),
            audio: dir.join("audio.ts"),
        }
    })
}

/// Two renditions of one clip whose keyframes are not aligned: `even.ts` has an IDR every 2 s
/// (0 2 4 …), `odd.ts` at 0 then 1 3 5 ….
fn misaligned_pair() -> (PathBuf, PathBuf) {
    static PAIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("masters_misaligned_{MISALIGNED_SECONDS}s_v1"));
        let common = |extra: &[&str], file: &str| -> Vec<String> {
            let mut args: Vec<&str> = vec!["-map", "0:v", "-map", "1:a", "-c:v", "libx264"];
            args.extend(["-preset", "veryfast", "-sc_threshold", "0", "-b:v", "200k"]);
            args.extend(extra);
            args.extend(["-c:a", "aac", "-b:a", "32k", "-f", "mpegts", file]);
            args.into_iter().map(str::to_owned).collect()
        };
        let mut args: Vec<String> = vec![
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("testsrc2=s=320x180:r=25:d={MISALIGNED_SECONDS}"),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("sine=f=440:b=4:r=48000:d={MISALIGNED_SECONDS}"),
        ];
        args.extend(common(&["-g", "50", "-keyint_min", "50"], "even.ts"));
        args.extend(common(
            &["-g", "250", "-force_key_frames", "expr:gte(t,1+n_forced*2)"],
            "odd.ts",
        ));
        make_once(&dir, "the misaligned renditions", &args);
        (dir.join("even.ts"), dir.join("odd.ts"))
    })
    .clone()
}

// ------------------------------------------------------------------------------- ffprobe ---

/// What ffprobe says about a file's streams.
#[derive(Debug, Clone, Default)]
struct Streams {
    /// The first video stream's fields, if any.
    video: Option<BTreeMap<String, String>>,
    /// The first audio stream's fields, if any.
    audio: Option<BTreeMap<String, String>>,
}

fn streams(path: &Path) -> Streams {
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

fn field<'a>(fields: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    fields
        .get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("ffprobe gave no {key}: {fields:?}"))
}

/// `25/1` → 25.0.
fn rational(text: &str) -> f64 {
    let (num, den) = text.split_once('/').unwrap_or((text, "1"));
    let (num, den): (f64, f64) = (num.parse().unwrap(), den.parse().unwrap());
    assert!(den > 0.0, "bad rational {text}");
    num / den
}

/// H.264 profile_idc of ffprobe's profile name.
fn profile_idc(name: &str) -> u8 {
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
fn first_packet(path: &Path) -> (i64, bool) {
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
fn keyframe_pts(path: &Path) -> Vec<i64> {
    ff::packets(path, "v:0")
        .into_iter()
        .filter(|p| p.key)
        .filter_map(|p| p.pts)
        .collect()
}

/// Decodes every stream of `path` (`-map 0`); returns ffmpeg's stderr at `-v error`, or panics
/// if it fails.
fn decode_all_streams(path: &Path) -> String {
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

// ----------------------------------------------------------------------- master playlists ---

/// One `#EXT-X-STREAM-INF` and its URI.
#[derive(Debug, Clone)]
struct StreamInf {
    /// Attribute values as written (quoted strings keep their quotes).
    attributes: BTreeMap<String, String>,
    uri: String,
}

impl StreamInf {
    fn raw(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    fn number(&self, key: &str) -> u64 {
        let value = self
            .raw(key)
            .unwrap_or_else(|| panic!("{key} missing: {self:?}"));
        value
            .parse()
            .unwrap_or_else(|_| panic!("{key}={value} is not a decimal integer"))
    }

    /// A quoted-string attribute without its quotes; panics if not quoted.
    fn quoted(&self, key: &str) -> Option<&str> {
        self.raw(key).map(|value| {
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{key}={value} must be a quoted string"))
        })
    }

    fn codecs(&self) -> Vec<&str> {
        self.quoted("CODECS")
            .unwrap_or_else(|| panic!("CODECS missing: {self:?}"))
            .split(',')
            .collect()
    }

    fn resolution(&self) -> Option<(u32, u32)> {
        self.raw("RESOLUTION").map(|value| {
            let (w, h) = value
                .split_once('x')
                .unwrap_or_else(|| panic!("RESOLUTION={value} is not WxH"));
            (w.parse().unwrap(), h.parse().unwrap())
        })
    }
}

/// A master playlist.
#[derive(Debug, Clone, Default)]
struct Master {
    version: Option<u64>,
    independent_segments: bool,
    variants: Vec<StreamInf>,
}

/// Splits an attribute list at the commas outside quoted strings.
fn attribute_list(list: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    let mut quoted = false;
    let mut start = 0;
    let mut items = Vec::new();
    for (i, c) in list.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    for item in items {
        let (key, value) = item
            .split_once('=')
            .unwrap_or_else(|| panic!("attribute {item:?} without = in {list:?}"));
        let previous = attributes.insert(key.to_owned(), value.to_owned());
        assert!(previous.is_none(), "attribute {key} twice in {list:?}");
    }
    attributes
}

impl Master {
    /// Parses a master playlist; panics with the text on anything that does not belong there.
    fn parse(text: &str) -> Self {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        assert_eq!(lines.next(), Some("#EXTM3U"), "master:\n{text}");
        let mut master = Master::default();
        let mut pending: Option<BTreeMap<String, String>> = None;
        for line in lines {
            if let Some(value) = line.strip_prefix("#EXT-X-VERSION:") {
                master.version = Some(value.parse().unwrap());
            } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
                master.independent_segments = true;
            } else if let Some(list) = line.strip_prefix("#EXT-X-STREAM-INF:") {
                assert!(pending.is_none(), "two STREAM-INF without a URI:\n{text}");
                pending = Some(attribute_list(list));
            } else if line.starts_with('#') {
                panic!("unexpected line {line:?} in a master playlist:\n{text}");
            } else {
                let attributes = pending
                    .take()
                    .unwrap_or_else(|| panic!("URI {line:?} without STREAM-INF:\n{text}"));
                master.variants.push(StreamInf {
                    attributes,
                    uri: line.to_owned(),
                });
            }
        }
        assert!(pending.is_none(), "STREAM-INF without a URI:\n{text}");
        master
    }
}

// ------------------------------------------------------------------------------ configs ---

/// One rendition fed as a live feed: a file paced in real time that ends (no loop).
struct Rendition<'a> {
    name: &'a str,
    clip: &'a Path,
    /// Playlist file name in the sink.
    playlist: String,
    /// Segment name pattern.
    segments: String,
}

impl<'a> Rendition<'a> {
    /// Playlist and segments under the directory `name/`.
    fn in_dir(name: &'a str, clip: &'a Path) -> Self {
        Self {
            name,
            clip,
            playlist: format!("{name}/index.m3u8"),
            segments: format!("{name}/seg-{{seq:05}}.ts"),
        }
    }

    /// Playlist and segments next to the master.
    fn flat(name: &'a str, clip: &'a Path) -> Self {
        Self {
            name,
            clip,
            playlist: format!("{name}.m3u8"),
            segments: format!("{name}-{{seq:05}}.ts"),
        }
    }
}

/// A config: every rendition as source + segmenter + playlist (window 0: all segments kept),
/// one master `master` over them (file `master.m3u8`), one local sink `cdn` into `out` fed the
/// master.
fn master_config(dir: &Path, renditions: &[Rendition<'_>], out: &Path) -> String {
    let mut text = format!(
        "[router]\nstate_dir = \"{}\"\n",
        dir.join("state").display()
    );
    for r in renditions {
        text.push_str(&format!(
            r#"
[sources.{name}]
type = "file"
path = "{clip}"
realtime = true

[segmenters.{name}]
input = "{name}"
target_duration = {TARGET}

[playlists.{name}]
input = "{name}"
name = "{playlist}"
segment_name = "{segments}"
window = 0
"#,
            name = r.name,
            clip = r.clip.display(),
            playlist = r.playlist,
            segments = r.segments,
        ));
    }
    let variants: Vec<String> = renditions
        .iter()
        .map(|r| format!("\"{}\"", r.name))
        .collect();
    text.push_str(&format!(
        r#"
[masters.stream0001]
variants = [{}]
name = "master.m3u8"

[sinks.cdn]
type = "local"
path = "{}"
inputs = ["stream0001"]
"#,
        variants.join(", "),
        out.display()
    ));
    text
}

/// The daemon's logs without colour codes.
fn logs(daemon: &Daemon) -> String {
    strip_ansi(&daemon.logs())
}

fn strip_ansi(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text
}

/// Whether the log line has the field `key=value` (or `key="value"`: tracing quotes string
/// fields recorded without `%`).
fn has_field(line: &str, key: &str, value: &str) -> bool {
    line.contains(&format!(" {key}={value}")) || line.contains(&format!(" {key}=\"{value}\""))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Waits until `check` holds; fails with the log tail on timeout or if the daemon exits.
fn wait_for(
    daemon: &mut Daemon,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&Daemon) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !check(daemon) {
        assert!(
            daemon.is_running(),
            "daemon exited while waiting for {what}; logs:\n{}",
            tail(&logs(daemon), 60)
        );
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; logs:\n{}",
            tail(&logs(daemon), 60)
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn ended(path: &Path) -> bool {
    read_if_exists(path).is_some_and(|text| text.contains("#EXT-X-ENDLIST"))
}

/// Runs the daemon on `config` until every playlist in `playlists` has `#EXT-X-ENDLIST` and the
/// master exists, stops it with SIGTERM and returns its logs.
fn run_until_ended(config: &Path, playlists: &[PathBuf], master: &Path) -> String {
    let mut daemon = Daemon::start(config);
    wait_for(
        &mut daemon,
        "every variant playlist to end",
        FEED_TIMEOUT,
        |_| playlists.iter().all(|p| ended(p)),
    );
    wait_for(
        &mut daemon,
        "the master playlist",
        Duration::from_secs(10),
        |_| master.is_file(),
    );
    let (status, raw) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}\n{raw}");
    strip_ansi(&raw)
}

/// A variant as published: its playlist and segment files.
struct Published {
    name: String,
    playlist: Playlist,
    /// Segment paths, in playlist order.
    segments: Vec<PathBuf>,
}

impl Published {
    fn read(name: &str, path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let playlist = Playlist::parse(&text);
        let dir = path.parent().unwrap();
        let segments = playlist.uris().iter().map(|u| dir.join(u)).collect();
        Self {
            name: name.to_owned(),
            playlist,
            segments,
        }
    }

    /// Total bits over total EXTINF seconds.
    fn average_bits_per_second(&self) -> f64 {
        let bytes: u64 = self
            .segments
            .iter()
            .map(|s| std::fs::metadata(s).unwrap().len())
            .sum();
        bytes as f64 * 8.0 / self.playlist.total_duration()
    }

    /// The highest segment bit rate among segments of at least half a second.
    fn peak_bits_per_second(&self) -> f64 {
        self.segments
            .iter()
            .zip(self.playlist.durations())
            .filter(|(_, d)| *d >= 0.5)
            .map(|(s, d)| std::fs::metadata(s).unwrap().len() as f64 * 8.0 / d)
            .fold(0.0, f64::max)
    }
}

/// Every segment URI of the playlist at `path` names an existing file when resolved against
/// the playlist itself (RFC 8216 §4.1), as a player resolves it.
fn assert_segment_uris_resolve(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let dir = path.parent().unwrap();
    for uri in Playlist::parse(&text).uris() {
        let resolved = dir.join(uri);
        assert!(
            resolved.is_file(),
            "{} lists {uri}, which resolves to {} (no such file; {} holds {:?}):\n{text}",
            path.display(),
            resolved.display(),
            dir.display(),
            crate::common::router::dir_names(dir)
        );
    }
}

/// Checks a video variant's STREAM-INF against ffprobe's view of its input; returns a line
/// for the test output.
fn check_video_attributes(name: &str, inf: &StreamInf, input: &Path) -> String {
    let probed = streams(input);
    let video = probed.video.expect("the input has video");
    let audio = probed.audio.expect("the input has audio");
    let (width, height) = (field(&video, "width"), field(&video, "height"));
    assert_eq!(
        inf.resolution(),
        Some((width.parse().unwrap(), height.parse().unwrap())),
        "{name}: RESOLUTION vs ffprobe {width}x{height}"
    );
    let frame_rate: f64 = inf
        .raw("FRAME-RATE")
        .unwrap_or_else(|| panic!("{name}: FRAME-RATE missing"))
        .parse()
        .unwrap();
    let probed_rate = rational(field(&video, "avg_frame_rate"));
    assert!(
        (frame_rate - probed_rate).abs() <= 0.01 && (frame_rate - 25.0).abs() <= 0.01,
        "{name}: FRAME-RATE={frame_rate} vs ffprobe {probed_rate}"
    );
    let codecs = inf.codecs();
    assert_eq!(codecs.len(), 2, "{name}: CODECS={codecs:?}");
    let avc = codecs[0];
    let hex = avc
        .strip_prefix("avc1.")
        .unwrap_or_else(|| panic!("{name}: {avc} is not avc1.PPCCLL"));
    assert!(
        hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "{name}: {avc} is not avc1.PPCCLL"
    );
    let profile = field(&video, "profile");
    let level: u8 = field(&video, "level").parse().unwrap();
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    assert_eq!(
        byte(0),
        profile_idc(profile),
        "{name}: {avc}: profile_idc vs ffprobe {profile}"
    );
    assert_eq!(
        byte(4),
        level,
        "{name}: {avc}: level_idc vs ffprobe {level}"
    );
    if profile == "Constrained Baseline" {
        assert_ne!(
            byte(2) & 0x40,
            0,
            "{name}: {avc}: Constrained Baseline needs constraint_set1_flag"
        );
    }
    assert_eq!(field(&audio, "codec_name"), "aac");
    assert_eq!(field(&audio, "profile"), "LC");
    assert_eq!(codecs[1], "mp4a.40.2", "{name}: audio codec");
    format!(
        "{name}: {} {}x{} FRAME-RATE={} vs ffprobe {width}x{height} {profile} level {level} \
         {probed_rate} fps",
        codecs.join(","),
        width,
        height,
        frame_rate
    )
}

/// Checks BANDWIDTH and AVERAGE-BANDWIDTH against the published segments.
fn check_bandwidth(inf: &StreamInf, published: &Published) -> String {
    let name = &published.name;
    let peak = inf.number("BANDWIDTH");
    let average = inf.number("AVERAGE-BANDWIDTH");
    assert!(
        peak >= average && average > 0,
        "{name}: BANDWIDTH={peak} AVERAGE-BANDWIDTH={average}"
    );
    let measured = published.average_bits_per_second();
    assert!(
        (average as f64 - measured).abs() <= 0.3 * measured,
        "{name}: AVERAGE-BANDWIDTH={average} vs {measured:.0} bit/s measured on the segments"
    );
    let measured_peak = published.peak_bits_per_second();
    assert!(
        peak as f64 <= measured_peak * 1.05 && peak as f64 >= measured_peak * 0.85,
        "{name}: BANDWIDTH={peak} vs peak segment rate {measured_peak:.0} bit/s"
    );
    format!(
        "{name}: BANDWIDTH={peak} (segments' peak {measured_peak:.0}) AVERAGE-BANDWIDTH={average} \
         (segments' average {measured:.0})"
    )
}

/// Every variant numbers its segments the same way and segment N starts at the same PTS (within
/// one frame) with a keyframe after PAT/PMT.
fn check_alignment(variants: &[Published]) -> Vec<Vec<i64>> {
    let first = &variants[0];
    let mut starts = Vec::new();
    for variant in variants {
        assert_eq!(
            (
                variant.playlist.media_sequence,
                variant.playlist.entries.len()
            ),
            (first.playlist.media_sequence, first.playlist.entries.len()),
            "{} and {} number their segments differently",
            variant.name,
            first.name
        );
        let mut these = Vec::new();
        for segment in &variant.segments {
            let bytes = std::fs::read(segment).unwrap();
            let packets = ts::packets(&bytes);
            assert_eq!(
                packets[0].table_id(),
                Some(0),
                "{} does not start with a PAT",
                segment.display()
            );
            let (pts, key) = first_packet(segment);
            assert!(key, "{} does not start with a keyframe", segment.display());
            these.push(pts);
        }
        starts.push(these);
    }
    for (variant, these) in variants.iter().zip(&starts) {
        for (n, (a, b)) in these.iter().zip(&starts[0]).enumerate() {
            assert!(
                (a - b).abs() <= FRAME_TICKS,
                "segment {n} of {} starts at {a}, of {} at {b}: not aligned",
                variant.name,
                first.name
            );
        }
    }
    starts
}

/// Byte-concatenates `a` and `b` (a player switching variants between them) into `out` and
/// checks that ffmpeg decodes it without an error and that the frames switch resolution.
fn check_switch(a: &Path, b: &Path, out: &Path, sizes: (&str, &str)) -> String {
    let mut bytes = std::fs::read(a).unwrap();
    bytes.extend(std::fs::read(b).unwrap());
    std::fs::write(out, &bytes).unwrap();
    let messages = decode_all_streams(out);
    assert!(
        messages.is_empty(),
        "switching {} → {}: ffmpeg printed errors:\n{messages}",
        a.display(),
        b.display()
    );
    let frames = ff::probe(
        out,
        &["-select_streams", "v:0", "-show_entries", "frame=width"],
    );
    let widths: Vec<&str> = frames
        .iter()
        .filter(|s| s.name == "FRAME")
        .filter_map(|s| s.fields.get("width").map(String::as_str))
        .collect();
    let first_switch = widths.iter().position(|w| *w != widths[0]);
    assert_eq!(widths.first().copied(), Some(sizes.0), "{widths:?}");
    assert_eq!(widths.last().copied(), Some(sizes.1), "{widths:?}");
    let switch = first_switch.unwrap_or(widths.len());
    assert!(
        widths[switch..].iter().all(|w| *w == sizes.1),
        "frames go back and forth: {widths:?}"
    );
    format!(
        "{} + {}: {} frames decoded, resolution switch after frame {switch}",
        a.file_name().unwrap().to_string_lossy(),
        b.file_name().unwrap().to_string_lossy(),
        widths.len()
    )
}

// --------------------------------------------------------------------------------- tests ---

#[test]
fn master_over_three_aligned_renditions() {
    let started = Instant::now();
    let ladder = ladder();
    let inputs = [
        ("low", &ladder.low),
        ("mid", &ladder.mid),
        ("high", &ladder.high),
    ];
    // The premise: one ffmpeg run gave the three the same keyframe PTS, every 2 s.
    let keyframes: Vec<Vec<i64>> = inputs.iter().map(|(_, p)| keyframe_pts(p)).collect();
    assert!(keyframes[0].len() >= 9, "{keyframes:?}");
    for pair in keyframes[0].windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            i64::from(TARGET) * 90_000,
            "{keyframes:?}"
        );
    }
    assert!(
        keyframes.iter().all(|k| *k == keyframes[0]),
        "the renditions' keyframes differ: {keyframes:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cdn");
    let renditions: Vec<Rendition<'_>> = inputs
        .iter()
        .map(|(name, clip)| Rendition::flat(name, clip))
        .collect();
    let config = write_config(
        dir.path(),
        "masters.toml",
        &master_config(dir.path(), &renditions, &out),
    );
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let master_path = out.join("master.m3u8");
    let logs = run_until_ended(&config, &playlists, &master_path);
    let ran = started.elapsed();

    // The master: the three variants in order, URIs relative to it.
    let text = std::fs::read_to_string(&master_path).unwrap();
    println!("master.m3u8:\n{text}");
    let master = Master::parse(&text);
    assert_eq!(master.version, Some(3), "{text}");
    assert!(master.independent_segments, "{text}");
    let uris: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["low.m3u8", "mid.m3u8", "high.m3u8"], "{text}");
    for (uri, playlist) in uris.iter().zip(&playlists) {
        let resolved = master_path.parent().unwrap().join(uri);
        assert_eq!(
            std::fs::canonicalize(&resolved).unwrap(),
            std::fs::canonicalize(playlist).unwrap()
        );
    }

    // Attributes against ffprobe and the published segments.
    let published: Vec<Published> = renditions
        .iter()
        .zip(&playlists)
        .map(|(r, p)| Published::read(r.name, p))
        .collect();
    for ((inf, (name, input)), variant) in master.variants.iter().zip(&inputs).zip(&published) {
        println!("{}", check_video_attributes(name, inf, input));
        println!("{}", check_bandwidth(inf, variant));
    }
    let averages: Vec<u64> = master
        .variants
        .iter()
        .map(|v| v.number("AVERAGE-BANDWIDTH"))
        .collect();
    let peaks: Vec<u64> = master
        .variants
        .iter()
        .map(|v| v.number("BANDWIDTH"))
        .collect();
    assert!(
        averages.windows(2).all(|w| w[0] < w[1]) && peaks.windows(2).all(|w| w[0] < w[1]),
        "bandwidths must grow low < mid < high: {text}"
    );

    // Alignment: same numbers, same start PTS, every segment independent.
    assert!(published[0].segments.len() >= 9, "{text}");
    let starts = check_alignment(&published);
    println!(
        "{} segments per variant from media sequence {:?}; start PTS {:?}",
        published[0].segments.len(),
        published[0].playlist.media_sequence,
        starts[0]
    );
    for variant in &published {
        assert!(variant.playlist.endlist);
    }

    // A player: the master decodes (every variant), and switching variants at a segment
    // boundary decodes without an error.
    let messages = decode_all_streams(&master_path);
    assert!(messages.is_empty(), "decoding the master:\n{messages}");
    ff::assert_decodes_cleanly(&master_path);
    let n = published[0].segments.len();
    let switches = dir.path().join("switch.ts");
    for (from, to, at) in [(0, 2, 1), (2, 0, n / 2), (1, 2, n - 3), (2, 1, 2)] {
        let sizes = (["640", "960", "1280"][from], ["640", "960", "1280"][to]);
        println!(
            "{}",
            check_switch(
                &published[from].segments[at],
                &published[to].segments[at + 1],
                &switches,
                sizes,
            )
        );
    }

    // The logs.
    assert!(
        logs.lines()
            .any(|l| l.contains("master playlist version") && has_field(l, "master", "stream0001")),
        "{}",
        tail(&logs, 60)
    );
    assert!(
        logs.contains("master playlist published"),
        "{}",
        tail(&logs, 60)
    );
    assert!(
        !logs.contains("variants not aligned"),
        "aligned renditions reported misaligned:\n{}",
        tail(&logs, 60)
    );
    let versions = logs
        .lines()
        .filter(|l| l.contains("master playlist version"))
        .count();
    println!(
        "daemon ran {ran:.1?} (test {:.1?}); {versions} master versions",
        started.elapsed()
    );
}

/// A video variant and an audio-only one (the same clip's audio) under one master; returns
/// the master's text, the published variants and the daemon's logs.
fn run_video_and_audio_only(dir: &Path) -> (String, Vec<Published>, String) {
    let ladder = ladder();
    let out = dir.join("cdn");
    let renditions = [
        Rendition::flat("video", &ladder.mobile),
        Rendition::flat("audio", &ladder.audio),
    ];
    let config = write_config(dir, "audio.toml", &master_config(dir, &renditions, &out));
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let master_path = out.join("master.m3u8");
    let logs = run_until_ended(&config, &playlists, &master_path);
    let published = renditions
        .iter()
        .zip(&playlists)
        .map(|(r, p)| Published::read(r.name, p))
        .collect();
    let text = std::fs::read_to_string(&master_path).unwrap();
    (text, published, logs)
}

#[test]
fn audio_only_rendition_in_a_master() {
    let dir = tempfile::tempdir().unwrap();
    let (text, published, logs) = run_video_and_audio_only(dir.path());
    println!("master.m3u8:\n{text}");
    let master = Master::parse(&text);
    assert!(master.independent_segments, "{text}");
    let uris: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["video.m3u8", "audio.m3u8"], "{text}");
    println!(
        "{}",
        check_video_attributes("video", &master.variants[0], &ladder().mobile)
    );
    let audio = &master.variants[1];
    assert_eq!(audio.codecs(), ["mp4a.40.2"], "{text}");
    assert_eq!(audio.raw("RESOLUTION"), None, "{text}");
    assert_eq!(audio.raw("FRAME-RATE"), None, "{text}");
    for (inf, variant) in master.variants.iter().zip(&published) {
        println!("{}", check_bandwidth(inf, variant));
    }
    assert!(
        audio.number("AVERAGE-BANDWIDTH") < master.variants[0].number("AVERAGE-BANDWIDTH"),
        "{text}"
    );
    let messages = decode_all_streams(&dir.path().join("cdn/master.m3u8"));
    assert!(messages.is_empty(), "decoding the master:\n{messages}");
    // For the record: how the audio-only variant lines up with the video (see the ignored
    // test below).
    for variant in &published {
        println!(
            "{}: {} segments from {:?}, durations {:?}",
            variant.name,
            variant.segments.len(),
            variant.playlist.media_sequence,
            variant.playlist.durations()
        );
    }
    for line in logs.lines().filter(|l| l.contains("variants not aligned")) {
        println!("{line}");
    }
}

/// A player switching between the video variant and the audio-only one at segment N expects
/// the same media time there. The video's keyframes sit 1.42 s past each 2 s cell boundary
/// (ffmpeg's mpegts muxer starts timestamps at 1.4 s), while the audio-only variant cuts at the
/// cell boundaries themselves: one segment more, each starting ~1.4 s before the video's
/// segment of the same number, and the daemon warns `variants not aligned`.
#[test]
#[ignore = "daemon: an audio-only variant cuts on the PTS grid, not where the video variants \
            cut (segment N starts ~1.4 s apart); enable once it follows the video's cuts"]
fn audio_only_rendition_is_aligned_with_the_video() {
    let dir = tempfile::tempdir().unwrap();
    let (text, published, logs) = run_video_and_audio_only(dir.path());
    let numbering = |p: &Published| (p.playlist.media_sequence, p.segments.len());
    assert_eq!(
        numbering(&published[0]),
        numbering(&published[1]),
        "the video and audio-only variants number their segments differently:\n{text}"
    );
    for (n, (video, audio)) in published[0]
        .segments
        .iter()
        .zip(&published[1].segments)
        .enumerate()
    {
        let (video_start, _) = first_packet(video);
        let (audio_start, _) = first_packet(audio);
        assert!(
            (video_start - audio_start).abs() <= FRAME_TICKS,
            "segment {n}: the video starts at {video_start}, the audio-only at {audio_start}"
        );
    }
    assert!(
        !logs.contains("variants not aligned"),
        "{}",
        tail(&logs, 40)
    );
}

#[test]
fn misaligned_renditions_are_reported() {
    let (even, odd) = misaligned_pair();
    let (even_keys, odd_keys) = (keyframe_pts(&even), keyframe_pts(&odd));
    assert_ne!(even_keys[1], odd_keys[1], "{even_keys:?} {odd_keys:?}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cdn");
    let renditions = [Rendition::flat("even", &even), Rendition::flat("odd", &odd)];
    // With the operator server on, the misalignment shows in /status as well.
    let text = master_config(dir.path(), &renditions, &out).replacen(
        "[router]\n",
        "[router]\nlisten = \"127.0.0.1:0\"\n",
        1,
    );
    let config = write_config(dir.path(), "misaligned.toml", &text);
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let mut daemon = Daemon::start(&config);
    let base = daemon.status_url(Duration::from_secs(10));
    wait_for(&mut daemon, "the misalignment", FEED_TIMEOUT, |daemon| {
        daemon.logs().contains("variants not aligned")
    });
    let (status, _, body) = http_get(&format!("{base}status"));
    assert!(status.contains("200"), "{status}");
    let body = String::from_utf8_lossy(&body).into_owned();
    let alerts = &body[body
        .find("\"alerts\"")
        .unwrap_or_else(|| panic!("no alerts: {body}"))..];
    let alerts = &alerts[..alerts.find('}').map_or(alerts.len(), |end| end + 1)];
    assert!(
        alerts.contains("variants not aligned")
            && alerts.contains("even")
            && alerts.contains("odd"),
        "/status does not show the misalignment under alerts:\n{body}"
    );
    println!("/status {alerts}");
    wait_for(&mut daemon, "both playlists to end", FEED_TIMEOUT, |_| {
        playlists.iter().all(|p| ended(p))
    });
    let (status, raw) = daemon.stop(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}\n{raw}");
    let logs = strip_ansi(&raw);
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("variants not aligned"))
        .collect();
    assert!(
        !warnings.is_empty(),
        "no `variants not aligned` warning; logs:\n{}",
        tail(&logs, 80)
    );
    let warning = warnings[0];
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(has_field(warning, "master", "stream0001"), "{warning}");
    assert!(
        (has_field(warning, "variant", "even") && has_field(warning, "other", "odd"))
            || (has_field(warning, "variant", "odd") && has_field(warning, "other", "even")),
        "{warning}"
    );
    assert!(warning.contains(" sequence="), "{warning}");
    println!("{warning}");
}

// ---------------------------------------------------------------------- configs/ladder.toml ---

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn the_shipped_ladder_config_checks_and_graphs() {
    let config = repo_root().join("configs/ladder.toml");
    let config = config.to_str().unwrap();
    let check = crate::common::router::streamrouter(&["check", config]);
    check.assert_success();
    assert!(
        !check.stderr.contains("warning") && !check.stdout.contains("warning"),
        "{}{}",
        check.stdout,
        check.stderr
    );
    assert!(check.stdout.contains("1 masters"), "{}", check.stdout);
    let graph = crate::common::router::streamrouter(&["graph", config]);
    graph.assert_success();
    for node in ["low", "mid", "high", "ladder"] {
        assert!(graph.stdout.contains(node), "{node}:\n{}", graph.stdout);
    }
}

/// `streamrouter run configs/ladder.toml` from the repository root (its `exec` commands name
/// the sample clip relative to it), killed when dropped.
struct ShippedLadder {
    child: Child,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl ShippedLadder {
    fn start() -> Self {
        let mut child = Command::new(BIN)
            .args(["run", "configs/ladder.toml", "--serve", "127.0.0.1:0"])
            .current_dir(repo_root())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start streamrouter run configs/ladder.toml");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        for (pipe, text) in [
            (
                Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Arc::clone(&stderr),
            ),
            (Box::new(child.stdout.take().unwrap()), Arc::clone(&stdout)),
        ] {
            thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    text.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Self {
            child,
            stderr,
            stdout,
        }
    }

    fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait(&mut self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !check() {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "daemon exited while waiting for {what}:\n{}",
                self.logs()
            );
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}:\n{}",
                tail(&self.logs(), 60)
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                thread::sleep(Duration::from_millis(100));
                assert!(status.success(), "exit {status:?}:\n{}", self.logs());
                return self.logs();
            }
            assert!(Instant::now() < deadline, "did not stop:\n{}", self.logs());
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ShippedLadder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_shipped_ladder_config_runs_and_its_master_plays() {
    ff::require_tools();
    // Where the shipped config publishes (like the quickstart test, under the repository's
    // target/); emptied first so that the master seen is this run's.
    let live = repo_root().join("target/ladder/live");
    let _ = std::fs::remove_dir_all(&live);
    let master_path = live.join("ladder.m3u8");
    let mut daemon = ShippedLadder::start();
    let stdout = Arc::clone(&daemon.stdout);
    daemon.wait("the served URL", Duration::from_secs(15), || {
        stdout.lock().unwrap().contains("http://")
    });
    daemon.wait("the master playlist", Duration::from_secs(30), || {
        master_path.is_file()
    });
    let playlists: Vec<PathBuf> = ["low", "mid", "high"]
        .iter()
        .map(|n| live.join(format!("{n}.m3u8")))
        .collect();
    daemon.wait(
        "two segments per rendition",
        Duration::from_secs(30),
        || {
            playlists
                .iter()
                .all(|p| read_if_exists(p).is_some_and(|t| Playlist::parse(&t).entries.len() >= 2))
        },
    );
    // Served over HTTP next to the variants.
    let printed = stdout.lock().unwrap().clone();
    let url = printed
        .lines()
        .find(|l| l.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL printed:\n{printed}"));
    let base = &url[..url.find("/web/").expect("the sink `web` is served") + 5];
    let (status, headers, body) = http_get(&format!("{base}ladder.m3u8"));
    assert!(status.contains("200"), "{status}");
    assert!(
        headers.contains(&(
            "content-type".into(),
            "application/vnd.apple.mpegurl".into()
        )),
        "{headers:?}"
    );
    let served = String::from_utf8(body).unwrap();
    let master = Master::parse(&served);
    let uris: Vec<&str> = master.variants.iter().map(|v| v.uri.as_str()).collect();
    assert_eq!(uris, ["low.m3u8", "mid.m3u8", "high.m3u8"], "{served}");
    println!("ladder.m3u8:\n{served}");
    let sizes: Vec<Option<(u32, u32)>> = master.variants.iter().map(|v| v.resolution()).collect();
    assert_eq!(
        sizes,
        [Some((192, 144)), Some((256, 192)), Some((320, 240))],
        "{served}"
    );
    for variant in &master.variants {
        let codecs = variant.codecs();
        assert!(
            codecs.len() == 2 && codecs[0].starts_with("avc1.64") && codecs[1] == "mp4a.40.2",
            "libx264's default profile is High: {served}"
        );
    }
    let averages: Vec<u64> = master
        .variants
        .iter()
        .map(|v| v.number("AVERAGE-BANDWIDTH"))
        .collect();
    assert!(averages.windows(2).all(|w| w[0] < w[1]), "{served}");

    let logs = daemon.stop();
    assert!(
        !logs.contains("variants not aligned"),
        "{}",
        tail(&logs, 60)
    );
    for playlist in &playlists {
        assert_segment_uris_resolve(playlist);
    }
    let messages = decode_all_streams(&master_path);
    assert!(
        messages.is_empty(),
        "decoding {}:\n{messages}",
        master_path.display()
    );
}

/// The usual layout of a ladder: the master at the top, each variant's playlist and segments in
/// its own directory. URIs in every playlist resolve against that playlist (RFC 8216 §4.1).
#[test]
#[ignore = "daemon bug: a playlist named `low/index.m3u8` lists its segments as `low/seg-N.ts` \
            (their key in the sink, not a URI relative to the playlist), so players fetch \
            low/low/seg-N.ts; run with --ignored once fixed"]
fn variants_in_their_own_directories() {
    let ladder = ladder();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cdn");
    let renditions = [
        Rendition::in_dir("low", &ladder.low),
        Rendition::in_dir("high", &ladder.high),
    ];
    let config = write_config(
        dir.path(),
        "dirs.toml",
        &master_config(dir.path(), &renditions, &out),
    );
    let playlists: Vec<PathBuf> = renditions.iter().map(|r| out.join(&r.playlist)).collect();
    let master_path = out.join("master.m3u8");
    run_until_ended(&config, &playlists, &master_path);
    let text = std::fs::read_to_string(&master_path).unwrap();
    let uris: Vec<String> = Master::parse(&text)
        .variants
        .into_iter()
        .map(|v| v.uri)
        .collect();
    assert_eq!(uris, ["low/index.m3u8", "high/index.m3u8"], "{text}");
    for playlist in &playlists {
        assert_segment_uris_resolve(playlist);
    }
    let messages = decode_all_streams(&master_path);
    assert!(messages.is_empty(), "decoding the master:\n{messages}");
}
