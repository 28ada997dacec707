//! The tables a segment starts with: PAT and PMT packets built from the parsed sections, with
//! continuity counters that stay consistent across segments.
//!
//! Owns packetisation of PSI sections and the output continuity counters of PSI PIDs. Must not
//! decide where segments start; the cutter calls [`PsiOutput::write_tables`] when it does.

use crate::media::psi::{self, PAT_PID, PatProgram};
use crate::media::{PACKET_SIZE, SYNC_BYTE, TsPacket, set_continuity_counter};

/// The current tables of the selected program, ready to be written at segment starts.
#[derive(Debug, Default)]
pub struct PsiOutput {
    pat: Vec<TsPacket>,
    pmt: Vec<TsPacket>,
    pat_counter: u8,
    pmt_counter: u8,
}

impl PsiOutput {
    /// Remembers the program's PAT entry (a single-program PAT is written in its place).
    pub fn set_pat(&mut self, transport_stream_id: u16, version: u8, program: PatProgram) {
        let section = psi::build_pat_section(transport_stream_id, version, program);
        self.pat = packetise(PAT_PID, &section);
    }

    /// Remembers the program's PMT section as received.
    pub fn set_pmt(&mut self, pmt_pid: u16, section: &[u8]) {
        self.pmt = packetise(pmt_pid, section);
    }

    /// Whether both tables are known.
    pub fn is_ready(&self) -> bool {
        !self.pat.is_empty() && !self.pmt.is_empty()
    }

    /// Appends PAT then PMT packets to `out`, numbering them after the last ones written.
    pub fn write_tables(&mut self, out: &mut Vec<u8>) {
        self.write_pat(out);
        self.write_pmt(out);
    }

    /// Appends the PAT packets to `out`.
    pub fn write_pat(&mut self, out: &mut Vec<u8>) {
        write_numbered(&self.pat, &mut self.pat_counter, out);
    }

    /// Appends the PMT packets to `out`.
    pub fn write_pmt(&mut self, out: &mut Vec<u8>) {
        write_numbered(&self.pmt, &mut self.pmt_counter, out);
    }
}

fn write_numbered(packets: &[TsPacket], counter: &mut u8, out: &mut Vec<u8>) {
    for packet in packets {
        let mut packet = *packet;
        set_continuity_counter(&mut packet, *counter);
        *counter = (*counter + 1) & 0x0f;
        out.extend_from_slice(&packet);
    }
}

/// Splits a section into TS packets: pointer field 0 in the first, 0xFF stuffing in the last.
/// Continuity counters are left at 0 for the writer to fill in.
pub fn packetise(pid: u16, section: &[u8]) -> Vec<TsPacket> {
    let mut packets = Vec::new();
    let mut rest = section;
    let mut first = true;
    while first || !rest.is_empty() {
        let mut packet = [0xffu8; PACKET_SIZE];
        packet[0] = SYNC_BYTE;
        packet[1] = (if first { 0x40 } else { 0 }) | ((pid >> 8) as u8 & 0x1f);
        packet[2] = pid as u8;
        packet[3] = 0x10;
        let mut at = 4;
        if first {
            packet[4] = 0;
            at = 5;
        }
        let take = rest.len().min(PACKET_SIZE - at);
        packet[at..at + take].copy_from_slice(&rest[..take]);
        rest = &rest[take..];
        packets.push(packet);
        first = false;
    }
    packets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::psi::{SectionAssembler, parse_pat};
    use crate::media::{packet_continuity_counter, packet_pid};

    #[test]
    fn written_tables_parse_back_and_count_on() {
        let mut out = PsiOutput::default();
        let program = PatProgram {
            program_number: 1,
            pmt_pid: 0x1000,
        };
        out.set_pat(7, 2, program);
        let pmt = crate::media::psi::tests::pmt_section(0, 0x100, &[(0x1b, 0x100)]);
        out.set_pmt(0x1000, &pmt);
        assert!(out.is_ready());
        let mut bytes = Vec::new();
        out.write_tables(&mut bytes);
        out.write_tables(&mut bytes);
        let packets: Vec<&[u8]> = bytes.chunks(PACKET_SIZE).collect();
        assert_eq!(packets.len(), 4);
        let pids: Vec<u16> = packets
            .iter()
            .map(|p| packet_pid(<&TsPacket>::try_from(*p).expect("packet")))
            .collect();
        assert_eq!(pids, vec![0, 0x1000, 0, 0x1000]);
        let counters: Vec<u8> = packets
            .iter()
            .map(|p| packet_continuity_counter(<&TsPacket>::try_from(*p).expect("packet")))
            .collect();
        assert_eq!(counters, vec![0, 0, 1, 1]);
        let mut sections = Vec::new();
        SectionAssembler::default().push(&packets[0][4..], true, &mut sections);
        let pat = parse_pat(&sections[0]).expect("PAT parses");
        assert_eq!((pat.transport_stream_id, pat.version), (7, 2));
        assert_eq!(pat.programs, vec![program]);
    }

    #[test]
    fn long_sections_span_packets() {
        let section = vec![0x02u8; 400];
        let packets = packetise(0x30, &section);
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[0][1] & 0x40, 0x40);
        assert_eq!(packets[1][1] & 0x40, 0);
        assert_eq!(packets[2][4 + (400 - 183 - 184)], 0xff);
    }
}
