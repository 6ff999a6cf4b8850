/* SPDX-License-Identifier: Apache-2.0 */
/*
 * formats — readers for the files a model checkpoint is made of:
 * safetensors (single file or sharded with model.safetensors.index.json),
 * GGUF v2/v3, Hugging Face config.json / generation_config.json and the
 * sentence-transformers pooling files. Element types (octo_dtype) and
 * their sizes come from the tensor module's one type table.
 *
 * Weights are memory-mapped read-only and never copied: a tensor view points
 * into the mapping and lives as long as the handle it came from. Every
 * header is validated before anything in it is trusted, and every rejection
 * comes back as an octo_err plus one precise sentence in the caller's `err`
 * buffer ("model.safetensors: tensor 'x': data_offsets [a,b] past end of
 * data (size n)").
 *
 * It deliberately does no arithmetic on weights (no dequantisation, no
 * dtype conversion), knows no model architecture beyond the config fields,
 * and reads no tokenizer (the tokenizer module does).
 */
#ifndef OCTO_FORMATS_H
#define OCTO_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "tensor/tensor.h" /* octo_dtype: the one type table */

/* ==== tensor views ==== */

#define OCTO_FORMATS_MAX_DIMS 8 /* == OCTO_LIMIT_TENSOR_DIMS */

/* A read-only view of one stored tensor. `name` and `data` point into the
 * handle that produced the view and stay valid until it is closed. Shape is
 * row-major (numpy order: shape[ndim-1] varies fastest); ndim 0 is a scalar.
 * nbytes == product(shape) * bits / 8, checked at open. `data` is aligned
 * to min(element size, 8) bytes (see octo_formats_st_open; mappings start
 * on a page); it is NULL when nbytes is 0. */
typedef struct octo_formats_tensor {
    const char *name;
    octo_dtype dtype;
    int ndim;
    int64_t shape[OCTO_FORMATS_MAX_DIMS];
    const void *data;
    size_t nbytes;
    int shard; /* index of the file it lives in (0 for one file) */
} octo_formats_tensor;

/* Number of elements of a view (product of shape; 1 for a scalar). */
int64_t octo_formats_tensor_numel(const octo_formats_tensor *t);

/* ==== safetensors ==== */

typedef struct octo_formats_st octo_formats_st;

/* Opens a safetensors checkpoint, read-only and memory-mapped.
 * `path` is one of:
 *   - a .safetensors file;
 *   - a *.safetensors.index.json file (its "weight_map" names the shards,
 *     relative to the index's folder);
 *   - a folder holding model.safetensors.index.json or model.safetensors
 *     (the index wins when both exist).
 * Validation (each failure names the file and the tensor):
 *   - 8-byte little-endian header length N with 2 <= N <= OCTO_LIMIT_ST_HEADER_BYTES
 *     and 8 + N <= file size; the header is one JSON object (jansson,
 *     duplicate keys rejected);
 *   - "__metadata__", when present and not null, is an object of string
 *     values;
 *   - every other key is a tensor name (<= OCTO_LIMIT_TENSOR_NAME_BYTES, no
 *     duplicate across shards) whose value has exactly "dtype" (a known
 *     dtype: all of octo_dtype except Q4; F6_* are rejected as unsupported),
 *     "shape" (<= 8 non-negative integers) and "data_offsets" [begin, end]
 *     with begin <= end <= data size;
 *   - end - begin == product(shape) * dtype bits / 8 (no overflow; for F4
 *     the element count must be even);
 *   - the data section is covered exactly: tensors sorted by begin are
 *     contiguous from 0 to the end of the file, with no hole or overlap;
 *   - alignment: the data section must start at a multiple of 8 from the
 *     file start (the official writers pad the header with spaces to get
 *     this), and each tensor's begin must be a multiple of its element size
 *     (the writers order tensors by element size to get this), so that
 *     `data` can be used in place;
 *   - sharded: every shard named by the weight_map exists and opens; each
 *     tensor the map names is in that shard and every tensor of a shard is
 *     in the map (both directions).
 * Returns OCTO_OK and *out, OCTO_E_IO / OCTO_E_NOT_FOUND (missing file),
 * OCTO_E_PARSE (malformed JSON or header), OCTO_E_INVALID (inconsistent
 * offsets, shapes, alignment, duplicates), OCTO_E_UNSUPPORTED (unknown
 * dtype, Q4, F6_*), OCTO_E_TOO_LARGE (a named limit), OCTO_E_NOMEM. On
 * failure *out is NULL and `err` (may be NULL) holds one sentence.
 * Close the handle with octo_formats_st_close. A handle does not change
 * once open: its queries may run from any number of threads at once. */
