//! Walking MPEG-TS packets of the output, independently of the router's own parser.

/// Size of a TS packet.
pub const PACKET_SIZE: usize = 188;
/// The PAT's PID.
pub const PAT_PID: u16 = 0;
/// The null packet PID.
pub const NULL_PID: u16 = 0x1fff;

/// Splits a whole-packet byte string into packets; panics if it is not one.
pub fn packets(data: &[u8]) -> Vec<Packet<'_>> {
    assert_eq!(
        data.len() % PACKET_SIZE,
        0,
        "{} bytes is not a whole number of TS packets",
        data.len()
    );
    data.chunks(PACKET_SIZE)
        .enumerate()
        .map(|(index, bytes)| {
            assert_eq!(bytes[0], 0x47, "packet {index} has no sync byte");
            Packet(bytes)
        })
        .collect()
}

/// One 188-byte packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a>(pub &'a [u8]);

impl<'a> Packet<'a> {
    pub fn pid(&self) -> u16 {
        (u16::from(self.0[1] & 0x1f) << 8) | u16::from(self.0[2])
    }

    pub fn unit_start(&self) -> bool {
        self.0[1] & 0x40 != 0
    }

    pub fn has_adaptation(&self) -> bool {
        self.0[3] & 0x20 != 0
    }

    pub fn has_payload(&self) -> bool {
        self.0[3] & 0x10 != 0
    }

    pub fn continuity_counter(&self) -> u8 {
        self.0[3] & 0x0f
    }

    /// discontinuity_indicator of the adaptation field.
    pub fn discontinuity_indicator(&self) -> bool {
        self.has_adaptation() && self.0[4] > 0 && self.0[5] & 0x80 != 0
    }

    /// The payload bytes, if any.
    pub fn payload(&self) -> Option<&'a [u8]> {
        if !self.has_payload() {
            return None;
        }
        let start = if self.has_adaptation() {
            5 + usize::from(self.0[4])
        } else {
            4
        };
        self.0.get(start..)
    }

    /// The PSI section starting in this packet (after the pointer field), if it starts one.
    pub fn section(&self) -> Option<&'a [u8]> {
        if !self.unit_start() {
            return None;
        }
        let payload = self.payload()?;
        let pointer = usize::from(*payload.first()?);
        payload.get(1 + pointer..)
    }

    /// table_id of the PSI section starting in this packet.
    pub fn table_id(&self) -> Option<u8> {
        self.section()?.first().copied()
    }

    /// Whether the adaptation field carries a PCR.
    pub fn has_pcr(&self) -> bool {
        self.has_adaptation() && self.0[4] >= 7 && self.0[5] & 0x10 != 0
    }

    /// Whether `other` duplicates this packet as ISO/IEC 13818-1 §2.4.3.3 allows: every byte
    /// the same, except the PCR, which may differ.
    pub fn is_duplicated_by(&self, other: &Packet<'_>) -> bool {
        let pcr = if self.has_pcr() && other.has_pcr() {
            6..12
        } else {
            0..0
        };
        self.0
            .iter()
            .zip(other.0)
            .enumerate()
            .all(|(i, (a, b))| a == b || pcr.contains(&i))
    }

    /// Whether a PES packet (start code 00 00 01) starts here.
    pub fn starts_pes(&self) -> bool {
        self.unit_start() && self.payload().is_some_and(|p| p.starts_with(&[0, 0, 1]))
    }
}

/// PMT PIDs of the programs listed in a PAT section (network PID entries left out).
pub fn pat_pmt_pids(section: &[u8]) -> Vec<u16> {
    assert_eq!(section.first(), Some(&0x00), "not a PAT section");
    let length = section_length(section);
    // 5 bytes of header after section_length, 4 bytes of CRC at the end.
    let programs = &section[8..3 + length - 4];
    programs
        .chunks(4)
        .filter(|entry| u16::from_be_bytes([entry[0], entry[1]]) != 0)
        .map(|entry| u16::from_be_bytes([entry[2], entry[3]]) & 0x1fff)
        .collect()
}

/// section_length, checked against the bytes at hand (a section must fit its first packet
/// here: streamrouter's tables are small).
fn section_length(section: &[u8]) -> usize {
    assert!(section.len() >= 3, "section header cut short");
    let length = usize::from(u16::from_be_bytes([section[1], section[2]]) & 0x0fff);
    assert!(
        (9..=section.len() - 3).contains(&length),
        "section_length {length} does not fit the {} bytes after the header",
        section.len() - 3
    );
    length
}

/// An elementary stream listed in a PMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtStream {
    pub stream_type: u8,
    pub pid: u16,
}

impl PmtStream {
    /// MPEG-1/2 video, H.264, HEVC.
    pub fn is_video(&self) -> bool {
        matches!(self.stream_type, 0x01 | 0x02 | 0x1b | 0x24)
    }
}

/// The elementary streams of a PMT section.
pub fn pmt_streams(section: &[u8]) -> Vec<PmtStream> {
    assert_eq!(section.first(), Some(&0x02), "not a PMT section");
    let length = section_length(section);
    let end = 3 + length - 4;
    let program_info = usize::from(u16::from_be_bytes([section[10], section[11]]) & 0x0fff);
    let mut at = 12 + program_info;
    let mut streams = Vec::new();
    while at + 5 <= end {
        let pid = u16::from_be_bytes([section[at + 1], section[at + 2]]) & 0x1fff;
        let info = usize::from(u16::from_be_bytes([section[at + 3], section[at + 4]]) & 0x0fff);
        streams.push(PmtStream {
            stream_type: section[at],
            pid,
        });
        at += 5 + info;
    }
    streams
}

/// The stream a keyframe-aligned segment must start with: the first video stream, else the
/// first stream.
pub fn main_stream(streams: &[PmtStream]) -> Option<PmtStream> {
    streams
        .iter()
        .find(|s| s.is_video())
        .or_else(|| streams.first())
        .copied()
}

/// Continuity-counter violations in a packet sequence: per PID, a packet with payload must
/// carry the previous counter plus one (mod 16) unless it signals a discontinuity, and one
/// without payload must repeat the previous counter. Returns one message per violation.
pub fn continuity_errors(packets: &[Packet<'_>]) -> Vec<String> {
    let mut last: std::collections::HashMap<u16, u8> = std::collections::HashMap::new();
    let mut errors = Vec::new();
    for (index, packet) in packets.iter().enumerate() {
        let pid = packet.pid();
        if pid == NULL_PID {
            continue;
        }
        let counter = packet.continuity_counter();
        if let Some(&previous) = last.get(&pid) {
            let expected = if packet.has_payload() {
                (previous + 1) & 0x0f
            } else {
                previous
            };
            if counter != expected && !packet.discontinuity_indicator() {
                errors.push(format!(
                    "packet {index} (byte {}) pid {pid:#x}: counter {counter}, expected {expected}",
                    index * PACKET_SIZE
                ));
            }
        }
        last.insert(pid, counter);
    }
    errors
}
