//! Loading a library: the file checks, `dlopen` through libloading, the entry symbol, and the
//! table checks in the order the ABI prescribes (magic, ABI version, size, then the rest).
//!
//! Owns the process-wide registry of loaded plugins: a library is loaded once per path
//! (canonicalized), then leaked, so it stays loaded for the life of the process; loading the
//! same path again returns the same [`Plugin`]. Must not call any plugin function but the entry
//! point (instances are `sink`'s).

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use libloading::Library;
use streamrouter_plugin::abi::{
    self, CreateFn, DeleteFn, DestroyFn, EntryFn, FreeErrorFn, PluginHeader, PluginTable, PutFn,
};

use crate::LoadError;

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// The ABI version it was built for.
    pub abi_version: u32,
    /// The library, canonicalized.
    pub path: PathBuf,
}

/// A loaded, checked plugin library. Shared: every sink of the library holds it.
#[derive(Debug)]
pub struct Plugin {
    info: PluginInfo,
    pub(crate) functions: Functions,
    /// Never dropped: the library stays loaded for the life of the process.
    _library: &'static Library,
}

/// The table's functions, every one checked to be there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Functions {
    pub(crate) create: CreateFn,
    pub(crate) put: PutFn,
    pub(crate) delete_object: DeleteFn,
    pub(crate) destroy: DestroyFn,
    pub(crate) free_error: FreeErrorFn,
}

impl Plugin {
    /// Name, version, ABI version and path.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
}

/// Every library loaded so far, by canonical path. Entries are never removed.
static LOADED: Mutex<BTreeMap<PathBuf, Arc<Plugin>>> = Mutex::new(BTreeMap::new());

/// Loads the plugin at `path`, or returns the one already loaded from that file. A library that
/// fails a check is left loaded too (unloading is not safe), but is not remembered: loading it
/// again reports the same error.
pub fn load(path: &Path) -> Result<Arc<Plugin>, LoadError> {
    let canonical = std::fs::canonicalize(path).map_err(|source| io_error(path, source))?;
    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(plugin) = loaded.get(&canonical) {
        return Ok(Arc::clone(plugin));
    }
    check_file(&canonical)?;
    // SAFETY: loading runs the library's initialisers; running the code of the library the
    // operator configured is what loading a plugin means. Leaked: never unloaded.
    let library: &'static Library = match unsafe { Library::new(&canonical) } {
        Ok(library) => Box::leak(Box::new(library)),
        Err(error) => {
            return Err(LoadError::Open {
                path: canonical,
                reason: error.to_string(),
            });
        }
    };
    // SAFETY: the symbol is declared by the ABI as `extern "C" fn() -> *const PluginTable`.
    let entry: EntryFn = match unsafe { library.get::<EntryFn>(abi::ENTRY_SYMBOL) } {
        Ok(symbol) => *symbol,
        Err(_) => {
            return Err(LoadError::MissingEntry {
                path: canonical,
                symbol: abi::ENTRY_SYMBOL,
            });
        }
    };
    // SAFETY: the entry point takes nothing and returns a pointer the checks below validate.
    let table = unsafe { entry() };
    // SAFETY: `table` comes from the entry point of a library that stays loaded forever.
    let (info, functions) = unsafe { check_table(&canonical, table) }?;
    let plugin = Arc::new(Plugin {
        info,
        functions,
        _library: library,
    });
    loaded.insert(canonical, Arc::clone(&plugin));
    Ok(plugin)
}

fn io_error(path: &Path, source: std::io::Error) -> LoadError {
    let path = path.to_path_buf();
    if source.kind() == std::io::ErrorKind::NotFound {
        LoadError::NotFound { path }
    } else {
        LoadError::Unreadable { path, source }
    }
}

/// Refuses a file that is not a shared library before handing it to the system's loader.
fn check_file(path: &Path) -> Result<(), LoadError> {
    let mut head = [0u8; 4];
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(4).read(&mut head))
        .map_err(|source| io_error(path, source))?;
    if read < head.len() {
        return Err(LoadError::NotALibrary {
            path: path.to_path_buf(),
            reason: format!("only {read} bytes long"),
        });
    }
    if !is_library_header(head) {
        return Err(LoadError::NotALibrary {
            path: path.to_path_buf(),
            reason: "no ELF or Mach-O header".to_owned(),
        });
    }
    Ok(())
}

/// ELF (Linux, the BSDs) or Mach-O (macOS, either byte order, or universal).
fn is_library_header(head: [u8; 4]) -> bool {
    const MACH_O: [u32; 3] = [0xfeed_face, 0xfeed_facf, 0xcafe_babe];
    head == *b"\x7fELF"
        || MACH_O.contains(&u32::from_be_bytes(head))
        || MACH_O.contains(&u32::from_le_bytes(head))
}

