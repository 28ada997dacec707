//! Tests of the remuxer on the repository's sample inputs, cut by the real segmenter.

use super::*;
use crate::media::framing::TsFramer;
use crate::segmenter::{Segment, Segmenter, SegmenterConfig};

fn cut(path: &str) -> Vec<Segment> {
    let bytes = std::fs::read(format!(
        "{}/../tests/data/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("test input");
    let mut framer = TsFramer::new();
    let mut segmenter = Segmenter::new(SegmenterConfig::default());
    let mut segments = Vec::new();
    framer.push(&bytes, |p| segmenter.push(p, &mut segments));
    framer.finish(|p| segmenter.push(p, &mut segments));
    segmenter.finish(&mut segments);
    segments
}

#[test]
fn h264_aac_segments_remux_to_moof_mdat_with_one_init() {
    let segments = cut("h264_aac.ts");
    assert!(segments.len() > 1);
    let mut remuxer = Remuxer::new();
    for (i, segment) in segments.iter().enumerate() {
        let out = remuxer
            .remux(&segment.data, segment.discontinuity, None)
            .expect("remux");
        assert_eq!(out.init.is_some(), i == 0, "segment {i}");
        assert_eq!(out.init_index, 0);
        let kinds = boxes::top_level_kinds(&out.fragment);
        assert_eq!(
            kinds,
            vec![
                mp4_atom::FourCC::new(b"moof"),
                mp4_atom::FourCC::new(b"mdat")
            ]
        );
        if let Some(init) = out.init {
            let kinds = boxes::top_level_kinds(&init);
            assert_eq!(
                kinds,
                vec![
                    mp4_atom::FourCC::new(b"ftyp"),
                    mp4_atom::FourCC::new(b"moov")
                ]
            );
        }
    }
}

#[test]
fn aac_only_has_one_audio_track() {
    let segments = cut("aac_only.ts");
    let mut remuxer = Remuxer::new();
    let out = remuxer
        .remux(&segments[0].data, false, None)
        .expect("remux");
    let init = out.init.expect("an init");
    let moov = boxes::init_moov(&init);
    assert_eq!(moov.trak.len(), 1);
    assert_eq!(
        moov.trak[0].mdia.hdlr.handler,
        mp4_atom::FourCC::new(b"soun")
    );
}

#[test]
fn a_changed_parameter_set_gives_a_new_init() {
    let mut remuxer = Remuxer::new();
    let segments = cut("h264_aac.ts");
    remuxer
        .remux(&segments[0].data, false, None)
        .expect("first");
    // Another configuration (audio only) is a new init segment, numbered 1.
    let audio = cut("aac_only.ts");
    let out = remuxer.remux(&audio[0].data, true, None).expect("second");
    assert!(out.init.is_some());
    assert_eq!(out.init_index, 1);
}

#[test]
fn not_ts_is_an_error() {
    assert_eq!(
        Remuxer::new().remux(&[1, 2, 3], false, None),
        Err(Fmp4Error::NotTransportStream)
    );
}

#[test]
fn hevc_ac3_segments_get_hvc1_and_ac3_entries() {
    let segments = cut("hevc_ac3.ts");
    let out = Remuxer::new()
        .remux(&segments[0].data, false, None)
        .expect("remux");
    let init = out.init.expect("an init");
    let moov = boxes::init_moov(&init);
    let entries: Vec<_> = (moov.trak.iter())
        .map(|t| t.mdia.minf.stbl.stsd.codecs[0].clone())
        .collect();
    let mp4_atom::Codec::Hvc1(hvc1) = &entries[0] else {
        panic!("not hvc1: {:?}", entries[0]);
    };
    assert_eq!(hvc1.hvcc.general_profile_idc, 1, "Main profile");
    assert_eq!(
        (hvc1.hvcc.arrays.iter().map(|a| a.nal_unit_type)).collect::<Vec<_>>(),
        vec![32, 33, 34]
    );
    assert_eq!((hvc1.visual.width, hvc1.visual.height), (320, 240));
    assert!(matches!(entries[1], mp4_atom::Codec::Ac3(_)));
}

#[test]
fn mpeg2_video_is_refused() {
    let segments = cut("mpeg2_mp2.ts");
    let error = Remuxer::new()
        .remux(&segments[0].data, false, None)
        .expect_err("MPEG-2 video");
    assert_eq!(error, Fmp4Error::NoSupportedStream);
    assert!(error.to_string().contains("not MPEG-1/2 video"));
    assert!(error.is_fatal());
}

#[test]
fn a_remuxer_taking_over_a_feed_goes_on_after_the_old_ones_timeline() {
    let segments = cut("h264_aac.ts");
    let mut old = Remuxer::new();
    for segment in &segments {
        old.remux(&segment.data, segment.discontinuity, None)
            .expect("remux");
    }
    let end = old.timeline_end().expect("an end");
    // The same input again (a restart: the source's timestamps start over).
    let mut new = Remuxer::new();
    new.continue_after(end);
    let first = new.remux(&segments[0].data, false, None).expect("remux");
    let times = boxes::decode_times(&first.fragment);
    // Video at 90 kHz starts exactly at the end; audio (48 kHz) at the same instant or
    // later, by its own offset from the video in the source (within a frame of audio).
    assert_eq!(times.first().copied(), Some(u64::try_from(end).unwrap()));
    let fresh = boxes::decode_times(
        &Remuxer::new()
            .remux(&segments[0].data, false, None)
            .unwrap()
            .fragment,
    );
    assert!(
        fresh[0] < times[0],
        "the old timeline would go back: {fresh:?} vs {times:?}"
    );
}

#[test]
fn frames_lost_with_a_pes_lengthen_the_sample_before_the_gap() {
    let segments = cut("aac_only.ts");
    let mut stream = demux::demux(&segments[0].data)
        .expect("demux")
        .audio
        .expect("an audio stream");
    assert!(stream.pes.len() > 4, "{} PES", stream.pes.len());
    let frames_in = |pes: &demux::Pes| aac::adts_frames(pes.data()).frames.len();
    let (_, whole) = audio::track(&mut AudioClock::default(), &stream, None).expect("track");
    // Lose the third PES, as a damaged input would.
    let before: usize = stream.pes[..2].iter().map(frames_in).sum();
    let lost = frames_in(&stream.pes.remove(2));
    assert!(lost > 0);
    let (_, gapped) = audio::track(&mut AudioClock::default(), &stream, None).expect("track");

    let total = |run: &TrackRun| {
        run.samples
            .iter()
            .map(|s| u64::from(s.duration))
            .sum::<u64>()
    };
    assert_eq!(gapped.samples.len(), whole.samples.len() - lost);
    // The frames after the gap keep their times: the track lasts as long as before.
    assert_eq!(total(&gapped), total(&whole));
    let frame = aac::SAMPLES_PER_FRAME;
    let durations: Vec<u32> = gapped.samples.iter().map(|s| s.duration).collect();
    assert_eq!(
        durations[before - 1],
        frame * (1 + lost as u32),
        "{durations:?}"
    );
    assert!(
        (durations.iter().enumerate()).all(|(i, &d)| i == before - 1 || d == frame),
        "{durations:?}"
    );
}
