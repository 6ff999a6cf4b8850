/* SPDX-License-Identifier: Apache-2.0 */
/* api_int — state shared by the api sources. */
#ifndef OCTO_API_INT_H
#define OCTO_API_INT_H

#include <pthread.h>

#include "api.h"
#include "engine/engine.h"
#include "jsonc/jsonc.h"
#include "rag/rag.h"
#include "runtime/runtime.h"
#include "template/template.h"
#include "tokenizer/tokenizer.h"
#include "toolcall/toolcall.h"

/* One generate model as the endpoints see it (api_llm.c): the model
 * instance (runtime/) and the API's own per-model settings (parsers). The
 * pointers below are borrowed from the instance, kept for the handlers. */
typedef struct octo_api_llm {
    const octo_model_config *cfg;
    octo_runtime_model *rt;         /* owned */
    const octo_text_tokenizer *tok;
    const octo_text_template *tpl;  /* NULL: no chat template */
    octo_text_chat_opts chat_opts;  /* copies of the instance's */
    octo_formats_gen_config gen;    /* sampling defaults (has_* false when absent) */
    octo_sched *sched;
    int64_t max_model_len;
    int64_t vocab_size;
    octo_text_tool_format tool_fmt;
    octo_text_reasoning_format reasoning_fmt;
    octo_text_jsonc_vocab *jvocab;  /* constrained decoding over this vocabulary */
} octo_api_llm;

/* ==== generation requests (api_params.c, api_gen.c) ==== */

#define OCTO_API_MAX_STOP 16
#define OCTO_API_TOOLS_FREE 0     /* none / auto: the parser decides */
#define OCTO_API_TOOLS_REQUIRED 1 /* output forced to a JSON list of calls */
#define OCTO_API_TOOLS_NAMED 2    /* output forced to one function's arguments */
#define OCTO_API_MAX_N 64

typedef struct octo_api_gen_params {
    octo_sampling_params sp;
    octo_logit_bias *bias;          /* owned; sp.logit_bias points here */
    int n;                          /* choices per prompt */
    int64_t max_tokens;             /* -1: up to the context */
    bool stream, include_usage, echo, skip_special_tokens, include_stop_str_in_output;
    bool continuous_usage;          /* stream_options.continuous_usage_stats */
    bool return_token_ids;          /* vLLM: prompt_token_ids and token_ids in the answer */
    int logprobs;                   /* -1: none; else top alternatives (0..20) */
    char *stop[OCTO_API_MAX_STOP];  /* owned */
    int n_stop;
    size_t max_stop_len;
} octo_api_gen_params;

/* Reads the parameters of a chat (chat = true) or completions request;
 * answers 400 naming the parameter and returns false on a bad one. */
bool octo_api_gen_params_read(octo_http_req *req, const json_t *body, const octo_api_llm *llm,
                              bool chat, octo_api_gen_params *p /* OUT */);
void octo_api_gen_params_deinit(octo_api_gen_params *p);

typedef struct octo_api_prompt {
    int32_t *ids;                   /* owned */
    size_t n_ids;
    char *text;                     /* owned; the prompt as text (echo), may be NULL */
} octo_api_prompt;

typedef struct octo_api_choice {
    int index;
    const octo_api_prompt *prompt;
    octo_sched_req *req;            /* NULL once finished */
    octo_text_detok *detok;
    octo_buf text;                  /* generated text, cut at a stop string */
    size_t checked;                 /* text bytes already searched for stop strings */
    size_t sent;                    /* text bytes already streamed */
    int32_t *ids;                   /* generated (printed) token ids */
    size_t n_ids;
    json_t *lp, *lp_pending;        /* logprob entries: all, and not yet streamed */
    octo_text_output_stream *ps;    /* chat streaming parser */
    octo_text_required_stream *rs;  /* streamed tool_choice "required" calls */
    octo_text_jsonc_matcher *jm;    /* guided decoding state, or NULL */
    octo_finish finish;
    bool stop_string, done, final_sent, echoed;
    bool tool_open;                 /* streamed named call: its first delta is out */
    int64_t prompt_tokens, cached_tokens, completion_tokens;
} octo_api_choice;

