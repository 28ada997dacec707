//! PSI sections reassembled from arbitrary payloads and parsed as PAT and PMT, and PES headers
//! parsed from arbitrary payloads: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamrouter::media::{pes, psi};

fuzz_target!(|data: &[u8]| {
    let _ = psi::parse_pat(data);
    let _ = psi::parse_pmt(data);
    let _ = pes::parse_pes_start(data);
    // The same bytes as a run of 184-byte payloads, the first starting a section.
    let mut assembler = psi::SectionAssembler::default();
    let mut sections = Vec::new();
    for (index, payload) in data.chunks(184).enumerate() {
        assembler.push(payload, index == 0, &mut sections);
    }
    for section in &sections {
        let _ = psi::parse_pat(section);
        let _ = psi::parse_pmt(section);
    }
});
