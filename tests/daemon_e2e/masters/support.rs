//! Configs, runs of the daemon, and the checks the master tests share.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::m3u8::Playlist;
use crate::common::{ff, ts};
use crate::daemon::{Daemon, read_if_exists};

use super::*;

// ------------------------------------------------------------------------------ configs ---

/// One rendition fed as a live feed: a file paced in real time that ends (no loop).
pub(crate) struct Rendition<'a> {
    pub(crate) name: &'a str,
    pub(crate) clip: &'a Path,
    /// Playlist file name in the sink.
    pub(crate) playlist: String,
    /// Segment name pattern.
    pub(crate) segments: String,
}

impl<'a> Rendition<'a> {
    /// Playlist and segments under the directory `name/`.
    pub(crate) fn in_dir(name: &'a str, clip: &'a Path) -> Self {
        Self {
            name,
            clip,
            playlist: format!("{name}/index.m3u8"),
            segments: format!("{name}/seg-{{seq:05}}.ts"),
        }
    }

    /// Playlist and segments next to the master.
    pub(crate) fn flat(name: &'a str, clip: &'a Path) -> Self {
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
pub(crate) fn master_config(dir: &Path, renditions: &[Rendition<'_>], out: &Path) -> String {
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

/// Whether the log line has the field `key=value` (or `key="value"`: tracing quotes string
/// fields recorded without `%`).
pub(crate) fn has_field(line: &str, key: &str, value: &str) -> bool {
    line.contains(&format!(" {key}={value}")) || line.contains(&format!(" {key}=\"{value}\""))
}

/// Waits until `check` holds; fails with the log tail on timeout or if the daemon exits.
pub(crate) fn wait_for(
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

pub(crate) fn ended(path: &Path) -> bool {
    read_if_exists(path).is_some_and(|text| text.contains("#EXT-X-ENDLIST"))
}

/// Runs the daemon on `config` until every playlist in `playlists` has `#EXT-X-ENDLIST` and the
/// master exists, stops it with SIGTERM and returns its logs.
pub(crate) fn run_until_ended(config: &Path, playlists: &[PathBuf], master: &Path) -> String {
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
pub(crate) struct Published {
    pub(crate) name: String,
    pub(crate) playlist: Playlist,
    /// Segment paths, in playlist order.
    pub(crate) segments: Vec<PathBuf>,
}

impl Published {
    pub(crate) fn read(name: &str, path: &Path) -> Self {
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
    pub(crate) fn average_bits_per_second(&self) -> f64 {
        let bytes: u64 = self
            .segments
            .iter()
            .map(|s| std::fs::metadata(s).unwrap().len())
            .sum();
        bytes as f64 * 8.0 / self.playlist.total_duration()
    }

    /// The highest segment bit rate among segments of at least half a second.
    pub(crate) fn peak_bits_per_second(&self) -> f64 {
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
pub(crate) fn assert_segment_uris_resolve(path: &Path) {
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
pub(crate) fn check_video_attributes(name: &str, inf: &StreamInf, input: &Path) -> String {
    let probed = streams(input);
    let video = probed.video.expect("the input has video");
    let audio = probed.audio.expect("the input has audio");
    let (width, height) = (field(&video, "width"), field(&video, "height"));
    assert_eq!(
        inf.resolution(),
        Some((width.parse().unwrap(), height.parse().unwrap())),
        "{name}: RESOLUTION vs ffprobe {width}x{height}"
    );
    let frame_rate = inf
        .frame_rate()
        .unwrap_or_else(|| panic!("{name}: FRAME-RATE missing"));
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
pub(crate) fn check_bandwidth(inf: &StreamInf, published: &Published) -> String {
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
pub(crate) fn check_alignment(variants: &[Published]) -> Vec<Vec<i64>> {
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
pub(crate) fn check_switch(a: &Path, b: &Path, out: &Path, sizes: (&str, &str)) -> String {
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
