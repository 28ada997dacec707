//! Test plugin `wrong-abi`: exports the entry symbol with a table that is right in every way but
//! its ABI version (a future version 2), so a host must refuse it before reading anything past
//! the header. Never calls into the plugin API's export helpers: it fills the table by hand, as
//! a plugin built against another version would.

use std::ffi::{c_char, c_void};

use streamrouter_plugin::abi::{self, PluginTable};

/// The version this plugin claims.
pub const CLAIMED_ABI_VERSION: u32 = abi::ABI_VERSION + 1;

unsafe extern "C" fn create(
    _options: *const c_char,
    _options_len: usize,
    _error: *mut *mut c_char,
) -> *mut c_void {
    std::ptr::null_mut()
}

struct Table(PluginTable);

// SAFETY: immutable data: pointers to static strings and a function.
unsafe impl Sync for Table {}

static TABLE: Table = Table(PluginTable {
    magic: abi::MAGIC,
    abi_version: CLAIMED_ABI_VERSION,
    table_size: abi::TABLE_SIZE,
    name: c"wrong-abi".as_ptr(),
    version: c"2.0.0".as_ptr(),
    create: Some(create),
    put: None,
    delete_object: None,
    destroy: None,
    free_error: None,
});

/// The entry point, returning a table of another ABI version.
#[unsafe(no_mangle)]
pub extern "C" fn streamrouter_sink_plugin() -> *const PluginTable {
    &TABLE.0
}