octo_err octo_formats_st_open(const char *path, octo_formats_st **out /* OUT */, char *err,
                              size_t err_size) OCTO_WUR;

/* Parses one safetensors file image from memory, with the same checks as a
 * single-file open. The buffer is borrowed: it must outlive the handle and
 * not change. `label` names it in errors (e.g. the file name; NULL gives
 * "<memory>"). For fuzzing and for files the caller has already read. */
octo_err octo_formats_st_parse(const void *buf, size_t len, const char *label,
                               octo_formats_st **out /* OUT */, char *err,
                               size_t err_size) OCTO_WUR;

/* Unmaps every shard and frees the handle; NULL is a no-op. */
void octo_formats_st_close(octo_formats_st *st);

/* Number of tensors (all shards together). */
size_t octo_formats_st_count(const octo_formats_st *st);

/* The i-th tensor in name order (strcmp), 0 <= i < count. Returns
 * OCTO_E_INVALID when i is out of range. */
octo_err octo_formats_st_at(const octo_formats_st *st, size_t i,
                            octo_formats_tensor *out /* OUT */) OCTO_WUR;

/* Looks a tensor up by exact name (O(log n)). Returns OCTO_E_NOT_FOUND when
 * absent (out untouched). */
octo_err octo_formats_st_find(const octo_formats_st *st, const char *name,
                              octo_formats_tensor *out /* OUT */) OCTO_WUR;

/* Looks `name` up and checks it against what a model loader expects:
 * `dtype` (OCTO_DTYPE_INVALID: any) and, when ndim >= 0, exactly `ndim`
 * dimensions equal to shape[0..ndim). Returns OCTO_E_NOT_FOUND or
 * OCTO_E_INVALID with one sentence in err ("tensor 'w': shape [4,8],
 * expected [4,4]"). */
octo_err octo_formats_st_get(const octo_formats_st *st, const char *name, octo_dtype dtype,
                             int ndim, const int64_t *shape, octo_formats_tensor *out /* OUT */,
                             char *err, size_t err_size) OCTO_WUR;

/* Sum of the tensors' nbytes (the weights' size, for memory planning). */
uint64_t octo_formats_st_total_bytes(const octo_formats_st *st);

/* Number of files (1 for a single file). */
size_t octo_formats_st_shard_count(const octo_formats_st *st);
/* Path (as opened) of the i-th shard; NULL when out of range. */
const char *octo_formats_st_shard_path(const octo_formats_st *st, size_t i);

/* A "__metadata__" string of the first shard that has the key (e.g.
 * "format" -> "pt"); NULL when absent. Owned by the handle. */
const char *octo_formats_st_metadata(const octo_formats_st *st, const char *key);

/* ==== config.json ==== */

/* Architectures octo knows by name (from "architectures"[0], else from
 * "model_type"). */
typedef enum octo_formats_arch {
    OCTO_ARCH_UNKNOWN = 0,
    OCTO_ARCH_QWEN2,          /* Qwen2ForCausalLM */
    OCTO_ARCH_QWEN3,          /* Qwen3ForCausalLM (also embedding, reranker) */
    OCTO_ARCH_QWEN3_MOE,      /* Qwen3MoeForCausalLM */
    OCTO_ARCH_QWEN2_5_VL,     /* Qwen2_5_VLForConditionalGeneration */
    OCTO_ARCH_QWEN3_VL,       /* Qwen3VLForConditionalGeneration */
    OCTO_ARCH_QWEN3_VL_MOE,   /* Qwen3VLMoeForConditionalGeneration */
    OCTO_ARCH_GLM4_MOE,       /* Glm4MoeForCausalLM (GLM-4.5, 4.5-Air) */
    OCTO_ARCH_GLM4V_MOE,      /* Glm4vMoeForConditionalGeneration (GLM-4.5V) */
} octo_formats_arch;

