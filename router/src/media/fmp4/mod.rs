//! fMP4 / CMAF: remuxes the MPEG-TS segments the segmenter cuts into CMAF fragments
//! (`moof` + `mdat`) and their init segments (`ftyp` + `moov`), for H.264 or HEVC video and
//! AAC, AC-3, E-AC-3 or MPEG-1/2 audio (layers I–III).
//!
//! Owns the remux of one feed, segment by segment ([`Remuxer`]): which tracks there are, when
//! the init segment changes (a new VPS, SPS, PPS or audio configuration gives a new one,
//! numbered `n` as in `NAME-init-{n}.mp4`), and the fragment sequence numbers. The parts:
//! [`demux`] (TS bytes → PES, reusing the `media` modules' framing, PSI, PES code and packet
//! loop), [`video`] (samples and timing of either video codec) with [`avc`] and [`hevc`]
//! (Annex B → samples, parameter sets), [`audio`] (samples and timing of any audio codec) with
//! [`aac`], [`ac3`] and [`mpa`] (frame splitting, configurations), [`timing`] (decode times,
//! durations, composition offsets across segments), [`boxes`] and [`entries`] (the boxes,
//! written by mp4-atom). Pure: bytes in, bytes out, no I/O.
//!
//! Not yet: MPEG-1/2 video (refused), AAC in LATM, E-AC-3 dependent substreams in `dec3`. A
//! segment holds one video configuration (the segmenter cuts where new parameter sets come).

pub mod aac;
pub mod ac3;
pub mod audio;
pub mod avc;
pub mod boxes;
pub mod demux;
pub mod entries;
pub mod hevc;
pub mod mpa;
pub mod timing;
pub mod video;

use boxes::{TrackConfig, TrackRun};
use timing::{AudioClock, VideoClock};

use super::stream_info::StreamInfoError;

/// Why a segment could not be remuxed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fmp4Error {
    /// No TS packet in the bytes.
    #[error("not an MPEG-TS segment")]
    NotTransportStream,
    /// No usable PAT/PMT.
    #[error("no program: {0}")]
    Program(#[source] StreamInfoError),
    /// No stream of the program is one fMP4 carries here, or its video is a codec fMP4 does
    /// not carry here (MPEG-1/2 video: refused rather than remuxed without its picture).
    #[error(
        "no stream to put in fMP4: video must be H.264 or HEVC (not MPEG-1/2 video), audio AAC \
         (ADTS), AC-3, E-AC-3 or MPEG audio; use --format ts"
    )]
    NoSupportedStream,
    /// The streams carried no sample, or no codec configuration.
    #[error("no {0} samples with a codec configuration in the segment")]
    NoSamples(&'static str),
    /// Timestamps before zero on the unwrapped timeline.
    #[error("decode time before zero")]
    NegativeTime,
    /// A fragment past the 32-bit offsets of `trun`.
    #[error("fragment too large")]
    TooLarge,
    /// mp4-atom refused a box.
    #[error("encoding boxes: {0}")]
    Encode(String),
}

impl Fmp4Error {
    /// Whether no later segment of the same input can do better (the codecs are the program's,
    /// not one segment's): the job stops rather than skipping segment after segment.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Fmp4Error::NoSupportedStream)
    }
}

/// One remuxed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remuxed {
    /// A new init segment, to store before any playlist names this fragment: on the first
    /// segment and whenever the codec configuration changed.
    pub init: Option<Vec<u8>>,
    /// The number `n` of the init segment this fragment needs (0 first, +1 per change).
    pub init_index: u64,
    /// `moof` + `mdat`.
    pub fragment: Vec<u8>,
}

impl Remuxed {
    /// Whether the fragment starts a new codec configuration (a new init after the first):
    /// a new timeline, which the playlist marks with EXT-X-DISCONTINUITY.
    pub fn new_configuration(&self) -> bool {
        self.init.is_some() && self.init_index > 0
    }
}

