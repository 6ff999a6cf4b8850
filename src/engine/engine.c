/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine — owns a model, the paged KV pool and the live sequences (the
 * backend the model runs on is borrowed); builds each step's flattened
 * batch (tokens, positions, sequence index, cache slot per token, block
 * tables per sequence, rows wanting logits) from the caller's items and runs one
 * forward over it; samples with each sequence's parameters and PRNG.
 *
 * Not a scheduler: admission, chunk sizes and preemption are decided by
 * the caller; the engine reports OCTO_E_BUSY when blocks run out. Not a
 * loader either: runtime/ makes the backend, loads the model and chooses
 * the KV budget.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#ifdef OCTO_HAVE_CUDA
#include "cuda/cuda.h"
#endif

#define DEFAULT_MAX_MODEL_LEN OCTO_MEM_MAX_MODEL_LEN /* base/limits.h, shared with plan/ */

/* ==== engine lifetime ==== */

int64_t octo_engine_context_len(const octo_model_info *in, int64_t asked)
{
    if (asked > 0) return asked;
    int64_t n = in->max_position_embeddings;
    return n > DEFAULT_MAX_MODEL_LEN ? DEFAULT_MAX_MODEL_LEN : n;
}

/* Blocks of the KV pool: kv_blocks, else as many as kv_bytes hold. */
static octo_err size_cache(octo_engine *e, const octo_engine_opts *o, octo_dtype kv_dtype,
                           int64_t *n_blocks, char *err, size_t err_size)
{
    const octo_model_info *in = octo_model_info_get(e->model);
    int64_t bs = e->kv.block_size;
    uint64_t per_block = octo_model_kv_bytes_per_token(e->model, kv_dtype) *
                         (uint64_t)in->n_layers * (uint64_t)bs;
    *n_blocks = o->kv_blocks > 0 ? o->kv_blocks : (int64_t)(o->kv_bytes / per_block);
    if (*n_blocks < 1 || *n_blocks > INT32_MAX) {
        snprintf(err, err_size, "KV cache of %lld blocks is unusable (%llu bytes per block)",
                 (long long)*n_blocks, (unsigned long long)per_block);
        return OCTO_E_INVALID;
    }
    return OCTO_OK;
}

static void set_eos(octo_engine *e, const octo_engine_opts *o)
{
    const octo_model_info *in = octo_model_info_get(e->model);
    e->n_eos = in->n_eos;
    memcpy(e->eos, in->eos_token_id, sizeof e->eos);
    if (o->n_eos > 0) {
        e->n_eos = o->n_eos < 8 ? o->n_eos : 8;
        for (int i = 0; i < e->n_eos; i++) e->eos[i] = o->eos[i];
    }
}

octo_err octo_engine_new(octo_model *model, const octo_tensor_backend *be,
                         const octo_engine_opts *o, octo_engine **out, char *err,
                         size_t err_size)
{
    char dummy_err[8];
    if (!err) {
        err = dummy_err;
        err_size = sizeof dummy_err;
    }
    err[0] = '\0';
    *out = NULL;
    octo_dtype kv_dtype = o->kv_dtype ? o->kv_dtype : OCTO_DTYPE_F32;
    if (o->on_device) kv_dtype = OCTO_DTYPE_BF16; /* the GPU kernels' cache format */
    if (kv_dtype != OCTO_DTYPE_F32 && kv_dtype != OCTO_DTYPE_BF16) {
        snprintf(err, err_size, "KV cache dtype must be f32 or bf16");
        octo_model_free(model);
        if (o->release) o->release(o->release_ctx);
        return OCTO_E_INVALID;
    }
    octo_engine *e = octo_calloc(1, sizeof *e);
    if (!e) {
        octo_model_free(model);
        if (o->release) o->release(o->release_ctx);
        return OCTO_E_NOMEM;
    }
    octo_err rc = OCTO_E_NOMEM;
    e->model = model;
    e->release = o->release;
    e->release_ctx = o->release_ctx;
    e->be = be;
    e->on_device = o->on_device;
    const octo_model_info *in = octo_model_info_get(e->model);
    e->max_model_len = octo_engine_context_len(in, o->max_model_len);
    e->output_hidden = o->output_hidden;
    e->max_batch_tokens = o->max_batch_tokens > 0 ? o->max_batch_tokens
                                                  : OCTO_ENGINE_DEFAULT_MAX_BATCH_TOKENS;
    e->kv.block_size = o->block_size > 0 ? o->block_size : OCTO_ENGINE_DEFAULT_BLOCK_SIZE;
    int64_t n_blocks;
    rc = size_cache(e, o, kv_dtype, &n_blocks, err, err_size);
    if (rc) goto fail;
    rc = octo_engine_kv_init(&e->kv, e->be, e->model, kv_dtype, e->kv.block_size, n_blocks);
    if (rc) goto fail;
    e->sampler_scratch = octo_malloc(octo_engine_sampler_scratch_bytes(in->vocab_size));
    if (!e->sampler_scratch) {
        rc = OCTO_E_NOMEM;
        goto fail;
    }
    e->seed_counter = 0x6f63746f; /* "octo" */
    set_eos(e, o);
    OCTO_LOG_INFO("engine: %lld layers, vocab %lld, %s weights on %s, KV %lld blocks x %lld "
                  "tokens (%s), context %lld", (long long)in->n_layers,
                  (long long)in->vocab_size, octo_dtype_name(in->weight_dtype), e->be->name,
                  (long long)n_blocks, (long long)e->kv.block_size, octo_dtype_name(kv_dtype),
                  (long long)e->max_model_len);
    *out = e;
    return OCTO_OK;
fail:
    if (rc == OCTO_E_NOMEM && !err[0]) snprintf(err, err_size, "out of memory");
    octo_engine_free(e);
    return rc;
}