typedef enum octo_formats_rope_type {
    OCTO_ROPE_DEFAULT = 0,
    OCTO_ROPE_LINEAR,
    OCTO_ROPE_DYNAMIC,
    OCTO_ROPE_YARN,
    OCTO_ROPE_LLAMA3,
    OCTO_ROPE_LONGROPE,
} octo_formats_rope_type;

/* Rotary embedding parameters, from "rope_scaling" (transformers 4.x) or
 * "rope_parameters" (5.x), plus the top-level rope_theta. Qwen2.5-VL's
 * {"type": "mrope", "mrope_section": [...]} reads as DEFAULT with
 * n_mrope_section > 0 (as transformers does). */
typedef struct octo_formats_rope {
    octo_formats_rope_type type;
    double theta;                     /* rope_theta */
    double factor;                    /* scaling factor, 1.0 when none */
    int64_t original_max_position_embeddings; /* 0 when absent */
    bool has_attention_factor;
    double attention_factor;          /* yarn mscale override */
    double beta_fast;                 /* yarn, default 32 */
    double beta_slow;                 /* yarn, default 1 */
    double partial_rotary_factor;     /* 1.0 unless given (GLM: 0.5) */
    int n_mrope_section;              /* 0 when absent */
    int mrope_section[4];             /* multimodal rope sections (T, H, W) */
    bool mrope_interleaved;           /* Qwen3-VL */
} octo_formats_rope;

/* Token id lists ("eos_token_id" may be an int or a list). */
#define OCTO_FORMATS_MAX_EOS 8

/* The language-model part of a config (the top level for text models,
 * "text_config" for vision-language ones). Absent fields take the
 * transformers class default of the architecture; -1 marks "unset" for
 * token ids and sliding_window. */
typedef struct octo_formats_text_config {
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t intermediate_size;
    int64_t num_hidden_layers;
    int64_t num_attention_heads;
    int64_t num_key_value_heads;
    int64_t head_dim;             /* absent: 128 for qwen3, qwen3_vl(_moe) and
                                   * GLM (class defaults), else hidden / heads */
    int64_t max_position_embeddings;
    double rms_norm_eps;
    octo_formats_rope rope;
    bool tie_word_embeddings;
    bool attention_bias;
    bool use_qk_norm;             /* GLM-4.5 "use_qk_norm" (Qwen3 always has it) */
    octo_dtype dtype;             /* torch_dtype / dtype; INVALID when absent */
    char hidden_act[32];
    int64_t bos_token_id;         /* -1 when absent or null */
    int64_t pad_token_id;         /* -1 when absent or null */
    int n_eos;
    int64_t eos_token_id[OCTO_FORMATS_MAX_EOS];
    bool use_sliding_window;
    int64_t sliding_window;       /* -1 when null */
    int64_t max_window_layers;
    /* mixture of experts (0 / false for dense models) */
    int64_t num_experts;          /* num_experts | num_local_experts | n_routed_experts */
    int64_t num_experts_per_tok;
    int64_t moe_intermediate_size;
    bool norm_topk_prob;
    int64_t decoder_sparse_step;
    int64_t n_mlp_only_layers;
    int64_t *mlp_only_layers;     /* owned by the config */
    int64_t n_shared_experts;     /* GLM */
    int64_t shared_expert_intermediate_size;
    int64_t first_k_dense_replace;/* GLM: leading dense layers */
    double routed_scaling_factor; /* GLM, 1.0 otherwise */
    int64_t n_group;
    int64_t topk_group;
} octo_formats_text_config;

