//! TS framing: turns an arbitrary byte stream into aligned 188-byte packets, resynchronising
//! after garbage, lost bytes or a truncated tail.
//!
//! mpeg2ts-reader only accepts whole aligned packets and stops at the first bad sync byte, so
//! framing is ours. Sync is acquired where three sync bytes stand 188 bytes apart (fewer only at
//! the very end of the input); once in sync a packet is accepted while its first byte is 0x47.
//! Owns no I/O: callers push whatever chunks they read.

use super::TsPacket;

/// Size of one transport stream packet.
pub const PACKET_SIZE: usize = 188;
/// The first byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;
/// Sync bytes in a row needed to (re)acquire sync.
const SYNC_CONFIRMATIONS: usize = 3;
/// How far past an in-rhythm packet framing looks for the next sync point before trusting it.
const MAX_LOOKAHEAD: usize = 64 * 1024;
/// Bytes of a new chunk joined to carried-over bytes before framing continues in place.
const JOIN_BYTES: usize = (SYNC_CONFIRMATIONS + 1) * PACKET_SIZE;

/// What framing saw, for logs and metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FramingStats {
    /// Whole packets delivered.
    pub packets: u64,
    /// Bytes skipped while looking for sync (garbage, partial packets).
    pub skipped_bytes: u64,
    /// Times sync was lost after having been acquired.
    pub sync_losses: u64,
    /// Bytes of an incomplete packet at the end of the input.
    pub truncated_tail_bytes: u64,
}

/// Splits a byte stream into aligned TS packets.
#[derive(Debug, Default)]
pub struct TsFramer {
    pending: Vec<u8>,
    synced: bool,
    stats: FramingStats,
}

impl TsFramer {
    /// A framer that has not yet seen any byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> &FramingStats {
        &self.stats
    }

    /// Whether the framer currently trusts its packet alignment.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Feeds the next chunk of input; `on_packet` is called for every whole packet found.
    pub fn push(&mut self, data: &[u8], mut on_packet: impl FnMut(&TsPacket)) {
        let mut data = data;
        if !self.pending.is_empty() {
            // Join the carried-over bytes with the start of the new chunk; once framing has
            // moved past them, the rest of the chunk is framed in place without copying.
            let carried = self.pending.len();
            let joined = data.len().min(JOIN_BYTES);
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(&data[..joined]);
            let consumed = self.frame(&pending, false, &mut on_packet);
            if consumed < carried {
                pending.extend_from_slice(&data[joined..]);
                let consumed = consumed + self.frame(&pending[consumed..], false, &mut on_packet);
                pending.drain(..consumed);
                self.pending = pending;
                return;
            }
            data = &data[consumed - carried..];
            pending.clear();
            self.pending = pending;
        }
        let consumed = self.frame(data, false, &mut on_packet);
        self.pending.extend_from_slice(&data[consumed..]);
    }

    /// Ends the input: frames what is left with relaxed confirmation and counts any incomplete
    /// trailing packet as truncated.
    pub fn finish(&mut self, on_packet: impl FnMut(&TsPacket)) {
        let pending = std::mem::take(&mut self.pending);
        let consumed = self.frame(&pending, true, on_packet);
        let rest = &pending[consumed..];
        if !rest.is_empty() {
            if rest[0] == SYNC_BYTE {
                self.stats.truncated_tail_bytes += rest.len() as u64;
            } else {
                self.stats.skipped_bytes += rest.len() as u64;
            }
        }
    }

    /// Frames as much of `buf` as possible and returns how many bytes were consumed.
    fn frame(&mut self, buf: &[u8], at_end: bool, mut on_packet: impl FnMut(&TsPacket)) -> usize {
        let mut pos = 0;
        while pos + PACKET_SIZE <= buf.len() {
            if self.synced && buf[pos] == SYNC_BYTE {
                match self.check_in_sync(buf, pos, at_end) {
                    InSync::Accept => {
                        if let Ok(packet) = <&TsPacket>::try_from(&buf[pos..pos + PACKET_SIZE]) {
                            self.stats.packets += 1;
                            on_packet(packet);
                        }
                        pos += PACKET_SIZE;
                        continue;
                    }
                    InSync::Wait => return pos,
                    InSync::Lost => {}
                }
            }
            if self.synced {
                self.synced = false;
                self.stats.sync_losses += 1;
            }
            match find_sync(&buf[pos..], at_end) {
                SyncSearch::Found(offset) => {
                    self.stats.skipped_bytes += offset as u64;
                    pos += offset;
                    self.synced = true;
                }
                SyncSearch::NeedMoreData(offset) => {
                    self.stats.skipped_bytes += offset as u64;
                    return pos + offset;
                }
            }
        }
        pos
    }

    /// Decides whether the in-rhythm packet at `pos` is real. When the byte a packet later is no
    /// sync byte, either this packet is garbage that happens to start with 0x47, or garbage
    /// follows it: the next confirmed sync point tells which (a real packet ends before it).
    fn check_in_sync(&self, buf: &[u8], pos: usize, at_end: bool) -> InSync {
        match buf.get(pos + PACKET_SIZE) {
            Some(&SYNC_BYTE) => InSync::Accept,
            None if at_end => InSync::Accept,
            None => InSync::Wait,
            Some(_) => match find_sync(&buf[pos + 1..], at_end) {
                SyncSearch::Found(offset) if offset + 1 < PACKET_SIZE => InSync::Lost,
                SyncSearch::Found(_) => InSync::Accept,
                SyncSearch::NeedMoreData(_) if at_end || buf.len() - pos > MAX_LOOKAHEAD => {
                    InSync::Accept
                }
                SyncSearch::NeedMoreData(_) => InSync::Wait,
            },
        }
    }
}

