/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_pooler — the runtime of one `embed` or `score` model (Qwen3-Embedding,
 * Qwen3-Reranker): its tokenizer, the engine (hidden states for embeddings;
 * logits of "no" and "yes" for scores) behind the pooling batcher, and what
 * the embeddings, rerank and score endpoints share: truncation, the
 * over-long check and running a request's prompts.
 *
 * It builds no response: see api_embed.c and api_rerank.c.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

/* The official Qwen3-Reranker prompt (model card): a system judgement
 * instruction, then the user turn that the pair fills, then an assistant
 * turn with an empty think block, whose next token is "yes" or "no". */
static const char k_rr_prefix[] =
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    "and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
    "<|im_start|>user\n";
static const char k_rr_suffix[] = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";

#define DEFAULT_POOL_BATCH_TOKENS OCTO_MEM_POOL_CPU_BATCH_TOKENS /* docs/BENCHMARKS-embed.md */
/* On a GPU a forward's cost hardly grows with its tokens until the GEMMs
 * fill the card: 16384 rows do (docs/CONFIGURATION.md) */
#define DEFAULT_DEVICE_POOL_BATCH_TOKENS OCTO_MEM_POOL_DEVICE_BATCH_TOKENS /* base/limits.h */
#define CPU_MAX_SCORE_SEQS 64 /* a score prompt keeps a vocabulary row of logits */

void octo_api_pooler_free(octo_api_pooler *p)
{
    if (!p) return;
    octo_engine_pool_free(p->pool);
    octo_text_tokenizer_free(p->tok);
    octo_free(p->query_prompt);
    octo_free(p->rr_prefix);
    octo_free(p->rr_suffix);
    octo_free(p);
}

