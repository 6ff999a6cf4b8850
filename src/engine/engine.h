/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine — runs a model for many sequences at once: the paged KV cache
 * (fixed-size blocks, a free list, one block table per sequence), a step
 * that takes any mix of prefill chunks and decode tokens from sequences of
 * different lengths in one forward, and the sampler (greedy, temperature,
 * top-k, top-p, min-p, repetition/presence/frequency penalties, logit
 * bias, per-sequence seeded PRNG, logprobs with top alternatives, stop
 * tokens and EOS from generation_config.json).
 *
 * Typical use (one engine thread):
 *   octo_engine_new(&opts, &e, err, sizeof err);
 *   octo_engine_seq_new(e, prompt, n, &params, &s);
 *   loop:
 *     items[0] = (octo_engine_item){.seq = s};     // all pending tokens
 *     octo_engine_step(e, items, 1, logits);       // items[0].logits_row
 *     octo_engine_sample(e, s, logits + row * V, &res);
 *     if (octo_engine_seq_is_stop(e, s, res.token)) break;
 *     octo_engine_seq_append(e, s, res.token);
 *   octo_engine_seq_free(e, s); octo_engine_free(e);
 *
 * It deliberately has no scheduler policy (which sequences to admit, when
 * to preempt) and no transport: the caller decides each step's batch and
 * streams the tokens; OCTO_E_BUSY tells it the cache is full.
 */
#ifndef OCTO_ENGINE_H
#define OCTO_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "models/models.h"

/* ==== sampling parameters and the sampler ==== */

#define OCTO_ENGINE_MAX_TOP_LOGPROBS 20
#define OCTO_ENGINE_MAX_STOP_IDS 32
#define OCTO_ENGINE_MAX_LOGIT_BIAS 1024

typedef struct octo_logit_bias {
    int32_t token;
    float bias;
} octo_logit_bias;

/* Per-request sampling (OpenAI / vLLM semantics; see sampler.c for the
 * order of operations). Start from octo_engine_sampling_default(). */
typedef struct octo_sampling_params {
    float temperature;        /* < 1e-5: greedy (argmax); default 1 */
    int32_t top_k;            /* <= 0: off */
    float top_p;              /* 1: off; (0, 1] */
    float min_p;              /* 0: off; [0, 1] */
    float repetition_penalty; /* 1: off; > 0; prompt and output tokens */
    float presence_penalty;   /* 0: off; output tokens */
    float frequency_penalty;  /* 0: off; output tokens */
    bool has_seed;            /* else a seed drawn from the engine's counter */
    uint64_t seed;
    int32_t logprobs;         /* -1: none; 0: the chosen token's; k <= 20: + top k */
    bool processed_logprobs;  /* logprobs of the processed distribution instead
                               * of the raw model's (vLLM logprobs_mode) */
    int32_t n_logit_bias;     /* <= OCTO_ENGINE_MAX_LOGIT_BIAS */
    const octo_logit_bias *logit_bias; /* copied at seq_new */
    int32_t n_stop_ids;       /* <= OCTO_ENGINE_MAX_STOP_IDS, extra stop tokens */
    int32_t stop_ids[OCTO_ENGINE_MAX_STOP_IDS];
    bool ignore_eos;          /* don't stop at EOS (stop_ids still stop) */
} octo_sampling_params;

void octo_engine_sampling_default(octo_sampling_params *p /* OUT */);
/* OCTO_E_INVALID (with a message in err) for out-of-range values. */
octo_err octo_engine_sampling_check(const octo_sampling_params *p, int64_t vocab_size,
                                    char *err, size_t err_size) OCTO_WUR;

typedef struct octo_sample_result {
    int32_t token;
    float logprob;            /* of `token` (NaN when logprobs < 0) */
    int32_t n_top;            /* entries in top_* (descending) */
    int32_t top_ids[OCTO_ENGINE_MAX_TOP_LOGPROBS];
    float top_logprobs[OCTO_ENGINE_MAX_TOP_LOGPROBS];
} octo_sample_result;

