//! A segment's bytes analysed for the master playlist's attributes (codecs, resolution, frame
//! rate): an error for anything unreadable, never a panic out of `analyze`.
//!
//! scuffle-h265 panics on some malformed SPS, and `analyze` catches that (see `media::
//! stream_info::hevc`). libFuzzer's panic hook would abort on the caught panic too, so this
//! target keeps the default hook: a panic that escapes `analyze` still aborts, through
//! libfuzzer-sys's own catch around the target.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static DEFAULT_HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    DEFAULT_HOOK.call_once(|| {
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
    });
    if let Ok(info) = streamrouter::media::stream_info::analyze(data) {
        let _ = info.codecs();
    }
});