/// Checks a table in the ABI's order: magic, version, size, then functions and strings.
///
/// # Safety
/// `table` is NULL or points to at least a [`PluginHeader`]; when the header says the table is
/// a version-1 table of [`abi::TABLE_SIZE`] bytes or more, to that many readable bytes; and the
/// memory stays valid for the life of the process.
pub(crate) unsafe fn check_table(
    path: &Path,
    table: *const PluginTable,
) -> Result<(PluginInfo, Functions), LoadError> {
    let path_buf = || path.to_path_buf();
    if table.is_null() {
        let reason = "returned NULL instead of a plugin table";
        return Err(LoadError::NoTable {
            path: path_buf(),
            reason,
        });
    }
    if !table.is_aligned() {
        let reason = "returned a misaligned plugin table";
        return Err(LoadError::NoTable {
            path: path_buf(),
            reason,
        });
    }
    // SAFETY: non-NULL, aligned, and every table starts with a header (the caller's contract).
    let header = unsafe { table.cast::<PluginHeader>().read() };
    if header.magic != abi::MAGIC {
        return Err(LoadError::BadMagic {
            path: path_buf(),
            found: header.magic,
        });
    }
    if header.abi_version != abi::ABI_VERSION {
        return Err(LoadError::WrongAbiVersion {
            path: path_buf(),
            found: header.abi_version,
            expected: abi::ABI_VERSION,
        });
    }
    if header.table_size < abi::TABLE_SIZE {
        return Err(LoadError::TableTooSmall {
            path: path_buf(),
            size: header.table_size,
            needed: abi::TABLE_SIZE,
            version: abi::ABI_VERSION,
        });
    }
    // SAFETY: the plugin states the table has at least the bytes of a version-1 table.
    let table = unsafe { table.read() };
    let missing = |function| LoadError::MissingFunction {
        path: path_buf(),
        function,
    };
    let functions = Functions {
        create: table.create.ok_or_else(|| missing("create"))?,
        put: table.put.ok_or_else(|| missing("put"))?,
        delete_object: table
            .delete_object
            .ok_or_else(|| missing("delete_object"))?,
        destroy: table.destroy.ok_or_else(|| missing("destroy"))?,
        free_error: table.free_error.ok_or_else(|| missing("free_error"))?,
    };
    // SAFETY: NUL-terminated static strings of the plugin, or NULL (checked).
    let (name, version) = unsafe { (text(table.name), text(table.version)) };
    let bad = |field| LoadError::BadString {
        path: path_buf(),
        field,
    };
    let info = PluginInfo {
        name: name.ok_or_else(|| bad("name"))?,
        version: version.ok_or_else(|| bad("version"))?,
        abi_version: header.abi_version,
        path: path_buf(),
    };
    Ok((info, functions))
}

/// A NUL-terminated UTF-8 string, copied.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn text(text: *const c_char) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated (the caller's contract).
    let text = unsafe { CStr::from_ptr(text) };
    text.to_str().ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;
    use std::ptr;

    use super::*;

    unsafe extern "C" fn create(_: *const c_char, _: usize, _: *mut *mut c_char) -> *mut c_void {
        ptr::null_mut()
    }
    unsafe extern "C" fn put(
        _: *mut c_void,
        _: *const c_char,
        _: *const u8,
        _: usize,
        _: *const c_char,
        _: *const c_char,
        _: *mut *mut c_char,
    ) -> i32 {
        abi::STATUS_OK
    }
    unsafe extern "C" fn delete_object(
        _: *mut c_void,
        _: *const c_char,
        _: *mut *mut c_char,
    ) -> i32 {
        abi::STATUS_OK
    }
    unsafe extern "C" fn destroy(_: *mut c_void) {}
    unsafe extern "C" fn free_error(_: *mut c_char) {}

    fn good() -> PluginTable {
        PluginTable {
            magic: abi::MAGIC,
            abi_version: abi::ABI_VERSION,
            table_size: abi::TABLE_SIZE,
            name: c"good".as_ptr(),
            version: c"1.0".as_ptr(),
            create: Some(create),
            put: Some(put),
            delete_object: Some(delete_object),
            destroy: Some(destroy),
            free_error: Some(free_error),
        }
    }

    fn check(table: PluginTable) -> Result<PluginInfo, LoadError> {
        // SAFETY: a whole table on the stack, alive for the call (nothing is kept from it but
        // copies of its strings).
        unsafe { check_table(Path::new("/lib/libx.so"), &table) }.map(|(info, _)| info)
    }

    #[test]
    fn a_good_table_gives_name_version_and_abi() {
        let info = check(good()).unwrap();
        assert_eq!((info.name.as_str(), info.version.as_str()), ("good", "1.0"));
        assert_eq!(info.abi_version, abi::ABI_VERSION);
    }

    #[test]
    fn magic_then_version_then_size_are_checked_first() {
        // Everything is wrong: the magic value is reported.
        let mut table = PluginTable {
            magic: 0x1234,
            abi_version: 7,
            table_size: 8,
            create: None,
            ..good()
        };
        let error = check(table).unwrap_err();
        assert!(
            matches!(error, LoadError::BadMagic { found: 0x1234, .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("bad magic value 0x0000000000001234"),
            "{error}"
        );
        table.magic = abi::MAGIC;
        let error = check(table).unwrap_err();
        assert!(
            matches!(
                error,
                LoadError::WrongAbiVersion {
                    found: 7,
                    expected: 1,
                    ..
                }
            ),
            "{error}"
        );
        table.abi_version = abi::ABI_VERSION;
        let error = check(table).unwrap_err();
        assert!(
            matches!(error, LoadError::TableTooSmall { size: 8, needed, .. } if needed == abi::TABLE_SIZE),
            "{error}"
        );
        table.table_size = abi::TABLE_SIZE + 16;
        let error = check(table).unwrap_err();
        assert!(
            matches!(
                error,
                LoadError::MissingFunction {
                    function: "create",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn null_tables_functions_and_names_are_refused() {
        // SAFETY: NULL is allowed.
        let error = unsafe { check_table(Path::new("x.so"), ptr::null()) }.unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.so: the entry point returned NULL instead of a plugin table"
        );
        let error = check(PluginTable {
            free_error: None,
            ..good()
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "/lib/libx.so: the plugin table has no `free_error` function"
        );
        let error = check(PluginTable {
            version: ptr::null(),
            ..good()
        })
        .unwrap_err();
        assert!(
            matches!(
                error,
                LoadError::BadString {
                    field: "version",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn library_headers_are_recognised() {
        assert!(is_library_header(*b"\x7fELF"));
        assert!(is_library_header([0xcf, 0xfa, 0xed, 0xfe]));
        assert!(!is_library_header(*b"#!/b"));
    }
}
