/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime — the device side of a model instance: the backend (CPU thread
 * pool, or a CUDA device), the weights, the context length, the
 * activation workspace and the KV budget, the engine and what runs it
 * (scheduler or pooling batcher). The text side is runtime_text.c.
 *
 * It decides sizes once, at load; nothing here runs per request.
 */
#include "runtime_int.h"

#include <stdio.h>
#include <string.h>

#include "models/models.h"
#include "tensor/tensor.h"

#ifdef OCTO_HAVE_CUDA
#include "cuda/cuda.h"
#endif

/* the device budget's numbers live in base/limits.h, shared with plan/ */
#define MIN_CPU_KV_BYTES (256ull << 20)
#define MAX_CPU_KV_BYTES (4ull << 30)
#define DEFAULT_GPU_UTIL OCTO_MEM_GPU_UTIL
#define DEVICE_DECODE_ROWS OCTO_MEM_DEVICE_DECODE_ROWS
#define DEVICE_RESERVE_BYTES OCTO_MEM_DEVICE_RESERVE_BYTES
#define POOL_BATCH_TOKENS OCTO_MEM_POOL_CPU_BATCH_TOKENS /* docs/BENCHMARKS-embed.md */
/* On a GPU a forward's cost hardly grows with its tokens until the GEMMs
 * fill the card: 16384 rows do (docs/CONFIGURATION.md) */
#define DEVICE_POOL_BATCH_TOKENS OCTO_MEM_POOL_DEVICE_BATCH_TOKENS
#define POOL_SEQS OCTO_MEM_MAX_NUM_SEQS
#define CPU_MAX_SCORE_SEQS 64 /* a score prompt keeps a vocabulary row of logits */

/* ==== the backend ==== */

static octo_err backend_init(octo_runtime_model *rm, char *err, size_t n)
{
    rm->threads = octo_tensor_pool_new(rm->opts.n_threads);
    if (!rm->threads) return OCTO_E_NOMEM;
    if (rm->device < 0) {
        octo_tensor_backend_cpu(&rm->be, rm->threads);
        rm->be_ready = true;
        return OCTO_OK;
    }
#ifdef OCTO_HAVE_CUDA
    size_t total = 0;
    octo_err rc = octo_cuda_backend_new(rm->device, &rm->be);
    /* what other processes (and this one's CUDA context) hold already:
     * not charged to this instance's gpu_memory_utilization share */
    if (!rc) rc = octo_cuda_backend_memory(&rm->be, &rm->dev_used0, &total);
    if (rc) {
        octo_cuda_backend_free(&rm->be);
        snprintf(err, n, "CUDA device %d is unusable", rm->device);
        return rc;
    }
    rm->be_ready = rm->on_device = true;
    return OCTO_OK;
#else
    snprintf(err, n, "device %d asked for, but octo was built without CUDA", rm->device);
    return OCTO_E_UNSUPPORTED;
#endif
}

static void backend_deinit(octo_runtime_model *rm)
{
#ifdef OCTO_HAVE_CUDA
    if (rm->on_device) octo_cuda_backend_free(&rm->be);
#endif
    rm->on_device = rm->be_ready = false;
    octo_tensor_pool_free(rm->threads);
    rm->threads = NULL;
}

/* ==== the memory budget ==== */

/* KV bytes on a GPU as vLLM sizes them: utilization x the card's memory,
 * minus what this instance uses once the weights and the activation
 * workspace for a full batch exist, minus a reserve for graphs and library
 * scratch. As in vLLM the share is per instance: memory that other
 * processes held when the instance started is not charged to it, so two
 * servers at 0.4 each fit on one card. */