typedef struct octo_api_gen octo_api_gen;
/* A streamed chunk for choice c: `len` new bytes of text and the logprob
 * entries `lp` (stolen, may be NULL); `final` set for the closing chunk. */
typedef json_t *(*octo_api_chunk_fn)(octo_api_gen *g, octo_api_choice *c, const char *text,
                                     size_t len, json_t *lp, const octo_api_choice *final);
typedef json_t *(*octo_api_first_fn)(octo_api_gen *g, octo_api_choice *c);

struct octo_api_gen {
    octo_api_llm *llm;
    octo_http_req *req;
    bool chat;
    char id[48];
    int64_t created;
    char *model;                    /* the name the request used */
    octo_api_gen_params p;
    octo_api_prompt *prompts;
    size_t n_prompts;
    octo_api_choice *ch;
    size_t n_choices;
    json_t *body;                   /* the request, kept for tools */
    octo_text_parse_opts popts;
    octo_text_jsonc *jc;            /* guided decoding (tool_choice, response_format) */
    int tool_mode;                  /* OCTO_API_TOOLS_* */
    char *named_tool;               /* tool_choice's function name (NAMED) */
    octo_api_chunk_fn make_chunk;
    octo_api_first_fn make_first;
    octo_buf out;                   /* SSE bytes not yet handed to the server */
    size_t out_pos;
    int phase;
    bool failed;
};

octo_api_gen *octo_api_gen_new(octo_api_llm *llm, octo_http_req *req, bool chat,
                               const char *model_name);
void octo_api_gen_free(octo_api_gen *g);
bool octo_api_gen_submit(octo_api_gen *g);
/* Waits for every choice to finish; false when the client went away. */
bool octo_api_gen_run_all(octo_api_gen *g);
/* Answers with an SSE stream; the stream owns g from here on. */
void octo_api_gen_stream(octo_api_gen *g);
const char *octo_api_finish_reason(const octo_api_choice *c, bool tools_called);
/* A JSON list of token ids (new reference). */
json_t *octo_api_ids_json(const int32_t *ids, size_t n);
json_t *octo_api_usage(const octo_api_gen *g);
json_t *octo_api_logprob_entry(const octo_api_llm *llm, int32_t token, float logprob,
                               const octo_sample_result *r, int top);

/* Reads structured_outputs / guided_* into g->jc; answers 400 naming what
 * is not supported and returns false. */
bool octo_api_structured_read(octo_http_req *req, const json_t *body, octo_api_gen *g);

/* Answers 503 and returns false when the model's runtime is missing. */
bool octo_api_llm_ready(octo_http_req *req, const octo_api_llm *llm, const octo_model_config *m);
/* Tokenizes one text prompt into a new one-element prompt list; answers
 * 400 (invalid UTF-8, empty) and returns false on failure. */
bool octo_api_prompt_from_text(octo_http_req *req, const octo_api_llm *llm, const char *text,
                               size_t len, bool add_special, octo_api_prompt **out /* OUT */,
                               size_t *n /* OUT */);

void octo_api_chat(octo_http_req *req, void *ctx);
void octo_api_completions(octo_http_req *req, void *ctx);
void octo_api_tokenize(octo_http_req *req, void *ctx);
void octo_api_detokenize(octo_http_req *req, void *ctx);

/* request_timeout_s: a generation running longer ends (finish "abort"); 0 none. */
octo_err octo_api_llm_load(const octo_model_config *m, double request_timeout_s,
                           octo_api_llm **out /* OUT */, char *err,
                           size_t n) OCTO_WUR;
void octo_api_llm_free(octo_api_llm *l);
/* The runtime of a configured model, or NULL when it has none. */
octo_api_llm *octo_api_llm_of(octo_api *api, const octo_model_config *m);


/* ==== pooling models: embeddings and reranker scores (api_pooler.c) ==== */

