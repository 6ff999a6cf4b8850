/* SPDX-License-Identifier: Apache-2.0 */
/*
 * formats_int — helpers shared by the formats module's files and by no
 * other module: precise error messages, read-only file mappings, path
 * joining and small jansson accessors.
 */
#ifndef OCTO_FORMATS_INT_H
#define OCTO_FORMATS_INT_H

#include <jansson.h>

#include "formats/formats.h"

/* Writes one sentence into err (when err and err_size are non-zero) and
 * returns rc, so that `return fmt_err(rc, err, n, "...")` reads naturally. */
octo_err fmt_err(octo_err rc, char *err, size_t err_size, const char *fmt, ...) OCTO_PRINTF(4, 5);

/* A read-only mapping of a whole file. Empty files map to data == NULL. */
typedef struct fmt_map {
    const unsigned char *data;
    size_t size;
} fmt_map;

/* Maps `path` read-only (MAP_PRIVATE). Errors: OCTO_E_NOT_FOUND when the
 * file does not exist, OCTO_E_IO otherwise, with `err` set. */
octo_err fmt_map_open(const char *path, fmt_map *m /* OUT */, char *err, size_t err_size);
void fmt_map_close(fmt_map *m);

/* The last path component (no allocation; points into path). */
const char *fmt_path_base(const char *path);
/* dir + "/" + name into out (out_size bytes); OCTO_E_TOO_LARGE when it
 * does not fit. */
octo_err fmt_path_join(char *out, size_t out_size, const char *dir, const char *name);
bool fmt_is_dir(const char *path);
bool fmt_exists(const char *path);

/* Reads a whole JSON file (<= OCTO_LIMIT_JSON_FILE_BYTES) that must be an
 * object, rejecting duplicate keys. Errors name `path`'s base. */
octo_err fmt_json_file(const char *path, json_t **out /* OUT */, char *err, size_t err_size);
/* fmt_json_file of `path`, or of dir/`name` when path is a folder; *label
 * gets the file's base name (for messages; valid as long as path and name). */
octo_err fmt_json_in(const char *path, const char *name, json_t **out /* OUT */,
                     const char **label /* OUT */, char *err, size_t err_size);
/* Same from memory. */
octo_err fmt_json_mem(const char *buf, size_t len, const char *label, json_t **out /* OUT */,
                       char *err, size_t err_size);

/* JSON integers that must be exact (jansson reals with an integral value
 * are accepted, e.g. 1e6); OCTO_E_PARSE otherwise. */
bool fmt_json_int(const json_t *v, int64_t *out /* OUT */);

/* ==== safetensors internals (safetensors.c <-> st_index.c) ==== */

/* Opens a sharded checkpoint from its index file (st_index.c). */
octo_err fmt_st_open_index(const char *index_path, octo_formats_st **out /* OUT */, char *err,
                       size_t err_size);
/* Opens the shard files (names relative to dir) into one handle whose
 * tensors are sorted by name and unique (safetensors.c). */
octo_err fmt_st_open_shards(const char *dir, const char **files, size_t n_files,
                              octo_formats_st **out /* OUT */, char *err, size_t err_size);
/* Shard index of tensor `name`, or -1 when absent (safetensors.c). */
int fmt_st_shard_of(const octo_formats_st *st, const char *name);

#endif /* OCTO_FORMATS_INT_H */
