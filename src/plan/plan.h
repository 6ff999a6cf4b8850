/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plan — the memory planner behind `octo plan`: from a model's config.json
 * (or GGUF metadata) and its quantisation it computes what one GPU holds
 * under tensor / expert parallelism (weights, KV bytes per token, the
 * activation workspace, the runtime reserve), the KV capacity that a
 * gpu_memory_utilization share leaves (tokens and full-length sequences),
 * a per-GPU table summing every model placed there, the exact shortfall of
 * whatever does not fit with what would make it fit, and a proposed
 * placement (`--place`). docs/PLAN.md writes the derivation out.
 *
 * The numbers are octo's own: the engine's budget constants come from
 * base/limits.h (OCTO_MEM_*), the workspace formula is the one
 * src/models/decoder.c allocates (tests/plan checks the two against each
 * other), weights are counted tensor by tensor as the published checkpoint
 * layouts store them. Where octo has no kernels yet (MoE, vision, TP),
 * the layout is vLLM's and the docs say so.
 *
 * It deliberately loads no weights, touches no GPU and knows no config
 * file format beyond formats' config.json / GGUF readers: the CLI turns an
 * octo.yaml into octo_plan_model entries.
 */
#ifndef OCTO_PLAN_H
#define OCTO_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "formats/formats.h"

#define OCTO_PLAN_MAX_GPUS 64
#define OCTO_PLAN_MAX_DEVICES 16
#define OCTO_PLAN_MAX_MODELS 64
/* One CUDA context plus the cuBLAS(Lt) handle per process and GPU: not
 * part of any model's share (the engine measures it at start and leaves it
 * out, as vLLM does). An estimate, not measured by the planner. */
#define OCTO_PLAN_CONTEXT_BYTES (512ull << 20)

/* ==== GPUs ==== */

typedef struct octo_plan_gpu {
    char name[32];   /* "L20", "H100", ... */
    uint64_t bytes;  /* memory as cudaMemGetInfo / nvidia-smi report it */
} octo_plan_gpu;

typedef struct octo_plan_gpus {
    int n;
    octo_plan_gpu gpu[OCTO_PLAN_MAX_GPUS];
} octo_plan_gpus;

/* Parses "8xL20-48G", "4xH100-80G", "1xH100", "2xA100-40G,2xL4" (a count,
 * 'x', a name, optionally "-<N>G"). Known names take the memory their
 * driver reports (H100-80G: 81559 MiB, L20-48G: 46068 MiB, ...); an unknown
 * name needs "-<N>G" and gets N GiB. Appends to *out (n is not reset).
 * Returns OCTO_E_INVALID with the piece named in err, OCTO_E_TOO_LARGE past
 * OCTO_PLAN_MAX_GPUS. */
octo_err octo_plan_gpus_parse(const char *spec, octo_plan_gpus *out /* OUT */, char *err,
                              size_t err_size) OCTO_WUR;

/* ==== one model ==== */

typedef enum octo_plan_task {
    OCTO_PLAN_GENERATE = 0, /* chat: KV from the utilisation share */
    OCTO_PLAN_EMBED,        /* pooling engines: a fixed KV pool, no LM head */
    OCTO_PLAN_SCORE,
} octo_plan_task;

/* A model entry to plan. Strings are borrowed for the call that takes it.
 * Zero / NULL fields take octo's defaults (those of `octo serve`). */
typedef struct octo_plan_model {
    const char *name;         /* served name (NULL: the path) */
    const char *path;         /* config.json, a folder holding one, or a .gguf */
    octo_plan_task task;
    int devices[OCTO_PLAN_MAX_DEVICES]; /* GPU indices; none: the CPU */
    int n_devices;
    double gpu_memory_utilization; /* 0: 0.9 */
    int64_t max_model_len;    /* 0: the config's, at most 32768 */
    int64_t tensor_parallel_size; /* 0: 1 (or n_devices when given) */
    bool expert_parallel;     /* experts spread whole over the TP group */
    int64_t max_num_seqs;     /* 0: 256 */
    int64_t max_num_batched_tokens; /* 0: 8192 (generate), 16384 (pooling) */
    /* NULL: from the checkpoint (quantization_config, else its dtype);
     * "bf16", "f16", "awq", "gptq", "fp8", or a GGUF type "q4_k", "q8_0"... */
    const char *quantization;
    int64_t group_size;       /* awq/gptq; 0: the checkpoint's, else 128; -1 per channel */
} octo_plan_model;

/* What one GPU of the model holds, in bytes. */
typedef struct octo_plan_size {
    char quant[32];           /* "bf16", "awq-int4-g128", "fp8-block128", "q4_k", ... */
    int64_t tp, ep;           /* tensor and expert parallel sizes (ep 1 without EP) */
    uint64_t params;          /* parameters of the whole checkpoint (text + vision) */
    uint64_t weights_total;   /* all weights at this quantisation, one copy */
    uint64_t weights;         /* per GPU (sharded + replicated parts) */
    uint64_t vision;          /* the vision tower's part of `weights` (replicated, bf16) */
    uint64_t kv_per_token;    /* per GPU, all layers, K and V, bf16 */
    uint64_t workspace;       /* the model's activation buffers (qwen3 ws_reserve) */
    uint64_t reserve;         /* OCTO_MEM_DEVICE_RESERVE_BYTES */
    int64_t max_model_len, max_num_seqs, batch_tokens;
    int64_t n_layers, kv_heads_per_gpu, head_dim;
    char note[256];           /* caveats (e.g. a shard not a multiple of the group) */
} octo_plan_size;

