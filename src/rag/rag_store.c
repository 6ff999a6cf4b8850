/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_store — the SQLite store: opening (WAL, foreign keys, busy
 * timeout), the versioned migrations (PRAGMA user_version), the helpers
 * every rag source uses, atomic file writes and the per-dataset vector
 * cache. One connection, serialised by r->mu: the knowledge layer's
 * statements are short, and the long work (parsing, embedding) runs
 * without the lock.
 *
 * It is not a general database layer: no statement cache, no pooling.
 */
#include "rag_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ==== migrations: migration i brings user_version from i to i + 1 ==== */

static const char *const k_migrations[RAG_SCHEMA_VERSION] = {
    /* 0 -> 1: the whole first schema */
    "CREATE TABLE datasets ("
    "  id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, description TEXT,"
    "  indexing_technique TEXT, permission TEXT NOT NULL DEFAULT 'only_me',"
    "  embedding_model TEXT, retrieval_model TEXT, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL, UNIQUE (owner, name));"
    "CREATE TABLE documents ("
    "  id TEXT PRIMARY KEY,"
    "  dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL, name TEXT NOT NULL, batch TEXT NOT NULL,"
    "  data_source_type TEXT NOT NULL, file_name TEXT, process_rule TEXT,"
    "  doc_form TEXT NOT NULL DEFAULT 'text_model', indexing_status TEXT NOT NULL,"
    "  error TEXT, enabled INTEGER NOT NULL DEFAULT 1, word_count INTEGER DEFAULT 0,"
    "  tokens INTEGER DEFAULT 0, total_segments INTEGER DEFAULT 0,"
    "  completed_segments INTEGER DEFAULT 0, attempts INTEGER DEFAULT 0,"
    "  created_at INTEGER NOT NULL, processing_started_at REAL,"
    "  parsing_completed_at REAL, cleaning_completed_at REAL,"
    "  splitting_completed_at REAL, completed_at REAL, paused_at REAL, stopped_at REAL);"
    "CREATE INDEX documents_dataset ON documents(dataset_id, position);"
    "CREATE INDEX documents_status ON documents(indexing_status, created_at);"
    "CREATE TABLE segments ("
    "  rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,"
    "  document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL, content TEXT NOT NULL, answer TEXT,"
    "  word_count INTEGER, tokens INTEGER, keywords TEXT,"
    "  enabled INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL,"
    "  hit_count INTEGER DEFAULT 0, created_at INTEGER NOT NULL, completed_at REAL,"
    "  error TEXT, embedding BLOB, UNIQUE (document_id, position));"
    "CREATE INDEX segments_dataset ON segments(dataset_id);"
    "CREATE TABLE child_chunks ("
    "  rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  segment_id TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL, content TEXT NOT NULL, word_count INTEGER,"
    "  created_at INTEGER NOT NULL, embedding BLOB);"
    "CREATE TABLE keywords ("
    "  keyword TEXT NOT NULL, dataset_id TEXT NOT NULL,"
    "  segment_rid INTEGER NOT NULL REFERENCES segments(rid) ON DELETE CASCADE);"
    "CREATE INDEX keywords_lookup ON keywords(dataset_id, keyword);"
    "CREATE INDEX keywords_segment ON keywords(segment_rid);"
    "CREATE VIRTUAL TABLE segments_fts USING fts5(tokens,"
    "  tokenize = 'unicode61 remove_diacritics 0');"
    "CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN"
    "  DELETE FROM segments_fts WHERE rowid = old.rid; END;"
    "CREATE TABLE metadata_fields ("
    "  id TEXT PRIMARY KEY,"
    "  dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, type TEXT NOT NULL, UNIQUE (dataset_id, name));"
    "CREATE TABLE document_metadata ("
    "  document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    "  field_id TEXT NOT NULL REFERENCES metadata_fields(id) ON DELETE CASCADE,"
    "  value TEXT, PRIMARY KEY (document_id, field_id));"
    "CREATE TABLE apps ("
    "  id TEXT PRIMARY KEY, owner TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL, config TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE conversations ("
    "  id TEXT PRIMARY KEY, app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    "  user TEXT NOT NULL, name TEXT, inputs TEXT, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE messages ("
    "  id TEXT PRIMARY KEY,"
    "  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  query TEXT NOT NULL, answer TEXT, retriever_resources TEXT,"
    "  prompt_tokens INTEGER, completion_tokens INTEGER, status TEXT, error TEXT,"
    "  created_at INTEGER NOT NULL);",
    /* 1 -> 2: chat turns keep their inputs; look-ups of the chat service API */
    "ALTER TABLE messages ADD COLUMN inputs TEXT;"
    "CREATE INDEX conversations_app ON conversations(app_id, user, updated_at);"
    "CREATE INDEX messages_conversation ON messages(conversation_id, created_at);",
    /* 2 -> 3: child chunks are indexed too (FTS rowid = -child rid) */
    "CREATE INDEX child_chunks_segment ON child_chunks(segment_id, position);"
    "CREATE TRIGGER child_chunks_fts_delete AFTER DELETE ON child_chunks BEGIN"
    "  DELETE FROM segments_fts WHERE rowid = -old.rid; END;",
};

static octo_err migrate(sqlite3 *db, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > RAG_SCHEMA_VERSION) {
        snprintf(err, err_size, "the knowledge store has schema version %d; this octo knows "
                 "up to %d (a newer octo wrote it)", version, RAG_SCHEMA_VERSION);
        return OCTO_E_PARSE;
    }
    for (int v = version; v < RAG_SCHEMA_VERSION; v++) {
        char *msg = NULL, set[64];
        snprintf(set, sizeof set, "PRAGMA user_version = %d", v + 1);
        /* one transaction per step: a kill leaves the old version whole */
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, k_migrations[v], NULL, NULL, &msg);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, set, NULL, NULL, &msg);
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            snprintf(err, err_size, "knowledge store migration %d -> %d failed: %s", v, v + 1,
                     msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return OCTO_E_IO;
        }
    }
    return OCTO_OK;
}

