//! Segmenter tests on synthetic streams: PAT/PMT, an H.264 video PID and an AAC audio PID,
//! built packet by packet so every boundary case can be placed exactly.

use super::*;
use crate::media::PACKET_SIZE;
use crate::media::keyframe::AccessPointScanner;
use crate::media::pes::parse_pes_start;
use crate::media::pes::tests::pes_header;
use crate::media::psi::tests::{pat_section, pmt_section};

const PMT_PID: u16 = 0x1000;
const VIDEO: u16 = 0x100;
const AUDIO: u16 = 0x101;
const FRAME: i64 = 3600; // 25 fps in 90 kHz ticks
const START: u64 = 126_000; // 1.4 s, where ffmpeg starts

/// Builds a TS packet stream with correct continuity counters.
struct StreamBuilder {
    bytes: Vec<u8>,
    counters: HashMap<u16, u8>,
}

use std::collections::HashMap;

impl StreamBuilder {
    fn new() -> Self {
        Self {
            bytes: Vec::new(),
            counters: HashMap::new(),
        }
    }

    fn packet(&mut self, pid: u16, unit_start: bool, payload: &[u8]) {
        assert!(payload.len() <= 184);
        let counter = self.counters.entry(pid).or_insert(0);
        let mut p = [0xffu8; PACKET_SIZE];
        p[0] = 0x47;
        p[1] = if unit_start { 0x40 } else { 0 } | (pid >> 8) as u8;
        p[2] = pid as u8;
        let start = if payload.len() == 184 {
            p[3] = 0x10 | *counter;
            4
        } else {
            // Adaptation field stuffing in front of a short payload.
            p[3] = 0x30 | *counter;
            p[4] = (183 - payload.len()) as u8;
            if p[4] > 0 {
                p[5] = 0;
            }
            PACKET_SIZE - payload.len()
        };
        p[start..].copy_from_slice(payload);
        *counter = (*counter + 1) & 0x0f;
        self.bytes.extend_from_slice(&p);
    }

    fn tables(&mut self) {
        self.tables_with_version(0);
    }

    fn tables_with_version(&mut self, version: u8) {
        let mut pat = vec![0];
        pat.extend(pat_section(version, 1, PMT_PID));
        self.packet(0, true, &pat);
        let mut pmt = vec![0];
        pmt.extend(pmt_section(version, VIDEO, &[(0x1b, VIDEO), (0x0f, AUDIO)]));
        self.packet(PMT_PID, true, &pmt);
    }

    /// A video access unit: AUD, SPS, a 500-byte SEI, then an IDR or non-IDR slice, so the
    /// picture sits in the third or fourth packet of the PES.
    fn video(&mut self, pts: u64, keyframe: bool) {
        let mut es = vec![0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0, 0x1e];
        es.extend_from_slice(&[0, 0, 1, 0x06, 0x05]);
        es.extend((0..500).map(|i| (i % 250) as u8 + 2));
        es.extend_from_slice(&[0, 0, 1, if keyframe { 0x65 } else { 0x41 }, 0x88]);
        es.extend((0..200).map(|i| (i % 250) as u8 + 2));
        let pes = pes_header(
            pts % (1 << 33),
            Some(pts.wrapping_sub(FRAME as u64) % (1 << 33)),
            &es,
        );
        self.pes(VIDEO, &pes);
    }

    /// An audio PES of 300 bytes of payload (two packets), with its length declared.
    fn audio(&mut self, pts: u64) {
        let mut pes = pes_header(pts % (1 << 33), None, &[0xaa; 300]);
        pes[3] = 0xc0;
        let len = (pes.len() - 6) as u16;
        pes[4..6].copy_from_slice(&len.to_be_bytes());
        self.pes(AUDIO, &pes);
    }

    fn pes(&mut self, pid: u16, pes: &[u8]) {
        for (i, chunk) in pes.chunks(184).enumerate() {
            self.packet(pid, i == 0, chunk);
        }
    }

    /// `frames` video frames from `start`, keyframes where `is_key(frame)`, one audio PES per
    /// frame, tables every 10 frames.
    fn gops(&mut self, start: u64, frames: u64, is_key: impl Fn(u64) -> bool) {
        for n in 0..frames {
            if n % 10 == 0 {
                self.tables();
            }
            let pts = start + n * FRAME as u64;
            self.video(pts, is_key(n));
            self.audio(pts);
        }
    }
}

