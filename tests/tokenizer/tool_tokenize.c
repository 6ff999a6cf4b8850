/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_tokenize — drives octo's tokenizer for the Python tests and the
 * benchmark. Not a product tool.
 *
 *   tool_tokenize encode TOKENIZER_JSON LINES_JSONL [--vocab] [--special]
 *       LINES_JSONL holds one JSON string per line. For each, prints one
 *       JSON line {"ids": [...], "dec": "..."} (dec = decode(ids) keeping
 *       special tokens) or {"err": "...", "offset": N}.
 *       --vocab builds the tokenizer through octo_text_tokenizer_new_from_vocab
 *       from arrays made the way a GGUF converter makes them (tokens by id,
 *       types NORMAL/CONTROL/USER_DEFINED/UNUSED, "a b" merges, pre "qwen2").
 *       --special encodes with add_special = true.
 *   tool_tokenize decode TOKENIZER_JSON IDS_JSONL [--skip]
 *       IDS_JSONL holds one JSON array of ids per line; prints the decoded
 *       text as one JSON string per line, plus the streamed text (pushed
 *       one id at a time) as {"dec": ..., "stream": ...}.
 *   tool_tokenize bench TOKENIZER_JSON LINES_JSONL ROUNDS
 *       Prints JSON: load seconds, encode seconds, bytes, tokens, MB/s.
 */
#include "base/base.h"
#include "tokenizer/tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the GGUF-style arrays, made from tokenizer.json ---- */

typedef struct vocab_arrays {
    octo_text_tokenizer_vocab v;
    char **tokens;
    int32_t *types;
    char **merges;
} vocab_arrays;

static void arrays_free(vocab_arrays *a)
{
    for (size_t i = 0; a->tokens && i < a->v.n_tokens; i++) free(a->tokens[i]);
    for (size_t i = 0; a->merges && i < a->v.n_merges; i++) free(a->merges[i]);
    free(a->tokens);
    free(a->types);
    free(a->merges);
}

static int arrays_from_json(const char *path, vocab_arrays *a)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return fprintf(stderr, "json: %s\n", je.text), 1;
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    json_t *merges = json_object_get(json_object_get(root, "model"), "merges");
    json_t *added = json_object_get(root, "added_tokens");
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(vocab, k, v) if ((size_t)json_integer_value(v) + 1 > n) n = (size_t)json_integer_value(v) + 1;
    for (size_t i = 0; i < json_array_size(added); i++) {
        size_t id = (size_t)json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (id + 1 > n) n = id + 1;
    }
    n += 7; /* padding entries, as converters pad to the model's vocab size */
    a->tokens = calloc(n, sizeof *a->tokens);
    a->types = calloc(n, sizeof *a->types);
    a->merges = calloc(json_array_size(merges) + 1, sizeof *a->merges);
    json_object_foreach(vocab, k, v) {
        a->tokens[json_integer_value(v)] = strdup(k);
        a->types[json_integer_value(v)] = OCTO_TEXT_TOKEN_NORMAL;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *t = json_array_get(added, i);
        size_t id = (size_t)json_integer_value(json_object_get(t, "id"));
        free(a->tokens[id]);
        a->tokens[id] = strdup(json_string_value(json_object_get(t, "content")));
        a->types[id] = json_is_true(json_object_get(t, "special")) ? OCTO_TEXT_TOKEN_CONTROL
                                                                   : OCTO_TEXT_TOKEN_USER_DEFINED;
    }
    for (size_t i = 0; i < n; i++) {
        if (a->tokens[i]) continue;
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%zu]", i);
        a->tokens[i] = strdup(pad);
        a->types[i] = OCTO_TEXT_TOKEN_UNUSED;
    }
    for (size_t i = 0; i < json_array_size(merges); i++) {
        json_t *m = json_array_get(merges, i);
        if (json_is_string(m)) {
            a->merges[i] = strdup(json_string_value(m));
        } else {
            const char *l = json_string_value(json_array_get(m, 0));
            const char *r = json_string_value(json_array_get(m, 1));
            size_t len = strlen(l) + strlen(r) + 2;
            a->merges[i] = malloc(len);
            snprintf(a->merges[i], len, "%s %s", l, r);
        }
    }
    a->v = (octo_text_tokenizer_vocab){
        .n_tokens = n, .tokens = (const char *const *)a->tokens, .token_types = a->types,
        .n_merges = json_array_size(merges), .merges = (const char *const *)a->merges,
        .pre = "qwen2", .bos_id = -1, .eos_id = -1};
    json_decref(root);
    return 0;
}

