//! The C header `plugins/examples/streamrouter_plugin.h` against the Rust ABI: a C program
//! compiled with the system `cc` prints every size, offset and constant, which must be the
//! Rust ones.

use std::mem::{offset_of, size_of};
use std::path::Path;

use streamrouter_plugin::abi::{self, PluginTable};

const PROGRAM: &str = r#"
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include "streamrouter_plugin.h"

#define FIELD(name) printf(#name " %zu %zu\n", offsetof(sr_plugin_table, name), \
                           sizeof(((sr_plugin_table *)0)->name))

int main(void) {
    printf("size %zu align %zu\n", sizeof(sr_plugin_table), _Alignof(sr_plugin_table));
    FIELD(magic);
    FIELD(abi_version);
    FIELD(table_size);
    FIELD(name);
    FIELD(version);
    FIELD(create);
    FIELD(put);
    FIELD(delete_object);
    FIELD(destroy);
    FIELD(free_error);
    printf("magic %" PRIx64 " version %u\n", SR_PLUGIN_MAGIC, SR_PLUGIN_ABI_VERSION);
    printf("status %d %d %d\n", SR_OK, SR_TEMPORARY, SR_PERMANENT);
    printf("entry %s\n", SR_PLUGIN_ENTRY_SYMBOL);
    return 0;
}
"#;

macro_rules! field {
    ($name:ident) => {
        format!(
            "{} {} {}\n",
            stringify!($name),
            offset_of!(PluginTable, $name),
            size_of_field(|table: &PluginTable| &table.$name)
        )
    };
}

fn size_of_field<T>(_: impl Fn(&PluginTable) -> &T) -> usize {
    size_of::<T>()
}

#[test]
fn the_c_header_lays_the_table_out_like_the_rust_abi() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(tmp).unwrap();
    let source = tmp.join(format!("abi-layout-{}.c", std::process::id()));
    std::fs::write(&source, PROGRAM).unwrap();
    let printed = streamrouter_test_build::run_c_program(tmp, &source, "abi-layout");
    let _ = std::fs::remove_file(&source);

    let mut expected = format!(
        "size {} align {}\n",
        size_of::<PluginTable>(),
        align_of::<PluginTable>()
    );
    for line in [
        field!(magic),
        field!(abi_version),
        field!(table_size),
        field!(name),
        field!(version),
        field!(create),
        field!(put),
        field!(delete_object),
        field!(destroy),
        field!(free_error),
    ] {
        expected.push_str(&line);
    }
    expected.push_str(&format!(
        "magic {:x} version {}\n",
        abi::MAGIC,
        abi::ABI_VERSION
    ));
    expected.push_str(&format!(
        "status {} {} {}\n",
        abi::STATUS_OK,
        abi::STATUS_TEMPORARY,
        abi::STATUS_PERMANENT
    ));
    expected.push_str(&format!("entry {}\n", abi::ENTRY_SYMBOL));
    assert_eq!(printed, expected);
    assert_eq!(size_of::<PluginTable>(), abi::TABLE_SIZE as usize);
}