fn segment_all(bytes: &[u8], config: SegmenterConfig) -> (Vec<Segment>, SegmenterStats) {
    let mut segmenter = Segmenter::new(config);
    let mut out = Vec::new();
    for packet in bytes.chunks(PACKET_SIZE) {
        let packet = <&TsPacket>::try_from(packet).expect("whole packets");
        segmenter.push(packet, &mut out);
    }
    segmenter.finish(&mut out);
    (out, segmenter.stats().clone())
}

fn config(target: f64) -> SegmenterConfig {
    SegmenterConfig {
        target_duration: target,
        ..SegmenterConfig::default()
    }
}

fn packets(segment: &Segment) -> Vec<&TsPacket> {
    segment
        .data
        .chunks(PACKET_SIZE)
        .map(|p| <&TsPacket>::try_from(p).expect("whole packets"))
        .collect()
}

fn durations(segments: &[Segment]) -> Vec<f64> {
    segments.iter().map(Segment::duration).collect()
}

fn assert_independent(segment: &Segment) {
    let packets = packets(segment);
    assert_eq!(packet_pid(packets[0]), 0, "PAT first");
    assert_eq!(packet_pid(packets[1]), PMT_PID, "PMT second");
    let first_video = packets
        .iter()
        .position(|p| packet_pid(p) == VIDEO)
        .expect("video");
    assert_eq!(first_video, 2, "video right after the tables");
    let mut scanner = AccessPointScanner::new(Codec::H264);
    let mut decision = Decision::Undecided;
    for p in packets.iter().filter(|p| packet_pid(p) == VIDEO) {
        let payload = state::packet_payload(p).expect("payload");
        let es = if p[1] & 0x40 != 0 {
            parse_pes_start(payload).expect("pes").payload
        } else {
            payload
        };
        decision = scanner.push(es);
        if decision != Decision::Undecided {
            break;
        }
    }
    assert_eq!(decision, Decision::Keyframe, "starts with a keyframe");
}

#[test]
fn cuts_at_the_first_keyframe_at_or_after_the_target() {
    let mut stream = StreamBuilder::new();
    // Keyframes every second; target 2.5 s → cuts at 3 s and 6 s.
    stream.gops(START, 200, |n| n % 25 == 0);
    let (segments, stats) = segment_all(&stream.bytes, config(2.5));
    assert_eq!(durations(&segments)[..2], [3.0, 3.0]);
    assert_eq!(segments.len(), 3);
    assert!((segments[2].duration() - 2.0).abs() < 1e-9);
    assert_eq!(segments[1].start_pts - segments[0].start_pts, 3 * 90_000);
    segments.iter().for_each(assert_independent);
    assert_eq!(stats.continuity_errors, 0);
    assert!(segments.iter().all(|s| !s.discontinuity && s.independent));
}

#[test]
fn irregular_keyframes_cut_as_soon_as_the_target_is_reached() {
    let mut stream = StreamBuilder::new();
    let keys = [0, 30, 110, 120, 220];
    stream.gops(START, 250, |n| keys.contains(&n));
    let (segments, _) = segment_all(&stream.bytes, config(4.0));
    // Keyframes at 0, 1.2, 4.4, 4.8, 8.8 s → segments [0, 4.4), [4.4, 8.8), [8.8, 10).
    assert_eq!(durations(&segments), vec![4.4, 4.4, 1.2]);
}

#[test]
fn nothing_before_the_first_keyframe_is_published() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 100, |n| n % 25 == 13);
    let (segments, stats) = segment_all(&stream.bytes, config(2.0));
    assert_eq!(segments[0].start_pts, START as i64 + 13 * FRAME);
    assert!(stats.packets_before_keyframe > 0);
    segments.iter().for_each(assert_independent);
    let total: f64 = durations(&segments).iter().sum();
    assert!((total - 87.0 * 0.04).abs() < 1e-9, "{total}");
}

#[test]
fn timestamp_jump_starts_a_discontinuity() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 75, |n| n % 25 == 0);
    stream.gops(90_000_000, 75, |n| n % 25 == 0);
    let (segments, stats) = segment_all(&stream.bytes, config(2.0));
    assert_eq!(stats.discontinuities, 1);
    let flags: Vec<bool> = segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, vec![false, false, true, false]);
    // The segment before the jump ends at its measured end, not at the next stream's start.
    assert_eq!(durations(&segments), vec![2.0, 1.0, 2.0, 1.0]);
    segments.iter().for_each(assert_independent);
}