/* The vision tower of a vision-language model ("vision_config"). */
typedef struct octo_formats_vision_config {
    int64_t depth;
    int64_t hidden_size;
    int64_t intermediate_size;
    int64_t num_heads;
    int64_t in_channels;          /* in_channels | in_chans */
    int64_t patch_size;           /* patch_size | spatial_patch_size */
    int64_t spatial_merge_size;
    int64_t temporal_patch_size;
    int64_t out_hidden_size;
    int64_t window_size;          /* Qwen2.5-VL */
    int64_t tokens_per_second;    /* Qwen2.5-VL */
    int64_t num_position_embeddings; /* Qwen3-VL */
    int64_t image_size;           /* GLM-4.5V */
    double rms_norm_eps;
    char hidden_act[32];
    int64_t n_fullatt_block_indexes;
    int64_t *fullatt_block_indexes;    /* owned */
    int64_t n_deepstack_visual_indexes;
    int64_t *deepstack_visual_indexes; /* owned */
} octo_formats_vision_config;

typedef enum octo_formats_quant_method {
    OCTO_QUANT_NONE = 0,
    OCTO_QUANT_AWQ,
    OCTO_QUANT_GPTQ,
    OCTO_QUANT_FP8,
    OCTO_QUANT_OTHER, /* present but not one of the above: see method_name */
} octo_formats_quant_method;

/* "quantization_config". */
typedef struct octo_formats_quant_config {
    octo_formats_quant_method method;
    char method_name[32];         /* quant_method as written */
    int bits;                     /* awq/gptq; 8 for fp8 */
    int64_t group_size;           /* -1: per channel */
    bool zero_point;              /* awq zero_point; gptq: !sym */
    bool sym;                     /* gptq sym */
    bool desc_act;                /* gptq act-order */
    char version[16];             /* awq "gemm"/"gemv"/... */
    char fmt[16];                 /* fp8 "e4m3" */
    char activation_scheme[16];   /* fp8 "dynamic"/"static" */
    int64_t weight_block_size[2]; /* fp8 block quant, 0 when per tensor */
    size_t n_modules_to_not_convert;
    char **modules_to_not_convert; /* owned */
} octo_formats_quant_config;

/* A parsed config.json. Allocated by _load/_parse, freed by _free. */
typedef struct octo_formats_model_config {
    char architecture[96];        /* architectures[0], "" when absent */
    char model_type[64];
    octo_formats_arch arch;
    octo_formats_text_config text;
    bool has_vision;
    octo_formats_vision_config vision;
    octo_formats_quant_config quant;
    /* multimodal special tokens, -1 when absent */
    int64_t image_token_id;
    int64_t video_token_id;
    int64_t vision_start_token_id;
    int64_t vision_end_token_id;
    int64_t image_start_token_id; /* GLM-4.5V */
    int64_t image_end_token_id;
    int64_t video_start_token_id;
    int64_t video_end_token_id;
} octo_formats_model_config;

/* Reads `path` (a config.json, or a folder holding one) and parses it.
 * Returns OCTO_OK and *out, OCTO_E_NOT_FOUND / OCTO_E_IO, OCTO_E_PARSE
 * (malformed JSON or a field of the wrong JSON type), OCTO_E_INVALID (a
 * value out of range, e.g. heads not dividing hidden size when head_dim is
 * absent, or non-positive sizes), OCTO_E_TOO_LARGE. Unknown architectures
 * parse with their fields and arch == OCTO_ARCH_UNKNOWN. */
/* The folder of a model's files: `path` itself when it is a folder, else
 * the folder holding it (a config.json given for a dummy model), "." for a
 * bare file name. Writes at most dir_size bytes, NUL-terminated. */
void octo_formats_model_dir(const char *path, char *dir, size_t dir_size);
/* Checks that a model path exists before anything is read from it: a
 * missing path is OCTO_E_NOT_FOUND with a message naming the path (and,
 * for an ORG/NAME-looking one such as "Qwen/Qwen3-8B", saying that it is
 * a hub id to fetch with `octo pull`). A folder must hold config.json (or
 * be given as a GGUF file). */
octo_err octo_formats_model_path_check(const char *path, char *err, size_t err_size) OCTO_WUR;

octo_err octo_formats_model_config_load(const char *path,
                                        octo_formats_model_config **out /* OUT */,
                                        char *err, size_t err_size) OCTO_WUR;
