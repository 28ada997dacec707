//! AC-3 and E-AC-3 (ATSC A/52, ETSI TS 102 366): PES payloads → MP4 samples, and the `dac3` /
//! `dec3` fields from the first sync frame.
//!
//! Owns the few header fields needed (read with bitstream-io; no kept crate parses A/52
//! headers without decoding): frame sizes, sampling rate, bsid, bsmod, acmod, lfeon and the
//! bit rate. An AC-3 sample is one sync frame; an E-AC-3 sample is six audio blocks of
//! independent substream 0 (1536 samples, TS 102 366 F.2) with the frames of other substreams
//! that follow them. Every sample lasts [`SAMPLES_PER_FRAME`].

use bitstream_io::{BigEndian, BitRead, BitReader};
use mp4_atom::{Ac3SpecificBox, Ec3IndependentSubstream, Ec3SpecificBox};

use super::audio::Parsed;
use super::boxes::TrackConfig;

/// Samples per AC-3 frame and per E-AC-3 MP4 sample.
pub const SAMPLES_PER_FRAME: u32 = 1536;
/// Audio blocks in an MP4 sample of E-AC-3.
const BLOCKS_PER_SAMPLE: u8 = 6;
/// AC-3 bit rates in kbit/s by frmsizecod / 2 (A/52 table 5.18).
const BIT_RATES: [u32; 19] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640,
];
/// Channels by acmod (LFE not counted).
const ACMOD_CHANNELS: [u8; 8] = [2, 1, 2, 3, 3, 4, 4, 5];

/// One sync frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    len: usize,
    sample_rate: u32,
    fscod: u8,
    bsid: u8,
    bsmod: u8,
    acmod: u8,
    lfeon: bool,
    /// AC-3: frmsizecod / 2. E-AC-3: the data rate in kbit/s.
    rate: u16,
    /// E-AC-3 only: independent substream 0 (the one that counts the blocks).
    primary: bool,
    /// Audio blocks (6 for AC-3).
    blocks: u8,
}

fn header(bytes: &[u8]) -> std::io::Result<Option<Frame>> {
    let mut r = BitReader::endian(bytes, BigEndian);
    if r.read::<16, u16>()? != 0x0b77 {
        return Ok(None);
    }
    let Some(bsid) = bytes.get(5).map(|b| b >> 3) else {
        return Ok(None);
    };
    if bsid <= 10 {
        r.skip(16)?; // crc1
        let fscod = r.read::<2, u8>()?;
        let frmsizecod = r.read::<6, u8>()?;
        r.skip(5)?; // bsid
        let bsmod = r.read::<3, u8>()?;
        let acmod = r.read::<3, u8>()?;
        let skip = 2
            * (u32::from(acmod & 1 != 0 && acmod != 1)
                + u32::from(acmod & 4 != 0)
                + u32::from(acmod == 2));
        r.skip(skip)?; // cmixlev, surmixlev, dsurmod
        let lfeon = r.read_bit()?;
        let (Some(&kbps), Some(sample_rate)) = (
            BIT_RATES.get(usize::from(frmsizecod >> 1)),
            [48_000u32, 44_100, 32_000].get(usize::from(fscod)).copied(),
        ) else {
            return Ok(None);
        };
        // 16-bit words per frame: bit rate × 1536 / sample rate / 16 (A/52 table 5.18; at
        // 44.1 kHz the odd codes carry one more word).
        let words = kbps * 1000 * SAMPLES_PER_FRAME / sample_rate / 16
            + u32::from(fscod == 1 && frmsizecod & 1 == 1);
        return Ok(Some(Frame {
            len: usize::try_from(words * 2).unwrap_or(usize::MAX),
            sample_rate,
            fscod,
            bsid,
            bsmod,
            acmod,
            lfeon,
            rate: u16::from(frmsizecod >> 1),
            primary: true,
            blocks: BLOCKS_PER_SAMPLE,
        }));
    }
    if bsid > 16 {
        return Ok(None);
    }
    let strmtyp = r.read::<2, u8>()?;
    let substreamid = r.read::<3, u8>()?;
    let frmsiz = r.read::<11, u32>()?;
    let fscod = r.read::<2, u8>()?;
    let code = r.read::<2, u8>()?;
    let acmod = r.read::<3, u8>()?;
    let lfeon = r.read_bit()?;
    let (sample_rate, blocks) = match fscod {
        3 => match [24_000u32, 22_050, 16_000].get(usize::from(code)) {
            Some(&rate) => (rate, 6),
            None => return Ok(None),
        },
        _ => (
            [48_000u32, 44_100, 32_000][usize::from(fscod)],
            [1u8, 2, 3, 6][usize::from(code)],
        ),
    };
    let len = (frmsiz + 1) * 2;
    let kbps = u64::from(len) * 8 * u64::from(sample_rate) / (256 * u64::from(blocks)) / 1000;
    Ok(Some(Frame {
        len: usize::try_from(len).unwrap_or(usize::MAX),
        sample_rate,
        fscod,
        bsid,
        bsmod: 0,
        acmod,
        lfeon,
        rate: u16::try_from(kbps).unwrap_or(u16::MAX),
        primary: strmtyp != 1 && substreamid == 0,
        blocks,
    }))
}

