//! Random-access-point detection: reads the start of a video PES and decides whether the first
//! picture in it can start a segment (H.264 IDR, HEVC IRAP, MPEG-1/2 sequence header + I picture).
//!
//! Encoders put access-unit delimiters, parameter sets and SEI before the picture, so the first
//! picture can sit several TS packets into the PES: bytes are fed packet by packet until the
//! first picture is seen. The random_access_indicator flag is not trusted on its own.
//!
//! On the way it fingerprints the parameter sets (H.264 SPS/PPS, HEVC VPS/SPS/PPS) sent in
//! front of the picture, so the segmenter can see a new codec configuration (another
//! resolution, profile…) at the keyframe that brings it.

use std::hash::{DefaultHasher, Hasher};

use super::codec::Codec;

/// The verdict on one PES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No picture seen yet; feed more bytes.
    Undecided,
    /// The first picture is a random access point.
    Keyframe,
    /// The first picture depends on earlier ones (or none was found in time).
    NotKeyframe,
}

/// Bytes of a PES looked at before giving up on finding its first picture.
const MAX_SCAN_BYTES: usize = 256 * 1024;

/// Scans the elementary-stream bytes of one PES at a time.
#[derive(Debug)]
pub struct AccessPointScanner {
    codec: Codec,
    head: Vec<u8>,
    scanned: usize,
    sequence_header_seen: bool,
    decision: Decision,
    /// Where each parameter-set unit seen so far starts in `head` (its header byte).
    parameter_set_starts: Vec<usize>,
    /// Fingerprint of the parameter sets in front of the picture, once decided.
    parameter_sets: Option<u64>,
}

impl AccessPointScanner {
    /// A scanner for a video codec. Audio and other codecs decide `Keyframe` at once: every
    /// PES start is an access point.
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            head: Vec::new(),
            scanned: 0,
            sequence_header_seen: false,
            decision: Decision::Undecided,
            parameter_set_starts: Vec::new(),
            parameter_sets: None,
        }
    }

    /// Starts a new PES.
    pub fn reset(&mut self) {
        self.head.clear();
        self.scanned = 0;
        self.sequence_header_seen = false;
        self.decision = Decision::Undecided;
        self.parameter_set_starts.clear();
        self.parameter_sets = None;
    }

    /// A fingerprint of the parameter sets the current PES carries in front of its first
    /// picture (equal bytes, equal fingerprints); `None` when it carries none or is undecided.
    pub fn parameter_sets(&self) -> Option<u64> {
        self.parameter_sets
    }

    /// The current verdict.
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// Feeds the next elementary-stream bytes of the current PES.
    pub fn push(&mut self, es: &[u8]) -> Decision {
        if self.decision != Decision::Undecided {
            return self.decision;
        }
        if !matches!(
            self.codec,
            Codec::H264 | Codec::Hevc | Codec::Mpeg2Video | Codec::Mpeg1Video
        ) {
            self.decision = Decision::Keyframe;
            return self.decision;
        }
        self.head.extend_from_slice(es);
        self.decision = self.scan();
        if self.decision == Decision::Undecided && self.head.len() > MAX_SCAN_BYTES {
            self.decision = Decision::NotKeyframe;
        }
        self.decision
    }

    /// Gives up on a PES that ended before its first picture was seen.
    pub fn end_of_pes(&mut self) -> Decision {
        if self.decision == Decision::Undecided {
            self.decision = Decision::NotKeyframe;
        }
        self.decision
    }

    fn scan(&mut self) -> Decision {
        let mut i = self.scanned;
        while i + 3 <= self.head.len() {
            let buf = &self.head;
            if buf[i] != 0 || buf[i + 1] != 0 || buf[i + 2] != 1 {
                i += 1;
                continue;
            }
            // Start code at i; the unit header follows at i + 3.
            let Some(verdict) =
                classify_unit(self.codec, &buf[i + 3..], &mut self.sequence_header_seen)
            else {
                // Header bytes not here yet: look at this start code again later.
                self.scanned = i;
                return Decision::Undecided;
            };
            if verdict != Decision::Undecided {
                self.parameter_sets = fingerprint(&self.head, &self.parameter_set_starts, i);
                return verdict;
            }
            if is_parameter_set(self.codec, self.head.get(i + 3).copied())
                && self.parameter_set_starts.last() != Some(&(i + 3))
            {
                self.parameter_set_starts.push(i + 3);
            }
            i += 3;
        }
        // Keep the last bytes: a start code may straddle the next push.
        self.scanned = self.head.len().saturating_sub(2);
        Decision::Undecided
    }
}

