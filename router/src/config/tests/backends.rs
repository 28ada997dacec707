//! One settings type per backend: a table written as a built-in sink (`type = "s3"`, ...) and
//! the same table handed to the backend's plugin build as options are read alike: the same
//! settings with the same defaults, or the same errors (key and message).

use std::path::Path;

use super::super::model::{Severity, SinkKind};
use super::{CHAIN, HOME, compile_in};

/// The only password file the tests can read: `/etc/ftp.pass`.
fn read(path: &Path) -> std::io::Result<String> {
    match path == Path::new("/etc/ftp.pass") {
        true => Ok("pa55\n".to_owned()),
        false => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory",
        )),
    }
}

/// `table` as the keys of a built-in sink of `sink_type`: its settings, or every error as
/// `key: message` (the key without `sinks.x.`).
fn built_in(sink_type: &str, table: &str) -> Result<SinkKind, Vec<String>> {
    let text = format!("{CHAIN}\n[sinks.x]\ntype = \"{sink_type}\"\ninputs = [\"cam\"]\n{table}\n");
    let loaded = compile_in(
        &[("conf/test.toml", &text)],
        &[],
        &[("/etc/ftp.pass", "pa55\n")],
    );
    match &loaded.graph {
        Some(graph) => Ok(graph.sinks["x"].kind.clone()),
        None => Err((loaded.diagnostics.iter())
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let key = d.key.strip_prefix("sinks.x.").unwrap_or(&d.key);
                format!("{key}: {}", d.message)
            })
            .collect()),
    }
}

/// The plugin's error is `bad options: ` and exactly the built-in's errors, joined by `; `.
fn assert_same_errors(plugin: &str, built_in: &[String], table: &str) {
    let joined = plugin.strip_prefix("bad options: ").unwrap_or(plugin);
    for error in built_in {
        assert!(
            joined.contains(error.as_str()),
            "{table}\nplugin: {plugin}\nmissing: {error}"
        );
    }
    let length =
        built_in.iter().map(String::len).sum::<usize>() + 2 * built_in.len().saturating_sub(1);
    assert_eq!(
        joined.len(),
        length,
        "{table}\nplugin: {plugin}\nbuilt-in: {built_in:?}"
    );
}

/// Each table read both ways; `plugin` is the backend's options parser.
fn same_both_ways<T: std::fmt::Debug + PartialEq>(
    sink_type: &str,
    tables: &[&str],
    plugin: impl Fn(&str) -> Result<T, String>,
    settings: impl Fn(&SinkKind) -> Option<&T>,
) {
    for table in tables {
        match (built_in(sink_type, table), plugin(table)) {
            (Ok(kind), Ok(plugged)) => assert_eq!(settings(&kind), Some(&plugged), "{table}"),
            (Err(errors), Err(plugged)) => assert_same_errors(&plugged, &errors, table),
            (built_in, plugged) => panic!("{table}\nbuilt-in: {built_in:?}\nplugin: {plugged:?}"),
        }
    }
}

#[test]
fn s3_options_read_as_plugin_and_built_in_alike() {
    let tables = [
        "bucket = \"live\"",
        "bucket = \"live\"\nprefix = \"cam\"",
        "bucket = \"live.1\"\nprefix = \"a/\"\nregion = \"eu-west-3\"\nendpoint = \
         \"http://127.0.0.1:9000\"\nacl = \"public-read\"\naccess_key_id = \"AKID\"\n\
         secret_access_key = \"hush\"",
        "prefix = \"/x\"\nregion = 3\nacl = \"public_read\"\naccess_key_id = \"\"",
        "bucket = \"My_Bucket\"\nendpoint = \"s3.example.com\"\nsecret_access_key = \"k\"",
        "bucket = 5\nregion = \"eu west\"",
    ];
    same_both_ways(
        "s3",
        &tables,
        streamrouter_s3::settings_from_options,
        |kind| match kind {
            SinkKind::S3(s3) => Some(s3),
            _ => None,
        },
    );
}

#[test]
fn ftp_options_read_as_plugin_and_built_in_alike() {
    let tables = [
        "host = \"ftp.example.com\"",
        "host = \"10.0.0.2\"\nport = 2121\nuser = \"up\"\npassword_file = \"/etc/ftp.pass\"\n\
         directory = \"/pub\"\ntls = true",
        "host = \"h\"\npassword = \"a\"",
        "host = \"ftp://h\"\nport = 0\nuser = \"\"\ndirectory = \"../up\"\ntls = \"yes\"",
        "port = \"21\"\npassword = \"\"",
        "host = \"h\"\npassword = \"a\"\npassword_file = \"/etc/ftp.pass\"",
        "host = \"h\"\npassword_file = \"/etc/other\"",
    ];
    same_both_ways(
        "ftp",
        &tables,
        |options| streamrouter_ftp::settings_from_options(options, Some(Path::new(HOME)), read),
        |kind| match kind {
            SinkKind::Ftp(ftp) => Some(ftp),
            _ => None,
        },
    );
}

#[test]
fn scp_options_read_as_plugin_and_built_in_alike() {
    let tables = [
        "host = \"origin\"\nuser = \"deploy\"\nkey_file = \"~/.ssh/id_ed25519\"",
        "host = \"origin\"\nport = 2222\nuser = \"deploy\"\nkey_file = \"/k\"\n\
         directory = \"www/live\"\nknown_hosts = \"/etc/known_hosts\"",
        "host = \"my host\"\nport = 65536",
        "host = \"h\"\nuser = \"u u\"\nkey_file = 3\ndirectory = \"a/../b\"",
    ];
    same_both_ways(
        "scp",
        &tables,
        |options| streamrouter_scp::settings_from_options(options, Path::new(HOME)),
        |kind| match kind {
            SinkKind::Scp(scp) => Some(scp),
            _ => None,
        },
    );
    // Not an accident of the tables: the defaults are there.
    let Ok(SinkKind::Scp(scp)) = built_in("scp", tables[0]) else {
        panic!("an scp sink")
    };
    assert_eq!(scp.port, 22);
    assert_eq!(scp.known_hosts, Path::new(HOME).join(".ssh/known_hosts"));
}

#[test]
fn local_options_read_as_plugin_and_built_in_alike() {
    // Absolute paths and `~/`: a plugin has no config file for a relative path to start at.
    // (An unknown key is refused both ways, but the built-in message names the sink type.)
    let tables = ["path = \"/srv/live\"", "path = \"~/live\"", "", "path = 3"];
    same_both_ways(
        "local",
        &tables,
        |options| streamrouter_local::settings_from_options(options, Some(Path::new(HOME))),
        |kind| match kind {
            SinkKind::Local(local) => Some(local),
            _ => None,
        },
    );
}