void octo_engine_free(octo_engine *e)
{
    if (!e) return;
    while (e->seqs) octo_engine_seq_free(e, e->seqs);
    octo_engine_kv_deinit(&e->kv, e->be);
    octo_model_free(e->model);
    octo_free(e->sampler_scratch);
    octo_free(e->tokens);
    octo_free(e->pos);
    octo_free(e->tok_seq);
    octo_free(e->out_rows);
    octo_free(e->slot);
    octo_free(e->block_tables);
    void (*release)(void *) = e->release;
    void *ctx = e->release_ctx;
    octo_free(e);
    if (release) release(ctx);
}

const octo_model_info *octo_engine_model_info(const octo_engine *e)
{
    return octo_model_info_get(e->model);
}

int64_t octo_engine_max_model_len(const octo_engine *e) { return e->max_model_len; }
const octo_tensor_backend *octo_engine_backend(const octo_engine *e) { return e->be; }
float *octo_engine_logits_device(const octo_engine *e)
{
    return (float *)octo_model_logits_buffer(e->model);
}
int64_t octo_engine_kv_blocks_total(const octo_engine *e) { return e->kv.n_blocks; }
int64_t octo_engine_kv_blocks_free(const octo_engine *e)
{
    return octo_engine_kv_available(&e->kv);
}
int64_t octo_engine_block_size(const octo_engine *e) { return e->kv.block_size; }

int octo_engine_eos_ids(const octo_engine *e, const int64_t **ids)
{
    *ids = e->eos;
    return e->n_eos;
}

/* ==== sequences ==== */

static octo_err seq_grow(octo_engine_seq *s, int64_t need)
{
    if (need <= s->cap) return OCTO_OK;
    int64_t cap = s->cap ? s->cap * 2 : 64;
    if (cap < need) cap = need;
    int32_t *t = octo_realloc(s->tokens, (size_t)cap * sizeof *t);
    if (!t) return OCTO_E_NOMEM;
    s->tokens = t;
    s->cap = cap;
    return OCTO_OK;
}

