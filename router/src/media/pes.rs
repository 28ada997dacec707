//! PES headers: timestamps and where the elementary-stream bytes start, read through
//! mpeg2ts-reader's PES types.
//!
//! Only the packet that starts a PES is looked at; continuation payloads are elementary-stream
//! bytes already.

use mpeg2ts_reader::pes::{PesContents, PesHeader, PtsDts};

/// What the first packet of a PES tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PesStart<'a> {
    /// Presentation timestamp (raw 33-bit), if present and well-formed.
    pub pts: Option<u64>,
    /// Decode timestamp (raw 33-bit); equals `pts` when the header carries only a PTS.
    pub dts: Option<u64>,
    /// Elementary-stream bytes after the PES header, within this packet.
    pub payload: &'a [u8],
}

/// Reads the PES header at the start of a packet payload whose unit-start flag is set.
/// Returns `None` when the payload does not start with a PES start code.
pub fn parse_pes_start(payload: &[u8]) -> Option<PesStart<'_>> {
    let header = PesHeader::from_bytes(payload)?;
    match header.contents() {
        PesContents::Parsed(Some(parsed)) => {
            let (pts, dts) = match parsed.pts_dts() {
                Ok(PtsDts::PtsOnly(Ok(pts))) => (Some(pts.value()), Some(pts.value())),
                Ok(PtsDts::Both { pts, dts }) => {
                    let pts = pts.ok().map(|t| t.value());
                    let dts = dts.ok().map(|t| t.value()).or(pts);
                    (pts, dts)
                }
                _ => (None, None),
            };
            Some(PesStart {
                pts,
                dts,
                payload: parsed.payload(),
            })
        }
        PesContents::Parsed(None) => None,
        PesContents::Payload(payload) => Some(PesStart {
            pts: None,
            dts: None,
            payload,
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes a 33-bit timestamp into the 5-byte PES form with the given 4-bit prefix.
    fn timestamp_bytes(prefix: u8, ts: u64) -> [u8; 5] {
        [
            (prefix << 4) | (((ts >> 29) & 0x0e) as u8) | 1,
            (ts >> 22) as u8,
            (((ts >> 14) & 0xfe) as u8) | 1,
            (ts >> 7) as u8,
            (((ts << 1) & 0xfe) as u8) | 1,
        ]
    }

    /// A video PES header (stream id 0xE0) with PTS and optional DTS, followed by `es` (test
    /// helper shared with the segmenter tests).
    pub(crate) fn pes_header(pts: u64, dts: Option<u64>, es: &[u8]) -> Vec<u8> {
        let mut h = vec![0x00, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x80];
        match dts {
            Some(dts) => {
                h.extend_from_slice(&[0xc0, 10]);
                h.extend_from_slice(&timestamp_bytes(0x3, pts));
                h.extend_from_slice(&timestamp_bytes(0x1, dts));
            }
            None => {
                h.extend_from_slice(&[0x80, 5]);
                h.extend_from_slice(&timestamp_bytes(0x2, pts));
            }
        }
        h.extend_from_slice(es);
        h
    }

    #[test]
    fn reads_pts_and_dts() {
        let bytes = pes_header(8_589_934_000, Some(8_589_930_000), &[0, 0, 1, 9]);
        let start = parse_pes_start(&bytes).expect("a PES start");
        assert_eq!(start.pts, Some(8_589_934_000));
        assert_eq!(start.dts, Some(8_589_930_000));
        assert_eq!(start.payload, &[0, 0, 1, 9]);
    }

    #[test]
    fn pts_only_doubles_as_dts() {
        let bytes = pes_header(90_000, None, &[0xff]);
        let start = parse_pes_start(&bytes).expect("a PES start");
        assert_eq!((start.pts, start.dts), (Some(90_000), Some(90_000)));
    }

    #[test]
    fn not_a_pes() {
        assert_eq!(
            parse_pes_start(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]),
            None
        );
    }
}