static octo_text_tokenizer *open_tok(const char *path, bool from_vocab)
{
    char err[512];
    octo_text_tokenizer *tok;
    if (from_vocab) {
        vocab_arrays a = {0};
        if (arrays_from_json(path, &a)) return NULL;
        tok = octo_text_tokenizer_new_from_vocab(&a.v, err, sizeof err);
        arrays_free(&a);
    } else {
        tok = octo_text_tokenizer_load(path, err, sizeof err);
    }
    if (!tok) fprintf(stderr, "tokenizer: %s\n", err);
    return tok;
}

/* ---- commands ---- */

static json_t *read_jsonl_line(FILE *f, char **line, size_t *cap)
{
    ssize_t r = getline(line, cap, f);
    if (r <= 0) return NULL;
    json_error_t je;
    return json_loadb(*line, (size_t)r, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
}

static int cmd_encode(octo_text_tokenizer *tok, FILE *f, bool special)
{
    char *line = NULL;
    size_t cap = 0;
    json_t *s;
    while ((s = read_jsonl_line(f, &line, &cap))) {
        int32_t *ids = NULL;
        size_t n = 0, bad = 0;
        octo_err rc = octo_text_tokenizer_encode(tok, json_string_value(s), json_string_length(s),
                                                 special, &ids, &n, &bad);
        json_t *o = json_object();
        if (rc) {
            json_object_set_new(o, "err", json_string(octo_err_str(rc)));
            json_object_set_new(o, "offset", json_integer((json_int_t)bad));
        } else {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_integer(ids[i]));
            json_object_set_new(o, "ids", arr);
            octo_buf b;
            octo_buf_init(&b, SIZE_MAX - 1);
            if (octo_text_tokenizer_decode(tok, ids, n, false, &b) == OCTO_OK)
                json_object_set_new(o, "dec", json_stringn(b.data ? b.data : "", b.len));
            octo_buf_deinit(&b);
        }
        char *out = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        puts(out);
        free(out);
        json_decref(o);
        json_decref(s);
        octo_free(ids);
    }
    free(line);
    return 0;
}

