/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub_pull — `octo pull`: lists a repository's files (Hugging Face
 * /api/models/R/revision/REV?blobs=true, or ModelScope
 * /api/v1/models/R/repo/files), picks them with --include / --exclude
 * globs and fetches them with one libcurl handle per worker thread into
 * the huggingface_hub cache: blobs/<etag>.incomplete grows (a Range
 * request resumes it after an interruption, up to OCTO_HUB_RETRIES
 * attempts), is checked (size; sha256 for LFS files, git blob sha1 for
 * the others) and renamed to blobs/<etag>; snapshots/<commit>/<path> links
 * to it and refs/<rev> names the commit.
 *
 * Not here: the command line (cli_pull.c) and the cache lookup without
 * network (hub_cache.c).
 */
#include "hub/hub.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OCTO_HUB_RETRIES 4
#define LIST_MAX_BYTES (64u << 20)
#define HF_DEFAULT "https://huggingface.co"
#define MS_DEFAULT "https://www.modelscope.cn"

typedef struct hub_file {
    char *path;        /* in the repository */
    uint64_t size;
    char etag[72];     /* LFS sha256 or git blob sha1 (hex) */
    bool lfs;          /* etag is the content's sha256 */
} hub_file;

typedef struct pull {
    const octo_hub_pull_opts *o;
    char endpoint[512], token[1024], cache[OCTO_LIMIT_PATH_BYTES];
    char repo[256], rev[128], commit[128];
    char root[OCTO_LIMIT_PATH_BYTES]; /* cache/models--org--name */
    hub_file *files;
    size_t n_files;
    _Atomic size_t next;
    _Atomic uint64_t done_bytes;
    uint64_t total_bytes;
    pthread_mutex_t mu;
    octo_err rc;       /* first failure */
    char err[512];
} pull;

static void fail(pull *p, octo_err rc, const char *fmt, ...) OCTO_PRINTF(3, 4);
static void fail(pull *p, octo_err rc, const char *fmt, ...)
{
    pthread_mutex_lock(&p->mu);
    if (!p->rc) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, sizeof p->err, fmt, ap);
        va_end(ap);
        p->rc = rc;
    }
    pthread_mutex_unlock(&p->mu);
}

/* snprintf into a path buffer; false when it did not fit. */
static bool pathf(char *out, size_t n, const char *fmt, ...) OCTO_PRINTF(3, 4);
static bool pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return len >= 0 && (size_t)len < n;
}

/* ==== settings from the environment, as the hubs' own tools read them ==== */

static void read_token_file(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t got = fread(out, 1, n - 1, f);
    fclose(f);
    out[got] = '\0';
    out[strcspn(out, " \r\n")] = '\0';
}

static void settings(pull *p)
{
    const octo_hub_pull_opts *o = p->o;
    const char *v;
    bool ms = o->source == OCTO_HUB_MODELSCOPE;
    if (o->endpoint) {
        snprintf(p->endpoint, sizeof p->endpoint, "%s", o->endpoint);
    } else if (!ms) {
        v = getenv("HF_ENDPOINT");
        snprintf(p->endpoint, sizeof p->endpoint, "%s", v && *v ? v : HF_DEFAULT);
    } else if ((v = getenv("MODELSCOPE_DOMAIN")) && *v) {
        /* a bare domain, as modelscope reads it; a URL is taken as is */
        snprintf(p->endpoint, sizeof p->endpoint, "%s%s", strstr(v, "://") ? "" : "https://", v);
    } else {
        snprintf(p->endpoint, sizeof p->endpoint, "%s", MS_DEFAULT);
    }
    size_t n = strlen(p->endpoint);
    while (n && p->endpoint[n - 1] == '/') p->endpoint[--n] = '\0';
    p->token[0] = '\0';
    if (o->token) {
        snprintf(p->token, sizeof p->token, "%s", o->token);
    } else if (!ms) {
        if ((v = getenv("HF_TOKEN")) && *v) {
            snprintf(p->token, sizeof p->token, "%s", v);
        } else if ((v = getenv("HF_TOKEN_PATH")) && *v) {
            read_token_file(v, p->token, sizeof p->token);
        } else {
            char path[OCTO_LIMIT_PATH_BYTES];
            const char *home = getenv("HF_HOME"), *xdg = getenv("XDG_CACHE_HOME");
            const char *h = getenv("HOME");
            if (home && *home) snprintf(path, sizeof path, "%s/token", home);
            else if (xdg && *xdg) snprintf(path, sizeof path, "%s/huggingface/token", xdg);
            else snprintf(path, sizeof path, "%s/.cache/huggingface/token", h ? h : "");
            read_token_file(path, p->token, sizeof p->token);
        }
    } else if (((v = getenv("MODELSCOPE_API_TOKEN")) && *v) ||
               ((v = getenv("MODELSCOPE_TOKEN")) && *v)) {
        snprintf(p->token, sizeof p->token, "%s", v);
    }
}

