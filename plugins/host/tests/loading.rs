//! The host against real shared libraries built by the test: the local sink built as a plugin,
//! the scripted test plugin (panics, failures, refused options), a plugin of another ABI
//! version, the C example, and files that are not plugins at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use streamrouter_plugin::{ObjectMeta, SEGMENT_CONTENT_TYPE, Sink, SinkErrorKind};
use streamrouter_plugin_host::{LoadError, load};
use streamrouter_test_build::{
    c_plugin, cargo_plugin, examples_dir, library_without_entry, test_plugin,
};

const META: ObjectMeta<'static> = ObjectMeta {
    content_type: SEGMENT_CONTENT_TYPE,
    cache_control: Some("max-age=3600"),
};

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn local_plugin() -> PathBuf {
    cargo_plugin(tmp(), "streamrouter-local-plugin")
}

fn scripted_plugin() -> PathBuf {
    test_plugin(tmp(), "streamrouter-test-scripted")
}

#[test]
fn the_local_sink_loads_as_a_plugin_and_writes_like_the_built_in_one() {
    let plugin = load(&local_plugin()).unwrap();
    let info = plugin.info();
    assert_eq!(info.name, "local");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.abi_version, 1);
    assert!(info.path.is_absolute());

    let dir = tempfile::tempdir().unwrap();
    let options = format!("path = \"{}\"\n", dir.path().display());
    let sink = plugin.create(&options).unwrap();
    sink.put("live/a.ts", b"segment", &META).unwrap();
    sink.put("live/a.ts", b"replaced", &META).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("live/a.ts")).unwrap(),
        b"replaced"
    );
    sink.delete("live/a.ts").unwrap();
    sink.delete("live/a.ts").unwrap();
    assert!(!dir.path().join("live/a.ts").exists());
    let error = sink.put("../escape.ts", b"x", &META).unwrap_err();
    assert_eq!(error.kind, SinkErrorKind::Permanent);
    assert_eq!(error.key, "../escape.ts");

    let error = plugin.create("path = \"relative\"").unwrap_err();
    assert_eq!(error.plugin, "local");
    assert!(
        error
            .to_string()
            .contains("refused its options: `path` must be an absolute directory"),
        "{error}"
    );
}

#[test]
fn a_library_is_loaded_once_per_file() {
    let path = local_plugin();
    let first = load(&path).unwrap();
    let dotted = path
        .parent()
        .unwrap()
        .join(".")
        .join(path.file_name().unwrap());
    let again = load(&dotted).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
}

/// Every sink crate's plugin, as `cargo build` leaves it in the target directory, is a plugin:
/// it exports the entry symbol with the built-in sink's name and reads its options.
#[test]
fn every_sink_plugin_the_workspace_builds_loads() {
    for name in ["local", "s3", "ftp", "scp"] {
        let path = cargo_plugin(tmp(), &format!("streamrouter-{name}-plugin"));
        let plugin = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let info = plugin.info();
        assert_eq!((info.name.as_str(), info.abi_version), (name, 1));
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        let error = plugin.create("no_such_key = 1").unwrap_err();
        assert!(error.to_string().contains("no_such_key"), "{name}: {error}");
    }
}

#[test]
fn panics_become_temporary_errors_and_failures_keep_their_kind() {
    let plugin = load(&scripted_plugin()).unwrap();
    assert_eq!(plugin.info().name, "scripted");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("destroyed");
    let options = format!(
        "directory = \"{}\"\npanic_puts = 1\nfail_puts = 1\ndestroyed = \"{}\"\n",
        dir.path().display(),
        marker.display()
    );
    let sink = plugin.create(&options).unwrap();
    let error = sink.put("a.ts", b"x", &META).unwrap_err();
    assert_eq!(error.kind, SinkErrorKind::Temporary);
    assert_eq!(error.message, "plugin panicked: scripted panic 1 of 1");
    let error = sink.put("a.ts", b"x", &META).unwrap_err();
    assert_eq!(
        (error.kind, error.message.as_str()),
        (SinkErrorKind::Temporary, "scripted failure 1")
    );
    sink.put("a.ts", b"x", &META).unwrap();
    assert_eq!(std::fs::read(dir.path().join("a.ts")).unwrap(), b"x");
    assert!(!marker.exists());
    drop(sink);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "destroyed after 3 puts\n",
        "dropping the sink destroys the instance"
    );

    let options = format!(
        "directory = \"{}\"\nfail_puts = 1\nfail_kind = \"permanent\"\n",
        dir.path().display()
    );
    let sink = plugin.create(&options).unwrap();
    let error = sink.put("b.ts", b"x", &META).unwrap_err();
    assert_eq!(error.kind, SinkErrorKind::Permanent);
}

