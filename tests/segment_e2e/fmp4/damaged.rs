//! fMP4 of the damaged inputs of tests/data, judged against the TS output of the same input
//! (which the `damaged` tests prove against the source): the same decoded frames, and every
//! fragment read after its init starts with a key frame and decodes cleanly.
//!
//! loss.ts is the exception, documented in docs/fmp4.md: its decoded frames depend on how the
//! demuxer splits the damaged bytes into access units, which ffmpeg's TS demuxer does with its
//! own parsers and the fMP4 samples cannot reproduce; the counts are checked instead.

use super::*;

/// The fMP4 and TS outputs of one input.
fn both(file: &str) -> (Output, Output) {
    let fmp4 = segment_fmp4(file);
    let ts = segment_with(&router::data(file), &["--format", "ts"], "index.m3u8");
    (fmp4, ts)
}

/// What ffmpeg prints decoding `path`, without the addresses of its contexts.
fn decode_messages(path: &Path) -> Vec<String> {
    let messages = ff::decode(path).unwrap_or_else(|e| panic!("decoding {}: {e}", path.display()));
    messages
        .lines()
        .map(|line| match line.split_once(" @ 0x") {
            Some((head, tail)) => format!("{head}{}", tail.split_once(']').map_or("", |t| t.1)),
            None => line.to_owned(),
        })
        .collect()
}

/// Every fragment, after its init, starts with a key frame; it decodes cleanly when `clean`
/// (loss.ts's damaged pictures make the decoder complain, in the TS segments too).
fn fragments_start_with_key_frames(file: &str, out: &Output, clean: bool) {
    let init = first_map(out);
    for segment in out.segments() {
        let alone = joined(out, &init, &segment);
        assert_eq!(
            presentation(&alone, "v").first().map(|f| f.1.as_str()),
            Some("1"),
            "{file}: first frame of {} is not a key frame",
            segment.display()
        );
        if clean {
            ff::assert_decodes_cleanly(&alone);
        } else {
            ff::decode(&alone).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
    }
}

fn check_same_as_ts(file: &str) {
    let (fmp4, ts) = both(file);
    // What ffmpeg says of the fMP4 playlist: nothing it does not say of the TS one (concat.ts:
    // its HLS demuxer complains of audio decode times going back at the discontinuity of the
    // TS playlist; the fMP4 timeline goes on across it, so there it has nothing to say).
    let (fmp4_messages, ts_messages) = (
        decode_messages(&fmp4.playlist_path),
        decode_messages(&ts.playlist_path),
    );
    assert!(
        fmp4_messages.iter().all(|m| ts_messages.contains(m)),
        "{file}: ffmpeg's messages on the fMP4 playlist {fmp4_messages:?} vs the TS playlist \
         {ts_messages:?}"
    );
    for kind in ["v", "a"] {
        assert_eq!(
            frame_hashes(&fmp4.playlist_path, kind),
            frame_hashes(&ts.playlist_path, kind),
            "{file}: decoded {kind} frames of the fMP4 playlist vs the TS playlist"
        );
    }
    fragments_start_with_key_frames(file, &fmp4, true);
}

#[test]
fn garbage_gives_the_frames_of_the_ts_output() {
    check_same_as_ts("garbage.ts");
}

#[test]
fn truncated_gives_the_frames_of_the_ts_output() {
    check_same_as_ts("truncated.ts");
}

#[test]
fn concat_gives_the_frames_of_the_ts_output() {
    check_same_as_ts("concat.ts");
}

#[test]
fn midgop_gives_the_frames_of_the_ts_output() {
    check_same_as_ts("midgop.ts");
}

#[test]
fn loss_gives_as_many_frames_as_the_ts_output() {
    let (fmp4, ts) = both("loss.ts");
    let video = (
        frame_hashes(&fmp4.playlist_path, "v"),
        frame_hashes(&ts.playlist_path, "v"),
    );
    assert_eq!(video.0.len(), video.1.len(), "loss.ts: video frame count");
    let audio = (
        frame_hashes(&fmp4.playlist_path, "a"),
        frame_hashes(&ts.playlist_path, "a"),
    );
    // Audio: within one frame in a hundred (an ADTS frame cut at the end of a PES is dropped
    // here, where ffmpeg's parser runs it into the next PES).
    assert!(
        audio.0.len().abs_diff(audio.1.len()) * 100 <= audio.1.len(),
        "loss.ts: audio frame count {} vs {}",
        audio.0.len(),
        audio.1.len()
    );
    // The GOPs the loss did not reach decode to the same pictures (110 of 295 frames when
    // this was written; docs/fmp4.md): a guard against losing more.
    let same = video.0.iter().zip(&video.1).filter(|(a, b)| a == b).count();
    assert!(
        same * 3 >= video.1.len(),
        "loss.ts: only {same} of {} video frames equal",
        video.1.len()
    );
    fragments_start_with_key_frames("loss.ts", &fmp4, false);
}
