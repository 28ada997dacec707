//! PSI: reassembles PAT and PMT sections from TS packet payloads and reads them through
//! mpeg2ts-reader's table types.
//!
//! Owns section reassembly (pointer field, sections spanning packets, stuffing) and the CRC
//! check. Knows nothing of segments; the segmenter decides what a table change means.

use mpeg2ts_reader::mpegts_crc;
use mpeg2ts_reader::psi::{CurrentNext, SectionCommonHeader, TableSyntaxHeader};
use mpeg2ts_reader::psi::{pat::PatSection, pat::ProgramDescriptor, pmt::PmtSection};

use super::codec::Codec;

/// PID of the Program Association Table.
pub const PAT_PID: u16 = 0;
const TABLE_ID_PAT: u8 = 0x00;
const TABLE_ID_PMT: u8 = 0x02;
/// Largest section ISO/IEC 13818-1 allows for PAT and PMT (section_length ≤ 1021).
const MAX_SECTION_SIZE: usize = 1024;
const SECTION_HEADERS: usize = SectionCommonHeader::SIZE + TableSyntaxHeader::SIZE;
const CRC_SIZE: usize = 4;

/// Why a section could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PsiError {
    /// Shorter than its headers and CRC.
    #[error("section too short ({len} bytes)")]
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// Another table than the one expected.
    #[error("unexpected table_id 0x{found:02x} (expected 0x{expected:02x})")]
    WrongTable {
        /// Table id expected.
        expected: u8,
        /// Table id found.
        found: u8,
    },
    /// CRC_32 mismatch: the section was damaged.
    #[error("CRC mismatch in table 0x{table_id:02x}")]
    Crc {
        /// Table id of the damaged section.
        table_id: u8,
    },
    /// A table announced for later (current_next_indicator = 0).
    #[error("table is not yet applicable (current_next_indicator = 0)")]
    NotCurrent,
    /// The PMT body could not be read.
    #[error("malformed PMT")]
    MalformedPmt,
}

/// One program listed in the PAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatProgram {
    /// Program number (never 0; the NIT entry is skipped).
    pub program_number: u16,
    /// PID carrying this program's PMT.
    pub pmt_pid: u16,
}

/// A Program Association Table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pat {
    /// transport_stream_id.
    pub transport_stream_id: u16,
    /// version_number, bumped by the encoder on every change.
    pub version: u8,
    /// Programs, in table order.
    pub programs: Vec<PatProgram>,
}

/// One elementary stream of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementaryStream {
    /// PID of its packets.
    pub pid: u16,
    /// stream_type from the PMT.
    pub stream_type: u8,
    /// What the stream type (and descriptors) say it carries.
    pub codec: Codec,
}

/// A Program Map Table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pmt {
    /// The program it describes.
    pub program_number: u16,
    /// version_number, bumped by the encoder on every change.
    pub version: u8,
    /// PID carrying the PCR.
    pub pcr_pid: u16,
    /// Elementary streams, in table order.
    pub streams: Vec<ElementaryStream>,
}

impl Pmt {
    /// Whether the two tables describe the same streams (versions aside).
    pub fn same_streams(&self, other: &Pmt) -> bool {
        self.pcr_pid == other.pcr_pid && self.streams == other.streams
    }
}

/// Reassembles PSI sections of one PID from packet payloads.
#[derive(Debug, Default)]
pub struct SectionAssembler {
    partial: Vec<u8>,
    active: bool,
}

impl SectionAssembler {
    /// Feeds one packet payload; complete sections are appended to `out`.
    pub fn push(&mut self, payload: &[u8], unit_start: bool, out: &mut Vec<Vec<u8>>) {
        if !unit_start {
            if self.active {
                self.partial.extend_from_slice(payload);
                self.complete_partial(out);
            }
            return;
        }
        let Some((&pointer, rest)) = payload.split_first() else {
            return;
        };
        let pointer = usize::from(pointer);
        if pointer > rest.len() {
            self.reset();
            return;
        }
        if self.active {
            self.partial.extend_from_slice(&rest[..pointer]);
            self.complete_partial(out);
        }
        self.reset();
        let mut data = &rest[pointer..];
        while let Some(&table_id) = data.first() {
            if table_id == 0xff {
                break; // stuffing
            }
            match section_total_len(data) {
                Some(total) if total > MAX_SECTION_SIZE => break,
                Some(total) if total <= data.len() => {
                    out.push(data[..total].to_vec());
                    data = &data[total..];
                }
                _ => {
                    self.partial.extend_from_slice(data);
                    self.active = true;
                    break;
                }
            }
        }
    }

