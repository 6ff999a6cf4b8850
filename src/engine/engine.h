/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine — runs a model for many sequences at once: the paged KV cache
 * (fixed-size blocks, a free list, one block table per sequence), a step
 * that takes any mix of prefill chunks and decode tokens from sequences of
 * different lengths in one forward, and the sampler (greedy, temperature,
 * top-k, top-p, min-p, repetition/presence/frequency penalties, logit
 * bias, per-sequence seeded PRNG, logprobs with top alternatives, stop
 * tokens and EOS ids given by the caller, else config.json's).
 *
 * Typical use (one engine thread; runtime/ loads the model and makes the
 * backend):
 *   octo_engine_new(model, be, &opts, &e, err, sizeof err);
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
 * to preempt), creates no backend, sizes no memory budget and has no
 * transport: the caller decides each step's batch and
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
    /* Constrained decoding (guided JSON): when set, octo_engine_sample
     * calls constraint_mask on the logits first (it sets -inf on tokens
     * that may not come next) and constraint_accept with the chosen token.
     * Borrowed: the caller keeps it alive until the sequence is done (for a
     * scheduled request: until its final event was taken). Called only
     * from the engine thread. */
    void *constraint;
    octo_err (*constraint_mask)(void *constraint, float *logits, int64_t V);
    octo_err (*constraint_accept)(void *constraint, int32_t token);
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
    bool on_device;           /* the backend is the CUDA backend: the KV cache is
                               * bf16 (the GPU kernels' format) and the device
                               * sampler may be used */
    octo_dtype kv_dtype;      /* F32 or BF16; INVALID: F32 (BF16 on a device) */
    int64_t block_size;       /* tokens per KV block; 0: 16 */
    int64_t kv_blocks;        /* blocks in the pool; 0: from kv_bytes */
    uint64_t kv_bytes;        /* KV pool size when kv_blocks is 0 (one of the two is
                               * required: the budget is the caller's, see
                               * runtime/; memory is touched only as blocks
                               * are used) */
    int64_t max_model_len;    /* prompt + output; 0: the model's positions (at
                               * most 32768, see octo_engine_context_len) */
    int64_t max_batch_tokens; /* tokens in one step; 0: 8192 */
    bool output_hidden;       /* steps return final-norm hidden states
                               * [rows, hidden_size] instead of logits
                               * (embedding models); no sampling then */
    int n_eos;                /* > 0: these EOS ids (generation_config.json) in
                               * force instead of config.json's */
    int64_t eos[8];
    /* Called once when the engine is gone (octo_engine_free, also through
     * a scheduler or pool, or a failed octo_engine_new), after the cache
     * and the model: the backend's owner may release it then. NULL: the
     * owner frees the backend itself after the engine. */
    void (*release)(void *ctx);
    void *release_ctx;
} octo_engine_opts;

#define OCTO_ENGINE_DEFAULT_BLOCK_SIZE OCTO_MEM_KV_BLOCK_TOKENS
#define OCTO_ENGINE_DEFAULT_MAX_BATCH_TOKENS OCTO_MEM_BATCH_TOKENS

/* The context an engine of model `in` gets for max_model_len `asked`
 * (<= 0: the model's max_position_embeddings, at most 32768). */
int64_t octo_engine_context_len(const octo_model_info *in, int64_t asked);

/* Makes an engine over a loaded model: sizes and allocates the KV pool
 * on `be`. `model` is taken: freed with the engine, and at once when this
 * fails. `be` (the backend the model was loaded on) is borrowed and must
 * outlive the engine. Creating the backend and choosing the KV budget
 * (gpu_memory_utilization) is runtime/'s work, not the engine's. Returns
 * OCTO_OK and *out, or OCTO_E_INVALID (bad options, no KV size given) /
 * OCTO_E_NOMEM with a message in err (may be NULL). Free with
 * octo_engine_free. */
octo_err octo_engine_new(octo_model *model, const octo_tensor_backend *be,
                         const octo_engine_opts *opts, octo_engine **out /* OUT */,
                         char *err, size_t err_size) OCTO_WUR;
/* Frees every sequence still alive, the cache and the model (not the
 * backend). NULL is a no-op. */
void octo_engine_free(octo_engine *e);
const octo_model_info *octo_engine_model_info(const octo_engine *e);
int64_t octo_engine_max_model_len(const octo_engine *e);
/* Blocks in the pool, blocks free now (with the prefix cache on: free plus
 * cached blocks that no sequence holds, which are reclaimed on demand),
 * and tokens per block. */