static octo_err make_dir(const char *path, char *err, size_t err_size)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return OCTO_OK;
    snprintf(err, err_size, "cannot create %s: %s", path, strerror(errno));
    return OCTO_E_IO;
}

/* Removes what a kill can leave in kb-files: temporary files of an
 * unfinished write, and files whose document row was never committed (or
 * is deleted). */
static void sweep_files(octo_rag *r)
{
    DIR *d = opendir(r->files_dir);
    if (!d) return;
    sqlite3_stmt *s = rag_prep(r, "SELECT 1 FROM documents WHERE id = ?");
    struct dirent *e;
    size_t removed = 0;
    while (s && (e = readdir(d))) {
        const char *n = e->d_name;
        char id[64], path[OCTO_LIMIT_PATH_BYTES];
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        size_t l = strlen(n);
        bool tmp = n[0] == '.' && l > 4 && !strcmp(n + l - 4, ".tmp");
        size_t k = strcspn(n, ".");
        snprintf(id, sizeof id, "%.*s", (int)(k < 63 ? k : 63), n);
        bool orphan = tmp;
        if (!tmp) {
            sqlite3_reset(s);
            rag_bind_text(s, 1, id);
            orphan = sqlite3_step(s) != SQLITE_ROW;
        }
        if (!orphan) continue;
        snprintf(path, sizeof path, "%s/%s", r->files_dir, n);
        removed += unlink(path) == 0;
    }
    sqlite3_finalize(s);
    closedir(d);
    if (removed) OCTO_LOG_INFO("removed %zu file(s) of unfinished uploads from %s", removed,
                               r->files_dir);
}

octo_err octo_rag_open(const octo_rag_opts *o, octo_rag **out, char *err, size_t err_size)
{
    char path[OCTO_LIMIT_PATH_BYTES];
    *out = NULL;
    octo_rag *r = octo_calloc(1, sizeof *r);
    if (!r) return OCTO_E_NOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->wmu, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (o->models) r->m = *o->models;
    r->embed_batch = o->embed_batch ? o->embed_batch : 32;
    octo_err rc = OCTO_E_NOMEM;
    r->dir = octo_strdup(o->dir);
    if (!r->dir) goto fail;
    snprintf(path, sizeof path, "%s/kb-files", o->dir);
    r->files_dir = octo_strdup(path);
    if (!r->files_dir) goto fail;
    rc = make_dir(o->dir, err, err_size);
    if (!rc) rc = make_dir(r->files_dir, err, err_size);
    if (rc) goto fail;
    snprintf(path, sizeof path, "%s/kb.sqlite3", o->dir);
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", path,
                 r->db ? sqlite3_errmsg(r->db) : "out of memory");
        rc = OCTO_E_IO;
        goto fail;
    }
    sqlite3_busy_timeout(r->db, 10000);
    char *msg = NULL;
    if (sqlite3_exec(r->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     "PRAGMA foreign_keys = ON;", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, err_size, "%s: %s", path, msg ? msg : "cannot set WAL mode");
        sqlite3_free(msg);
        rc = OCTO_E_IO;
        goto fail;
    }
    rc = migrate(r->db, err, err_size);
    if (rc) goto fail;
    sweep_files(r);
    if (o->start_worker) {
        rc = rag_worker_start(r);
        if (rc) {
            snprintf(err, err_size, "cannot start the ingestion worker");
            goto fail;
        }
    }
    OCTO_LOG_INFO("knowledge store %s (schema %d)%s%s", path, RAG_SCHEMA_VERSION,
                  r->m.embed ? ", embeddings from " : ", no embedding model",
                  r->m.embed && r->m.embed_name ? r->m.embed_name : "");
    *out = r;
    return OCTO_OK;
