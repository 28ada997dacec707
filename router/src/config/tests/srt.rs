//! `type = "srt"` sources: the model compile makes (modes, defaults, typed values), the refusals
//! each at its line and key (passphrase length, caller without `connect`, mode, pbkeylen,
//! listeners sharing a port without one bind and distinct stream ids), the passphrase shown as `***` in the
//! graph and named but never shown by the reload diff.

use std::time::Duration;

use super::super::diff::diff;
use super::super::model::{KeyLength, SourceKind, SrtMode, SrtPassphrase, SrtSource};
use super::super::render_text;
use super::{compile, compile_in, errors_at, graph};

/// A source and what reads it, so the graph has no unused node.
fn fed(source: &str, keys: &str) -> String {
    format!(
        "[sources.{source}]\ntype = \"srt\"\n{keys}\n[segmenters.{source}]\ninput = \"{source}\"\n\
         [playlists.{source}]\ninput = \"{source}\"\nname = \"{source}.m3u8\"\n\
         [sinks.{source}]\ntype = \"local\"\ninputs = [\"{source}\"]\npath = \"/srv/{source}\"\n"
    )
}

fn srt_of(text: &str, name: &str) -> SrtSource {
    let loaded = compile(text);
    match &graph(&loaded).sources[name].kind {
        SourceKind::Srt(srt) => srt.clone(),
        other => panic!("not srt: {other:?}"),
    }
}

/// The errors of `text` as owned (line, key, message), through the tests' `errors_at`.
fn errors(text: &str) -> Vec<(usize, String, String)> {
    let loaded = compile(text);
    let found = errors_at(&loaded);
    found
        .into_iter()
        .map(|(line, key, message)| (line, key.to_owned(), message.to_owned()))
        .collect()
}

#[test]
fn each_mode_compiles_to_typed_values_with_defaults() {
    let listener = srt_of(&fed("cam", "bind = \"0.0.0.0:9000\""), "cam");
    assert_eq!(
        listener,
        SrtSource {
            mode: SrtMode::Listener {
                bind: "0.0.0.0:9000".parse().unwrap()
            },
            stream_id: None,
            passphrase: None,
            pbkeylen: None,
            latency: Duration::from_millis(120),
        }
    );
    let keys = "mode = \"caller\"\nconnect = \"encoder.example.com:9000\"\nstream_id = \"cam1\"\n\
                passphrase = \"0123456789\"\npbkeylen = 32\nlatency = \"250ms\"";
    let caller = srt_of(&fed("cam", keys), "cam");
    assert_eq!(
        caller,
        SrtSource {
            mode: SrtMode::Caller {
                connect: "encoder.example.com:9000".to_owned()
            },
            stream_id: Some("cam1".to_owned()),
            passphrase: SrtPassphrase::new("0123456789").ok(),
            pbkeylen: Some(KeyLength::Aes256),
            latency: Duration::from_millis(250),
        }
    );
    let keys = "mode = \"rendezvous\"\nbind = \"0.0.0.0:9001\"\nconnect = \"10.0.0.2:9001\"";
    let rendezvous = srt_of(&fed("cam", keys), "cam");
    assert_eq!(
        rendezvous.mode,
        SrtMode::Rendezvous {
            bind: "0.0.0.0:9001".parse().unwrap(),
            connect: "10.0.0.2:9001".to_owned()
        }
    );
}

