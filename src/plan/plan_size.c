/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plan_size — what one GPU of a model holds: weights counted tensor by
 * tensor from config.json (sharded or replicated under tensor / expert
 * parallelism, at the checkpoint's quantisation), KV bytes per token, the
 * activation workspace and the runtime reserve.
 *
 * Sharding follows vLLM (octo has no tensor parallelism yet): embedding
 * and LM head split over the vocabulary, q/o and the MLP split over heads
 * and intermediate, k/v split over kv heads (one replicated head per GPU
 * when TP > kv heads), norms and the MoE router replicated; experts split
 * over their intermediate (TP) or spread whole (EP). The vision tower is
 * counted replicated and unquantised (AWQ checkpoints leave "visual" out).
 * Not here: the GPU list, the shares and the report (plan.c).
 */
#include "plan_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ==== quantisation ==== */

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Finds a ggml type by name, case-insensitive ("q4_k" -> Q4_K). */
static bool ggml_type_of(const char *name, uint32_t *type)
{
    for (uint32_t t = 0; t < 64; t++) {
        const char *n = octo_formats_ggml_type_name(t);
        if (n && strcasecmp(n, name) == 0) {
            *type = t;
            return true;
        }
    }
    return false;
}

octo_err plan_quant_parse(const char *q, int64_t group, plan_quant *out, char *err,
                          size_t err_size)
{
    memset(out, 0, sizeof *out);
    out->group = group == 0 ? 128 : group;
    out->bits = 4;
    out->zeros = true;
    if (!q || !*q || !strcasecmp(q, "bf16") || !strcasecmp(q, "bfloat16") ||
        !strcasecmp(q, "auto") || !strcasecmp(q, "f32") || !strcasecmp(q, "float32")) {
        out->kind = PQ_DENSE; /* octo keeps f32 checkpoints as bf16 on the GPU */
        snprintf(out->name, sizeof out->name, "bf16");
    } else if (!strcasecmp(q, "f16") || !strcasecmp(q, "float16") || !strcasecmp(q, "half")) {
        out->kind = PQ_DENSE;
        snprintf(out->name, sizeof out->name, "f16");
    } else if (!strcasecmp(q, "awq") || !strcasecmp(q, "awq_marlin")) {
        out->kind = PQ_AWQ;
    } else if (!strcasecmp(q, "gptq") || !strcasecmp(q, "gptq_marlin")) {
        out->kind = PQ_GPTQ;
    } else if (!strcasecmp(q, "fp8")) {
        out->kind = PQ_FP8;
        out->block[0] = out->block[1] = 128;
        snprintf(out->name, sizeof out->name, "fp8-block128");
    } else if (ggml_type_of(q, &out->ggml)) {
        out->kind = PQ_GGUF;
        uint32_t be = 0, bb = 0;
        octo_formats_ggml_type_info(out->ggml, &be, &bb);
        out->block_elems = be;
        out->block_bytes = bb;
        snprintf(out->name, sizeof out->name, "%s", octo_formats_ggml_type_name(out->ggml));
    } else {
        snprintf(err, err_size, "unknown quantization '%s' (bf16, f16, awq, gptq, fp8 or a "
                 "GGUF type such as q4_k, q8_0)", q);
        return OCTO_E_INVALID;
    }
    if ((out->kind == PQ_AWQ || out->kind == PQ_GPTQ) && out->group != -1 &&
        (out->group < 1 || out->group > 65536)) {
        snprintf(err, err_size, "group size %lld: must be -1 (per channel) or 1..65536",
                 (long long)group);
        return OCTO_E_INVALID;
    }
    if (out->kind == PQ_AWQ || out->kind == PQ_GPTQ) {
        snprintf(out->name, sizeof out->name, "%s-int%d-g%lld",
                 out->kind == PQ_AWQ ? "awq" : "gptq", out->bits, (long long)out->group);
    }
    return OCTO_OK;
}

/* The checkpoint's own quantisation (quantization_config, else dtype). */
static octo_err quant_of_config(const octo_formats_model_config *cfg, const octo_plan_model *m,
                                plan_quant *q, char *err, size_t err_size)
{
    const octo_formats_quant_config *qc = &cfg->quant;
    if (m->quantization && *m->quantization) {
        int64_t g = m->group_size ? m->group_size
                    : (qc->method == OCTO_QUANT_AWQ || qc->method == OCTO_QUANT_GPTQ)
                        ? qc->group_size
                        : 0;
        octo_err rc = plan_quant_parse(m->quantization, g, q, err, err_size);
        if (!rc && (q->kind == PQ_AWQ || q->kind == PQ_GPTQ) && qc->bits == 8 &&
            ((q->kind == PQ_AWQ) == (qc->method == OCTO_QUANT_AWQ))) {
            q->bits = 8;
            snprintf(q->name, sizeof q->name, "%s-int8-g%lld",
                     q->kind == PQ_AWQ ? "awq" : "gptq", (long long)q->group);
        }
        return rc;
    }
    octo_err rc;
    switch (qc->method) {
    case OCTO_QUANT_AWQ:
    case OCTO_QUANT_GPTQ:
        rc = plan_quant_parse(qc->method == OCTO_QUANT_AWQ ? "awq" : "gptq",
                              m->group_size ? m->group_size : qc->group_size, q, err, err_size);
        if (rc) return rc;
        q->zeros = qc->method == OCTO_QUANT_GPTQ || qc->zero_point;
        if (qc->bits != 4 && qc->bits != 8) {
            snprintf(err, err_size, "quantization_config: %d-bit %s is not planned (4 or 8)",
                     qc->bits, qc->method_name);
            return OCTO_E_UNSUPPORTED;
        }
        q->bits = qc->bits;
        snprintf(q->name, sizeof q->name, "%s-int%d-g%lld",
                 q->kind == PQ_AWQ ? "awq" : "gptq", q->bits, (long long)q->group);
        return OCTO_OK;
    case OCTO_QUANT_FP8:
        rc = plan_quant_parse("fp8", 0, q, err, err_size);
        q->block[0] = qc->weight_block_size[0];
        q->block[1] = qc->weight_block_size[1];
        if (!q->block[0]) snprintf(q->name, sizeof q->name, "fp8-tensor");
        return rc;
    case OCTO_QUANT_OTHER:
        snprintf(err, err_size, "quantization_config: quant_method '%s' is not planned "
                 "(awq, gptq, fp8)", qc->method_name);
        return OCTO_E_UNSUPPORTED;
    case OCTO_QUANT_NONE:
        break;
    }
    return plan_quant_parse(cfg->text.dtype == OCTO_DTYPE_F16 ? "f16" : "bf16", 0, q, err,
                            err_size);
}

uint64_t plan_linear(const plan_quant *q, int64_t n, int64_t k)
{
    if (n <= 0 || k <= 0) return 0;
    uint64_t N = (uint64_t)n, K = (uint64_t)k;
    int64_t g = q->group > 0 ? q->group : k;
    uint64_t ng = (uint64_t)cdiv(k, g), pack = (uint64_t)(32 / q->bits);
    switch (q->kind) {
    case PQ_DENSE:
        return N * K * 2;
    case PQ_AWQ: /* qweight [K, N/pack], qzeros [K/G, N/pack] int32, scales [K/G, N] f16 */
        return K * (uint64_t)cdiv(n, (int64_t)pack) * 4 +
               (q->zeros ? ng * (uint64_t)cdiv(n, (int64_t)pack) * 4 : 0) + ng * N * 2;
    case PQ_GPTQ: /* qweight [K/pack, N], qzeros [K/G, N/pack], scales [K/G, N], g_idx [K] */
        return (uint64_t)cdiv(k, (int64_t)pack) * N * 4 +
               ng * (uint64_t)cdiv(n, (int64_t)pack) * 4 + ng * N * 2 + K * 4;
    case PQ_FP8: /* e4m3 [N, K] + f32 weight_scale_inv [N/b0, K/b1] (or one scale) */
        if (!q->block[0] || !q->block[1]) return N * K + 4;
        return N * K + (uint64_t)cdiv(n, q->block[0]) * (uint64_t)cdiv(k, q->block[1]) * 4;
    case PQ_GGUF: /* rows of K elements in blocks */
        return N * (uint64_t)cdiv(k, q->block_elems) * q->block_bytes;
    }
    return 0;
}

uint64_t octo_plan_linear_bytes(const char *q, int64_t group, int64_t n, int64_t k)
{
    plan_quant pq;
    char err[160]; /* the reason is not used: a bad format is 0 bytes */
    if (plan_quant_parse(q, group, &pq, err, sizeof err)) return 0;
    return plan_linear(&pq, n, k);
}

uint64_t octo_plan_workspace_bytes(int64_t T, int64_t n_out, int64_t C, int64_t H_per_gpu,
                                   int64_t kh_per_gpu, int64_t D, int64_t inter_per_gpu,
                                   int64_t V, size_t act_bytes)
{
    /* the eleven buffers of decoder.c octo_models_decoder_ws_reserve, each one allocation */
    uint64_t t = (uint64_t)T, f = act_bytes;
    uint64_t HD = (uint64_t)(H_per_gpu * D), KD = (uint64_t)(kh_per_gpu * D);
    uint64_t per_token = 3 * (uint64_t)C + 2 * HD + 2 * KD + 2 * (uint64_t)inter_per_gpu;
    return t * per_token * f + (uint64_t)n_out * (uint64_t)C * f +
           (uint64_t)n_out * (uint64_t)V * sizeof(float);
}

/* ==== the text model ==== */

static bool arch_is_qwen3(octo_formats_arch a)
{
    return a == OCTO_ARCH_QWEN3 || a == OCTO_ARCH_QWEN3_MOE || a == OCTO_ARCH_QWEN3_VL ||
           a == OCTO_ARCH_QWEN3_VL_MOE;
}

static bool arch_is_glm(octo_formats_arch a)
{
    return a == OCTO_ARCH_GLM4_MOE || a == OCTO_ARCH_GLM4V_MOE;
}

/* True when layer l of a MoE config routes to experts. */
static bool layer_is_moe(const octo_formats_model_config *cfg, int64_t l)
{
    const octo_formats_text_config *tc = &cfg->text;
    if (tc->num_experts <= 0) return false;
    if (arch_is_glm(cfg->arch)) return l >= tc->first_k_dense_replace;
    for (int64_t i = 0; i < tc->n_mlp_only_layers; i++)
        if (tc->mlp_only_layers[i] == l) return false;
    int64_t step = tc->decoder_sparse_step > 0 ? tc->decoder_sparse_step : 1;
    return (l + 1) % step == 0;
}

typedef struct counts {
    uint64_t params, bytes_total, bytes_gpu; /* one copy at tp 1 / per GPU */
} counts;

/* Adds a linear [n, k] that is split along n (col) or k (row) by `split`
 * on each GPU, at quantisation q. */
static void add_linear(counts *c, const plan_quant *q, int64_t n, int64_t k, int64_t split,
                       bool row, int64_t copies)
{
    uint64_t cp = (uint64_t)copies;
    c->params += (uint64_t)n * (uint64_t)k * cp;
    c->bytes_total += plan_linear(q, n, k) * cp;
    int64_t ns = row ? n : cdiv(n, split), ks = row ? cdiv(k, split) : k;
    c->bytes_gpu += plan_linear(q, ns, ks) * cp;
}

/* A plain bf16 / f16 / f32 vector or matrix of `elems` split by `split`. */
static void add_plain(counts *c, uint64_t elems, uint64_t split, size_t elem_bytes)
{
    c->params += elems;
    c->bytes_total += elems * elem_bytes;
    c->bytes_gpu += (elems + split - 1) / split * elem_bytes;
}

static octo_err check_tp(const octo_formats_text_config *tc, int64_t tp, char *err,
                         size_t err_size)
{
    if (tp < 1 || tp > OCTO_PLAN_MAX_DEVICES) {
        snprintf(err, err_size, "tensor_parallel_size %lld: must be 1..%d", (long long)tp,
                 OCTO_PLAN_MAX_DEVICES);
        return OCTO_E_INVALID;
    }
    if (tc->num_attention_heads % tp) {
        snprintf(err, err_size, "tensor_parallel_size %lld does not divide the %lld attention "
                 "heads", (long long)tp, (long long)tc->num_attention_heads);
        return OCTO_E_INVALID;
    }
    int64_t K = tc->num_key_value_heads;
    if (K >= tp ? K % tp : tp % K) {
        snprintf(err, err_size, "tensor_parallel_size %lld and the %lld kv heads: one must "
                 "divide the other", (long long)tp, (long long)K);
        return OCTO_E_INVALID;
    }
    return OCTO_OK;
}

/* Notes a row-parallel shard of `k` inputs that is not a whole number of
 * quantisation groups (vLLM's AWQ/GPTQ kernels refuse such a split). */
static void note_groups(octo_plan_size *o, const plan_quant *q, const char *what, int64_t k,
                        int64_t split)
{
    if ((q->kind != PQ_AWQ && q->kind != PQ_GPTQ) || q->group <= 0 || split == 1) return;
    if ((k / split) % q->group == 0 && k % split == 0) return;
    if (o->note[0]) return;
    snprintf(o->note, sizeof o->note, "%s: a %lld-input shard is not a whole number of "
             "%lld-wide groups (vLLM refuses this split; expert parallelism keeps experts "
             "whole)", what, (long long)(k / split), (long long)q->group);
}

static void count_text(const octo_formats_model_config *cfg, const plan_quant *q,
                       const octo_plan_model *m, int64_t tp, octo_plan_size *o, counts *c)
{
    const octo_formats_text_config *tc = &cfg->text;
    int64_t C = tc->hidden_size, H = tc->num_attention_heads, K = tc->num_key_value_heads;
    int64_t D = tc->head_dim, V = tc->vocab_size, L = tc->num_hidden_layers;
    int64_t E = tc->num_experts, mI = tc->moe_intermediate_size;
    bool qwen3 = arch_is_qwen3(cfg->arch), glm = arch_is_glm(cfg->arch);
    bool qk_norm = qwen3 || (glm && tc->use_qk_norm);
    bool qkv_bias = tc->attention_bias || cfg->arch == OCTO_ARCH_QWEN2 ||
                    cfg->arch == OCTO_ARCH_QWEN2_5_VL;
    bool o_bias = tc->attention_bias && qwen3;
    int64_t kh = K >= tp ? K / tp : 1;

    /* vocabulary-parallel embedding and head, final norm */
    add_plain(c, (uint64_t)V * (uint64_t)C, (uint64_t)tp, 2);
    if (!tc->tie_word_embeddings && m->task != OCTO_PLAN_EMBED)
        add_plain(c, (uint64_t)V * (uint64_t)C, (uint64_t)tp, 2);
    add_plain(c, (uint64_t)C, 1, 2);
    for (int64_t l = 0; l < L; l++) {
        /* attention: q col, k/v col over kv heads (kh per GPU), o row */
        add_linear(c, q, H * D, C, tp, false, 1);
        for (int kv = 0; kv < 2; kv++) {
            c->params += (uint64_t)(K * D * C);
            c->bytes_total += plan_linear(q, K * D, C);
            c->bytes_gpu += plan_linear(q, kh * D, C);
        }
        add_linear(c, q, C, H * D, tp, true, 1);
        note_groups(o, q, "o_proj", H * D, tp);
        if (qkv_bias) {
            add_plain(c, (uint64_t)(H * D), (uint64_t)tp, 2);
            c->params += 2 * (uint64_t)(K * D);
            c->bytes_total += 2 * (uint64_t)(K * D) * 2;
            c->bytes_gpu += 2 * (uint64_t)(kh * D) * 2;
        }
        if (o_bias) add_plain(c, (uint64_t)C, 1, 2);
        if (qk_norm) add_plain(c, 2 * (uint64_t)D, 1, 2);
        add_plain(c, 2 * (uint64_t)C, 1, 2); /* input and post-attention norms */
        if (!layer_is_moe(cfg, l)) {
            int64_t I = tc->intermediate_size;
            add_linear(c, q, I, C, tp, false, 2); /* gate, up */
            add_linear(c, q, C, I, tp, true, 1);  /* down */
            note_groups(o, q, "dense down_proj", I, tp);
            continue;
        }
        /* router (never quantised), GLM's score-correction bias (f32) */
        add_plain(c, (uint64_t)(E * C), 1, 2);
        if (glm) add_plain(c, (uint64_t)E, 1, 4);
        if (m->expert_parallel) { /* whole experts, E/tp per GPU */
            int64_t per = cdiv(E, tp);
            uint64_t one = 2 * plan_linear(q, mI, C) + plan_linear(q, C, mI);
            c->params += (uint64_t)E * 3 * (uint64_t)(mI * C);
            c->bytes_total += (uint64_t)E * one;
            c->bytes_gpu += (uint64_t)per * one;
        } else {
            add_linear(c, q, mI, C, tp, false, 2 * E);
            add_linear(c, q, C, mI, tp, true, E);
            note_groups(o, q, "expert down_proj", mI, tp);
        }
        if (tc->n_shared_experts > 0) {
            int64_t sI = glm ? mI * tc->n_shared_experts : tc->shared_expert_intermediate_size;
            add_linear(c, q, sI, C, tp, false, 2);
            add_linear(c, q, C, sI, tp, true, 1);
            note_groups(o, q, "shared expert down_proj", sI, tp);
        }
    }
}

/* ==== the vision tower (replicated, bf16) ==== */

static uint64_t vision_params(const octo_formats_model_config *cfg)
{
    const octo_formats_vision_config *v = &cfg->vision;
    uint64_t h = (uint64_t)v->hidden_size, I = (uint64_t)v->intermediate_size;
    uint64_t m2 = (uint64_t)(v->spatial_merge_size * v->spatial_merge_size);
    uint64_t out = (uint64_t)v->out_hidden_size, d = (uint64_t)v->depth;
    uint64_t patch = h * (uint64_t)(v->in_channels * v->temporal_patch_size * v->patch_size *
                                    v->patch_size);
    uint64_t hm = h * m2;
    switch (cfg->arch) {
    case OCTO_ARCH_QWEN2_5_VL: {
        /* RMSNorms, qkv/proj and the gated MLP with biases; merger ln_q +
         * two linears over the merged patches */
        uint64_t block = 2 * h + (3 * h * h + 3 * h) + (h * h + h) + 2 * (I * h + I) +
                         (h * I + h);
        return patch + d * block + h + (hm * hm + hm) + (out * hm + out);
    }
    case OCTO_ARCH_QWEN3_VL:
    case OCTO_ARCH_QWEN3_VL_MOE: {
        /* LayerNorms, a plain two-linear MLP, learned position embeddings,
         * merger and the deepstack mergers (post-shuffle LayerNorm) */
        uint64_t block = 4 * h + (3 * h * h + 3 * h) + (h * h + h) + (I * h + I) + (h * I + h);
        uint64_t merger = (hm * hm + hm) + (out * hm + out);
        return patch + h + (uint64_t)v->num_position_embeddings * h + d * block + 2 * h +
               merger + (uint64_t)v->n_deepstack_visual_indexes * (2 * hm + merger);
    }
    case OCTO_ARCH_GLM4V_MOE: {
        /* RMSNorms, bias-free qkv/proj and an MLP of out_hidden_size;
         * post-conv norm, a strided conv down to out_hidden, a merger of
         * proj + LayerNorm + gated MLP of intermediate_size, post norm */
        uint64_t side = v->patch_size ? (uint64_t)(v->image_size / v->patch_size) : 0;
        uint64_t block = 2 * h + 3 * h * h + h * h + 3 * out * h;
        return patch + h + side * side * h + d * block + h + (out * h * m2 + out) + out * out +
               2 * out + 3 * I * out + h;
    }
    default:
        return 0;
    }
}

/* ==== one model ==== */

octo_err octo_plan_size_model(const octo_formats_model_config *cfg, const octo_plan_model *m,
                              octo_plan_size *o, char *err, size_t err_size)
{
    memset(o, 0, sizeof *o);
    const octo_formats_text_config *tc = &cfg->text;
    switch (cfg->arch) {
    case OCTO_ARCH_QWEN2:
    case OCTO_ARCH_QWEN3:
    case OCTO_ARCH_QWEN3_MOE:
    case OCTO_ARCH_QWEN2_5_VL:
    case OCTO_ARCH_QWEN3_VL:
    case OCTO_ARCH_QWEN3_VL_MOE:
    case OCTO_ARCH_GLM4_MOE:
    case OCTO_ARCH_GLM4V_MOE:
        break;
    default:
        snprintf(err, err_size, "architecture '%s' has no memory layout in the planner",
                 cfg->architecture[0] ? cfg->architecture : cfg->model_type);
        return OCTO_E_UNSUPPORTED;
    }
    if (tc->hidden_size <= 0 || tc->num_hidden_layers <= 0 || tc->num_attention_heads <= 0 ||
        tc->num_key_value_heads <= 0 || tc->head_dim <= 0 || tc->vocab_size <= 0 ||
        (tc->num_experts > 0 && (tc->moe_intermediate_size <= 0 ||
                                 tc->num_experts_per_tok <= 0))) {
        snprintf(err, err_size, "config: sizes missing or not positive (hidden %lld, layers "
                 "%lld, heads %lld, kv heads %lld, head_dim %lld, vocab %lld, experts %lld of "
                 "%lld, top %lld)", (long long)tc->hidden_size,
                 (long long)tc->num_hidden_layers, (long long)tc->num_attention_heads,
                 (long long)tc->num_key_value_heads, (long long)tc->head_dim,
                 (long long)tc->vocab_size, (long long)tc->num_experts,
                 (long long)tc->moe_intermediate_size, (long long)tc->num_experts_per_tok);
        return OCTO_E_INVALID;
    }
    int64_t tp = m->tensor_parallel_size > 0 ? m->tensor_parallel_size
                 : m->n_devices > 0          ? m->n_devices
                                             : 1;
    octo_err rc = check_tp(tc, tp, err, err_size);
    if (rc) return rc;
    if (m->expert_parallel && tc->num_experts <= 0) {
        snprintf(err, err_size, "expert parallelism asked for, but the model has no experts");
        return OCTO_E_INVALID;
    }
    plan_quant q;
    rc = quant_of_config(cfg, m, &q, err, err_size);
    if (rc) return rc;
    snprintf(o->quant, sizeof o->quant, "%s", q.name);
    o->tp = tp;
    o->ep = m->expert_parallel ? tp : 1;

    counts c = {0, 0, 0};
    count_text(cfg, &q, m, tp, o, &c);
    if (cfg->has_vision) {
        uint64_t vp = vision_params(cfg);
        c.params += vp;
        c.bytes_total += vp * 2;
        c.bytes_gpu += vp * 2;
        o->vision = vp * 2;
    }
    o->params = c.params;
    o->weights_total = c.bytes_total;
    o->weights = c.bytes_gpu;

    /* KV: bf16 K and V of the kv heads this GPU holds, every layer */
    int64_t K = tc->num_key_value_heads;
    o->kv_heads_per_gpu = K >= tp ? K / tp : 1;
    o->head_dim = tc->head_dim;
    o->n_layers = tc->num_hidden_layers;
    o->kv_per_token = 2ull * (uint64_t)tc->num_hidden_layers * (uint64_t)o->kv_heads_per_gpu *
                      (uint64_t)tc->head_dim * 2;

    bool pooling = m->task != OCTO_PLAN_GENERATE;
    o->max_model_len = m->max_model_len > 0 ? m->max_model_len : tc->max_position_embeddings;
    if (m->max_model_len <= 0 && o->max_model_len > OCTO_MEM_MAX_MODEL_LEN)
        o->max_model_len = OCTO_MEM_MAX_MODEL_LEN;
    if (m->max_model_len > tc->max_position_embeddings && tc->max_position_embeddings > 0 &&
        !o->note[0]) {
        snprintf(o->note, sizeof o->note, "max_model_len %lld is past the model's "
                 "max_position_embeddings %lld", (long long)m->max_model_len,
                 (long long)tc->max_position_embeddings);
    }
    o->max_num_seqs = m->max_num_seqs > 0 ? m->max_num_seqs : OCTO_MEM_MAX_NUM_SEQS;
    o->batch_tokens = m->max_num_batched_tokens > 0 ? m->max_num_batched_tokens
                      : pooling                     ? OCTO_MEM_POOL_DEVICE_BATCH_TOKENS
                                                    : OCTO_MEM_BATCH_TOKENS;

    /* workspace: qwen3's buffers; MoE layers route each token to top-k
     * experts (plus the shared ones), so their per-token intermediate is
     * k x moe_intermediate (the larger of that and the dense one), plus the
     * router logits [T, E] f32 */
    int64_t inter = tc->intermediate_size;
    if (tc->num_experts > 0) {
        int64_t routed = tc->num_experts_per_tok * tc->moe_intermediate_size;
        if (arch_is_glm(cfg->arch))
            routed += tc->n_shared_experts * tc->moe_intermediate_size;
        bool any_dense = false;
        for (int64_t l = 0; l < tc->num_hidden_layers && !any_dense; l++)
            any_dense = !layer_is_moe(cfg, l);
        inter = any_dense && tc->intermediate_size > routed ? tc->intermediate_size : routed;
    }
    /* a pooling engine's outputs are its prompts (up to max_num_seqs);
     * a generation engine reserves OCTO_MEM_DEVICE_DECODE_ROWS */
    int64_t n_out = pooling ? o->max_num_seqs : OCTO_MEM_DEVICE_DECODE_ROWS;
    o->workspace = octo_plan_workspace_bytes(o->batch_tokens, n_out, tc->hidden_size,
                                             tc->num_attention_heads / tp, o->kv_heads_per_gpu,
                                             tc->head_dim, cdiv(inter, tp), tc->vocab_size, 2);
    if (tc->num_experts > 0)
        o->workspace += (uint64_t)o->batch_tokens * (uint64_t)tc->num_experts * 4;
    o->reserve = OCTO_MEM_DEVICE_RESERVE_BYTES;
    return OCTO_OK;
}