static octo_err device_kv_bytes(octo_runtime_model *rm, octo_model *model, uint64_t *bytes,
                                char *err, size_t n)
{
#ifdef OCTO_HAVE_CUDA
    double util = rm->cfg->gpu_memory_utilization > 0 ? rm->cfg->gpu_memory_utilization
                                                      : DEFAULT_GPU_UTIL;
    size_t used = 0, total = 0;
    octo_err rc = octo_model_reserve(model, rm->batch_tokens, DEVICE_DECODE_ROWS);
    if (!rc) rc = octo_cuda_backend_memory(&rm->be, &used, &total);
    if (rc) {
        snprintf(err, n, "cannot reserve the activation workspace on the GPU");
        return rc;
    }
    size_t own = used > rm->dev_used0 ? used - rm->dev_used0 : 0;
    double budget = util * (double)total - (double)own - (double)DEVICE_RESERVE_BYTES;
    double left = (double)total - (double)used - (double)DEVICE_RESERVE_BYTES;
    if (budget > left) budget = left; /* the card is fuller than the shares say */
    if (util > 1.0 || budget <= 0) {
        snprintf(err, n, "gpu_memory_utilization %.2f leaves no room for the KV "
                 "cache (%.2f GiB used by this model, %.2f GiB by others, of %.2f GiB)",
                 util, (double)own / (1 << 30), (double)rm->dev_used0 / (1 << 30),
                 (double)total / (1 << 30));
        return OCTO_E_NOMEM;
    }
    *bytes = (uint64_t)budget;
    OCTO_LOG_INFO("GPU memory: %.2f GiB total, %.2f GiB in use after weights and "
                  "activations (%.2f GiB of them this model's), KV budget %.2f GiB "
                  "(utilization %.2f)",
                  (double)total / (1 << 30), (double)used / (1 << 30),
                  (double)own / (1 << 30), budget / (1 << 30), util);
    return OCTO_OK;
#else
    (void)rm, (void)model, (void)bytes;
    snprintf(err, n, "built without CUDA");
    return OCTO_E_UNSUPPORTED;
#endif
}

/* The CPU kernels' per-thread scratch: attention scores for the longest
 * context, GEMM weight tiles. */
static octo_err cpu_workspace(octo_runtime_model *rm, const octo_model_info *in)
{
    size_t scratch = octo_tensor_attention_scratch(rm->max_len, in->head_dim);
    size_t tile = (size_t)64 * (size_t)(in->intermediate_size > in->hidden_size
                                            ? in->intermediate_size
                                            : in->n_heads * in->head_dim) * sizeof(float);
    if (tile < (size_t)64 * (size_t)in->hidden_size * sizeof(float))
        tile = (size_t)64 * (size_t)in->hidden_size * sizeof(float);
    return octo_tensor_pool_reserve(rm->threads, scratch > tile ? scratch : tile);
}

/* The engine's options: context, step size and the KV pool, per task. */
static octo_err engine_opts(octo_runtime_model *rm, octo_model *model, octo_engine_opts *eo,
                            char *err, size_t n)
{
    const octo_model_config *m = rm->cfg;
    bool pooling = m->task != OCTO_TASK_GENERATE;
    const octo_model_info *in = octo_model_info_get(model);
    memset(eo, 0, sizeof *eo);
    eo->on_device = rm->on_device;
    eo->max_model_len = rm->max_len;
    eo->block_size = OCTO_ENGINE_DEFAULT_BLOCK_SIZE;
    eo->output_hidden = m->task == OCTO_TASK_EMBED;
    if (pooling) {
        rm->batch_tokens = m->max_num_batched_tokens > 0 ? m->max_num_batched_tokens
                           : rm->on_device                ? DEVICE_POOL_BATCH_TOKENS
                                                          : POOL_BATCH_TOKENS;
        /* prompts per forward: a score prompt keeps a vocabulary row of host
         * memory (600 KiB at Qwen3's vocabulary), capped on the CPU */
        rm->batch_seqs = m->max_num_seqs > 0 ? m->max_num_seqs : POOL_SEQS;
        if (!eo->output_hidden && !rm->on_device && rm->batch_seqs > CPU_MAX_SCORE_SEQS)
            rm->batch_seqs = CPU_MAX_SCORE_SEQS;
        eo->max_batch_tokens = rm->batch_tokens;
        eo->kv_blocks = octo_engine_pool_kv_blocks(rm->batch_tokens, rm->max_len,
                                                   rm->batch_seqs, eo->block_size);
        return OCTO_OK;
    }
    rm->batch_tokens = m->max_num_batched_tokens > 0 ? m->max_num_batched_tokens
                                                     : OCTO_ENGINE_DEFAULT_MAX_BATCH_TOKENS;
    eo->max_batch_tokens = rm->batch_tokens;
    const octo_formats_gen_config *g = &rm->gen;
    eo->n_eos = g->n_eos < 8 ? g->n_eos : 8;
    for (int i = 0; i < eo->n_eos; i++) eo->eos[i] = g->eos_token_id[i];
    if (rm->opts.kv_bytes) {
        eo->kv_bytes = rm->opts.kv_bytes;
    } else if (rm->on_device) {
        octo_err rc = device_kv_bytes(rm, model, &eo->kv_bytes, err, n);
        if (rc) return rc;
    } else {
        /* one max_model_len sequence, within [256 MiB, 4 GiB]; pages are
         * only touched when used */
        uint64_t bytes = octo_model_kv_bytes_per_token(model, OCTO_DTYPE_F32) *
                         (uint64_t)in->n_layers *
                         (uint64_t)rm->max_len;
        if (bytes < MIN_CPU_KV_BYTES) bytes = MIN_CPU_KV_BYTES;
        if (bytes > MAX_CPU_KV_BYTES) bytes = MAX_CPU_KV_BYTES;
        eo->kv_bytes = bytes;
    }
    return OCTO_OK;
}

