//! Master playlists (RFC 8216 §4.3.4): one `#EXT-X-STREAM-INF` per rendition, with attributes
//! measured from the streams, and the rules for when a new version is worth publishing.
//!
//! Pure: the attributes come in measured ([`BitrateMeter`] for the bandwidths, stream analysis
//! for codecs, resolution and frame rate); nothing here reads media or files.

use std::fmt::Write;

/// A bandwidth change smaller than this fraction of the published value does not republish.
const BANDWIDTH_TOLERANCE: f64 = 0.1;

/// One rendition as the master lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariantAttributes {
    /// The variant playlist's URI, relative to the master.
    pub uri: String,
    /// BANDWIDTH: peak segment bit rate, bits per second.
    pub bandwidth: u64,
    /// AVERAGE-BANDWIDTH: bits over seconds of every segment so far.
    pub average_bandwidth: u64,
    /// CODECS (RFC 6381), e.g. `avc1.64001f,mp4a.40.2`; empty when unknown (then omitted).
    pub codecs: String,
    /// RESOLUTION, width × height, for video.
    pub resolution: Option<(u32, u32)>,
    /// FRAME-RATE, for video.
    pub frame_rate: Option<f64>,
    /// Every segment so far starts with a keyframe and PAT/PMT.
    pub independent: bool,
}

/// The master playlist's text. EXT-X-INDEPENDENT-SEGMENTS only when every variant's segments
/// are independent.
pub fn render_master(variants: &[VariantAttributes]) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    if !variants.is_empty() && variants.iter().all(|v| v.independent) {
        text.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for variant in variants {
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={}",
            variant.bandwidth, variant.average_bandwidth
        );
        if !variant.codecs.is_empty() {
            let _ = write!(text, ",CODECS=\"{}\"", variant.codecs);
        }
        if let Some((width, height)) = variant.resolution {
            let _ = write!(text, ",RESOLUTION={width}x{height}");
        }
        if let Some(rate) = variant.frame_rate {
            let _ = write!(text, ",FRAME-RATE={rate:.3}");
        }
        let _ = writeln!(text, "\n{}", variant.uri);
    }
    text
}

/// Whether `new` differs from the published `old` enough to publish again: another rendition
/// set, codecs, resolution, frame rate or independence, or a bandwidth more than 10% away.
pub fn worth_republishing(old: &[VariantAttributes], new: &[VariantAttributes]) -> bool {
    if old.len() != new.len() {
        return true;
    }
    let far = |old: u64, new: u64| {
        (new as f64 - old as f64).abs() > BANDWIDTH_TOLERANCE * (old as f64).max(1.0)
    };
    old.iter().zip(new).any(|(old, new)| {
        old.uri != new.uri
            || old.codecs != new.codecs
            || old.resolution != new.resolution
            || old.frame_rate != new.frame_rate
            || old.independent != new.independent
            || far(old.bandwidth, new.bandwidth)
            || far(old.average_bandwidth, new.average_bandwidth)
    })
}

/// The URI of the object `to` as written in the object `from` (both keys in one store, `/`
/// separated): relative, so the master works wherever the tree is served from.
pub fn relative_uri(from: &str, to: &str) -> String {
    let from_dirs: Vec<&str> = from.split('/').collect();
    let from_dirs = &from_dirs[..from_dirs.len().saturating_sub(1)];
    let to_parts: Vec<&str> = to.split('/').collect();
    let (to_dirs, to_file) = to_parts.split_at(to_parts.len().saturating_sub(1));
    let common = from_dirs
        .iter()
        .zip(to_dirs)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<&str> = vec![".."; from_dirs.len() - common];
    parts.extend(&to_dirs[common..]);
    parts.extend(to_file);
    parts.join("/")
}

/// The default archive master name pattern of a master named `master`: its period's start
/// before the extension, next to it (`show.m3u8` → `show-{start:%Y%m%dT%H%M%SZ}.m3u8`).
pub fn default_archive_name(master: &str) -> String {
    let field = format!("-{{start:{}}}", super::views::DEFAULT_START_FORMAT);
    let file_start = master.rfind('/').map_or(0, |slash| slash + 1);
    match master[file_start..].rfind('.').filter(|dot| *dot > 0) {
        Some(dot) => {
            let (stem, extension) = master.split_at(file_start + dot);
            format!("{stem}{field}{extension}")
        }
        None => format!("{master}{field}"),
    }
}