/* ==== HTTP ==== */

typedef struct mem_sink {
    char *data;
    size_t len;
    bool over;
} mem_sink;

static size_t mem_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    mem_sink *m = ud;
    size_t n = size * nmemb;
    if (m->len + n > LIST_MAX_BYTES) {
        m->over = true;
        return 0;
    }
    char *d = octo_realloc(m->data, m->len + n + 1);
    if (!d) return 0;
    memcpy(d + m->len, ptr, n);
    m->len += n;
    d[m->len] = '\0';
    m->data = d;
    return n;
}

static struct curl_slist *auth_headers(const pull *p)
{
    struct curl_slist *h = NULL;
    if (p->token[0]) {
        char line[1100];
        snprintf(line, sizeof line, "Authorization: Bearer %s", p->token);
        h = curl_slist_append(h, line);
    }
    return h;
}

static void common_opts(const pull *p, CURL *c, struct curl_slist *h)
{
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "octo/" OCTO_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     p->o->low_speed_time_s > 0 ? p->o->low_speed_time_s : 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

/* GETs url into memory; the status in *status. */
static octo_err get_json(pull *p, const char *url, json_t **out, char *err, size_t err_size)
{
    CURL *c = curl_easy_init();
    if (!c) return OCTO_E_NOMEM;
    struct curl_slist *h = auth_headers(p);
    mem_sink m = {NULL, 0, false};
    common_opts(p, c, h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    octo_err rc = OCTO_OK;
    if (cc != CURLE_OK) {
        snprintf(err, err_size, "%s: %s", url, m.over ? "listing too large"
                                                     : curl_easy_strerror(cc));
        rc = OCTO_E_IO;
    } else if (status == 401 || status == 403) {
        snprintf(err, err_size, "%s: HTTP %ld (a gated or private repository needs a token: "
                 "HF_TOKEN or --token)", url, status);
        rc = OCTO_E_IO;
    } else if (status == 404) {
        snprintf(err, err_size, "%s: HTTP 404: no such repository or revision", url);
        rc = OCTO_E_NOT_FOUND;
    } else if (status != 200) {
        snprintf(err, err_size, "%s: HTTP %ld", url, status);
        rc = OCTO_E_IO;
    }
    if (!rc) {
        json_error_t je;
        *out = json_loadb(m.data ? m.data : "", m.len, 0, &je);
        if (!*out) {
            snprintf(err, err_size, "%s: not JSON (%s)", url, je.text);
            rc = OCTO_E_PARSE;
        }
    }
    octo_free(m.data);
    return rc;
}

/* ==== the file list ==== */

static bool selected(const octo_hub_pull_opts *o, const char *path)
{
    bool in = o->n_include == 0;
    for (int i = 0; i < o->n_include && !in; i++) in = fnmatch(o->include[i], path, 0) == 0;
    for (int i = 0; i < o->n_exclude && in; i++) in = fnmatch(o->exclude[i], path, 0) != 0;
    return in;
}

static bool path_ok(const char *s)
{
    if (!*s || s[0] == '/' || strlen(s) >= 1024) return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '\\') return false;
    /* no ".." component */
    const char *q = s;
    while (q) {
        if (q[0] == '.' && q[1] == '.' && (q[2] == '/' || !q[2])) return false;
        q = strchr(q, '/');
        if (q) q++;
    }
    return true;
}

static bool hex_ok(const char *s, size_t n)
{
    if (strlen(s) != n) return false;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789abcdef", *c)) return false;
    return true;
}

static octo_err add_file(pull *p, const char *path, uint64_t size, const char *etag, bool lfs)
{
    if (!path_ok(path)) {
        fail(p, OCTO_E_INVALID, "listing: file name '%.200s' is not a safe relative path", path);
        return OCTO_E_INVALID;
    }
    if (!hex_ok(etag, lfs ? 64 : 40)) {
        fail(p, OCTO_E_INVALID, "listing: '%.200s' has no %s hash", path,
             lfs ? "sha256" : "git blob");
        return OCTO_E_INVALID;
    }
    if (!selected(p->o, path)) return OCTO_OK;
    hub_file *f = octo_realloc(p->files, (p->n_files + 1) * sizeof *f);
    if (!f) return OCTO_E_NOMEM;
    p->files = f;
    f = &p->files[p->n_files];
    f->path = octo_strdup(path);
    if (!f->path) return OCTO_E_NOMEM;
    f->size = size;
    f->lfs = lfs;
    snprintf(f->etag, sizeof f->etag, "%s", etag);
    p->n_files++;
    p->total_bytes += size;
    return OCTO_OK;
}

static octo_err list_hf(pull *p)
{
    char url[2048];
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s?blobs=true", p->endpoint, p->repo,
             p->rev);
    json_t *root = NULL;
    octo_err rc = get_json(p, url, &root, p->err, sizeof p->err);
    if (rc) return p->rc = rc;
    const char *sha = json_string_value(json_object_get(root, "sha"));
    json_t *sib = json_object_get(root, "siblings");
    if (!sha || !hex_ok(sha, 40) || !json_is_array(sib)) {
        fail(p, OCTO_E_PARSE, "%s: no commit sha or siblings in the answer", url);
        json_decref(root);
        return p->rc;
    }
    snprintf(p->commit, sizeof p->commit, "%s", sha);
    size_t i;
    json_t *s;
    json_array_foreach(sib, i, s) {
        const char *name = json_string_value(json_object_get(s, "rfilename"));
        json_t *lfs = json_object_get(s, "lfs");
        const char *blob = json_string_value(json_object_get(s, "blobId"));
        json_int_t size = json_integer_value(json_object_get(s, "size"));
        const char *sha256 = lfs ? json_string_value(json_object_get(lfs, "sha256")) : NULL;
        if (lfs) size = json_integer_value(json_object_get(lfs, "size"));
        if (!name || size < 0 || (!sha256 && !blob)) {
            fail(p, OCTO_E_PARSE, "%s: sibling %zu lacks rfilename, size or hash", url, i);
            break;
        }
        if (add_file(p, name, (uint64_t)size, sha256 ? sha256 : blob, sha256 != NULL)) break;
    }
    json_decref(root);
    return p->rc;
}