int64_t octo_engine_kv_blocks_total(const octo_engine *e);
int64_t octo_engine_kv_blocks_free(const octo_engine *e);
int64_t octo_engine_block_size(const octo_engine *e);
/* The backend the model runs on (cpu or cuda), for device-side extras such
 * as sampling on the GPU, and the backend buffer holding the last step's
 * logits (f32 [rows, vocab]; pass logits NULL to octo_engine_step to leave
 * them there instead of copying them to the host). */
const octo_tensor_backend *octo_engine_backend(const octo_engine *e);
float *octo_engine_logits_device(const octo_engine *e);
/* EOS ids in force (the options', else config.json's). */
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
 * can be recomputed later: preemption by recomputation. With the prefix
 * cache on (the scheduler's option), its full blocks stay findable until
 * their space is reclaimed. */
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
                          float *logits /* OUT, may be NULL */) OCTO_WUR;

/* Samples the next token of s from one row of step logits (modified in
 * place), with s's parameters, penalties over its tokens and its PRNG.
 * Does not append. OCTO_E_INVALID on an output_hidden engine. */
octo_err octo_engine_sample(octo_engine *e, octo_engine_seq *s, float *logits,
                            octo_sample_result *out /* OUT */) OCTO_WUR;

/* True when s's next tokens can be sampled on the engine's device
 * (octo_engine_sample_device): a device engine, and s asks for nothing
 * the device sampler does not do — no logprobs, logit bias, penalties or
 * constraint (guided decoding). */
bool octo_engine_device_sampling_ok(const octo_engine *e, const octo_engine_seq *s);

/* After octo_engine_step(e, items, n, NULL) on a device engine: samples
 * the next token of every item with a logits row on the device (greedy,
 * or temperature / top-k / top-p / min-p drawn with a Philox stream keyed
 * by the sequence's seed and counted by its generated tokens), copying
 * only the ids back: ids[items[i].logits_row] for those items. Every such
 * sequence must pass octo_engine_device_sampling_ok. Does not append.
 * OCTO_E_INVALID (not a device engine, or an all_logits item),
 * OCTO_E_CUDA, OCTO_E_NOMEM. */
octo_err octo_engine_sample_device(octo_engine *e, const octo_engine_item *items, int64_t n,
                                   int32_t *ids /* OUT */) OCTO_WUR;

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

/* ==== serving: engine thread and scheduler ==== */

/* A scheduler owns one engine and one engine thread running a step loop
 * like vLLM's V1 scheduler: admit waiting requests FIFO while
 * max_num_seqs and KV blocks allow; one step = decode tokens of running
 * sequences first, then prefill chunks up to max_num_batched_tokens
 * (a long prompt spreads over several steps); sample every sequence whose
 * logits came out and push one event per token to its request; when KV
 * blocks run out, preempt the most recently admitted running sequence by
 * recomputation (it goes back to the front of the queue, its generated
 * tokens kept). Cancelled and timed-out requests free their blocks at the
 * next step. The thread sleeps on a condition variable while idle.
 *
 * Thread safety: submit, req_next, req_cancel, req_free and stats_get may
 * be called from any thread at any time; one consumer per request. */

typedef struct octo_sched octo_sched;
typedef struct octo_sched_req octo_sched_req;

typedef struct octo_sched_opts {
    int64_t max_num_seqs;           /* running sequences at most; 0: 256; at most
                                     * max_num_batched_tokens (lowered to it) */
    int64_t max_num_batched_tokens; /* tokens per step (chunked prefill); 0: engine max */
    int64_t max_waiting;            /* queued requests beyond which submit says BUSY; 0: 1024 */
    bool prefix_caching;            /* share KV blocks of identical prompt prefixes (keys
                                     * and values reused exactly; a hit changes the shape
                                     * of the remaining chunks, so logits agree with an
                                     * uncached run to the kernels' batch variance,
                                     * ~1e-6) */
    double request_timeout_s;       /* 0: none; a request past it finishes with TIMEOUT */
} octo_sched_opts;

typedef enum octo_finish {
    OCTO_FINISH_NONE = 0,
    OCTO_FINISH_STOP,      /* EOS or a stop id */
    OCTO_FINISH_LENGTH,    /* max_tokens or the context is full */
    OCTO_FINISH_CANCELLED,
    OCTO_FINISH_TIMEOUT,
    OCTO_FINISH_ERROR,
} octo_finish;

/* Returns a static name: "stop", "length", "cancelled", "timeout", "error"
 * ("" for NONE). */
const char *octo_finish_name(octo_finish f);

/* One event of a request's stream. Every generated token comes in its own
 * event; the last event has finish != NONE. With STOP the last event
 * carries the stop token (EOS or stop id: counted in completion_tokens,
 * not meant to be printed); with LENGTH it carries the last token; with
 * CANCELLED, TIMEOUT and ERROR it carries none (token -1). */
