/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag — knowledge bases behind Dify's Knowledge API: a store (SQLite: one
 * file under the storage path, WAL, foreign keys, versioned migrations,
 * FTS5 over octo's own CJK + English tokenisation), a durable ingestion
 * queue run by one worker thread (file -> text -> clean -> split -> embed
 * -> index), and retrieval (semantic, full-text, keyword, hybrid, rerank,
 * metadata filters).
 *
 * The Dify request and record shapes (dataset, document, segment, metadata
 * objects; process_rule and retrieval_model bodies) are read and written
 * here because their rules are the knowledge layer's rules; api/ routes,
 * authenticates and frames the HTTP answers.
 *
 * It reaches models only through octo_rag_models (embedding, rerank,
 * token counting), never the engine; it owns no socket.
 *
 * Thread safety: every function may be called from any thread; the store
 * serialises its database access with one mutex, and long work (parsing,
 * embedding) runs outside it.
 */
#ifndef OCTO_RAG_H
#define OCTO_RAG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct octo_rag octo_rag;

/* The model client: what rag may ask of models. Every callback may be
 * NULL (that model is not configured). Callbacks run on the ingestion
 * worker and on request threads at the same time. */
typedef struct octo_rag_models {
    void *ctx;
    const char *embed_name;  /* the embedding model's name, or NULL */
    int64_t embed_dim;       /* floats per vector (0 without a model) */
    /* n texts -> out[n, embed_dim], L2-normalised. is_query selects the
     * model's query prompt. OCTO_E_* with a message in err on failure. */
    octo_err (*embed)(void *ctx, const char *const *texts, const size_t *lens, size_t n,
                      bool is_query, float *out /* OUT */, char *err, size_t err_size);
    const char *rerank_name;
    /* scores[n] in [0, 1] for (query, docs[i]). */
    octo_err (*rerank)(void *ctx, const char *query, const char *const *docs, size_t n,
                       double *scores /* OUT */, char *err, size_t err_size);
    /* Tokens of a text in the embedding model's vocabulary (splitting);
     * NULL: octo's estimate (one per CJK character, one per 4 other bytes). */
    size_t (*count_tokens)(void *ctx, const char *text, size_t len);
    /* Answers OpenAI-shaped messages with the chat model `model` (NULL:
     * the default one), calling delta(dctx, text, len) as text comes;
     * delta returning false cancels (OCTO_E_CANCELLED). Token counts into
     * usage[0] (prompt) and usage[1] (completion). OCTO_E_NOT_FOUND when
     * there is no such model. */
    octo_err (*chat)(void *ctx, const char *model, const json_t *messages, double temperature,
                     long max_tokens, bool (*delta)(void *dctx, const char *text, size_t len),
                     void *dctx, int64_t usage[2], char *err, size_t err_size);
} octo_rag_models;

typedef struct octo_rag_opts {
    const char *dir;               /* storage folder (created when missing) */
    const octo_rag_models *models; /* copied; may be NULL: no models */
    size_t embed_batch;            /* texts per embed call; 0: 32 */
    bool start_worker;             /* false: no ingestion thread (unit tests) */
} octo_rag_opts;

/* Opens (creating or migrating) dir/kb.sqlite3 and starts the ingestion
 * worker, which resumes every document left unfinished. OCTO_E_IO /
 * OCTO_E_PARSE (a database from a newer octo) with a message in err. */
octo_err octo_rag_open(const octo_rag_opts *o, octo_rag **out /* OUT */, char *err,
                       size_t err_size) OCTO_WUR;
/* Stops the worker (the document in progress is resumed on next open)
 * and closes the store. NULL is a no-op. */
void octo_rag_free(octo_rag *r);
/* Runs the ingestion queue in the calling thread until it is empty (for
 * tests and the CLI without a worker). */
void octo_rag_drain(octo_rag *r);

/* The outcome of a call, in Dify's error vocabulary. */
typedef struct octo_rag_status {
    int http;                /* 200 on success */
    char code[48];           /* Dify's "code", e.g. "invalid_param", "not_found" */
    char message[400];
} octo_rag_status;

/* Every call below takes the owner (a stable id of the caller's dataset
 * key: datasets of other owners do not exist for it), returns a new JSON
 * value in Dify's response shape, or NULL with *st filled. */

/* ==== datasets ==== */
json_t *octo_rag_dataset_create(octo_rag *r, const char *owner, const json_t *body,
                                octo_rag_status *st);
