//! Real-time pacing of a file by its PCRs: cuts the bytes into small chunks that start at a
//! PCR-carrying packet, and says when each such chunk is due on the wall clock.
//!
//! Owns the PCR reading (via `mpeg2ts_reader`) and the wall-clock anchor. Must not read files,
//! sleep or send: `file` does that with the deadlines given here.

use std::time::Duration;

use mpeg2ts_reader::packet::Packet;
use tokio::time::Instant;

use crate::media::timestamp::Unwrapper;
use crate::media::{PACKET_SIZE, SYNC_BYTE, packet_pid};

/// Packets per chunk at most, so pacing stays smooth.
pub(crate) const CHUNK_PACKETS: usize = 32;
/// PCR clock rate.
const PCR_HZ: i64 = 27_000_000;
/// A forward PCR jump larger than this between consecutive PCRs re-anchors instead of sleeping.
const MAX_FORWARD_JUMP: i64 = 3 * PCR_HZ;
/// Lagging more than this behind the clock (slow receiver) re-anchors instead of bursting.
const MAX_LAG: Duration = Duration::from_secs(1);
/// PCRs seen on another PID, with none on the followed one in between, before switching PID.
const SWITCH_AFTER: u32 = 10;

/// A PCR found in a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pcr {
    /// PID of the packet carrying it.
    pub(crate) pid: u16,
    /// 33-bit 90 kHz base.
    pub(crate) base: u64,
    /// 9-bit 27 MHz extension (0..300).
    pub(crate) extension: u16,
}

/// The PCR of the packet at the start of `data`, if `data` starts with a whole TS packet that
/// carries one.
pub(crate) fn packet_pcr(data: &[u8]) -> Option<Pcr> {
    let bytes: &[u8; PACKET_SIZE] = data.get(..PACKET_SIZE)?.try_into().ok()?;
    // Only packets whose adaptation field is well formed and flags a PCR reach the parser:
    // most packets have none, and a malformed length would make it log (per packet).
    let adaptation_length = usize::from(bytes[4]);
    let well_formed = match (bytes[3] >> 4) & 0b11 {
        0b10 => adaptation_length == PACKET_SIZE - 5,
        0b11 => (7..=PACKET_SIZE - 6).contains(&adaptation_length),
        _ => false,
    };
    if !well_formed || adaptation_length < 7 || bytes[5] & 0x10 == 0 {
        return None;
    }
    let packet = Packet::try_new(bytes)?;
    let pcr = packet.adaptation_field()?.pcr().ok()?;
    Some(Pcr {
        pid: packet_pid(bytes),
        base: pcr.base(),
        extension: pcr.extension(),
    })
}

/// How many bytes of `data` form the next chunk, and the PCR to wait for before sending it.
///
/// A chunk is either the bytes up to the next sync byte (when `data` is not aligned on a
/// packet; sent unpaced), or up to [`CHUNK_PACKETS`] packets ending before the next packet that
/// carries a PCR; a partial packet at the end is left for later, or included `at_eof`. Returns
/// `None` when `data` is empty, or shorter than a packet and not `at_eof`.
pub(crate) fn next_chunk(data: &[u8], at_eof: bool) -> Option<(usize, Option<Pcr>)> {
    if data.is_empty() {
        return None;
    }
    if data[0] != SYNC_BYTE {
        let len = data
            .iter()
            .position(|&b| b == SYNC_BYTE)
            .unwrap_or(data.len());
        return Some((len, None));
    }
    if data.len() < PACKET_SIZE {
        return at_eof.then_some((data.len(), None));
    }
    let pcr = packet_pcr(data);
    let mut len = PACKET_SIZE;
    while len < CHUNK_PACKETS * PACKET_SIZE {
        let rest = &data[len..];
        if rest.len() < PACKET_SIZE {
            // The whole packets so far; a partial tail waits for more data, or goes out at EOF.
            if at_eof {
                len += rest.len();
            }
            break;
        }
        if rest[0] != SYNC_BYTE || packet_pcr(rest).is_some() {
            break;
        }
        len += PACKET_SIZE;
    }
    Some((len, pcr))
}

/// Maps PCRs to wall-clock deadlines, anchored at the first PCR.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    pid: Option<u16>,
    other_pid_pcrs: u32,
    timeline: Unwrapper,
    /// Wall clock and 27 MHz timeline value of the anchor.
    anchor: Option<(Instant, i64)>,
    last: i64,
}

