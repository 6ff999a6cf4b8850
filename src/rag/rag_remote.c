/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_remote — the model client over remote OpenAI-compatible servers
 * (another octo, vLLM, ...), with libcurl: POST {url}/embeddings,
 * {url}/rerank (Jina / Cohere shape, as vLLM and octo serve it) and
 * {url}/chat/completions streamed (SSE, usage from stream_options).
 *
 * Each model kind has its own base URL; a kind without one falls through
 * to the local client given at creation. It keeps no connection pool: one
 * easy handle per call.
 */
#include "rag_int.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REMOTE_MAX_BYTES (256u * 1024u * 1024u) /* one answer */
#define REMOTE_TIMEOUT_S 600L

typedef struct remote_cfg {
    char *embed_url, *embed_model, *rerank_url, *rerank_model, *chat_url, *chat_model;
    char *api_key;
    int64_t embed_dim;
} remote_cfg;

struct octo_rag_remote {
    remote_cfg o;             /* strings owned */
    octo_rag_models local;    /* what a kind without a URL uses */
};

/* ==== HTTP ==== */

typedef struct sink {
    octo_buf body;
    /* SSE: each complete "data: ..." line goes to line_fn; false aborts */
    bool (*line_fn)(void *ctx, const char *line, size_t len);
    void *line_ctx;
    size_t scanned;
    bool aborted;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    sink *s = ctx;
    size_t len = size * n;
    if (octo_buf_append(&s->body, p, len) != OCTO_OK) return 0;
    if (!s->line_fn) return len;
    for (;;) { /* hand over complete lines, keep the rest */
        char *nl = memchr(s->body.data + s->scanned, '\n', s->body.len - s->scanned);
        if (!nl) break;
        size_t ll = (size_t)(nl - s->body.data);
        if (ll && s->body.data[ll - 1] == '\r') ll--;
        if (!s->line_fn(s->line_ctx, s->body.data, ll)) {
            s->aborted = true;
            return 0;
        }
        size_t rest = s->body.len - (size_t)(nl - s->body.data) - 1;
        memmove(s->body.data, nl + 1, rest);
        s->body.len = rest;
        s->body.data[rest] = '\0';
        s->scanned = 0;
    }
    s->scanned = s->body.len;
    return len;
}

/* POSTs body to base + path; *out is the parsed answer (unless streaming). */
static octo_err post(const char *base, const char *path, const char *key, const json_t *body,
                     sink *sk, json_t **out, char *err, size_t err_size)
{
    char url[OCTO_LIMIT_PATH_BYTES], auth[1100];
    snprintf(url, sizeof url, "%s%s", base, path);
    char *txt = json_dumps(body, JSON_COMPACT);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    octo_err rc = txt && c ? OCTO_OK : OCTO_E_NOMEM;
    if (!rc) {
        h = curl_slist_append(h, "Content-Type: application/json");
        if (key) {
            snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
            h = curl_slist_append(h, auth);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, txt);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, sk);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, REMOTE_TIMEOUT_S);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (sk->aborted) {
            rc = OCTO_E_CANCELLED;
        } else if (cc != CURLE_OK) {
            snprintf(err, err_size, "%s: %s", url, curl_easy_strerror(cc));
            rc = OCTO_E_IO;
        } else if (status != 200) {
            snprintf(err, err_size, "%s answered %ld: %.200s", url, status,
                     sk->body.data ? sk->body.data : "");
            rc = status == 404 ? OCTO_E_NOT_FOUND : OCTO_E_IO;
        } else if (out) {
            json_error_t je;
            *out = json_loadb(sk->body.data ? sk->body.data : "", sk->body.len, 0, &je);
            if (!*out) {
                snprintf(err, err_size, "%s: the answer is not JSON (%s)", url, je.text);
                rc = OCTO_E_PARSE;
            }
        }
    }
    curl_slist_free_all(h);
    if (c) curl_easy_cleanup(c);
    free(txt);
    return rc;
}

/* ==== embeddings ==== */

