/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gguf_config — a GGUF file's metadata as the same structs config.json and
 * generation_config.json give: octo_formats_model_config from the
 * "{arch}.*" keys (block_count, embedding_length, attention.head_count ...)
 * and the tokenizer's special ids, octo_formats_gen_config from
 * "general.sampling.*".
 *
 * Key names follow llama.cpp's gguf-py constants (the tests take them from
 * that package). Only what octo's config structs hold is read; the
 * tokenizer vocabulary itself is the tokenizer module's business.
 */
#include <stdio.h>
#include <string.h>

#include "formats/formats_int.h"

typedef struct gctx {
    const octo_formats_gguf *g;
    const char *arch;
    char *err;
    size_t n;
} gctx;

/* "{arch}.<suffix>" into key. */
static const char *akey(const gctx *c, char *key, size_t size, const char *suffix)
{
    snprintf(key, size, "%s.%s", c->arch, suffix);
    return key;
}

/* An integer key into *dst when present; OCTO_E_INVALID when it holds
 * another type or a negative value. */
static octo_err opt_int(const gctx *c, const char *key, int64_t *dst)
{
    int64_t v;
    octo_err rc = octo_formats_gguf_get_int(c->g, key, &v);
    if (rc == OCTO_E_NOT_FOUND) return OCTO_OK;
    if (rc || v < 0)
        return fmt_err(OCTO_E_INVALID, c->err, c->n, "gguf: '%s' is not a non-negative integer",
                       key);
    *dst = v;
    return OCTO_OK;
}

static octo_err opt_float(const gctx *c, const char *key, double *dst, bool *has)
{
    double v;
    octo_err rc = octo_formats_gguf_get_float(c->g, key, &v);
    if (rc == OCTO_E_NOT_FOUND) return OCTO_OK;
    if (rc) return fmt_err(OCTO_E_INVALID, c->err, c->n, "gguf: '%s' is not a number", key);
    *dst = v;
    if (has) *has = true;
    return OCTO_OK;
}

static octo_err arch_int(const gctx *c, const char *suffix, int64_t *dst)
{
    char key[160];
    return opt_int(c, akey(c, key, sizeof key, suffix), dst);
}

static octo_err arch_float(const gctx *c, const char *suffix, double *dst)
{
    char key[160];
    return opt_float(c, akey(c, key, sizeof key, suffix), dst, NULL);
}

#define TRY(x)               \
    do {                     \
        octo_err rc_ = (x);  \
        if (rc_) return rc_; \
    } while (0)

static octo_err read_rope(const gctx *c, octo_formats_rope *r)
{
    char key[160];
    const char *type = NULL;
    if (octo_formats_gguf_get_string(c->g, akey(c, key, sizeof key, "rope.scaling.type"), &type,
                                     NULL) == OCTO_OK) {
        if (!strcmp(type, "none")) r->type = OCTO_ROPE_DEFAULT;
        else if (!strcmp(type, "linear")) r->type = OCTO_ROPE_LINEAR;
        else if (!strcmp(type, "yarn")) r->type = OCTO_ROPE_YARN;
        else
            return fmt_err(OCTO_E_UNSUPPORTED, c->err, c->n,
                           "gguf: rope scaling type '%s' is not supported", type);
    }
    TRY(arch_float(c, "rope.freq_base", &r->theta));
    TRY(arch_float(c, "rope.scaling.factor", &r->factor));
    TRY(arch_int(c, "rope.scaling.original_context_length",
                 &r->original_max_position_embeddings));
    TRY(arch_float(c, "rope.scaling.yarn_beta_fast", &r->beta_fast));
    TRY(arch_float(c, "rope.scaling.yarn_beta_slow", &r->beta_slow));
    if (r->type != OCTO_ROPE_DEFAULT && !(r->factor >= 1.0))
        return fmt_err(OCTO_E_INVALID, c->err, c->n, "gguf: rope scaling factor %g below 1",
                       r->factor);
    return OCTO_OK;
}

