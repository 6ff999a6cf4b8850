/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_rerank — relevance scores of a Qwen3-Reranker-style model:
 * POST /v1/rerank and /rerank (Jina / Cohere shape: query, documents as
 * strings or {"text": ...} objects, top_n, return_documents; results sorted
 * by relevance_score) and POST /score and /v1/score (vLLM shape: text_1 and
 * text_2, one-to-one, one-to-many or many-to-many pairs).
 *
 * Each (query, document) pair becomes the official prompt: the system
 * judgement instruction, "<Instruct>: {instruction}\n<Query>: {query}\n
 * <Document>: {document}" as the user turn, and an assistant turn with an
 * empty think block; the prefix, the pair and the suffix are tokenised
 * apart, as the model card does, so that truncation only ever cuts the
 * pair. The relevance is P("yes") of the softmax over the "no" and "yes"
 * logits at the last position. `instruction` replaces the default task.
 *
 * It is not a cross-encoder with a classifier head (sequence-classification
 * conversions of the model): only the yes/no form is served.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAIRS 4096

typedef struct pair_src {
    const char *query, *doc;
    size_t query_len, doc_len;
} pair_src;

static bool bad(octo_http_req *req, const char *param, const char *msg)
{
    octo_http_fail(req, OCTO_E_INVALID, param, "%s", msg);
    return false;
}

/* Tokenises one pair into the reranker prompt (runtime/), cutting the
 * pair's end when trunc asks for fewer tokens. */
static bool add_pair(octo_http_req *req, octo_api_pooler *p, octo_api_pool_inputs *in,
                     const char *instruction, const pair_src *ps, int64_t trunc)
{
    int32_t *ids = NULL;
    int64_t n = 0;
    octo_err rc = octo_runtime_score_tokens(p->rt, instruction, ps->query, ps->query_len,
                                            ps->doc, ps->doc_len, trunc, &ids, &n);
    if (rc == OCTO_E_PARSE) return bad(req, "documents", "the text is not valid UTF-8");
    if (rc == OCTO_E_NOMEM) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return false;
    }
    if (rc) {
        octo_http_fail(req, rc, NULL, "cannot tokenise: %s",
                                octo_err_str(rc));
        return false;
    }
    /* truncation already applied: only the over-long check remains */
    return octo_api_pool_inputs_add(req, p, in, ids, n, 0, "scoring");
}

static const char *read_instruction(octo_http_req *req, const json_t *body)
{
    const json_t *v = json_object_get(body, "instruction");
    if (!v || json_is_null(v)) return OCTO_RUNTIME_SCORE_INSTRUCTION;
    if (json_is_string(v) && json_string_length(v) > 0) return json_string_value(v);
    bad(req, "instruction", "instruction must be a non-empty string");
    return NULL;
}

/* Runs the pairs; scores[n] (owned) on success, else the request is
 * answered. */
static double *score_pairs(octo_http_req *req, octo_api_pooler *p, const json_t *body,
                           const pair_src *pairs, size_t n, octo_api_pool_inputs *in)
{
    int64_t trunc;
    const char *instruction = read_instruction(req, body);
    if (!instruction || !octo_api_pool_trunc_read(req, body, p, &trunc)) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!add_pair(req, p, in, instruction, &pairs[i], trunc)) return NULL;
    float *out = octo_api_pool_run(req, p, in);
    if (!out) return NULL;
    double *s = octo_malloc((n ? n : 1) * sizeof *s);
    if (!s) octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
    for (size_t i = 0; s && i < n; i++) s[i] = octo_runtime_score_relevance(out + 2 * i);
    octo_free(out);
    return s;
}

static json_t *usage_json(const octo_api_pool_inputs *in)
{
    return json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)in->total_tokens,
                     "total_tokens", (json_int_t)in->total_tokens);
}

static const char *model_name(const json_t *body, const octo_model_config *m)
{
    const json_t *jm = json_object_get(body, "model");
    return json_is_string(jm) ? json_string_value(jm) : m->name;
}

/* ==== /v1/rerank, /rerank ==== */

typedef struct ranked {
    size_t index;
    double score;
} ranked;

