/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_ingest — the durable ingestion queue. The queue is the documents
 * table itself: a document whose indexing_status is not completed, error
 * or paused is work to do, oldest first. One worker thread takes it
 * through Dify's states: parsing (file to text), cleaning, splitting,
 * indexing (embedding in batches, FTS rows and keywords), completed.
 *
 * Crash safety without a journal of its own: splitting deletes whatever
 * segments an earlier, interrupted run left and inserts the new ones in one
 * transaction; each embedded batch is committed with its progress count;
 * retrieval only sees documents whose status is completed. So a kill at
 * any moment leaves a document that the next start processes again from
 * its stored file, and ends with each segment exactly once. A document
 * that was being processed at three kills in a row ends as error (it may
 * be what kills the server), so it never blocks the queue.
 */
#include "rag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ATTEMPTS 3

/* ==== the worker thread ==== */

static void *worker_main(void *arg)
{
    octo_rag *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->wmu);
        bool stop = r->stop;
        pthread_mutex_unlock(&r->wmu);
        if (stop) break;
        if (rag_ingest_one(r)) continue;
        pthread_mutex_lock(&r->wmu);
        if (!r->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 2;
            pthread_cond_timedwait(&r->wake, &r->wmu, &ts);
        }
        pthread_mutex_unlock(&r->wmu);
    }
    return NULL;
}

octo_err rag_worker_start(octo_rag *r)
{
    if (pthread_create(&r->worker, NULL, worker_main, r) != 0) return OCTO_E_INTERNAL;
    r->has_worker = true;
    return OCTO_OK;
}

void rag_worker_stop(octo_rag *r)
{
    if (!r->has_worker) return;
    pthread_mutex_lock(&r->wmu);
    r->stop = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->wmu);
    pthread_join(r->worker, NULL);
    r->has_worker = false;
}

void rag_wake_worker(octo_rag *r)
{
    pthread_mutex_lock(&r->wmu);
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->wmu);
}

static bool stopping(octo_rag *r)
{
    pthread_mutex_lock(&r->wmu);
    bool s = r->stop;
    pthread_mutex_unlock(&r->wmu);
    return s;
}

/* ==== state changes ==== */

/* Sets the status (and its timestamp column, may be NULL); false when the
 * document is gone (deleted meanwhile). */
static bool set_state(octo_rag *r, const char *doc, const char *status, const char *ts_col)
{
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE documents SET indexing_status = ?1%s%s%s WHERE id = ?2",
             ts_col ? ", " : "", ts_col ? ts_col : "", ts_col ? " = ?3" : "");
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, sql);
    bool ok = false;
    if (s) {
        rag_bind_text(s, 1, status);
        rag_bind_text(s, 2, doc);
        if (ts_col) sqlite3_bind_double(s, 3, rag_now());
        ok = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(r->db) > 0;
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    return ok;
}

static void set_error(octo_rag *r, const char *doc, const char *why)
{
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "UPDATE documents SET indexing_status = 'error', error = ?, "
                                  "stopped_at = ? WHERE id = ?");
    if (s) {
        rag_bind_text(s, 1, why);
        sqlite3_bind_double(s, 2, rag_now());
        rag_bind_text(s, 3, doc);
        if (sqlite3_step(s) != SQLITE_DONE) OCTO_LOG_ERROR("%s", sqlite3_errmsg(r->db));
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    OCTO_LOG_WARN("document %s: error: %s", doc, why);
}

/* ==== indexing ==== */

