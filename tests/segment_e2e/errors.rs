//! Bad inputs and arguments; no temporary files left behind.

use crate::support::*;

// ------------------------------------------------------------------------------------------
// 7. Bad inputs

#[test]
fn not_ts_is_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = router::segment(&router::data("not_ts.bin"), dir.path(), &[]);
    run.assert_failure();
    assert!(
        run.stderr.contains("not an MPEG transport stream"),
        "stderr should say the input is not an MPEG transport stream:\n{}",
        run.stderr
    );
    let written: Vec<String> = router::dir_names(dir.path());
    assert!(
        written.is_empty(),
        "nothing may be published for a non-TS input, found {written:?}"
    );
}

#[test]
fn missing_input_is_reported_with_its_path() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("no-such-input.ts");
    let out = dir.path().join("out");
    let run = router::segment(&missing, &out, &[]);
    run.assert_failure();
    assert!(
        run.stderr.contains(&*missing.to_string_lossy()),
        "stderr should name {}:\n{}",
        missing.display(),
        run.stderr
    );
}

#[test]
fn bad_arguments_are_rejected() {
    let input = router::data("h264_aac.ts");
    let input = input.to_string_lossy();
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().to_string_lossy();
    for (args, says) in [
        (vec!["--target-duration", "0"], "--target-duration"),
        (vec!["--playlist", "a/b.m3u8"], "--playlist"),
        (vec!["--name", ".."], "--name"),
    ] {
        let mut all = vec!["segment", &*input, "--out", &*out];
        all.extend(&args);
        let run = router::streamrouter(&all);
        run.assert_failure();
        assert!(
            run.stderr.contains(says),
            "{args:?}: stderr should mention {says}:\n{}",
            run.stderr
        );
    }
    assert!(
        router::dir_names(dir.path()).is_empty(),
        "rejected options must not publish anything"
    );
}

// ------------------------------------------------------------------------------------------
// 8. Temporary files

#[test]
fn no_temporary_files_are_left() {
    // Every run above checks its directory too; this one covers all inputs at once, including
    // the damaged ones and the raw cut.
    for file in [
        "h264_aac.ts",
        "aac_only.ts",
        "concat.ts",
        "loss.ts",
        "garbage.ts",
        "truncated.ts",
    ] {
        for extra in [
            &["--target-duration", "2"][..],
            &["--no-repeat-headers"][..],
        ] {
            let out = segment_with(&router::data(file), extra, "index.m3u8");
            let names = router::dir_names(out.dir.path());
            let listed = out.playlist.uris().len();
            assert_eq!(
                names.len(),
                listed + 1,
                "{file} {extra:?}: {names:?} holds more than the playlist and its {listed} \
                 segments"
            );
        }
    }
}
