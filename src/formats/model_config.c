/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_config — Hugging Face config.json into octo_formats_model_config.
 *
 * Absent fields take the transformers class default of the architecture
 * (transformers' own Config() defaults, recorded in shared/data), so that
 * a minimal config means what it means to transformers. Vision-language
 * configs read the language model from "text_config", falling back to the
 * top level (the older published form keeps the text fields there).
 *
 * It is not a general JSON mapper: fields octo does not use are ignored,
 * and fields it uses must have the right JSON type (a string where a
 * number belongs is an error, not a default).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "formats/formats_int.h"

/* ==== typed field readers ==== */

/* Each reader leaves *dst untouched when the key is absent or null, and
 * fails with OCTO_E_PARSE naming the key when the JSON type is wrong. */
typedef struct ctx {
    const char *label;
    const char *section; /* "" or "text_config." etc., for messages */
    char *err;
    size_t n;
} ctx;

static octo_err bad_type(const ctx *c, const char *key, const char *want)
{
    return fmt_err(OCTO_E_PARSE, c->err, c->n, "%s: \"%s%s\" is not %s", c->label, c->section, key,
                want);
}

static octo_err get_i64(const ctx *c, json_t *o, const char *key, int64_t *dst)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!fmt_json_int(v, dst)) return bad_type(c, key, "an integer");
    return OCTO_OK;
}

static octo_err get_f64(const ctx *c, json_t *o, const char *key, double *dst)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!json_is_number(v)) return bad_type(c, key, "a number");
    *dst = json_number_value(v);
    return OCTO_OK;
}

static octo_err get_bool(const ctx *c, json_t *o, const char *key, bool *dst)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!json_is_boolean(v)) return bad_type(c, key, "a boolean");
    *dst = json_is_true(v);
    return OCTO_OK;
}

static octo_err get_str(const ctx *c, json_t *o, const char *key, char *dst, size_t size)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!json_is_string(v)) return bad_type(c, key, "a string");
    if (octo_strlcpy(dst, json_string_value(v), size) >= size)
        return fmt_err(OCTO_E_INVALID, c->err, c->n, "%s: \"%s%s\" is longer than %zu bytes",
                    c->label, c->section, key, size - 1);
    return OCTO_OK;
}

/* An int, a list of ints, or null; at most max ids. */
static octo_err get_ids(const ctx *c, json_t *o, const char *key, int64_t *ids, int max,
                        int *count)
{
    json_t *v = json_object_get(o, key);
    if (!v) return OCTO_OK;
    if (json_is_null(v)) {
        *count = 0;
        return OCTO_OK;
    }
    int64_t x;
    if (fmt_json_int(v, &x)) {
        ids[0] = x;
        *count = 1;
        return OCTO_OK;
    }
    if (!json_is_array(v)) return bad_type(c, key, "an integer or a list of integers");
    if (json_array_size(v) > (size_t)max)
        return fmt_err(OCTO_E_TOO_LARGE, c->err, c->n, "%s: \"%s%s\" lists %zu ids (limit %d)",
                    c->label, c->section, key, json_array_size(v), max);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!fmt_json_int(json_array_get(v, i), &ids[i]))
            return bad_type(c, key, "an integer or a list of integers");
    *count = (int)json_array_size(v);
    return OCTO_OK;
}

static octo_err get_id(const ctx *c, json_t *o, const char *key, int64_t *dst)
{
    json_t *v = json_object_get(o, key);
    if (v && json_is_null(v)) {
        *dst = -1;
        return OCTO_OK;
    }
    return get_i64(c, o, key, dst);
}

/* A list of integers into a new array (replacing *dst). */
static octo_err get_i64_list(const ctx *c, json_t *o, const char *key, int64_t **dst,
                             int64_t *count)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!json_is_array(v)) return bad_type(c, key, "a list of integers");
    size_t m = json_array_size(v);
    if (m > OCTO_LIMIT_CONFIG_LIST)
        return fmt_err(OCTO_E_TOO_LARGE, c->err, c->n, "%s: \"%s%s\" has %zu entries (limit %u)",
                    c->label, c->section, key, m, (unsigned)OCTO_LIMIT_CONFIG_LIST);
    int64_t *a = octo_calloc(m ? m : 1, sizeof *a);
    if (!a) return fmt_err(OCTO_E_NOMEM, c->err, c->n, "%s: out of memory", c->label);
    for (size_t i = 0; i < m; i++) {
        if (!fmt_json_int(json_array_get(v, i), &a[i])) {
            octo_free(a);
            return bad_type(c, key, "a list of integers");
        }
    }
    octo_free(*dst);
    *dst = a;
    *count = (int64_t)m;
    return OCTO_OK;
}

