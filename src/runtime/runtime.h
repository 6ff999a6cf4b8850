/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime — served model instances. One octo_runtime_model is made from
 * one configured model entry (octo_model_config) and owns everything that
 * serving it takes: the backend (the CPU thread pool, or a CUDA device),
 * the weights (octo_model_load), the memory budget (activation workspace
 * and the KV pool from gpu_memory_utilization), the engine with its
 * scheduler (task generate) or pooling batcher (embed, score), the
 * tokenizer, the chat template, the generation config and the task's
 * prompt formats. Every side file of a checkpoint is read once, here; the
 * api, the cli (serve, run, embed, bench) and later rag get the same
 * object and read nothing themselves.
 *
 * The pooling arithmetic that embeddings and reranker scores share across
 * the api and the cli lives here too: the official prompt formats
 * (Qwen3-Embedding's instruction, Qwen3-Reranker's judgement prompt),
 * truncation, L2 normalisation and P("yes").
 *
 * It is not a server and not an engine: it answers no request, keeps no
 * sequence and decides no step; it builds the objects that do.
 */
#ifndef OCTO_RUNTIME_H
#define OCTO_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "config/config.h"
#include "engine/engine.h"
#include "formats/formats.h"
#include "jsonc/jsonc.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"

typedef struct octo_runtime_model octo_runtime_model;

/* What the configuration entry does not say: how the caller uses the
 * instance. A zeroed struct (or NULL) is `octo serve`'s use. */
typedef struct octo_runtime_opts {
    int n_threads;             /* CPU threads; <= 0: one per CPU */
    const char *tokenizer_dir; /* folder of tokenizer.json and tokenizer_config.json
                                * (octo run --tokenizer); NULL: the model's */
    bool engine_only;          /* generate: a bare engine that the caller steps
                                * itself (run, bench), no scheduler thread */
    bool weights_only;         /* generate with engine_only: no text side at all
                                * (no tokenizer, template or generation config;
                                * bench on a bare config.json) */
    double request_timeout_s;  /* scheduler: a request running longer ends; 0: none */
    uint64_t kv_bytes;         /* generate: this KV pool size instead of the budget
                                * (bench on the CPU); 0: the budget */
} octo_runtime_opts;

/* Loads model entry m (which must outlive the instance) for its task:
 * generate, embed or score. In order: the backend (the first of
 * m->devices, none: the CPU), the weights, max_model_len checked against
 * the model's positions (as vLLM), the activation workspace, the KV pool
 * (generate on a GPU: gpu_memory_utilization of the card less the weights,
 * the workspace and a reserve; on the CPU: one max_model_len sequence
 * within [256 MiB, 4 GiB]; embed/score: one forward plus the longest
 * prompt), the engine, then the scheduler or pooling batcher (not with
 * opts->engine_only); the tokenizer (tokenizer.json), for generate
 * tokenizer_config.json, the chat template (see
 * octo_runtime_model_template_origin), generation_config.json (EOS ids and
 * sampling defaults) and, when served, the constraint vocabulary; for embed
 * config_sentence_transformers.json's query prompt; for score the
 * reranker prompt and its "yes"/"no" tokens.
 * Returns OCTO_OK and *out; OCTO_E_UNSUPPORTED for another task or a GPU
 * in a build without CUDA; the loader's errors; OCTO_E_INVALID (e.g.
 * max_model_len past the model's positions, no KV room at that
 * utilization); a message in err (may be NULL). Free with
 * octo_runtime_model_free. */
octo_err octo_runtime_model_new(const octo_model_config *m, const octo_runtime_opts *opts,
                                octo_runtime_model **out /* OUT */, char *err,
                                size_t err_size) OCTO_WUR;
/* Stops the scheduler or batcher thread, then frees the engine, the
 * weights, the backend and the text side. NULL is a no-op. */
void octo_runtime_model_free(octo_runtime_model *rm);

/* ==== what an instance holds (all borrowed, valid until _free) ==== */

const octo_model_config *octo_runtime_model_config(const octo_runtime_model *rm);
octo_task octo_runtime_model_task(const octo_runtime_model *rm);
const octo_model_info *octo_runtime_model_info(const octo_runtime_model *rm);
/* -1: the CPU; else the CUDA ordinal. */
int octo_runtime_model_device(const octo_runtime_model *rm);
/* The longest sequence served: a request's prompt + output (generate),
 * a prompt (embed, score); bounded by the context and by the KV pool. */
int64_t octo_runtime_model_max_len(const octo_runtime_model *rm);
/* Tokens per forward (generate: the engine's step; embed/score: the
 * batcher's) and prompts per forward of the batcher (0 for generate). */
int64_t octo_runtime_model_batch_tokens(const octo_runtime_model *rm);
int64_t octo_runtime_model_batch_seqs(const octo_runtime_model *rm);