#[test]
fn durations_survive_the_33_bit_wrap() {
    let mut stream = StreamBuilder::new();
    let start = (1u64 << 33) - 3 * 90_000 - 1800;
    stream.gops(start, 200, |n| n % 50 == 0);
    let (segments, stats) = segment_all(&stream.bytes, config(2.0));
    assert_eq!(stats.discontinuities, 0);
    assert_eq!(durations(&segments), vec![2.0, 2.0, 2.0, 2.0]);
}

#[test]
fn audio_pes_begun_before_a_cut_ends_in_the_segment_it_began_in() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 50, |n| n % 25 == 0);
    // An audio PES whose first packet comes before the keyframe and whose second comes after.
    let pts = START + 50 * FRAME as u64;
    let mut audio = StreamBuilder::new();
    audio.counters = stream.counters.clone();
    audio.audio(pts);
    let audio_packets: Vec<u8> = audio.bytes.clone();
    stream.counters = audio.counters.clone();
    stream
        .bytes
        .extend_from_slice(&audio_packets[..PACKET_SIZE]);
    stream.video(pts, true);
    stream
        .bytes
        .extend_from_slice(&audio_packets[PACKET_SIZE..]);
    stream.gops(pts + FRAME as u64, 30, |_| false);
    let (segments, _) = segment_all(&stream.bytes, config(2.0));
    assert_eq!(segments.len(), 2);
    for segment in &segments {
        let first = packets(segment)
            .into_iter()
            .find(|p| packet_pid(p) == AUDIO)
            .expect("audio in every segment");
        assert_eq!(first[1] & 0x40, 0x40, "segment audio starts at a PES start");
    }
    let last_of_first = packets(&segments[0])
        .into_iter()
        .rfind(|p| packet_pid(p) == AUDIO)
        .expect("audio");
    assert_eq!(
        last_of_first,
        <&TsPacket>::try_from(&audio_packets[PACKET_SIZE..]).expect("packet")
    );
}

#[test]
fn continuity_counters_run_on_across_segments() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 150, |n| n % 25 == 0);
    let (segments, _) = segment_all(&stream.bytes, config(1.0));
    assert!(segments.len() >= 5);
    let mut last: HashMap<u16, u8> = HashMap::new();
    for segment in &segments {
        for p in packets(segment) {
            let pid = packet_pid(p);
            let counter = packet_continuity_counter(p);
            if let Some(previous) = last.insert(pid, counter) {
                assert_eq!(counter, (previous + 1) & 0x0f, "pid {pid:#x}");
            }
        }
    }
}

#[test]
fn raw_cut_is_the_input_split_at_keyframe_packets() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 100, |n| n % 25 == 5);
    let raw = SegmenterConfig {
        repeat_headers: false,
        ..config(1.0)
    };
    let (segments, _) = segment_all(&stream.bytes, raw);
    let joined: Vec<u8> = segments.iter().flat_map(|s| s.data.clone()).collect();
    assert!(stream.bytes.ends_with(&joined));
    for segment in &segments {
        assert!(!segment.independent);
        assert_eq!(
            packet_pid(packets(segment)[0]),
            VIDEO,
            "starts at the keyframe packet"
        );
    }
}

#[test]
fn pmt_version_change_starts_a_discontinuity() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 50, |n| n % 25 == 0);
    stream.tables_with_version(1);
    let next = START + 50 * FRAME as u64;
    for n in 0..50 {
        let pts = next + n * FRAME as u64;
        stream.video(pts, n % 25 == 0);
        stream.audio(pts);
    }
    let (segments, stats) = segment_all(&stream.bytes, config(2.0));
    assert!(stats.discontinuities >= 1);
    let flags: Vec<bool> = segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, vec![false, true]);
}

#[test]
fn lost_and_duplicated_packets_are_counted_not_fatal() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 100, |n| n % 25 == 0);
    let mut damaged: Vec<u8> = Vec::new();
    for (i, p) in stream.bytes.chunks(PACKET_SIZE).enumerate() {
        if i % 97 == 50 {
            continue; // lost
        }
        damaged.extend_from_slice(p);
        if i % 101 == 7 {
            damaged.extend_from_slice(p); // legal duplicate
        }
    }
    let (segments, stats) = segment_all(&damaged, config(1.0));
    assert!(stats.continuity_errors > 0);
    assert!(stats.duplicate_packets > 0);
    assert_eq!(segments.len(), 4);
}

