/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_kb — `octo kb`: knowledge bases from the command line, as a client
 * of a running `octo serve` (its Knowledge API, with a dataset key):
 * create and list datasets, ingest a folder with a progress bar (every
 * supported file is uploaded, then the batches are followed until each
 * document is completed or in error), and query.
 *
 * It talks HTTP (libcurl) rather than opening the store itself, so the
 * serving process stays the one writer of the database.
 */
#include "cli.h"
#include "cli_int.h"

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

static const char k_kb_help[] =
    "usage: octo kb [--url URL] [--key KEY] COMMAND ...\n"
    "\n"
    "Knowledge bases of a running `octo serve` (docs/KNOWLEDGE.md).\n"
    "\n"
    "  create NAME [--economy]         make a dataset (high_quality unless --economy)\n"
    "  list                            the key's datasets\n"
    "  ingest DATASET FOLDER           upload every pdf, png, jpg, txt, md, html, csv of\n"
    "                                  FOLDER (and below), show progress until indexed\n"
    "  query DATASET TEXT [--method semantic|full_text|hybrid|keyword] [--top-k N]\n"
    "\n"
    "  --url URL    the server (default http://127.0.0.1:8000, or $OCTO_URL)\n"
    "  --key KEY    a dataset key of server.knowledge.api_keys (or $OCTO_KB_KEY)\n"
    "\n"
    "Exit codes: 0 success, 1 a request or a document failed, 2 bad arguments.\n";

typedef struct kbc {
    const char *url, *key;
} kbc;

typedef struct resp {
    octo_buf b;
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    resp *r = ctx;
    return octo_buf_append(&r->b, p, size * n) == OCTO_OK ? size * n : 0;
}

/* One request; *out the JSON answer. Returns the HTTP status, or -1 with a
 * message printed when the server cannot be reached. */
static long request(const kbc *k, const char *method, const char *path, const json_t *body,
                    curl_mime *form, json_t **out)
{
    char url[2048], auth[1100];
    snprintf(url, sizeof url, "%s/v1%s", k->url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", k->key);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    resp r;
    octo_buf_init(&r.b, 256u * 1024u * 1024u);
    long status = -1;
    *out = NULL;
    if (!c || !h) goto done;
    if (txt) h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (txt) curl_easy_setopt(c, CURLOPT_POSTFIELDS, txt);
    if (form) curl_easy_setopt(c, CURLOPT_MIMEPOST, form);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "octo kb: %s: %s\n", url, curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (r.b.len) *out = json_loadb(r.b.data, r.b.len, 0, NULL);
done:
    octo_buf_deinit(&r.b);
    free(txt);
    curl_slist_free_all(h);
    if (c) curl_easy_cleanup(c);
    return status;
}

/* Prints a Dify error answer; returns the exit code. */
static int failed(long status, const json_t *j, const char *what)
{
    if (status < 0) return OCTO_EXIT_FAIL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    fprintf(stderr, "octo kb: %s: HTTP %ld%s%s\n", what, status, msg ? ": " : "",
            msg ? msg : "");
    return OCTO_EXIT_FAIL;
}

static int cmd_create(const kbc *k, const char *name, bool economy)
{
    json_t *b = json_pack("{s:s, s:s}", "name", name, "indexing_technique",
                          economy ? "economy" : "high_quality"), *out = NULL;
    long st = request(k, "POST", "/datasets", b, NULL, &out);
    int rc = st == 200 ? OCTO_EXIT_OK : failed(st, out, "create");
    if (st == 200) printf("%s\n", json_string_value(json_object_get(out, "id")));
    json_decref(b);
    json_decref(out);
    return rc;
}

static int cmd_list(const kbc *k)
{
    json_t *out = NULL;
    long st = request(k, "GET", "/datasets?limit=100", NULL, NULL, &out);
    if (st != 200) {
        int rc = failed(st, out, "list");
        json_decref(out);
        return rc;
    }
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(out, "data"), i, d)
        printf("%s  %-12s %4lld docs  %s\n", json_string_value(json_object_get(d, "id")),
               json_is_string(json_object_get(d, "indexing_technique"))
                   ? json_string_value(json_object_get(d, "indexing_technique")) : "-",
               (long long)json_integer_value(json_object_get(d, "document_count")),
               json_string_value(json_object_get(d, "name")));
    json_decref(out);
    return OCTO_EXIT_OK;
}

/* ==== ingest ==== */

typedef struct files {
    char **path;
    size_t n, cap;
} files;