/* Same from a JSON text of `len` bytes (need not be NUL-terminated). */
octo_err octo_formats_model_config_parse(const char *json, size_t len, const char *label,
                                         octo_formats_model_config **out /* OUT */,
                                         char *err, size_t err_size) OCTO_WUR;
void octo_formats_model_config_free(octo_formats_model_config *cfg);
/* Static name of an architecture ("Qwen3ForCausalLM", ...). */
const char *octo_formats_arch_name(octo_formats_arch a);

/* ==== generation_config.json ==== */

/* Sampling defaults a checkpoint ships. has_* tells which were present. */
typedef struct octo_formats_gen_config {
    bool has_temperature, has_top_p, has_top_k, has_min_p;
    bool has_repetition_penalty, has_do_sample, has_max_new_tokens;
    double temperature;
    double top_p;
    int64_t top_k;
    double min_p;
    double repetition_penalty;
    bool do_sample;
    int64_t max_new_tokens;
    int64_t bos_token_id; /* -1 when absent */
    int64_t pad_token_id; /* -1 when absent */
    int n_eos;
    int64_t eos_token_id[OCTO_FORMATS_MAX_EOS];
} octo_formats_gen_config;

/* Reads `path` (a generation_config.json or a folder holding one) into
 * caller storage. Returns OCTO_E_NOT_FOUND when the file does not exist
 * (*out is then all unset: has_* false, ids -1), OCTO_E_PARSE, OCTO_E_INVALID
 * (e.g. negative temperature, top_p outside [0,1]). */
octo_err octo_formats_gen_config_load(const char *path, octo_formats_gen_config *out /* OUT */,
                                      char *err, size_t err_size) OCTO_WUR;
octo_err octo_formats_gen_config_parse(const char *json, size_t len, const char *label,
                                       octo_formats_gen_config *out /* OUT */, char *err,
                                       size_t err_size) OCTO_WUR;

/* ==== sentence-transformers pooling (embedding checkpoints) ==== */

typedef enum octo_formats_pooling {
    OCTO_POOLING_NONE = 0,
    OCTO_POOLING_LAST_TOKEN,
    OCTO_POOLING_MEAN,
    OCTO_POOLING_CLS,
    OCTO_POOLING_MAX,
} octo_formats_pooling;

/* modules.json + <pooling>/config.json + config_sentence_transformers.json. */
typedef struct octo_formats_pooling_config {
    octo_formats_pooling mode;
    bool normalize;            /* a sentence_transformers Normalize module */
    bool include_prompt;
    int64_t dimension;         /* word_embedding_dimension, 0 when absent */
    char *query_prompt;        /* prompts.query, NULL when absent; owned */
    char *document_prompt;     /* prompts.document, NULL when absent; owned */
    char similarity[16];       /* "cosine", "dot", ... ("" when absent) */
} octo_formats_pooling_config;

/* Reads the sentence-transformers files of folder `dir`. Returns
 * OCTO_E_NOT_FOUND when there is no modules.json (not an embedding
 * checkpoint); OCTO_E_PARSE / OCTO_E_INVALID for malformed ones (e.g. a
 * Pooling module whose config names no mode). Free with _deinit. */
octo_err octo_formats_pooling_config_load(const char *dir,
                                          octo_formats_pooling_config *out /* OUT */,
                                          char *err, size_t err_size) OCTO_WUR;
void octo_formats_pooling_config_deinit(octo_formats_pooling_config *pc);

/* ==== GGUF ==== */

typedef struct octo_formats_gguf octo_formats_gguf;

/* GGUF metadata value types (the numbers are the file's). */
typedef enum octo_gguf_type {
    OCTO_GGUF_UINT8 = 0,
    OCTO_GGUF_INT8 = 1,
    OCTO_GGUF_UINT16 = 2,
    OCTO_GGUF_INT16 = 3,
    OCTO_GGUF_UINT32 = 4,
    OCTO_GGUF_INT32 = 5,
    OCTO_GGUF_FLOAT32 = 6,
    OCTO_GGUF_BOOL = 7,
    OCTO_GGUF_STRING = 8,
    OCTO_GGUF_ARRAY = 9,
    OCTO_GGUF_UINT64 = 10,
    OCTO_GGUF_INT64 = 11,
    OCTO_GGUF_FLOAT64 = 12,
} octo_gguf_type;