/// Measures a rendition's bit rates from its segments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BitrateMeter {
    peak: f64,
    bits: f64,
    seconds: f64,
}

impl BitrateMeter {
    /// Counts a segment of `bytes` lasting `seconds`. A segment shorter than half a second
    /// counts for the average only: its rate says little about the stream's peak.
    pub fn add(&mut self, bytes: usize, seconds: f64) {
        if seconds <= 0.0 {
            return;
        }
        let bits = bytes as f64 * 8.0;
        self.bits += bits;
        self.seconds += seconds;
        if seconds >= 0.5 || self.peak == 0.0 {
            self.peak = self.peak.max(bits / seconds);
        }
    }

    /// Peak segment bit rate, bits per second (rounded up).
    pub fn peak(&self) -> u64 {
        self.peak.ceil() as u64
    }

    /// Average bit rate, bits per second (rounded up).
    pub fn average(&self) -> u64 {
        if self.seconds > 0.0 {
            (self.bits / self.seconds).ceil() as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(uri: &str, bandwidth: u64) -> VariantAttributes {
        VariantAttributes {
            uri: uri.into(),
            bandwidth,
            average_bandwidth: bandwidth * 8 / 10,
            codecs: "avc1.64001f,mp4a.40.2".into(),
            resolution: Some((1280, 720)),
            frame_rate: Some(25.0),
            independent: true,
        }
    }

    #[test]
    fn renders_one_stream_inf_per_variant_with_measured_attributes() {
        let mut audio = variant("audio/index.m3u8", 70_000);
        audio.codecs = "mp4a.40.2".into();
        audio.resolution = None;
        audio.frame_rate = None;
        let text = render_master(&[variant("hd/index.m3u8", 2_100_000), audio]);
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2100000,AVERAGE-BANDWIDTH=1680000,\
             CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=25.000\n\
             hd/index.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=70000,AVERAGE-BANDWIDTH=56000,CODECS=\"mp4a.40.2\"\n\
             audio/index.m3u8\n"
        );
    }

    #[test]
    fn independent_segments_only_when_every_variant_is() {
        let mut dependent = variant("b.m3u8", 1);
        dependent.independent = false;
        let text = render_master(&[variant("a.m3u8", 1), dependent]);
        assert!(!text.contains("INDEPENDENT"), "{text}");
    }

    #[test]
    fn republishes_only_on_real_changes() {
        let published = [variant("a.m3u8", 1_000_000)];
        assert!(!worth_republishing(
            &published,
            &[variant("a.m3u8", 1_050_000)]
        ));
        assert!(worth_republishing(
            &published,
            &[variant("a.m3u8", 1_200_000)]
        ));
        let mut resized = variant("a.m3u8", 1_000_000);
        resized.resolution = Some((640, 360));
        assert!(worth_republishing(&published, &[resized]));
        assert!(worth_republishing(&published, &[]));
    }

    #[test]
    fn variant_uris_are_relative_to_the_master() {
        assert_eq!(relative_uri("master.m3u8", "low.m3u8"), "low.m3u8");
        assert_eq!(
            relative_uri("live/master.m3u8", "live/low/index.m3u8"),
            "low/index.m3u8"
        );
        assert_eq!(
            relative_uri("live/master.m3u8", "vod/low.m3u8"),
            "../vod/low.m3u8"
        );
        assert_eq!(relative_uri("a/b/master.m3u8", "a/c.m3u8"), "../c.m3u8");
    }

    #[test]
    fn archive_masters_are_named_next_to_the_master() {
        assert_eq!(
            default_archive_name("show.m3u8"),
            "show-{start:%Y%m%dT%H%M%SZ}.m3u8"
        );
        assert_eq!(
            default_archive_name("live/v1.0/show.m3u8"),
            "live/v1.0/show-{start:%Y%m%dT%H%M%SZ}.m3u8"
        );
        assert_eq!(default_archive_name("show"), "show-{start:%Y%m%dT%H%M%SZ}");
    }

    #[test]
    fn the_meter_keeps_the_peak_and_the_average() {
        let mut meter = BitrateMeter::default();
        meter.add(250_000, 2.0); // 1 Mbit/s
        meter.add(500_000, 2.0); // 2 Mbit/s
        meter.add(100_000, 0.2); // 4 Mbit/s, too short to be a peak
        assert_eq!(meter.peak(), 2_000_000);
        assert_eq!(meter.average(), (850_000.0 * 8.0 / 4.2_f64).ceil() as u64);
    }
}