enum InSync {
    Accept,
    Lost,
    Wait,
}

enum SyncSearch {
    /// Sync confirmed at this offset.
    Found(usize),
    /// Nothing before this offset can start a packet; more data is needed to decide the rest.
    NeedMoreData(usize),
}

/// Finds the first offset where `SYNC_CONFIRMATIONS` sync bytes stand a packet apart. At the end
/// of the input, candidates near the end are confirmed by whatever sync bytes fit.
fn find_sync(buf: &[u8], at_end: bool) -> SyncSearch {
    let mut offset = 0;
    while offset + PACKET_SIZE <= buf.len() {
        if buf[offset] == SYNC_BYTE {
            let mut confirmed = true;
            for k in 1..SYNC_CONFIRMATIONS {
                match buf.get(offset + k * PACKET_SIZE) {
                    Some(&SYNC_BYTE) => {}
                    Some(_) => {
                        confirmed = false;
                        break;
                    }
                    None if at_end => break,
                    None => return SyncSearch::NeedMoreData(offset),
                }
            }
            if confirmed {
                return SyncSearch::Found(offset);
            }
        }
        offset += 1;
    }
    SyncSearch::NeedMoreData(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(tag: u8) -> Vec<u8> {
        let mut p = vec![tag; PACKET_SIZE];
        p[0] = SYNC_BYTE;
        p
    }

    fn frame_all(chunks: &[&[u8]]) -> (Vec<u8>, FramingStats) {
        let mut framer = TsFramer::new();
        let mut tags = Vec::new();
        for chunk in chunks {
            framer.push(chunk, |p| tags.push(p[1]));
        }
        framer.finish(|p| tags.push(p[1]));
        (tags, framer.stats().clone())
    }

    #[test]
    fn aligned_input_in_odd_chunks() {
        let stream: Vec<u8> = (1..=10).flat_map(packet).collect();
        let chunks: Vec<&[u8]> = stream.chunks(100).collect();
        let (tags, stats) = frame_all(&chunks);
        assert_eq!(tags, (1..=10).collect::<Vec<u8>>());
        assert_eq!(stats.skipped_bytes, 0);
        assert_eq!(stats.sync_losses, 0);
    }

    #[test]
    fn garbage_between_packets_is_skipped_and_counted() {
        let mut stream: Vec<u8> = (1..=4).flat_map(packet).collect();
        stream.extend_from_slice(&[0x47, 1, 2, 0x47, 9, 9, 9]);
        stream.extend((5..=9).flat_map(packet));
        let (tags, stats) = frame_all(&[&stream]);
        assert_eq!(tags, (1..=9).collect::<Vec<u8>>());
        assert_eq!(stats.sync_losses, 1);
        assert_eq!(stats.skipped_bytes, 7);
    }

    #[test]
    fn chunking_never_changes_the_result() {
        let mut stream = vec![0x47, 0, 0x47];
        stream.extend((1..=6).flat_map(packet));
        stream.extend_from_slice(&[0x47; 5]);
        stream.extend((7..=12).flat_map(packet));
        stream.extend_from_slice(&[1, 2, 3]);
        stream.extend((13..=20).flat_map(packet));
        stream.extend_from_slice(&packet(21)[..50]);
        let (whole, whole_stats) = frame_all(&[&stream]);
        assert_eq!(whole, (1..=20).collect::<Vec<u8>>());
        for size in [1, 7, 100, 187, 188, 189, 376, 500, 1000] {
            let chunks: Vec<&[u8]> = stream.chunks(size).collect();
            let (tags, stats) = frame_all(&chunks);
            assert_eq!(tags, whole, "chunk size {size}");
            assert_eq!(stats, whole_stats, "chunk size {size}");
        }
    }

    #[test]
    fn leading_garbage_before_first_packet() {
        let mut stream = vec![0u8; 1000];
        stream.extend((1..=5).flat_map(packet));
        let (tags, stats) = frame_all(&[&stream[..500], &stream[500..]]);
        assert_eq!(tags, (1..=5).collect::<Vec<u8>>());
        assert_eq!(stats.skipped_bytes, 1000);
    }

    #[test]
    fn truncated_last_packet_is_reported_not_delivered() {
        let mut stream: Vec<u8> = (1..=3).flat_map(packet).collect();
        stream.extend_from_slice(&packet(4)[..100]);
        let (tags, stats) = frame_all(&[&stream]);
        assert_eq!(tags, vec![1, 2, 3]);
        assert_eq!(stats.truncated_tail_bytes, 100);
    }

    #[test]
    fn a_lone_packet_at_the_end_is_accepted() {
        let (tags, _) = frame_all(&[&packet(7)]);
        assert_eq!(tags, vec![7]);
    }

    #[test]
    fn data_without_sync_yields_nothing() {
        let noise: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8 | 0x80).collect();
        let (tags, stats) = frame_all(&[&noise]);
        assert!(tags.is_empty());
        assert_eq!(stats.packets, 0);
        assert_eq!(stats.skipped_bytes, 5000);
    }
}