static octo_err read_text(const gctx *c, octo_formats_text_config *t)
{
    TRY(arch_int(c, "vocab_size", &t->vocab_size));
    TRY(arch_int(c, "context_length", &t->max_position_embeddings));
    TRY(arch_int(c, "embedding_length", &t->hidden_size));
    TRY(arch_int(c, "block_count", &t->num_hidden_layers));
    TRY(arch_int(c, "feed_forward_length", &t->intermediate_size));
    TRY(arch_int(c, "attention.head_count", &t->num_attention_heads));
    t->num_key_value_heads = t->num_attention_heads; /* absent: no GQA */
    TRY(arch_int(c, "attention.head_count_kv", &t->num_key_value_heads));
    TRY(arch_int(c, "attention.key_length", &t->head_dim));
    TRY(arch_float(c, "attention.layer_norm_rms_epsilon", &t->rms_norm_eps));
    TRY(arch_int(c, "expert_count", &t->num_experts));
    TRY(arch_int(c, "expert_used_count", &t->num_experts_per_tok));
    TRY(arch_int(c, "expert_feed_forward_length", &t->moe_intermediate_size));
    TRY(arch_int(c, "expert_shared_count", &t->n_shared_experts));
    TRY(arch_int(c, "expert_shared_feed_forward_length", &t->shared_expert_intermediate_size));
    TRY(arch_int(c, "leading_dense_block_count", &t->first_k_dense_replace));
    TRY(arch_float(c, "expert_weights_scale", &t->routed_scaling_factor));
    char key[160];
    bool b;
    if (octo_formats_gguf_get_bool(c->g, akey(c, key, sizeof key, "expert_weights_norm"), &b) ==
        OCTO_OK)
        t->norm_topk_prob = b;
    int64_t win = -1;
    TRY(arch_int(c, "attention.sliding_window", &win));
    if (win > 0) {
        t->sliding_window = win;
        t->use_sliding_window = true;
    }
    TRY(opt_int(c, "tokenizer.ggml.bos_token_id", &t->bos_token_id));
    TRY(opt_int(c, "tokenizer.ggml.padding_token_id", &t->pad_token_id));
    int64_t eos = -1;
    TRY(opt_int(c, "tokenizer.ggml.eos_token_id", &eos));
    if (eos >= 0) t->eos_token_id[t->n_eos++] = eos;
    int64_t eot = -1;
    TRY(opt_int(c, "tokenizer.ggml.eot_token_id", &eot));
    if (eot >= 0 && eot != eos) t->eos_token_id[t->n_eos++] = eot;
    return read_rope(c, &t->rope);
}

/* Fills what the file leaves out: the vocabulary size from the token list,
 * head_dim from hidden / heads, tied embeddings from a missing
 * output.weight (llama.cpp then reuses token_embd.weight). */
static octo_err derive(const gctx *c, octo_formats_text_config *t)
{
    octo_gguf_type et;
    uint64_t count;
    if (t->vocab_size == 0 &&
        octo_formats_gguf_get_array(c->g, "tokenizer.ggml.tokens", &et, &count) == OCTO_OK)
        t->vocab_size = (int64_t)count;
    octo_formats_gguf_tensor out;
    t->tie_word_embeddings = octo_formats_gguf_tensor_find(c->g, "output.weight", &out) ==
                             OCTO_E_NOT_FOUND;
    if (t->hidden_size <= 0 || t->num_attention_heads <= 0 || t->num_hidden_layers <= 0 ||
        t->vocab_size <= 0)
        return fmt_err(OCTO_E_INVALID, c->err, c->n,
                       "gguf: %s.embedding_length, .block_count, .attention.head_count and a "
                       "vocabulary are required",
                       c->arch);
    if (t->num_key_value_heads <= 0 || t->num_attention_heads % t->num_key_value_heads)
        return fmt_err(OCTO_E_INVALID, c->err, c->n,
                       "gguf: head_count %lld is not a multiple of head_count_kv %lld",
                       (long long)t->num_attention_heads, (long long)t->num_key_value_heads);
    if (t->head_dim == 0) {
        if (t->hidden_size % t->num_attention_heads)
            return fmt_err(OCTO_E_INVALID, c->err, c->n,
                           "gguf: no key_length and embedding_length %lld is not a multiple of "
                           "head_count %lld",
                           (long long)t->hidden_size, (long long)t->num_attention_heads);
        t->head_dim = t->hidden_size / t->num_attention_heads;
    }
    if (t->num_experts && t->num_experts_per_tok > t->num_experts)
        return fmt_err(OCTO_E_INVALID, c->err, c->n,
                       "gguf: expert_used_count %lld exceeds expert_count %lld",
                       (long long)t->num_experts_per_tok, (long long)t->num_experts);
    return OCTO_OK;
}

