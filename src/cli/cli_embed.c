/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_embed — `octo embed`: embeddings of texts given on the command line
 * or one per line of a file, printed as JSON lines, with the same maths as
 * POST /v1/embeddings (the tokenizer's post-processor, last-token pooling,
 * Matryoshka truncation, L2 normalisation, the official instruction
 * format; all of it runtime/'s, shared with the api). All texts go to the
 * model instance's pooling batcher at once.
 *
 * It is not a server and keeps nothing: one run, one model.
 */
#include "cli.h"
#include "cli_int.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "engine/engine.h"
#include "runtime/runtime.h"

static const char k_embed_help[] =
    "usage: octo embed --model DIR [options] [TEXT... | --file F]\n"
    "\n"
    "Prints one JSON line per text: {\"index\", \"tokens\", \"embedding\"}, the\n"
    "last-token pooled, L2-normalised embedding of an embedding model (e.g.\n"
    "Qwen3-Embedding) in DIR (config.json, model.safetensors, tokenizer.json).\n"
    "\n"
    "  --model DIR            model folder\n"
    "  --load-format F        auto | dummy (random weights from config.json)\n"
    "  --file F               one text per line ('-': standard input)\n"
    "  --dimensions N         keep the first N dimensions, then re-normalise\n"
    "  --instruction TASK     texts are queries: \"Instruct: TASK\\nQuery:TEXT\"\n"
    "  --truncate N           keep the last N tokens of longer texts\n"
    "  --threads N            CPU threads (default: all)\n";

#define MAX_TEXTS 65536
#define MAX_FILE_BYTES (256u * 1024u * 1024u)

typedef struct embed_opts {
    const char *model, *file, *instruction;
    bool dummy;
    long dims, truncate, threads;
} embed_opts;

typedef struct texts {
    char **s;
    size_t n, cap;
} texts;

static bool texts_add(texts *t, const char *s, size_t len)
{
    if (t->n == MAX_TEXTS) return false;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **ns = octo_realloc(t->s, cap * sizeof *ns);
        if (!ns) return false;
        t->s = ns;
        t->cap = cap;
    }
    t->s[t->n] = octo_strndup(s, len);
    return t->s[t->n++] != NULL;
}

static void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++) octo_free(t->s[i]);
    octo_free(t->s);
}

/* One text per non-empty line of `path` ("-": stdin). */
static bool read_file(const char *path, texts *t)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return false;
    octo_buf b;
    octo_buf_init(&b, MAX_FILE_BYTES);
    char chunk[65536];
    size_t got;
    bool ok = true;
    while (ok && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = !octo_buf_append(&b, chunk, got);
    if (f != stdin) fclose(f);
    for (size_t i = 0; ok && i < b.len;) {
        const char *nl = memchr(b.data + i, '\n', b.len - i);
        size_t end = nl ? (size_t)(nl - b.data) : b.len, len = end - i;
        if (len && b.data[i + len - 1] == '\r') len--;
        if (len) ok = texts_add(t, b.data + i, len);
        i = end + 1;
    }
    octo_buf_deinit(&b);
    return ok;
}

static bool flag(const char *a, const char *name, int *i, int argc, char **argv,
                 const char **val)
{
    if (strcmp(a, name) != 0) return false;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

static int parse_args(int argc, char **argv, embed_opts *o, texts *t)
{
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool bad = false;
        if (flag(a, "--model", &i, argc, argv, &v)) { o->model = v; bad = !v; }
        else if (flag(a, "--file", &i, argc, argv, &v)) { o->file = v; bad = !v; }
        else if (flag(a, "--instruction", &i, argc, argv, &v)) { o->instruction = v; bad = !v; }
        else if (flag(a, "--load-format", &i, argc, argv, &v)) {
            bad = !v || (strcmp(v, "dummy") && strcmp(v, "auto"));
            o->dummy = v && strcmp(v, "dummy") == 0;
        } else if (flag(a, "--dimensions", &i, argc, argv, &v))
            bad = !v || octo_parse_long(v, 1, 1 << 20, &o->dims);
        else if (flag(a, "--truncate", &i, argc, argv, &v))
            bad = !v || octo_parse_long(v, 1, 1 << 24, &o->truncate);
        else if (flag(a, "--threads", &i, argc, argv, &v))
            bad = !v || octo_parse_long(v, 1, 1024, &o->threads);
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "octo embed: unknown option '%s'\n", a);
            return OCTO_EXIT_USAGE;
        } else if (!texts_add(t, a, strlen(a))) {
            fprintf(stderr, "octo embed: too many texts\n");
            return OCTO_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "octo embed: bad or missing value for %s\n", a);
            return OCTO_EXIT_USAGE;
        }
    }
    if (!o->model) {
        fprintf(stderr, "octo embed: need --model DIR (see --help)\n");
        return OCTO_EXIT_USAGE;
    }
    if (o->file && !read_file(o->file, t)) {
        fprintf(stderr, "octo embed: cannot read %s\n", o->file);
        return OCTO_EXIT_FAIL;
    }
    if (t->n == 0) {
        fprintf(stderr, "octo embed: no text to embed\n");
        return OCTO_EXIT_USAGE;
    }
    return OCTO_EXIT_OK;
}

