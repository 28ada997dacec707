//! Config text compiled (templates, feeds, `${VAR}`, every check): diagnostics, never a panic,
//! and a graph exactly when there is no error.
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use streamrouter::config::model::Severity;
use streamrouter::config::{Environment, compile_sources_with};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let var = |name: &str| (name == "SET").then(|| "value".to_owned());
    let read = |_: &Path| Ok("secret\n".to_owned());
    let environment = Environment {
        home: Some(Path::new("/home/fuzz")),
        var: &var,
        read_file: &read,
    };
    let sources = [(
        PathBuf::from("/etc/streamrouter/fuzz.toml"),
        text.to_owned(),
    )];
    let loaded = compile_sources_with(&sources, &environment);
    let errors = loaded
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error);
    assert_eq!(loaded.graph.is_some(), !errors);
});