static octo_err list_ms(pull *p)
{
    char url[2048];
    snprintf(url, sizeof url, "%s/api/v1/models/%s/repo/files?Revision=%s&Recursive=true",
             p->endpoint, p->repo, p->rev);
    json_t *root = NULL;
    octo_err rc = get_json(p, url, &root, p->err, sizeof p->err);
    if (rc) return p->rc = rc;
    json_t *files = json_object_get(json_object_get(root, "Data"), "Files");
    if (!json_is_array(files)) {
        fail(p, OCTO_E_PARSE, "%s: no Data.Files in the answer", url);
        json_decref(root);
        return p->rc;
    }
    /* ModelScope lists no commit: the snapshot is named by the revision */
    snprintf(p->commit, sizeof p->commit, "%s", p->rev);
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *type = json_string_value(json_object_get(f, "Type"));
        if (type && strcmp(type, "blob") != 0) continue; /* folders */
        const char *path = json_string_value(json_object_get(f, "Path"));
        const char *sha = json_string_value(json_object_get(f, "Sha256"));
        json_int_t size = json_integer_value(json_object_get(f, "Size"));
        if (!path || !sha || size < 0) {
            fail(p, OCTO_E_PARSE, "%s: file %zu lacks Path, Size or Sha256", url, i);
            break;
        }
        if (add_file(p, path, (uint64_t)size, sha, true)) break;
    }
    json_decref(root);
    return p->rc;
}

/* ==== one file ==== */

static int mkdirs(const char *path) /* every folder of `path` up to its last '/' */
{
    char buf[OCTO_LIMIT_PATH_BYTES];
    if (octo_strlcpy(buf, path, sizeof buf) >= sizeof buf) return -1; /* never a cut name */
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *s = '/';
    }
    return 0;
}

/* The file's hash as it arrives: sha256 (LFS) or git's blob sha1
 * ("blob <size>\0" + content), fed by the transfer, so that a finished
 * file is not read again; after a resume or a restart the bytes already on
 * disk are fed first (hasher_sync). */