/* One `embed` or `score` model as the endpoints see it: the model
 * instance (runtime/: tokenizer, prompt formats, the pooling batcher that
 * owns the engine thread) and borrowed shortcuts. Read-only after load. */
typedef struct octo_api_pooler {
    const octo_model_config *cfg;
    octo_runtime_model *rt;         /* owned */
    const octo_text_tokenizer *tok;
    octo_engine_pool *pool;
    int64_t max_len;                /* longest prompt, in tokens */
    int64_t hidden_size, vocab_size;
    const char *query_prompt;       /* config_sentence_transformers.json prompts.query, or NULL */
} octo_api_pooler;

/* Prompts of one request, tokenised and fitted (owned arrays). */
/* A batch runs in slices of about this many tokens; the client is checked
 * between slices. */
#define OCTO_API_POOL_SLICE_TOKENS 16384

typedef struct octo_api_pool_inputs {
    int32_t **ids;
    int64_t *lens;
    size_t n, cap;
    int64_t total_tokens;
} octo_api_pool_inputs;

octo_err octo_api_pooler_load(const octo_model_config *m, octo_api_pooler **out /* OUT */,
                              char *err, size_t n) OCTO_WUR;
void octo_api_pooler_free(octo_api_pooler *p);
/* The pooler of a configured model; answers 503 and returns NULL when it
 * has none. */
octo_api_pooler *octo_api_pooler_ready(octo_api *api, octo_http_req *req,
                                       const octo_model_config *m);
/* Reads truncate_prompt_tokens (absent/null: 0, no truncation; -1: the
 * model's limit; else 1..limit); answers 400 and returns false otherwise. */
bool octo_api_pool_trunc_read(octo_http_req *req, const json_t *body,
                              const octo_api_pooler *p, int64_t *trunc /* OUT */);
/* Appends one prompt (ids stolen): keeps its last `trunc` tokens when
 * trunc > 0, then answers 400 with the counts and returns false when it is
 * still longer than the model's limit (ids freed either way on failure). */
bool octo_api_pool_inputs_add(octo_http_req *req, const octo_api_pooler *p,
                              octo_api_pool_inputs *in, int32_t *ids, int64_t len,
                              int64_t trunc, const char *what);
void octo_api_pool_inputs_deinit(octo_api_pool_inputs *in);
/* Runs the prompts; out[n, out_dim] (owned by the caller) on success.
 * Answers the request (400/413/429/503/500) and returns NULL on failure. */
float *octo_api_pool_run(octo_http_req *req, octo_api_pooler *p,
                         const octo_api_pool_inputs *in);

void octo_api_embeddings(octo_http_req *req, void *ctx);   /* api_embed.c */
void octo_api_rerank(octo_http_req *req, void *ctx);       /* api_rerank.c */
void octo_api_score(octo_http_req *req, void *ctx);        /* api_rerank.c */

/* ==== knowledge bases: Dify's Knowledge API (api_kb.c, api_kb_models.c) ==== */

#define RAG_INPUT_MAX (64u * 1024u * 1024u) /* one text handed to a model */

/* The pooling models the knowledge layer uses (NULL: not configured). */
typedef struct octo_api_kb_models {
    octo_api_pooler *embed, *rerank;
    octo_api *api;                  /* generate models by name, for chat */
    const char *default_chat;       /* server.knowledge.chat_model, or NULL */
} octo_api_kb_models;

/* Fills rag's model client with callbacks over km (which must outlive it). */
void octo_api_kb_models_fill(octo_api_kb_models *km, octo_rag_models *m /* OUT */);
/* Opens the knowledge store when server.knowledge.api_keys is set
 * (start-up, after the models are loaded). */
octo_err octo_api_kb_open(octo_api *api, char *err, size_t err_size) OCTO_WUR;
/* Registers /v1/datasets and below, /v1/apps and the chat service API. */
octo_err octo_api_kb_mount(octo_api *api, octo_http_server *s) OCTO_WUR;
/* The chat service API (api_kb_chat.c): app-key routes. */
octo_err octo_api_kb_chat_mount(octo_api *api, octo_http_server *s) OCTO_WUR;
/* Dify's error object {"code", "message", "status"}. */
void octo_api_dify_error(octo_http_req *req, int status, const char *code, const char *msg);
/* Answers a rag result: j (200 / ok_status), json null (204), or st's error. */
void octo_api_kb_answer(octo_http_req *req, json_t *j, const octo_rag_status *st,
                        int ok_status);