fail:
    octo_rag_free(r);
    return rc;
}

void octo_rag_free(octo_rag *r)
{
    if (!r) return;
    rag_worker_stop(r);
    while (r->vecs) rag_vecs_drop(r, r->vecs->dataset);
    if (r->db) sqlite3_close(r->db);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->wmu);
    pthread_mutex_destroy(&r->mu);
    octo_free(r->files_dir);
    octo_free(r->dir);
    octo_free(r);
}

void octo_rag_drain(octo_rag *r)
{
    while (rag_ingest_one(r)) {
    }
}

/* ==== helpers ==== */

void rag_lock(octo_rag *r)
{
    pthread_mutex_lock(&r->mu);
}

void rag_unlock(octo_rag *r)
{
    pthread_mutex_unlock(&r->mu);
}

json_t *rag_fail(octo_rag_status *st, int http, const char *code, const char *fmt, ...)
{
    va_list ap;
    st->http = http;
    octo_strlcpy(st->code, code, sizeof st->code);
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
    return NULL;
}

void rag_ok(octo_rag_status *st)
{
    st->http = 200;
    st->code[0] = '\0';
    st->message[0] = '\0';
}

void rag_uuid(char out[37])
{
    char h[33];
    octo_random_hex(h, 32);
    h[12] = '4';                               /* version 4 */
    h[16] = "89ab"[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3]; /* variant */
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

double rag_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool rag_exec(octo_rag *r, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) == SQLITE_OK) return true;
    OCTO_LOG_ERROR("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return false;
}

sqlite3_stmt *rag_prep(octo_rag *r, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &s, NULL) != SQLITE_OK) {
        OCTO_LOG_ERROR("cannot prepare %s: %s", sql, sqlite3_errmsg(r->db));
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

long rag_page(octo_rag *r, const char *count_sql, const char *rows_sql,
              const char *const *text, int n_text, long page, long limit, rag_row_fn row,
              void *ctx, json_t *out)
{
    long total = 0;
    sqlite3_stmt *s = rag_prep(r, count_sql);
    if (s) {
        for (int i = 0; i < n_text; i++) rag_bind_text(s, i + 1, text[i]);
        if (sqlite3_step(s) == SQLITE_ROW) total = (long)sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    s = rag_prep(r, rows_sql);
    if (s) {
        for (int i = 0; i < n_text; i++) rag_bind_text(s, i + 1, text[i]);
        sqlite3_bind_int64(s, n_text + 1, limit);
        sqlite3_bind_int64(s, n_text + 2, (sqlite3_int64)(page - 1) * limit);
        while (sqlite3_step(s) == SQLITE_ROW) row(ctx, s, out);
    }
    sqlite3_finalize(s);
    return total;
}

void rag_bind_text(sqlite3_stmt *s, int i, const char *t)
{
    if (t) sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, i);
}

const char *rag_col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

json_t *rag_col_json(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    json_t *j = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
    return j ? j : json_null();
}

octo_err rag_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char tmp[OCTO_LIMIT_PATH_BYTES], dst[OCTO_LIMIT_PATH_BYTES];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return OCTO_E_IO;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return OCTO_E_IO;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, dst) != 0) {
        unlink(tmp);
        return OCTO_E_IO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) OCTO_LOG_WARN("fsync %s: %s", dir, strerror(errno));
        close(dfd);
    }
    return OCTO_OK;
}

bool rag_dataset_owned(octo_rag *r, const char *owner, const char *id)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT 1 FROM datasets WHERE id = ? AND owner = ?");
    if (!s) return false;
    rag_bind_text(s, 1, id);
    rag_bind_text(s, 2, owner);
    bool ok = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return ok;
}