static octo_err put_index_rows(octo_rag *r, const char *dataset, int64_t rid, const char *text,
                               const float *vec, const char *doc)
{
    octo_buf tok;
    octo_buf_init(&tok, RAG_MAX_TEXT_BYTES);
    octo_err rc = rag_tokens(text, strlen(text), &tok);
    json_t *kw = rag_keywords(text, strlen(text), 10);
    char *kws = kw ? json_dumps(kw, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    sqlite3_stmt *s = NULL;
    if (rc || !kws) {
        rc = rc ? rc : OCTO_E_NOMEM;
        goto out;
    }
    rc = OCTO_E_IO;
    s = rag_prep(r, "UPDATE segments SET embedding = ?, status = 'completed', completed_at = ?,"
                    " keywords = coalesce(keywords, ?) WHERE rid = ?");
    if (!s) goto out;
    if (vec) sqlite3_bind_blob(s, 1, vec, (int)((size_t)r->m.embed_dim * sizeof *vec),
                               SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, 1);
    sqlite3_bind_double(s, 2, rag_now());
    rag_bind_text(s, 3, kws);
    sqlite3_bind_int64(s, 4, rid);
    if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(r->db) == 0) goto out;
    sqlite3_finalize(s);
    s = rag_prep(r, "INSERT OR REPLACE INTO segments_fts(rowid, tokens) VALUES (?, ?)");
    if (!s) goto out;
    sqlite3_bind_int64(s, 1, rid);
    sqlite3_bind_text(s, 2, tok.data ? tok.data : "", (int)tok.len, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE) goto out;
    sqlite3_finalize(s);
    s = rag_prep(r, "DELETE FROM keywords WHERE segment_rid = ?");
    if (!s) goto out;
    sqlite3_bind_int64(s, 1, rid);
    if (sqlite3_step(s) != SQLITE_DONE) goto out;
    sqlite3_finalize(s);
    s = rag_prep(r, "INSERT INTO keywords(keyword, dataset_id, segment_rid) SELECT value, ?, ? "
                    "FROM json_each((SELECT keywords FROM segments WHERE rid = ?))");
    if (!s) goto out;
    rag_bind_text(s, 1, dataset);
    sqlite3_bind_int64(s, 2, rid);
    sqlite3_bind_int64(s, 3, rid);
    if (sqlite3_step(s) != SQLITE_DONE) goto out;
    if (doc) {
        sqlite3_finalize(s);
        s = rag_prep(r, "UPDATE documents SET completed_segments = completed_segments + 1 "
                        "WHERE id = ?");
        if (!s) goto out;
        rag_bind_text(s, 1, doc);
        if (sqlite3_step(s) != SQLITE_DONE) goto out;
    }
    rc = OCTO_OK;
out:
    sqlite3_finalize(s);
    free(kws);
    json_decref(kw);
    octo_buf_deinit(&tok);
    return rc;
}

/* Embeds (when the dataset uses vectors) and indexes one batch in one
 * transaction. doc: count progress there (NULL: segments added by hand). */
static octo_err index_batch(octo_rag *r, const char *dataset, const char *doc, bool embed,
                            const int64_t *rids, char **texts, size_t n, char *err,
                            size_t err_size)
{
    float *vec = NULL;
    octo_err rc = OCTO_OK;
    if (embed) {
        if (!r->m.embed) {
            snprintf(err, err_size, "the dataset uses vectors (high_quality) but no embedding "
                     "model is configured (knowledge.embedding_model)");
            return OCTO_E_UNSUPPORTED;
        }
        size_t *lens = octo_malloc(n * sizeof *lens);
        vec = octo_malloc(n * (size_t)r->m.embed_dim * sizeof *vec);
        if (!lens || !vec) {
            octo_free(lens);
            octo_free(vec);
            return OCTO_E_NOMEM;
        }
        for (size_t i = 0; i < n; i++) lens[i] = strlen(texts[i]);
        rc = r->m.embed(r->m.ctx, (const char *const *)texts, lens, n, false, vec, err,
                        err_size);
        octo_free(lens);
        if (rc) {
            if (!err[0]) snprintf(err, err_size, "embedding failed: %s", octo_err_str(rc));
            octo_free(vec);
            return rc;
        }
    }
    rag_lock(r);
    if (!rag_exec(r, "BEGIN IMMEDIATE")) rc = OCTO_E_IO;
    for (size_t i = 0; i < n && !rc; i++)
        rc = put_index_rows(r, dataset, rids[i], texts[i],
                            vec ? vec + i * (size_t)r->m.embed_dim : NULL, doc);
    if (!rc && !rag_exec(r, "COMMIT")) rc = OCTO_E_IO;
    if (rc) {
        rag_exec(r, "ROLLBACK");
        snprintf(err, err_size, "indexing failed: %s", sqlite3_errmsg(r->db));
    } else if (vec && doc) {
        for (size_t i = 0; i < n; i++)
            rag_vecs_add(r, dataset, rids[i], vec + i * (size_t)r->m.embed_dim, doc);
    } else if (vec) {
        rag_vecs_drop(r, dataset); /* segments added by hand: reloaded on the next query */
    }
    rag_unlock(r);
    octo_free(vec);
    return rc;
}