static octo_err get_str_list(const ctx *c, json_t *o, const char *key, char ***dst,
                             size_t *count)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return OCTO_OK;
    if (!json_is_array(v)) return bad_type(c, key, "a list of strings");
    size_t m = json_array_size(v);
    if (m > OCTO_LIMIT_CONFIG_LIST)
        return fmt_err(OCTO_E_TOO_LARGE, c->err, c->n, "%s: \"%s%s\" has %zu entries (limit %u)",
                    c->label, c->section, key, m, (unsigned)OCTO_LIMIT_CONFIG_LIST);
    char **a = octo_calloc(m ? m : 1, sizeof *a);
    if (!a) return fmt_err(OCTO_E_NOMEM, c->err, c->n, "%s: out of memory", c->label);
    *dst = a; /* owned from here on, even partly filled */
    for (size_t i = 0; i < m; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (!s) return bad_type(c, key, "a list of strings");
        if (!(a[i] = octo_strdup(s)))
            return fmt_err(OCTO_E_NOMEM, c->err, c->n, "%s: out of memory", c->label);
        *count = i + 1;
    }
    return OCTO_OK;
}

#define TRY(x)                  \
    do {                        \
        octo_err rc_ = (x);     \
        if (rc_) return rc_;    \
    } while (0)

/* ==== architecture names and defaults ==== */

static const struct {
    octo_formats_arch arch;
    const char *name;
    const char *model_type;
} arch_names[] = {
    {OCTO_ARCH_QWEN2, "Qwen2ForCausalLM", "qwen2"},
    {OCTO_ARCH_QWEN3, "Qwen3ForCausalLM", "qwen3"},
    {OCTO_ARCH_QWEN3_MOE, "Qwen3MoeForCausalLM", "qwen3_moe"},
    {OCTO_ARCH_QWEN2_5_VL, "Qwen2_5_VLForConditionalGeneration", "qwen2_5_vl"},
    {OCTO_ARCH_QWEN3_VL, "Qwen3VLForConditionalGeneration", "qwen3_vl"},
    {OCTO_ARCH_QWEN3_VL_MOE, "Qwen3VLMoeForConditionalGeneration", "qwen3_vl_moe"},
    {OCTO_ARCH_GLM4_MOE, "Glm4MoeForCausalLM", "glm4_moe"},
    {OCTO_ARCH_GLM4V_MOE, "Glm4vMoeForConditionalGeneration", "glm4v_moe"},
};
#define N_ARCH (sizeof arch_names / sizeof arch_names[0])

const char *octo_formats_arch_name(octo_formats_arch a)
{
    for (size_t i = 0; i < N_ARCH; i++)
        if (arch_names[i].arch == a) return arch_names[i].name;
    return "unknown";
}

static octo_formats_arch detect_arch(const char *architecture, const char *model_type)
{
    for (size_t i = 0; i < N_ARCH; i++)
        if (strcmp(architecture, arch_names[i].name) == 0) return arch_names[i].arch;
    /* headless variants of the same weights (embedding checkpoints) */
    if (strcmp(architecture, "Qwen3Model") == 0) return OCTO_ARCH_QWEN3;
    if (strcmp(architecture, "Qwen2Model") == 0) return OCTO_ARCH_QWEN2;
    for (size_t i = 0; i < N_ARCH; i++)
        if (strcmp(model_type, arch_names[i].model_type) == 0) return arch_names[i].arch;
    return OCTO_ARCH_UNKNOWN;
}

static void text_base(octo_formats_text_config *t)
{
    memset(t, 0, sizeof *t);
    t->vocab_size = 151936;
    t->hidden_size = 4096;
    t->intermediate_size = 22016;
    t->num_hidden_layers = 32;
    t->num_attention_heads = 32;
    t->num_key_value_heads = 32;
    t->max_position_embeddings = 32768;
    t->rms_norm_eps = 1e-6;
    t->rope.theta = 10000.0;
    t->rope.factor = 1.0;
    t->rope.beta_fast = 32.0;
    t->rope.beta_slow = 1.0;
    t->rope.partial_rotary_factor = 1.0;
    t->dtype = OCTO_DTYPE_INVALID;
    octo_strlcpy(t->hidden_act, "silu", sizeof t->hidden_act);
    t->bos_token_id = -1;
    t->pad_token_id = -1;
    t->sliding_window = -1;
    t->max_window_layers = 28;
    t->routed_scaling_factor = 1.0;
}

