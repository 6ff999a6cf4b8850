/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config — the server's configuration: `octo.yaml` (parsed with libyaml)
 * and vLLM-style command-line flags, both producing one octo_config.
 * Errors name the file, line and key (or the flag).
 *
 * It loads no model and opens no socket: it only describes what to serve.
 */
#ifndef OCTO_CONFIG_H
#define OCTO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

typedef enum octo_task {
    OCTO_TASK_GENERATE = 0, /* chat / completions (vLLM "generate") */
    OCTO_TASK_EMBED,        /* embeddings (vLLM "embed" / "embedding") */
    OCTO_TASK_SCORE,        /* reranking (vLLM "score" / "rerank") */
    OCTO_TASK_TRANSCRIBE,   /* speech recognition ("transcription") */
    OCTO_TASK_PARSE,        /* PDF / image to Markdown */
} octo_task;

/* Returns "generate", "embed", "score", "transcribe" or "parse". */
const char *octo_config_task_name(octo_task t);

typedef enum octo_load_format {
    OCTO_LOAD_AUTO = 0, /* read weights from the model folder */
    OCTO_LOAD_DUMMY,    /* random weights of the config's shapes */
} octo_load_format;

#define OCTO_CONFIG_MAX_DEVICES 16
#define OCTO_CONFIG_MAX_ALIASES 8

typedef struct octo_model_config {
    char *name;               /* served model name (first --served-model-name) */
    char *aliases[OCTO_CONFIG_MAX_ALIASES]; /* further served names */
    size_t n_aliases;
    char *path;               /* model folder, file, or hub-style id */
    octo_task task;
    int devices[OCTO_CONFIG_MAX_DEVICES]; /* GPU ordinals; n_devices 0 = default */
    size_t n_devices;
    double gpu_memory_utilization; /* default 0.9 (vLLM) */
    long max_model_len;       /* 0: from the model's config.json */
    long tensor_parallel_size; /* default 1 */
    bool enable_expert_parallel;
    long max_num_seqs;        /* default 256 */
    long max_num_batched_tokens; /* 0: engine default */
    bool enable_auto_tool_choice;
    char *tool_call_parser;   /* NULL, "hermes", "glm45" */
    char *reasoning_parser;   /* NULL, "qwen3", "glm45", "deepseek_r1" */
    char *chat_template;      /* NULL or a template file path */
    char *api_key;            /* NULL or this model's own key */
    long port;                /* 0: none; else an extra port serving this model */
    char *dtype;              /* "auto", "bfloat16", "float16", "float32" */
    char *quantization;       /* NULL, "awq", "gptq", "fp8" */
    long quantization_group_size; /* awq/gptq group; 0: the checkpoint's (else 128),
                               * -1: per channel (octo plan) */
    octo_load_format load_format;
    bool trust_remote_code;   /* accepted for vLLM compatibility; no effect */
    long seed;                /* default 0 */
    /* a remote model: requests are proxied to an OpenAI-compatible server */
    char *base_url;           /* NULL: local; else "http://host:port/v1" */
    char *remote_model;       /* the upstream's name for it; NULL: `name` */
    char *remote_api_key;     /* Bearer key sent upstream; NULL: none */
    long remote_timeout_s;    /* whole upstream request; 0: server.limits.request_timeout_s */
    long remote_connect_timeout_s; /* default 10 */
    bool demo;                /* marked in /v1/models as a demo model */
    char *note;               /* a line shown with the model in /v1/models; NULL: none */
    int line;                 /* line of the entry in the YAML file (0: CLI) */
} octo_model_config;