json_t *octo_rag_dataset_list(octo_rag *r, const char *owner, long page, long limit,
                              const char *keyword, octo_rag_status *st);
json_t *octo_rag_dataset_get(octo_rag *r, const char *owner, const char *id,
                             octo_rag_status *st);
json_t *octo_rag_dataset_update(octo_rag *r, const char *owner, const char *id,
                                const json_t *body, octo_rag_status *st);
/* Deletes the dataset, its documents, segments and files; returns json_null. */
json_t *octo_rag_dataset_delete(octo_rag *r, const char *owner, const char *id,
                                octo_rag_status *st);

/* ==== documents ==== */
/* create-by-text: body {name, text, indexing_technique, process_rule, ...}. */
json_t *octo_rag_document_create_text(octo_rag *r, const char *owner, const char *dataset,
                                      const json_t *body, octo_rag_status *st);
/* create-by-file: the form's `data` JSON (may be NULL) and the file. */
json_t *octo_rag_document_create_file(octo_rag *r, const char *owner, const char *dataset,
                                      const json_t *data, const char *filename,
                                      const void *bytes, size_t len, octo_rag_status *st);
json_t *octo_rag_indexing_status(octo_rag *r, const char *owner, const char *dataset,
                                 const char *batch, octo_rag_status *st);
json_t *octo_rag_document_list(octo_rag *r, const char *owner, const char *dataset,
                               long page, long limit, const char *keyword,
                               octo_rag_status *st);
json_t *octo_rag_document_get(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, octo_rag_status *st);
json_t *octo_rag_document_delete(octo_rag *r, const char *owner, const char *dataset,
                                 const char *doc, octo_rag_status *st);
/* update-by-text (body {name, text, process_rule}; filename NULL) and
 * update-by-file (the form's data, the file): the document is indexed again
 * from its new content (or, with only a new process_rule, its stored file).
 * Refused while it is being indexed. -> {document, batch}. */
/* PATCH documents/status/{enable|disable} {document_ids}: a disabled
 * document leaves retrieval. */
json_t *octo_rag_documents_status(octo_rag *r, const char *owner, const char *dataset,
                                  const char *action, const json_t *body, octo_rag_status *st);
json_t *octo_rag_document_update(octo_rag *r, const char *owner, const char *dataset,
                                 const char *doc, const json_t *body, const char *filename,
                                 const void *bytes, size_t len, octo_rag_status *st);

/* ==== segments ==== */
json_t *octo_rag_segment_list(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, const char *keyword, const char *status,
                              long page, long limit, octo_rag_status *st);
/* body {segments: [{content, answer, keywords}]}: added, embedded and
 * indexed before the call returns. */
json_t *octo_rag_segment_add(octo_rag *r, const char *owner, const char *dataset,
                             const char *doc, const json_t *body, octo_rag_status *st);
json_t *octo_rag_segment_update(octo_rag *r, const char *owner, const char *dataset,
                                const char *doc, const char *seg, const json_t *body,
                                octo_rag_status *st);
json_t *octo_rag_segment_delete(octo_rag *r, const char *owner, const char *dataset,
                                const char *doc, const char *seg, octo_rag_status *st);

/* ==== child chunks (hierarchical_model documents) ==== */
json_t *octo_rag_child_list(octo_rag *r, const char *owner, const char *dataset,
                            const char *doc, const char *seg, const char *keyword, long page,
                            long limit, octo_rag_status *st);
json_t *octo_rag_child_add(octo_rag *r, const char *owner, const char *dataset,
                           const char *doc, const char *seg, const json_t *body,
                           octo_rag_status *st);
json_t *octo_rag_child_update(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, const char *seg, const char *child,
                              const json_t *body, octo_rag_status *st);
json_t *octo_rag_child_delete(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, const char *seg, const char *child,
                              octo_rag_status *st);

/* ==== metadata ==== */
json_t *octo_rag_metadata_create(octo_rag *r, const char *owner, const char *dataset,
                                 const json_t *body, octo_rag_status *st);
json_t *octo_rag_metadata_list(octo_rag *r, const char *owner, const char *dataset,
                               octo_rag_status *st);
json_t *octo_rag_metadata_update(octo_rag *r, const char *owner, const char *dataset,
                                 const char *field, const json_t *body, octo_rag_status *st);
json_t *octo_rag_metadata_delete(octo_rag *r, const char *owner, const char *dataset,
                                 const char *field, octo_rag_status *st);