typedef struct hasher {
    EVP_MD_CTX *ctx;
    uint64_t bytes; /* content bytes fed */
    bool ok;
} hasher;

static void hasher_start(hasher *h, const hub_file *f)
{
    if (!h->ctx) h->ctx = EVP_MD_CTX_new();
    h->bytes = 0;
    h->ok = h->ctx && EVP_DigestInit_ex(h->ctx, f->lfs ? EVP_sha256() : EVP_sha1(), NULL);
    if (h->ok && !f->lfs) {
        char head[64];
        int n = snprintf(head, sizeof head, "blob %llu", (unsigned long long)f->size);
        h->ok = EVP_DigestUpdate(h->ctx, head, (size_t)n + 1); /* with the NUL */
    }
}

static void hasher_feed(hasher *h, const void *data, size_t n)
{
    if (h->ok) h->ok = EVP_DigestUpdate(h->ctx, data, n);
    h->bytes += n;
}

/* Makes the hash cover exactly the `path` file's bytes now on disk. */
static void hasher_sync(hasher *h, const hub_file *f, const char *path)
{
    struct stat st;
    uint64_t size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (size == h->bytes && h->ok) return;
    hasher_start(h, f);
    FILE *in = size ? fopen(path, "rb") : NULL;
    static _Thread_local unsigned char buf[1 << 20];
    size_t n;
    while (in && h->ok && h->bytes < size && (n = fread(buf, 1, sizeof buf, in)) > 0)
        hasher_feed(h, buf, n);
    if (in && ferror(in)) h->ok = false;
    if (in) fclose(in);
}

static bool hasher_matches(hasher *h, const hub_file *f)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!h->ok || !EVP_DigestFinal_ex(h->ctx, md, &mdlen)) return false;
    h->ok = false; /* finalised */
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < mdlen; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return strcmp(hex, f->etag) == 0;
}

typedef struct xfer {
    pull *p;
    const hub_file *f;
    hasher *h;
    FILE *out;
    uint64_t have;    /* bytes in the file before this request */
    uint64_t wrote;
    long status;      /* of the response being written */
    char commit[64], etag[80];
    long long linked_size;
} xfer;

static size_t xfer_header(char *buf, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t n = size * nitems;
    char line[512];
    size_t m = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, buf, m);
    line[m] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    char *colon = strchr(line, ':');
    if (!strncmp(line, "HTTP/", 5)) {
        x->status = strtol(strchr(line, ' ') ? strchr(line, ' ') + 1 : "0", NULL, 10);
        return n;
    }
    if (!colon) return n;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ') v++;
    /* the hub's own headers (the first response has them; a CDN's does not) */
    if (!strcasecmp(line, "X-Repo-Commit") && !x->commit[0])
        snprintf(x->commit, sizeof x->commit, "%.63s", v);
    else if (!strcasecmp(line, "X-Linked-Etag") || (!strcasecmp(line, "ETag") && !x->etag[0])) {
        char *s = v;
        if (!strncmp(s, "W/", 2)) s += 2;
        if (*s == '"') s++;
        s[strcspn(s, "\"")] = '\0';
        if (!strcasecmp(line, "X-Linked-Etag") || !x->etag[0])
            snprintf(x->etag, sizeof x->etag, "%.79s", s);
    } else if (!strcasecmp(line, "X-Linked-Size") && x->linked_size < 0) {
        x->linked_size = strtoll(v, NULL, 10);
    }
    return n;
}

static size_t xfer_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->status != 200 && x->status != 206) return n; /* an error body */
    if (x->status == 200 && x->have && !x->wrote) { /* the server ignored the Range */
        if (ftruncate(fileno(x->out), 0) || fseek(x->out, 0, SEEK_SET)) return 0;
        atomic_fetch_sub(&x->p->done_bytes, x->have);
        x->have = 0;
        hasher_start(x->h, x->f);
    }
    if (fwrite(ptr, 1, n, x->out) != n) return 0;
    hasher_feed(x->h, ptr, n);
    x->wrote += n;
    atomic_fetch_add(&x->p->done_bytes, n);
    return n;
}