#[test]
fn a_packet_repeating_only_its_counter_is_damage_not_a_duplicate() {
    let mut stream = StreamBuilder::new();
    stream.gops(START, 30, |n| n % 25 == 0);
    let mut bytes = stream.bytes.clone();
    // Find a video continuation packet and give the next video packet the same counter.
    let packets: Vec<usize> = (0..bytes.len() / PACKET_SIZE)
        .filter(|&i| {
            let p = <&TsPacket>::try_from(&bytes[i * PACKET_SIZE..(i + 1) * PACKET_SIZE])
                .expect("packet");
            packet_pid(p) == VIDEO
        })
        .collect();
    let (first, second) = (packets[40], packets[41]);
    let counter = bytes[first * PACKET_SIZE + 3] & 0x0f;
    bytes[second * PACKET_SIZE + 3] = (bytes[second * PACKET_SIZE + 3] & 0xf0) | counter;
    let raw = SegmenterConfig {
        repeat_headers: false,
        ..config(10.0)
    };
    let (segments, stats) = segment_all(&bytes, raw);
    assert_eq!(stats.duplicate_packets, 0);
    assert!(stats.continuity_errors >= 1);
    let joined: Vec<u8> = segments.iter().flat_map(|s| s.data.clone()).collect();
    assert!(bytes.ends_with(&joined), "nothing dropped");
}

#[test]
fn a_restarted_input_continues_with_a_discontinuity() {
    let mut first = StreamBuilder::new();
    first.gops(START, 60, |n| n % 25 == 0);
    // The same encoder restarted: counters and timestamps start over.
    let mut second = StreamBuilder::new();
    second.gops(START, 60, |n| n % 25 == 0);
    let mut segmenter = Segmenter::new(config(2.0));
    let mut out = Vec::new();
    for packet in first.bytes.chunks(PACKET_SIZE) {
        segmenter.push(<&TsPacket>::try_from(packet).expect("packet"), &mut out);
    }
    segmenter.restart_input(&mut out);
    for packet in second.bytes.chunks(PACKET_SIZE) {
        segmenter.push(<&TsPacket>::try_from(packet).expect("packet"), &mut out);
    }
    segmenter.finish(&mut out);
    let flags: Vec<bool> = out.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, vec![false, false, true, false]);
    assert_eq!(durations(&out), vec![2.0, 0.4, 2.0, 0.4]);
    assert_eq!(segmenter.stats().continuity_errors, 0);
    out.iter().for_each(assert_independent);
}

/// Two renditions of one program, joined 3 s apart, keyframes every second: cut on the PTS grid
/// they are cut at the same PTS from the first common cell on, whenever each started.
#[test]
fn aligned_cuts_follow_the_pts_grid_whichever_keyframe_a_rendition_started_at() {
    let aligned = SegmenterConfig {
        grid: Some(GridPhase::default()),
        ..config(2.0)
    };
    let starts = |offset_frames: u64| {
        let mut stream = StreamBuilder::new();
        let first = START + offset_frames * FRAME as u64;
        stream.gops(first, 300 - offset_frames, |n| {
            (n + offset_frames).is_multiple_of(25)
        });
        let (segments, _) = segment_all(&stream.bytes, aligned.clone());
        segments.iter().map(|s| s.start_pts).collect::<Vec<_>>()
    };
    let early = starts(0);
    let late = starts(75);
    let grid = 2 * 90_000;
    // Every cut after the first segment is at the first keyframe of a new 2 s cell of the
    // grid, whose phase is where the first keyframe fell.
    for pts in early.iter().skip(1).chain(late.iter().skip(1)) {
        let from_phase = (*pts - START as i64).rem_euclid(grid);
        assert!(from_phase < 90_000, "{pts} is not early in its cell");
    }
    let common: Vec<_> = late.iter().skip(1).copied().collect();
    assert!(common.len() >= 4, "{late:?}");
    assert!(
        common.iter().all(|pts| early.contains(pts)),
        "early {early:?}\nlate {late:?}"
    );
    // The ordinary rule cuts the late rendition 1 s off the grid.
    let (unaligned, _) = {
        let mut stream = StreamBuilder::new();
        stream.gops(START + 75 * FRAME as u64, 225, |n| (n + 75) % 25 == 0);
        segment_all(&stream.bytes, config(2.0))
    };
    let late_unaligned: Vec<_> = unaligned.iter().map(|s| s.start_pts).collect();
    assert!(
        late_unaligned
            .iter()
            .skip(1)
            .any(|pts| !early.contains(pts)),
        "{late_unaligned:?}"
    );
}