static void glm_moe_text(octo_formats_text_config *t)
{
    t->vocab_size = 151552;
    t->intermediate_size = 10944;
    t->num_hidden_layers = 46;
    t->num_attention_heads = 96;
    t->num_key_value_heads = 8;
    t->head_dim = 128;
    t->max_position_embeddings = 131072;
    t->rms_norm_eps = 1e-5;
    t->rope.partial_rotary_factor = 0.5;
    t->moe_intermediate_size = 1408;
    t->num_experts_per_tok = 8;
    t->n_shared_experts = 1;
    t->num_experts = 128;
    t->n_group = 1;
    t->topk_group = 1;
    t->first_k_dense_replace = 1;
    t->norm_topk_prob = true;
}

/* transformers' Config() defaults of each architecture (head_dim 0 means
 * hidden_size / num_attention_heads). */
static void set_text_defaults(octo_formats_arch a, octo_formats_text_config *t)
{
    text_base(t);
    switch (a) {
    case OCTO_ARCH_QWEN3:
        t->head_dim = 128;
        break;
    case OCTO_ARCH_QWEN3_MOE:
        t->hidden_size = 2048;
        t->intermediate_size = 6144;
        t->num_hidden_layers = 24;
        t->num_key_value_heads = 4;
        t->moe_intermediate_size = 768;
        t->num_experts_per_tok = 8;
        t->num_experts = 128;
        t->decoder_sparse_step = 1;
        break;
    case OCTO_ARCH_QWEN2_5_VL:
        t->vocab_size = 152064;
        t->hidden_size = 8192;
        t->intermediate_size = 29568;
        t->num_hidden_layers = 80;
        t->num_attention_heads = 64;
        t->num_key_value_heads = 8;
        t->rms_norm_eps = 1e-5;
        t->rope.theta = 1000000.0;
        t->bos_token_id = 151643;
        t->eos_token_id[0] = 151645;
        t->n_eos = 1;
        t->max_window_layers = 80;
        break;
    case OCTO_ARCH_QWEN3_VL:
        t->head_dim = 128;
        t->max_position_embeddings = 128000;
        t->rope.theta = 500000.0;
        break;
    case OCTO_ARCH_QWEN3_VL_MOE:
        t->hidden_size = 2048;
        t->intermediate_size = 5632;
        t->num_hidden_layers = 24;
        t->num_attention_heads = 16;
        t->num_key_value_heads = 16;
        t->head_dim = 128;
        t->max_position_embeddings = 128000;
        t->rope.theta = 500000.0;
        t->moe_intermediate_size = 1408;
        t->num_experts_per_tok = 4;
        t->num_experts = 60;
        t->decoder_sparse_step = 1;
        break;
    case OCTO_ARCH_GLM4_MOE:
        glm_moe_text(t);
        break;
    case OCTO_ARCH_GLM4V_MOE:
        glm_moe_text(t);
        t->vocab_size = 151424;
        t->max_position_embeddings = 65536;
        t->attention_bias = true;
        break;
    default:
        break;
    }
}

static void set_vision_defaults(octo_formats_arch a, octo_formats_vision_config *v)
{
    memset(v, 0, sizeof *v);
    v->in_channels = 3;
    v->spatial_merge_size = 2;
    v->temporal_patch_size = 2;
    v->rms_norm_eps = 1e-6;
    switch (a) {
    case OCTO_ARCH_QWEN2_5_VL:
        v->depth = 32;
        v->hidden_size = 3584;
        v->intermediate_size = 3420;
        v->num_heads = 16;
        v->patch_size = 14;
        v->tokens_per_second = 4;
        v->window_size = 112;
        v->out_hidden_size = 3584;
        octo_strlcpy(v->hidden_act, "silu", sizeof v->hidden_act);
        break;
    case OCTO_ARCH_QWEN3_VL:
    case OCTO_ARCH_QWEN3_VL_MOE:
        v->depth = 27;
        v->hidden_size = 1152;
        v->intermediate_size = 4304;
        v->num_heads = 16;
        v->patch_size = 16;
        v->out_hidden_size = 3584;
        v->num_position_embeddings = 2304;
        octo_strlcpy(v->hidden_act, "gelu_pytorch_tanh", sizeof v->hidden_act);
        break;
    case OCTO_ARCH_GLM4V_MOE:
        v->depth = 24;
        v->hidden_size = 1536;
        v->intermediate_size = 13696;
        v->num_heads = 12;
        v->patch_size = 14;
        v->image_size = 336;
        v->out_hidden_size = 4096;
        v->rms_norm_eps = 1e-5;
        octo_strlcpy(v->hidden_act, "silu", sizeof v->hidden_act);
        break;
    default:
        break;
    }
}