static void file_url(const pull *p, const hub_file *f, char *url, size_t n)
{
    char *esc = curl_easy_escape(NULL, f->path, 0);
    /* keep the folder separators of the path */
    char path[3 * 1024 + 1];
    size_t j = 0;
    for (const char *s = esc ? esc : ""; *s && j + 1 < sizeof path; s++) {
        if (!strncmp(s, "%2F", 3)) {
            path[j++] = '/';
            s += 2;
        } else {
            path[j++] = *s;
        }
    }
    path[j] = '\0';
    curl_free(esc);
    if (p->o->source == OCTO_HUB_MODELSCOPE)
        snprintf(url, n, "%s/api/v1/models/%s/repo?Revision=%s&FilePath=%s", p->endpoint,
                 p->repo, p->rev, path);
    else
        snprintf(url, n, "%s/%s/resolve/%s/%s", p->endpoint, p->repo, p->commit, path);
}

/* One attempt at the rest of the file; OCTO_OK when the transfer ended. */
static octo_err fetch_once(pull *p, CURL *c, const hub_file *f, const char *part, hasher *hs)
{
    struct stat st;
    uint64_t have = stat(part, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (have > f->size) { /* longer than it can be: start again */
        if (truncate(part, 0)) return OCTO_E_IO;
        have = 0;
    }
    atomic_fetch_add(&p->done_bytes, have);
    if (have == f->size && f->size > 0) return OCTO_OK;
    FILE *out = fopen(part, "ab");
    if (!out) {
        fail(p, OCTO_E_IO, "%s: %s", part, strerror(errno));
        return OCTO_E_IO;
    }
    char url[4096], range[64];
    file_url(p, f, url, sizeof url);
    hasher_sync(hs, f, part); /* the hash covers what is on disk */
    xfer x = {.p = p, .f = f, .h = hs, .out = out, .have = have, .linked_size = -1};
    struct curl_slist *h = auth_headers(p);
    curl_easy_reset(c);
    common_opts(p, c, h);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, xfer_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xfer_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    if (have) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)have);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    bool flushed = fclose(out) == 0;
    atomic_fetch_sub(&p->done_bytes, x.have + x.wrote); /* counted again next time */
    if (cc == CURLE_OK && status == 416 && have) return OCTO_OK; /* nothing left */
    if (cc != CURLE_OK || !flushed) {
        OCTO_LOG_WARN("%s: transfer stopped after %llu bytes: %s (resuming)", f->path,
                      (unsigned long long)(x.have + x.wrote), curl_easy_strerror(cc));
        return OCTO_E_IO;
    }
    if (status == 404) {
        fail(p, OCTO_E_NOT_FOUND, "%s: HTTP 404", url);
        return OCTO_E_NOT_FOUND;
    }
    if (status != 200 && status != 206) {
        fail(p, OCTO_E_IO, "%s: HTTP %ld", url, status);
        return p->rc;
    }
    /* the hub's headers must agree with the listing */
    if (x.etag[0] && p->o->source == OCTO_HUB_HF && strcmp(x.etag, f->etag) != 0) {
        fail(p, OCTO_E_INVALID, "%s: the hub's ETag %s is not the listing's %s", f->path,
             x.etag, f->etag);
        return p->rc;
    }
    if (x.linked_size >= 0 && (uint64_t)x.linked_size != f->size) {
        fail(p, OCTO_E_INVALID, "%s: X-Linked-Size %lld, the listing says %llu", f->path,
             x.linked_size, (unsigned long long)f->size);
        return p->rc;
    }
    if (x.commit[0] && p->o->source == OCTO_HUB_HF && strcmp(x.commit, p->commit) != 0) {
        fail(p, OCTO_E_INVALID, "%s: X-Repo-Commit %s, expected %s", f->path, x.commit,
             p->commit);
        return p->rc;
    }
    return OCTO_OK;
}

/* The snapshot link: snapshots/<commit>/<path> -> ../../blobs/<etag>
 * (one more ../ for each folder of path). */
static octo_err link_file(pull *p, const hub_file *f)
{
    char link[OCTO_LIMIT_PATH_BYTES], target[OCTO_LIMIT_PATH_BYTES];
    if (!pathf(link, sizeof link, "%s/snapshots/%s/%s", p->root, p->commit, f->path) ||
        mkdirs(link)) {
        fail(p, OCTO_E_IO, "%s: cannot make its folder", link);
        return OCTO_E_IO;
    }
    size_t len = 0;
    target[0] = '\0';
    for (const char *s = f->path; *s; s++)
        if (*s == '/') len += (size_t)snprintf(target + len, sizeof target - len, "../");
    snprintf(target + len, sizeof target - len, "../../blobs/%s", f->etag);
    char have[OCTO_LIMIT_PATH_BYTES];
    ssize_t got = readlink(link, have, sizeof have - 1);
    if (got >= 0) {
        have[got] = '\0';
        if (!strcmp(have, target)) return OCTO_OK;
    }
    unlink(link);
    if (symlink(target, link)) {
        fail(p, OCTO_E_IO, "%s: symlink: %s", link, strerror(errno));
        return OCTO_E_IO;
    }
    return OCTO_OK;
}