static bool supported(const char *name)
{
    static const char *const ext[] = {"pdf", "png", "jpg", "jpeg", "txt", "md", "markdown",
                                      "mdx", "html", "htm", "csv", NULL};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && ext[i]; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0) return true;
    return false;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(const char *dir, files *f, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 16) {
        if (d) closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            walk(p, f, depth + 1);
        } else if (S_ISREG(st.st_mode) && supported(e->d_name)) {
            if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 64;
                char **np = realloc(f->path, f->cap * sizeof *np);
                if (!np) break;
                f->path = np;
            }
            f->path[f->n++] = strdup(p);
        }
    }
    closedir(d);
}

static void bar(size_t done, size_t total, long segs, long segs_total, size_t errors)
{
    int w = 30, fill = total ? (int)(w * done / total) : w;
    fprintf(stderr, "\r[%.*s%.*s] %zu/%zu documents, %ld/%ld segments%s", fill,
            "##############################", w - fill, "..............................",
            done, total, segs, segs_total, errors ? " (errors)" : "");
    fflush(stderr);
}

static int cmd_ingest(const kbc *k, const char *ds, const char *dir)
{
    files f = {0};
    walk(dir, &f, 0);
    if (f.n == 0) {
        fprintf(stderr, "octo kb: no supported file in %s\n", dir);
        return OCTO_EXIT_FAIL;
    }
    qsort(f.path, f.n, sizeof *f.path, by_name);
    char **batch = calloc(f.n, sizeof *batch);
    int rc = batch ? OCTO_EXIT_OK : OCTO_EXIT_FAIL;
    char path[512], opts[160];
    /* the dataset's own technique (its first document sets it: high_quality) */
    json_t *dsj = NULL;
    snprintf(path, sizeof path, "/datasets/%s", ds);
    long dst = request(k, "GET", path, NULL, NULL, &dsj);
    if (dst != 200) {
        rc = failed(dst, dsj, "dataset");
        json_decref(dsj);
        for (size_t i = 0; i < f.n; i++) free(f.path[i]);
        free(f.path);
        free(batch);
        return rc;
    }
    const char *tech = json_string_value(json_object_get(dsj, "indexing_technique"));
    snprintf(opts, sizeof opts, "{\"indexing_technique\": \"%s\", \"process_rule\": "
             "{\"mode\": \"automatic\"}}", tech ? tech : "high_quality");
    json_decref(dsj);
    snprintf(path, sizeof path, "/datasets/%s/document/create-by-file", ds);
    for (size_t i = 0; batch && i < f.n; i++) {
        CURL *c = curl_easy_init();
        curl_mime *m = c ? curl_mime_init(c) : NULL;
        curl_mimepart *p = m ? curl_mime_addpart(m) : NULL;
        if (!p) {
            rc = OCTO_EXIT_FAIL;
            break;
        }
        curl_mime_name(p, "file");
        curl_mime_filedata(p, f.path[i]);
        p = curl_mime_addpart(m);
        curl_mime_name(p, "data");
        curl_mime_data(p, opts, CURL_ZERO_TERMINATED);
        json_t *out = NULL;
        long st = request(k, "POST", path, NULL, m, &out);
        if (st == 200) {
            batch[i] = strdup(json_string_value(json_object_get(out, "batch")));
        } else {
            char what[600];
            snprintf(what, sizeof what, "upload %s", f.path[i]);
            rc = failed(st, out, what);
        }
        json_decref(out);
        curl_mime_free(m);
        curl_easy_cleanup(c);
        if (st < 0) break;
    }
    /* follow the batches */
    size_t done = 0, errors = 0;
    bool *fin = calloc(f.n, sizeof *fin);
    double t0 = octo_now();
    while (fin && done < f.n) {
        long segs = 0, segs_total = 0;
        for (size_t i = 0; i < f.n; i++) {
            if (!batch || !batch[i]) {
                if (!fin[i]) {
                    fin[i] = true;
                    done++;
                    errors++;
                }
                continue;
            }
            char sp[512];
            snprintf(sp, sizeof sp, "/datasets/%s/documents/%s/indexing-status", ds, batch[i]);
            json_t *out = NULL;
            long st = request(k, "GET", sp, NULL, NULL, &out);
            const json_t *e = json_array_get(json_object_get(out, "data"), 0);
            const char *s = json_string_value(json_object_get(e, "indexing_status"));
            segs += (long)json_integer_value(json_object_get(e, "completed_segments"));
            segs_total += (long)json_integer_value(json_object_get(e, "total_segments"));
            if (!fin[i] && (st != 200 || !s || !strcmp(s, "completed") || !strcmp(s, "error"))) {
                fin[i] = true;
                done++;
                if (st != 200 || !s || strcmp(s, "completed")) {
                    errors++;
                    const char *why = json_string_value(json_object_get(e, "error"));
                    fprintf(stderr, "\nocto kb: %s: %s\n", f.path[i], why ? why : "failed");
                }
            }
            json_decref(out);
        }
        bar(done, f.n, segs, segs_total, errors);
        if (done < f.n) usleep(200000);
    }
    fprintf(stderr, "\n");
    printf("%zu documents, %zu completed, %zu failed, %.1f s\n", f.n, f.n - errors, errors,
           octo_now() - t0);
    for (size_t i = 0; i < f.n; i++) {
        free(f.path[i]);
        if (batch) free(batch[i]);
    }
    free(f.path);
    free(batch);
    free(fin);
    return errors || rc ? OCTO_EXIT_FAIL : OCTO_EXIT_OK;
}

