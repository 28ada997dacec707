//! Two playlists writing one file at one remote place: a bucket at one endpoint (its prefix
//! before every key), a directory of one server (a relative one in the user's login directory).

use super::{CHAIN, compile, listing};

/// `(line, key, message)` of every diagnostic.
fn found(loaded: &super::Loaded) -> Vec<(usize, &str, &str)> {
    loaded
        .diagnostics
        .iter()
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect()
}

/// CHAIN without its sink, a playlist `two` with `two_settings` (two lines), and two sinks: `a`
/// publishing `cam` and `b` publishing `two`.
fn two_sinks_with(two_settings: &str, a: &str, b: &str) -> super::Loaded {
    let chain = CHAIN.replace(
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"/srv/live\"\n",
        "",
    );
    compile(&format!(
        "{chain}[playlists.two]\ninput = \"cam\"\n{two_settings}\n\
         [sinks.a]\ninputs = [\"cam\"]\n{a}\n[sinks.b]\ninputs = [\"two\"]\n{b}\n"
    ))
}

/// [`two_sinks_with`] where `two` writes `cam.m3u8` (line 14), like `cam`.
fn two_sinks(a: &str, b: &str) -> super::Loaded {
    two_sinks_with("name = \"cam.m3u8\"\nsegment_name = \"two-{seq}.ts\"", a, b)
}

#[test]
fn two_playlists_writing_one_remote_file_name_both() {
    let s3 = "type = \"s3\"\nbucket = \"live\"\nprefix = \"x/\"";
    let loaded = two_sinks(s3, s3);
    assert_eq!(
        found(&loaded),
        [(
            14,
            "playlists.two.name",
            "`cam.m3u8` in s3://live/x/ is also written by playlist `cam` (sink `a`)"
        )]
    );
    let other_server = "type = \"s3\"\nbucket = \"live\"\nprefix = \"x/\"\n\
                        endpoint = \"http://minio:9000\"";
    let loaded = two_sinks(s3, other_server);
    assert!(
        loaded.diagnostics.is_empty(),
        "the same bucket on another server"
    );
    let loaded = two_sinks(s3, "type = \"s3\"\nbucket = \"live\"\nprefix = \"y/\"");
    assert!(loaded.diagnostics.is_empty(), "another prefix");

    let ftp = "type = \"ftp\"\nhost = \"FTP.example.com\"\ndirectory = \"/srv/\"";
    let scp = "type = \"scp\"\nhost = \"ftp.example.com\"\nport = 21\nuser = \"u\"\n\
               key_file = \"/k\"\ndirectory = \"/srv\"";
    let loaded = two_sinks(ftp, scp);
    assert_eq!(
        found(&loaded),
        [(
            14,
            "playlists.two.name",
            "`cam.m3u8` in ftp.example.com:21 /srv is also written by playlist `cam` (sink `a`)"
        )],
        "one directory of one server, whatever the protocol and the user"
    );
    let relative = |user: &str| format!("type = \"ftp\"\nhost = \"h\"\nuser = \"{user}\"");
    let loaded = two_sinks(&relative("alice"), &relative("bob"));
    assert!(
        loaded.diagnostics.is_empty(),
        "the login directories of two users: {}",
        listing(&loaded.diagnostics)
    );
    let loaded = two_sinks(&relative("alice"), &relative("alice"));
    assert_eq!(
        found(&loaded),
        [(
            14,
            "playlists.two.name",
            "`cam.m3u8` in h:21 ~alice is also written by playlist `cam` (sink `a`)"
        )]
    );
}

#[test]
fn an_s3_prefix_is_part_of_every_key() {
    // `cam` writes `cam-{seq:05}.ts`; `two` writes `{seq}.ts` after the prefix `cam-`: both
    // can write the key `cam-123456.ts`.
    let loaded = two_sinks_with(
        "name = \"two.m3u8\"\nsegment_name = \"{seq}.ts\"",
        "type = \"s3\"\nbucket = \"live\"",
        "type = \"s3\"\nbucket = \"live\"\nprefix = \"cam-\"",
    );
    assert_eq!(
        found(&loaded),
        [
            (
                15,
                "playlists.two.segment_name",
                "segment names `{seq}.ts` in s3://live/cam- can be the same as those of playlist \
                 `cam` (sink `a`); give each playlist its own segment_name"
            ),
            (
                24,
                "sinks.b.prefix",
                "`cam-` does not end with `/`: object keys will be it directly followed by the \
                 file name"
            ),
        ]
    );
}