/* Default index lists, set only when the file has none. */
static octo_err vision_default_lists(octo_formats_arch a, octo_formats_vision_config *v)
{
    static const int64_t fullatt[] = {7, 15, 23, 31}, deepstack[] = {8, 16, 24};
    const int64_t *src = NULL;
    int64_t **dst = NULL, *cnt = NULL;
    if (a == OCTO_ARCH_QWEN2_5_VL && !v->fullatt_block_indexes) {
        src = fullatt;
        dst = &v->fullatt_block_indexes;
        cnt = &v->n_fullatt_block_indexes;
        *cnt = 4;
    } else if ((a == OCTO_ARCH_QWEN3_VL || a == OCTO_ARCH_QWEN3_VL_MOE) &&
               !v->deepstack_visual_indexes) {
        src = deepstack;
        dst = &v->deepstack_visual_indexes;
        cnt = &v->n_deepstack_visual_indexes;
        *cnt = 3;
    }
    if (!src) return OCTO_OK;
    *dst = octo_malloc((size_t)*cnt * sizeof **dst);
    if (!*dst) return OCTO_E_NOMEM;
    memcpy(*dst, src, (size_t)*cnt * sizeof **dst);
    return OCTO_OK;
}

/* ==== sections ==== */

static octo_dtype dtype_from_torch(const char *s)
{
    if (!strcmp(s, "bfloat16")) return OCTO_DTYPE_BF16;
    if (!strcmp(s, "float16") || !strcmp(s, "half")) return OCTO_DTYPE_F16;
    if (!strcmp(s, "float32") || !strcmp(s, "float")) return OCTO_DTYPE_F32;
    if (!strcmp(s, "float64")) return OCTO_DTYPE_F64;
    return OCTO_DTYPE_INVALID;
}

static octo_err parse_rope_obj(const ctx *c, json_t *o, const char *key, octo_formats_rope *r)
{
    json_t *rs = json_object_get(o, key);
    if (!rs || json_is_null(rs)) return OCTO_OK;
    if (!json_is_object(rs)) return bad_type(c, key, "an object");
    char sec[64];
    snprintf(sec, sizeof sec, "%s%s.", c->section, key);
    ctx c2 = *c;
    c2.section = sec;
    char type[32] = "";
    TRY(get_str(&c2, rs, "type", type, sizeof type));
    TRY(get_str(&c2, rs, "rope_type", type, sizeof type)); /* rope_type wins */
    if (!type[0] || !strcmp(type, "default") || !strcmp(type, "mrope"))
        r->type = OCTO_ROPE_DEFAULT;
    else if (!strcmp(type, "linear"))
        r->type = OCTO_ROPE_LINEAR;
    else if (!strcmp(type, "dynamic"))
        r->type = OCTO_ROPE_DYNAMIC;
    else if (!strcmp(type, "yarn"))
        r->type = OCTO_ROPE_YARN;
    else if (!strcmp(type, "llama3"))
        r->type = OCTO_ROPE_LLAMA3;
    else if (!strcmp(type, "longrope"))
        r->type = OCTO_ROPE_LONGROPE;
    else
        return fmt_err(OCTO_E_UNSUPPORTED, c->err, c->n, "%s: %s type '%s' is not supported",
                    c->label, key, type);
    TRY(get_f64(&c2, rs, "rope_theta", &r->theta));
    TRY(get_f64(&c2, rs, "partial_rotary_factor", &r->partial_rotary_factor));
    TRY(get_f64(&c2, rs, "factor", &r->factor));
    TRY(get_i64(&c2, rs, "original_max_position_embeddings",
                &r->original_max_position_embeddings));
    json_t *af = json_object_get(rs, "attention_factor");
    if (af && !json_is_null(af)) {
        TRY(get_f64(&c2, rs, "attention_factor", &r->attention_factor));
        r->has_attention_factor = true;
    }
    TRY(get_f64(&c2, rs, "beta_fast", &r->beta_fast));
    TRY(get_f64(&c2, rs, "beta_slow", &r->beta_slow));
    TRY(get_bool(&c2, rs, "mrope_interleaved", &r->mrope_interleaved));
    json_t *ms = json_object_get(rs, "mrope_section");
    if (ms && !json_is_null(ms)) {
        if (!json_is_array(ms) || json_array_size(ms) > 4)
            return bad_type(&c2, "mrope_section", "a list of at most 4 integers");
        for (size_t i = 0; i < json_array_size(ms); i++) {
            int64_t x;
            if (!fmt_json_int(json_array_get(ms, i), &x) || x < 0 || x > 65536)
                return bad_type(&c2, "mrope_section", "a list of small integers");
            r->mrope_section[i] = (int)x;
        }
        r->n_mrope_section = (int)json_array_size(ms);
    }
    bool has_factor = json_is_number(json_object_get(rs, "factor"));
    if (r->type != OCTO_ROPE_DEFAULT && (!has_factor || !(r->factor >= 1.0)))
        return fmt_err(OCTO_E_INVALID, c->err, c->n, "%s: %s type '%s' needs a factor >= 1",
                    c->label, key, type);
    return OCTO_OK;
}