octo_err rag_index_segments(octo_rag *r, const char *dataset, const int64_t *rids,
                            char **texts, size_t n, char *err, size_t err_size)
{
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "SELECT indexing_technique FROM datasets WHERE id = ?");
    bool embed = false;
    if (s) {
        rag_bind_text(s, 1, dataset);
        if (sqlite3_step(s) == SQLITE_ROW)
            embed = strcmp(rag_col_text(s, 0), "high_quality") == 0;
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    for (size_t i = 0; i < n; i += r->embed_batch) {
        size_t k = n - i < r->embed_batch ? n - i : r->embed_batch;
        octo_err rc = index_batch(r, dataset, NULL, embed, rids + i, texts + i, k, err,
                                  err_size);
        if (rc) return rc;
    }
    return OCTO_OK;
}

/* ==== parent/child documents ==== */

typedef struct job {
    char id[40], dataset[40];
    char *file_name, *process_rule;
    bool embed, hierarchical;
    long attempts;
} job;


/* Splits a parent into its children, embeds them, and in one transaction
 * stores them with their vectors and FTS rows (rowid = -child rid), marks
 * the parent completed (keywords of its text) and counts the progress. */
static octo_err index_parent(octo_rag *r, const job *j, const rag_rules *rules,
                             int64_t parent, const char *text, char *err, size_t err_size)
{
    rag_rules sub = *rules;
    octo_strlcpy(sub.separator, rules->sub_separator, sizeof sub.separator);
    sub.max_tokens = rules->sub_max_tokens;
    sub.overlap = rules->sub_overlap;
    rag_chunks ch;
    octo_err rc = rag_split(&r->m, text, strlen(text), &sub, &ch);
    if (rc) return rc;
    size_t dim = (size_t)r->m.embed_dim, n = ch.n;
    float *vec = NULL;
    int64_t *rids = octo_calloc(n ? n : 1, sizeof *rids);
    if (!rids) rc = OCTO_E_NOMEM;
    if (!rc && j->embed && n) {
        if (!r->m.embed) {
            snprintf(err, err_size, "the dataset uses vectors (high_quality) but no embedding "
                     "model is configured (knowledge.embedding_model)");
            rc = OCTO_E_UNSUPPORTED;
        }
        vec = rc ? NULL : octo_malloc(n * dim * sizeof *vec);
        size_t *lens = rc ? NULL : octo_malloc(n * sizeof *lens);
        if (!rc && (!vec || !lens)) rc = OCTO_E_NOMEM;
        for (size_t i = 0; !rc && i < n; i++) lens[i] = strlen(ch.text[i]);
        for (size_t i = 0; !rc && i < n; i += r->embed_batch) {
            size_t k = n - i < r->embed_batch ? n - i : r->embed_batch;
            rc = r->m.embed(r->m.ctx, (const char *const *)ch.text + i, lens + i, k, false,
                            vec + i * dim, err, err_size);
        }
        octo_free(lens);
    }
    octo_buf tok;
    octo_buf_init(&tok, RAG_MAX_TEXT_BYTES);
    json_t *kw = rc ? NULL : rag_keywords(text, strlen(text), 10);
    char *kws = kw ? json_dumps(kw, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    sqlite3_stmt *ins = NULL, *fts = NULL, *s = NULL;
    if (!rc && !kws) rc = OCTO_E_NOMEM;
    if (rc) goto out;
    rag_lock(r);
    rc = OCTO_E_IO;
    if (!rag_exec(r, "BEGIN IMMEDIATE")) goto unlock;
    ins = rag_prep(r, "INSERT INTO child_chunks(id, segment_id, position, content, "
                      "word_count, created_at, embedding) VALUES (?, (SELECT id FROM segments "
                      "WHERE rid = ?), ?, ?, ?, ?, ?)");
    fts = rag_prep(r, "INSERT OR REPLACE INTO segments_fts(rowid, tokens) VALUES (?, ?)");
    if (!ins || !fts) goto rollback;
    for (size_t i = 0; i < n; i++) {
        char id[37];
        rag_uuid(id);
        size_t len = strlen(ch.text[i]);
        sqlite3_reset(ins);
        rag_bind_text(ins, 1, id);
        sqlite3_bind_int64(ins, 2, parent);
        sqlite3_bind_int64(ins, 3, (sqlite3_int64)i + 1);
        sqlite3_bind_text(ins, 4, ch.text[i], (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, (sqlite3_int64)rag_word_count(ch.text[i], len));
        sqlite3_bind_int64(ins, 6, octo_unix_time());
        if (vec) sqlite3_bind_blob(ins, 7, vec + i * dim, (int)(dim * sizeof *vec),
                                   SQLITE_STATIC);
        else sqlite3_bind_null(ins, 7);
        if (sqlite3_step(ins) != SQLITE_DONE) goto rollback;
        rids[i] = sqlite3_last_insert_rowid(r->db);
        octo_buf_clear(&tok);
        if (rag_tokens(ch.text[i], len, &tok) != OCTO_OK) goto rollback;
        sqlite3_reset(fts);
        sqlite3_bind_int64(fts, 1, -rids[i]);
        sqlite3_bind_text(fts, 2, tok.data ? tok.data : "", (int)tok.len, SQLITE_STATIC);
        if (sqlite3_step(fts) != SQLITE_DONE) goto rollback;
    }
    s = rag_prep(r, "UPDATE segments SET status = 'completed', completed_at = ?, keywords = ? "
                    "WHERE rid = ?");
    if (!s) goto rollback;
    sqlite3_bind_double(s, 1, rag_now());
    rag_bind_text(s, 2, kws);
    sqlite3_bind_int64(s, 3, parent);
    if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(r->db) == 0) goto rollback;
    sqlite3_finalize(s);
    s = rag_prep(r, "INSERT INTO keywords(keyword, dataset_id, segment_rid) SELECT value, ?, ? "
                    "FROM json_each(?)");
    if (!s) goto rollback;
    rag_bind_text(s, 1, j->dataset);
    sqlite3_bind_int64(s, 2, parent);
    rag_bind_text(s, 3, kws);
    if (sqlite3_step(s) != SQLITE_DONE) goto rollback;
    sqlite3_finalize(s);
    s = rag_prep(r, "UPDATE documents SET completed_segments = completed_segments + 1 WHERE "
                    "id = ?");
    if (!s) goto rollback;
    rag_bind_text(s, 1, j->id);
    if (sqlite3_step(s) != SQLITE_DONE || !rag_exec(r, "COMMIT")) goto rollback;
    rc = OCTO_OK;
    for (size_t i = 0; vec && i < n; i++)
        rag_vecs_add(r, j->dataset, -rids[i], vec + i * dim, j->id);
    goto unlock;
rollback:
    snprintf(err, err_size, "indexing failed: %s", sqlite3_errmsg(r->db));
    rag_exec(r, "ROLLBACK");
unlock:
    sqlite3_finalize(s);
    sqlite3_finalize(ins);
    sqlite3_finalize(fts);
    rag_unlock(r);
out:
    free(kws);
    json_decref(kw);
    octo_buf_deinit(&tok);
    octo_free(vec);
    octo_free(rids);
    rag_chunks_free(&ch);
    return rc;
}

/* ==== one document ==== */

static bool take_job(octo_rag *r, job *j)
{
    bool got = false;
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r,
        "SELECT d.id, d.dataset_id, d.file_name, d.process_rule, d.attempts,"
        " ds.indexing_technique FROM documents d JOIN datasets ds ON ds.id = d.dataset_id"
        " WHERE d.indexing_status IN ('waiting', 'parsing', 'cleaning', 'splitting',"
        " 'indexing') ORDER BY d.created_at, d.position LIMIT 1");
    if (s && sqlite3_step(s) == SQLITE_ROW) {
        octo_strlcpy(j->id, rag_col_text(s, 0), sizeof j->id);
        octo_strlcpy(j->dataset, rag_col_text(s, 1), sizeof j->dataset);
        j->file_name = octo_strdup(rag_col_text(s, 2));
        j->process_rule = octo_strdup(rag_col_text(s, 3));
        j->attempts = (long)sqlite3_column_int64(s, 4);
        j->embed = strcmp(rag_col_text(s, 5), "high_quality") == 0;
        got = j->file_name && j->process_rule;
    }
    sqlite3_finalize(s);
    if (got) {
        s = rag_prep(r, "UPDATE documents SET indexing_status = 'parsing', attempts = "
                        "attempts + 1, processing_started_at = ?, error = NULL WHERE id = ?");
        if (s) {
            sqlite3_bind_double(s, 1, rag_now());
            rag_bind_text(s, 2, j->id);
            got = sqlite3_step(s) == SQLITE_DONE;
        }
        sqlite3_finalize(s);
    }
    rag_unlock(r);
    return got;
}

