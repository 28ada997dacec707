/*
 * dir_sink.c: a complete streamrouter sink plugin in C, writing objects into a directory.
 *
 *   cc -shared -fPIC -O2 -I plugins/examples -o libdir_sink.so plugins/examples/dir_sink.c
 *
 *   [sinks.archive]
 *   type = "plugin"
 *   library = "libdir_sink.so"
 *   inputs = ["cam1"]
 *   [sinks.archive.options]
 *   directory = "/srv/archive"      # absolute
 *
 * Each object is written to a temporary name and renamed, so readers never see a partial
 * file; parent directories are created as needed. Options are TOML; this example reads only
 * `directory = "..."` (without escapes).
 */
#define _POSIX_C_SOURCE 200809L

#include "streamrouter_plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dir_sink {
    char *directory;
};

/* Stores a message for the host (freed by free_error); returns `status`. */
static int32_t fail(char **error, int32_t status, const char *format, ...) {
    if (error != NULL) {
        va_list args;
        va_start(args, format);
        int length = vsnprintf(NULL, 0, format, args);
        va_end(args);
        char *text = length < 0 ? NULL : malloc((size_t)length + 1);
        if (text != NULL) {
            va_start(args, format);
            vsnprintf(text, (size_t)length + 1, format, args);
            va_end(args);
        }
        *error = text;
    }
    return status;
}

/* Failures the operator must fix are permanent; the rest may pass. */
static int32_t status_of(int error) {
    switch (error) {
    case EACCES: case EPERM: case EROFS: case EISDIR: case ENOTDIR: case ENAMETOOLONG:
        return SR_PERMANENT;
    default:
        return SR_TEMPORARY;
    }
}

/* The quoted value of `directory = "..."` in the options, malloc'd, or NULL. */
static char *option_directory(const char *options) {
    for (const char *line = options; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t length = end != NULL ? (size_t)(end - line) : strlen(line);
        while (length > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            length--;
        }
        if (length > 9 && strncmp(line, "directory", 9) == 0) {
            const char *open = memchr(line, '"', length);
            const char *close =
                open != NULL ? memchr(open + 1, '"', length - (size_t)(open + 1 - line)) : NULL;
            if (close != NULL && memchr(open, '\\', (size_t)(close - open)) == NULL) {
                return strndup(open + 1, (size_t)(close - open - 1));
            }
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

static void *create(const char *options, size_t options_len, char **error) {
    (void)options_len; /* options are NUL-terminated too */
    char *directory = option_directory(options);
    if (directory == NULL) {
        fail(error, SR_PERMANENT, "missing `directory = \"/absolute/path\"` in the options");
        return NULL;
    }
    if (directory[0] != '/') {
        fail(error, SR_PERMANENT, "`directory` must be absolute, got `%s`", directory);
        free(directory);
        return NULL;
    }
    struct dir_sink *sink = malloc(sizeof *sink);
    if (sink == NULL) {
        free(directory);
        fail(error, SR_PERMANENT, "out of memory");
        return NULL;
    }
    sink->directory = directory;
    return sink;
}

/* A relative path without empty, "." or ".." parts. */
static int key_is_safe(const char *key) {
    if (key[0] == '\0' || key[0] == '/') {
        return 0;
    }
    for (const char *part = key; part != NULL;) {
        const char *slash = strchr(part, '/');
        size_t length = slash != NULL ? (size_t)(slash - part) : strlen(part);
        if (length == 0 || (length == 1 && part[0] == '.') ||
            (length == 2 && part[0] == '.' && part[1] == '.')) {
            return 0;
        }
        part = slash != NULL ? slash + 1 : NULL;
    }
    return 1;
}

/* "DIRECTORY/KEY" followed by `suffix`, malloc'd. */
static char *path_of(const struct dir_sink *sink, const char *key, const char *suffix) {
    size_t length = strlen(sink->directory) + 1 + strlen(key) + strlen(suffix) + 1;
    char *path = malloc(length);
    if (path != NULL) {
        snprintf(path, length, "%s/%s%s", sink->directory, key, suffix);
    }
    return path;
}

/* Creates every directory above the file `path`. */
static int make_parents(char *path) {
    for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        int made = mkdir(path, 0755) == 0 || errno == EEXIST;
        *slash = '/';
        if (!made) {
            return -1;
        }
    }
    return 0;
}

static int write_all(const char *path, const uint8_t *body, size_t body_len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    while (body_len > 0) {
        ssize_t written = write(fd, body, body_len);
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        body += written;
        body_len -= (size_t)written;
    }
    return close(fd);
}

static int32_t put(void *instance, const char *key, const uint8_t *body, size_t body_len,
                   const char *content_type, const char *cache_control, char **error) {
    (void)content_type; /* a directory keeps no headers */
    (void)cache_control;
    const struct dir_sink *sink = instance;
    if (!key_is_safe(key)) {
        return fail(error, SR_PERMANENT, "key `%s` is not a safe relative path", key);
    }
    char *path = path_of(sink, key, "");
    char *temporary = path_of(sink, key, ".partial");
    int32_t status = SR_OK;
    if (path == NULL || temporary == NULL) {
        status = fail(error, SR_TEMPORARY, "out of memory");
    } else if (make_parents(path) != 0 || write_all(temporary, body, body_len) != 0 ||
               rename(temporary, path) != 0) {
        int saved = errno;
        unlink(temporary);
        status = fail(error, status_of(saved), "%s: %s", path, strerror(saved));
    }
    free(path);
    free(temporary);
    return status;
}

static int32_t delete_object(void *instance, const char *key, char **error) {
    const struct dir_sink *sink = instance;
    if (!key_is_safe(key)) {
        return fail(error, SR_PERMANENT, "key `%s` is not a safe relative path", key);
    }
    char *path = path_of(sink, key, "");
    if (path == NULL) {
        return fail(error, SR_TEMPORARY, "out of memory");
    }
    int32_t status = SR_OK;
    if (unlink(path) != 0 && errno != ENOENT) {
        status = fail(error, status_of(errno), "%s: %s", path, strerror(errno));
    }
    free(path);
    return status;
}

static void destroy(void *instance) {
    struct dir_sink *sink = instance;
    free(sink->directory);
    free(sink);
}

static void free_error(char *message) { free(message); }

static const sr_plugin_table TABLE = {
    .magic = SR_PLUGIN_MAGIC,
    .abi_version = SR_PLUGIN_ABI_VERSION,
    .table_size = sizeof(sr_plugin_table),
    .name = "dir-sink-c",
    .version = "1.0.0",
    .create = create,
    .put = put,
    .delete_object = delete_object,
    .destroy = destroy,
    .free_error = free_error,
};

const sr_plugin_table *streamrouter_sink_plugin(void) { return &TABLE; }