/* The engine. While a scheduler or batcher owns it (every instance but an
 * engine_only one), read-only uses only (info, EOS ids, backend). */
octo_engine *octo_runtime_model_engine(const octo_runtime_model *rm);
/* The scheduler of a served generate model; NULL otherwise. */
octo_sched *octo_runtime_model_sched(const octo_runtime_model *rm);
/* The pooling batcher of an embed or score model; NULL otherwise. */
octo_engine_pool *octo_runtime_model_pool(const octo_runtime_model *rm);
/* The backend the weights live on (CPU or CUDA). */
const octo_tensor_backend *octo_runtime_model_backend(const octo_runtime_model *rm);

const octo_text_tokenizer *octo_runtime_model_tokenizer(const octo_runtime_model *rm);
/* The chat template, NULL when the model has none (generate only). */
const octo_text_template *octo_runtime_model_template(const octo_runtime_model *rm);
/* Where the template came from, the discovery order: the path of the
 * entry's chat_template (--chat-template), "tokenizer_config.json" (its
 * chat_template field), the path of chat_template.jinja beside it
 * (transformers 5); NULL when there is none. */
const char *octo_runtime_model_template_origin(const octo_runtime_model *rm);
/* tokenizer_config.json's special tokens for the template (bos, eos ...). */
const octo_text_chat_opts *octo_runtime_model_chat_opts(const octo_runtime_model *rm);
/* generation_config.json's sampling defaults (all has_* false when the
 * checkpoint ships none, or for embed/score). */
const octo_formats_gen_config *octo_runtime_model_gen_config(const octo_runtime_model *rm);
/* Constrained decoding over the vocabulary (guided JSON, tool_choice);
 * served generate models only (not engine_only), else NULL. */
octo_text_jsonc_vocab *octo_runtime_model_jsonc_vocab(const octo_runtime_model *rm);
/* config_sentence_transformers.json's prompts.query (embed), or NULL. */
const char *octo_runtime_model_query_prompt(const octo_runtime_model *rm);

/* ==== pooling arithmetic: embeddings and reranker scores ==== */

/* Keeps the last `keep` tokens of ids[len] when keep > 0 and len is
 * longer (vLLM's truncate_prompt_tokens, from the left); returns the new
 * length. */
int64_t octo_runtime_truncate(int32_t *ids, int64_t len, int64_t keep);

/* The ids of one text to embed: "Instruct: {instruction}\nQuery:{text}"
 * when instruction is set (the official Qwen3-Embedding query format),
 * else prefix + text (a sentence-transformers prompt; may be NULL),
 * through the tokenizer with its post-processor when add_special (which
 * appends <|endoftext|> for Qwen3-Embedding). *ids is owned by the
 * caller. OCTO_E_PARSE for invalid UTF-8 (*bad_at, may be NULL, gets the
 * byte), OCTO_E_TOO_LARGE, OCTO_E_NOMEM. */
octo_err octo_runtime_embed_tokens(const octo_runtime_model *rm, const char *instruction,
                                   const char *prefix, const char *text, size_t len,
                                   bool add_special, int32_t **ids /* OUT */,
                                   size_t *n /* OUT */, size_t *bad_at /* OUT */) OCTO_WUR;
/* L2-normalises the first dims floats of a pooled row in place (in
 * double, with torch F.normalize's eps 1e-12): Matryoshka truncation is
 * the caller keeping those dims. */
void octo_runtime_embed_normalize(float *v, int64_t dims);

/* The default task of a reranker prompt. */
#define OCTO_RUNTIME_SCORE_INSTRUCTION \
    "Given a web search query, retrieve relevant passages that answer the query"

/* The ids of one (query, document) pair of a score model: the judgement
 * system prompt, then "<Instruct>: {instruction}\n<Query>: {query}\n
 * <Document>: {doc}" as the user turn, then an assistant turn with an
 * empty think block (the Qwen3-Reranker model card); the prefix, the pair
 * and the suffix are tokenised apart, so that `trunc` (> 0: tokens in all
 * at most) only ever cuts the pair's end. *ids is owned by the caller.
 * OCTO_E_INVALID on a model that is not a score model, OCTO_E_PARSE for
 * invalid UTF-8, OCTO_E_TOO_LARGE, OCTO_E_NOMEM. */
octo_err octo_runtime_score_tokens(const octo_runtime_model *rm, const char *instruction,
                                   const char *query, size_t query_len, const char *doc,
                                   size_t doc_len, int64_t trunc, int32_t **ids /* OUT */,
                                   int64_t *n /* OUT */) OCTO_WUR;
/* The relevance of one score row (the batcher's logits of "no" and
 * "yes", in that order): P("yes") of the softmax over the two. */
double octo_runtime_score_relevance(const float *no_yes);

#endif /* OCTO_RUNTIME_H */