fn config(first: &Frame) -> TrackConfig {
    let channels = ACMOD_CHANNELS[usize::from(first.acmod & 7)] + u8::from(first.lfeon);
    if first.bsid <= 10 {
        TrackConfig::Ac3 {
            dac3: Ac3SpecificBox {
                fscod: first.fscod,
                bsid: first.bsid,
                bsmod: first.bsmod,
                acmod: first.acmod,
                lfeon: first.lfeon,
                bit_rate_code: u8::try_from(first.rate).unwrap_or(0),
            },
            sample_rate: first.sample_rate,
            channels,
        }
    } else {
        TrackConfig::Eac3 {
            dec3: Ec3SpecificBox {
                data_rate: first.rate,
                substreams: vec![Ec3IndependentSubstream {
                    fscod: first.fscod,
                    bsid: first.bsid,
                    asvc: false,
                    bsmod: first.bsmod,
                    acmod: first.acmod,
                    lfeon: first.lfeon,
                    num_dep_sub: 0,
                    chan_loc: None,
                }],
            },
            sample_rate: first.sample_rate,
            channels,
        }
    }
}

/// Splits a PES payload into samples. Bytes that do not start a whole sync frame are skipped
/// up to the next one (as ffmpeg's AC-3 parser resynchronises after lost packets).
pub fn frames(data: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut blocks = 0u8;
    let parse = |rest: &[u8]| header(rest).ok().flatten().map(|f| (f, f.len));
    for (frame, bytes) in super::audio::whole_frames(data, 6, parse) {
        if out.config.is_none() {
            out.config = Some(config(&frame));
        }
        match out.frames.last_mut() {
            Some(sample) if !(frame.primary && blocks >= BLOCKS_PER_SAMPLE) => {
                sample.extend_from_slice(bytes);
            }
            _ => {
                out.frames.push(bytes.to_vec());
                blocks = 0;
            }
        }
        if frame.primary {
            blocks = blocks.saturating_add(frame.blocks);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AC-3 frame: 48 kHz, 192 kbit/s (frmsizecod 20: 768 bytes), bsid 8, bsmod 0,
    /// acmod 2 (stereo, dsurmod follows), LFE on.
    fn ac3_frame() -> Vec<u8> {
        let mut f = vec![0u8; 768];
        f[..2].copy_from_slice(&[0x0b, 0x77]);
        f[4] = 20; // fscod 00, frmsizecod 010100
        f[5] = 8 << 3; // bsid 8, bsmod 0
        f[6] = (2 << 5) | (1 << 2); // acmod 010, dsurmod 00, lfeon 1
        f
    }

    #[test]
    fn ac3_frames_and_dac3() {
        let mut pes = ac3_frame();
        pes.extend(ac3_frame());
        pes.extend_from_slice(&[0x0b, 0x77, 0]); // a cut frame is skipped
        let parsed = frames(&pes);
        assert_eq!(parsed.frames.len(), 2);
        assert_eq!(parsed.frames[0].len(), 768);
        let Some(TrackConfig::Ac3 {
            dac3,
            sample_rate,
            channels,
        }) = parsed.config
        else {
            panic!("an AC-3 config: {:?}", parsed.config);
        };
        assert_eq!((sample_rate, channels), (48_000, 3));
        assert_eq!(
            (
                dac3.fscod,
                dac3.bsid,
                dac3.acmod,
                dac3.lfeon,
                dac3.bit_rate_code
            ),
            (0, 8, 2, true, 10)
        );
    }

    #[test]
    fn ac3_frame_size_at_44_1_khz_counts_the_odd_word() {
        let mut f = ac3_frame();
        f[4] = (1 << 6) | 21; // 44.1 kHz, frmsizecod 21 (192 kbit/s, odd): 418 words
        assert_eq!(header(&f).ok().flatten().map(|h| h.len), Some(836));
    }

    /// An E-AC-3 frame of `blocks_code` (0..=3: 1, 2, 3, 6 blocks), 48 kHz, stereo, 96 bytes.
    fn eac3_frame(strmtyp: u8, blocks_code: u8) -> Vec<u8> {
        let mut f = vec![0u8; 96];
        f[..2].copy_from_slice(&[0x0b, 0x77]);
        let frmsiz = 47u16; // (47 + 1) * 2 = 96 bytes
        f[2] = (strmtyp << 6) | (frmsiz >> 8) as u8;
        f[3] = frmsiz as u8;
        f[4] = (blocks_code << 4) | (2 << 1); // fscod 00, acmod 010, lfeon 0
        f[5] = 16 << 3; // bsid 16
        f
    }

    #[test]
    fn eac3_samples_hold_six_blocks_with_their_dependent_substreams() {
        // Two samples of two 3-block frames; a dependent substream frame joins the first.
        let mut pes = eac3_frame(0, 2);
        pes.extend(eac3_frame(1, 2));
        pes.extend(eac3_frame(0, 2));
        pes.extend(eac3_frame(0, 2));
        pes.extend(eac3_frame(0, 2));
        let parsed = frames(&pes);
        assert_eq!(
            parsed.frames.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![288, 192]
        );
        let Some(TrackConfig::Eac3 {
            dec3, sample_rate, ..
        }) = parsed.config
        else {
            panic!("an E-AC-3 config: {:?}", parsed.config);
        };
        assert_eq!(sample_rate, 48_000);
        assert_eq!((dec3.substreams[0].bsid, dec3.substreams[0].acmod), (16, 2));
        // 96 bytes per 768 samples at 48 kHz: 48 kbit/s.
        assert_eq!(dec3.data_rate, 48);
    }
}
