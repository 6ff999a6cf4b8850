/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fmt_util — the formats module's plumbing: error sentences, read-only file
 * mappings, path helpers and JSON file loading.
 *
 * It is not a general file or JSON library: only what the format readers
 * of this module need.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/formats_int.h"

/* ==== errors ==== */

octo_err fmt_err(octo_err rc, char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ==== file mappings ==== */

octo_err fmt_map_open(const char *path, fmt_map *m, char *err, size_t err_size)
{
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fmt_err(e == ENOENT ? OCTO_E_NOT_FOUND : OCTO_E_IO, err, err_size,
                       "%s: cannot open: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fmt_err(OCTO_E_IO, err, err_size, "%s: not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return OCTO_OK;
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return fmt_err(OCTO_E_TOO_LARGE, err, err_size, "%s: file too large to map", path);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return fmt_err(OCTO_E_IO, err, err_size, "%s: mmap failed: %s", path, strerror(e));
    m->data = p;
    m->size = (size_t)sb.st_size;
    return OCTO_OK;
}

void fmt_map_close(fmt_map *m)
{
    if (m && m->data) munmap((void *)m->data, m->size);
    if (m) {
        m->data = NULL;
        m->size = 0;
    }
}

/* ==== paths ==== */

const char *fmt_path_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

octo_err fmt_path_join(char *out, size_t out_size, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    int n = snprintf(out, out_size, "%.*s/%s", (int)dl, dir, name);
    if (n < 0 || (size_t)n >= out_size) return OCTO_E_TOO_LARGE;
    return OCTO_OK;
}

bool fmt_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

bool fmt_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ==== JSON ==== */

octo_err fmt_json_mem(const char *buf, size_t len, const char *label, json_t **out, char *err,
                       size_t err_size)
{
    json_error_t je;
    *out = NULL;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fmt_err(OCTO_E_PARSE, err, err_size, "%s: invalid JSON at line %d column %d: %s",
                    label, je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return fmt_err(OCTO_E_PARSE, err, err_size, "%s: top level is not a JSON object", label);
    }
    *out = root;
    return OCTO_OK;
}

octo_err fmt_json_file(const char *path, json_t **out, char *err, size_t err_size)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    octo_err rc = octo_file_read(path, OCTO_LIMIT_JSON_FILE_BYTES, &data, &len);
    if (rc == OCTO_E_TOO_LARGE)
        return fmt_err(rc, err, err_size, "%s: larger than %u bytes", path,
                    (unsigned)OCTO_LIMIT_JSON_FILE_BYTES);
    if (rc) {
        if (!fmt_exists(path)) rc = OCTO_E_NOT_FOUND;
        return fmt_err(rc, err, err_size, "%s: cannot read (%s)", path, octo_err_str(rc));
    }
    rc = fmt_json_mem(data, len, fmt_path_base(path), out, err, err_size);
    octo_free(data);
    return rc;
}

octo_err fmt_json_in(const char *path, const char *name, json_t **out, const char **label,
                     char *err, size_t err_size)
{
    char buf[OCTO_LIMIT_PATH_BYTES];
    *out = NULL;
    *label = fmt_path_base(path);
    if (fmt_is_dir(path)) {
        if (fmt_path_join(buf, sizeof buf, path, name))
            return fmt_err(OCTO_E_TOO_LARGE, err, err_size, "%s: path too long", path);
        path = buf;
        *label = name;
    }
    return fmt_json_file(path, out, err, err_size);
}

bool fmt_json_int(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9.0e15) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

int64_t octo_formats_tensor_numel(const octo_formats_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* "Org/Name": one slash, neither part empty, no leading '.' or '/'. */
static bool hub_id_like(const char *p)
{
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/')) return false;
    if (p[0] == '.' || p[0] == '~') return false;
    for (const char *c = p; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.' || *c == '/'))
            return false;
    return true;
}

octo_err octo_formats_model_path_check(const char *path, char *err, size_t err_size)
{
    struct stat st;
    if (!path || !*path) {
        snprintf(err, err_size, "no model path given");
        return OCTO_E_INVALID;
    }
    if (stat(path, &st) != 0) {
        if (hub_id_like(path))
            snprintf(err, err_size,
                     "model path '%s' does not exist; it looks like a Hugging Face id: fetch it "
                     "with `octo pull %s` (then this name is found in the cache)", path, path);
        else
            snprintf(err, err_size, "model path '%s' does not exist", path);
        return OCTO_E_NOT_FOUND;
    }
    if (S_ISDIR(st.st_mode)) {
        char cfg[OCTO_LIMIT_PATH_BYTES + 16];
        snprintf(cfg, sizeof cfg, "%s/config.json", path);
        if (stat(cfg, &st) != 0) {
            snprintf(err, err_size, "model folder '%s' has no config.json (is it the model's "
                     "folder?)", path);
            return OCTO_E_NOT_FOUND;
        }
    }
    return OCTO_OK;
}

void octo_formats_model_dir(const char *path, char *dir, size_t dir_size)
{
    octo_strlcpy(dir, path, dir_size);
    if (fmt_is_dir(dir)) return;
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else octo_strlcpy(dir, ".", dir_size);
}
