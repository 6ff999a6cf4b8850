/* SPDX-License-Identifier: Apache-2.0 */
/* plan_int — internals shared by the plan source files. */
#ifndef OCTO_PLAN_INT_H
#define OCTO_PLAN_INT_H

#include "plan/plan.h"

typedef enum plan_qkind { PQ_DENSE = 0, PQ_AWQ, PQ_GPTQ, PQ_FP8, PQ_GGUF } plan_qkind;

/* A weight quantisation: how a linear layer's bytes are counted. */
typedef struct plan_quant {
    plan_qkind kind;
    char name[32];
    int bits;              /* awq / gptq */
    int64_t group;         /* awq / gptq; -1 per channel */
    bool zeros;            /* awq zero_point (gptq always stores qzeros) */
    int64_t block[2];      /* fp8 weight_block_size; 0: per tensor */
    uint32_t ggml;         /* gguf type */
    int64_t block_elems, block_bytes;
} plan_quant;

/* Parses a quantisation name (see octo_plan_model.quantization); group 0
 * means 128. */
octo_err plan_quant_parse(const char *q, int64_t group, plan_quant *out /* OUT */, char *err,
                          size_t err_size);
/* Bytes of a linear layer [n outputs, k inputs] at q. */
uint64_t plan_linear(const plan_quant *q, int64_t n, int64_t k);

struct octo_plan {
    octo_plan_gpus gpus;
    octo_plan_entry *entries;
    octo_plan_model *models; /* the inputs, strings pointing into entries */
    size_t n, cap;
    octo_formats_model_config *cfg[OCTO_PLAN_MAX_MODELS]; /* parsed, per entry */
    char quant[OCTO_PLAN_MAX_MODELS][32];                 /* the entries' quantization */
    /* a .gguf's own tensors: bytes split by TP, bytes replicated, the most
     * common quantised type (weights then come from the file) */
    uint64_t gguf_split[OCTO_PLAN_MAX_MODELS], gguf_repl[OCTO_PLAN_MAX_MODELS];
    char gguf_type[OCTO_PLAN_MAX_MODELS][16];
    octo_plan_gpu_row rows[OCTO_PLAN_MAX_GPUS];
};

#endif /* OCTO_PLAN_INT_H */
