/* SPDX-License-Identifier: Apache-2.0 */
/*
 * st_index — sharded safetensors checkpoints: reads
 * model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor:
 * file}}), opens every shard it names once, and checks that the map and the
 * shards agree in both directions (each mapped tensor is in its file, each
 * stored tensor is mapped to the file that holds it).
 *
 * It does not merge or rewrite shards, and shard names must be plain file
 * names in the index's folder (no "/", no "..": an index cannot reach
 * outside its checkpoint).
 */
#include <stdlib.h>
#include <string.h>

#include "formats/formats_int.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Position of file f in the sorted unique list, or -1. */
static long file_index(const char **files, size_t n, const char *f)
{
    const char **p = bsearch(&f, files, n, sizeof *files, cmp_str);
    return p ? (long)(p - files) : -1;
}

/* Collects the unique shard file names of weight_map into *files (sorted;
 * the strings belong to the JSON document). */
static octo_err collect_files(const char *label, json_t *wm, const char ***files_out,
                              size_t *n_out, char *err, size_t n)
{
    size_t cnt = json_object_size(wm);
    if (cnt > OCTO_LIMIT_TENSORS)
        return fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: weight_map has %zu tensors (limit %u)", label,
                    cnt, (unsigned)OCTO_LIMIT_TENSORS);
    const char **files = octo_malloc((cnt ? cnt : 1) * sizeof *files);
    if (!files) return fmt_err(OCTO_E_NOMEM, err, n, "%s: out of memory", label);
    size_t nf = 0;
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        const char *f = json_string_value(v);
        if (!f) {
            octo_free(files);
            return fmt_err(OCTO_E_PARSE, err, n, "%s: weight_map['%s'] is not a string", label, k);
        }
        if (!*f || strchr(f, '/') || strcmp(f, ".") == 0 || strcmp(f, "..") == 0) {
            octo_free(files);
            return fmt_err(OCTO_E_INVALID, err, n,
                        "%s: weight_map['%s'] = '%s' is not a plain file name", label, k, f);
        }
        files[nf++] = f;
    }
    if (nf) qsort(files, nf, sizeof *files, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < nf; i++)
        if (u == 0 || strcmp(files[u - 1], files[i]) != 0) files[u++] = files[i];
    if (u > OCTO_LIMIT_ST_SHARDS) {
        octo_free(files);
        return fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: %zu shard files (limit %u)", label, u,
                    (unsigned)OCTO_LIMIT_ST_SHARDS);
    }
    *files_out = files;
    *n_out = u;
    return OCTO_OK;
}

/* The map and the shards must agree in both directions. */
static octo_err cross_check(const char *label, json_t *wm, const char **files, size_t nf,
                            const octo_formats_st *st, char *err, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        const char *f = json_string_value(v);
        long want = file_index(files, nf, f);
        int got = fmt_st_shard_of(st, k);
        if (got < 0)
            return fmt_err(OCTO_E_INVALID, err, n,
                        "%s: weight_map names tensor '%s' in %s, but no shard has it", label, k, f);
        if (got != want)
            return fmt_err(OCTO_E_INVALID, err, n,
                        "%s: weight_map puts tensor '%s' in %s, but it is in %s", label, k, f,
                        files[got]);
    }
    for (size_t i = 0; i < octo_formats_st_count(st); i++) {
        octo_formats_tensor t;
        if (octo_formats_st_at(st, i, &t)) return OCTO_E_INTERNAL;
        if (!json_object_get(wm, t.name))
            return fmt_err(OCTO_E_INVALID, err, n, "%s: tensor '%s' of %s is not in weight_map",
                        label, t.name, files[t.shard]);
    }
    return OCTO_OK;
}

octo_err fmt_st_open_index(const char *index_path, octo_formats_st **out, char *err, size_t n)
{
    *out = NULL;
    const char *label = fmt_path_base(index_path);
    json_t *root = NULL;
    const char **files = NULL;
    size_t nf = 0;
    octo_formats_st *st = NULL;
    octo_err rc = fmt_json_file(index_path, &root, err, n);
    if (rc) goto fail;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        rc = fmt_err(OCTO_E_PARSE, err, n, "%s: no \"weight_map\" object", label);
        goto fail;
    }
    json_t *meta = json_object_get(root, "metadata");
    if (meta && !json_is_object(meta) && !json_is_null(meta)) {
        rc = fmt_err(OCTO_E_PARSE, err, n, "%s: \"metadata\" is not an object", label);
        goto fail;
    }
    rc = collect_files(label, wm, &files, &nf, err, n);
    if (rc) goto fail;
    if (nf == 0) {
        rc = fmt_err(OCTO_E_INVALID, err, n, "%s: weight_map is empty", label);
        goto fail;
    }
    char dir[OCTO_LIMIT_PATH_BYTES];
    size_t dl = (size_t)(label - index_path);
    if (dl >= sizeof dir) {
        rc = fmt_err(OCTO_E_TOO_LARGE, err, n, "%s: path too long", index_path);
        goto fail;
    }
    if (dl == 0) {
        dir[0] = '.';
        dir[1] = 0;
    } else {
        memcpy(dir, index_path, dl);
        dir[dl] = 0;
    }
    rc = fmt_st_open_shards(dir, files, nf, &st, err, n);
    if (rc) goto fail;
    rc = cross_check(label, wm, files, nf, st, err, n);
    if (rc) goto fail;
    octo_free(files);
    json_decref(root);
    *out = st;
    return OCTO_OK;
fail:
    octo_formats_st_close(st);
    octo_free(files);
    json_decref(root);
    return rc;
}