/* The stored file of a document: files_dir/<id><.ext of its name>. */
static void stored_path(const octo_rag *r, const char *id, const char *name, char *out,
                        size_t cap)
{
    const char *dot = strrchr(name, '.');
    snprintf(out, cap, "%s/%s%.16s", r->files_dir, id, dot ? dot : "");
}

/* Replaces the document's segments with the chunks (one transaction);
 * rids[] gets their rowids. */
static octo_err store_chunks(octo_rag *r, const job *j, const rag_chunks *c, int64_t *rids,
                             size_t words, size_t tokens)
{
    octo_err rc = OCTO_E_IO;
    sqlite3_stmt *s = NULL;
    rag_lock(r);
    if (!rag_exec(r, "BEGIN IMMEDIATE")) goto out;
    s = rag_prep(r, "DELETE FROM segments WHERE document_id = ?");
    if (!s) goto rollback;
    rag_bind_text(s, 1, j->id);
    if (sqlite3_step(s) != SQLITE_DONE) goto rollback;
    if (sqlite3_changes(r->db) > 0) rag_vecs_drop(r, j->dataset); /* an interrupted run */
    sqlite3_finalize(s);
    s = rag_prep(r, "UPDATE documents SET indexing_status = 'indexing', total_segments = ?, "
                    "completed_segments = 0, splitting_completed_at = ?, word_count = ?, "
                    "tokens = ?, doc_form = ? WHERE id = ?");
    if (!s) goto rollback;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)c->n);
    sqlite3_bind_double(s, 2, rag_now());
    sqlite3_bind_int64(s, 3, (sqlite3_int64)words);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)tokens);
    rag_bind_text(s, 5, j->hierarchical ? "hierarchical_model" : "text_model");
    rag_bind_text(s, 6, j->id);
    if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(r->db) == 0) goto rollback;
    sqlite3_finalize(s);
    s = rag_prep(r, "INSERT INTO segments(id, dataset_id, document_id, position, content, "
                    "word_count, tokens, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                    "'indexing', ?)");
    if (!s) goto rollback;
    int64_t now = octo_unix_time();
    for (size_t i = 0; i < c->n; i++) {
        char id[37];
        rag_uuid(id);
        size_t len = strlen(c->text[i]);
        sqlite3_reset(s);
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, j->dataset);
        rag_bind_text(s, 3, j->id);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)i + 1);
        sqlite3_bind_text(s, 5, c->text[i], (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, (sqlite3_int64)rag_word_count(c->text[i], len));
        sqlite3_bind_int64(s, 7, (sqlite3_int64)rag_count_tokens(&r->m, c->text[i], len));
        sqlite3_bind_int64(s, 8, now);
        if (sqlite3_step(s) != SQLITE_DONE) goto rollback;
        rids[i] = sqlite3_last_insert_rowid(r->db);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (rag_exec(r, "COMMIT")) rc = OCTO_OK;
    else goto rollback;
    goto out;
rollback:
    sqlite3_finalize(s);
    s = NULL;
    rag_exec(r, "ROLLBACK");
out:
    rag_unlock(r);
    return rc;
}