static octo_err r_embed(void *ctx, const char *const *texts, const size_t *lens, size_t n,
                        bool is_query, float *out, char *err, size_t err_size)
{
    octo_rag_remote *rm = ctx;
    if (!rm->o.embed_url)
        return rm->local.embed(rm->local.ctx, texts, lens, n, is_query, out, err, err_size);
    json_t *in = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(in, json_stringn_nocheck(texts[i], lens[i]));
    json_t *body = json_pack("{s:s, s:o}", "model", rm->o.embed_model, "input", in);
    sink sk = {0};
    octo_buf_init(&sk.body, REMOTE_MAX_BYTES);
    json_t *res = NULL;
    octo_err rc = post(rm->o.embed_url, "/embeddings", rm->o.api_key, body, &sk, &res, err,
                       err_size);
    const json_t *data = json_object_get(res, "data");
    size_t dim = (size_t)rm->o.embed_dim;
    if (!rc && json_array_size(data) != n) {
        snprintf(err, err_size, "%s/embeddings gave %zu vectors for %zu texts",
                 rm->o.embed_url, json_array_size(data), n);
        rc = OCTO_E_PARSE;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        const json_t *d = json_array_get(data, i);
        const json_t *e = json_object_get(d, "embedding");
        size_t at = json_is_integer(json_object_get(d, "index"))
                        ? (size_t)json_integer_value(json_object_get(d, "index")) : i;
        if (json_array_size(e) != dim || at >= n) {
            snprintf(err, err_size, "%s/embeddings: vector %zu has %zu dimensions, not %zu",
                     rm->o.embed_url, i, json_array_size(e), dim);
            rc = OCTO_E_PARSE;
            break;
        }
        double ss = 0;
        for (size_t k = 0; k < dim; k++) {
            double v = json_number_value(json_array_get(e, k));
            out[at * dim + k] = (float)v;
            ss += v * v;
        }
        double inv = 1.0 / fmax(sqrt(ss), 1e-12);
        for (size_t k = 0; k < dim; k++) out[at * dim + k] = (float)(out[at * dim + k] * inv);
    }
    json_decref(res);
    json_decref(body);
    octo_buf_deinit(&sk.body);
    return rc;
}

/* ==== rerank ==== */

static octo_err r_rerank(void *ctx, const char *query, const char *const *docs, size_t n,
                         double *scores, char *err, size_t err_size)
{
    octo_rag_remote *rm = ctx;
    if (!rm->o.rerank_url)
        return rm->local.rerank(rm->local.ctx, query, docs, n, scores, err, err_size);
    json_t *d = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(d, json_string_nocheck(docs[i]));
    json_t *body = json_pack("{s:s, s:s, s:o}", "model", rm->o.rerank_model, "query", query,
                             "documents", d);
    sink sk = {0};
    octo_buf_init(&sk.body, REMOTE_MAX_BYTES);
    json_t *res = NULL;
    octo_err rc = post(rm->o.rerank_url, "/rerank", rm->o.api_key, body, &sk, &res, err,
                       err_size);
    for (size_t i = 0; i < n; i++) scores[i] = -1;
    size_t i;
    const json_t *x;
    json_array_foreach(rc ? NULL : json_object_get(res, "results"), i, x) {
        const json_t *idx = json_object_get(x, "index");
        const json_t *sc = json_object_get(x, "relevance_score");
        if (json_is_integer(idx) && (size_t)json_integer_value(idx) < n && json_is_number(sc))
            scores[json_integer_value(idx)] = json_number_value(sc);
    }
    for (size_t k = 0; !rc && k < n; k++)
        if (scores[k] < 0) {
            snprintf(err, err_size, "%s/rerank gave no score for document %zu",
                     rm->o.rerank_url, k);
            rc = OCTO_E_PARSE;
        }
    json_decref(res);
    json_decref(body);
    octo_buf_deinit(&sk.body);
    return rc;
}

/* ==== chat (streamed) ==== */

typedef struct chat_sse {
    bool (*delta)(void *dctx, const char *text, size_t len);
    void *dctx;
    int64_t *usage;
    bool cancelled;
} chat_sse;

static bool on_line(void *ctx, const char *line, size_t len)
{
    chat_sse *c = ctx;
    if (len < 6 || strncmp(line, "data: ", 6) != 0) return true;
    if (len == 12 && strncmp(line + 6, "[DONE]", 6) == 0) return true;
    json_t *j = json_loadb(line + 6, len - 6, 0, NULL);
    const json_t *u = json_object_get(j, "usage");
    if (json_is_object(u)) {
        c->usage[0] = json_integer_value(json_object_get(u, "prompt_tokens"));
        c->usage[1] = json_integer_value(json_object_get(u, "completion_tokens"));
    }
    const json_t *d = json_object_get(json_array_get(json_object_get(j, "choices"), 0),
                                      "delta");
    const json_t *t = json_object_get(d, "content");
    bool ok = true;
    if (json_is_string(t) && json_string_length(t))
        ok = c->delta(c->dctx, json_string_value(t), json_string_length(t));
    json_decref(j);
    if (!ok) c->cancelled = true;
    return ok;
}