/// The remuxer of one feed: keeps the timelines, the current init and the fragment numbers.
#[derive(Debug, Default)]
pub struct Remuxer {
    video: VideoClock,
    audio: AudioClock,
    init: Option<Vec<TrackConfig>>,
    init_index: u64,
    sequence: u32,
    /// Where the last fragment's tracks end (the later one), 90 kHz, on the feed's timeline.
    end: Option<i64>,
    /// The next segment starts a new timeline after `end` (set by [`Remuxer::continue_after`]).
    resume: bool,
}

impl Remuxer {
    /// A remuxer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Where the feed's timeline ends after the last fragment (90 kHz), for
    /// [`Remuxer::continue_after`] in a remuxer that takes over the feed (after a restart).
    pub fn timeline_end(&self) -> Option<i64> {
        self.end
    }

    /// Makes the next segment start a new timeline at `end` (a previous remuxer's
    /// [`Remuxer::timeline_end`]), as after a discontinuity: the feed's timeline does not go
    /// back across a restart either.
    pub fn continue_after(&mut self, end: i64) {
        self.end = Some(end);
        self.resume = true;
    }

    /// Remuxes one TS segment (PAT/PMT first, starting at a keyframe). `discontinuity` starts
    /// new timelines; `next_video_dts` is the raw first DTS of the next segment, when known (it
    /// gives the last video sample its exact duration).
    pub fn remux(
        &mut self,
        ts: &[u8],
        discontinuity: bool,
        next_video_dts: Option<u64>,
    ) -> Result<Remuxed, Fmp4Error> {
        let demuxed = demux::demux(ts)?;
        if discontinuity || std::mem::take(&mut self.resume) {
            // The new timeline goes on where the last one ended (see `timing`).
            let first = [
                demuxed
                    .video
                    .as_ref()
                    .and_then(|v| v.pes.first())
                    .map(|p| p.dts),
                demuxed
                    .audio
                    .as_ref()
                    .and_then(|a| a.pes.first())
                    .map(|p| p.pts),
            ]
            .into_iter()
            .flatten()
            .filter_map(|raw| i64::try_from(raw).ok())
            .min();
            let shift = self.end.zip(first).map_or(0, |(end, first)| end - first);
            self.video.restart(shift);
            self.audio.restart(shift);
        }
        let previous = self.init.clone().unwrap_or_default();
        let mut configs = Vec::new();
        let mut runs = Vec::new();
        if let Some(stream) = &demuxed.video {
            let old = previous.iter().find(|c| c.is_video());
            let (config, run) = video::track(&mut self.video, stream, old, next_video_dts)?;
            configs.push(config);
            runs.push(run);
        }
        if let Some(stream) = &demuxed.audio {
            let old = previous.iter().find(|c| !c.is_video());
            let (config, run) = audio::track(&mut self.audio, stream, old)?;
            configs.push(config);
            runs.push(run);
        }
        for (index, run) in runs.iter_mut().enumerate() {
            run.track_id = u32::try_from(index + 1).unwrap_or(u32::MAX);
        }
        let init = match &self.init {
            Some(current) if *current == configs => None,
            Some(_) => {
                self.init_index += 1;
                Some(boxes::init_segment(&configs)?)
            }
            None => Some(boxes::init_segment(&configs)?),
        };
        self.end = configs
            .iter()
            .zip(&runs)
            .filter_map(|(config, run)| run_end(run, config.timescale()))
            .max()
            .or(self.end);
        self.init = Some(configs);
        self.sequence = self.sequence.wrapping_add(1);
        Ok(Remuxed {
            init,
            init_index: self.init_index,
            fragment: boxes::fragment(self.sequence, &runs)?,
        })
    }
}

/// Where `run` ends, in 90 kHz ticks (its track runs at `timescale`).
fn run_end(run: &TrackRun, timescale: u32) -> Option<i64> {
    let length: u64 = run.samples.iter().map(|s| u64::from(s.duration)).sum();
    let end = u128::from(run.base_decode_time + length) * 90_000 / u128::from(timescale.max(1));
    i64::try_from(end).ok()
}

#[cfg(test)]
mod tests;