/// Whether a unit with this first header byte is a parameter set of `codec`.
fn is_parameter_set(codec: Codec, header: Option<u8>) -> bool {
    match (codec, header) {
        (Codec::H264, Some(byte)) => matches!(byte & 0x1f, 7 | 8),
        (Codec::Hevc, Some(byte)) => matches!((byte >> 1) & 0x3f, 32..=34),
        _ => false,
    }
}

/// Hashes the parameter-set units starting at `starts` in `head`, each up to the next start
/// code (trailing zero bytes dropped), none past `picture` (the picture's start code).
fn fingerprint(head: &[u8], starts: &[usize], picture: usize) -> Option<u64> {
    if starts.is_empty() {
        return None;
    }
    let mut hasher = DefaultHasher::new();
    for &start in starts {
        let rest = head.get(start..picture).unwrap_or_default();
        let end = memchr::memmem::find(rest, &[0, 0, 1]).unwrap_or(rest.len());
        let unit = &rest[..end];
        let unit = &unit[..unit.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)];
        hasher.write_usize(unit.len());
        hasher.write(unit);
    }
    Some(hasher.finish())
}

/// Classifies the unit whose header starts at `unit`. `None` means more bytes are needed.
fn classify_unit(codec: Codec, unit: &[u8], sequence_header_seen: &mut bool) -> Option<Decision> {
    match codec {
        Codec::H264 => {
            let nal_type = unit.first()? & 0x1f;
            Some(match nal_type {
                5 => Decision::Keyframe,
                1..=4 => Decision::NotKeyframe,
                _ => Decision::Undecided,
            })
        }
        Codec::Hevc => {
            let nal_type = (unit.first()? >> 1) & 0x3f;
            Some(match nal_type {
                16..=23 => Decision::Keyframe,
                0..=15 => Decision::NotKeyframe,
                _ => Decision::Undecided,
            })
        }
        Codec::Mpeg2Video | Codec::Mpeg1Video => match *unit.first()? {
            0xb3 => {
                *sequence_header_seen = true;
                Some(Decision::Undecided)
            }
            0x00 => {
                let coding_type = (unit.get(2)? >> 3) & 0x07;
                Some(if coding_type == 1 && *sequence_header_seen {
                    Decision::Keyframe
                } else {
                    Decision::NotKeyframe
                })
            }
            _ => Some(Decision::Undecided),
        },
        _ => Some(Decision::Keyframe),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(codec: Codec, chunks: &[&[u8]]) -> Decision {
        let mut scanner = AccessPointScanner::new(codec);
        let mut decision = Decision::Undecided;
        for chunk in chunks {
            decision = scanner.push(chunk);
        }
        decision
    }

    /// AUD, SPS, PPS, a long SEI, then the picture.
    fn h264_access_unit(picture_nal: u8, sei_len: usize) -> Vec<u8> {
        let mut au = vec![0, 0, 0, 1, 0x09, 0xf0];
        au.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1e]);
        au.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xeb]);
        au.extend_from_slice(&[0, 0, 1, 0x06, 0x05]);
        au.extend((0..sei_len).map(|i| (i % 200) as u8 + 2));
        au.extend_from_slice(&[0, 0, 1, picture_nal, 0x88, 0x84]);
        au
    }

    #[test]
    fn h264_idr_found_behind_a_long_sei_split_over_packets() {
        let au = h264_access_unit(0x65, 2000);
        let chunks: Vec<&[u8]> = au.chunks(184).collect();
        assert_eq!(feed(Codec::H264, &chunks), Decision::Keyframe);
    }

    #[test]
    fn h264_non_idr_slice_is_not_a_keyframe() {
        let au = h264_access_unit(0x41, 700);
        let chunks: Vec<&[u8]> = au.chunks(184).collect();
        assert_eq!(feed(Codec::H264, &chunks), Decision::NotKeyframe);
    }

    #[test]
    fn start_code_split_at_every_position_is_still_found() {
        let au = h264_access_unit(0x65, 10);
        for split in 1..au.len() {
            let (a, b) = au.split_at(split);
            assert_eq!(
                feed(Codec::H264, &[a, b]),
                Decision::Keyframe,
                "split at {split}"
            );
        }
    }

    #[test]
    fn hevc_irap_types() {
        // VPS (32), SPS (33), PPS (34), prefix SEI (39), then the picture.
        let params: &[u8] = &[
            0, 0, 1, 0x40, 1, 0, 0, 1, 0x42, 1, 0, 0, 1, 0x44, 1, 0, 0, 1, 0x4e, 1,
        ];
        for (nal_type, expected) in [
            (19u8, Decision::Keyframe), // IDR_W_RADL
            (21, Decision::Keyframe),   // CRA
            (1, Decision::NotKeyframe), // TRAIL_R
            (0, Decision::NotKeyframe), // TRAIL_N
        ] {
            let mut au = params.to_vec();
            au.extend_from_slice(&[0, 0, 1, nal_type << 1, 1, 0xaf]);
            assert_eq!(feed(Codec::Hevc, &[&au]), expected, "nal type {nal_type}");
        }
    }

    #[test]
    fn mpeg2_needs_sequence_header_and_i_picture() {
        let seq = [0, 0, 1, 0xb3, 0x14, 0x00, 0xf0];
        let gop = [0, 0, 1, 0xb8, 0, 8, 0, 0];
        let i_pic = [0, 0, 1, 0x00, 0x00, 0x0f, 0xff];
        let p_pic = [0, 0, 1, 0x00, 0x00, 0x17, 0xff];
        let with = |parts: &[&[u8]]| parts.concat();
        assert_eq!(
            feed(Codec::Mpeg2Video, &[&with(&[&seq, &gop, &i_pic])]),
            Decision::Keyframe
        );
        assert_eq!(
            feed(Codec::Mpeg2Video, &[&with(&[&gop, &i_pic])]),
            Decision::NotKeyframe
        );
        assert_eq!(
            feed(Codec::Mpeg2Video, &[&with(&[&seq, &p_pic])]),
            Decision::NotKeyframe
        );
    }

    #[test]
    fn audio_is_always_an_access_point() {
        assert_eq!(feed(Codec::Aac, &[&[0xff, 0xf1]]), Decision::Keyframe);
    }

    #[test]
    fn undecided_until_the_pes_ends() {
        let mut scanner = AccessPointScanner::new(Codec::H264);
        assert_eq!(scanner.push(&[0, 0, 1, 0x09, 0xf0]), Decision::Undecided);
        assert_eq!(scanner.end_of_pes(), Decision::NotKeyframe);
        scanner.reset();
        assert_eq!(scanner.push(&[0, 0, 1, 0x65]), Decision::Keyframe);
    }

    fn fingerprint_of(au: &[u8], split: usize) -> Option<u64> {
        let mut scanner = AccessPointScanner::new(Codec::H264);
        let (a, b) = au.split_at(split);
        scanner.push(a);
        assert_eq!(scanner.push(b), Decision::Keyframe);
        scanner.parameter_sets()
    }

    #[test]
    fn parameter_sets_are_fingerprinted_wherever_the_bytes_split() {
        let au = h264_access_unit(0x65, 300);
        let whole = fingerprint_of(&au, au.len() - 1);
        assert!(whole.is_some());
        for split in 1..au.len() {
            assert_eq!(fingerprint_of(&au, split), whole, "split at {split}");
        }
    }

    #[test]
    fn another_sps_or_pps_changes_the_fingerprint_and_sei_does_not() {
        let base = fingerprint_of(&h264_access_unit(0x65, 300), 100);
        // Same parameter sets, longer SEI.
        assert_eq!(fingerprint_of(&h264_access_unit(0x65, 900), 100), base);
        let mut other_sps = h264_access_unit(0x65, 300);
        other_sps[13] = 0x1f; // level_idc
        assert_ne!(fingerprint_of(&other_sps, 100), base);
        let mut other_pps = h264_access_unit(0x65, 300);
        other_pps[19] = 0xea;
        assert_ne!(fingerprint_of(&other_pps, 100), base);
    }

    #[test]
    fn a_keyframe_without_parameter_sets_has_no_fingerprint() {
        let mut scanner = AccessPointScanner::new(Codec::H264);
        assert_eq!(
            scanner.push(&[0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88]),
            Decision::Keyframe
        );
        assert_eq!(scanner.parameter_sets(), None);
    }
}