static int cmd_query(const kbc *k, const char *ds, const char *text, const char *method,
                     long top_k)
{
    char m[64];
    snprintf(m, sizeof m, "%s_search", method);
    json_t *b = json_pack("{s:s, s:{s:s, s:I}}", "query", text, "retrieval_model",
                          "search_method", m, "top_k", (json_int_t)top_k), *out = NULL;
    char path[512];
    snprintf(path, sizeof path, "/datasets/%s/retrieve", ds);
    long st = request(k, "POST", path, b, NULL, &out);
    json_decref(b);
    if (st != 200) {
        int rc = failed(st, out, "query");
        json_decref(out);
        return rc;
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(out, "records"), i, r) {
        const json_t *seg = json_object_get(r, "segment");
        const char *content = json_string_value(json_object_get(seg, "content"));
        printf("%zu. %.4f  %s #%lld\n   ", i + 1, json_real_value(json_object_get(r, "score")),
               json_string_value(json_object_get(json_object_get(seg, "document"), "name")),
               (long long)json_integer_value(json_object_get(seg, "position")));
        for (size_t c = 0; content && content[c] && c < 300; c++)
            putchar(content[c] == '\n' ? ' ' : content[c]);
        printf("\n");
    }
    json_decref(out);
    return OCTO_EXIT_OK;
}

int octo_cli_kb(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv) || argc < 2) {
        fputs(k_kb_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? OCTO_EXIT_USAGE : OCTO_EXIT_OK;
    }
    kbc k = {getenv("OCTO_URL"), getenv("OCTO_KB_KEY")};
    if (!k.url) k.url = "http://127.0.0.1:8000";
    const char *pos[4] = {0}, *method = "semantic";
    size_t npos = 0;
    long top_k = 4;
    bool economy = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool val = i + 1 < argc;
        if (!strcmp(a, "--url") && val) k.url = argv[++i];
        else if (!strcmp(a, "--key") && val) k.key = argv[++i];
        else if (!strcmp(a, "--method") && val) method = argv[++i];
        else if (!strcmp(a, "--economy")) economy = true;
        else if (!strcmp(a, "--top-k") && val) {
            if (octo_parse_long(argv[++i], 1, 100, &top_k) != OCTO_OK) {
                fprintf(stderr, "octo kb: --top-k: expected 1..100, got '%s'\n", argv[i]);
                return OCTO_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "octo kb: unknown or incomplete option '%s'\n", a);
            return OCTO_EXIT_USAGE;
        } else if (npos < 4) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "octo kb: unexpected argument '%s'\n", a);
            return OCTO_EXIT_USAGE;
        }
    }
    if (strcmp(method, "semantic") && strcmp(method, "full_text") && strcmp(method, "hybrid") &&
        strcmp(method, "keyword")) {
        fprintf(stderr, "octo kb: --method must be semantic, full_text, hybrid or keyword\n");
        return OCTO_EXIT_USAGE;
    }
    if (!k.key) {
        fprintf(stderr, "octo kb: a dataset key is needed: --key KEY or $OCTO_KB_KEY\n");
        return OCTO_EXIT_USAGE;
    }
    const char *cmd = pos[0] ? pos[0] : "";
    size_t want = !strcmp(cmd, "create") ? 2 : !strcmp(cmd, "list") ? 1
                  : !strcmp(cmd, "ingest") || !strcmp(cmd, "query") ? 3 : 0;
    if (!want) {
        fprintf(stderr, "octo kb: unknown command '%s' (create, list, ingest, query)\n", cmd);
        return OCTO_EXIT_USAGE;
    }
    if (npos != want) {
        fprintf(stderr, "octo kb %s: expected %zu argument(s), got %zu (see octo kb --help)\n",
                cmd, want - 1, npos - 1);
        return OCTO_EXIT_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (!strcmp(cmd, "create")) rc = cmd_create(&k, pos[1], economy);
    else if (!strcmp(cmd, "list")) rc = cmd_list(&k);
    else if (!strcmp(cmd, "ingest")) rc = cmd_ingest(&k, pos[1], pos[2]);
    else rc = cmd_query(&k, pos[1], pos[2], method, top_k);
    curl_global_cleanup();
    return rc;
}