octo_err octo_engine_seq_new(octo_engine *e, const int32_t *prompt, int64_t n_prompt,
                             const octo_sampling_params *params, octo_engine_seq **out)
{
    *out = NULL;
    const octo_model_info *in = octo_model_info_get(e->model);
    octo_sampling_params def;
    if (!params) {
        octo_engine_sampling_default(&def);
        params = &def;
    }
    if (n_prompt < 1) return OCTO_E_INVALID;
    if (n_prompt > e->max_model_len) return OCTO_E_TOO_LARGE;
    for (int64_t i = 0; i < n_prompt; i++) {
        if (prompt[i] < 0 || prompt[i] >= in->vocab_size) return OCTO_E_INVALID;
    }
    char err[160];
    if (octo_engine_sampling_check(params, in->vocab_size, err, sizeof err)) {
        OCTO_LOG_WARN("sampling parameters rejected: %s", err);
        return OCTO_E_INVALID;
    }
    octo_engine_seq *s = octo_calloc(1, sizeof *s);
    if (!s) return OCTO_E_NOMEM;
    if (seq_grow(s, n_prompt + 16)) goto nomem;
    memcpy(s->tokens, prompt, (size_t)n_prompt * sizeof *prompt);
    s->len = s->n_prompt = n_prompt;
    s->params = *params;
    if (params->n_logit_bias) {
        s->bias = octo_malloc((size_t)params->n_logit_bias * sizeof *s->bias);
        if (!s->bias) goto nomem;
        memcpy(s->bias, params->logit_bias, (size_t)params->n_logit_bias * sizeof *s->bias);
    }
    s->params.logit_bias = s->bias;
    octo_engine_rng_seed(&s->rng, params->has_seed ? params->seed : e->seed_counter++);
    s->next = e->seqs;
    if (e->seqs) e->seqs->prev = s;
    e->seqs = s;
    *out = s;
    return OCTO_OK;
nomem:
    octo_free(s->tokens);
    octo_free(s);
    return OCTO_E_NOMEM;
}

void octo_engine_seq_free(octo_engine *e, octo_engine_seq *s)
{
    if (!s) return;
    octo_engine_kv_release(&e->kv, s);
    if (s->prev) s->prev->next = s->next;
    else e->seqs = s->next;
    if (s->next) s->next->prev = s->prev;
    octo_free(s->tokens);
    octo_free(s->blocks);
    octo_free(s->bias);
    octo_free(s);
}

octo_err octo_engine_seq_append(octo_engine *e, octo_engine_seq *s, int32_t token)
{
    if (token < 0 || token >= octo_model_info_get(e->model)->vocab_size) return OCTO_E_INVALID;
    if (s->len >= e->max_model_len) return OCTO_E_TOO_LARGE;
    octo_err rc = seq_grow(s, s->len + 1);
    if (rc) return rc;
    s->tokens[s->len++] = token;
    return OCTO_OK;
}

int64_t octo_engine_seq_len(const octo_engine_seq *s) { return s->len; }
int64_t octo_engine_seq_prompt_len(const octo_engine_seq *s) { return s->n_prompt; }
int64_t octo_engine_seq_computed(const octo_engine_seq *s) { return s->computed; }
const int32_t *octo_engine_seq_tokens(const octo_engine_seq *s) { return s->tokens; }

bool octo_engine_seq_is_stop(const octo_engine *e, const octo_engine_seq *s, int32_t token)
{
    for (int32_t i = 0; i < s->params.n_stop_ids; i++) {
        if (s->params.stop_ids[i] == token) return true;
    }
    if (s->params.ignore_eos) return false;
    for (int i = 0; i < e->n_eos; i++) {
        if (e->eos[i] == token) return true;
    }
    return false;
}

void octo_engine_seq_evict(octo_engine *e, octo_engine_seq *s)
{
    octo_engine_kv_release(&e->kv, s);
    s->computed = 0;
}

/* ==== step ==== */

static octo_err grow_i32(int32_t **p, int64_t *cap, int64_t need)
{
    if (need <= *cap) return OCTO_OK;
    int32_t *q = octo_realloc(*p, (size_t)need * sizeof *q);
    if (!q) return OCTO_E_NOMEM;
    *p = q;
    *cap = need;
    return OCTO_OK;
}

static octo_err step_arrays(octo_engine *e, int64_t T, int64_t S, int64_t bt)
{
    if (T > e->cap_t) {
        int64_t c = T;
        int64_t c1 = e->cap_t, c2 = e->cap_t, c3 = e->cap_t;
        if (grow_i32(&e->tokens, &c1, c) || grow_i32(&e->pos, &c2, c) ||
            grow_i32(&e->tok_seq, &c3, c)) {
            return OCTO_E_NOMEM;
        }
        int64_t *sl = octo_realloc(e->slot, (size_t)c * sizeof *sl);
        if (!sl) return OCTO_E_NOMEM;
        e->slot = sl;
        e->cap_t = c;
    }
    if (S > e->cap_s) {
        int64_t c = e->cap_s;
        if (grow_i32(&e->out_rows, &c, S)) return OCTO_E_NOMEM;
        e->cap_s = S;
    }
    return grow_i32(&e->block_tables, &e->cap_bt, bt);
}