/* One GGUF tensor. `ne` is in GGUF order: ne[0] varies fastest (the
 * reverse of numpy's shape). `ggml_type` is the file's type number;
 * `dtype` is its row of the type table (plain or GGML block type).
 * `data` points into the mapping. */
typedef struct octo_formats_gguf_tensor {
    const char *name;
    uint32_t ggml_type;
    octo_dtype dtype;
    int n_dims;
    int64_t ne[OCTO_FORMATS_MAX_DIMS];
    uint64_t offset; /* from the start of the data section */
    const void *data;
    size_t nbytes;
} octo_formats_gguf_tensor;

/* Opens a GGUF file (versions 2 and 3, little-endian), memory-mapped.
 * Checks: magic "GGUF"; version 2 or 3; tensor and KV counts within
 * OCTO_LIMIT_TENSORS / OCTO_LIMIT_GGUF_KV and the bytes left; every string
 * within OCTO_LIMIT_GGUF_STRING_BYTES and the file; arrays within
 * OCTO_LIMIT_GGUF_ARRAY_ELEMS and OCTO_LIMIT_GGUF_ARRAY_DEPTH; known value
 * and ggml types; no duplicate key or tensor name; general.alignment (a
 * uint32 power of two <= OCTO_LIMIT_GGUF_ALIGNMENT, default 32); tensor
 * dims < 2^63, n_dims <= 8 (0 allowed: a scalar); each tensor offset a
 * multiple of the alignment and its bytes (ne[0] a multiple of the block
 * size) inside the file; tensors not overlapping. Errors as for
 * octo_formats_st_open. Close with octo_formats_gguf_close. Like a
 * safetensors handle, it never changes once open (queries are thread-safe). */
octo_err octo_formats_gguf_open(const char *path, octo_formats_gguf **out /* OUT */,
                                char *err, size_t err_size) OCTO_WUR;
/* Same from a borrowed memory image (must outlive the handle). */
octo_err octo_formats_gguf_parse(const void *buf, size_t len, const char *label,
                                 octo_formats_gguf **out /* OUT */, char *err,
                                 size_t err_size) OCTO_WUR;
void octo_formats_gguf_close(octo_formats_gguf *g);

uint32_t octo_formats_gguf_version(const octo_formats_gguf *g);
size_t octo_formats_gguf_alignment(const octo_formats_gguf *g);
/* Offset of the data section from the start of the file. */
size_t octo_formats_gguf_data_offset(const octo_formats_gguf *g);

/* Metadata, in file order. */
size_t octo_formats_gguf_kv_count(const octo_formats_gguf *g);
/* Key of the i-th pair; NULL when out of range. */
const char *octo_formats_gguf_kv_key(const octo_formats_gguf *g, size_t i);
/* Index of `key`; OCTO_E_NOT_FOUND when absent. */
octo_err octo_formats_gguf_kv_find(const octo_formats_gguf *g, const char *key,
                                   size_t *index /* OUT */) OCTO_WUR;
/* Value type of `key`; OCTO_E_NOT_FOUND when absent. For arrays also the
 * element type and count (either pointer may be NULL). */
octo_err octo_formats_gguf_kv_type(const octo_formats_gguf *g, const char *key,
                                   octo_gguf_type *type /* OUT */,
                                   octo_gguf_type *elem_type /* OUT */,
                                   uint64_t *count /* OUT */) OCTO_WUR;

/* Typed getters. Each returns OCTO_E_NOT_FOUND when the key is absent and
 * OCTO_E_INVALID when the stored type does not convert:
 *   get_int: any integer type, bool as 0/1 (uint64 above INT64_MAX:
 *     OCTO_E_TOO_LARGE);
 *   get_float: float32/float64 or any integer type (not bool);
 *   get_bool: bool;
 *   get_string: string; *s is NUL-terminated, *len (may be NULL) is the
 *     stored length (a string may hold NULs). Owned by the handle. */