static octo_err pull_file(pull *p, CURL *c, const hub_file *f)
{
    char blob[OCTO_LIMIT_PATH_BYTES], part[OCTO_LIMIT_PATH_BYTES + 16];
    pathf(blob, sizeof blob, "%s/blobs/%s", p->root, f->etag);
    pathf(part, sizeof part, "%s.incomplete", blob);
    struct stat st;
    if (stat(blob, &st) == 0 && (uint64_t)st.st_size == f->size) { /* already here */
        atomic_fetch_add(&p->done_bytes, f->size);
        return link_file(p, f);
    }
    octo_err rc = OCTO_E_IO;
    hasher hs = {NULL, 0, false};
    for (int attempt = 0; attempt < OCTO_HUB_RETRIES && rc == OCTO_E_IO && !p->rc; attempt++) {
        if (attempt) sleep(attempt < 3 ? (unsigned)attempt : 3u);
        rc = fetch_once(p, c, f, part, &hs);
    }
    if (!rc) hasher_sync(&hs, f, part); /* e.g. nothing was left to fetch */
    bool hash_ok = !rc && hasher_matches(&hs, f);
    EVP_MD_CTX_free(hs.ctx);
    if (rc) {
        fail(p, rc, "%s: transfer failed %d times (the partial file is kept: run the same "
             "pull again to resume)", f->path, OCTO_HUB_RETRIES);
        return rc;
    }
    if (stat(part, &st) || (uint64_t)st.st_size != f->size) {
        unlink(part);
        fail(p, OCTO_E_INVALID, "%s: %lld bytes arrived, %llu expected (deleted)", f->path,
             (long long)(stat(part, &st) ? 0 : st.st_size), (unsigned long long)f->size);
        return OCTO_E_INVALID;
    }
    if (!hash_ok) {
        unlink(part);
        fail(p, OCTO_E_INVALID, "%s: corrupted: its %s is not %s (deleted)", f->path,
             f->lfs ? "sha256" : "git blob sha1", f->etag);
        return OCTO_E_INVALID;
    }
    if (rename(part, blob)) {
        fail(p, OCTO_E_IO, "%s: rename: %s", blob, strerror(errno));
        return OCTO_E_IO;
    }
    atomic_fetch_add(&p->done_bytes, f->size);
    return link_file(p, f);
}

static void *worker(void *arg)
{
    pull *p = arg;
    CURL *c = curl_easy_init();
    if (!c) {
        fail(p, OCTO_E_NOMEM, "curl_easy_init failed");
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_files || p->rc) break;
        (void)pull_file(p, c, &p->files[i]);
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* ==== progress ==== */

static void progress_line(const pull *p, double t0, bool last)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double dt = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0;
    uint64_t done = atomic_load(&p->done_bytes);
    if (done > p->total_bytes) done = p->total_bytes;
    double frac = p->total_bytes ? (double)done / (double)p->total_bytes : 1.0;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    char line[200];
    int n = snprintf(line, sizeof line, "\r[%s] %5.1f%% %8.2f / %.2f GiB %7.1f MiB/s%s", bar,
                     100 * frac, (double)done / (1 << 30), (double)p->total_bytes / (1 << 30),
                     dt > 0 ? (double)done / (1 << 20) / dt : 0.0, last ? "\n" : "");
    if (n > 0) (void)!write(STDERR_FILENO, line, (size_t)n);
}

/* ==== the pull ==== */

static octo_err write_ref(pull *p)
{
    if (!strcmp(p->rev, p->commit)) return OCTO_OK;
    char path[OCTO_LIMIT_PATH_BYTES], tmp[OCTO_LIMIT_PATH_BYTES + 8];
    pathf(path, sizeof path, "%s/refs/%s", p->root, p->rev);
    pathf(tmp, sizeof tmp, "%s.tmp", path);
    if (mkdirs(path)) return OCTO_E_IO;
    FILE *f = fopen(tmp, "w");
    if (!f) return OCTO_E_IO;
    bool ok = fputs(p->commit, f) >= 0; /* no newline, as huggingface_hub writes it */
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path)) return OCTO_E_IO;
    return OCTO_OK;
}

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

