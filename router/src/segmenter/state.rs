//! Per-PID bookkeeping of the segmenter: continuity counters in, and whether a PES is still
//! open (so a cut can let its tail finish in the segment it began in).
//!
//! Packet field access goes through mpeg2ts-reader; nothing here decides cuts.

use mpeg2ts_reader::packet::Packet;

use crate::media::TsPacket;

/// Size of the fixed PES header up to and including PES_packet_length.
const PES_FIXED_HEADER: usize = 6;

/// What is known about one PID.
#[derive(Debug, Default, Clone)]
pub(crate) struct PidState {
    /// Continuity counter of the last packet with payload.
    pub last_counter: Option<u8>,
    /// [`packet_fingerprint`] of that packet, to tell a true duplicate from damage.
    pub last_fingerprint: u128,
    /// A PES started and has not been seen to end.
    pub pes_open: bool,
    /// Bytes still expected of the open PES, when its header gave a length.
    pes_remaining: Option<usize>,
}

impl PidState {
    /// Follows PES boundaries from the packets written out.
    pub fn track_pes(&mut self, packet: &TsPacket, unit_start: bool) {
        if !unit_start && self.pes_remaining.is_none() {
            return; // nothing to count: an unbounded PES, or none open
        }
        let payload = packet_payload(packet).unwrap_or(&[]);
        if unit_start {
            match payload {
                [0, 0, 1, _, high, low, ..] => {
                    let declared = usize::from(u16::from_be_bytes([*high, *low]));
                    if declared == 0 {
                        self.pes_open = true;
                        self.pes_remaining = None;
                    } else {
                        let remaining = (PES_FIXED_HEADER + declared).saturating_sub(payload.len());
                        self.pes_open = remaining > 0;
                        self.pes_remaining = Some(remaining);
                    }
                }
                _ => {
                    self.pes_open = false;
                    self.pes_remaining = None;
                }
            }
        } else if self.pes_open
            && let Some(remaining) = &mut self.pes_remaining
        {
            *remaining = remaining.saturating_sub(payload.len());
            if *remaining == 0 {
                self.pes_open = false;
            }
        }
    }
}

/// The last 16 bytes of a packet: payload bytes that differ between any two packets of a PID
/// except a repeated one, at the cost of two loads instead of keeping whole packets.
pub(crate) fn packet_fingerprint(packet: &TsPacket) -> u128 {
    let mut tail = [0u8; 16];
    tail.copy_from_slice(&packet[packet.len() - 16..]);
    u128::from_le_bytes(tail)
}

/// The payload of a packet, if it has a well-formed one.
pub(crate) fn packet_payload(packet: &TsPacket) -> Option<&[u8]> {
    Packet::try_new(packet)?.payload()
}

/// Whether the packet's adaptation field sets discontinuity_indicator (a legal counter jump).
pub(crate) fn signals_discontinuity(packet: &TsPacket) -> bool {
    Packet::try_new(packet)
        .and_then(|p| p.adaptation_field())
        .is_some_and(|af| af.discontinuity_indicator())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(unit_start: bool, payload: &[u8]) -> TsPacket {
        let mut p = [0xffu8; 188];
        p[0] = 0x47;
        p[1] = if unit_start { 0x41 } else { 0x01 };
        p[2] = 0x01;
        p[3] = 0x10;
        p[4..4 + payload.len()].copy_from_slice(payload);
        p
    }

    #[test]
    fn bounded_pes_closes_when_its_bytes_are_in() {
        let mut state = PidState::default();
        // 6 + 300 bytes: 184 in the first packet, 122 in the second.
        state.track_pes(&packet(true, &[0, 0, 1, 0xc0, 0x01, 0x2c]), true);
        assert!(state.pes_open);
        state.track_pes(&packet(false, &[]), false);
        assert!(!state.pes_open);
    }

    #[test]
    fn unbounded_pes_stays_open() {
        let mut state = PidState::default();
        state.track_pes(&packet(true, &[0, 0, 1, 0xe0, 0, 0]), true);
        state.track_pes(&packet(false, &[]), false);
        assert!(state.pes_open);
    }
}