typedef struct octo_sched_event {
    int32_t token;               /* -1 when the event carries no token (a final event) */
    octo_sample_result sample;   /* logprob data for `token` when asked */
    octo_finish finish;          /* != NONE on the request's last event */
    int64_t prompt_tokens, cached_tokens, completion_tokens; /* so far */
    double ttft_s;               /* time to first token (set on every event after it) */
    int64_t prompt_index;        /* -1: a generated token; i >= 1: a prompt logprob event
                                  * (octo_sched_submit_ex): token = prompt[i], sample =
                                  * its raw logprob and top alternatives given prompt[0..i) */
} octo_sched_event;

/* Takes the engine (owned by the scheduler from now on, freed by
 * octo_sched_free) and starts the engine thread. Options out of range are
 * OCTO_E_INVALID (message in err, may be NULL); a failure leaves the
 * engine with the caller. The longest sequence served is the engine's
 * max_model_len, or the KV pool's size when that is smaller. */
octo_err octo_sched_new(octo_engine *e, const octo_sched_opts *o, octo_sched **out /* OUT */,
                        char *err, size_t err_size) OCTO_WUR;
/* Cancels every request (each gets its final CANCELLED event), joins the
 * thread and frees the engine. Requests stay valid for their consumers
 * until octo_sched_req_free. NULL is a no-op. */
void octo_sched_free(octo_sched *s);
/* The engine, for read-only uses from any thread (model info, EOS ids,
 * max_model_len); never step it. */
octo_engine *octo_sched_engine(octo_sched *s);
/* The longest sequence (prompt + output tokens) a request may reach. */
int64_t octo_sched_max_len(const octo_sched *s);

/* Queues a request. The prompt (1.. tokens, each < vocab) and params
 * (logit_bias included) are copied. max_tokens <= 0: up to the context.
 * Returns OCTO_OK and *out (free with octo_sched_req_free), or
 * OCTO_E_BUSY when max_waiting requests wait, OCTO_E_TOO_LARGE when
 * prompt + 1 > the longest sequence (err states the counts),
 * OCTO_E_INVALID for a bad prompt or parameters (err names it),
 * OCTO_E_CLOSED while the scheduler shuts down, OCTO_E_NOMEM. */
octo_err octo_sched_submit(octo_sched *s, const int32_t *prompt, int64_t n_prompt,
                           const octo_sampling_params *p, int64_t max_tokens,
                           octo_sched_req **out /* OUT */, char *err, size_t err_size) OCTO_WUR;
/* As octo_sched_submit, plus prompt logprobs (OpenAI echo + logprobs,
 * vLLM prompt_logprobs): prompt_logprobs -1 is none; 0..20 sends, before
 * the first generated token, one event per prompt token from the second
 * on (prompt_index 1..n_prompt-1) with the model's raw logprob of that
 * token and its prompt_logprobs most likely alternatives. Such a request
 * takes no prefix-cache hits for the positions it needs logits of, and
 * its prefill runs in chunks of at most 64 tokens. */
octo_err octo_sched_submit_ex(octo_sched *s, const int32_t *prompt, int64_t n_prompt,
                              const octo_sampling_params *p, int64_t max_tokens,
                              int32_t prompt_logprobs, octo_sched_req **out /* OUT */,
                              char *err, size_t err_size) OCTO_WUR;
/* Waits up to timeout_s (< 0: forever) for the request's next event.
 * OCTO_OK with *ev; OCTO_E_TIMEOUT; OCTO_E_CLOSED after the final event
 * was taken. */
octo_err octo_sched_req_next(octo_sched_req *r, double timeout_s,
                             octo_sched_event *ev /* OUT */) OCTO_WUR;
/* Asks the engine to stop the request (idempotent): at its next step it
 * frees the sequence's blocks and sends a final CANCELLED event (unless
 * the request finished first). */
void octo_sched_req_cancel(octo_sched_req *r);
/* The consumer lets go: cancels if still running; the memory goes once
 * the engine is done with it too. Safe at any time; NULL is a no-op. */
void octo_sched_req_free(octo_sched_req *r);

#define OCTO_SCHED_BUCKETS 16

/* Counters since start and the current state (a consistent snapshot taken
 * after the last step). Histograms are Prometheus style: *_count[i] is
 * the number of observations <= bucket_le[i]; *_total all of them
 * (the +Inf bucket); *_sum their sum in seconds. */