static int by_score(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

/* The text of one document given as content parts ({"type": "text",
 * "text"} objects, joined with newlines); NULL (400 answered) for a part
 * that is not text. The new string is appended to keep, which owns it. */
static const json_t *parts_text(octo_http_req *req, const json_t *parts, json_t *keep)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_HTTP_BODY_BYTES);
    size_t i;
    const json_t *part;
    json_array_foreach(parts, i, part) {
        const json_t *t = json_object_get(part, "text");
        const char *type = json_string_value(json_object_get(part, "type"));
        if (json_is_string(part)) t = part;
        if (!json_is_string(t) || (type && strcmp(type, "text"))) {
            octo_buf_deinit(&b);
            bad(req, "documents", type && strcmp(type, "text")
                                      ? "this reranker reads text only: a document part of "
                                        "another type (image_url ...) cannot be scored"
                                      : "a document content part must be {\"type\": \"text\", "
                                        "\"text\": ...}");
            return NULL;
        }
        if ((i && octo_buf_puts(&b, "\n")) ||
            octo_buf_append(&b, json_string_value(t), json_string_length(t))) {
            octo_buf_deinit(&b);
            octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
            return NULL;
        }
    }
    json_t *s = json_stringn_nocheck(b.data ? b.data : "", b.len);
    octo_buf_deinit(&b);
    if (!s || json_array_append_new(keep, s)) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return NULL;
    }
    return s;
}

/* documents: a list of strings, {"text": ...} objects, content-part lists
 * or {"content": [parts]} objects (Dify with vision on), or vLLM's
 * {"content": [parts]} whose every part is one document; fills pairs[]
 * with the query. Joined texts live in keep. */
static bool read_documents(octo_http_req *req, const json_t *body, pair_src **pairs,
                           size_t *n, json_t *keep)
{
    const json_t *q = json_object_get(body, "query");
    const json_t *docs = json_object_get(body, "documents");
    if (!json_is_string(q)) return bad(req, "query", "'query' (a string) is required");
    if (json_string_length(q) == 0) return bad(req, "query", "query must not be empty");
    if (json_is_object(docs) && json_is_array(json_object_get(docs, "content")))
        docs = json_object_get(docs, "content"); /* vLLM: one document per part */
    if (!json_is_array(docs) || json_array_size(docs) == 0)
        return bad(req, "documents", "'documents' must be a non-empty list");
    *n = json_array_size(docs);
    if (*n > MAX_PAIRS) return bad(req, "documents", "at most 4096 documents per request");
    *pairs = octo_calloc(*n, sizeof **pairs);
    if (!*pairs) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < *n; i++) {
        const json_t *d = json_array_get(docs, i);
        const json_t *content = json_is_object(d) ? json_object_get(d, "content") : NULL;
        if (json_is_array(content) || json_is_array(d)) {
            d = parts_text(req, json_is_array(d) ? d : content, keep);
            if (!d) return false; /* answered */
        } else if (json_is_object(d)) {
            const char *type = json_string_value(json_object_get(d, "type"));
            if (type && strcmp(type, "text"))
                return bad(req, "documents", "this reranker reads text only: a document of "
                           "another type (image_url ...) cannot be scored");
            d = json_object_get(d, "text");
        }
        if (!json_is_string(d))
            return bad(req, "documents", "each document must be a string, an object with "
                       "a string 'text', or a list of text content parts");
        (*pairs)[i] = (pair_src){json_string_value(q), json_string_value(d),
                                 json_string_length(q), json_string_length(d)};
    }
    return true;
}

