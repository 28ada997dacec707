//! Stream info measured on the committed test streams (tests/data/README.md). The constants are
//! what ffprobe reports for them (profile, level, size, frame rate); one test asks ffprobe itself.

use super::*;
use crate::media::packet_pid;
use crate::media::pes::parse_pes_start;
use crate::media::timestamp::Unwrapper;

fn test_file(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn analyze_file(name: &str) -> StreamInfo {
    analyze(&test_file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The packets of a file whose PID passes `keep`, as bytes again.
fn filtered(name: &str, keep: impl Fn(u16) -> bool) -> Vec<u8> {
    frame(&test_file(name))
        .iter()
        .filter(|p| keep(packet_pid(p)))
        .flatten()
        .copied()
        .collect()
}

fn stereo_48k(pid: u16, codec: Codec, tag: &str) -> AudioInfo {
    AudioInfo {
        pid,
        codec,
        codecs_tag: tag.to_owned(),
        sample_rate: Some(48_000),
        channels: Some(2),
    }
}

fn video_320x240_25(codec: Codec, tag: &str) -> VideoInfo {
    VideoInfo {
        pid: 256,
        codec,
        codecs_tag: tag.to_owned(),
        width: 320,
        height: 240,
        frame_rate: Some(25.0),
    }
}

#[test]
fn h264_high_level_1_3_with_aac_lc() {
    // ffprobe: h264 High, level 13, 320x240, 25/1; aac LC 48000 Hz stereo.
    let info = analyze_file("h264_aac.ts");
    assert_eq!(
        info,
        StreamInfo {
            video: Some(video_320x240_25(Codec::H264, "avc1.64000d")),
            audio: vec![stereo_48k(257, Codec::Aac, "mp4a.40.2")],
            undescribed: vec![],
        }
    );
    assert_eq!(info.codecs(), "avc1.64000d,mp4a.40.2");
}

#[test]
fn hevc_main_level_2_with_ac3() {
    // ffprobe: hevc Main, level 60 (2.0), 320x240, 25/1; ac3 48000 Hz stereo. The SPS sets
    // compatibility flags 1 and 2 (Main, Main 10) and the progressive and frame-only
    // constraints (0x90).
    let info = analyze_file("hevc_ac3.ts");
    assert_eq!(
        info,
        StreamInfo {
            video: Some(video_320x240_25(Codec::Hevc, "hvc1.1.6.L60.90")),
            audio: vec![stereo_48k(257, Codec::Ac3, "ac-3")],
            undescribed: vec![],
        }
    );
    assert_eq!(info.codecs(), "hvc1.1.6.L60.90,ac-3");
}

#[test]
fn mpeg2_main_profile_with_layer_ii() {
    // ffprobe: mpeg2video Main, 320x240, 25/1; mp2 48000 Hz stereo.
    let info = analyze_file("mpeg2_mp2.ts");
    assert_eq!(
        info,
        StreamInfo {
            video: Some(video_320x240_25(Codec::Mpeg2Video, "mp4v.61")),
            audio: vec![stereo_48k(257, Codec::MpegAudio, "mp4a.40.33")],
            undescribed: vec![],
        }
    );
    assert_eq!(info.codecs(), "mp4v.61,mp4a.40.33");
}

#[test]
fn audio_only_has_no_video() {
    let info = analyze_file("aac_only.ts");
    assert_eq!(info.video, None);
    assert_eq!(info.audio, vec![stereo_48k(256, Codec::Aac, "mp4a.40.2")]);
    assert_eq!(info.codecs(), "mp4a.40.2");
}

/// The expected tag and video fields derived from what ffprobe says of each file.
#[test]
fn agrees_with_ffprobe() {
    for name in ["h264_aac.ts", "hevc_ac3.ts", "mpeg2_mp2.ts", "aac_only.ts"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data")
            .join(name);
        let output = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-of", "json", "-show_entries"])
            .arg("stream=codec_name,profile,level,width,height,r_frame_rate")
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("ffprobe (from ffmpeg) is needed for this test: {e}"));
        assert!(output.status.success(), "ffprobe failed on {name}");
        let probed: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("ffprobe JSON");
        let streams = probed["streams"].as_array().cloned().unwrap_or_default();
        let info = analyze_file(name);
        let mut expected_tags = Vec::new();
        for stream in &streams {
            let field = |k: &str| stream[k].as_str().unwrap_or_default().to_owned();
            let number = |k: &str| stream[k].as_u64().map_or(0, |n| n as u32);
            let tag = match field("codec_name").as_str() {
                "h264" => {
                    let profile = match field("profile").as_str() {
                        "High" => 100,
                        "Main" => 77,
                        other => panic!("{name}: profile {other} not covered"),
                    };
                    let tag = format!("avc1.{profile:02x}00{:02x}", number("level"));
                    Some(tag)
                }
                "hevc" => {
                    let tag = info.video.as_ref().map(|v| v.codecs_tag.clone());
                    let profile = if field("profile") == "Main" { 1 } else { 0 };
                    let prefix = format!("hvc1.{profile}.");
                    let level = format!(".L{}.", number("level"));
                    assert!(
                        tag.as_ref()
                            .is_some_and(|t| t.starts_with(&prefix) && t.contains(&level)),
                        "{name}: {tag:?} vs profile {} level {}",
                        field("profile"),
                        field("level")
                    );
                    tag
                }
                "mpeg2video" => {
                    assert_eq!(field("profile"), "Main", "{name}");
                    Some("mp4v.61".to_owned())
                }
                "aac" => {
                    assert_eq!(field("profile"), "LC", "{name}");
                    Some("mp4a.40.2".to_owned())
                }
                "ac3" => Some("ac-3".to_owned()),
                "mp2" => Some("mp4a.40.33".to_owned()),
                _ => None,
            };
            if number("width") > 0 {
                let video = info.video.as_ref().expect("a video stream");
                assert_eq!(
                    (video.width, video.height),
                    (number("width"), number("height"))
                );
                let rate = field("r_frame_rate");
                let (num, den) = rate.split_once('/').expect("a rate");
                let rate = num.parse::<f64>().unwrap_or(0.0) / den.parse::<f64>().unwrap_or(1.0);
                assert_eq!(video.frame_rate, Some((rate * 1000.0).round() / 1000.0));
            }
            expected_tags.extend(tag);
        }
        assert_eq!(info.codecs(), expected_tags.join(","), "{name}");
    }
}

/// PTS of every PES of one PID, unwrapped, in stream order.
fn video_pts(bytes: &[u8], pid: u16) -> Vec<i64> {
    let mut timeline = Unwrapper::default();
    frame(bytes)
        .iter()
        .filter(|p| packet_pid(p) == pid && p[1] & 0x40 != 0)
        .filter_map(|p| Packet::try_new(&p[..])?.payload())
        .filter_map(|payload| parse_pes_start(payload)?.pts)
        .map(|pts| timeline.unwrap(pts))
        .collect()
}

#[test]
fn frame_rate_from_pts_matches_the_vui_despite_b_frames_and_a_wrap() {
    for name in ["h264_aac.ts", "ptswrap.ts", "hevc_ac3.ts"] {
        let bytes = test_file(name);
        let vui_rate = analyze(&bytes).ok().and_then(|i| i.video?.frame_rate);
        assert_eq!(vui_rate, Some(25.0), "{name}");
        assert_eq!(
            video::frame_rate_from_pts(&video_pts(&bytes, 256)),
            vui_rate,
            "{name}"
        );
    }
}

#[test]
fn damaged_inputs_are_read_as_far_as_they_go() {
    let clean = analyze_file("h264_aac.ts");
    // Junk between packets, 1% packet loss, a cut mid-PES and mid-GOP, a start mid-GOP with the
    // tables only coming later: the same description.
    for name in [
        "garbage.ts",
        "loss.ts",
        "truncated.ts",
        "midgop.ts",
        "ptswrap.ts",
    ] {
        assert_eq!(analyze_file(name), clean, "{name}");
    }
}

#[test]
fn a_stream_missing_from_the_bytes_is_listed_as_undescribed() {
    // No audio packets: video described, audio listed as undescribed.
    let info = analyze(&filtered("h264_aac.ts", |pid| pid != 257)).expect("analysable");
    assert_eq!(info.video, analyze_file("h264_aac.ts").video);
    assert!(info.audio.is_empty());
    assert_eq!(
        info.undescribed
            .iter()
            .map(|s| (s.pid, s.codec))
            .collect::<Vec<_>>(),
        vec![(257, Codec::Aac)]
    );
    assert_eq!(info.codecs(), "avc1.64000d");

    // Only the tables: nothing described, both listed.
    let info =
        analyze(&filtered("hevc_ac3.ts", |pid| pid != 256 && pid != 257)).expect("analysable");
    assert_eq!((&info.video, info.audio.len()), (&None, 0));
    assert_eq!(
        info.undescribed.iter().map(|s| s.codec).collect::<Vec<_>>(),
        vec![Codec::Hevc, Codec::Ac3]
    );
    assert_eq!(info.codecs(), "");
}

#[test]
fn non_ts_input_is_an_error() {
    let not_ts = test_file("not_ts.bin");
    assert_eq!(
        analyze(&not_ts),
        Err(StreamInfoError::NotTransportStream { len: not_ts.len() })
    );
    assert_eq!(
        analyze(&[]),
        Err(StreamInfoError::NotTransportStream { len: 0 })
    );
    assert!(analyze(&[0x47; 100]).is_err());
    // Packets, but no PAT; then a PAT whose PMT never comes.
    assert!(matches!(
        analyze(&filtered("h264_aac.ts", |pid| pid != 0)),
        Err(StreamInfoError::NoPat { .. })
    ));
    assert_eq!(
        analyze(&filtered("h264_aac.ts", |pid| pid == 0)),
        Err(StreamInfoError::NoPmt {
            program_number: 1,
            pid: 0x1000
        })
    );
}

#[test]
fn corrupted_headers_never_panic() {
    // Flip bytes all over the start of each file (tables, parameter sets, audio headers).
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for name in ["h264_aac.ts", "hevc_ac3.ts", "mpeg2_mp2.ts"] {
        let original: Vec<u8> = test_file(name).into_iter().take(40 * 188).collect();
        for _ in 0..150 {
            let mut bytes = original.clone();
            for _ in 0..8 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let at = (seed >> 33) as usize % bytes.len();
                bytes[at] ^= (seed >> 20) as u8 | 1;
            }
            let _ = analyze(&bytes);
        }
    }
}

/// Found by the `stream_info` fuzz target: an HEVC SPS whose scaling list is predicted from a
/// matrix that does not exist made scuffle-h265 index out of bounds (a panic in the master
/// playlist's task). Now the SPS is refused and the video stays undescribed, like any SPS that
/// cannot be read.
#[test]
fn an_hevc_sps_that_panics_its_parser_leaves_the_video_undescribed() {
    let bytes = include_bytes!("testdata/hevc_sps_scaling_list_out_of_range.ts");
    let info = analyze(bytes).unwrap();
    assert_eq!(info.video, None);
    assert!(
        (info.undescribed.iter()).any(|stream| stream.codec == Codec::Hevc),
        "{info:?}"
    );
}