/* True when tok is one of server.knowledge.api_keys (constant time). */
bool octo_api_kb_key_ok(const octo_api *api, const char *tok);
/* At most `max` parses run at once and `queue` wait; the rest get 503. */
typedef struct octo_api_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned running, waiting, max, queue;
} octo_api_gate;

/* ==== many models (api_fleet.c) and remote ones (api_proxy.c) ==== */

/* The gate of every model endpoint, after the model is resolved: a remote
 * model is proxied, a model that failed to load answers 503 with its
 * error; false when the request was answered. */
bool octo_api_model_usable(octo_api *api, octo_http_req *req, const octo_model_config *m,
                           const json_t *body);
/* The "octo" member of a model card: state, error, demo, note, remote. */
json_t *octo_api_model_extras(const octo_api *api, const octo_model_config *m);
/* GET /health. */
void octo_api_health(octo_http_req *req, void *ctx);
/* Proxies the request (body: its parsed JSON) to m's base_url and answers it. */
void octo_api_proxy(octo_api *api, octo_http_req *req, const octo_model_config *m,
                    const json_t *body);
/* libcurl's process-wide set-up, from octo_api_new / octo_api_free. */
void octo_api_proxy_global_init(void);
void octo_api_proxy_global_deinit(void);

struct octo_api {
    octo_rag *rag;    /* NULL: the Knowledge API is off */
    octo_rag_remote *kb_remote; /* remote models of the knowledge layer, or NULL */
    octo_api_kb_models kbm;
    const octo_config *cfg;
    char *load_err[OCTO_LIMIT_CONFIG_MODELS]; /* why model i failed to load; NULL: it did not */
    double load_s[OCTO_LIMIT_CONFIG_MODELS];  /* load time of model i */
    octo_api_gate parse_gate; /* /file_parse */
    int64_t created;  /* server start, unix seconds: "created" of models */
    double t_start;   /* monotonic start, for uptime */
    octo_api_llm *llm[OCTO_LIMIT_CONFIG_MODELS]; /* by model index; NULL: none */
    octo_api_pooler *pooler[OCTO_LIMIT_CONFIG_MODELS]; /* embed/score models; NULL: none */
};

/* True when the request's key may use model m and m is served on the
 * listener the request came in on. */
bool octo_api_model_visible(const octo_api *api, const octo_http_req *req,
                            const octo_model_config *m);
/* Finds a model by name visible to the request; answers 404 (unknown) and
 * returns NULL otherwise. */
const octo_model_config *octo_api_model_lookup(octo_api *api, octo_http_req *req,
                                               const char *name);

/* Reads an optional boolean member `key` of obj into *out (def when absent
 * or null). Only JSON true/false are booleans: anything else (0, "false")
 * answers 400 naming `param` and returns false. */
bool octo_api_json_bool(octo_http_req *req, const json_t *obj, const char *key,
                        const char *param, bool def, bool *out /* OUT */);

/* Parses the body and resolves the model for an endpoint of `task`;
 * answers the request (400/401/404) and returns NULL on failure. On success
 * *body is the parsed JSON (caller owns it). */
const octo_model_config *octo_api_request_begin(octo_api *api, octo_http_req *req,
                                                octo_task task, const char *what,
                                                json_t **body /* OUT */);

void octo_api_models_list(octo_http_req *req, void *ctx);
void octo_api_models_get(octo_http_req *req, void *ctx);
void octo_api_metrics(octo_http_req *req, void *ctx);
/* POST /file_parse (mineru-api compatible), api_file_parse.c. */
void octo_api_file_parse(octo_http_req *req, void *ctx);

#endif /* OCTO_API_INT_H */