#[test]
fn a_failing_create_says_why() {
    let plugin = load(&scripted_plugin()).unwrap();
    let error = plugin
        .create("fail_create = \"no such endpoint\"")
        .unwrap_err();
    assert_eq!(error.message, "no such endpoint");
    assert!(
        error.to_string().starts_with("plugin `scripted` ("),
        "{error}"
    );
}

#[test]
fn an_instance_is_usable_from_several_threads() {
    let plugin = load(&scripted_plugin()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = format!("directory = \"{}\"", dir.path().display());
    let sink: Arc<dyn Sink> = Arc::new(plugin.create(&options).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                for i in 0..20 {
                    sink.put(
                        &format!("t{n}/{i}.ts"),
                        format!("{n}-{i}").as_bytes(),
                        &META,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    for n in 0..4 {
        for i in 0..20 {
            let path = dir.path().join(format!("t{n}/{i}.ts"));
            assert_eq!(std::fs::read_to_string(path).unwrap(), format!("{n}-{i}"));
        }
    }
}

#[test]
fn a_plugin_of_another_abi_version_is_refused() {
    let path = test_plugin(tmp(), "streamrouter-test-wrong-abi");
    let error = load(&path).unwrap_err();
    assert!(
        matches!(
            error,
            LoadError::WrongAbiVersion {
                found: 2,
                expected: 1,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("wrong plugin ABI version 2: this streamrouter loads version 1"),
        "{error}"
    );
    // Refused again: a failed library is not remembered as loaded.
    assert!(matches!(
        load(&path),
        Err(LoadError::WrongAbiVersion { .. })
    ));
}

#[test]
fn files_that_are_not_plugins_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libnothing.so");
    let error = load(&missing).unwrap_err();
    assert!(matches!(error, LoadError::NotFound { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!("{}: no such file", missing.display())
    );

    let text = dir.path().join("libtext.so");
    std::fs::write(&text, "this is not a library\n").unwrap();
    let error = load(&text).unwrap_err();
    assert!(matches!(error, LoadError::NotALibrary { .. }), "{error}");
    assert!(
        error.to_string().contains("not a shared library"),
        "{error}"
    );

    let empty = dir.path().join("libempty.so");
    std::fs::write(&empty, "").unwrap();
    assert!(matches!(load(&empty), Err(LoadError::NotALibrary { .. })));

    let plain = library_without_entry(tmp(), "libplain");
    let error = load(&plain).unwrap_err();
    assert!(matches!(error, LoadError::MissingEntry { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("no `streamrouter_sink_plugin` symbol"),
        "{error}"
    );

    let truncated = dir.path().join("libtruncated.so");
    let bytes = std::fs::read(&plain).unwrap();
    std::fs::write(&truncated, &bytes[..64]).unwrap();
    let error = load(&truncated).unwrap_err();
    assert!(matches!(error, LoadError::Open { .. }), "{error}");
}

#[test]
fn the_c_example_plugin_works_through_the_host() {
    let path = c_plugin(tmp(), &examples_dir().join("dir_sink.c"), "libdir_sink");
    let plugin = load(&path).unwrap();
    assert_eq!(
        (plugin.info().name.as_str(), plugin.info().version.as_str()),
        ("dir-sink-c", "1.0.0")
    );
    let dir = tempfile::tempdir().unwrap();
    let sink = plugin
        .create(&format!("directory = \"{}\"\n", dir.path().display()))
        .unwrap();
    sink.put("live/cam/a.ts", b"bytes", &META).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("live/cam/a.ts")).unwrap(),
        b"bytes"
    );
    sink.delete("live/cam/a.ts").unwrap();
    sink.delete("live/cam/a.ts").unwrap();
    assert!(!dir.path().join("live/cam/a.ts").exists());
    let error = sink.put("../a.ts", b"x", &META).unwrap_err();
    assert_eq!(error.kind, SinkErrorKind::Permanent);
    assert_eq!(error.message, "key `../a.ts` is not a safe relative path");

    let error = plugin.create("directory = \"relative\"").unwrap_err();
    assert_eq!(
        error.message,
        "`directory` must be absolute, got `relative`"
    );
    let error = plugin.create("").unwrap_err();
    assert!(error.message.contains("missing `directory"), "{error}");
}