void octo_api_rerank(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *body;
    octo_api_pool_inputs in = {0};
    pair_src *pairs = NULL;
    ranked *rk = NULL;
    double *scores = NULL;
    size_t n = 0;
    const octo_model_config *m = octo_api_request_begin(api, req, OCTO_TASK_SCORE, "Rerank",
                                                        &body);
    if (!m) return;
    json_t *texts = json_array(); /* document texts joined from content parts */
    octo_api_pooler *p = octo_api_pooler_ready(api, req, m);
    if (!p || !texts || !read_documents(req, body, &pairs, &n, texts)) goto done;
    const json_t *tn = json_object_get(body, "top_n");
    json_int_t top_n = 0;
    if (tn && !json_is_null(tn)) {
        top_n = json_is_integer(tn) ? json_integer_value(tn) : -1;
        if (top_n < 0) {
            bad(req, "top_n", "top_n must be a non-negative integer");
            goto done;
        }
    }
    bool return_docs;
    if (!octo_api_json_bool(req, body, "return_documents", "return_documents", true,
                            &return_docs))
        goto done;
    scores = score_pairs(req, p, body, pairs, n, &in);
    if (!scores) goto done;
    rk = octo_malloc(n * sizeof *rk);
    if (!rk) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) rk[i] = (ranked){i, scores[i]};
    qsort(rk, n, sizeof *rk, by_score);
    size_t keep = top_n > 0 && (size_t)top_n < n ? (size_t)top_n : n;
    json_t *results = json_array();
    for (size_t i = 0; i < keep; i++) {
        json_t *r = json_pack("{s:I, s:f}", "index", (json_int_t)rk[i].index, "relevance_score",
                              rk[i].score);
        if (return_docs) {
            const pair_src *ps = &pairs[rk[i].index];
            json_object_set_new(r, "document",
                                json_pack("{s:s%}", "text", ps->doc, ps->doc_len));
        }
        json_array_append_new(results, r);
    }
    char id[48] = "rerank-";
    octo_random_hex(id + 7, 32);
    octo_http_respond_json(req, 200, json_pack("{s:s, s:s, s:o, s:o}", "id", id, "model",
                                               model_name(body, m), "usage", usage_json(&in),
                                               "results", results));
done:
    octo_free(rk);
    octo_free(scores);
    octo_free(pairs);
    octo_api_pool_inputs_deinit(&in);
    json_decref(texts);
    json_decref(body);
}

/* ==== /score, /v1/score ==== */

/* A string, or a non-empty list of strings, as a list view. */
static bool text_list(octo_http_req *req, const json_t *v, const char *name, size_t *n)
{
    if (json_is_string(v)) {
        *n = 1;
        return true;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        *n = json_array_size(v);
        for (size_t i = 0; i < *n; i++)
            if (!json_is_string(json_array_get(v, i)))
                return bad(req, name, "every item must be a string");
        return true;
    }
    octo_http_fail(req, OCTO_E_INVALID, name, "'%s' must be a string or a non-empty list of "
                            "strings", name);
    return false;
}

static const json_t *text_at(const json_t *v, size_t i)
{
    return json_is_string(v) ? v : json_array_get(v, i);
}

void octo_api_score(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *body;
    octo_api_pool_inputs in = {0};
    pair_src *pairs = NULL;
    double *scores = NULL;
    size_t n1 = 0, n2 = 0;
    const octo_model_config *m = octo_api_request_begin(api, req, OCTO_TASK_SCORE, "Score",
                                                        &body);
    if (!m) return;
    octo_api_pooler *p = octo_api_pooler_ready(api, req, m);
    const json_t *t1 = json_object_get(body, "text_1"), *t2 = json_object_get(body, "text_2");
    if (!p || !text_list(req, t1, "text_1", &n1) || !text_list(req, t2, "text_2", &n2))
        goto done;
    /* vLLM: 1 x N pairs the one text_1 with each text_2; N x N zips */
    if (n1 != 1 && n1 != n2) {
        octo_http_fail(req, OCTO_E_INVALID, "text_2", "text_1 has %zu items and text_2 %zu: "
                                "give one text_1, or as many as text_2", n1, n2);
        goto done;
    }
    if (n2 > MAX_PAIRS) {
        bad(req, "text_2", "at most 4096 pairs per request");
        goto done;
    }
    pairs = octo_calloc(n2, sizeof *pairs);
    if (!pairs) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n2; i++) {
        const json_t *a = text_at(t1, n1 == 1 ? 0 : i), *b = text_at(t2, i);
        pairs[i] = (pair_src){json_string_value(a), json_string_value(b),
                              json_string_length(a), json_string_length(b)};
    }
    scores = score_pairs(req, p, body, pairs, n2, &in);
    if (!scores) goto done;
    json_t *data = json_array();
    for (size_t i = 0; i < n2; i++)
        json_array_append_new(data, json_pack("{s:I, s:s, s:f}", "index", (json_int_t)i,
                                              "object", "score", "score", scores[i]));
    char id[48] = "score-";
    octo_random_hex(id + 6, 32);
    octo_http_respond_json(req, 200, json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", id,
                                               "object", "list", "created",
                                               (json_int_t)octo_unix_time(), "model",
                                               model_name(body, m), "data", data, "usage",
                                               usage_json(&in)));
done:
    octo_free(scores);
    octo_free(pairs);
    octo_api_pool_inputs_deinit(&in);
    json_decref(body);
}
