//! Audio track of a fragment: the PES packets of the AAC, AC-3, E-AC-3 or MPEG audio stream →
//! samples, their durations and the sample entry's configuration.
//!
//! Owns what the codecs share: the configuration comes from the segment's first frame header
//! (the previous one of the same codec stays when no frame parses); every sample lasts the
//! codec's frame length; the base decode time comes from [`super::timing::AudioClock`]. When a
//! PES starts a frame or more after where the samples before it end (frames lost with damaged
//! packets), the sample before the gap is lengthened to cover it, so that every later frame
//! keeps its presentation time. Frame splitting is [`super::aac`]'s, [`super::ac3`]'s and
//! [`super::mpa`]'s.

use super::super::codec::Codec;
use super::super::timestamp::pts_delta;
use super::boxes::{SampleData, SampleInfo, TrackConfig, TrackRun};
use super::demux::StreamPes;
use super::timing::AudioClock;
use super::{Fmp4Error, aac, ac3, mpa};

/// The samples of one PES payload, and the configuration of its first frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// The samples' bytes.
    pub frames: Vec<Vec<u8>>,
    /// Configuration of the first frame.
    pub config: Option<TrackConfig>,
}

/// The whole frames in `data`, each with its bytes: `header` reads the header at the start of
/// a slice and gives its frame length; bytes that do not start a whole frame of at least
/// `min_len` bytes are skipped one at a time up to the next one (resynchronising after lost
/// packets, as ffmpeg's audio parsers do).
pub fn whole_frames<'a, F>(
    data: &'a [u8],
    min_len: usize,
    header: impl Fn(&[u8]) -> Option<(F, usize)> + 'a,
) -> impl Iterator<Item = (F, &'a [u8])> + 'a {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < data.len() {
            let rest = &data[at..];
            let whole = header(rest)
                .filter(|&(_, len)| len >= min_len)
                .and_then(|(frame, len)| Some((frame, rest.get(..len)?)));
            match whole {
                Some((frame, bytes)) => {
                    at += bytes.len();
                    return Some((frame, bytes));
                }
                None => at += 1,
            }
        }
        None
    })
}

fn parse(codec: Codec, data: &[u8]) -> Parsed {
    match codec {
        Codec::Aac => {
            let adts = aac::adts_frames(data);
            let config =
                adts.config
                    .and_then(|c| Some((c, c.sample_rate()?)))
                    .map(|(c, sample_rate)| TrackConfig::Aac {
                        asc: c.audio_specific_config(),
                        sample_rate,
                        channels: c.channel_config,
                    });
            Parsed {
                frames: adts.frames,
                config,
            }
        }
        Codec::Ac3 | Codec::Eac3 => ac3::frames(data),
        _ => mpa::frames(data),
    }
}

/// The codec's name in errors.
fn name(codec: Codec) -> &'static str {
    match codec {
        Codec::Aac => "AAC",
        Codec::Ac3 | Codec::Eac3 => "AC-3",
        _ => "MPEG audio",
    }
}

/// The audio track's configuration and samples for one segment; `old` is the previous
/// segment's configuration of this track.
pub fn track(
    clock: &mut AudioClock,
    audio: &StreamPes,
    old: Option<&TrackConfig>,
) -> Result<(TrackConfig, TrackRun<'static>), Fmp4Error> {
    let codec = audio.stream.codec;
    let mut config = None;
    let mut pieces = Vec::new();
    for pes in &audio.pes {
        let parsed = parse(codec, pes.data());
        if parsed.frames.is_empty() {
            continue;
        }
        config = config.or(parsed.config);
        pieces.push((pes.pts, parsed.frames));
    }
    // AC-3 and E-AC-3 share a PMT type in places: the header decides, as in stream_info.
    let config = config
        .or_else(|| old.filter(|o| o.codec().kind() == codec.kind()).cloned())
        .ok_or(Fmp4Error::NoSamples(name(codec)))?;
    let Some(&(first_pts, _)) = pieces.first() else {
        return Err(Fmp4Error::NoSamples(name(codec)));
    };
    let rate = config.timescale();
    let frame = config.frame_samples();
    let base = clock
        .base(first_pts, rate, frame)
        .ok_or(Fmp4Error::NegativeTime)?;
    let frames = pieces.iter().map(|(_, f)| f.len()).sum();
    let mut run = TrackRun {
        track_id: 0,
        base_decode_time: base,
        samples: Vec::with_capacity(frames),
        data: Vec::with_capacity(frames),
        video: false,
    };
    let mut position = 0u64;
    for (pts, frames) in pieces {
        let ticks = u64::try_from(pts_delta(first_pts, pts)).unwrap_or(0);
        let expected =
            u64::try_from((u128::from(ticks) * u128::from(rate) + 45_000) / 90_000).unwrap_or(0);
        let gap = expected.saturating_sub(position);
        if gap >= u64::from(frame)
            && let Some(last) = run.samples.last_mut()
        {
            let longer = u32::try_from(gap).map_or(u32::MAX, |g| last.duration.saturating_add(g));
            position += u64::from(longer - last.duration);
            last.duration = longer;
        }
        for bytes in frames {
            run.samples.push(SampleInfo {
                duration: frame,
                size: u32::try_from(bytes.len()).map_err(|_| Fmp4Error::TooLarge)?,
                composition_offset: 0,
                sync: true,
            });
            run.data.push(SampleData::Bytes(bytes));
            position += u64::from(frame);
        }
    }
    clock.set_end(base + position);
    Ok((config, run))
}
