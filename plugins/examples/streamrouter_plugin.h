/*
 * streamrouter_plugin.h: the C ABI of streamrouter sink plugins, version 1.
 *
 * The same contract as the Rust module `streamrouter_plugin::abi` (plugins/src/abi.rs); a test
 * compiles this header and checks that sizes and offsets agree with the Rust structs.
 *
 * A plugin is a shared library exporting one function, `streamrouter_sink_plugin`, that
 * returns a pointer to a static `sr_plugin_table`. The host checks `magic`, `abi_version` and
 * `table_size` before it reads anything else; functions are only ever appended to the table.
 *
 * Memory: the host owns everything it passes in (options, keys, bodies, content types), for
 * the duration of the call only. The plugin owns everything it hands out: the table and its
 * strings (static), instances (freed by `destroy`, called once after the last call), and error
 * messages (set through the `error` out-parameter on failure, copied by the host, then given
 * back through `free_error`). The library is never unloaded.
 *
 * Threads: the host never makes two calls on one instance at once, but consecutive calls may
 * come from different threads; different instances, and `create`, may run concurrently. Calls
 * may block (they run off the host's event loop) but should be bounded by timeouts.
 */
#ifndef STREAMROUTER_PLUGIN_H
#define STREAMROUTER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "SRSINKPL" in ASCII, read as a big-endian number. */
#define SR_PLUGIN_MAGIC UINT64_C(0x535253494E4B504C)
#define SR_PLUGIN_ABI_VERSION 1u
#define SR_PLUGIN_ENTRY_SYMBOL "streamrouter_sink_plugin"

/* Status codes of put and delete_object. Any other value counts as SR_PERMANENT. */
#define SR_OK 0
#define SR_TEMPORARY 1 /* failed; retrying may help (network, server busy) */
#define SR_PERMANENT 2 /* failed; will fail again (bad key, permission, configuration) */

typedef struct sr_plugin_table {
    uint64_t magic;       /* SR_PLUGIN_MAGIC */
    uint32_t abi_version; /* SR_PLUGIN_ABI_VERSION */
    uint32_t table_size;  /* sizeof(sr_plugin_table) */
    const char *name;     /* NUL-terminated UTF-8, static */
    const char *version;  /* NUL-terminated UTF-8, static */

    /* A new instance from the sink's options: TOML text of options_len bytes, followed by a
     * NUL byte. Returns NULL after setting *error to a message on failure. */
    void *(*create)(const char *options, size_t options_len, char **error);

    /* Stores body under key (a relative path with '/' separators), replacing any previous
     * object atomically. cache_control may be NULL. Returns SR_OK or sets *error. */
    int32_t (*put)(void *instance, const char *key, const uint8_t *body, size_t body_len,
                   const char *content_type, const char *cache_control, char **error);

    /* Removes the object under key; a missing object counts as removed. */
    int32_t (*delete_object)(void *instance, const char *key, char **error);

    /* Frees an instance. */
    void (*destroy)(void *instance);

    /* Frees a message the plugin stored through an `error` out-parameter. */
    void (*free_error)(char *message);
} sr_plugin_table;

/* The entry point every plugin exports. */
const sr_plugin_table *streamrouter_sink_plugin(void);

#ifdef __cplusplus
}
#endif

#endif /* STREAMROUTER_PLUGIN_H */
