//! H.264 access units: Annex B byte streams (start codes) → ISO/IEC 14496-15 samples (4-byte
//! length-prefixed NAL units), with the SPS and PPS copied out for the `avcC` record.
//!
//! The parameter sets also stay in band (as ffmpeg's MP4 muxer leaves them when remuxing TS):
//! a decoder that keeps the first init segment's `avcC` across a new `#EXT-X-MAP` (ffmpeg's
//! HLS demuxer does) still finds the new ones in the keyframe. Only access unit delimiters are
//! dropped (ISO/IEC 14496-15 5.3.2: not in `avc1` samples).
//!
//! Owns NAL splitting of a PES payload and the per-sample facts (IDR or not). Parameter-set
//! parsing is h264-reader's; the `avcC` record itself is mp4-atom's ([`mp4_atom::Avcc::new`]).

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::nal::{Nal, RefNal};

use super::boxes::TrackConfig;
use super::video::{ParamSets, VideoUnit};

/// NAL unit types this module looks at (ITU-T H.264 table 7-1).
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

/// The NAL units of an Annex B byte stream (start codes of 3 or 4 bytes), without start codes
/// and without trailing zero bytes.
pub fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut nals = Vec::new();
    let mut start: Option<usize> = None;
    for found in memchr::memmem::find_iter(data, &[0, 0, 1]) {
        // Matches do not overlap, so `found` is never before `s`; a 4-byte start code is
        // found one byte in, its leading zero trimmed off the NAL unit before it.
        if let Some(s) = start {
            nals.push(trim_trailing_zeros(&data[s..found]));
        }
        start = Some(found + 3);
    }
    if let Some(s) = start {
        nals.push(trim_trailing_zeros(&data[s..]));
    }
    nals.retain(|nal| !nal.is_empty());
    nals
}

fn trim_trailing_zeros(nal: &[u8]) -> &[u8] {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    &nal[..end]
}

/// Turns one PES payload (one access unit, as TS muxers write H.264) into a sample; a sync
/// sample when it holds an IDR slice.
pub fn access_unit(pes_payload: &[u8]) -> VideoUnit<'_> {
    let mut unit = VideoUnit::default();
    for nal in split_annex_b(pes_payload) {
        let kind = nal[0] & 0x1f;
        match kind {
            NAL_SPS => unit.params.sps = Some(nal.to_vec()),
            NAL_PPS => unit.params.pps = Some(nal.to_vec()),
            _ => {}
        }
        if kind != NAL_AUD {
            unit.sample.sync |= kind == NAL_IDR;
            unit.sample.nals.push(nal);
        }
    }
    unit
}

/// The `avc1` configuration from a segment's first SPS and PPS.
pub fn config(params: &ParamSets) -> Option<TrackConfig> {
    let (sps, pps) = (params.sps.clone()?, params.pps.clone()?);
    Some(TrackConfig::Avc {
        size: sps_dimensions(&sps).unwrap_or((0, 0)),
        sps,
        pps,
    })
}

/// Displayed width and height from an SPS NAL unit (header byte included).
pub fn sps_dimensions(sps: &[u8]) -> Option<(u32, u32)> {
    let nal = RefNal::new(sps, &[], true);
    let sps = SeqParameterSet::from_bits(nal.rbsp_bits()).ok()?;
    sps.pixel_dimensions().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_becomes_length_prefixed_with_parameter_sets_copied_out() {
        let pes = [
            0, 0, 0, 1, 0x09, 0xf0, // AUD
            0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1e, // SPS
            0, 0, 1, 0x68, 0xce, // PPS
            0, 0, 1, 0x65, 0x88, 0x80, 0x00, // IDR (a trailing zero is dropped)
            0, 0, 1, 0x41, 0x9a, // non-IDR slice
        ];
        let unit = access_unit(&pes);
        assert_eq!(
            unit.params.sps.as_deref(),
            Some(&[0x67, 0x42, 0x00, 0x1e][..])
        );
        assert_eq!(unit.params.pps.as_deref(), Some(&[0x68, 0xce][..]));
        assert!(unit.sample.sync);
        assert_eq!(
            unit.sample.bytes(),
            vec![
                0, 0, 0, 4, 0x67, 0x42, 0x00, 0x1e, // SPS, in band too
                0, 0, 0, 2, 0x68, 0xce, // PPS
                0, 0, 0, 3, 0x65, 0x88, 0x80, // IDR
                0, 0, 0, 2, 0x41, 0x9a, // slice
            ]
        );
    }

    #[test]
    fn non_idr_is_not_sync() {
        let unit = access_unit(&[0, 0, 1, 0x41, 0x9a, 0x22]);
        assert!(!unit.sample.sync);
        assert_eq!(unit.params.sps, None);
    }
}