static void process(octo_rag *r, job *j)
{
    char path[OCTO_LIMIT_PATH_BYTES], err[512] = "";
    char *data = NULL, *text = NULL, *clean = NULL;
    size_t len = 0, text_len = 0, clean_len = 0;
    rag_chunks c = {0};
    int64_t *rids = NULL;
    rag_rules rules;
    octo_rag_status st;
    json_t *pr = json_loads(j->process_rule, JSON_DECODE_ANY, NULL);
    bool ok = rag_rules_read(pr, &rules, &st);
    json_decref(pr);
    if (!ok) {
        set_error(r, j->id, st.message);
        return;
    }
    j->hierarchical = rules.hierarchical;
    if (j->attempts >= MAX_ATTEMPTS) {
        set_error(r, j->id, "processing was interrupted 3 times (the server stopped while "
                            "this document was being indexed); delete and upload it again");
        return;
    }
    stored_path(r, j->id, j->file_name, path, sizeof path);
    octo_err rc = octo_file_read(path, OCTO_LIMIT_PDF_BYTES, &data, &len);
    if (rc) {
        snprintf(err, sizeof err, "cannot read the stored file: %s", octo_err_str(rc));
        goto fail;
    }
    rc = rag_extract(j->file_name, data, len, &text, &text_len, err, sizeof err);
    octo_free(data);
    data = NULL;
    if (rc) goto fail;
    if (!set_state(r, j->id, "cleaning", "parsing_completed_at")) goto gone;
    clean = rag_clean(text, text_len, &rules, &clean_len);
    if (!clean) {
        rc = OCTO_E_NOMEM;
        goto fail;
    }
    if (!set_state(r, j->id, "splitting", "cleaning_completed_at")) goto gone;
    if (rules.hierarchical && rules.full_doc) { /* the whole text is the one parent */
        rc = rag_split_whole(clean, clean_len, &c);
    } else {
        rc = rag_split(&r->m, clean, clean_len, &rules, &c);
    }
    if (rc) {
        snprintf(err, sizeof err, rc == OCTO_E_TOO_LARGE ? "more than %d segments"
                 : "splitting failed", RAG_MAX_SEGMENTS);
        goto fail;
    }
    if (c.n == 0) {
        snprintf(err, sizeof err, "the document has no text (empty%s)",
                 strrchr(j->file_name, '.') && !strcmp(strrchr(j->file_name, '.'), ".pdf")
                     ? ", or a scanned PDF whose OCR found nothing" : "");
        rc = OCTO_E_PARSE;
        goto fail;
    }
    rids = octo_malloc(c.n * sizeof *rids);
    if (!rids) {
        rc = OCTO_E_NOMEM;
        goto fail;
    }
    size_t words = 0, tokens = 0; /* the document's counts are its segments' (Dify) */
    for (size_t i = 0; i < c.n; i++) {
        words += rag_word_count(c.text[i], strlen(c.text[i]));
        tokens += rag_count_tokens(&r->m, c.text[i], strlen(c.text[i]));
    }
    rc = store_chunks(r, j, &c, rids, words, tokens);
    if (rc) {
        snprintf(err, sizeof err, "cannot store the segments");
        goto fail;
    }
    size_t step = rules.hierarchical ? 1 : r->embed_batch; /* a parent and its children */
    for (size_t i = 0; i < c.n; i += step) {
        if (stopping(r)) { /* resumed on the next start; a clean stop is no failure */
            rag_lock(r);
            sqlite3_stmt *s = rag_prep(r, "UPDATE documents SET attempts = attempts - 1 "
                                          "WHERE id = ?");
            if (s) {
                rag_bind_text(s, 1, j->id);
                if (sqlite3_step(s) != SQLITE_DONE) OCTO_LOG_WARN("%s", sqlite3_errmsg(r->db));
            }
            sqlite3_finalize(s);
            rag_unlock(r);
            goto gone;
        }
        size_t k = c.n - i < step ? c.n - i : step;
        if (rules.hierarchical)
            rc = index_parent(r, j, &rules, rids[i], c.text[i], err, sizeof err);
        else
            rc = index_batch(r, j->dataset, j->id, j->embed, rids + i, c.text + i, k, err,
                             sizeof err);
        if (rc) goto fail;
    }
    if (!set_state(r, j->id, "completed", "completed_at")) goto gone;
    OCTO_LOG_INFO("document %s (%s): %zu segments indexed", j->id, j->file_name, c.n);
    goto gone;
fail:
    if (!err[0]) snprintf(err, sizeof err, "%s", octo_err_str(rc));
    set_error(r, j->id, err);
gone:
    octo_free(rids);
    rag_chunks_free(&c);
    octo_free(clean);
    octo_free(text);
    octo_free(data);
}

bool rag_ingest_one(octo_rag *r)
{
    job j = {0};
    if (!take_job(r, &j)) {
        octo_free(j.file_name);
        octo_free(j.process_rule);
        return false;
    }
    process(r, &j);
    octo_free(j.file_name);
    octo_free(j.process_rule);
    return true;
}