static int cmd_decode(octo_text_tokenizer *tok, FILE *f, bool skip)
{
    char *line = NULL;
    size_t cap = 0;
    json_t *a;
    while ((a = read_jsonl_line(f, &line, &cap))) {
        size_t n = json_array_size(a);
        int32_t *ids = malloc((n + 1) * sizeof *ids);
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(a, i));
        octo_buf whole, stream;
        octo_buf_init(&whole, SIZE_MAX - 1);
        octo_buf_init(&stream, SIZE_MAX - 1);
        octo_text_detok *d = octo_text_detok_new(tok, skip);
        int bad = octo_text_tokenizer_decode(tok, ids, n, skip, &whole) != OCTO_OK;
        for (size_t i = 0; i < n; i++) {
            size_t before = stream.len;
            bad |= octo_text_detok_push(d, ids[i], &stream) != OCTO_OK;
            /* every pushed chunk must itself be valid UTF-8 */
            bad |= stream.len > before &&
                   !octo_utf8_valid(stream.data + before, stream.len - before, NULL);
        }
        bad |= octo_text_detok_flush(d, &stream) != OCTO_OK;
        json_t *o = json_object();
        json_object_set_new(o, "dec", json_stringn(whole.data ? whole.data : "", whole.len));
        json_object_set_new(o, "stream", json_stringn(stream.data ? stream.data : "", stream.len));
        if (bad) json_object_set_new(o, "err", json_true());
        char *out = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        puts(out);
        free(out);
        json_decref(o);
        octo_text_detok_free(d);
        octo_buf_deinit(&whole);
        octo_buf_deinit(&stream);
        free(ids);
        json_decref(a);
    }
    free(line);
    return 0;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmd_bench(const char *tok_path, FILE *f, long rounds)
{
    double t0 = octo_now(), c0 = cpu_now();
    octo_text_tokenizer *tok = open_tok(tok_path, false);
    double load_s = octo_now() - t0, load_cpu = cpu_now() - c0;
    if (!tok) return 1;
    char *line = NULL;
    size_t cap = 0, n_lines = 0, cap_lines = 0, bytes = 0, tokens = 0;
    json_t **lines = NULL, *s;
    while ((s = read_jsonl_line(f, &line, &cap))) {
        if (n_lines == cap_lines) {
            cap_lines = cap_lines ? cap_lines * 2 : 1024;
            lines = realloc(lines, cap_lines * sizeof *lines);
        }
        lines[n_lines++] = s;
        bytes += json_string_length(s);
    }
    double best = 1e30, best_cpu = 1e30;
    for (long r = 0; r < rounds; r++) {
        tokens = 0;
        t0 = octo_now();
        c0 = cpu_now();
        for (size_t i = 0; i < n_lines; i++) {
            int32_t *ids;
            size_t n;
            if (octo_text_tokenizer_encode(tok, json_string_value(lines[i]),
                                           json_string_length(lines[i]), false, &ids, &n, NULL))
                return 1;
            tokens += n;
            octo_free(ids);
        }
        double dt = octo_now() - t0, dc = cpu_now() - c0;
        if (dt < best) best = dt;
        if (dc < best_cpu) best_cpu = dc;
    }
    printf("{\"load_s\": %.4f, \"load_cpu_s\": %.4f, \"encode_s\": %.4f, "
           "\"encode_cpu_s\": %.4f, \"bytes\": %zu, \"tokens\": %zu, \"lines\": %zu, "
           "\"mb_s\": %.2f, \"mb_s_cpu\": %.2f}\n",
           load_s, load_cpu, best, best_cpu, bytes, tokens, n_lines, (double)bytes / 1e6 / best,
           (double)bytes / 1e6 / best_cpu);
    for (size_t i = 0; i < n_lines; i++) json_decref(lines[i]);
    free(lines);
    free(line);
    octo_text_tokenizer_free(tok);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tool_tokenize encode|decode|bench TOKENIZER_JSON FILE [opts]\n");
        return 2;
    }
    bool vocab = false, special = false, skip = false;
    for (int i = 4; i < argc; i++) {
        vocab |= !strcmp(argv[i], "--vocab");
        special |= !strcmp(argv[i], "--special");
        skip |= !strcmp(argv[i], "--skip");
    }
    FILE *f = fopen(argv[3], "rb");
    if (!f) return perror(argv[3]), 1;
    int rc = 1;
    if (!strcmp(argv[1], "bench")) {
        long rounds = 3;
        if (argc > 4 && octo_parse_long(argv[4], 1, 1000, &rounds)) rounds = 3;
        rc = cmd_bench(argv[2], f, rounds);
    } else {
        octo_text_tokenizer *tok = open_tok(argv[2], vocab);
        if (tok) {
            rc = !strcmp(argv[1], "encode") ? cmd_encode(tok, f, special) : cmd_decode(tok, f, skip);
            octo_text_tokenizer_free(tok);
        }
    }
    fclose(f);
    return rc;
}