octo_err octo_formats_gguf_get_int(const octo_formats_gguf *g, const char *key,
                                   int64_t *out /* OUT */) OCTO_WUR;
octo_err octo_formats_gguf_get_float(const octo_formats_gguf *g, const char *key,
                                     double *out /* OUT */) OCTO_WUR;
octo_err octo_formats_gguf_get_bool(const octo_formats_gguf *g, const char *key,
                                    bool *out /* OUT */) OCTO_WUR;
octo_err octo_formats_gguf_get_string(const octo_formats_gguf *g, const char *key,
                                      const char **s /* OUT */, size_t *len /* OUT */) OCTO_WUR;
/* Arrays: element type and count of array `key` (OCTO_E_INVALID when not
 * an array). Elements: i-th as string / int / float with the scalar
 * conversions above; OCTO_E_INVALID when i >= count or the element type
 * does not convert (arrays of arrays have no element access). */
octo_err octo_formats_gguf_get_array(const octo_formats_gguf *g, const char *key,
                                     octo_gguf_type *elem_type /* OUT */,
                                     uint64_t *count /* OUT */) OCTO_WUR;
octo_err octo_formats_gguf_array_string(const octo_formats_gguf *g, const char *key, uint64_t i,
                                        const char **s /* OUT */,
                                        size_t *len /* OUT */) OCTO_WUR;
octo_err octo_formats_gguf_array_int(const octo_formats_gguf *g, const char *key, uint64_t i,
                                     int64_t *out /* OUT */) OCTO_WUR;
octo_err octo_formats_gguf_array_float(const octo_formats_gguf *g, const char *key, uint64_t i,
                                       double *out /* OUT */) OCTO_WUR;

/* Tensors, in file order. */
size_t octo_formats_gguf_tensor_count(const octo_formats_gguf *g);
octo_err octo_formats_gguf_tensor_at(const octo_formats_gguf *g, size_t i,
                                     octo_formats_gguf_tensor *out /* OUT */) OCTO_WUR;
octo_err octo_formats_gguf_tensor_find(const octo_formats_gguf *g, const char *name,
                                       octo_formats_gguf_tensor *out /* OUT */) OCTO_WUR;

/* The model described by a GGUF's metadata, as config.json would give it:
 * general.architecture ("qwen3", "qwen3moe", "qwen2", "glm4moe" map to
 * their octo_formats_arch; others parse with OCTO_ARCH_UNKNOWN) and the
 * "{arch}.*" keys (block_count, embedding_length, feed_forward_length,
 * context_length, attention.head_count / head_count_kv / key_length /
 * layer_norm_rms_epsilon, rope.freq_base / scaling.*, expert_*),
 * tokenizer.ggml.{bos,eos,eot,padding}_token_id. vocab_size falls back to
 * the token list's length; tie_word_embeddings is true when the file has no
 * output.weight. Returns OCTO_E_INVALID when required sizes are missing or
 * inconsistent, OCTO_E_UNSUPPORTED for an unknown rope scaling type. Free
 * with octo_formats_model_config_free. */
octo_err octo_formats_gguf_model_config(const octo_formats_gguf *g,
                                        octo_formats_model_config **out /* OUT */, char *err,
                                        size_t err_size) OCTO_WUR;
/* Sampling defaults from general.sampling.{temp,top_p,top_k,min_p,
 * penalty_repeat} and the tokenizer's special ids, into caller storage. */
octo_err octo_formats_gguf_gen_config(const octo_formats_gguf *g,
                                      octo_formats_gen_config *out /* OUT */, char *err,
                                      size_t err_size) OCTO_WUR;

/* ggml tensor types: name ("Q4_K", ...; NULL when unknown), block size in
 * elements and bytes per block (both 0 when unknown). */
const char *octo_formats_ggml_type_name(uint32_t ggml_type);
bool octo_formats_ggml_type_info(uint32_t ggml_type, uint32_t *block_elems /* OUT */,
                                 uint32_t *block_bytes /* OUT */);

#endif /* OCTO_FORMATS_H */