static const struct {
    const char *gguf_arch;
    octo_formats_arch arch;
    const char *model_type;
} garchs[] = {
    {"qwen2", OCTO_ARCH_QWEN2, "qwen2"},
    {"qwen3", OCTO_ARCH_QWEN3, "qwen3"},
    {"qwen3moe", OCTO_ARCH_QWEN3_MOE, "qwen3_moe"},
    {"glm4moe", OCTO_ARCH_GLM4_MOE, "glm4_moe"},
};

octo_err octo_formats_gguf_model_config(const octo_formats_gguf *g,
                                        octo_formats_model_config **out, char *err,
                                        size_t err_size)
{
    *out = NULL;
    const char *arch = NULL;
    if (octo_formats_gguf_get_string(g, "general.architecture", &arch, NULL) != OCTO_OK ||
        !arch[0] || strlen(arch) > 64)
        return fmt_err(OCTO_E_INVALID, err, err_size,
                       "gguf: no string general.architecture (1..64 bytes)");
    octo_formats_model_config *m = octo_calloc(1, sizeof *m);
    if (!m) return fmt_err(OCTO_E_NOMEM, err, err_size, "gguf: out of memory");
    octo_formats_text_config *t = &m->text;
    t->rope.theta = 10000.0;
    t->rope.factor = 1.0;
    t->rope.beta_fast = 32.0;
    t->rope.beta_slow = 1.0;
    t->rope.partial_rotary_factor = 1.0;
    t->rms_norm_eps = 1e-6;
    t->bos_token_id = t->pad_token_id = t->sliding_window = -1;
    t->routed_scaling_factor = 1.0;
    octo_strlcpy(t->hidden_act, "silu", sizeof t->hidden_act);
    m->image_token_id = m->video_token_id = -1;
    m->vision_start_token_id = m->vision_end_token_id = -1;
    m->image_start_token_id = m->image_end_token_id = -1;
    m->video_start_token_id = m->video_end_token_id = -1;
    octo_strlcpy(m->model_type, arch, sizeof m->model_type);
    for (size_t i = 0; i < sizeof garchs / sizeof garchs[0]; i++) {
        if (strcmp(arch, garchs[i].gguf_arch)) continue;
        m->arch = garchs[i].arch;
        octo_strlcpy(m->model_type, garchs[i].model_type, sizeof m->model_type);
        octo_strlcpy(m->architecture, octo_formats_arch_name(m->arch), sizeof m->architecture);
    }
    gctx c = {g, arch, err, err_size};
    octo_err rc = read_text(&c, t);
    if (!rc) rc = derive(&c, t);
    if (rc) {
        octo_formats_model_config_free(m);
        return rc;
    }
    *out = m;
    return OCTO_OK;
}

octo_err octo_formats_gguf_gen_config(const octo_formats_gguf *g, octo_formats_gen_config *out,
                                      char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    out->bos_token_id = out->pad_token_id = -1;
    gctx c = {g, "", err, err_size};
    octo_err rc;
    if ((rc = opt_float(&c, "general.sampling.temp", &out->temperature, &out->has_temperature)) ||
        (rc = opt_float(&c, "general.sampling.top_p", &out->top_p, &out->has_top_p)) ||
        (rc = opt_float(&c, "general.sampling.min_p", &out->min_p, &out->has_min_p)) ||
        (rc = opt_float(&c, "general.sampling.penalty_repeat", &out->repetition_penalty,
                        &out->has_repetition_penalty)) ||
        (rc = opt_int(&c, "general.sampling.top_k", &out->top_k)) ||
        (rc = opt_int(&c, "tokenizer.ggml.bos_token_id", &out->bos_token_id)) ||
        (rc = opt_int(&c, "tokenizer.ggml.padding_token_id", &out->pad_token_id)))
        return rc;
    int64_t v;
    out->has_top_k = octo_formats_gguf_get_int(g, "general.sampling.top_k", &v) == OCTO_OK;
    int64_t eos = -1;
    if ((rc = opt_int(&c, "tokenizer.ggml.eos_token_id", &eos))) return rc;
    if (eos >= 0) out->eos_token_id[out->n_eos++] = eos;
    if ((out->has_top_p && !(out->top_p >= 0 && out->top_p <= 1)) ||
        (out->has_temperature && !(out->temperature >= 0)) ||
        (out->has_min_p && !(out->min_p >= 0 && out->min_p <= 1)))
        return fmt_err(OCTO_E_INVALID, err, err_size,
                       "gguf: general.sampling values out of range");
    return OCTO_OK;
}
