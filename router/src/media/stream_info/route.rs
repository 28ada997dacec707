//! Routing: the framed TS packets of a segment → the payloads of the streams a caller chose,
//! continuity-checked. The one packet loop shared by [`super::analyze`] (stream description)
//! and the fMP4 demuxer ([`crate::media::fmp4::demux`]).
//!
//! Owns the per-packet rules: packets that mpeg2ts-reader cannot read, with the transport
//! error indicator set, or without payload are skipped; a repeated continuity counter (a legal
//! duplicate) is dropped; a gap tells the stream's [`Probe`] that packets were lost before
//! the payload it is given next.

use mpeg2ts_reader::packet::Packet;

use super::super::TsPacket;

/// A consumer of one stream's packet payloads.
pub(crate) trait Probe {
    /// PID of the stream it consumes.
    fn pid(&self) -> u16;
    /// Next packet payload of the stream; `unit_start` when a PES starts in it.
    fn push(&mut self, payload: &[u8], unit_start: bool);
    /// Packets were lost before the next payload: drop any PES in progress.
    fn lost(&mut self);
}

/// How a packet's continuity counter relates to the previous one of its PID.
pub(crate) enum Step {
    Next,
    Duplicate,
    Gap,
}

/// Continuity counters of packets with payload, per PID.
#[derive(Default)]
pub(crate) struct Continuity {
    last: std::collections::HashMap<u16, u8>,
}

impl Continuity {
    pub(crate) fn check(&mut self, pid: u16, counter: u8) -> Step {
        match self.last.insert(pid, counter) {
            None => Step::Next,
            Some(previous) if counter == (previous + 1) & 0x0f => Step::Next,
            Some(previous) if counter == previous => Step::Duplicate,
            Some(_) => Step::Gap,
        }
    }
}

/// Feeds every packet's payload to the probe of its PID (the first one listed when several
/// share it); packets of other PIDs are ignored.
pub(crate) fn route(packets: &[TsPacket], probes: &mut [&mut dyn Probe]) {
    let mut continuity = Continuity::default();
    for packet in packets {
        let Some(packet) = Packet::try_new(packet) else {
            continue;
        };
        if packet.transport_error_indicator() {
            continue;
        }
        let pid = u16::from(packet.pid());
        let Some(payload) = packet.payload() else {
            continue;
        };
        let Some(probe) = probes.iter_mut().find(|p| p.pid() == pid) else {
            continue;
        };
        match continuity.check(pid, packet.continuity_counter().count()) {
            Step::Duplicate => continue,
            Step::Gap => probe.lost(),
            Step::Next => {}
        }
        probe.push(payload, packet.payload_unit_start_indicator());
    }
}