static octo_err parse_text(const ctx *c, json_t *o, octo_formats_text_config *t)
{
    TRY(get_i64(c, o, "vocab_size", &t->vocab_size));
    TRY(get_i64(c, o, "hidden_size", &t->hidden_size));
    TRY(get_i64(c, o, "intermediate_size", &t->intermediate_size));
    TRY(get_i64(c, o, "num_hidden_layers", &t->num_hidden_layers));
    TRY(get_i64(c, o, "num_attention_heads", &t->num_attention_heads));
    TRY(get_i64(c, o, "num_key_value_heads", &t->num_key_value_heads));
    TRY(get_i64(c, o, "head_dim", &t->head_dim));
    TRY(get_i64(c, o, "max_position_embeddings", &t->max_position_embeddings));
    TRY(get_f64(c, o, "rms_norm_eps", &t->rms_norm_eps));
    TRY(get_f64(c, o, "rope_theta", &t->rope.theta));
    TRY(get_f64(c, o, "partial_rotary_factor", &t->rope.partial_rotary_factor));
    TRY(parse_rope_obj(c, o, "rope_scaling", &t->rope));
    TRY(parse_rope_obj(c, o, "rope_parameters", &t->rope));
    TRY(get_bool(c, o, "tie_word_embeddings", &t->tie_word_embeddings));
    TRY(get_bool(c, o, "attention_bias", &t->attention_bias));
    TRY(get_bool(c, o, "use_qk_norm", &t->use_qk_norm));
    char dt[32] = "";
    TRY(get_str(c, o, "torch_dtype", dt, sizeof dt));
    TRY(get_str(c, o, "dtype", dt, sizeof dt));
    if (dt[0]) t->dtype = dtype_from_torch(dt);
    TRY(get_str(c, o, "hidden_act", t->hidden_act, sizeof t->hidden_act));
    TRY(get_id(c, o, "bos_token_id", &t->bos_token_id));
    TRY(get_id(c, o, "pad_token_id", &t->pad_token_id));
    TRY(get_ids(c, o, "eos_token_id", t->eos_token_id, OCTO_FORMATS_MAX_EOS, &t->n_eos));
    TRY(get_bool(c, o, "use_sliding_window", &t->use_sliding_window));
    TRY(get_id(c, o, "sliding_window", &t->sliding_window));
    TRY(get_i64(c, o, "max_window_layers", &t->max_window_layers));
    TRY(get_i64(c, o, "num_local_experts", &t->num_experts));
    TRY(get_i64(c, o, "n_routed_experts", &t->num_experts));
    TRY(get_i64(c, o, "num_experts", &t->num_experts));
    TRY(get_i64(c, o, "num_experts_per_tok", &t->num_experts_per_tok));
    TRY(get_i64(c, o, "moe_intermediate_size", &t->moe_intermediate_size));
    TRY(get_bool(c, o, "norm_topk_prob", &t->norm_topk_prob));
    TRY(get_i64(c, o, "decoder_sparse_step", &t->decoder_sparse_step));
    TRY(get_i64_list(c, o, "mlp_only_layers", &t->mlp_only_layers, &t->n_mlp_only_layers));
    TRY(get_i64(c, o, "n_shared_experts", &t->n_shared_experts));
    TRY(get_i64(c, o, "shared_expert_intermediate_size", &t->shared_expert_intermediate_size));
    TRY(get_i64(c, o, "first_k_dense_replace", &t->first_k_dense_replace));
    TRY(get_f64(c, o, "routed_scaling_factor", &t->routed_scaling_factor));
    TRY(get_i64(c, o, "n_group", &t->n_group));
    TRY(get_i64(c, o, "topk_group", &t->topk_group));
    return OCTO_OK;
}

