/* SPDX-License-Identifier: Apache-2.0 */
/* rag_int — what the rag sources share: the handle, the store helpers,
 * text processing (tokens, cleaning, splitting) and the vector cache. */
#ifndef OCTO_RAG_INT_H
#define OCTO_RAG_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "rag.h"

#define RAG_SCHEMA_VERSION 3
#define RAG_MAX_SEGMENT_TOKENS 4000   /* custom max_tokens upper bound (Dify) */
#define RAG_MIN_SEGMENT_TOKENS 50
#define RAG_MAX_TOP_K 100
#define RAG_MAX_QUERY_BYTES 65536
#define RAG_MAX_TEXT_BYTES (64u * 1024u * 1024u) /* one document's text */
#define RAG_MAX_SEGMENTS 200000                  /* one document's segments */

/* The vectors of one dataset, loaded on first search and kept in step
 * with the store (appended on index, dropped on delete). */
typedef struct rag_vecs {
    char dataset[40];
    int64_t *rid;          /* segment rowids; -rowid for child chunks */
    float *v;              /* [n, dim] */
    int32_t *doc;          /* [n] index into docs: the vector's document */
    size_t n, cap;
    char (*docs)[40];      /* document ids seen */
    size_t n_docs, cap_docs;
    struct rag_vecs *next;
} rag_vecs;

struct octo_rag {
    sqlite3 *db;
    pthread_mutex_t mu;    /* guards db and vecs */
    char *dir, *files_dir;
    octo_rag_models m;
    size_t embed_batch;
    rag_vecs *vecs;
    pthread_t worker;
    bool has_worker, stop;
    pthread_mutex_t wmu;   /* guards stop and wakes */
    pthread_cond_t wake;
    size_t n_cancel;       /* documents deleted while the worker may hold them */
};

/* ==== store (rag_store.c) ==== */

void rag_lock(octo_rag *r);
void rag_unlock(octo_rag *r);
/* Fills st; returns NULL (for `return rag_fail(...)` in json_t functions). */
json_t *rag_fail(octo_rag_status *st, int http, const char *code, const char *fmt, ...)
    OCTO_PRINTF(4, 5);
void rag_ok(octo_rag_status *st);
/* A new random UUID v4 string (37 bytes). */
void rag_uuid(char out[37]);
double rag_now(void);
/* Runs SQL without results; logs and returns false on failure. Locked. */
bool rag_exec(octo_rag *r, const char *sql);
sqlite3_stmt *rag_prep(octo_rag *r, const char *sql);
/* Binds text (NULL binds NULL). */
void rag_bind_text(sqlite3_stmt *s, int i, const char *t);
const char *rag_col_text(sqlite3_stmt *s, int i); /* "" for NULL */
/* One page of a filtered listing (locked). count_sql and rows_sql take the
 * same n_text text parameters ?1..?n (NULL binds NULL); rows_sql then takes
 * LIMIT ?n+1 OFFSET ?n+2. row() appends each row's JSON to out. Returns the
 * number of rows before paging (0 when a statement cannot be prepared). */
typedef void (*rag_row_fn)(void *ctx, sqlite3_stmt *s, json_t *out);
long rag_page(octo_rag *r, const char *count_sql, const char *rows_sql,
              const char *const *text, int n_text, long page, long limit, rag_row_fn row,
              void *ctx, json_t *out);
/* JSON of a text column holding JSON (NULL/invalid: json_null). */
json_t *rag_col_json(sqlite3_stmt *s, int i);
/* Writes bytes to path atomically (tmp file, fsync, rename, fsync dir). */
octo_err rag_write_file(const char *dir, const char *name, const void *data, size_t len);
void rag_wake_worker(octo_rag *r);
/* The dataset row exists and belongs to owner (locked). */
bool rag_dataset_owned(octo_rag *r, const char *owner, const char *id);
/* Forgets the cached vectors of a dataset (locked). */
void rag_vecs_drop(octo_rag *r, const char *dataset);
/* Appends one vector of document doc to the dataset's cache if it is
 * loaded (locked). */
void rag_vecs_add(octo_rag *r, const char *dataset, int64_t rid, const float *v,
                  const char *doc);
/* The dataset's vectors, loading them on first use (locked). */
rag_vecs *rag_vecs_get(octo_rag *r, const char *dataset);

/* ==== text (rag_text.c) ==== */

/* Appends the index tokens of text to b, space separated: lower-cased
 * letter/digit runs, and for CJK characters each character and each
 * bigram of adjacent ones. */