static octo_err r_chat(void *ctx, const char *model, const json_t *messages, double temperature,
                       long max_tokens, bool (*delta)(void *dctx, const char *text, size_t len),
                       void *dctx, int64_t usage[2], char *err, size_t err_size)
{
    octo_rag_remote *rm = ctx;
    if (!rm->o.chat_url)
        return rm->local.chat(rm->local.ctx, model, messages, temperature, max_tokens, delta,
                              dctx, usage, err, err_size);
    const char *name = model ? model : rm->o.chat_model;
    if (!name) {
        snprintf(err, err_size, "no chat model is configured");
        return OCTO_E_NOT_FOUND;
    }
    json_t *body = json_pack("{s:s, s:O, s:b, s:{s:b}}", "model", name, "messages", messages,
                             "stream", true, "stream_options", "include_usage", true);
    if (temperature >= 0) json_object_set_new(body, "temperature", json_real(temperature));
    if (max_tokens > 0) json_object_set_new(body, "max_tokens", json_integer(max_tokens));
    chat_sse cs = {delta, dctx, usage, false};
    usage[0] = usage[1] = 0;
    sink sk = {.line_fn = on_line, .line_ctx = &cs};
    octo_buf_init(&sk.body, REMOTE_MAX_BYTES);
    octo_err rc = post(rm->o.chat_url, "/chat/completions", rm->o.api_key, body, &sk, NULL, err,
                       err_size);
    json_decref(body);
    octo_buf_deinit(&sk.body);
    return cs.cancelled ? OCTO_E_CANCELLED : rc;
}

/* ==== setup ==== */

static char *dup_or_null(const char *s)
{
    return s ? octo_strdup(s) : NULL;
}

octo_err octo_rag_remote_new(const octo_rag_remote_opts *o, const octo_rag_models *local,
                             octo_rag_remote **out, octo_rag_models *m, char *err,
                             size_t err_size)
{
    static bool curl_ready;
    if (!curl_ready) { /* start-up, one thread */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    octo_rag_remote *rm = octo_calloc(1, sizeof *rm);
    if (!rm) return OCTO_E_NOMEM;
    rm->local = *local;
    rm->o.embed_url = dup_or_null(o->embed_url);
    rm->o.embed_model = dup_or_null(o->embed_model);
    rm->o.rerank_url = dup_or_null(o->rerank_url);
    rm->o.rerank_model = dup_or_null(o->rerank_model);
    rm->o.chat_url = dup_or_null(o->chat_url);
    rm->o.chat_model = dup_or_null(o->chat_model);
    rm->o.api_key = dup_or_null(o->api_key);
    *m = *local;
    m->ctx = rm;
    if (local->embed || rm->o.embed_url) m->embed = r_embed;
    if (local->rerank || rm->o.rerank_url) m->rerank = r_rerank;
    if (local->chat || rm->o.chat_url) m->chat = r_chat;
    if (rm->o.embed_url) { /* the vector size: ask once */
        m->count_tokens = NULL; /* the remote tokenizer is not ours: octo's estimate */
        m->embed_name = rm->o.embed_model;
        const char *t = "octo";
        json_t *body = json_pack("{s:s, s:[s]}", "model", rm->o.embed_model, "input", t);
        sink sk = {0};
        octo_buf_init(&sk.body, REMOTE_MAX_BYTES);
        json_t *res = NULL;
        octo_err rc = post(rm->o.embed_url, "/embeddings", rm->o.api_key, body, &sk, &res, err,
                           err_size);
        size_t dim = json_array_size(json_object_get(json_array_get(json_object_get(res,
                                                                                    "data"), 0),
                                                     "embedding"));
        json_decref(res);
        json_decref(body);
        octo_buf_deinit(&sk.body);
        if (!rc && (dim == 0 || dim > 65536)) {
            snprintf(err, err_size, "%s/embeddings: no usable vector for model '%s'",
                     rm->o.embed_url, rm->o.embed_model);
            rc = OCTO_E_PARSE;
        }
        if (rc) {
            octo_rag_remote_free(rm);
            return rc;
        }
        rm->o.embed_dim = (int64_t)dim;
        m->embed_dim = (int64_t)dim;
    }
    if (rm->o.rerank_url) m->rerank_name = rm->o.rerank_model;
    *out = rm;
    return OCTO_OK;
}

void octo_rag_remote_free(octo_rag_remote *rm)
{
    if (!rm) return;
    octo_free(rm->o.embed_url);
    octo_free(rm->o.embed_model);
    octo_free(rm->o.rerank_url);
    octo_free(rm->o.rerank_model);
    octo_free(rm->o.chat_url);
    octo_free(rm->o.chat_model);
    octo_free(rm->o.api_key);
    octo_free(rm);
}
