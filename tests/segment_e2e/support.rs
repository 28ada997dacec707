//! Shared helpers of the segment end-to-end tests: running the binary, common checks.

pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use crate::common::ff::{self, CLOCK_HZ};
pub(crate) use crate::common::m3u8::Playlist;
pub(crate) use crate::common::router::{self, Run};
pub(crate) use crate::common::ts;
pub(crate) use tempfile::TempDir;

/// `--target-duration` of the main checks.
pub(crate) const TARGET: f64 = 4.0;
/// How far the sum of EXTINF may be from the media duration of the input.
pub(crate) const DURATION_TOLERANCE: f64 = 0.050;
/// EXTINF values are written with millisecond precision.
pub(crate) const EXTINF_PRECISION: f64 = 0.0005;

// ------------------------------------------------------------------------------------------
// Running the segmenter

/// One finished `streamrouter segment` run and what it wrote.
pub(crate) struct Output {
    pub(crate) dir: TempDir,
    pub(crate) playlist_path: PathBuf,
    pub(crate) playlist: Playlist,
}

impl Output {
    /// The segment files in playlist order.
    pub(crate) fn segments(&self) -> Vec<PathBuf> {
        self.playlist
            .uris()
            .into_iter()
            .map(|uri| self.dir.path().join(uri))
            .collect()
    }

    /// All segments' bytes, concatenated in playlist order.
    pub(crate) fn concatenated(&self) -> Vec<u8> {
        self.segments()
            .iter()
            .flat_map(|p| router::read(p))
            .collect()
    }
}

/// Segments `input` into a fresh directory with `extra` options; asserts the run succeeded, the
/// playlist (`playlist_name`) exists, every listed segment exists and no temporary file is left.
pub(crate) fn segment_with(input: &Path, extra: &[&str], playlist_name: &str) -> Output {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment(input, dir.path(), extra);
    run.assert_success();
    finish_output(dir, &run, playlist_name)
}

pub(crate) fn finish_output(dir: TempDir, run: &Run, playlist_name: &str) -> Output {
    let playlist_path = dir.path().join(playlist_name);
    assert!(
        playlist_path.is_file(),
        "`{}` wrote no {playlist_name}; directory holds {:?}",
        run.command,
        router::dir_names(dir.path())
    );
    let playlist = Playlist::parse(&router::read_text(&playlist_path));
    for uri in playlist.uris() {
        assert!(
            dir.path().join(uri).is_file(),
            "playlist lists {uri} but it is not in {:?}",
            router::dir_names(dir.path())
        );
    }
    router::assert_no_temp_files(dir.path());
    Output {
        dir,
        playlist_path,
        playlist,
    }
}

/// `--target-duration 4` on a test input.
pub(crate) fn segment_4s(file: &str) -> Output {
    segment_with(
        &router::data(file),
        &["--target-duration", "4"],
        "index.m3u8",
    )
}

// ------------------------------------------------------------------------------------------
// Checks shared by several tests

/// Asserts that a segment starts with a PAT packet, then a PMT packet of the program that PAT
/// names, then the start of a PES packet of the main stream (first video stream, else first
/// stream); returns the PMT's streams.
pub(crate) fn assert_starts_with_tables(segment: &Path) -> Vec<ts::PmtStream> {
    let bytes = router::read(segment);
    let packets = ts::packets(&bytes);
    let name = segment.display();
    assert!(packets.len() >= 3, "{name}: only {} packets", packets.len());
    let pat = packets[0];
    assert_eq!(
        (pat.pid(), pat.table_id()),
        (ts::PAT_PID, Some(0x00)),
        "{name}: first packet is not a PAT (pid 0, table_id 0x00)"
    );
    let pmt_pids = ts::pat_pmt_pids(pat.section().expect("PAT section"));
    assert_eq!(pmt_pids.len(), 1, "{name}: PAT lists programs {pmt_pids:?}");
    let pmt = packets[1];
    assert_eq!(
        (pmt.pid(), pmt.table_id()),
        (pmt_pids[0], Some(0x02)),
        "{name}: second packet is not the PMT (pid {:#x}, table_id 0x02)",
        pmt_pids[0]
    );
    let streams = ts::pmt_streams(pmt.section().expect("PMT section"));
    let main = ts::main_stream(&streams).unwrap_or_else(|| panic!("{name}: PMT lists no stream"));
    let first = packets[2];
    assert!(
        first.pid() == main.pid && first.starts_pes(),
        "{name}: third packet (pid {:#x}) does not start a PES packet of the main stream {main:?}",
        first.pid()
    );
    streams
}

/// Asserts that the first frame ffprobe decodes from a segment alone is a keyframe.
pub(crate) fn assert_first_frame_is_key(segment: &Path) {
    let frames = ff::video_frames(segment);
    let first = frames
        .first()
        .unwrap_or_else(|| panic!("{}: no video frame decoded", segment.display()));
    assert!(
        first.key_frame,
        "{}: first decoded video frame is not a keyframe (pict_type {})",
        segment.display(),
        first.pict_type
    );
}

/// Asserts `got` is exactly `want`, by packet content (size and MD5), with a short message.
pub(crate) fn assert_same_packets(what: &str, got: &[ff::Packet], want: &[ff::Packet]) {
    let differ = got
        .iter()
        .zip(want)
        .position(|(g, w)| g.content() != w.content());
    assert!(
        got.len() == want.len() && differ.is_none(),
        "{what}: {} packets, expected {}; first difference at packet {differ:?}",
        got.len(),
        want.len()
    );
}

/// Difference `a - b` of two raw 33-bit timestamps, taken as the shortest way round.
pub(crate) fn ticks_between(a: i64, b: i64) -> i64 {
    (a - b + ff::PTS_MODULUS / 2).rem_euclid(ff::PTS_MODULUS) - ff::PTS_MODULUS / 2
}
