//! The C ABI between streamrouter and a sink plugin: the types that cross a shared library's
//! boundary, and nothing else. `plugins/examples/streamrouter_plugin.h` is the same contract
//! written in C; a test checks that both lay the table out alike.
//!
//! Owns the layout only: exporting a Rust sink through it is `export`, loading a library is the
//! host crate's. Must never change a field once released: new functions are appended to
//! [`PluginTable`] (the host tells the layouts apart by [`PluginTable::table_size`]), and an
//! incompatible change is a new [`ABI_VERSION`].

use std::ffi::{c_char, c_void};

/// The symbol every plugin exports: an `extern "C" fn() -> *const PluginTable`.
pub const ENTRY_SYMBOL: &str = "streamrouter_sink_plugin";

/// First field of every table: "SRSINKPL" in ASCII, read as a big-endian number.
pub const MAGIC: u64 = 0x5352_5349_4E4B_504C;

/// The version of this ABI. A host loads only plugins that report exactly this version.
pub const ABI_VERSION: u32 = 1;

/// Status of a call: done.
pub const STATUS_OK: i32 = 0;
/// Status of a call: failed, and trying again may help (network, server busy, a panic).
pub const STATUS_TEMPORARY: i32 = 1;
/// Status of a call: failed, and will fail again (bad key, permission, configuration).
pub const STATUS_PERMANENT: i32 = 2;

/// The entry point's type.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

/// `create(options, options_len, error)`: a new instance from the sink's `options`, as TOML text
/// of `options_len` bytes (UTF-8, followed by a NUL byte not counted in the length). Returns
/// the instance, or NULL after setting `*error` to a message allocated by the plugin.
pub type CreateFn = unsafe extern "C" fn(
    options: *const c_char,
    options_len: usize,
    error: *mut *mut c_char,
) -> *mut c_void;

/// `put(instance, key, body, body_len, content_type, cache_control, error)`: stores `body`
/// under `key`, replacing any previous object atomically. `cache_control` may be NULL. Returns
/// a `STATUS_*` code; on failure sets `*error` to a message allocated by the plugin.
pub type PutFn = unsafe extern "C" fn(
    instance: *mut c_void,
    key: *const c_char,
    body: *const u8,
    body_len: usize,
    content_type: *const c_char,
    cache_control: *const c_char,
    error: *mut *mut c_char,
) -> i32;

/// `delete_object(instance, key, error)`: removes the object under `key`; removing an object
/// that does not exist succeeds. Returns a `STATUS_*` code, like [`PutFn`].
pub type DeleteFn =
    unsafe extern "C" fn(instance: *mut c_void, key: *const c_char, error: *mut *mut c_char) -> i32;

/// `destroy(instance)`: frees an instance; called once, after its last call.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut c_void);

/// `free_error(message)`: frees a message the plugin stored in an `error` out-parameter.
pub type FreeErrorFn = unsafe extern "C" fn(message: *mut c_char);

/// The first three fields of every [`PluginTable`], of every ABI version: what a host reads
/// before anything else.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginHeader {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`] the plugin was built for.
    pub abi_version: u32,
    /// `sizeof` the table as the plugin built it, in bytes.
    pub table_size: u32,
}

/// What the entry point returns: a table that lives as long as the library stays loaded.
///
/// Layout (64-bit): `magic` at 0, `abi_version` at 8, `table_size` at 12, `name` at 16,
/// `version` at 24, then one function pointer every 8 bytes from 32; 72 bytes in all.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginTable {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<PluginTable>()` as the plugin built it.
    pub table_size: u32,
    /// The plugin's name, NUL-terminated UTF-8 (`local`, `mycdn`).
    pub name: *const c_char,
    /// The plugin's version, NUL-terminated UTF-8 (`1.2.0`).
    pub version: *const c_char,
    /// See [`CreateFn`].
    pub create: Option<CreateFn>,
    /// See [`PutFn`].
    pub put: Option<PutFn>,
    /// See [`DeleteFn`].
    pub delete_object: Option<DeleteFn>,
    /// See [`DestroyFn`].
    pub destroy: Option<DestroyFn>,
    /// See [`FreeErrorFn`].
    pub free_error: Option<FreeErrorFn>,
}

/// The size of a version-1 table, as [`PluginTable::table_size`] states it.
pub const TABLE_SIZE: u32 = std::mem::size_of::<PluginTable>() as u32;

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn the_header_is_the_start_of_the_table() {
        assert_eq!(size_of::<PluginHeader>(), 16);
        assert_eq!(
            offset_of!(PluginTable, magic),
            offset_of!(PluginHeader, magic)
        );
        assert_eq!(
            offset_of!(PluginTable, abi_version),
            offset_of!(PluginHeader, abi_version)
        );
        assert_eq!(
            offset_of!(PluginTable, table_size),
            offset_of!(PluginHeader, table_size)
        );
        assert_eq!(offset_of!(PluginTable, name), size_of::<PluginHeader>());
    }

    #[test]
    fn magic_spells_its_name() {
        assert_eq!(&MAGIC.to_be_bytes(), b"SRSINKPL");
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn layout_is_the_documented_one() {
        assert_eq!(TABLE_SIZE, 72);
        assert_eq!(offset_of!(PluginTable, create), 32);
        assert_eq!(offset_of!(PluginTable, free_error), 64);
    }
}