static octo_err parse_vision(const ctx *c, json_t *o, octo_formats_vision_config *v)
{
    TRY(get_i64(c, o, "depth", &v->depth));
    TRY(get_i64(c, o, "hidden_size", &v->hidden_size));
    TRY(get_i64(c, o, "intermediate_size", &v->intermediate_size));
    TRY(get_i64(c, o, "num_heads", &v->num_heads));
    TRY(get_i64(c, o, "in_chans", &v->in_channels));
    TRY(get_i64(c, o, "in_channels", &v->in_channels));
    TRY(get_i64(c, o, "spatial_patch_size", &v->patch_size));
    TRY(get_i64(c, o, "patch_size", &v->patch_size));
    TRY(get_i64(c, o, "spatial_merge_size", &v->spatial_merge_size));
    TRY(get_i64(c, o, "temporal_patch_size", &v->temporal_patch_size));
    TRY(get_i64(c, o, "out_hidden_size", &v->out_hidden_size));
    TRY(get_i64(c, o, "window_size", &v->window_size));
    TRY(get_i64(c, o, "tokens_per_second", &v->tokens_per_second));
    TRY(get_i64(c, o, "num_position_embeddings", &v->num_position_embeddings));
    TRY(get_i64(c, o, "image_size", &v->image_size));
    TRY(get_f64(c, o, "rms_norm_eps", &v->rms_norm_eps));
    TRY(get_str(c, o, "hidden_act", v->hidden_act, sizeof v->hidden_act));
    TRY(get_i64_list(c, o, "fullatt_block_indexes", &v->fullatt_block_indexes,
                     &v->n_fullatt_block_indexes));
    TRY(get_i64_list(c, o, "deepstack_visual_indexes", &v->deepstack_visual_indexes,
                     &v->n_deepstack_visual_indexes));
    return OCTO_OK;
}

static octo_err parse_quant(const ctx *c, json_t *o, octo_formats_quant_config *q)
{
    json_t *qc = json_object_get(o, "quantization_config");
    if (!qc || json_is_null(qc)) return OCTO_OK;
    if (!json_is_object(qc)) return bad_type(c, "quantization_config", "an object");
    ctx c2 = *c;
    c2.section = "quantization_config.";
    TRY(get_str(&c2, qc, "quant_method", q->method_name, sizeof q->method_name));
    const char *m = q->method_name;
    q->method = !strcmp(m, "awq")    ? OCTO_QUANT_AWQ
                : !strcmp(m, "gptq") ? OCTO_QUANT_GPTQ
                : !strcmp(m, "fp8")  ? OCTO_QUANT_FP8
                                     : OCTO_QUANT_OTHER;
    q->group_size = -1;
    q->bits = q->method == OCTO_QUANT_FP8 ? 8 : q->method == OCTO_QUANT_OTHER ? 0 : 4;
    q->sym = true;
    int64_t bits = q->bits;
    TRY(get_i64(&c2, qc, "bits", &bits));
    TRY(get_i64(&c2, qc, "w_bit", &bits)); /* AutoAWQ's own spelling */
    TRY(get_i64(&c2, qc, "group_size", &q->group_size));
    TRY(get_i64(&c2, qc, "q_group_size", &q->group_size));
    TRY(get_bool(&c2, qc, "zero_point", &q->zero_point));
    TRY(get_bool(&c2, qc, "sym", &q->sym));
    TRY(get_bool(&c2, qc, "desc_act", &q->desc_act));
    TRY(get_str(&c2, qc, "version", q->version, sizeof q->version));
    TRY(get_str(&c2, qc, "fmt", q->fmt, sizeof q->fmt));
    TRY(get_str(&c2, qc, "activation_scheme", q->activation_scheme,
                sizeof q->activation_scheme));
    if (q->method == OCTO_QUANT_GPTQ) q->zero_point = !q->sym;
    json_t *wb = json_object_get(qc, "weight_block_size");
    if (wb && !json_is_null(wb)) {
        if (!json_is_array(wb) || json_array_size(wb) != 2 ||
            !fmt_json_int(json_array_get(wb, 0), &q->weight_block_size[0]) ||
            !fmt_json_int(json_array_get(wb, 1), &q->weight_block_size[1]) ||
            q->weight_block_size[0] <= 0 || q->weight_block_size[1] <= 0)
            return bad_type(&c2, "weight_block_size", "two positive integers");
    }
    TRY(get_str_list(&c2, qc, "modules_to_not_convert", &q->modules_to_not_convert,
                     &q->n_modules_to_not_convert));
    if (q->method == OCTO_QUANT_AWQ || q->method == OCTO_QUANT_GPTQ) {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
            return fmt_err(OCTO_E_INVALID, c->err, c->n,
                        "%s: quantization_config.bits = %lld (want 2, 3, 4 or 8)", c->label,
                        (long long)bits);
        if (q->group_size == 0 || q->group_size < -1)
            return fmt_err(OCTO_E_INVALID, c->err, c->n,
                        "%s: quantization_config.group_size = %lld (want -1 or > 0)", c->label,
                        (long long)q->group_size);
    }
    q->bits = (int)bits;
    return OCTO_OK;
}