/* body {operation_data: [{document_id, metadata_list: [{id, name, value}]}]}. */
json_t *octo_rag_document_metadata_set(octo_rag *r, const char *owner, const char *dataset,
                                       const json_t *body, octo_rag_status *st);

/* ==== retrieval ==== */
/* body {query, retrieval_model: {search_method, top_k, score_threshold_enabled,
 * score_threshold, reranking_enable, weights, metadata_filtering_conditions}}
 * -> {query: {content}, records: [{segment, score, ...}]}. */
json_t *octo_rag_retrieve(octo_rag *r, const char *owner, const char *dataset,
                          const json_t *body, octo_rag_status *st);

/* ==== remote models (rag_remote.c) ==== */

/* Models on remote OpenAI-compatible servers: a kind with a URL (the base,
 * e.g. "http://host:10004/v1") is asked there under its model name; a kind
 * without one uses the local client. */
typedef struct octo_rag_remote_opts {
    const char *embed_url, *embed_model;
    const char *rerank_url, *rerank_model;
    const char *chat_url, *chat_model;   /* chat_model: the default name */
    const char *api_key;                 /* Bearer key for all of them, or NULL */
} octo_rag_remote_opts;

typedef struct octo_rag_remote octo_rag_remote;

/* Makes *m: the remote kinds over `local` (copied). With an embedding URL
 * it asks the server once for the vector size (OCTO_E_IO / OCTO_E_PARSE
 * with a message when it cannot). *out outlives every use of *m. */
octo_err octo_rag_remote_new(const octo_rag_remote_opts *o, const octo_rag_models *local,
                             octo_rag_remote **out /* OUT */, octo_rag_models *m /* OUT */,
                             char *err, size_t err_size) OCTO_WUR;
void octo_rag_remote_free(octo_rag_remote *rm);

/* ==== apps and the chat service API ==== */

/* octo's own: body {name, model, system_prompt, opening_statement,
 * dataset_ids, retrieval_model, temperature, max_tokens} -> the app with
 * its key ("app-..."), which the chat service API takes. */
json_t *octo_rag_app_create(octo_rag *r, const char *owner, const json_t *body,
                            octo_rag_status *st);
json_t *octo_rag_app_list(octo_rag *r, const char *owner, octo_rag_status *st);
json_t *octo_rag_app_delete(octo_rag *r, const char *owner, const char *id,
                            octo_rag_status *st);
/* The app id of an app key, or false. */
bool octo_rag_app_of_key(octo_rag *r, const char *key, char id[40]);
/* Dify's /parameters and /info of an app. */
json_t *octo_rag_app_parameters(octo_rag *r, const char *app, octo_rag_status *st);
json_t *octo_rag_app_info(octo_rag *r, const char *app, octo_rag_status *st);

/* Identifiers of a chat turn, fixed before the first token. */
typedef struct octo_rag_turn {
    char message_id[40], conversation_id[40];
    int64_t created_at;
} octo_rag_turn;

/* Called once with the turn's ids before generation, then per text piece;
 * false cancels. */
typedef bool (*octo_rag_turn_fn)(void *ctx, const octo_rag_turn *t, const char *text,
                                 size_t len);

/* POST /chat-messages for app `app`: body {query, inputs, user,
 * conversation_id}. Retrieves from the app's datasets, asks the chat
 * model, stores the exchange. Returns {message_id, conversation_id,
 * answer, metadata: {usage, retriever_resources}, created_at}. */
json_t *octo_rag_chat(octo_rag *r, const char *app, const json_t *body, octo_rag_turn_fn fn,
                      void *ctx, octo_rag_status *st);
/* GET /conversations (user, last_id, limit), DELETE, rename. */
json_t *octo_rag_conversations(octo_rag *r, const char *app, const char *user,
                               const char *last_id, long limit, octo_rag_status *st);
json_t *octo_rag_conversation_delete(octo_rag *r, const char *app, const char *user,
                                     const char *id, octo_rag_status *st);
json_t *octo_rag_conversation_rename(octo_rag *r, const char *app, const char *id,
                                     const json_t *body, octo_rag_status *st);
/* GET /messages (conversation_id, user, first_id, limit), oldest first. */
json_t *octo_rag_messages(octo_rag *r, const char *app, const char *user, const char *conv,
                          const char *first_id, long limit, octo_rag_status *st);

/* Stable owner id of a key (hex, 16 characters + NUL). */
void octo_rag_owner_of_key(const char *key, char out[17]);

#endif /* OCTO_RAG_H */