typedef struct octo_sched_stats {
    int64_t running, waiting, swapped_or_preempted_total;
    int64_t kv_blocks_total, kv_blocks_used;
    int64_t prefix_queries_tokens, prefix_hit_tokens;
    int64_t prompt_tokens_total, generation_tokens_total, requests_finished_total;
    int n_buckets;
    double bucket_le[OCTO_SCHED_BUCKETS];
    int64_t ttft_count[OCTO_SCHED_BUCKETS], ttft_total;
    double ttft_sum;
    int64_t itl_count[OCTO_SCHED_BUCKETS], itl_total;
    double itl_sum;
    int64_t steps_total;        /* forwards run */
    int64_t finished_by[OCTO_FINISH_ERROR + 1]; /* requests finished, by octo_finish */
    /* the engine thread's wall time, seconds: choosing what runs, the
     * forward with its sampling, and handing the tokens to the requests */
    double schedule_seconds, forward_seconds, output_seconds;
} octo_sched_stats;

void octo_sched_stats_get(octo_sched *s, octo_sched_stats *out /* OUT */);

/* ==== serving: the pooling batcher (embeddings, reranker scores) ==== */

/* A pool owns one engine and one engine thread that packs the prompts of
 * many concurrent callers into shared forwards (up to max_batch_tokens
 * tokens each; longer prompts are chunked over several) and gives each
 * prompt one output row taken at its last token: the final-norm hidden
 * state [hidden_size] of an output_hidden engine, or the logits of
 * n_select chosen tokens of a logits engine (a reranker's "no"/"yes").
 * Nothing is sampled or kept: a prompt's KV blocks are freed as soon as
 * its row is out, so the cache needs room for one forward plus the
 * longest prompt (see octo_engine_pool_kv_blocks).
 *
 * Thread safety: run and stats_get may be called from any thread. */

typedef struct octo_engine_pool octo_engine_pool;

typedef struct octo_engine_pool_opts {
    int64_t max_batch_tokens; /* tokens per forward; 0 (or more than the engine's): engine's */
    int64_t max_seqs;         /* prompts per forward; 0: 256 hidden, 64 select */
    int64_t max_waiting;      /* queued prompts beyond which run says BUSY; 0: 65536 */
    int32_t n_select;         /* 0: hidden states; 1..16: these logits */
    int32_t select[16];       /* token ids, in output order */
} octo_engine_pool_opts;

typedef struct octo_engine_pool_stats {
    int64_t prompts_total, tokens_total, steps_total; /* since start */
    int64_t waiting, running;                         /* now */
} octo_engine_pool_stats;

/* KV blocks a pool's engine needs (pass as octo_engine_opts.kv_blocks):
 * room for max(max_batch_tokens, max_len) tokens plus one partial block
 * per prompt of a forward. */
int64_t octo_engine_pool_kv_blocks(int64_t max_batch_tokens, int64_t max_len, int64_t max_seqs,
                                   int64_t block_size);
/* Takes the engine (owned by the pool from now on, freed by
 * octo_engine_pool_free) and starts the thread. OCTO_E_INVALID (message in
 * err, may be NULL) when n_select does not fit the engine's output
 * (hidden states need output_hidden, selected logits need logits) or a
 * selected id is outside the vocabulary; a failure leaves the engine with
 * the caller. */
octo_err octo_engine_pool_new(octo_engine *e, const octo_engine_pool_opts *o,
                              octo_engine_pool **out /* OUT */, char *err,
                              size_t err_size) OCTO_WUR;
/* Stops the thread (prompts still queued fail with OCTO_E_CLOSED) and
 * frees the engine. No caller may be inside run any more. NULL is a no-op. */
void octo_engine_pool_free(octo_engine_pool *p);
/* The engine, for read-only uses (model info); never step it. */
octo_engine *octo_engine_pool_engine(octo_engine_pool *p);
/* Floats per output row: hidden_size, or n_select. */
int64_t octo_engine_pool_out_dim(const octo_engine_pool *p);
/* The longest prompt accepted: max_model_len, or the cache when smaller. */
int64_t octo_engine_pool_max_len(const octo_engine_pool *p);
/* Computes n prompts (prompts[i] has lens[i] tokens, borrowed until it
 * returns) and blocks until all rows are in out[n, out_dim]. Returns
 * OCTO_OK; OCTO_E_INVALID (an empty prompt, a token outside the
 * vocabulary) or OCTO_E_TOO_LARGE (a prompt over max_len) before
 * anything is queued, with a message in err (may be NULL); OCTO_E_BUSY
 * when max_waiting prompts wait; OCTO_E_CLOSED while shutting down; a
 * forward's error. */
octo_err octo_engine_pool_run(octo_engine_pool *p, const int32_t *const *prompts,
                              const int64_t *lens, int64_t n, float *out /* OUT */, char *err,
                              size_t err_size) OCTO_WUR;
void octo_engine_pool_stats_get(octo_engine_pool *p, octo_engine_pool_stats *out /* OUT */);

#endif /* OCTO_ENGINE_H */
