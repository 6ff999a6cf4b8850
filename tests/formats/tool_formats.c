/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_formats — prints, as one JSON document on stdout, what the formats
 * module reads from a file, so that the Python tests can compare it with
 * what the reference libraries (safetensors, gguf, json) read:
 *
 *   tool_formats st PATH [--data]     safetensors file / index / folder
 *   tool_formats config PATH          config.json
 *   tool_formats gen PATH             generation_config.json
 *   tool_formats pool DIR             sentence-transformers pooling files
 *   tool_formats gguf PATH [--data]   GGUF file
 *   tool_formats gguf_config PATH     GGUF metadata as a model config
 *   tool_formats gguf_gen PATH        GGUF sampling defaults
 *   tool_formats ggml_types           the ggml type table
 *
 * Failures print {"ok": false, "rc": <octo_err>, "err": "..."} and exit 1.
 * A test tool, not part of the product.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "formats/formats.h"

static json_t *hex(const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = 0;
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *i64s(const int64_t *a, int64_t n)
{
    json_t *j = json_array();
    for (int64_t i = 0; i < n; i++) json_array_append_new(j, json_integer(a[i]));
    return j;
}

static int fail(octo_err rc, const char *err)
{
    json_t *j = json_pack("{s:b, s:i, s:s}", "ok", 0, "rc", (int)rc, "err", err);
    char *s = json_dumps(j, JSON_INDENT(1));
    puts(s);
    free(s);
    json_decref(j);
    return 1;
}

static int emit(json_t *j)
{
    json_object_set_new(j, "ok", json_true());
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    puts(s);
    free(s);
    json_decref(j);
    return 0;
}

static int cmd_st(const char *path, bool data)
{
    char err[1024] = "";
    octo_formats_st *st = NULL;
    octo_err rc = octo_formats_st_open(path, &st, err, sizeof err);
    if (rc) return fail(rc, err);
    json_t *j = json_object(), *ts = json_array(), *sh = json_array();
    for (size_t i = 0; i < octo_formats_st_shard_count(st); i++)
        json_array_append_new(sh, json_string(octo_formats_st_shard_path(st, i)));
    for (size_t i = 0; i < octo_formats_st_count(st); i++) {
        octo_formats_tensor t;
        if (octo_formats_st_at(st, i, &t)) return fail(OCTO_E_INTERNAL, "st_at");
        octo_formats_tensor f;
        bool found = octo_formats_st_find(st, t.name, &f) == OCTO_OK && f.data == t.data;
        size_t el = octo_dtype_size(t.dtype);
        el = el > 8 ? 8 : el ? el : 1;
        json_t *e = json_pack("{s:s, s:s, s:o, s:I, s:i, s:b, s:b}", "name", t.name, "dtype",
                              octo_dtype_name(t.dtype), "shape", i64s(t.shape, t.ndim), "nbytes",
                              (json_int_t)t.nbytes, "shard", t.shard, "found", found, "aligned",
                              !t.data || (uintptr_t)t.data % el == 0);
        if (data) json_object_set_new(e, "data", hex(t.data, t.nbytes));
        json_array_append_new(ts, e);
    }
    const char *fmt = octo_formats_st_metadata(st, "format");
    json_object_set_new(j, "format", fmt ? json_string(fmt) : json_null());
    json_object_set_new(j, "shards", sh);
    json_object_set_new(j, "tensors", ts);
    octo_formats_tensor none;
    json_object_set_new(j, "missing_not_found",
                        json_boolean(octo_formats_st_find(st, "\x01no such tensor", &none) ==
                                     OCTO_E_NOT_FOUND));
    octo_formats_st_close(st);
    return emit(j);
}

static json_t *eos(const int64_t *ids, int n)
{
    return i64s(ids, n);
}

static json_t *rope_json(const octo_formats_rope *r)
{
    static const char *names[] = {"default", "linear", "dynamic", "yarn", "llama3", "longrope"};
    json_t *j = json_pack("{s:s, s:f, s:f, s:I, s:f, s:f, s:f, s:o, s:b}", "type",
                          names[r->type], "theta", r->theta, "factor", r->factor,
                          "original_max_position_embeddings",
                          (json_int_t)r->original_max_position_embeddings, "beta_fast",
                          r->beta_fast, "beta_slow", r->beta_slow, "partial_rotary_factor",
                          r->partial_rotary_factor, "mrope_section",
                          i64s((const int64_t[]){r->mrope_section[0], r->mrope_section[1],
                                                 r->mrope_section[2], r->mrope_section[3]},
                               r->n_mrope_section),
                          "mrope_interleaved", r->mrope_interleaved);
    json_object_set_new(j, "attention_factor",
                        r->has_attention_factor ? json_real(r->attention_factor) : json_null());
    return j;
}

#define I(k, v) json_object_set_new(j, k, json_integer((json_int_t)(v)))
#define F(k, v) json_object_set_new(j, k, json_real(v))
#define B(k, v) json_object_set_new(j, k, json_boolean(v))
#define S(k, v) json_object_set_new(j, k, json_string(v))

static json_t *text_json(const octo_formats_text_config *t)
{
    json_t *j = json_object();
    I("vocab_size", t->vocab_size);
    I("hidden_size", t->hidden_size);
    I("intermediate_size", t->intermediate_size);
    I("num_hidden_layers", t->num_hidden_layers);
    I("num_attention_heads", t->num_attention_heads);
    I("num_key_value_heads", t->num_key_value_heads);
    I("head_dim", t->head_dim);
    I("max_position_embeddings", t->max_position_embeddings);
    F("rms_norm_eps", t->rms_norm_eps);
    json_object_set_new(j, "rope", rope_json(&t->rope));
    B("tie_word_embeddings", t->tie_word_embeddings);
    B("attention_bias", t->attention_bias);
    B("use_qk_norm", t->use_qk_norm);
    S("dtype", octo_dtype_name(t->dtype));
    S("hidden_act", t->hidden_act);
    I("bos_token_id", t->bos_token_id);
    I("pad_token_id", t->pad_token_id);
    json_object_set_new(j, "eos_token_id", eos(t->eos_token_id, t->n_eos));
    B("use_sliding_window", t->use_sliding_window);
    I("sliding_window", t->sliding_window);
    I("max_window_layers", t->max_window_layers);
    I("num_experts", t->num_experts);
    I("num_experts_per_tok", t->num_experts_per_tok);
    I("moe_intermediate_size", t->moe_intermediate_size);
    B("norm_topk_prob", t->norm_topk_prob);
    I("decoder_sparse_step", t->decoder_sparse_step);
    json_object_set_new(j, "mlp_only_layers", i64s(t->mlp_only_layers, t->n_mlp_only_layers));
    I("n_shared_experts", t->n_shared_experts);
    I("shared_expert_intermediate_size", t->shared_expert_intermediate_size);
    I("first_k_dense_replace", t->first_k_dense_replace);
    F("routed_scaling_factor", t->routed_scaling_factor);
    I("n_group", t->n_group);
    I("topk_group", t->topk_group);
    return j;
}

static json_t *vision_json(const octo_formats_vision_config *v)
{
    json_t *j = json_object();
    I("depth", v->depth);
    I("hidden_size", v->hidden_size);
    I("intermediate_size", v->intermediate_size);
    I("num_heads", v->num_heads);
    I("in_channels", v->in_channels);
    I("patch_size", v->patch_size);
    I("spatial_merge_size", v->spatial_merge_size);
    I("temporal_patch_size", v->temporal_patch_size);
    I("out_hidden_size", v->out_hidden_size);
    I("window_size", v->window_size);
    I("tokens_per_second", v->tokens_per_second);
    I("num_position_embeddings", v->num_position_embeddings);
    I("image_size", v->image_size);
    F("rms_norm_eps", v->rms_norm_eps);
    S("hidden_act", v->hidden_act);
    json_object_set_new(j, "fullatt_block_indexes",
                        i64s(v->fullatt_block_indexes, v->n_fullatt_block_indexes));
    json_object_set_new(j, "deepstack_visual_indexes",
                        i64s(v->deepstack_visual_indexes, v->n_deepstack_visual_indexes));
    return j;
}

static json_t *quant_json(const octo_formats_quant_config *q)
{
    static const char *m[] = {"none", "awq", "gptq", "fp8", "other"};
    json_t *j = json_object(), *mods = json_array();
    S("method", m[q->method]);
    S("method_name", q->method_name);
    I("bits", q->bits);
    I("group_size", q->group_size);
    B("zero_point", q->zero_point);
    B("sym", q->sym);
    B("desc_act", q->desc_act);
    S("version", q->version);
    S("fmt", q->fmt);
    S("activation_scheme", q->activation_scheme);
    json_object_set_new(j, "weight_block_size", i64s(q->weight_block_size, 2));
    for (size_t i = 0; i < q->n_modules_to_not_convert; i++)
        json_array_append_new(mods, json_string(q->modules_to_not_convert[i]));
    json_object_set_new(j, "modules_to_not_convert", mods);
    return j;
}

static int emit_config(octo_formats_model_config *c)
{
    json_t *j = json_object();
    S("architecture", c->architecture);
    S("arch_name", octo_formats_arch_name(c->arch));
    S("model_type", c->model_type);
    json_object_set_new(j, "text", text_json(&c->text));
    B("has_vision", c->has_vision);
    json_object_set_new(j, "vision", vision_json(&c->vision));
    json_object_set_new(j, "quant", quant_json(&c->quant));
    I("image_token_id", c->image_token_id);
    I("video_token_id", c->video_token_id);
    I("vision_start_token_id", c->vision_start_token_id);
    I("vision_end_token_id", c->vision_end_token_id);
    I("image_start_token_id", c->image_start_token_id);
    I("image_end_token_id", c->image_end_token_id);
    I("video_start_token_id", c->video_start_token_id);
    I("video_end_token_id", c->video_end_token_id);
    octo_formats_model_config_free(c);
    return emit(j);
}

static int cmd_config(const char *path)
{
    char err[1024] = "";
    octo_formats_model_config *c = NULL;
    octo_err rc = octo_formats_model_config_load(path, &c, err, sizeof err);
    if (rc) return fail(rc, err);
    return emit_config(c);
}

static int emit_gen(const octo_formats_gen_config *gp)
{
    octo_formats_gen_config g = *gp;
    json_t *j = json_object();
    if (g.has_temperature) F("temperature", g.temperature);
    if (g.has_top_p) F("top_p", g.top_p);
    if (g.has_top_k) I("top_k", g.top_k);
    if (g.has_min_p) F("min_p", g.min_p);
    if (g.has_repetition_penalty) F("repetition_penalty", g.repetition_penalty);
    if (g.has_do_sample) B("do_sample", g.do_sample);
    if (g.has_max_new_tokens) I("max_new_tokens", g.max_new_tokens);
    if (g.bos_token_id >= 0) I("bos_token_id", g.bos_token_id);
    if (g.pad_token_id >= 0) I("pad_token_id", g.pad_token_id);
    if (g.n_eos) json_object_set_new(j, "eos_token_id", eos(g.eos_token_id, g.n_eos));
    return emit(j);
}

static int cmd_gen(const char *path)
{
    char err[1024] = "";
    octo_formats_gen_config g;
    octo_err rc = octo_formats_gen_config_load(path, &g, err, sizeof err);
    if (rc) return fail(rc, err);
    return emit_gen(&g);
}

/* GGUF metadata as config.json ("gguf_config") or generation defaults
 * ("gguf_gen"). */
static int cmd_gguf_cfg(const char *path, bool gen)
{
    char err[1024] = "";
    octo_formats_gguf *g = NULL;
    octo_err rc = octo_formats_gguf_open(path, &g, err, sizeof err);
    if (rc) return fail(rc, err);
    if (gen) {
        octo_formats_gen_config gc;
        rc = octo_formats_gguf_gen_config(g, &gc, err, sizeof err);
        octo_formats_gguf_close(g);
        return rc ? fail(rc, err) : emit_gen(&gc);
    }
    octo_formats_model_config *c = NULL;
    rc = octo_formats_gguf_model_config(g, &c, err, sizeof err);
    octo_formats_gguf_close(g);
    return rc ? fail(rc, err) : emit_config(c);
}

static int cmd_pool(const char *dir)
{
    static const char *modes[] = {"none", "lasttoken", "mean", "cls", "max"};
    char err[1024] = "";
    octo_formats_pooling_config p;
    octo_err rc = octo_formats_pooling_config_load(dir, &p, err, sizeof err);
    if (rc) return fail(rc, err);
    json_t *j = json_object();
    S("mode", modes[p.mode]);
    B("normalize", p.normalize);
    B("include_prompt", p.include_prompt);
    I("dimension", p.dimension);
    json_object_set_new(j, "query", p.query_prompt ? json_string(p.query_prompt) : json_null());
    json_object_set_new(j, "document",
                        p.document_prompt ? json_string(p.document_prompt) : json_null());
    S("similarity", p.similarity);
    octo_formats_pooling_config_deinit(&p);
    return emit(j);
}

static json_t *gguf_elem(const octo_formats_gguf *g, const char *key, octo_gguf_type t,
                         uint64_t i)
{
    int64_t v;
    double d;
    const char *s;
    size_t l;
    if (t == OCTO_GGUF_STRING)
        return octo_formats_gguf_array_string(g, key, i, &s, &l) ? NULL : json_stringn(s, l);
    if (t == OCTO_GGUF_FLOAT32 || t == OCTO_GGUF_FLOAT64)
        return octo_formats_gguf_array_float(g, key, i, &d) ? NULL : json_real(d);
    if (t == OCTO_GGUF_BOOL)
        return octo_formats_gguf_array_int(g, key, i, &v) ? NULL : json_boolean(v);
    return octo_formats_gguf_array_int(g, key, i, &v) ? NULL : json_integer(v);
}

static json_t *gguf_value(const octo_formats_gguf *g, const char *key)
{
    octo_gguf_type t, et;
    uint64_t cnt;
    int64_t v;
    double d;
    bool b;
    const char *s;
    size_t l;
    if (octo_formats_gguf_kv_type(g, key, &t, &et, &cnt)) return NULL;
    switch (t) {
    case OCTO_GGUF_STRING:
        return octo_formats_gguf_get_string(g, key, &s, &l) ? NULL : json_stringn(s, l);
    case OCTO_GGUF_FLOAT32:
    case OCTO_GGUF_FLOAT64:
        return octo_formats_gguf_get_float(g, key, &d) ? NULL : json_real(d);
    case OCTO_GGUF_BOOL:
        return octo_formats_gguf_get_bool(g, key, &b) ? NULL : json_boolean(b);
    case OCTO_GGUF_ARRAY: {
        if (et == OCTO_GGUF_ARRAY) return json_null();
        json_t *a = json_array();
        for (uint64_t i = 0; i < cnt; i++) json_array_append_new(a, gguf_elem(g, key, et, i));
        return a;
    }
    default:
        return octo_formats_gguf_get_int(g, key, &v) ? NULL : json_integer(v);
    }
}

static int cmd_gguf(const char *path, bool data)
{
    char err[1024] = "";
    octo_formats_gguf *g = NULL;
    octo_err rc = octo_formats_gguf_open(path, &g, err, sizeof err);
    if (rc) return fail(rc, err);
    json_t *j = json_object(), *kvs = json_array(), *ts = json_array();
    I("version", octo_formats_gguf_version(g));
    I("alignment", octo_formats_gguf_alignment(g));
    I("data_offset", octo_formats_gguf_data_offset(g));
    for (size_t i = 0; i < octo_formats_gguf_kv_count(g); i++) {
        const char *k = octo_formats_gguf_kv_key(g, i);
        octo_gguf_type t, et;
        uint64_t cnt;
        size_t idx = 0;
        if (octo_formats_gguf_kv_type(g, k, &t, &et, &cnt) ||
            octo_formats_gguf_kv_find(g, k, &idx) || idx != i)
            return fail(OCTO_E_INTERNAL, "kv lookup");
        json_t *v = gguf_value(g, k);
        if (!v) return fail(OCTO_E_INTERNAL, k);
        json_array_append_new(kvs, json_pack("{s:s, s:i, s:i, s:I, s:o}", "key", k, "type", t,
                                             "elem_type", et, "count", (json_int_t)cnt, "value",
                                             v));
    }
    for (size_t i = 0; i < octo_formats_gguf_tensor_count(g); i++) {
        octo_formats_gguf_tensor t, f;
        if (octo_formats_gguf_tensor_at(g, i, &t) ||
            octo_formats_gguf_tensor_find(g, t.name, &f) || f.data != t.data)
            return fail(OCTO_E_INTERNAL, "tensor lookup");
        const char *tn = octo_formats_ggml_type_name(t.ggml_type);
        json_t *e = json_pack("{s:s, s:i, s:s, s:s, s:o, s:I, s:I}", "name", t.name, "ggml_type",
                              (int)t.ggml_type, "type_name", tn ? tn : "?", "dtype",
                              octo_dtype_name(t.dtype), "ne", i64s(t.ne, t.n_dims), "offset",
                              (json_int_t)t.offset, "nbytes", (json_int_t)t.nbytes);
        if (data) json_object_set_new(e, "data", hex(t.data, t.nbytes));
        json_array_append_new(ts, e);
    }
    json_object_set_new(j, "kv", kvs);
    json_object_set_new(j, "tensors", ts);
    octo_formats_gguf_close(g);
    return emit(j);
}

static int cmd_ggml_types(void)
{
    json_t *j = json_object(), *a = json_array();
    for (uint32_t t = 0; t < 64; t++) {
        uint32_t blk, bytes;
        if (!octo_formats_ggml_type_info(t, &blk, &bytes)) continue;
        json_array_append_new(a, json_pack("{s:i, s:s, s:i, s:i}", "type", (int)t, "name",
                                           octo_formats_ggml_type_name(t), "blk", (int)blk,
                                           "bytes", (int)bytes));
    }
    json_object_set_new(j, "types", a);
    return emit(j);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tool_formats st|config|gen|pool|gguf PATH | ggml_types\n");
        return 2;
    }
    bool data = argc > 3 && strcmp(argv[3], "--data") == 0;
    if (!strcmp(argv[1], "ggml_types")) return cmd_ggml_types();
    if (argc < 3) return 2;
    if (!strcmp(argv[1], "st")) return cmd_st(argv[2], data);
    if (!strcmp(argv[1], "config")) return cmd_config(argv[2]);
    if (!strcmp(argv[1], "gen")) return cmd_gen(argv[2]);
    if (!strcmp(argv[1], "pool")) return cmd_pool(argv[2]);
    if (!strcmp(argv[1], "gguf")) return cmd_gguf(argv[2], data);
    if (!strcmp(argv[1], "gguf_config")) return cmd_gguf_cfg(argv[2], false);
    if (!strcmp(argv[1], "gguf_gen")) return cmd_gguf_cfg(argv[2], true);
    return 2;
}