octo_err octo_hub_pull(const octo_hub_pull_opts *o, char *out, size_t out_size, char *err,
                       size_t err_size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    pull *p = octo_calloc(1, sizeof *p);
    if (!p) return OCTO_E_NOMEM;
    p->o = o;
    pthread_mutex_init(&p->mu, NULL);
    octo_err rc = OCTO_OK;
    if (!octo_hub_parse_id(o->id, p->repo, sizeof p->repo, p->rev, sizeof p->rev)) {
        snprintf(p->err, sizeof p->err, "'%s' is not ORG/NAME[@REVISION]", o->id ? o->id : "");
        rc = OCTO_E_INVALID;
        goto done;
    }
    if (o->source == OCTO_HUB_MODELSCOPE && !strchr(o->id, '@'))
        snprintf(p->rev, sizeof p->rev, "master"); /* ModelScope's default branch */
    if (o->cache_dir) snprintf(p->cache, sizeof p->cache, "%s", o->cache_dir);
    else if (octo_hub_cache_dir(p->cache, sizeof p->cache)) {
        snprintf(p->err, sizeof p->err, "no cache folder: set HF_HUB_CACHE, HF_HOME or HOME");
        rc = OCTO_E_INVALID;
        goto done;
    }
    settings(p);
    char org[128], name[128];
    snprintf(org, sizeof org, "%.*s", (int)(strchr(p->repo, '/') - p->repo), p->repo);
    snprintf(name, sizeof name, "%s", strchr(p->repo, '/') + 1);
    if (!pathf(p->root, sizeof p->root, "%s/models--%s--%s", p->cache, org, name)) {
        snprintf(p->err, sizeof p->err, "the cache folder's name is too long");
        rc = OCTO_E_TOO_LARGE;
        goto done;
    }
    rc = o->source == OCTO_HUB_MODELSCOPE ? list_ms(p) : list_hf(p);
    if (rc) goto done;
    if (p->n_files == 0) {
        snprintf(p->err, sizeof p->err, "%s@%s: no file matches the --include/--exclude "
                 "patterns", p->repo, p->rev);
        rc = OCTO_E_NOT_FOUND;
        goto done;
    }
    char blobs[OCTO_LIMIT_PATH_BYTES + 8];
    pathf(blobs, sizeof blobs, "%s/blobs/", p->root);
    if (mkdirs(blobs)) {
        snprintf(p->err, sizeof p->err, "%.400s: cannot create it: %s", blobs, strerror(errno));
        rc = OCTO_E_IO;
        goto done;
    }
    OCTO_LOG_INFO("%s@%s (commit %s): %zu files, %.2f GiB into %s", p->repo, p->rev, p->commit,
                  p->n_files, (double)p->total_bytes / (1 << 30), p->root);
    int nt = o->parallel > 0 ? o->parallel : 8;
    if ((size_t)nt > p->n_files) nt = (int)p->n_files;
    pthread_t th[64];
    if (nt > 64) nt = 64;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    int started = 0;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, worker, p)) break;
    if (!started) {
        snprintf(p->err, sizeof p->err, "cannot start a download thread");
        rc = OCTO_E_NOMEM;
        goto done;
    }
    if (o->progress) { /* the bar, until every worker is through the queue */
        while (atomic_load(&p->next) < p->n_files + (size_t)started && !p->rc) {
            progress_line(p, t0, false);
            struct timespec nap = {0, 200 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (o->progress) progress_line(p, t0, true);
    rc = p->rc;
    if (!rc && write_ref(p)) {
        snprintf(p->err, sizeof p->err, "%.400s/refs/%.64s: cannot write it", p->root, p->rev);
        rc = OCTO_E_IO;
    }
    if (!rc) {
        if (!pathf(out, out_size, "%s/snapshots/%s", p->root, p->commit)) rc = OCTO_E_TOO_LARGE;
    }
done:
    if (rc && err) snprintf(err, err_size, "%s", p->err[0] ? p->err : octo_err_str(rc));
    for (size_t i = 0; i < p->n_files; i++) octo_free(p->files[i].path);
    octo_free(p->files);
    pthread_mutex_destroy(&p->mu);
    octo_free(p);
    return rc;
}
