//! Media: the MPEG-TS knowledge every stage shares, as pure functions and small state machines.
//!
//! Owns packet framing and resynchronisation ([`framing`]), PSI tables ([`psi`]), PES timing
//! ([`pes`]), 33-bit timestamp arithmetic ([`timestamp`]), codec identification ([`codec`]),
//! random-access-point detection per codec ([`keyframe`]) and the codec parameters a master
//! playlist states, measured from a segment's bytes ([`stream_info`]).
//!
//! Must not touch: files, sockets, clocks, logging above TRACE per packet. Everything here takes
//! bytes in and gives values out, so it is unit-tested in place.

pub mod codec;
pub mod fmp4;
pub mod framing;
pub mod keyframe;
pub mod pes;
pub mod psi;
pub mod stream_info;
pub mod timestamp;

pub use framing::{PACKET_SIZE, SYNC_BYTE};

/// One aligned 188-byte transport stream packet, as it came from the input.
pub type TsPacket = [u8; PACKET_SIZE];

/// The 13-bit packet identifier of a TS packet.
#[inline]
pub fn packet_pid(packet: &TsPacket) -> u16 {
    (u16::from(packet[1] & 0x1f) << 8) | u16::from(packet[2])
}

/// The 4-bit continuity counter of a TS packet.
#[inline]
pub fn packet_continuity_counter(packet: &TsPacket) -> u8 {
    packet[3] & 0x0f
}

/// Overwrites the continuity counter of a TS packet.
#[inline]
pub fn set_continuity_counter(packet: &mut TsPacket, counter: u8) {
    packet[3] = (packet[3] & 0xf0) | (counter & 0x0f);
}

/// Whether the packet carries a payload (adaptation_field_control 01 or 11).
#[inline]
pub fn packet_has_payload(packet: &TsPacket) -> bool {
    packet[3] & 0x10 != 0
}

/// The six bytes of an adaptation field's PCR for the 90 kHz `base` (extension 0), for tests
/// that build packets by hand.
#[cfg(test)]
pub(crate) fn pcr_field(base: u64) -> [u8; 6] {
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        ((base & 1) << 7) as u8 | 0x7e,
        0,
    ]
}
