//! `[playlists.NAME.encryption]`: what `check` refuses at its key and line (an unknown method,
//! a `key_uri` without `{key}` while keys rotate, a `key_sink` that is not declared or comes
//! without `key_uri`, a bad `key_name` or `key_source`), and what a good table compiles to.

use super::{CHAIN, compile, errors_at};

/// The chain with an encryption table of `keys` (and a sink `keys` with no playlist when they
/// name it).
fn with_encryption(keys: &str) -> String {
    let playlist =
        format!("[playlists.cam]\ninput = \"cam\"\n\n[playlists.cam.encryption]\n{keys}\n");
    let chain = CHAIN.replace("[playlists.cam]\ninput = \"cam\"\n", &playlist);
    match keys.contains("key_sink = \"keys\"") {
        true => {
            format!("{chain}\n[sinks.keys]\ntype = \"local\"\ninputs = []\npath = \"/srv/keys\"\n")
        }
        false => chain,
    }
}

/// The errors.
fn findings(text: &str) -> Vec<(usize, String, String)> {
    let loaded = compile(text);
    (errors_at(&loaded).into_iter())
        .map(|(line, key, message)| (line, key.to_owned(), message.to_owned()))
        .collect()
}

fn line_of(text: &str, needle: &str) -> usize {
    let index = text.lines().position(|line| line.contains(needle));
    index
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle} not in {text}"))
}

#[test]
fn the_issues_example_compiles_to_its_settings() {
    let text = with_encryption(
        "method = \"AES-128\"\nrotate_every = 3\nkey_name = \"cam-{key:04}.key\"\n\
         key_uri = \"https://keys.example.com/cam/{key:04}.key\"\nkey_sink = \"keys\"\n\
         key_source = \"random\"",
    );
    assert_eq!(findings(&text), []);
    let loaded = compile(&text);
    let graph = loaded.graph.as_ref().expect("a graph");
    let encryption = (graph.playlists["cam"].encryption.as_ref()).expect("encryption");
    assert_eq!(encryption.rotate_every, 3);
    assert_eq!(encryption.key_name.render(7), "cam-0007.key");
    let uri = encryption.key_uri.as_ref().map(|uri| uri.render(12));
    assert_eq!(
        uri.as_deref(),
        Some("https://keys.example.com/cam/0012.key")
    );
    assert_eq!(encryption.key_sink.as_deref(), Some("keys"));
    assert!(graph.sinks["keys"].inputs.is_empty());
    // No warning about the key sink having no playlist, nor about the table's keys.
    let warnings: Vec<_> = (loaded.diagnostics.iter())
        .filter(|d| d.severity == crate::config::model::Severity::Warning)
        .map(|d| d.to_string())
        .collect();
    assert!(
        warnings.iter().all(|w| !w.contains("encryption")),
        "{warnings:?}"
    );
    // The defaults alone (one key, stored with the segments) have nothing to report either.
    assert_eq!(findings(&with_encryption("")), []);
}

#[test]
fn check_refuses_what_cannot_work_at_its_key_and_line() {
    let cases = [
        (
            "method = \"AES-256\"",
            "method",
            "unknown encryption method",
        ),
        ("method = \"SAMPLE-AES\"", "method", "not built yet"),
        (
            "rotate_every = 3\nkey_uri = \"https://k.example.com/the.key\"",
            "key_uri",
            "has no `{key}`",
        ),
        ("key_uri = \"https://k/{key:5}.key\"", "key_uri", "{key:0N}"),
        (
            "key_uri = \"https://k/{key}\"\nkey_sink = \"vault\"",
            "key_sink",
            "`vault` is not a declared sink (sinks: `web`)",
        ),
        ("key_sink = \"keys\"", "key_sink", "needs `key_uri`"),
        ("key_name = \"cam.key\"", "key_name", "has no `{key}`"),
        (
            "key_name = \"../keys/{key}.key\"",
            "key_name",
            "`../keys/{key}.key`",
        ),
        (
            "key_source = \"kms\"",
            "key_source",
            "unknown key source `kms`",
        ),
        ("rotate_evry = 3", "rotate_evry", "rotate_every"),
        ("rotate_every = -1", "rotate_every", "0 or more"),
    ];
    for (keys, key, expected) in cases {
        let text = with_encryption(keys);
        let found = findings(&text);
        let wanted = format!("playlists.cam.encryption.{key}");
        assert_eq!(found.len(), 1, "{keys}: {found:?}");
        let (line, found_key, message) = &found[0];
        assert_eq!(found_key, &wanted, "{keys}: {message}");
        let needle = keys.lines().find(|l| l.starts_with(key)).unwrap_or(keys);
        assert_eq!(*line, line_of(&text, needle), "{keys}");
        assert!(message.contains(expected), "{keys}: {message}");
    }
}

#[test]
fn one_key_for_life_may_have_a_fixed_uri() {
    let text = with_encryption("rotate_every = 0\nkey_uri = \"https://k.example.com/the.key\"");
    assert_eq!(findings(&text), []);
}

#[test]
fn a_sink_without_playlists_must_be_a_key_sink() {
    let text =
        format!("{CHAIN}\n[sinks.spare]\ntype = \"local\"\ninputs = []\npath = \"/srv/x\"\n");
    let loaded = compile(&text);
    let errors = errors_at(&loaded);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (line, key, message) = errors[0];
    assert_eq!(
        (line, key),
        (line_of(&text, "inputs = []"), "sinks.spare.inputs")
    );
    assert!(
        message.contains("must list at least one playlist"),
        "{message}"
    );
}