#[test]
fn bad_srt_values_are_each_explained_at_their_key() {
    let text = [
        fed(
            "short",
            "bind = \"0.0.0.0:9000\"\npassphrase = \"123456789\"",
        ),
        fed(
            "long",
            &format!(
                "bind = \"0.0.0.0:9001\"\npassphrase = \"{}\"",
                "x".repeat(80)
            ),
        ),
        fed("dial", "mode = \"caller\""),
        fed("odd", "mode = \"push\"\nbind = \"0.0.0.0:9002\""),
        fed("key", "bind = \"0.0.0.0:9003\"\npbkeylen = 20"),
        fed(
            "host",
            "mode = \"caller\"\nconnect = \"encoder.example.com\"",
        ),
    ]
    .concat();
    let found = errors(&text);
    let want = [
        (
            4,
            "sources.short.passphrase",
            "an SRT passphrase has 10 to 79 characters (bytes), this one has 9",
        ),
        (
            17,
            "sources.long.passphrase",
            "an SRT passphrase has 10 to 79 characters (bytes), this one has 80",
        ),
        (
            27,
            "sources.dial.connect",
            "missing `connect`: the listener's host:port, like encoder.example.com:9000",
        ),
        (
            41,
            "sources.odd.mode",
            "unknown SRT mode `push`; expected listener, caller or rendezvous",
        ),
        (
            55,
            "sources.key.pbkeylen",
            "must be 16, 24 or 32 (bytes of AES key)",
        ),
        (
            68,
            "sources.host.connect",
            "not a host and port, like encoder.example.com:9000",
        ),
    ];
    let want: Vec<(usize, String, String)> = want
        .iter()
        .map(|(line, key, message)| (*line, (*key).to_owned(), (*message).to_owned()))
        .collect();
    assert_eq!(found, want);
    assert!(
        !format!("{found:?}").contains("123456789"),
        "a passphrase was quoted"
    );
}

#[test]
fn listeners_on_one_port_need_distinct_stream_ids() {
    let distinct = [
        fed("a", "bind = \"0.0.0.0:9000\"\nstream_id = \"a\""),
        fed("b", "bind = \"0.0.0.0:9000\"\nstream_id = \"b\""),
    ]
    .concat();
    assert_eq!(errors(&distinct), []);
    let two_addresses = [
        fed("a", "bind = \"0.0.0.0:9000\"\nstream_id = \"a\""),
        fed("b", "bind = \"127.0.0.1:9000\"\nstream_id = \"b\""),
    ]
    .concat();
    let found = errors(&two_addresses);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1.as_str()), (16, "sources.b.bind"));
    assert!(
        found[0].2.contains("share one `bind` (0.0.0.0:9000)"),
        "{found:?}"
    );
    let same = [
        fed("a", "bind = \"0.0.0.0:9000\"\nstream_id = \"a\""),
        fed("b", "bind = \"0.0.0.0:9000\"\nstream_id = \"a\""),
    ]
    .concat();
    let found = errors(&same);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0, found[0].1.as_str()),
        (17, "sources.b.stream_id")
    );
    assert!(
        found[0].2.contains("need distinct `stream_id`s"),
        "{found:?}"
    );
    let unnamed = [
        fed("a", "bind = \"0.0.0.0:9000\"\nstream_id = \"a\""),
        fed("b", "bind = \"0.0.0.0:9000\""),
    ]
    .concat();
    let found = errors(&unnamed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1.as_str()), (16, "sources.b.bind"));
    assert!(found[0].2.contains("each need a `stream_id`"), "{found:?}");
}

#[test]
fn the_passphrase_is_shown_as_stars_and_its_change_named_only() {
    let text = |var: &str| {
        fed(
            "cam",
            &format!("bind = \"0.0.0.0:9000\"\nstream_id = \"cam1\"\npassphrase = \"${{{var}}}\""),
        )
    };
    let vars = [
        ("OLD", "old-passphrase-value"),
        ("NEW", "new-passphrase-value"),
    ];
    let compiled = |text: &str| graph(&compile_in(&[("conf/test.toml", text)], &vars, &[])).clone();
    let old = compiled(&text("OLD"));
    let new = compiled(&text("NEW"));
    let rendered = render_text(&old);
    assert!(
        rendered
            .lines()
            .any(|line| line.contains("passphrase") && line.contains("***")),
        "{rendered}"
    );
    assert!(!rendered.contains("passphrase-value"), "{rendered}");
    // A listener without `pbkeylen` answers with the caller's key length.
    let pbkeylen = rendered.lines().find(|line| line.contains("pbkeylen"));
    assert!(
        pbkeylen.is_some_and(|line| line.contains("the caller's")),
        "{rendered}"
    );
    let changed = diff(&old, &new).unwrap_or_else(|refused| panic!("{refused}"));
    assert_eq!(changed.sources.changed["cam"], ["passphrase"]);
    let shown = format!("{changed}\n{changed:?}");
    assert!(!shown.contains("passphrase-value"), "{shown}");
}