/* A sampler's PRNG (xoshiro256**), seeded with splitmix64(seed). */
typedef struct octo_engine_rng {
    uint64_t s[4];
} octo_engine_rng;
void octo_engine_rng_seed(octo_engine_rng *r /* OUT */, uint64_t seed);
/* Uniform in [0, 1) with 53 random bits. */
double octo_engine_rng_uniform(octo_engine_rng *r);

/* The sampler as a pure function, for the engine and for tests. logits[V]
 * is modified in place (bias, penalties, temperature, masks). `prompt` and
 * `output` are the sequence's tokens so far (penalties). `scratch` holds
 * at least octo_engine_sampler_scratch_bytes(V) bytes. Returns OCTO_OK, or
 * OCTO_E_INVALID when every token is masked or logits are not finite. */
size_t octo_engine_sampler_scratch_bytes(int64_t V);
octo_err octo_engine_sampler_run(const octo_sampling_params *p, float *logits, int64_t V,
                                 const int32_t *prompt, int64_t n_prompt,
                                 const int32_t *output, int64_t n_output,
                                 octo_engine_rng *rng, void *scratch,
                                 octo_sample_result *out /* OUT */) OCTO_WUR;

/* ==== the engine ==== */

typedef struct octo_engine octo_engine;
typedef struct octo_engine_seq octo_engine_seq;

typedef struct octo_engine_opts {
    const char *model_path;   /* model folder; with dummy, a config.json or folder */
    bool dummy;               /* --load-format dummy */
    uint64_t dummy_seed;
    octo_dtype dummy_dtype;   /* INVALID: the config's dtype (bf16 when absent) */
    int n_threads;            /* <= 0: one per CPU */
    octo_dtype kv_dtype;      /* F32 or BF16; INVALID: F32 */
    int64_t block_size;       /* tokens per KV block; 0: 16 */
    int64_t kv_blocks;        /* blocks in the pool; 0: from kv_bytes */
    uint64_t kv_bytes;        /* KV pool size when kv_blocks is 0; 0: room for
                               * one max_model_len sequence, clamped to
                               * [256 MiB, 4 GiB] (memory is touched only
                               * as blocks are used) */
    int64_t max_model_len;    /* prompt + output; 0: config's (at most 32768) */
    int64_t max_batch_tokens; /* tokens in one step; 0: 8192 */
    bool output_hidden;       /* steps return final-norm hidden states
                               * [rows, hidden_size] instead of logits
                               * (embedding models); no sampling then */
} octo_engine_opts;

/* Loads the model (octo_model_load), sizes and allocates the KV pool,
 * reads generation_config.json (EOS ids; falls back to config.json's).
 * Returns OCTO_OK and *out, or the loader's error with a message in err
 * (may be NULL). Free with octo_engine_free. */
octo_err octo_engine_new(const octo_engine_opts *opts, octo_engine **out /* OUT */,
                         char *err, size_t err_size) OCTO_WUR;
/* Frees every sequence still alive, the cache, the model, the threads.
 * NULL is a no-op. */
void octo_engine_free(octo_engine *e);
const octo_model_info *octo_engine_model_info(const octo_engine *e);
int64_t octo_engine_max_model_len(const octo_engine *e);
/* Blocks in the pool, blocks free now, and tokens per block. */
int64_t octo_engine_kv_blocks_total(const octo_engine *e);
int64_t octo_engine_kv_blocks_free(const octo_engine *e);
int64_t octo_engine_block_size(const octo_engine *e);
/* EOS ids in force (generation_config.json, else config.json). */
int octo_engine_eos_ids(const octo_engine *e, const int64_t **ids /* OUT */);

/* A sequence: its tokens (prompt, then appended ones), how many of them
 * are in the cache, its blocks, sampling parameters and PRNG. The prompt
 * (1..max_model_len tokens, each < vocab) is copied. No block is taken
 * until a step needs it. OCTO_E_INVALID for a bad prompt or parameters,
 * OCTO_E_TOO_LARGE for a prompt over max_model_len. */
octo_err octo_engine_seq_new(octo_engine *e, const int32_t *prompt, int64_t n_prompt,
                             const octo_sampling_params *params,
                             octo_engine_seq **out /* OUT */) OCTO_WUR;