/* ==== load ==== */

/* The context: the entry's max_model_len, which may not pass the model's
 * positions (as vLLM), else the model's (at most 32768). */
static octo_err context_len(octo_runtime_model *rm, const octo_model_info *in, char *err,
                            size_t n)
{
    long asked = rm->cfg->max_model_len;
    int64_t lim = in->max_position_embeddings;
    if (asked > 0 && lim > 0 && asked > lim) {
        snprintf(err, n, "max_model_len %ld is greater than the model's "
                 "max_position_embeddings %lld", asked, (long long)lim);
        return OCTO_E_INVALID;
    }
    rm->max_len = octo_engine_context_len(in, asked);
    return OCTO_OK;
}

/* Weights, budget, engine, and the thread that runs it. */
static octo_err device_load(octo_runtime_model *rm, char *err, size_t n)
{
    const octo_model_config *m = rm->cfg;
    octo_model *model = NULL;
    octo_model_opts mo = {.dummy = m->load_format == OCTO_LOAD_DUMMY,
                          .dummy_seed = (uint64_t)m->seed};
    octo_err rc = backend_init(rm, err, n);
    if (rc) return rc;
    /* device bytes by phase (the CUDA backend counts its allocations), for
     * the log line that `octo plan`'s prediction is checked against */
    size_t dev0 = octo_alloc_device_live_bytes();
    rc = octo_model_load(m->path, &mo, &rm->be, &model, err, n);
    if (rc) return rc;
    size_t dev_weights = octo_alloc_device_live_bytes();
    const octo_model_info *in = octo_model_info_get(model);
    octo_engine_opts eo;
    rc = context_len(rm, in, err, n);
    if (!rc) rc = cpu_workspace(rm, in);
    if (!rc) rc = engine_opts(rm, model, &eo, err, n); /* the GPU workspace, the budget */
    if (rc) {
        octo_model_free(model);
        return rc;
    }
    size_t dev_ws = octo_alloc_device_live_bytes();
    /* KV bytes per token in all layers, for the log (the engine takes the model) */
    double kv_tok = (double)octo_model_kv_bytes_per_token(
                        model, rm->on_device ? OCTO_DTYPE_BF16 : OCTO_DTYPE_F32) *
                    (double)in->n_layers;
    rc = octo_engine_new(model, &rm->be, &eo, &rm->engine, err, n); /* takes the model */
    if (rc) return rc;
    if (rm->on_device) {
        size_t dev_kv = octo_alloc_device_live_bytes();
        OCTO_LOG_INFO("device allocations: before %zu, weights %zu, workspace %zu, KV %zu "
                      "bytes (octo's cudaMalloc counters)", dev0, dev_weights - dev0,
                      dev_ws - dev_weights, dev_kv - dev_ws);
    }
    int64_t blocks = octo_engine_kv_blocks_total(rm->engine);
    int64_t bs = octo_engine_block_size(rm->engine), tokens = blocks * bs;
    char where[32] = "the CPU";
    if (rm->on_device) snprintf(where, sizeof where, "CUDA device %d", rm->device);
    OCTO_LOG_INFO("KV cache on %s: %lld blocks x %lld tokens = %lld tokens, %.2f GiB; %.1f "
                  "concurrent sequences of %lld tokens; %d CPU threads, %s%s", where,
                  (long long)blocks, (long long)bs, (long long)tokens,
                  (double)tokens * kv_tok / (1 << 30), (double)tokens / (double)rm->max_len,
                  (long long)rm->max_len, octo_tensor_pool_size(rm->threads),
                  octo_tensor_cpu_simd(), octo_tensor_cpu_has_blas() ? "+openblas" : "");
    if (m->task == OCTO_TASK_GENERATE) {
        if (rm->opts.engine_only) {
            int64_t kv = octo_engine_kv_blocks_total(rm->engine) *
                         octo_engine_block_size(rm->engine);
            if (kv < rm->max_len) rm->max_len = kv;
            return OCTO_OK;
        }
        octo_sched_opts so = {
            .max_num_seqs = m->max_num_seqs,
            .max_num_batched_tokens = m->max_num_batched_tokens,
            .prefix_caching = true,
            .request_timeout_s = rm->opts.request_timeout_s,
        };
        rc = octo_sched_new(rm->engine, &so, &rm->sched, err, n);
        if (rc) return rc;
        rm->max_len = octo_sched_max_len(rm->sched);
        return OCTO_OK;
    }
    octo_engine_pool_opts po = {.max_batch_tokens = rm->batch_tokens,
                                .max_seqs = rm->batch_seqs};
    if (m->task == OCTO_TASK_SCORE) {
        po.n_select = 2;
        po.select[0] = rm->no_id;
        po.select[1] = rm->yes_id;
    }
    rc = octo_engine_pool_new(rm->engine, &po, &rm->pool, err, n);
    if (rc) return rc;
    rm->max_len = octo_engine_pool_max_len(rm->pool);
    return OCTO_OK;
}