/* sentence-transformers' query prompt, when the checkpoint names one. */
static void load_query_prompt(octo_api_pooler *p, const char *dir)
{
    char path[OCTO_LIMIT_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/config_sentence_transformers.json", dir);
    json_t *st = json_load_file(path, 0, NULL);
    const json_t *q = json_object_get(json_object_get(st, "prompts"), "query");
    if (json_is_string(q)) p->query_prompt = octo_strdup(json_string_value(q));
    json_decref(st);
}

static octo_err encode_const(const octo_text_tokenizer *tok, const char *s, int32_t **ids,
                             int64_t *n)
{
    size_t len = 0;
    octo_err rc = octo_text_tokenizer_encode(tok, s, strlen(s), false, ids, &len, NULL);
    *n = (int64_t)len;
    return rc;
}

static octo_err load_score(octo_api_pooler *p, octo_engine_pool_opts *po, char *err, size_t n)
{
    p->yes_id = octo_text_tokenizer_token_id(p->tok, "yes");
    p->no_id = octo_text_tokenizer_token_id(p->tok, "no");
    if (p->yes_id < 0 || p->no_id < 0) {
        snprintf(err, n, "a score model needs the tokens \"yes\" and \"no\" in its vocabulary");
        return OCTO_E_INVALID;
    }
    po->n_select = 2;
    po->select[0] = p->no_id;
    po->select[1] = p->yes_id;
    octo_err rc = encode_const(p->tok, k_rr_prefix, &p->rr_prefix, &p->n_rr_prefix);
    if (!rc) rc = encode_const(p->tok, k_rr_suffix, &p->rr_suffix, &p->n_rr_suffix);
    if (rc) snprintf(err, n, "cannot tokenise the reranker prompt: %s", octo_err_str(rc));
    return rc;
}

/* The engine's options for model m: placement, tokens and prompts per
 * forward (defaults by device), a cache sized for one forward plus the
 * longest prompt. */
static void engine_opts_of(const octo_model_config *m, bool score, octo_engine_opts *eo,
                           int64_t *budget, int64_t *seqs)
{
    /* placement: the first of the model's `devices:` (none listed: the CPU) */
    int device = m->n_devices ? m->devices[0] : -1;
    *budget = m->max_num_batched_tokens > 0 ? m->max_num_batched_tokens
              : device >= 0                 ? DEFAULT_DEVICE_POOL_BATCH_TOKENS
                                            : DEFAULT_POOL_BATCH_TOKENS;
    memset(eo, 0, sizeof *eo);
    eo->model_path = m->path;
    eo->dummy = m->load_format == OCTO_LOAD_DUMMY;
    eo->dummy_seed = (uint64_t)m->seed;
    eo->max_model_len = m->max_model_len;
    eo->max_batch_tokens = *budget;
    eo->output_hidden = !score;
    octo_engine_opts_device(eo, device);
    eo->gpu_memory_utilization = m->gpu_memory_utilization;
    /* a first engine only to learn max_model_len would cost a load: size
     * the cache for the largest context the engine may pick (32768) */
    int64_t max_len = m->max_model_len > 0 ? m->max_model_len : OCTO_MEM_MAX_MODEL_LEN;
    /* prompts per forward: a score prompt keeps a vocabulary row of host
     * memory (600 KiB at Qwen3's vocabulary), capped on the CPU */
    *seqs = m->max_num_seqs > 0 ? m->max_num_seqs : OCTO_MEM_MAX_NUM_SEQS;
    if (score && device < 0 && *seqs > CPU_MAX_SCORE_SEQS) *seqs = CPU_MAX_SCORE_SEQS;
    eo->kv_blocks = octo_engine_pool_kv_blocks(*budget, max_len, *seqs, 16);
    eo->block_size = 16;
}

octo_err octo_api_pooler_load(const octo_model_config *m, octo_api_pooler **out, char *err,
                              size_t n)
{
    octo_err rc;
    octo_engine *e = NULL;
    octo_api_pooler *p = octo_calloc(1, sizeof *p);
    if (!p) return OCTO_E_NOMEM;
    p->cfg = m;
    char dir[OCTO_LIMIT_PATH_BYTES], path[OCTO_LIMIT_PATH_BYTES + 64];
    octo_formats_model_dir(m->path, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    p->tok = octo_text_tokenizer_load(path, err, n);
    if (!p->tok) {
        rc = OCTO_E_PARSE;
        goto fail;
    }
    load_query_prompt(p, dir);
    bool score = m->task == OCTO_TASK_SCORE;
    octo_engine_pool_opts po = {0};
    if (score) {
        rc = load_score(p, &po, err, n);
        if (rc) goto fail;
    }
    int64_t budget, seqs;
    octo_engine_opts eo;
    engine_opts_of(m, score, &eo, &budget, &seqs);
    rc = octo_engine_new(&eo, &e, err, n);
    if (rc) goto fail;
    int64_t lim = octo_engine_model_info(e)->max_position_embeddings;
    if (m->max_model_len > 0 && lim > 0 && m->max_model_len > lim) { /* as vLLM */
        snprintf(err, n, "max_model_len %ld is greater than the model's "
                 "max_position_embeddings %lld", m->max_model_len, (long long)lim);
        rc = OCTO_E_INVALID;
        goto fail;
    }
    po.max_batch_tokens = budget;
    po.max_seqs = seqs;
    rc = octo_engine_pool_new(e, &po, &p->pool, err, n);
    if (rc) goto fail;
    e = NULL; /* the pool owns it */
    const octo_model_info *in = octo_engine_model_info(octo_engine_pool_engine(p->pool));
    p->max_len = octo_engine_pool_max_len(p->pool);
    p->hidden_size = in->hidden_size;
    p->vocab_size = in->vocab_size;
    char where[32] = "the CPU";
    if (eo.on_device) snprintf(where, sizeof where, "CUDA device %d", eo.device);
    OCTO_LOG_INFO("model %s (%s) on %s: hidden %lld, vocab %lld, %lld tokens per prompt "
                  "at most, %lld tokens and %lld prompts per forward%s", m->name,
                  octo_config_task_name(m->task), where, (long long)p->hidden_size,
                  (long long)p->vocab_size,
                  (long long)p->max_len, (long long)budget, (long long)seqs,
                  p->query_prompt ? ", query prompt from sentence-transformers" : "");
    *out = p;
    return OCTO_OK;
fail:
    octo_engine_free(e);
    octo_api_pooler_free(p);
    return rc;
}

octo_api_pooler *octo_api_pooler_ready(octo_api *api, octo_http_req *req,
                                       const octo_model_config *m)
{
    size_t i = (size_t)(m - api->cfg->models);
    octo_api_pooler *p = i < api->cfg->n_models ? api->pooler[i] : NULL;
    if (!p)
        octo_http_respond_error(req, 503, NULL, "the model `%s` is not loaded", m->name);
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
        octo_http_respond_error(req, 400, "truncate_prompt_tokens",
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
    if (trunc > 0 && len > trunc) { /* keep the end, as vLLM does */
        memmove(ids, ids + (len - trunc), (size_t)trunc * sizeof *ids);
        len = trunc;
    }
    if (len > p->max_len) {
        octo_http_respond_error(req, 400, "input",
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
            octo_http_respond_error(req, 500, NULL, "out of memory");
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
        octo_http_respond_error(req, 500, NULL, "out of memory");
        return NULL;
    }
    char err[256] = "";
    octo_err rc = octo_engine_pool_run(p->pool, (const int32_t *const *)in->ids, in->lens,
                                       (int64_t)in->n, out, err, sizeof err);
    if (rc) {
        int status = rc == OCTO_E_TOO_LARGE ? 400 : octo_http_status_for(rc);
        if (rc == OCTO_E_BUSY && octo_http_set_header(req, "Retry-After", "1") != OCTO_OK) {
            /* the 429 still goes out without the hint */
        }
        octo_http_respond_error(req, status, status == 400 ? "input" : NULL, "%s",
                                err[0] ? err : octo_err_str(rc));
        octo_free(out);
        return NULL;
    }
    return out;
}