    /// Drops a section in progress (after packet loss on this PID).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.active = false;
    }

    fn complete_partial(&mut self, out: &mut Vec<Vec<u8>>) {
        match section_total_len(&self.partial) {
            Some(total) if total > MAX_SECTION_SIZE => self.reset(),
            Some(total) if total <= self.partial.len() => {
                out.push(self.partial[..total].to_vec());
                self.reset();
            }
            _ => {}
        }
    }
}

fn section_total_len(data: &[u8]) -> Option<usize> {
    let header = data.get(..SectionCommonHeader::SIZE)?;
    Some(SectionCommonHeader::SIZE + SectionCommonHeader::new(header).section_length)
}

/// Checks headers and CRC of a complete section; returns the table syntax version and the
/// body between the headers and the CRC.
fn checked_body(section: &[u8], table_id: u8) -> Result<(u16, u8, &[u8]), PsiError> {
    if section.len() < SECTION_HEADERS + CRC_SIZE {
        return Err(PsiError::TooShort { len: section.len() });
    }
    let common = SectionCommonHeader::new(&section[..SectionCommonHeader::SIZE]);
    if common.table_id != table_id {
        return Err(PsiError::WrongTable {
            expected: table_id,
            found: common.table_id,
        });
    }
    if mpegts_crc::sum32(section) != 0 {
        return Err(PsiError::Crc { table_id });
    }
    let syntax = TableSyntaxHeader::new(&section[SectionCommonHeader::SIZE..SECTION_HEADERS]);
    if syntax.current_next_indicator() != CurrentNext::Current {
        return Err(PsiError::NotCurrent);
    }
    let body = &section[SECTION_HEADERS..section.len() - CRC_SIZE];
    Ok((syntax.id(), syntax.version(), body))
}

/// Builds a PAT section listing one program (used when segments repeat the tables).
pub fn build_pat_section(transport_stream_id: u16, version: u8, program: PatProgram) -> Vec<u8> {
    let mut s = vec![TABLE_ID_PAT, 0xb0, 0x00];
    s.extend_from_slice(&transport_stream_id.to_be_bytes());
    s.extend_from_slice(&[0xc1 | ((version & 0x1f) << 1), 0x00, 0x00]);
    s.extend_from_slice(&program.program_number.to_be_bytes());
    s.extend_from_slice(&(0xe000 | program.pmt_pid).to_be_bytes());
    finish_section(s)
}