/* ==== validation ==== */

static octo_err check_pos(const ctx *c, const char *key, int64_t v)
{
    if (v > 0) return OCTO_OK;
    return fmt_err(OCTO_E_INVALID, c->err, c->n, "%s: \"%s%s\" = %lld, must be positive", c->label,
                c->section, key, (long long)v);
}

static octo_err validate_text(const ctx *c, octo_formats_text_config *t, bool head_dim_given)
{
    TRY(check_pos(c, "vocab_size", t->vocab_size));
    TRY(check_pos(c, "hidden_size", t->hidden_size));
    TRY(check_pos(c, "intermediate_size", t->intermediate_size));
    TRY(check_pos(c, "num_hidden_layers", t->num_hidden_layers));
    TRY(check_pos(c, "num_attention_heads", t->num_attention_heads));
    TRY(check_pos(c, "num_key_value_heads", t->num_key_value_heads));
    TRY(check_pos(c, "max_position_embeddings", t->max_position_embeddings));
    if (t->num_attention_heads % t->num_key_value_heads)
        return fmt_err(OCTO_E_INVALID, c->err, c->n,
                    "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                    c->label, (long long)t->num_attention_heads,
                    (long long)t->num_key_value_heads);
    if (!head_dim_given && t->head_dim == 0) {
        if (t->hidden_size % t->num_attention_heads)
            return fmt_err(OCTO_E_INVALID, c->err, c->n,
                        "%s: no head_dim and hidden_size %lld is not a multiple of "
                        "num_attention_heads %lld",
                        c->label, (long long)t->hidden_size, (long long)t->num_attention_heads);
        t->head_dim = t->hidden_size / t->num_attention_heads;
    }
    TRY(check_pos(c, "head_dim", t->head_dim));
    if (!(t->rms_norm_eps > 0) || !(t->rope.theta > 0) || !isfinite(t->rope.theta))
        return fmt_err(OCTO_E_INVALID, c->err, c->n, "%s: rms_norm_eps and rope_theta must be > 0",
                    c->label);
    if (t->num_experts) {
        TRY(check_pos(c, "num_experts_per_tok", t->num_experts_per_tok));
        TRY(check_pos(c, "moe_intermediate_size", t->moe_intermediate_size));
        if (t->num_experts < 0 || t->num_experts_per_tok > t->num_experts)
            return fmt_err(OCTO_E_INVALID, c->err, c->n,
                        "%s: num_experts_per_tok %lld exceeds num_experts %lld", c->label,
                        (long long)t->num_experts_per_tok, (long long)t->num_experts);
    }
    return OCTO_OK;
}

/* ==== entry points ==== */

static bool is_vision_arch(octo_formats_arch a)
{
    return a == OCTO_ARCH_QWEN2_5_VL || a == OCTO_ARCH_QWEN3_VL || a == OCTO_ARCH_QWEN3_VL_MOE ||
           a == OCTO_ARCH_GLM4V_MOE;
}

static void set_mm_defaults(octo_formats_model_config *m)
{
    m->image_token_id = m->video_token_id = -1;
    m->vision_start_token_id = m->vision_end_token_id = -1;
    m->image_start_token_id = m->image_end_token_id = -1;
    m->video_start_token_id = m->video_end_token_id = -1;
    if (m->arch == OCTO_ARCH_GLM4V_MOE) {
        m->image_token_id = 151363;
        m->video_token_id = 151364;
        m->image_start_token_id = 151339;
        m->image_end_token_id = 151340;
        m->video_start_token_id = 151341;
        m->video_end_token_id = 151342;
    } else if (is_vision_arch(m->arch)) {
        m->image_token_id = 151655;
        m->video_token_id = 151656;
        m->vision_start_token_id = 151652;
        m->vision_end_token_id = 151653;
    }
}

static octo_err parse_mm(const ctx *c, json_t *o, octo_formats_model_config *m)
{
    TRY(get_id(c, o, "image_token_id", &m->image_token_id));
    TRY(get_id(c, o, "video_token_id", &m->video_token_id));
    TRY(get_id(c, o, "vision_start_token_id", &m->vision_start_token_id));
    TRY(get_id(c, o, "vision_end_token_id", &m->vision_end_token_id));
    TRY(get_id(c, o, "image_start_token_id", &m->image_start_token_id));
    TRY(get_id(c, o, "image_end_token_id", &m->image_end_token_id));
    TRY(get_id(c, o, "video_start_token_id", &m->video_start_token_id));
    TRY(get_id(c, o, "video_end_token_id", &m->video_end_token_id));
    return OCTO_OK;
}