octo_err octo_runtime_model_new(const octo_model_config *m, const octo_runtime_opts *opts,
                                octo_runtime_model **out, char *err, size_t n)
{
    char dummy_err[8];
    if (!err) {
        err = dummy_err;
        n = sizeof dummy_err;
    }
    err[0] = '\0';
    *out = NULL;
    if (m->task != OCTO_TASK_GENERATE && m->task != OCTO_TASK_EMBED &&
        m->task != OCTO_TASK_SCORE) {
        snprintf(err, n, "task %s is not served by a model instance",
                 octo_config_task_name(m->task));
        return OCTO_E_UNSUPPORTED;
    }
    /* a missing path is named (and a hub id pointed at `octo pull`) before
     * anything is read from it */
    octo_err prc = octo_formats_model_path_check(m->path, err, n);
    if (prc) return prc;
    octo_runtime_model *rm = octo_calloc(1, sizeof *rm);
    if (!rm) return OCTO_E_NOMEM;
    rm->cfg = m;
    if (opts) rm->opts = *opts;
    rm->device = m->n_devices ? m->devices[0] : -1; /* none listed: the CPU */
    /* a dummy model may be given as its config.json: text files sit beside it */
    octo_formats_model_dir(m->path, rm->dir, sizeof rm->dir);
    octo_formats_model_dir(rm->opts.tokenizer_dir ? rm->opts.tokenizer_dir : m->path,
                           rm->tok_dir, sizeof rm->tok_dir);
    rm->opts.tokenizer_dir = NULL; /* borrowed only for the call */
    bool text = !(rm->opts.weights_only && rm->opts.engine_only &&
                  m->task == OCTO_TASK_GENERATE);
    octo_err rc = text ? octo_runtime_text_load(rm, err, n) : OCTO_OK; /* score tokens first */
    if (!rc) rc = device_load(rm, err, n);
    if (!rc && text) rc = octo_runtime_text_finish(rm, err, n);
    if (rc) {
        if (rc == OCTO_E_NOMEM && !err[0]) snprintf(err, n, "out of memory");
        octo_runtime_model_free(rm);
        return rc;
    }
    *out = rm;
    return OCTO_OK;
}

void octo_runtime_model_free(octo_runtime_model *rm)
{
    if (!rm) return;
    if (rm->sched) octo_sched_free(rm->sched);         /* frees the engine */
    else if (rm->pool) octo_engine_pool_free(rm->pool); /* likewise */
    else octo_engine_free(rm->engine);
    backend_deinit(rm); /* after the weights: CUDA frees what it uploaded */
    octo_runtime_text_free(rm);
    octo_free(rm);
}

/* ==== accessors ==== */

const octo_model_config *octo_runtime_model_config(const octo_runtime_model *rm)
{
    return rm->cfg;
}
octo_task octo_runtime_model_task(const octo_runtime_model *rm) { return rm->cfg->task; }
const octo_model_info *octo_runtime_model_info(const octo_runtime_model *rm)
{
    return octo_engine_model_info(rm->engine);
}
int octo_runtime_model_device(const octo_runtime_model *rm) { return rm->device; }
int64_t octo_runtime_model_max_len(const octo_runtime_model *rm) { return rm->max_len; }
int64_t octo_runtime_model_batch_tokens(const octo_runtime_model *rm) { return rm->batch_tokens; }
int64_t octo_runtime_model_batch_seqs(const octo_runtime_model *rm)
{
    return rm->pool ? rm->batch_seqs : 0;
}
octo_engine *octo_runtime_model_engine(const octo_runtime_model *rm) { return rm->engine; }
octo_sched *octo_runtime_model_sched(const octo_runtime_model *rm) { return rm->sched; }
octo_engine_pool *octo_runtime_model_pool(const octo_runtime_model *rm) { return rm->pool; }
const octo_tensor_backend *octo_runtime_model_backend(const octo_runtime_model *rm)
{
    return &rm->be;
}
