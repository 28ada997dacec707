//! The segmenter's view of PAT and PMT: which program and main stream to follow, and when a
//! table change starts a new timeline.

use super::state::packet_payload;
use super::{MainStream, Segment, Segmenter};
use crate::media::TsPacket;
use crate::media::codec::StreamKind;
use crate::media::psi::{Pmt, PsiError, SectionAssembler, parse_pat, parse_pmt};

impl Segmenter {
    /// Counts and logs a section that could not be read.
    fn usable<T>(&mut self, parsed: Result<T, PsiError>, table: &'static str) -> Option<T> {
        parsed
            .inspect_err(|error| {
                self.stats.psi_errors += 1;
                tracing::debug!(%error, table, "unusable PSI section");
            })
            .ok()
    }

    pub(super) fn read_pat(&mut self, packet: &TsPacket, unit_start: bool, out: &mut Vec<Segment>) {
        for section in complete_sections(&mut self.pat_assembler, packet, unit_start) {
            let Some(pat) = self.usable(parse_pat(&section), "PAT") else {
                continue;
            };
            let Some(&program) = pat.programs.first() else {
                continue;
            };
            if self.program == Some(program) && self.pat_version == Some(pat.version) {
                continue;
            }
            if self.program.is_some() {
                tracing::info!(version = pat.version, "PAT changed: new timeline");
                self.break_timeline(out);
            }
            if self.program.is_some_and(|p| p.pmt_pid != program.pmt_pid) {
                self.pmt = None;
                self.main = None;
                self.pmt_assembler.reset();
            }
            self.program = Some(program);
            self.pat_version = Some(pat.version);
            self.psi_out
                .set_pat(pat.transport_stream_id, pat.version, program);
        }
    }

    pub(super) fn read_pmt(
        &mut self,
        pid: u16,
        packet: &TsPacket,
        unit_start: bool,
        out: &mut Vec<Segment>,
    ) {
        for section in complete_sections(&mut self.pmt_assembler, packet, unit_start) {
            let Some(pmt) = self.usable(parse_pmt(&section), "PMT") else {
                continue;
            };
            if self
                .program
                .is_some_and(|p| p.program_number != pmt.program_number)
            {
                continue;
            }
            if self.pmt.as_ref() == Some(&pmt) {
                continue;
            }
            if self.pmt.is_some() {
                tracing::info!(version = pmt.version, "PMT changed: new timeline");
                self.break_timeline(out);
            }
            self.select_main_stream(&pmt);
            self.psi_out.set_pmt(pid, &section);
            self.pmt = Some(pmt);
        }
    }

    pub(super) fn select_main_stream(&mut self, pmt: &Pmt) {
        let chosen = pmt
            .streams
            .iter()
            .find(|s| s.codec.kind() == StreamKind::Video)
            .or_else(|| {
                pmt.streams
                    .iter()
                    .find(|s| s.codec.kind() == StreamKind::Audio)
            });
        let Some(stream) = chosen else {
            tracing::warn!("program has no audio or video stream to cut on");
            self.main = None;
            return;
        };
        if self
            .main
            .as_ref()
            .is_some_and(|m| m.pid == stream.pid && m.codec == stream.codec)
        {
            return;
        }
        tracing::debug!(pid = stream.pid, codec = ?stream.codec, "main stream selected");
        self.main = Some(MainStream::new(stream.pid, stream.codec));
    }
}

/// Feeds a PSI packet to its assembler; returns the sections it completed.
fn complete_sections(
    assembler: &mut SectionAssembler,
    packet: &TsPacket,
    unit_start: bool,
) -> Vec<Vec<u8>> {
    let mut sections = Vec::new();
    if let Some(payload) = packet_payload(packet) {
        assembler.push(payload, unit_start, &mut sections);
    }
    sections
}
