/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_jsonc — drives constrained JSON decoding for the Python tests and
 * the mask benchmark. Not a product tool.
 *
 *   tool_jsonc TOKENIZER_JSON < REQUESTS_JSONL
 *
 * Stop ids are <|im_end|> and <|endoftext|>. Each request line is an
 * object; one JSON line comes back per request:
 *   {"schema": S | null, "object_only": b}           the schema to use, or
 *   {"tools": [...], "tool_choice": C}              a schema built by
 *                                                   octo_text_jsonc_schema_for_tools
 *   plus any of
 *   "walks": N, "max_steps": K, "seed": X   N random walks: each step masks
 *       random logits, samples (1 time in 3 among allowed tokens holding
 *       a closing byte " } ] or a stop id, to finish in reasonable time),
 *       accepts; -> "walks": [{"ids": [...], "complete": b, "stopped": b}]
 *   "docs": [TEXT...]   each encoded with octo's tokenizer and fed token by
 *       token -> "docs": [{"ids": [...], "accepted": n, "complete": b}]
 *   "bench": PREFIX     mask timings after feeding PREFIX: "cold_ms" (fresh
 *       compiled schema, so an empty cache; median of 5) and "warm_ms"
 *       (cached; median of 50)
 *   "bench_doc": TEXT   cold mask after every byte prefix of TEXT (fresh
 *       compiled schema each time, best of 3): "doc_cold_max_ms",
 *       "doc_cold_mean_ms"
 * Errors: {"error": "..."}.
 */
#include "base/base.h"
#include "jsonc/jsonc.h"
#include "tokenizer/tokenizer.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

typedef struct ctx {
    octo_text_tokenizer *tok;
    octo_text_jsonc_vocab *voc;
    int32_t stops[2];
    size_t V;
} ctx;

static bool closing(const ctx *c, int32_t id)
{
    if (id == c->stops[0] || id == c->stops[1]) return true;
    const char *s = octo_text_tokenizer_token_str(c->tok, id);
    return s && strpbrk(s, "\"}]") != NULL;
}

static json_t *walk(ctx *c, octo_text_jsonc *jc, long max_steps)
{
    octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
    float *logits = malloc(c->V * sizeof *logits);
    int32_t *allowed = malloc(c->V * sizeof *allowed);
    json_t *ids = json_array();
    bool stopped = false;
    const char *err = NULL;
    for (long step = 0; step < max_steps && !stopped; step++) {
        for (size_t i = 0; i < c->V; i++) logits[i] = (float)(rnd() >> 11) * 0x1p-53f;
        if (octo_text_jsonc_mask(m, logits, (int64_t)c->V)) {
            err = "mask failed";
            break;
        }
        size_t na = 0, nc = 0;
        int32_t best = -1;
        for (size_t i = 0; i < c->V; i++) {
            if (isinf(logits[i])) continue;
            if (best < 0 || logits[i] > logits[best]) best = (int32_t)i;
            if (closing(c, (int32_t)i)) allowed[nc++] = (int32_t)i;
            na++;
        }
        if (!na) {
            err = "no token allowed";
            break;
        }
        int32_t t = best;
        if (nc && rnd() % 3 == 0) t = allowed[rnd() % nc];
        if (octo_text_jsonc_accept(m, t)) {
            err = "accept refused a token the mask allowed";
            break;
        }
        if (t == c->stops[0] || t == c->stops[1]) stopped = true;
        else json_array_append_new(ids, json_integer(t));
    }
    json_t *r = json_pack("{s:o,s:b,s:b}", "ids", ids, "complete", octo_text_jsonc_complete(m),
                          "stopped", stopped);
    if (err) json_object_set_new(r, "error", json_string(err));
    free(logits);
    free(allowed);
    octo_text_jsonc_matcher_free(m);
    return r;
}

static json_t *run_doc(ctx *c, octo_text_jsonc *jc, const char *text)
{
    int32_t *ids = NULL;
    size_t n = 0;
    if (octo_text_tokenizer_encode(c->tok, text, strlen(text), false, &ids, &n, NULL))
        return json_pack("{s:s}", "error", "encode failed");
    octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
    json_t *arr = json_array();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_integer(ids[i]));
    while (k < n && octo_text_jsonc_accept(m, ids[k]) == OCTO_OK) k++;
    json_t *r = json_pack("{s:o,s:i,s:b}", "ids", arr, "accepted", (json_int_t)k, "complete",
                          k == n && octo_text_jsonc_complete(m));
    octo_text_jsonc_matcher_free(m);
    octo_free(ids);
    return r;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double time_mask(ctx *c, octo_text_jsonc *jc, const char *prefix, float *logits)
{
    octo_text_jsonc_matcher *m = octo_text_jsonc_matcher_new(jc);
    if (octo_text_jsonc_feed(m, prefix, strlen(prefix))) {
        octo_text_jsonc_matcher_free(m);
        return -1;
    }
    for (size_t i = 0; i < c->V; i++) logits[i] = 0.f;
    double t0 = octo_now();
    octo_err rc = octo_text_jsonc_mask(m, logits, (int64_t)c->V);
    double dt = (octo_now() - t0) * 1e3;
    octo_text_jsonc_matcher_free(m);
    return rc ? -1 : dt;
}

static void bench(ctx *c, const json_t *schema, bool oo, const char *prefix, json_t *out)
{
    float *logits = malloc(c->V * sizeof *logits);
    double cold[5], warm[50];
    for (int i = 0; i < 5; i++) {
        octo_text_jsonc *jc = octo_text_jsonc_new(c->voc, schema, oo, NULL, 0);
        cold[i] = time_mask(c, jc, prefix, logits);
        octo_text_jsonc_free(jc);
    }
    octo_text_jsonc *jc = octo_text_jsonc_new(c->voc, schema, oo, NULL, 0);
    for (int i = 0; i < 50; i++) warm[i] = time_mask(c, jc, prefix, logits);
    size_t allowed = 0;
    for (size_t i = 0; i < c->V; i++) allowed += !isinf(logits[i]);
    octo_text_jsonc_free(jc);
    qsort(cold, 5, sizeof *cold, cmp_d);
    qsort(warm, 50, sizeof *warm, cmp_d);
    json_object_set_new(out, "cold_ms", json_real(cold[2]));
    json_object_set_new(out, "warm_ms", json_real(warm[25]));
    json_object_set_new(out, "allowed", json_integer((json_int_t)allowed));
    free(logits);
}

static void bench_doc(ctx *c, const json_t *schema, bool oo, const char *text, json_t *out)
{
    float *logits = malloc(c->V * sizeof *logits);
    size_t n = strlen(text);
    char *prefix = malloc(n + 1);
    double mx = 0, sum = 0;
    size_t cnt = 0;
    for (size_t i = 0; i <= n; i++) {
        memcpy(prefix, text, i);
        prefix[i] = 0;
        double t = -1;
        for (int rep = 0; rep < 3; rep++) { /* best of 3: a busy machine preempts */
            octo_text_jsonc *jc = octo_text_jsonc_new(c->voc, schema, oo, NULL, 0);
            double r = time_mask(c, jc, prefix, logits);
            octo_text_jsonc_free(jc);
            if (r >= 0 && (t < 0 || r < t)) t = r;
        }
        if (t < 0) continue;
        mx = t > mx ? t : mx;
        sum += t;
        cnt++;
    }
    json_object_set_new(out, "doc_cold_max_ms", json_real(mx));
    json_object_set_new(out, "doc_cold_mean_ms", json_real(cnt ? sum / (double)cnt : 0));
    json_object_set_new(out, "doc_prefixes", json_integer((json_int_t)cnt));
    free(prefix);
    free(logits);
}

static json_t *handle(ctx *c, json_t *req)
{
    json_t *schema = json_object_get(req, "schema"), *owned = NULL;
    bool oo = json_is_true(json_object_get(req, "object_only"));
    if (json_object_get(req, "tools")) {
        octo_err rc = octo_text_jsonc_schema_for_tools(json_object_get(req, "tools"),
                                                       json_object_get(req, "tool_choice"),
                                                       &owned);
        if (rc) return json_pack("{s:s}", "error", octo_err_str(rc));
        schema = owned;
    }
    if (json_is_null(schema)) schema = NULL;
    char err[512];
    octo_text_jsonc *jc = octo_text_jsonc_new(c->voc, schema, oo, err, sizeof err);
    if (!jc) {
        json_decref(owned);
        return json_pack("{s:s}", "error", err);
    }
    json_t *out = json_pack("{s:i}", "states", (json_int_t)octo_text_jsonc_states(jc));
    if (owned) json_object_set(out, "schema", owned);
    g_rng = (uint64_t)json_integer_value(json_object_get(req, "seed")) * 2654435761u + 1;
    long nw = (long)json_integer_value(json_object_get(req, "walks"));
    long ms = (long)json_integer_value(json_object_get(req, "max_steps"));
    if (nw > 0) {
        json_t *ws = json_array();
        double t0 = octo_now();
        for (long i = 0; i < nw; i++) json_array_append_new(ws, walk(c, jc, ms > 0 ? ms : 200));
        json_object_set_new(out, "walk_s", json_real(octo_now() - t0));
        json_object_set_new(out, "walks", ws);
    }
    json_t *docs = json_object_get(req, "docs");
    if (docs) {
        json_t *ds = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d) json_array_append_new(ds, run_doc(c, jc, json_string_value(d)));
        json_object_set_new(out, "docs", ds);
    }
    const char *prefix = json_string_value(json_object_get(req, "bench"));
    if (prefix) bench(c, schema, oo, prefix, out);
    const char *doc = json_string_value(json_object_get(req, "bench_doc"));
    if (doc) bench_doc(c, schema, oo, doc, out);
    octo_text_jsonc_free(jc);
    json_decref(owned);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tool_jsonc TOKENIZER_JSON < REQUESTS_JSONL\n");
        return 2;
    }
    octo_log_set_level(OCTO_LOG_LEVEL_WARN);
    ctx c = {0};
    char err[512];
    c.tok = octo_text_tokenizer_load(argv[1], err, sizeof err);
    if (!c.tok) return fprintf(stderr, "%s\n", err), 1;
    c.stops[0] = octo_text_tokenizer_token_id(c.tok, "<|im_end|>");
    c.stops[1] = octo_text_tokenizer_token_id(c.tok, "<|endoftext|>");
    c.V = octo_text_tokenizer_vocab_size(c.tok);
    double t0 = octo_now();
    c.voc = octo_text_jsonc_vocab_new(c.tok, c.stops, 2, err, sizeof err);
    if (!c.voc) return fprintf(stderr, "%s\n", err), 1;
    fprintf(stderr, "vocab trie built in %.1f ms\n", (octo_now() - t0) * 1e3);
    static char line[1 << 20];
    while (fgets(line, sizeof line, stdin)) {
        json_error_t je;
        json_t *req = json_loads(line, 0, &je);
        json_t *out = req ? handle(&c, req) : json_pack("{s:s}", "error", je.text);
        char *s = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
        puts(s);
        fflush(stdout);
        free(s);
        json_decref(out);
        json_decref(req);
    }
    octo_text_jsonc_vocab_free(c.voc);
    octo_text_tokenizer_free(c.tok);
    return 0;
}