/* Checks the items and gives their sequences the blocks they need;
 * returns the token count and the widest block table. */
static octo_err step_prepare(octo_engine *e, octo_engine_item *items, int64_t n,
                             int64_t *T_out, int64_t *stride_out)
{
    int64_t T = 0, stride = 1;
    octo_err rc = OCTO_OK;
    for (int64_t i = 0; i < n; i++) {
        octo_engine_seq *s = items[i].seq;
        int64_t pending = s ? s->len - s->computed : 0;
        int64_t k = items[i].n_tokens ? items[i].n_tokens : pending;
        if (!s || s->in_step || k < 1 || k > pending) {
            rc = OCTO_E_INVALID;
            break;
        }
        s->in_step = true;
        items[i].n_tokens = k;
        T += k;
    }
    for (int64_t i = 0; i < n; i++) {
        if (items[i].seq) items[i].seq->in_step = false;
    }
    if (rc) return rc;
    if (T > e->max_batch_tokens) return OCTO_E_TOO_LARGE;
    for (int64_t i = 0; i < n; i++) {
        octo_engine_seq *s = items[i].seq;
        rc = octo_engine_kv_reserve(&e->kv, s, s->computed + items[i].n_tokens);
        if (rc) return rc;
        if (s->n_blocks > stride) stride = s->n_blocks;
    }
    *T_out = T;
    *stride_out = stride;
    return OCTO_OK;
}

octo_err octo_engine_step(octo_engine *e, octo_engine_item *items, int64_t n, float *logits)
{
    if (n < 1) return OCTO_E_INVALID;
    int64_t T, stride;
    octo_err rc = step_prepare(e, items, n, &T, &stride);
    if (rc) return rc;
    rc = step_arrays(e, T, T > n ? T : n, n * stride);
    if (rc) return rc;
    int64_t t = 0, n_out = 0, bs = e->kv.block_size;
    for (int64_t i = 0; i < n; i++) {
        octo_engine_seq *s = items[i].seq;
        memcpy(e->block_tables + i * stride, s->blocks, (size_t)s->n_blocks * sizeof(int32_t));
        for (int64_t j = 0; j < items[i].n_tokens; j++, t++) {
            int64_t p = s->computed + j;
            e->tokens[t] = s->tokens[p];
            e->pos[t] = (int32_t)p;
            e->tok_seq[t] = (int32_t)i;
            e->slot[t] = (int64_t)s->blocks[p / bs] * bs + p % bs;
        }
        items[i].logits_row = -1;
        if (items[i].all_logits) {
            items[i].logits_row = n_out;
            for (int64_t j = items[i].n_tokens; j > 0; j--) e->out_rows[n_out++] = (int32_t)(t - j);
        } else if (s->computed + items[i].n_tokens == s->len) {
            items[i].logits_row = n_out;
            e->out_rows[n_out++] = (int32_t)(t - 1);
        }
    }
    octo_model_batch b = {
        .tokens = e->tokens,
        .attn = {.n_tokens = T, .tok_seq = e->tok_seq, .tok_pos = e->pos, .slot = e->slot,
                 .block_tables = e->block_tables, .bt_stride = stride},
        .n_out = n_out,
        .out_rows = e->out_rows,
        .hidden = e->output_hidden,
    };
    rc = octo_model_forward(e->model, &b, e->kv.layers, logits);
    if (rc) return rc;
    for (int64_t i = 0; i < n; i++) {
        items[i].seq->computed += items[i].n_tokens;
        octo_engine_kv_commit(&e->kv, items[i].seq); /* prefix cache, when on */
    }
    return OCTO_OK;
}

octo_err octo_engine_sample(octo_engine *e, octo_engine_seq *s, float *logits,
                            octo_sample_result *out)
{
    const octo_model_info *in = octo_model_info_get(e->model);
    if (e->output_hidden) return OCTO_E_INVALID;
    const octo_sampling_params *p = &s->params;
    octo_err rc = OCTO_OK;
    if (p->constraint) rc = p->constraint_mask(p->constraint, logits, in->vocab_size);
    if (!rc)
        rc = octo_engine_sampler_run(p, logits, in->vocab_size, s->tokens, s->n_prompt,
                                     s->tokens + s->n_prompt, s->len - s->n_prompt, &s->rng,
                                     e->sampler_scratch, out);
    if (!rc && p->constraint) rc = p->constraint_accept(p->constraint, out->token);
    return rc;
}