typedef struct octo_server_config {
    char *host;               /* default "127.0.0.1" */
    long port;                /* default 8000 */
    char *api_keys[OCTO_LIMIT_API_KEYS]; /* global Bearer keys; none = open */
    size_t n_api_keys;
    long max_body_bytes;      /* default OCTO_LIMIT_HTTP_BODY_BYTES */
    long max_header_bytes;    /* default OCTO_LIMIT_HTTP_HEADER_BYTES */
    long max_connections;     /* default OCTO_LIMIT_HTTP_CONNECTIONS */
    long request_timeout_s;   /* default OCTO_LIMIT_HTTP_TIMEOUT_S: longest generation */
    long max_connections_per_address; /* default OCTO_LIMIT_HTTP_PER_ADDRESS; 0: none */
    long keepalive_timeout_s; /* default OCTO_LIMIT_HTTP_KEEPALIVE_S */
    long header_timeout_s;    /* default OCTO_LIMIT_HTTP_HEADER_S */
    long read_timeout_s;      /* default OCTO_LIMIT_HTTP_READ_S: head + body */
    long retry_after_s;       /* default 1: Retry-After of 503 / 429 */
    long rate_limit_per_minute; /* per API key (or address); 0: none */
    long rate_limit_burst;    /* 0: a second's worth, at least 1 */
    long parse_concurrency;   /* /file_parse parses at once; 0: half the CPU cores */
    long parse_queue;         /* parses waiting beyond those; 503 when full */
    long shutdown_grace_s;    /* in-flight requests may finish; default 30 */
    char *storage_path;       /* default "./octo-data" */
    char *log_level;          /* default "info" */
    bool access_log;          /* default true */
    /* server.knowledge: the knowledge-base (Dify) layer */
    char *kb_embedding_model; /* served name of an embed model, or NULL */
    char *kb_rerank_model;    /* served name of a score model, or NULL */
    char *kb_chat_model;      /* served name of the apps' default generate model, or NULL */
    char *kb_embedding_url;   /* remote OpenAI-compatible base URL for embedding_model */
    char *kb_rerank_url;      /* ... for rerank_model */
    char *kb_chat_url;        /* ... for the chat models */
    char *kb_remote_api_key;  /* Bearer key sent to those URLs, or NULL */
    char *kb_api_keys[OCTO_LIMIT_API_KEYS]; /* dataset keys of the Knowledge API */
    size_t n_kb_api_keys;
    long kb_embed_batch;      /* segments per embedding call; default 32 */
} octo_server_config;

typedef struct octo_config {
    octo_server_config server;
    octo_model_config models[OCTO_LIMIT_CONFIG_MODELS];
    size_t n_models;
    char *source;             /* file the config came from, or NULL */
} octo_config;

/* Fills cfg with the defaults above (no models). Free with
 * octo_config_deinit. */
void octo_config_init(octo_config *cfg);
void octo_config_deinit(octo_config *cfg);
/* Fills a model entry with its defaults (all strings NULL except dtype). */
void octo_config_model_init(octo_model_config *m);

/* Parses an octo.yaml file into cfg (which must come from
 * octo_config_init; values present in the file replace defaults).
 * On failure returns OCTO_E_PARSE / OCTO_E_INVALID / OCTO_E_IO /
 * OCTO_E_TOO_LARGE and writes "FILE:LINE: KEY: what is wrong" into err. */
octo_err octo_config_load_file(octo_config *cfg, const char *path, char *err,
                               size_t err_size) OCTO_WUR;
/* The same from a string; `name` stands for the file in messages. */
octo_err octo_config_load_string(octo_config *cfg, const char *yaml, size_t len,
                                 const char *name, char *err, size_t err_size) OCTO_WUR;

/* Applies `octo serve` command-line arguments (argv[0] is "serve") with
 * vLLM's spelling: [MODEL] --model --host --port --served-model-name
 * --gpu-memory-utilization --max-model-len --tensor-parallel-size
 * --enable-auto-tool-choice --tool-call-parser --reasoning-parser
 * --enable-expert-parallel --task --api-key --trust-remote-code, plus
 * --config FILE (loaded first), --dtype, --max-num-seqs,
 * --max-num-batched-tokens, --load-format, --chat-template, --seed,
 * --quantization, --devices, --log-level. "--flag=value" and
 * "--flag value" both work. Flags given without a MODEL/--model apply to
 * the server (host, port, api-key) or, when exactly one model is
 * configured, to that model. Returns OCTO_E_INVALID with the flag named
 * in err. Also accepted: -tp, -q, underscores for dashes, --no-FLAG for
 * booleans, and a few vLLM tuning flags that are logged and ignored (see
 * docs/CONFIGURATION.md). --help is not handled here. */
octo_err octo_config_apply_args(octo_config *cfg, int argc, char **argv, char *err,
                                size_t err_size) OCTO_WUR;

/* Checks cross-field rules (unique names and ports, parsers known,
 * tensor_parallel_size == number of devices when devices are given ...). */
octo_err octo_config_validate(const octo_config *cfg, char *err, size_t err_size) OCTO_WUR;

/* Finds a model by served name or alias; NULL when unknown. */
const octo_model_config *octo_config_model_find(const octo_config *cfg, const char *name);

#endif /* OCTO_CONFIG_H */