/* Returns the sequence's blocks to the free list and frees it; NULL is a
 * no-op. */
void octo_engine_seq_free(octo_engine *e, octo_engine_seq *s);
/* Adds a token after the last one (a sampled one, or forced).
 * OCTO_E_TOO_LARGE past max_model_len, OCTO_E_INVALID out of vocab. */
octo_err octo_engine_seq_append(octo_engine *e, octo_engine_seq *s, int32_t token) OCTO_WUR;
int64_t octo_engine_seq_len(const octo_engine_seq *s);          /* all tokens */
int64_t octo_engine_seq_prompt_len(const octo_engine_seq *s);
int64_t octo_engine_seq_computed(const octo_engine_seq *s);     /* tokens in cache */
const int32_t *octo_engine_seq_tokens(const octo_engine_seq *s);
/* True when `token` ends the sequence: one of its stop ids, or an EOS id
 * unless ignore_eos. */
bool octo_engine_seq_is_stop(const octo_engine *e, const octo_engine_seq *s, int32_t token);
/* Drops the sequence's cache contents (blocks freed, computed = 0) so it
 * can be recomputed later: preemption by recomputation. */
void octo_engine_seq_evict(octo_engine *e, octo_engine_seq *s);

/* One entry of a step: run the next n_tokens not yet computed of `seq`
 * (0: all of them). logits_row (OUT) is the row of the step's logits that
 * belongs to this item, or -1 when the chunk stopped short of the last
 * known token (a partial prefill produces no logits). With all_logits,
 * every token of the chunk gets a row: rows logits_row .. logits_row +
 * n_tokens - 1, in position order (prompt logprobs, scoring). A sequence
 * may appear once per step. */
typedef struct octo_engine_item {
    octo_engine_seq *seq;
    int64_t n_tokens;
    bool all_logits;
    int64_t logits_row; /* OUT */
} octo_engine_item;

/* Runs one forward over all items' tokens together. logits receives
 * [rows, vocab_size] f32, rows = one per item whose logits_row is set
 * (n_tokens for all_logits items), in item order; size it for n_items
 * rows plus the all_logits items' tokens. Returns OCTO_OK; OCTO_E_INVALID
 * (nothing to compute for an item, a sequence listed twice);
 * OCTO_E_TOO_LARGE (over max_batch_tokens); OCTO_E_BUSY when the free list
 * cannot supply the blocks (nothing is computed; blocks taken by this call
 * are kept by their sequences, so a retry after freeing or evicting
 * another sequence continues). */
octo_err octo_engine_step(octo_engine *e, octo_engine_item *items, int64_t n_items,
                          float *logits /* OUT */) OCTO_WUR;

/* Samples the next token of s from one row of step logits (modified in
 * place), with s's parameters, penalties over its tokens and its PRNG.
 * Does not append. OCTO_E_INVALID on an output_hidden engine. */
octo_err octo_engine_sample(octo_engine *e, octo_engine_seq *s, float *logits,
                            octo_sample_result *out /* OUT */) OCTO_WUR;

/* ==== one-sequence generation (octo run, tests) ==== */

/* Called for every generated token, stop token included; return false to
 * stop early (e.g. a stop string seen by the caller). */
typedef bool (*octo_engine_token_fn)(void *ud, const octo_sample_result *r);

/* Generates up to max_tokens tokens after `prompt` with params, alone in
 * the engine's steps: prefill in chunks of at most max_batch_tokens, then
 * one token per step, sampling with the sequence's PRNG, until a stop
 * token (see octo_engine_seq_is_stop; it is passed to on_token), max_tokens,
 * max_model_len, or on_token returning false. *n_out (may be NULL) gets
 * the number of tokens generated. Returns OCTO_OK, or the error of
 * seq_new / step / sample (OCTO_E_BUSY: the prompt does not fit the
 * cache). The sequence is freed before returning. */
octo_err octo_engine_generate(octo_engine *e, const int32_t *prompt, int64_t n_prompt,
                              const octo_sampling_params *params, int64_t max_tokens,
                              octo_engine_token_fn on_token, void *ud,
                              int64_t *n_out /* OUT */) OCTO_WUR;

#endif /* OCTO_ENGINE_H */