bool octo_engine_device_sampling_ok(const octo_engine *e, const octo_engine_seq *s)
{
    const octo_sampling_params *p = &s->params;
    return e->on_device && !e->output_hidden && !p->constraint && p->logprobs < 0 &&
           p->n_logit_bias == 0 && p->repetition_penalty == 1.0f &&
           p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f;
}

octo_err octo_engine_sample_device(octo_engine *e, const octo_engine_item *items, int64_t n,
                                   int32_t *ids)
{
#ifdef OCTO_HAVE_CUDA
    const octo_model_info *in = octo_model_info_get(e->model);
    if (!e->on_device || e->output_hidden) return OCTO_E_INVALID;
    int64_t rows = 0;
    bool greedy = true;
    for (int64_t i = 0; i < n; i++) {
        if (items[i].all_logits) return OCTO_E_INVALID;
        if (items[i].logits_row < 0) continue;
        rows++;
        greedy = greedy && items[i].seq->params.temperature < 1e-5f;
    }
    if (rows == 0) return OCTO_OK;
    float *d_logits = octo_engine_logits_device(e);
    if (greedy) /* the common case: no parameters to build or upload */
        return octo_cuda_backend_sample(e->be, d_logits, (int)rows, (int)in->vocab_size, NULL,
                                        ids);
    octo_cuda_sample_params *p = octo_calloc((size_t)rows, sizeof *p);
    if (!p) return OCTO_E_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        const octo_engine_seq *s = items[i].seq;
        int64_t r = items[i].logits_row;
        if (r < 0) continue;
        const octo_sampling_params *sp = &s->params;
        /* the sequence's PRNG is never advanced on this path: its state is
         * the Philox key, the count of generated tokens the counter */
        p[r] = (octo_cuda_sample_params){
            .temperature = sp->temperature, .top_k = sp->top_k, .top_p = sp->top_p,
            .min_p = sp->min_p, .repetition_penalty = 1.0f,
            .seed = s->rng.s[0] ^ s->rng.s[1] << 1, .step = (uint64_t)(s->len - s->n_prompt)};
    }
    octo_err rc = octo_cuda_backend_sample(e->be, d_logits, (int)rows, (int)in->vocab_size, p,
                                           ids);
    octo_free(p);
    return rc;
#else
    (void)e, (void)items, (void)n, (void)ids;
    return OCTO_E_INVALID;
#endif
}

/* ==== one-sequence generation ==== */

octo_err octo_engine_generate(octo_engine *e, const int32_t *prompt, int64_t n_prompt,
                              const octo_sampling_params *params, int64_t max_tokens,
                              octo_engine_token_fn on_token, void *ud, int64_t *n_out)
{
    const octo_model_info *in = octo_model_info_get(e->model);
    int64_t produced = 0;
    if (e->output_hidden) return OCTO_E_INVALID;
    octo_engine_seq *s = NULL;
    float *logits = octo_malloc((size_t)in->vocab_size * sizeof *logits);
    if (!logits) return OCTO_E_NOMEM;
    octo_err rc = octo_engine_seq_new(e, prompt, n_prompt, params, &s);
    while (rc == OCTO_OK && produced < max_tokens) {
        int64_t pending = s->len - s->computed;
        octo_engine_item it = {.seq = s,
                               .n_tokens = pending > e->max_batch_tokens ? e->max_batch_tokens
                                                                         : pending};
        rc = octo_engine_step(e, &it, 1, logits);
        if (rc || it.logits_row < 0) continue;
        octo_sample_result r;
        rc = octo_engine_sample(e, s, logits, &r);
        if (rc) break;
        produced++;
        bool stop = octo_engine_seq_is_stop(e, s, r.token);
        bool more = on_token ? on_token(ud, &r) : true;
        if (stop || !more || s->len >= e->max_model_len) break;
        rc = octo_engine_seq_append(e, s, r.token);
    }
    if (n_out) *n_out = produced;
    octo_engine_seq_free(e, s);
    octo_free(logits);
    return rc;
}
