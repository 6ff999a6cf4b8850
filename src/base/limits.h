/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits — every named maximum in one place. Growable buffers take their
 * bound from here; exceeding one is OCTO_E_TOO_LARGE (HTTP 413).
 */
#ifndef OCTO_LIMITS_H
#define OCTO_LIMITS_H

#define OCTO_LIMIT_HTTP_BODY_BYTES (64u * 1024u * 1024u)   /* default request body */
#define OCTO_LIMIT_HTTP_HEADER_BYTES (64u * 1024u)         /* all request headers */
#define OCTO_LIMIT_HTTP_CONNECTIONS 4096u                  /* default concurrent */
#define OCTO_LIMIT_HTTP_PER_ADDRESS 512u                   /* default from one address */
#define OCTO_LIMIT_HTTP_TIMEOUT_S 600u                     /* longest generation */
#define OCTO_LIMIT_HTTP_KEEPALIVE_S 60u                    /* idle between requests */
#define OCTO_LIMIT_HTTP_HEADER_S 10u                       /* request line + headers */
#define OCTO_LIMIT_HTTP_READ_S 120u                        /* whole request, body included */
#define OCTO_LIMIT_HTTP_LINGER_S 2.0                       /* drain after an early answer */
#define OCTO_LIMIT_HTTP_REJECTING 256u                     /* 503 closes lingering at once */
#define OCTO_LIMIT_CONFIG_BYTES (4u * 1024u * 1024u)       /* octo.yaml */
#define OCTO_LIMIT_CONFIG_MODELS 64u                       /* models in one config */
#define OCTO_LIMIT_API_KEYS 64u                            /* keys in one list */
#define OCTO_LIMIT_NAME_BYTES 256u                         /* model names, ids */
#define OCTO_LIMIT_PATH_BYTES 4096u                        /* file paths */
#define OCTO_LIMIT_JSON_FILE_BYTES (64u * 1024u * 1024u)   /* config.json, tokenizer.json */
#define OCTO_LIMIT_PROMPT_TOKENS (1u << 20)                /* one prompt */
#define OCTO_LIMIT_PDF_BYTES (256u * 1024u * 1024u)
#define OCTO_LIMIT_DOC_PAGES 5000u                         /* pages in one document */
#define OCTO_LIMIT_DOC_PAGE_SECONDS 60u                    /* one page, OCR included */
#define OCTO_LIMIT_DOC_PIXELS (80u * 1000u * 1000u)        /* one image or rendered page */
#define OCTO_LIMIT_DOC_OUTPUT_BYTES (256u * 1024u * 1024u) /* Markdown, JSON of one file */
#define OCTO_LIMIT_MULTIPART_PARTS 256u                    /* parts in one form body */
#define OCTO_LIMIT_AUDIO_SECONDS (4u * 3600u)
#define OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES (16u * 1024u * 1024u)
#define OCTO_LIMIT_VOCAB_TOKENS (1u << 22)                 /* tokens in one vocabulary */
#define OCTO_LIMIT_TOKEN_BYTES 4096u                       /* one token's string */
#define OCTO_LIMIT_GENERATED_TEXT_BYTES (64u * 1024u * 1024u)  /* one generated output */

/* Model file formats (formats module). Bounds on what a header may declare
 * before anything is allocated; real checkpoints stay far below them. */
#define OCTO_LIMIT_ST_HEADER_BYTES (100u * 1024u * 1024u) /* safetensors JSON header */
#define OCTO_LIMIT_ST_SHARDS 4096u                         /* files of one checkpoint */
#define OCTO_LIMIT_TENSORS (1u << 21)                      /* tensors of one checkpoint */
#define OCTO_LIMIT_TENSOR_NAME_BYTES 1024u                 /* one tensor name */
#define OCTO_LIMIT_TENSOR_DIMS 8u                          /* dimensions of one tensor */
#define OCTO_LIMIT_GGUF_KV 65536u                          /* metadata pairs in a GGUF */
#define OCTO_LIMIT_GGUF_STRING_BYTES (64u * 1024u * 1024u) /* one GGUF string */
#define OCTO_LIMIT_GGUF_ARRAY_ELEMS (1u << 26)             /* one GGUF array */
#define OCTO_LIMIT_GGUF_ARRAY_DEPTH 4u                     /* arrays of arrays */
#define OCTO_LIMIT_GGUF_ALIGNMENT 65536u                   /* general.alignment */
#define OCTO_LIMIT_CONFIG_LIST 65536u                      /* lists in config.json */
#define OCTO_LIMIT_TEMPLATE_MEMORY_BYTES (256u * 1024u * 1024u) /* one render's values */
#define OCTO_LIMIT_TEMPLATE_ITERATIONS 1000000u                 /* loop turns per render */

/* Device memory budget: the engine sizes a model's GPU memory with these and
 * the planner (src/plan) predicts with the same numbers, so that `octo plan`
 * and `octo serve` agree. */
#define OCTO_MEM_DEVICE_RESERVE_BYTES (512ull << 20) /* graphs, cuBLASLt, split-K scratch */
#define OCTO_MEM_DEVICE_DECODE_ROWS 256   /* logit rows reserved up front on a GPU */
#define OCTO_MEM_BATCH_TOKENS 8192        /* default tokens per step (max_num_batched_tokens) */
#define OCTO_MEM_GPU_UTIL 0.9             /* default gpu_memory_utilization */
#define OCTO_MEM_KV_BLOCK_TOKENS 16       /* tokens per KV block */
#define OCTO_MEM_MAX_MODEL_LEN 32768      /* default cap of max_model_len */
#define OCTO_MEM_MAX_NUM_SEQS 256         /* default max_num_seqs */
#define OCTO_MEM_POOL_DEVICE_BATCH_TOKENS 16384 /* embedding/rerank tokens per step, GPU */
#define OCTO_MEM_POOL_CPU_BATCH_TOKENS 2048     /* the same on the CPU */

#endif /* OCTO_LIMITS_H */