/// Fills in section_length and appends the CRC_32.
fn finish_section(mut s: Vec<u8>) -> Vec<u8> {
    let section_length = (s.len() - SectionCommonHeader::SIZE + CRC_SIZE) as u16;
    s[1] = (s[1] & 0xf0) | ((section_length >> 8) as u8 & 0x0f);
    s[2] = section_length as u8;
    let crc = mpegts_crc::sum32(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// Reads a complete PAT section.
pub fn parse_pat(section: &[u8]) -> Result<Pat, PsiError> {
    let (transport_stream_id, version, body) = checked_body(section, TABLE_ID_PAT)?;
    let programs = PatSection::new(body)
        .programs()
        .filter_map(|entry| match entry {
            ProgramDescriptor::Program {
                program_number,
                pid,
            } => Some(PatProgram {
                program_number,
                pmt_pid: u16::from(pid),
            }),
            ProgramDescriptor::Network { .. } => None,
        })
        .collect();
    Ok(Pat {
        transport_stream_id,
        version,
        programs,
    })
}

/// Reads a complete PMT section.
pub fn parse_pmt(section: &[u8]) -> Result<Pmt, PsiError> {
    let (program_number, version, body) = checked_body(section, TABLE_ID_PMT)?;
    let table = PmtSection::from_bytes(body).map_err(|_| PsiError::MalformedPmt)?;
    let streams = table
        .streams()
        .map(|info| {
            let stream_type = info.stream_type().0;
            let descriptor_tags = info
                .descriptors::<psi_descriptor::AnyDescriptor<'_>>()
                .filter_map(Result::ok)
                .map(|d| d.tag)
                .collect::<Vec<u8>>();
            ElementaryStream {
                pid: u16::from(info.elementary_pid()),
                stream_type,
                codec: Codec::from_stream_type(stream_type, &descriptor_tags),
            }
        })
        .collect();
    Ok(Pmt {
        program_number,
        version,
        pcr_pid: u16::from(table.pcr_pid()),
        streams,
    })
}

/// A descriptor read only for its tag: enough to tell AC-3/E-AC-3 in private PES apart.
mod psi_descriptor {
    use mpeg2ts_reader::descriptor::{Descriptor, DescriptorError};

    pub struct AnyDescriptor<'buf> {
        pub tag: u8,
        #[allow(dead_code)]
        pub payload: &'buf [u8],
    }

    impl<'buf> Descriptor<'buf> for AnyDescriptor<'buf> {
        fn from_bytes(buf: &'buf [u8]) -> Result<Self, DescriptorError> {
            match buf {
                [tag, _len, payload @ ..] => Ok(AnyDescriptor { tag: *tag, payload }),
                _ => Err(DescriptorError::BufferTooShort { buflen: buf.len() }),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a PAT section with one program (test helper shared with the segmenter tests).
    pub(crate) fn pat_section(version: u8, program_number: u16, pmt_pid: u16) -> Vec<u8> {
        let program = PatProgram {
            program_number,
            pmt_pid,
        };
        build_pat_section(1, version, program)
    }

    /// Builds a PMT section (test helper shared with the segmenter tests).
    pub(crate) fn pmt_section(version: u8, pcr_pid: u16, streams: &[(u8, u16)]) -> Vec<u8> {
        let mut s = vec![
            0x02,
            0xb0,
            0x00,
            0x00,
            0x01,
            0xc1 | (version << 1),
            0x00,
            0x00,
        ];
        s.extend_from_slice(&(0xe000 | pcr_pid).to_be_bytes());
        s.extend_from_slice(&[0xf0, 0x00]);
        for &(stream_type, pid) in streams {
            s.push(stream_type);
            s.extend_from_slice(&(0xe000 | pid).to_be_bytes());
            s.extend_from_slice(&[0xf0, 0x00]);
        }
        finish_section(s)
    }

    fn payload_with_pointer(section: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8];
        p.extend_from_slice(section);
        p.resize(184, 0xff);
        p
    }

    #[test]
    fn pat_round_trip() {
        let section = pat_section(3, 1, 0x1000);
        assert_eq!(
            parse_pat(&section),
            Ok(Pat {
                transport_stream_id: 1,
                version: 3,
                programs: vec![PatProgram {
                    program_number: 1,
                    pmt_pid: 0x1000
                }]
            })
        );
    }

    #[test]
    fn pmt_lists_streams_with_codecs() {
        let section = pmt_section(0, 0x100, &[(0x1b, 0x100), (0x0f, 0x101)]);
        let pmt = parse_pmt(&section).expect("valid PMT");
        assert_eq!(pmt.pcr_pid, 0x100);
        assert_eq!(pmt.streams.len(), 2);
        assert_eq!(pmt.streams[0].codec, Codec::H264);
        assert_eq!(pmt.streams[1].codec, Codec::Aac);
    }

    #[test]
    fn damaged_section_fails_crc() {
        let mut section = pat_section(0, 1, 0x1000);
        section[9] ^= 0x40;
        assert_eq!(parse_pat(&section), Err(PsiError::Crc { table_id: 0 }));
    }

    #[test]
    fn assembler_joins_a_section_split_across_packets() {
        let streams: Vec<(u8, u16)> = (0..60).map(|i| (0x0f, 0x200 + i)).collect();
        let section = pmt_section(1, 0x200, &streams);
        assert!(section.len() > 184, "needs two packets");
        let mut first = vec![0u8];
        first.extend_from_slice(&section[..183]);
        let mut second = section[183..].to_vec();
        second.resize(184, 0xff);
        let mut assembler = SectionAssembler::default();
        let mut out = Vec::new();
        assembler.push(&first, true, &mut out);
        assert!(out.is_empty());
        assembler.push(&second, false, &mut out);
        assert_eq!(out, vec![section.clone()]);
        assert_eq!(parse_pmt(&out[0]).map(|p| p.streams.len()), Ok(60));
    }

    #[test]
    fn assembler_reads_one_packet_sections_and_skips_stuffing() {
        let section = pat_section(0, 1, 0x1000);
        let mut assembler = SectionAssembler::default();
        let mut out = Vec::new();
        assembler.push(&payload_with_pointer(&section), true, &mut out);
        assembler.push(&payload_with_pointer(&section), true, &mut out);
        assert_eq!(out, vec![section.clone(), section]);
    }
}