/* Sizes one model from its parsed config. Returns OCTO_E_INVALID (heads not
 * divisible by TP, unknown quantisation ...) or OCTO_E_UNSUPPORTED (an
 * architecture the planner has no layout for) with one sentence in err. */
octo_err octo_plan_size_model(const octo_formats_model_config *cfg, const octo_plan_model *m,
                              octo_plan_size *out /* OUT */, char *err,
                              size_t err_size) OCTO_WUR;

/* The activation workspace that src/models/decoder.c octo_models_decoder_ws_reserve allocates for
 * T tokens and n_out output rows with act_bytes-wide activations (2 on the
 * GPU, 4 on the CPU), per GPU of a TP group of `tp`: x, h, o [T,C]; q, att
 * [T,H*D/tp]; k, v [T,kh*D]; gate, up [T,I/tp]; xo [n_out,C]; logits
 * [n_out,V] f32. `inter` is the dense intermediate size (MoE: the routed
 * one per token, see docs/PLAN.md). */
uint64_t octo_plan_workspace_bytes(int64_t T, int64_t n_out, int64_t C, int64_t H_per_gpu,
                                   int64_t kh_per_gpu, int64_t D, int64_t inter_per_gpu,
                                   int64_t V, size_t act_bytes);

/* Bytes of one linear layer of `n` outputs and `k` inputs as the
 * quantisation `q` stores it ("bf16", "awq", ...: see octo_plan_model;
 * group 0 means 128). AWQ: qweight [k, n/8] + qzeros [k/G, n/8] int32 +
 * scales [k/G, n] f16; GPTQ: qweight [k/8, n] + qzeros + scales + g_idx
 * [k] int32; FP8: n*k + f32 scale per 128x128 block. 0 for an unknown q. */
uint64_t octo_plan_linear_bytes(const char *q, int64_t group, int64_t n, int64_t k);

/* ==== a plan: models on GPUs ==== */

typedef struct octo_plan_entry {
    char name[OCTO_LIMIT_NAME_BYTES];
    char path[OCTO_LIMIT_PATH_BYTES];
    octo_plan_task task;
    int devices[OCTO_PLAN_MAX_DEVICES];
    int n_devices;            /* 0: runs on the CPU */
    double util;
    octo_plan_size size;
    uint64_t share;           /* util x the GPU's memory */
    int64_t kv_budget;        /* bytes the share leaves for KV (may be < 0) */
    int64_t kv_blocks, kv_tokens;
    double full_seqs;         /* kv_tokens / max_model_len */
    int64_t concurrent;       /* min(max_num_seqs, whole full-length sequences) */
    uint64_t used;            /* weights + workspace + reserve + KV on each GPU */
    bool fits;
    int64_t shortfall;        /* bytes missing per GPU when it does not fit */
    char advice[768];         /* what would make it fit ("" when it fits) */
    char error[256];          /* the config could not be planned ("": fine) */
} octo_plan_entry;

typedef struct octo_plan_gpu_row {
    uint64_t total, weights, kv, workspace, reserve, used, context;
    double util_sum;
    int n_models;
    bool fits;                /* shares <= 1 and used + context <= total */
} octo_plan_gpu_row;

typedef struct octo_plan octo_plan;

/* A plan over `gpus` (copied; n may be 0 for CPU-only configs). */
octo_plan *octo_plan_new(const octo_plan_gpus *gpus);
void octo_plan_free(octo_plan *p);

/* Reads m->path's config (config.json, folder or .gguf) and sizes the
 * model. A config that cannot be read or sized is kept with its error
 * (the report shows it) and the call returns that error. Devices past the
 * GPU list are an OCTO_E_INVALID error. */
octo_err octo_plan_add(octo_plan *p, const octo_plan_model *m, char *err,
                       size_t err_size) OCTO_WUR;

/* Proposes devices, TP and utilisations for every entry (`--place`):
 * largest first, each on the least-loaded group of consecutive GPUs that
 * holds its weights, one full-length sequence and its reserve; generation
 * models then share what is left of their GPUs (up to 0.95 in all).
 * Returns OCTO_E_NOMEM-free errors: OCTO_E_INVALID when there are no GPUs,
 * OCTO_E_TOO_LARGE when a model fits nowhere (err names it). */
octo_err octo_plan_place(octo_plan *p, char *err, size_t err_size) OCTO_WUR;

/* Computes capacities, shortfalls and the per-GPU table (after add/place;
 * may run again). */
void octo_plan_evaluate(octo_plan *p);

/* True when every entry and every GPU fits. */
bool octo_plan_fits(const octo_plan *p);

size_t octo_plan_count(const octo_plan *p);
const octo_plan_entry *octo_plan_entry_at(const octo_plan *p, size_t i);
int octo_plan_gpu_count(const octo_plan *p);
const octo_plan_gpu_row *octo_plan_gpu_at(const octo_plan *p, int i);
const octo_plan_gpu *octo_plan_gpu_spec(const octo_plan *p, int i);

/* The report as text (tables) or JSON; the caller frees it with octo_free.
 * NULL when out of memory. */
char *octo_plan_report_text(const octo_plan *p);
char *octo_plan_report_json(const octo_plan *p);

#endif /* OCTO_PLAN_H */
