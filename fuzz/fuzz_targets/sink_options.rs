//! A plugin sink's options text read by every built-in backend's settings type (the same
//! reading the router's config does): an error message or settings, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let home = Path::new("/home/fuzz");
    let _ = streamrouter_s3::settings_from_options(text);
    let _ = streamrouter_local::settings_from_options(text, Some(home));
    let _ = streamrouter_scp::settings_from_options(text, home);
    let read = |_: &Path| Ok("secret\n".to_owned());
    let _ = streamrouter_ftp::settings_from_options(text, Some(home), read);
});
