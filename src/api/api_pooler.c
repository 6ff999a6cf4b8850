/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_pooler — one `embed` or `score` model (Qwen3-Embedding,
 * Qwen3-Reranker) as the endpoints see it: its model instance (runtime/:
 * the tokenizer, the prompt formats, the engine behind the pooling
 * batcher), and what the embeddings, rerank and score endpoints share:
 * reading truncate_prompt_tokens, the over-long check and running a
 * request's prompts.
 *
 * It reads no model file and builds no response: see runtime/,
 * api_embed.c and api_rerank.c.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

void octo_api_pooler_free(octo_api_pooler *p)
{
    if (!p) return;
    octo_runtime_model_free(p->rt);
    octo_free(p);
}

octo_err octo_api_pooler_load(const octo_model_config *m, octo_api_pooler **out, char *err,
                              size_t n)
{
    octo_api_pooler *p = octo_calloc(1, sizeof *p);
    if (!p) return OCTO_E_NOMEM;
    p->cfg = m;
    octo_err rc = octo_runtime_model_new(m, NULL, &p->rt, err, n);
    if (rc) {
        octo_api_pooler_free(p);
        return rc;
    }
    const octo_model_info *in = octo_runtime_model_info(p->rt);
    p->tok = octo_runtime_model_tokenizer(p->rt);
    p->pool = octo_runtime_model_pool(p->rt);
    p->max_len = octo_runtime_model_max_len(p->rt);
    p->hidden_size = in->hidden_size;
    p->vocab_size = in->vocab_size;
    p->query_prompt = octo_runtime_model_query_prompt(p->rt);
    int device = octo_runtime_model_device(p->rt);
    char where[32] = "the CPU";
    if (device >= 0) snprintf(where, sizeof where, "CUDA device %d", device);
    OCTO_LOG_INFO("model %s (%s) on %s: hidden %lld, vocab %lld, %lld tokens per prompt "
                  "at most, %lld tokens and %lld prompts per forward%s", m->name,
                  octo_config_task_name(m->task), where, (long long)p->hidden_size,
                  (long long)p->vocab_size, (long long)p->max_len,
                  (long long)octo_runtime_model_batch_tokens(p->rt),
                  (long long)octo_runtime_model_batch_seqs(p->rt),
                  p->query_prompt ? ", query prompt from sentence-transformers" : "");
    *out = p;
    return OCTO_OK;
}

octo_api_pooler *octo_api_pooler_ready(octo_api *api, octo_http_req *req,
                                       const octo_model_config *m)
{
    size_t i = (size_t)(m - api->cfg->models);
    octo_api_pooler *p = i < api->cfg->n_models ? api->pooler[i] : NULL;
    if (!p)
        octo_http_fail(req, OCTO_E_BUSY, NULL, "the model `%s` is not loaded", m->name);
    return p;
}

bool octo_api_pool_trunc_read(octo_http_req *req, const json_t *body, const octo_api_pooler *p,
                              int64_t *trunc)
{
    const json_t *t = json_object_get(body, "truncate_prompt_tokens");
    *trunc = 0;
    if (!t || json_is_null(t)) return true;
    json_int_t v = json_is_integer(t) ? json_integer_value(t) : -2;
    if (v == -1) v = p->max_len;
    if (v < 1 || v > p->max_len) {
        octo_http_fail(req, OCTO_E_INVALID, "truncate_prompt_tokens",
                                "truncate_prompt_tokens must be -1 or an integer in 1..%lld "
                                "(the model's maximum context length)", (long long)p->max_len);
        return false;
    }
    *trunc = v;
    return true;
}

bool octo_api_pool_inputs_add(octo_http_req *req, const octo_api_pooler *p,
                              octo_api_pool_inputs *in, int32_t *ids, int64_t len,
                              int64_t trunc, const char *what)
{
    len = octo_runtime_truncate(ids, len, trunc);
    if (len > p->max_len) {
        octo_http_fail(req, OCTO_E_INVALID, "input",
                                "This model's maximum context length is %lld tokens. However, "
                                "you requested %lld tokens in the input for %s. Please reduce "
                                "the length of the input, or set truncate_prompt_tokens.",
                                (long long)p->max_len, (long long)len, what);
        octo_free(ids);
        return false;
    }
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 8;
        int32_t **ni = octo_realloc(in->ids, cap * sizeof *ni);
        if (ni) in->ids = ni;
        int64_t *nl = ni ? octo_realloc(in->lens, cap * sizeof *nl) : NULL;
        if (nl) in->lens = nl;
        if (!ni || !nl) {
            octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
            octo_free(ids);
            return false;
        }
        in->cap = cap;
    }
    in->ids[in->n] = ids;
    in->lens[in->n++] = len;
    in->total_tokens += len;
    return true;
}

void octo_api_pool_inputs_deinit(octo_api_pool_inputs *in)
{
    for (size_t i = 0; i < in->n; i++) octo_free(in->ids[i]);
    octo_free(in->ids);
    octo_free(in->lens);
    memset(in, 0, sizeof *in);
}

float *octo_api_pool_run(octo_http_req *req, octo_api_pooler *p, const octo_api_pool_inputs *in)
{
    int64_t dim = octo_engine_pool_out_dim(p->pool);
    float *out = octo_malloc((size_t)((int64_t)in->n * dim) * sizeof *out);
    if (!out) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return NULL;
    }
    char err[256] = "";
    octo_err rc = OCTO_OK;
    /* In slices of about OCTO_API_POOL_SLICE_TOKENS tokens, so that a client
     * that leaves stops its batch within one slice. */
    for (size_t start = 0; start < in->n && !rc;) {
        size_t end = start;
        int64_t tokens = 0;
        while (end < in->n &&
               (end == start || tokens + in->lens[end] <= OCTO_API_POOL_SLICE_TOKENS))
            tokens += in->lens[end++];
        if (start > 0 && octo_http_req_client_gone(req)) {
            OCTO_LOG_INFO("client went away; batch cancelled after %zu of %zu inputs", start,
                          in->n);
            octo_http_fail(req, OCTO_E_CANCELLED, NULL, "client closed the request");
            octo_free(out);
            return NULL;
        }
        rc = octo_engine_pool_run(p->pool, (const int32_t *const *)in->ids + start,
                                  in->lens + start, (int64_t)(end - start),
                                  out + (int64_t)start * dim, err, sizeof err);
        start = end;
    }
    if (rc) {
        /* a prompt over the model's length is the client's error (vLLM: 400) */
        if (rc == OCTO_E_TOO_LARGE) rc = OCTO_E_INVALID;
        octo_http_fail(req, rc, rc == OCTO_E_INVALID ? "input" : NULL, "%s",
                       err[0] ? err : octo_err_str(rc));
        octo_free(out);
        return NULL;
    }
    return out;
}