impl Pacer {
    /// When the packet carrying `pcr` is due, given the current time `now`; `None` for a PCR
    /// of a PID not followed. Re-anchors at `now` on the first PCR, a backwards jump, a forward
    /// jump of more than a few seconds, or a lag of more than a second.
    pub(crate) fn deadline(&mut self, pcr: Pcr, now: Instant) -> Option<Instant> {
        match self.pid {
            Some(pid) if pid == pcr.pid => self.other_pid_pcrs = 0,
            Some(_) if self.other_pid_pcrs + 1 < SWITCH_AFTER => {
                self.other_pid_pcrs += 1;
                return None;
            }
            _ => {
                self.pid = Some(pcr.pid);
                self.other_pid_pcrs = 0;
                self.timeline.reset();
                self.anchor = None;
            }
        }
        let t = self.timeline.unwrap(pcr.base) * 300 + i64::from(pcr.extension);
        let step = t - self.last;
        let deadline = match self.anchor {
            Some((at, origin)) if (0..=MAX_FORWARD_JUMP).contains(&step) => {
                let offset = u64::try_from(t - origin).unwrap_or(0);
                at + Duration::from_nanos(offset.saturating_mul(1000) / 27)
            }
            Some(_) => {
                tracing::debug!(step_ms = step / 27_000, "PCR jump; re-anchoring pacing");
                self.anchor = Some((now, t));
                now
            }
            None => {
                self.anchor = Some((now, t));
                now
            }
        };
        self.last = t;
        if now > deadline + MAX_LAG {
            tracing::debug!("pacing fell behind; re-anchoring");
            self.anchor = Some((now, t));
            return Some(now);
        }
        Some(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet on `pid`, with a PCR when `pcr` is set.
    fn packet(pid: u16, pcr: Option<u64>) -> Vec<u8> {
        let mut p = vec![0xffu8; PACKET_SIZE];
        p[0] = SYNC_BYTE;
        p[1] = (pid >> 8) as u8;
        p[2] = pid as u8;
        match pcr {
            Some(base) => {
                p[3] = 0x30;
                p[4] = 7;
                p[5] = 0x10;
                p[6..12].copy_from_slice(&crate::media::pcr_field(base));
            }
            None => p[3] = 0x10,
        }
        p
    }

    fn pcr(pid: u16, base: u64) -> Pcr {
        Pcr {
            pid,
            base,
            extension: 0,
        }
    }

    #[test]
    fn reads_pcr_and_cuts_chunks_before_pcr_packets() {
        let mut data = packet(0x100, Some(90_000));
        for _ in 0..3 {
            data.extend(packet(0x101, None));
        }
        data.extend(packet(0x100, Some(93_600)));
        assert_eq!(packet_pcr(&data), Some(pcr(0x100, 90_000)));
        let mut malformed = data[..PACKET_SIZE].to_vec();
        malformed[4] = 200;
        assert_eq!(packet_pcr(&malformed), None);
        assert_eq!(packet_pcr(&data[..PACKET_SIZE - 1]), None);
        assert_eq!(
            next_chunk(&data, false),
            Some((4 * PACKET_SIZE, Some(pcr(0x100, 90_000))))
        );
        let rest = &data[4 * PACKET_SIZE..];
        assert_eq!(next_chunk(&rest[..100], false), None);
        assert_eq!(next_chunk(&rest[..100], true), Some((100, None)));
        assert_eq!(
            next_chunk(rest, false),
            Some((PACKET_SIZE, Some(pcr(0x100, 93_600))))
        );
        let mut garbage = vec![1, 2, 3];
        garbage.extend(packet(0x101, None));
        assert_eq!(next_chunk(&garbage, false), Some((3, None)));
        let long: Vec<u8> = (0..40).flat_map(|_| packet(0x101, None)).collect();
        assert_eq!(
            next_chunk(&long, false),
            Some((CHUNK_PACKETS * PACKET_SIZE, None))
        );
    }

    #[test]
    fn deadlines_follow_pcr_across_wrap_and_reanchor_on_jumps() {
        let now = Instant::now();
        let mut pacer = Pacer::default();
        let wrap = 1u64 << 33;
        let start = wrap - 45_000;
        assert_eq!(pacer.deadline(pcr(0x100, start), now), Some(now));
        assert_eq!(pacer.deadline(pcr(0x200, start), now), None);
        let later = pacer.deadline(pcr(0x100, 45_000), now).unwrap();
        assert_eq!(later - now, Duration::from_secs(1));
        // Backwards: re-anchor at now.
        assert_eq!(pacer.deadline(pcr(0x100, 0), now), Some(now));
        // Far forward: re-anchor too.
        assert_eq!(pacer.deadline(pcr(0x100, 90_000 * 60), now), Some(now));
        // Lagging: re-anchor at the later now.
        let late = now + Duration::from_secs(5);
        assert_eq!(pacer.deadline(pcr(0x100, 90_000 * 61), late), Some(late));
    }
}