/* Tokenises every text (with the instruction and truncation applied). */
static int tokenize_all(const embed_opts *o, const octo_runtime_model *rm, const texts *t,
                        int32_t **ids, int64_t *lens)
{
    for (size_t i = 0; i < t->n; i++) {
        size_t n = 0;
        octo_err rc = octo_runtime_embed_tokens(rm, o->instruction, NULL, t->s[i],
                                                strlen(t->s[i]), true, &ids[i], &n, NULL);
        if (rc || n == 0) {
            fprintf(stderr, "octo embed: text %zu: cannot tokenise (%s)\n", i,
                    rc ? octo_err_str(rc) : "no tokens");
            return OCTO_EXIT_FAIL;
        }
        lens[i] = octo_runtime_truncate(ids[i], (int64_t)n, o->truncate);
    }
    return OCTO_EXIT_OK;
}

static void print_row(size_t i, int64_t n_tokens, float *v, int64_t dims)
{
    octo_runtime_embed_normalize(v, dims);
    printf("{\"index\": %zu, \"tokens\": %lld, \"embedding\": [", i, (long long)n_tokens);
    for (int64_t k = 0; k < dims; k++) printf("%s%.9g", k ? ", " : "", (double)v[k]);
    printf("]}\n");
}

/* The model entry `octo embed` stands for: one embed model on the CPU. */
static void embed_config(octo_model_config *m, const embed_opts *o)
{
    memset(m, 0, sizeof *m);
    m->name = (char *)o->model;
    m->path = (char *)o->model;
    m->task = OCTO_TASK_EMBED;
    m->load_format = o->dummy ? OCTO_LOAD_DUMMY : OCTO_LOAD_AUTO;
}

static int embed_all(const embed_opts *o, const texts *t)
{
    int rc_exit = OCTO_EXIT_FAIL;
    char err[512] = "";
    octo_runtime_model *rm = NULL;
    int32_t **ids = octo_calloc(t->n, sizeof *ids);
    int64_t *lens = octo_calloc(t->n, sizeof *lens);
    float *out = NULL;
    if (!ids || !lens) goto done;
    octo_model_config mc;
    embed_config(&mc, o);
    octo_runtime_opts ro = {.n_threads = (int)o->threads};
    if (octo_runtime_model_new(&mc, &ro, &rm, err, sizeof err)) {
        fprintf(stderr, "octo embed: %s\n", err);
        goto done;
    }
    rc_exit = tokenize_all(o, rm, t, ids, lens);
    if (rc_exit) goto done;
    rc_exit = OCTO_EXIT_FAIL;
    octo_engine_pool *pool = octo_runtime_model_pool(rm);
    int64_t hidden = octo_engine_pool_out_dim(pool);
    int64_t dims = o->dims > 0 && o->dims < hidden ? o->dims : hidden;
    out = octo_malloc(t->n * (size_t)hidden * sizeof *out);
    if (!out) goto done;
    double t0 = octo_now();
    if (octo_engine_pool_run(pool, (const int32_t *const *)ids, lens, (int64_t)t->n, out, err,
                             sizeof err)) {
        fprintf(stderr, "octo embed: %s\n", err);
        goto done;
    }
    double dt = octo_now() - t0;
    int64_t total = 0;
    for (size_t i = 0; i < t->n; i++) {
        print_row(i, lens[i], out + (int64_t)i * hidden, dims);
        total += lens[i];
    }
    fprintf(stderr, "octo embed: %zu texts, %lld tokens in %.3f s (%.1f texts/s, %.0f tokens/s)\n",
            t->n, (long long)total, dt, (double)t->n / dt, (double)total / dt);
    rc_exit = OCTO_EXIT_OK;
done:
    octo_runtime_model_free(rm);
    for (size_t i = 0; ids && i < t->n; i++) octo_free(ids[i]);
    octo_free(ids);
    octo_free(lens);
    octo_free(out);
    return rc_exit;
}

int octo_cli_embed(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        fputs(k_embed_help, stdout);
        return OCTO_EXIT_OK;
    }
    embed_opts o = {0};
    texts t = {0};
    int rc = parse_args(argc, argv, &o, &t);
    if (!rc) rc = embed_all(&o, &t);
    texts_free(&t);
    return rc;
}