static octo_err parse_root(const ctx *c, json_t *root, octo_formats_model_config *m)
{
    json_t *archs = json_object_get(root, "architectures");
    if (archs && !json_is_null(archs)) {
        if (!json_is_array(archs)) return bad_type(c, "architectures", "a list of strings");
        json_t *a0 = json_array_get(archs, 0);
        if (a0 && !json_is_string(a0)) return bad_type(c, "architectures", "a list of strings");
        if (a0 && octo_strlcpy(m->architecture, json_string_value(a0), sizeof m->architecture) >=
                      sizeof m->architecture)
            return fmt_err(OCTO_E_INVALID, c->err, c->n, "%s: architecture name too long",
                           c->label);
    }
    TRY(get_str(c, root, "model_type", m->model_type, sizeof m->model_type));
    m->arch = detect_arch(m->architecture, m->model_type);
    set_text_defaults(m->arch, &m->text);
    TRY(parse_text(c, root, &m->text));
    json_t *tc = json_object_get(root, "text_config");
    bool head_dim_given = json_object_get(root, "head_dim") != NULL;
    if (tc && !json_is_null(tc)) {
        if (!json_is_object(tc)) return bad_type(c, "text_config", "an object");
        ctx ct = *c;
        ct.section = "text_config.";
        TRY(parse_text(&ct, tc, &m->text));
        head_dim_given = head_dim_given || json_object_get(tc, "head_dim");
    }
    m->has_vision = is_vision_arch(m->arch);
    set_vision_defaults(m->arch, &m->vision);
    json_t *vc = json_object_get(root, "vision_config");
    if (vc && !json_is_null(vc)) {
        if (!json_is_object(vc)) return bad_type(c, "vision_config", "an object");
        ctx cv = *c;
        cv.section = "vision_config.";
        TRY(parse_vision(&cv, vc, &m->vision));
        m->has_vision = true;
    }
    if (m->has_vision && vision_default_lists(m->arch, &m->vision))
        return fmt_err(OCTO_E_NOMEM, c->err, c->n, "%s: out of memory", c->label);
    set_mm_defaults(m);
    TRY(parse_mm(c, root, m));
    TRY(parse_quant(c, root, &m->quant));
    if (m->arch != OCTO_ARCH_UNKNOWN) TRY(validate_text(c, &m->text, head_dim_given));
    return OCTO_OK;
}

void octo_formats_model_config_free(octo_formats_model_config *cfg)
{
    if (!cfg) return;
    octo_free(cfg->text.mlp_only_layers);
    octo_free(cfg->vision.fullatt_block_indexes);
    octo_free(cfg->vision.deepstack_visual_indexes);
    for (size_t i = 0; i < cfg->quant.n_modules_to_not_convert; i++)
        octo_free(cfg->quant.modules_to_not_convert[i]);
    octo_free(cfg->quant.modules_to_not_convert);
    octo_free(cfg);
}

static octo_err parse_json(json_t *root, const char *label, octo_formats_model_config **out,
                           char *err, size_t err_size)
{
    octo_formats_model_config *m = octo_calloc(1, sizeof *m);
    if (!m) return fmt_err(OCTO_E_NOMEM, err, err_size, "%s: out of memory", label);
    ctx c = {label, "", err, err_size};
    octo_err rc = parse_root(&c, root, m);
    if (rc) {
        octo_formats_model_config_free(m);
        return rc;
    }
    *out = m;
    return OCTO_OK;
}

octo_err octo_formats_model_config_parse(const char *json, size_t len, const char *label,
                                         octo_formats_model_config **out, char *err,
                                         size_t err_size)
{
    *out = NULL;
    if (!label) label = "config.json";
    json_t *root = NULL;
    octo_err rc = fmt_json_mem(json, len, label, &root, err, err_size);
    if (rc) return rc;
    rc = parse_json(root, label, out, err, err_size);
    json_decref(root);
    return rc;
}

octo_err octo_formats_model_config_load(const char *path, octo_formats_model_config **out,
                                        char *err, size_t err_size)
{
    *out = NULL;
    json_t *root = NULL;
    const char *label;
    octo_err rc = fmt_json_in(path, "config.json", &root, &label, err, err_size);
    if (rc) return rc;
    rc = parse_json(root, label, out, err, err_size);
    json_decref(root);
    return rc;
}
