//! Test helper: builds the shared libraries the plugin tests load, from a clean checkout under
//! plain `cargo test`. The sink plugins are built with `cargo build -p CRATE --lib` into the
//! workspace's target directory (the outer `cargo test` has released its build lock by the time
//! tests run); the test plugins with `cargo rustc -p CRATE --lib --crate-type cdylib` into a
//! target directory of their own under the caller's `CARGO_TARGET_TMPDIR`, so no test fixture
//! ever lands among the workspace's `.so` files. C files are compiled with the system `cc`.
//!
//! Each library is built once per test process; concurrent builds by other test processes are
//! serialised by cargo's own lock, and C outputs are written under a temporary name and renamed.
//! Test code only: it panics with the compiler's output when a build fails.

#![allow(clippy::panic, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The workspace root (this crate is `plugins/testing/build`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// `plugins/examples`: the C header and the C example plugin.
pub fn examples_dir() -> PathBuf {
    workspace_root().join("plugins/examples")
}

/// Libraries built by this process: package (or C name) → path.
static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Builds the sink plugin `package` (a workspace member that is a `cdylib`, such as
/// `streamrouter-local-plugin`) as a plain `cargo build` does, in the workspace's target
/// directory (the parent of `tmp`, the test's `CARGO_TARGET_TMPDIR`), so the test loads the
/// very `.so` a user gets and shares the workspace's compiled dependencies; returns its path.
pub fn cargo_plugin(tmp: &Path, package: &str) -> PathBuf {
    let target_dir = tmp.parent().expect("CARGO_TARGET_TMPDIR is TARGET/tmp");
    build_cdylib(package, target_dir, &["build"])
}

/// Builds the test plugin `package` (a plain library in the workspace's own builds, so they
/// leave no test fixture behind as a `.so`) as a `cdylib`, into `TMPDIR/plugin-build` (`tmp` is
/// the test's `CARGO_TARGET_TMPDIR`), and returns the path of `libNAME.so`.
pub fn test_plugin(tmp: &Path, package: &str) -> PathBuf {
    build_cdylib(
        package,
        &tmp.join("plugin-build"),
        &["rustc", "--crate-type", "cdylib"],
    )
}

/// Runs `cargo SUBCOMMAND --lib -p PACKAGE` into `target_dir` once per test process, and
/// returns the path of the `cdylib` it made.
fn build_cdylib(package: &str, target_dir: &Path, subcommand: &[&str]) -> PathBuf {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(package) {
        return path.clone();
    }
    let output = Command::new(cargo())
        .args(subcommand)
        .args(["--locked", "--lib", "--quiet", "-p", package])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(workspace_root())
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo {} -p {package} failed:\n{}",
        subcommand.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = target_dir.join("debug").join(file);
    assert!(path.is_file(), "cargo built no {}", path.display());
    built.insert(package.to_owned(), path.clone());
    path
}

/// Compiles the C file `source` (with `plugins/examples` on the include path) into the shared
/// library `TMPDIR/c-plugins/NAME.so`, warnings as errors.
pub fn c_plugin(tmp: &Path, source: &Path, name: &str) -> PathBuf {
    let id = format!("cc {name}");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(&id) {
        return path.clone();
    }
    let dir = tmp.join("c-plugins");
    std::fs::create_dir_all(&dir).expect("create the C output directory");
    let path = dir.join(format!("{name}{}", std::env::consts::DLL_SUFFIX));
    let partial = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    compile_c(source, &partial, &["-shared", "-fPIC", "-O1"]);
    std::fs::rename(&partial, &path).expect("move the library in place");
    built.insert(id, path.clone());
    path
}

/// Compiles `source` with `cc` (strict warnings, `plugins/examples` on the include path) into
/// `output`, with `extra` flags.
fn compile_c(source: &Path, output: &Path, extra: &[&str]) {
    let compiled = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .args(extra)
        .arg("-I")
        .arg(examples_dir())
        .arg("-o")
        .arg(output)
        .arg(source)
        .output()
        .expect("run cc (a C compiler must be installed)");
    assert!(
        compiled.status.success(),
        "cc {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&compiled.stderr)
    );
}

/// Compiles and runs the C program `source` (with `plugins/examples` on the include path) and
/// returns what it printed.
pub fn run_c_program(tmp: &Path, source: &Path, name: &str) -> String {
    let dir = tmp.join("c-programs");
    std::fs::create_dir_all(&dir).expect("create the C output directory");
    let program = dir.join(format!("{name}-{}", std::process::id()));
    compile_c(source, &program, &[]);
    let run = Command::new(&program).output().expect("run the C program");
    let _ = std::fs::remove_file(&program);
    assert!(run.status.success(), "{} failed", source.display());
    String::from_utf8(run.stdout).expect("UTF-8 output")
}

/// A C shared library that is not a plugin (no entry symbol): `TMPDIR/c-plugins/NAME.so`.
pub fn library_without_entry(tmp: &Path, name: &str) -> PathBuf {
    let dir = tmp.join("c-plugins");
    std::fs::create_dir_all(&dir).expect("create the C output directory");
    let source = dir.join(format!("{name}-{}.c", std::process::id()));
    std::fs::write(&source, "int not_a_plugin(int x) { return x + 1; }\n").expect("write C");
    c_plugin(tmp, &source, name)
}