octo_err rag_tokens(const char *text, size_t len, octo_buf *b) OCTO_WUR;
/* An FTS5 MATCH expression OR-ing the query's tokens ("" when none). */
octo_err rag_fts_query(const char *q, size_t len, octo_buf *b) OCTO_WUR;
/* Up to max keywords of text (most frequent tokens, stop words left out)
 * as a JSON array of strings. */
json_t *rag_keywords(const char *text, size_t len, size_t max);

typedef struct rag_rules {
    bool remove_extra_spaces, remove_urls_emails;
    char separator[64];
    long max_tokens, overlap;
    /* hierarchical (parent/child): parents as above (or the whole text when
     * full_doc), children split from each parent by the sub rules */
    bool hierarchical, full_doc;
    char sub_separator[64];
    long sub_max_tokens, sub_overlap;
} rag_rules;

/* Reads a Dify process_rule ({mode, rules}) into rules; NULL or
 * "automatic": the defaults; "hierarchical": parent_mode and
 * subchunk_segmentation too. False with st filled on a bad rule. */
bool rag_rules_read(const json_t *process_rule, rag_rules *rules /* OUT */,
                    octo_rag_status *st);
/* Dify's cleaning: control characters and <| |> always, then the rules.
 * Returns a new string (octo_free) or NULL on allocation failure. */
char *rag_clean(const char *text, size_t len, const rag_rules *rules, size_t *out_len);

typedef struct rag_chunks {
    char **text;
    size_t n, cap;
} rag_chunks;
/* Splits text into chunks of at most rules->max_tokens tokens with about
 * rules->overlap tokens of overlap (fixed separator first, then the
 * recursive separators "\n\n", "\n", "。", ". ", " ", ""). */
octo_err rag_split(const octo_rag_models *m, const char *text, size_t len,
                   const rag_rules *rules, rag_chunks *out /* OUT */) OCTO_WUR;
/* The whole text (trimmed) as one chunk; none when it is blank. */
octo_err rag_split_whole(const char *text, size_t len, rag_chunks *out) OCTO_WUR;
void rag_chunks_free(rag_chunks *c);
size_t rag_count_tokens(const octo_rag_models *m, const char *text, size_t len);
/* Characters (code points) of a UTF-8 text: Dify's word_count. */
size_t rag_word_count(const char *text, size_t len);

/* ==== file to text (rag_extract.c) ==== */

/* The text of a file by its extension (pdf, txt, md, markdown, html, htm,
 * csv). OCTO_E_UNSUPPORTED for other types; a reason in err on failure. */
octo_err rag_extract(const char *name, const void *data, size_t len, char **text /* OUT */,
                     size_t *text_len /* OUT */, char *err, size_t err_size) OCTO_WUR;
/* True when rag_extract reads files of this name. */
bool rag_extract_supported(const char *name);

/* ==== ingestion (rag_ingest.c) ==== */

octo_err rag_worker_start(octo_rag *r) OCTO_WUR;
void rag_worker_stop(octo_rag *r);
/* Processes one waiting document; false when none waits. */
bool rag_ingest_one(octo_rag *r);
/* Embeds and indexes the given (already inserted) segments of a
 * dataset: vectors, FTS rows, keywords, status completed. */
octo_err rag_index_segments(octo_rag *r, const char *dataset, const int64_t *rids,
                            char **texts, size_t n, char *err, size_t err_size) OCTO_WUR;

/* ==== retrieval and metadata (rag_search.c, rag_seg.c) ==== */

/* Checks a Dify retrieval_model object (search_method, top_k, weights,
 * reranking, score threshold, metadata filters); false with st filled. */
bool rag_retrieval_check(const octo_rag *r, const json_t *rm, octo_rag_status *st);
/* The child chunks of a segment, by position (locked). */
json_t *rag_children_of(octo_rag *r, const char *seg);
/* [{id, name, type, value}] of a document (locked). */
json_t *rag_doc_metadata(octo_rag *r, const char *doc);

/* ==== records (rag_kb.c) ==== */

json_t *rag_document_json(sqlite3_stmt *s);   /* a row of RAG_DOC_COLS */
json_t *rag_segment_json(sqlite3_stmt *s);    /* a row of RAG_SEG_COLS */
#define RAG_DOC_COLS                                                                  \
    "d.id, d.position, d.data_source_type, d.name, d.created_at, d.tokens, "            \
    "d.indexing_status, d.error, d.enabled, d.word_count, d.doc_form, d.file_name, "    \
    "d.batch, d.completed_at, d.dataset_id"
#define RAG_SEG_COLS                                                                  \
    "s.id, s.position, s.document_id, s.content, s.answer, s.word_count, s.tokens, "    \
    "s.keywords, s.enabled, s.status, s.hit_count, s.created_at, s.completed_at, s.error"

#endif /* OCTO_RAG_INT_H */