void octo_rag_owner_of_key(const char *key, char out[17])
{
    /* FNV-1a 64: a namespace id, not a secret (the key itself is checked
     * against the configured list before this is used) */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ==== vector cache ==== */

static void vecs_free(rag_vecs *v)
{
    octo_free(v->rid);
    octo_free(v->v);
    octo_free(v->doc);
    octo_free(v->docs);
    octo_free(v);
}


static rag_vecs *vecs_find(octo_rag *r, const char *dataset)
{
    for (rag_vecs *v = r->vecs; v; v = v->next)
        if (strcmp(v->dataset, dataset) == 0) return v;
    return NULL;
}

void rag_vecs_drop(octo_rag *r, const char *dataset)
{
    for (rag_vecs **pv = &r->vecs; *pv; pv = &(*pv)->next) {
        rag_vecs *v = *pv;
        if (strcmp(v->dataset, dataset) != 0) continue;
        *pv = v->next;
        vecs_free(v);
        return;
    }
}

/* The index of a document id in v->docs, added when new (-1: no memory). */
static int32_t vecs_doc(rag_vecs *v, const char *doc)
{
    if (v->n_docs && !strcmp(v->docs[v->n_docs - 1], doc)) return (int32_t)v->n_docs - 1;
    for (size_t i = 0; i < v->n_docs; i++)
        if (!strcmp(v->docs[i], doc)) return (int32_t)i;
    if (v->n_docs == v->cap_docs) {
        size_t cap = v->cap_docs ? v->cap_docs * 2 : 16;
        char(*nd)[40] = octo_realloc(v->docs, cap * sizeof *nd);
        if (!nd || cap > INT32_MAX) return -1;
        v->docs = nd;
        v->cap_docs = cap;
    }
    octo_strlcpy(v->docs[v->n_docs], doc, sizeof v->docs[0]);
    return (int32_t)v->n_docs++;
}

static bool vecs_push(rag_vecs *v, size_t dim, int64_t rid, const float *x, const char *doc)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int64_t *nr = octo_realloc(v->rid, cap * sizeof *nr);
        if (!nr) return false;
        v->rid = nr;
        float *nv = octo_realloc(v->v, cap * dim * sizeof *nv);
        if (!nv) return false;
        v->v = nv;
        int32_t *nd = octo_realloc(v->doc, cap * sizeof *nd);
        if (!nd) return false;
        v->doc = nd;
        v->cap = cap;
    }
    int32_t d = vecs_doc(v, doc);
    if (d < 0) return false;
    v->doc[v->n] = d;
    v->rid[v->n] = rid;
    memcpy(v->v + v->n * dim, x, dim * sizeof *x);
    v->n++;
    return true;
}

void rag_vecs_add(octo_rag *r, const char *dataset, int64_t rid, const float *x,
                  const char *doc)
{
    rag_vecs *v = vecs_find(r, dataset);
    if (v && !vecs_push(v, (size_t)r->m.embed_dim, rid, x, doc)) rag_vecs_drop(r, dataset);
}

rag_vecs *rag_vecs_get(octo_rag *r, const char *dataset)
{
    rag_vecs *v = vecs_find(r, dataset);
    if (v || r->m.embed_dim <= 0) return v;
    v = octo_calloc(1, sizeof *v);
    if (!v) return NULL;
    octo_strlcpy(v->dataset, dataset, sizeof v->dataset);
    size_t dim = (size_t)r->m.embed_dim;
    /* enabled segments, and child chunks (negative ids) of enabled completed
     * parents; the document's state is checked per query */
    sqlite3_stmt *s = rag_prep(r, "SELECT rid, embedding, document_id FROM segments WHERE "
                                  "dataset_id = ?1 AND embedding IS NOT NULL AND status = "
                                  "'completed' AND enabled = 1 UNION ALL SELECT -c.rid, "
                                  "c.embedding, s.document_id FROM child_chunks c JOIN "
                                  "segments s ON s.id = c.segment_id WHERE s.dataset_id = ?1 "
                                  "AND c.embedding IS NOT NULL AND s.status = 'completed' AND "
                                  "s.enabled = 1");
    bool ok = s != NULL;
    if (s) rag_bind_text(s, 1, dataset);
    while (ok && sqlite3_step(s) == SQLITE_ROW) {
        if ((size_t)sqlite3_column_bytes(s, 1) != dim * sizeof(float)) continue;
        ok = vecs_push(v, dim, sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
                       rag_col_text(s, 2));
    }
    sqlite3_finalize(s);
    if (!ok) {
        vecs_free(v);
        return NULL;
    }
    v->next = r->vecs;
    r->vecs = v;
    return v;
}
