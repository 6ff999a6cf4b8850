/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_kb — datasets and documents in Dify's shapes: create, list, get,
 * update, delete; create-by-text and create-by-file (the original is
 * written atomically beside the database before its row is committed, then
 * the worker is woken); indexing status by batch.
 *
 * Every statement is scoped by the owner: another key's dataset answers
 * "not found", never "forbidden", so ids are not probed.
 */
#include "rag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ==== records ==== */

static const char *display_status(const char *st, bool enabled)
{
    if (!strcmp(st, "waiting")) return "queuing";
    if (!strcmp(st, "completed")) return enabled ? "available" : "disabled";
    if (!strcmp(st, "error")) return "error";
    if (!strcmp(st, "paused")) return "paused";
    return "indexing";
}

static json_t *opt_text(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null()
                                                    : json_string(rag_col_text(s, i));
}

json_t *rag_document_json(sqlite3_stmt *s)
{
    bool enabled = sqlite3_column_int(s, 8) != 0;
    const char *status = rag_col_text(s, 6);
    json_t *src = json_pack("{s:s}", "upload_file_id", rag_col_text(s, 0));
    return json_pack("{s:s, s:I, s:s, s:o, s:n, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:b,"
                     " s:n, s:n, s:b, s:s, s:I, s:I, s:s}",
                     "id", rag_col_text(s, 0), "position",
                     (json_int_t)sqlite3_column_int64(s, 1), "data_source_type",
                     rag_col_text(s, 2), "data_source_info", src, "dataset_process_rule_id",
                     "name", rag_col_text(s, 3), "created_from", "api", "created_by", "api",
                     "created_at", (json_int_t)sqlite3_column_int64(s, 4), "tokens",
                     (json_int_t)sqlite3_column_int64(s, 5), "indexing_status", status,
                     "error", opt_text(s, 7), "enabled", enabled, "disabled_at",
                     "disabled_by", "archived", false, "display_status",
                     display_status(status, enabled), "word_count",
                     (json_int_t)sqlite3_column_int64(s, 9), "hit_count", (json_int_t)0,
                     "doc_form", rag_col_text(s, 10));
}

json_t *rag_segment_json(sqlite3_stmt *s)
{
    json_t *kw = rag_col_json(s, 7);
    if (!json_is_array(kw)) {
        json_decref(kw);
        kw = json_array();
    }
    json_t *done = sqlite3_column_type(s, 12) == SQLITE_NULL
                       ? json_null() : json_integer((json_int_t)sqlite3_column_double(s, 12));
    return json_pack("{s:s, s:I, s:s, s:s, s:o, s:I, s:I, s:o, s:s, s:n, s:I, s:b, s:n, s:n,"
                     " s:s, s:s, s:I, s:o, s:o, s:o, s:n, s:[]}",
                     "id", rag_col_text(s, 0), "position",
                     (json_int_t)sqlite3_column_int64(s, 1), "document_id",
                     rag_col_text(s, 2), "content", rag_col_text(s, 3), "answer",
                     opt_text(s, 4), "word_count", (json_int_t)sqlite3_column_int64(s, 5),
                     "tokens", (json_int_t)sqlite3_column_int64(s, 6), "keywords", kw,
                     "index_node_id", rag_col_text(s, 0), "index_node_hash", "hit_count",
                     (json_int_t)sqlite3_column_int64(s, 10), "enabled",
                     sqlite3_column_int(s, 8) != 0, "disabled_at", "disabled_by", "status",
                     rag_col_text(s, 9), "created_by", "api", "created_at",
                     (json_int_t)sqlite3_column_int64(s, 11), "indexing_at",
                     json_integer(sqlite3_column_int64(s, 11)), "completed_at", done,
                     "error", opt_text(s, 13), "stopped_at", "child_chunks");
}

/* ==== datasets ==== */

#define DS_COLS                                                                         \
    "ds.id, ds.name, ds.description, ds.indexing_technique, ds.permission, "             \
    "ds.embedding_model, ds.retrieval_model, ds.created_at, ds.updated_at, "             \
    "(SELECT count(*) FROM documents d WHERE d.dataset_id = ds.id), "                    \
    "(SELECT coalesce(sum(word_count), 0) FROM documents d WHERE d.dataset_id = ds.id)"

static json_t *default_retrieval(void)
{
    return json_pack("{s:s, s:b, s:n, s:n, s:I, s:b, s:n}", "search_method",
                     "semantic_search", "reranking_enable", false, "reranking_model",
                     "weights", "top_k", (json_int_t)4, "score_threshold_enabled", false,
                     "score_threshold");
}

static json_t *dataset_json(const octo_rag *r, sqlite3_stmt *s)
{
    json_t *rm = rag_col_json(s, 6);
    if (!json_is_object(rm)) {
        json_decref(rm);
        rm = default_retrieval();
    }
    bool hq = strcmp(rag_col_text(s, 3), "high_quality") == 0;
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:n, s:o, s:I, s:I, s:I, s:s, s:I, s:s,"
                     " s:I, s:o, s:o, s:b, s:o, s:[], s:s}",
                     "id", rag_col_text(s, 0), "name", rag_col_text(s, 1), "description",
                     opt_text(s, 2), "provider", "vendor", "permission", rag_col_text(s, 4),
                     "data_source_type", "indexing_technique", opt_text(s, 3), "app_count",
                     (json_int_t)0, "document_count", (json_int_t)sqlite3_column_int64(s, 9),
                     "word_count", (json_int_t)sqlite3_column_int64(s, 10), "created_by",
                     "api", "created_at", (json_int_t)sqlite3_column_int64(s, 7),
                     "updated_by", "api", "updated_at",
                     (json_int_t)sqlite3_column_int64(s, 8), "embedding_model",
                     hq && r->m.embed_name ? json_string(r->m.embed_name) : json_null(),
                     "embedding_model_provider", hq ? json_string("octo") : json_null(),
                     "embedding_available", !hq || r->m.embed != NULL,
                     "retrieval_model_dict", rm, "tags", "doc_form", "text_model");
}

static json_t *dataset_fetch(octo_rag *r, const char *owner, const char *id)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT " DS_COLS " FROM datasets ds WHERE ds.id = ? AND "
                                  "ds.owner = ?");
    json_t *j = NULL;
    if (!s) return NULL;
    rag_bind_text(s, 1, id);
    rag_bind_text(s, 2, owner);
    if (sqlite3_step(s) == SQLITE_ROW) j = dataset_json(r, s);
    sqlite3_finalize(s);
    return j;
}

/* Reads indexing_technique: absent/null leaves *tech NULL. */
static bool read_technique(octo_rag *r, const json_t *v, const char **tech, octo_rag_status *st)
{
    *tech = NULL;
    if (!v || json_is_null(v)) return true;
    const char *t = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(t, "high_quality") && strcmp(t, "economy"))
        return rag_fail(st, 400, "invalid_param", "indexing_technique must be 'high_quality' "
                        "or 'economy'"), false;
    if (!strcmp(t, "high_quality") && !r->m.embed)
        return rag_fail(st, 400, "provider_not_initialize", "No Embedding Model available: "
                        "'high_quality' indexing needs knowledge.embedding_model in "
                        "octo.yaml; use 'economy' (full-text and keyword search)"), false;
    *tech = t;
    return true;
}

static bool read_name(const json_t *body, const char *key, size_t max, bool required,
                      const char **out, octo_rag_status *st)
{
    const json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) return rag_fail(st, 400, "invalid_param", "%s is required", key), false;
        return true;
    }
    if (!json_is_string(v)) return rag_fail(st, 400, "invalid_param", "%s must be a string",
                                            key), false;
    size_t n = rag_word_count(json_string_value(v), json_string_length(v));
    if ((required && n == 0) || n > max)
        return rag_fail(st, 400, "invalid_param", "%s must be 1 to %zu characters long", key,
                        max), false;
    *out = json_string_value(v);
    return true;
}

static bool check_dataset_body(octo_rag *r, const json_t *body, bool create, const char **name,
                               const char **desc, const char **tech, const char **perm,
                               octo_rag_status *st)
{
    if (!read_name(body, "name", 40, create, name, st)) return false;
    if (!read_name(body, "description", 400, false, desc, st)) return false;
    if (!read_technique(r, json_object_get(body, "indexing_technique"), tech, st)) return false;
    const json_t *p = json_object_get(body, "permission");
    *perm = NULL;
    if (p && !json_is_null(p)) {
        const char *ps = json_is_string(p) ? json_string_value(p) : "";
        if (strcmp(ps, "only_me") && strcmp(ps, "all_team_members") &&
            strcmp(ps, "partial_members"))
            return rag_fail(st, 400, "invalid_param", "permission must be 'only_me', "
                            "'all_team_members' or 'partial_members'"), false;
        *perm = ps;
    }
    const json_t *prov = json_object_get(body, "provider");
    if (prov && !json_is_null(prov) &&
        (!json_is_string(prov) || strcmp(json_string_value(prov), "vendor")))
        return rag_fail(st, 400, "invalid_param", "provider must be 'vendor' (external "
                        "knowledge bases are not supported)"), false;
    const json_t *em = json_object_get(body, "embedding_model");
    if (em && !json_is_null(em) &&
        (!json_is_string(em) || !r->m.embed_name ||
         strcmp(json_string_value(em), r->m.embed_name)))
        return rag_fail(st, 400, "invalid_param", "embedding_model must be the configured "
                        "embedding model '%s'", r->m.embed_name ? r->m.embed_name : "(none)"),
               false;
    const json_t *rm = json_object_get(body, "retrieval_model");
    if (rm && !json_is_null(rm) && !rag_retrieval_check(r, rm, st)) return false;
    return true;
}

json_t *octo_rag_dataset_create(octo_rag *r, const char *owner, const json_t *body,
                                octo_rag_status *st)
{
    const char *name, *desc, *tech, *perm;
    if (!check_dataset_body(r, body, true, &name, &desc, &tech, &perm, st)) return NULL;
    char id[37];
    rag_uuid(id);
    const json_t *rm = json_object_get(body, "retrieval_model");
    char *rms = rm && json_is_object(rm) ? json_dumps(rm, JSON_COMPACT) : NULL;
    json_t *out = NULL;
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO datasets(id, owner, name, description, "
                                  "indexing_technique, permission, retrieval_model, "
                                  "created_at, updated_at) VALUES (?, ?, ?, ?, ?, "
                                  "coalesce(?, 'only_me'), ?, ?, ?)");
    if (s) {
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, owner);
        rag_bind_text(s, 3, name);
        rag_bind_text(s, 4, desc);
        rag_bind_text(s, 5, tech);
        rag_bind_text(s, 6, perm);
        rag_bind_text(s, 7, rms);
        sqlite3_bind_int64(s, 8, octo_unix_time());
        sqlite3_bind_int64(s, 9, octo_unix_time());
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) out = dataset_fetch(r, owner, id);
        else if (rc == SQLITE_CONSTRAINT)
            rag_fail(st, 409, "dataset_name_duplicate", "The dataset name already exists. "
                     "Please modify your dataset name.");
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    free(rms);
    if (out) rag_ok(st);
    else if (st->http == 200 || !st->http) rag_fail(st, 500, "internal_error", "cannot store "
                                                    "the dataset");
    return out;
}

static void dataset_row(void *r, sqlite3_stmt *s, json_t *out)
{
    json_array_append_new(out, dataset_json(r, s));
}

static void document_row(void *ctx, sqlite3_stmt *s, json_t *out)
{
    (void)ctx;
    json_array_append_new(out, rag_document_json(s));
}

static json_t *page_json(json_t *data, long page, long limit, long total)
{
    return json_pack("{s:o, s:b, s:I, s:I, s:I}", "data", data, "has_more",
                     (long)page * limit < total, "limit", (json_int_t)limit, "total",
                     (json_int_t)total, "page", (json_int_t)page);
}

json_t *octo_rag_dataset_list(octo_rag *r, const char *owner, long page, long limit,
                              const char *keyword, octo_rag_status *st)
{
    json_t *data = json_array();
    const char *text[2] = {owner, keyword};
    rag_lock(r);
    long total = rag_page(r, "SELECT count(*) FROM datasets WHERE owner = ? AND "
                             "(?2 IS NULL OR instr(name, ?2) > 0)",
                          "SELECT " DS_COLS " FROM datasets ds WHERE ds.owner = ? AND (?2 IS "
                          "NULL OR instr(ds.name, ?2) > 0) ORDER BY ds.created_at DESC, "
                          "ds.rowid DESC LIMIT ? OFFSET ?",
                          text, 2, page, limit, dataset_row, r, data);
    rag_unlock(r);
    rag_ok(st);
    return page_json(data, page, limit, total);
}

json_t *octo_rag_dataset_get(octo_rag *r, const char *owner, const char *id,
                             octo_rag_status *st)
{
    rag_lock(r);
    json_t *j = dataset_fetch(r, owner, id);
    rag_unlock(r);
    if (!j) return rag_fail(st, 404, "not_found", "Dataset not found.");
    rag_ok(st);
    return j;
}

json_t *octo_rag_dataset_update(octo_rag *r, const char *owner, const char *id,
                                const json_t *body, octo_rag_status *st)
{
    const char *name, *desc, *tech, *perm;
    if (!check_dataset_body(r, body, false, &name, &desc, &tech, &perm, st)) return NULL;
    const json_t *rm = json_object_get(body, "retrieval_model");
    char *rms = rm && json_is_object(rm) ? json_dumps(rm, JSON_COMPACT) : NULL;
    json_t *out = NULL;
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, id)) {
        rag_unlock(r);
        free(rms);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    /* the technique may be chosen once, not switched once documents are in */
    sqlite3_stmt *s = rag_prep(r, "SELECT indexing_technique, (SELECT count(*) FROM documents "
                                  "WHERE dataset_id = ?1) FROM datasets WHERE id = ?1");
    bool clash = false;
    if (s) {
        rag_bind_text(s, 1, id);
        if (sqlite3_step(s) == SQLITE_ROW && tech && sqlite3_column_int64(s, 1) > 0 &&
            strcmp(rag_col_text(s, 0), tech))
            clash = true;
    }
    sqlite3_finalize(s);
    if (clash) {
        rag_unlock(r);
        free(rms);
        return rag_fail(st, 400, "invalid_param", "indexing_technique cannot change once the "
                        "dataset has documents");
    }
    s = rag_prep(r, "UPDATE datasets SET name = coalesce(?, name), description = "
                    "coalesce(?, description), indexing_technique = coalesce(?, "
                    "indexing_technique), permission = coalesce(?, permission), "
                    "retrieval_model = coalesce(?, retrieval_model), updated_at = ? WHERE "
                    "id = ? AND owner = ?");
    if (s) {
        rag_bind_text(s, 1, name);
        rag_bind_text(s, 2, desc);
        rag_bind_text(s, 3, tech);
        rag_bind_text(s, 4, perm);
        rag_bind_text(s, 5, rms);
        sqlite3_bind_int64(s, 6, octo_unix_time());
        rag_bind_text(s, 7, id);
        rag_bind_text(s, 8, owner);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) out = dataset_fetch(r, owner, id);
        else if (rc == SQLITE_CONSTRAINT)
            rag_fail(st, 409, "dataset_name_duplicate", "The dataset name already exists. "
                     "Please modify your dataset name.");
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    free(rms);
    if (out) rag_ok(st);
    else if (st->http == 200 || !st->http) rag_fail(st, 500, "internal_error", "update failed");
    return out;
}

/* The stored files of the documents matching where_sql (locked), to be
 * removed once their rows are gone: a kill in between leaves an orphan
 * file (swept at the next open), never a row without its file. */
typedef struct paths {
    char **p;
    size_t n;
} paths;

static void files_of(octo_rag *r, const char *where_sql, const char *arg, paths *out)
{
    char sql[256], path[OCTO_LIMIT_PATH_BYTES];
    memset(out, 0, sizeof *out);
    snprintf(sql, sizeof sql, "SELECT id, file_name FROM documents WHERE %s", where_sql);
    sqlite3_stmt *s = rag_prep(r, sql);
    if (!s) return;
    rag_bind_text(s, 1, arg);
    size_t cap = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *dot = strrchr(rag_col_text(s, 1), '.');
        snprintf(path, sizeof path, "%s/%s%.16s", r->files_dir, rag_col_text(s, 0),
                 dot ? dot : "");
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            char **np = octo_realloc(out->p, cap * sizeof *np);
            if (!np) break;
            out->p = np;
        }
        if (!(out->p[out->n] = octo_strdup(path))) break;
        out->n++;
    }
    sqlite3_finalize(s);
}

static void files_remove(paths *ps, bool do_unlink)
{
    for (size_t i = 0; i < ps->n; i++) {
        if (do_unlink) unlink(ps->p[i]);
        octo_free(ps->p[i]);
    }
    octo_free(ps->p);
    memset(ps, 0, sizeof *ps);
}

json_t *octo_rag_dataset_delete(octo_rag *r, const char *owner, const char *id,
                                octo_rag_status *st)
{
    paths files = {0};
    rag_lock(r);
    bool ok = rag_dataset_owned(r, owner, id);
    if (ok) {
        files_of(r, "dataset_id = ?", id, &files);
        sqlite3_stmt *s = rag_prep(r, "DELETE FROM datasets WHERE id = ?");
        ok = s != NULL;
        if (s) {
            rag_bind_text(s, 1, id);
            ok = sqlite3_step(s) == SQLITE_DONE;
        }
        sqlite3_finalize(s);
        rag_vecs_drop(r, id);
    } else {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    rag_unlock(r);
    files_remove(&files, ok);
    if (!ok) return rag_fail(st, 500, "internal_error", "delete failed");
    rag_ok(st);
    return json_null();
}

/* ==== documents ==== */

static json_t *doc_fetch(octo_rag *r, const char *dataset, const char *doc)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT " RAG_DOC_COLS " FROM documents d WHERE d.id = ? "
                                  "AND d.dataset_id = ?");
    json_t *j = NULL;
    if (!s) return NULL;
    rag_bind_text(s, 1, doc);
    rag_bind_text(s, 2, dataset);
    if (sqlite3_step(s) == SQLITE_ROW) j = rag_document_json(s);
    sqlite3_finalize(s);
    return j;
}

static void make_batch(char out[64])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char rnd[7];
    octo_random_hex(rnd, 6);
    unsigned long v = strtoul(rnd, NULL, 16) % 1000000;
    snprintf(out, 64, "%04d%02d%02d%02d%02d%02d%06lu", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, v);
}

/* Checks what create-by-text / create-by-file share and fixes the
 * dataset's technique on its first document. Locked. */
static bool doc_options(octo_rag *r, const char *dataset, const json_t *body, char **rule_json,
                        octo_rag_status *st)
{
    const char *tech = NULL;
    *rule_json = NULL;
    if (!read_technique(r, json_object_get(body, "indexing_technique"), &tech, st))
        return false;
    const json_t *form = json_object_get(body, "doc_form");
    const char *fs = json_is_string(form) ? json_string_value(form) : NULL;
    if (form && !json_is_null(form) &&
        (!fs || (strcmp(fs, "text_model") && strcmp(fs, "hierarchical_model"))))
        return rag_fail(st, 400, "invalid_param", "doc_form must be 'text_model' or "
                        "'hierarchical_model' (qa_model is not supported by this octo)"), false;
    const json_t *pr = json_object_get(body, "process_rule");
    rag_rules rules;
    if (!rag_rules_read(pr, &rules, st)) return false;
    bool hier_form = fs && !strcmp(fs, "hierarchical_model");
    if (hier_form != rules.hierarchical)
        return rag_fail(st, 400, "invalid_param", "doc_form 'hierarchical_model' goes with "
                        "process_rule.mode 'hierarchical', and only with it"), false;
    const json_t *rm = json_object_get(body, "retrieval_model");
    if (rm && !json_is_null(rm) && !rag_retrieval_check(r, rm, st)) return false;
    sqlite3_stmt *s = rag_prep(r, "SELECT indexing_technique FROM datasets WHERE id = ?");
    const char *have = NULL;
    char buf[32] = "";
    if (s) {
        rag_bind_text(s, 1, dataset);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
            octo_strlcpy(buf, rag_col_text(s, 0), sizeof buf);
            have = buf;
        }
    }
    sqlite3_finalize(s);
    if (!have && !tech)
        return rag_fail(st, 400, "invalid_param", "indexing_technique is required for the "
                        "dataset's first document"), false;
    if (have && tech && strcmp(have, tech))
        return rag_fail(st, 400, "invalid_param", "indexing_technique '%s' differs from the "
                        "dataset's '%s'", tech, have), false;
    if (!have) {
        s = rag_prep(r, "UPDATE datasets SET indexing_technique = ?, retrieval_model = "
                        "coalesce(retrieval_model, ?) WHERE id = ?");
        char *rms = rm && json_is_object(rm) ? json_dumps(rm, JSON_COMPACT) : NULL;
        if (s) {
            rag_bind_text(s, 1, tech);
            rag_bind_text(s, 2, rms);
            rag_bind_text(s, 3, dataset);
            if (sqlite3_step(s) != SQLITE_DONE) OCTO_LOG_WARN("%s", sqlite3_errmsg(r->db));
        }
        sqlite3_finalize(s);
        free(rms);
    }
    *rule_json = pr && !json_is_null(pr) ? json_dumps(pr, JSON_COMPACT)
                                         : strdup("{\"mode\":\"automatic\"}");
    if (!*rule_json) return rag_fail(st, 500, "internal_error", "out of memory"), false;
    return true;
}

/* Stores the file and the document row; the worker does the rest. */
static json_t *doc_create(octo_rag *r, const char *owner, const char *dataset,
                          const json_t *body, const char *name, const char *source,
                          const void *bytes, size_t len, octo_rag_status *st)
{
    char id[37], batch[64], fname[96];
    char *rule = NULL;
    json_t *out = NULL;
    rag_uuid(id);
    make_batch(batch);
    const char *dot = strrchr(name, '.');
    snprintf(fname, sizeof fname, "%s%.16s", id, dot ? dot : "");
    /* the file first: a kill before the row commits leaves only an orphan file */
    if (rag_write_file(r->files_dir, fname, bytes, len) != OCTO_OK)
        return rag_fail(st, 500, "internal_error", "cannot store the file under %s",
                        r->files_dir);
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, dataset)) {
        rag_fail(st, 404, "not_found", "Dataset not found.");
        goto out;
    }
    if (!doc_options(r, dataset, body, &rule, st)) goto out;
    const char *form = json_string_value(json_object_get(body, "doc_form"));
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO documents(id, dataset_id, position, name, "
                                  "batch, data_source_type, file_name, process_rule, "
                                  "indexing_status, created_at, doc_form) VALUES (?1, ?2, "
                                  "(SELECT coalesce(max(position), 0) + 1 FROM documents WHERE "
                                  "dataset_id = ?2), ?3, ?4, ?5, ?6, ?7, 'waiting', ?8, ?9)");
    if (s) {
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, dataset);
        rag_bind_text(s, 3, name);
        rag_bind_text(s, 4, batch);
        rag_bind_text(s, 5, source);
        rag_bind_text(s, 6, name);
        rag_bind_text(s, 7, rule);
        sqlite3_bind_int64(s, 8, octo_unix_time());
        rag_bind_text(s, 9, form ? form : "text_model");
        if (sqlite3_step(s) == SQLITE_DONE) {
            json_t *d = doc_fetch(r, dataset, id);
            if (d) out = json_pack("{s:o, s:s}", "document", d, "batch", batch);
        }
    }
    sqlite3_finalize(s);
    if (!out) rag_fail(st, 500, "internal_error", "cannot store the document");
out:
    rag_unlock(r);
    free(rule);
    if (!out) {
        char path[OCTO_LIMIT_PATH_BYTES];
        snprintf(path, sizeof path, "%s/%s", r->files_dir, fname);
        unlink(path);
        return NULL;
    }
    rag_wake_worker(r);
    rag_ok(st);
    return out;
}

json_t *octo_rag_document_create_text(octo_rag *r, const char *owner, const char *dataset,
                                      const json_t *body, octo_rag_status *st)
{
    const char *name;
    if (!read_name(body, "name", 255, true, &name, st)) return NULL;
    const json_t *t = json_object_get(body, "text");
    if (!json_is_string(t) || json_string_length(t) == 0)
        return rag_fail(st, 400, "invalid_param", "text is required (a non-empty string)");
    /* stored as a .txt whatever the name says, so the worker reads it as text */
    char stored[300];
    const char *dot = strrchr(name, '.');
    bool md = dot && (!strcmp(dot, ".md") || !strcmp(dot, ".txt"));
    snprintf(stored, sizeof stored, "%s%s", name, md ? "" : ".txt");
    json_t *out = doc_create(r, owner, dataset, body, stored, "upload_file",
                             json_string_value(t), json_string_length(t), st);
    if (out && !md) { /* the name Dify shows is the one given */
        json_t *d = json_object_get(out, "document");
        json_object_set_new(d, "name", json_string(name));
        rag_lock(r);
        sqlite3_stmt *s = rag_prep(r, "UPDATE documents SET name = ? WHERE id = ?");
        if (s) {
            rag_bind_text(s, 1, name);
            rag_bind_text(s, 2, json_string_value(json_object_get(d, "id")));
            if (sqlite3_step(s) != SQLITE_DONE) OCTO_LOG_WARN("%s", sqlite3_errmsg(r->db));
        }
        sqlite3_finalize(s);
        rag_unlock(r);
    }
    return out;
}

json_t *octo_rag_document_create_file(octo_rag *r, const char *owner, const char *dataset,
                                      const json_t *data, const char *filename,
                                      const void *bytes, size_t len, octo_rag_status *st)
{
    json_t *empty = json_object();
    const json_t *body = data ? data : empty;
    json_t *out = NULL;
    if (!filename || !*filename || strchr(filename, '/')) {
        rag_fail(st, 400, "filename_not_exists_error", "The specified filename does not "
                 "exist.");
    } else if (!rag_extract_supported(filename)) {
        const char *dot = strrchr(filename, '.');
        rag_fail(st, 415, "unsupported_file_type", "File type not allowed: '%.20s' (pdf, "
                 "png, jpg, jpeg, txt, md, markdown, mdx, html, htm, csv)", dot ? dot : filename);
    } else if (len == 0) {
        rag_fail(st, 400, "invalid_param", "the file is empty");
    } else {
        out = doc_create(r, owner, dataset, body, filename, "upload_file", bytes, len, st);
    }
    json_decref(empty);
    return out;
}

json_t *octo_rag_indexing_status(octo_rag *r, const char *owner, const char *dataset,
                                 const char *batch, octo_rag_status *st)
{
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, dataset)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    json_t *data = json_array();
    sqlite3_stmt *s = rag_prep(r, "SELECT id, indexing_status, processing_started_at, "
                                  "parsing_completed_at, cleaning_completed_at, "
                                  "splitting_completed_at, completed_at, paused_at, error, "
                                  "stopped_at, completed_segments, total_segments FROM "
                                  "documents WHERE dataset_id = ? AND batch = ? ORDER BY "
                                  "position");
    if (s) {
        rag_bind_text(s, 1, dataset);
        rag_bind_text(s, 2, batch);
        while (sqlite3_step(s) == SQLITE_ROW) {
            json_t *e = json_pack("{s:s, s:s}", "id", rag_col_text(s, 0), "indexing_status",
                                  rag_col_text(s, 1));
            static const char *const ts[] = {"processing_started_at", "parsing_completed_at",
                                             "cleaning_completed_at", "splitting_completed_at",
                                             "completed_at", "paused_at"};
            for (int i = 0; i < 6; i++)
                json_object_set_new(e, ts[i], sqlite3_column_type(s, 2 + i) == SQLITE_NULL
                                    ? json_null()
                                    : json_integer((json_int_t)sqlite3_column_double(s, 2 + i)));
            json_object_set_new(e, "error", opt_text(s, 8));
            json_object_set_new(e, "stopped_at", sqlite3_column_type(s, 9) == SQLITE_NULL
                                ? json_null()
                                : json_integer((json_int_t)sqlite3_column_double(s, 9)));
            json_object_set_new(e, "completed_segments", json_integer(sqlite3_column_int64(s, 10)));
            json_object_set_new(e, "total_segments", json_integer(sqlite3_column_int64(s, 11)));
            json_array_append_new(data, e);
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (json_array_size(data) == 0) {
        json_decref(data);
        return rag_fail(st, 404, "not_found", "Documents not found.");
    }
    rag_ok(st);
    return json_pack("{s:o}", "data", data);
}

json_t *octo_rag_document_list(octo_rag *r, const char *owner, const char *dataset,
                               long page, long limit, const char *keyword, octo_rag_status *st)
{
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, dataset)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    json_t *data = json_array();
    const char *text[2] = {dataset, keyword};
    long total = rag_page(r, "SELECT count(*) FROM documents WHERE dataset_id = ? AND "
                             "(?2 IS NULL OR instr(name, ?2) > 0)",
                          "SELECT " RAG_DOC_COLS " FROM documents d WHERE d.dataset_id = ? AND "
                          "(?2 IS NULL OR instr(d.name, ?2) > 0) ORDER BY d.position DESC "
                          "LIMIT ? OFFSET ?",
                          text, 2, page, limit, document_row, NULL, data);
    rag_unlock(r);
    rag_ok(st);
    return page_json(data, page, limit, total);
}

json_t *octo_rag_document_get(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, octo_rag_status *st)
{
    rag_lock(r);
    json_t *d = rag_dataset_owned(r, owner, dataset) ? doc_fetch(r, dataset, doc) : NULL;
    if (d) json_object_set_new(d, "doc_metadata", rag_doc_metadata(r, doc));
    rag_unlock(r);
    if (!d) return rag_fail(st, 404, "not_found", "Document not found.");
    rag_ok(st);
    return d;
}

json_t *octo_rag_document_delete(octo_rag *r, const char *owner, const char *dataset,
                                 const char *doc, octo_rag_status *st)
{
    rag_lock(r);
    json_t *d = rag_dataset_owned(r, owner, dataset) ? doc_fetch(r, dataset, doc) : NULL;
    if (!d) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Document not found.");
    }
    json_decref(d);
    paths files;
    files_of(r, "id = ?", doc, &files);
    sqlite3_stmt *s = rag_prep(r, "DELETE FROM documents WHERE id = ?");
    bool ok = s != NULL;
    if (s) {
        rag_bind_text(s, 1, doc);
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    sqlite3_finalize(s);
    rag_vecs_drop(r, dataset);
    rag_unlock(r);
    files_remove(&files, ok);
    if (!ok) return rag_fail(st, 500, "internal_error", "delete failed");
    rag_ok(st);
    return json_null();
}

/* ==== updating a document ==== */

json_t *octo_rag_document_update(octo_rag *r, const char *owner, const char *dataset,
                                 const char *doc, const json_t *body, const char *filename,
                                 const void *bytes, size_t len, octo_rag_status *st)
{
    const char *name = NULL;
    if (!read_name(body, "name", 255, false, &name, st)) return NULL;
    const json_t *t = json_object_get(body, "text");
    if (t && !json_is_null(t) && (!json_is_string(t) || json_string_length(t) == 0))
        return rag_fail(st, 400, "invalid_param", "text must be a non-empty string");
    if (filename && !rag_extract_supported(filename))
        return rag_fail(st, 415, "unsupported_file_type", "File type not allowed: '%.40s'",
                        filename);
    if (filename && len == 0) return rag_fail(st, 400, "invalid_param", "the file is empty");
    const json_t *pr = json_object_get(body, "process_rule");
    rag_rules rules;
    if (pr && !json_is_null(pr) && !rag_rules_read(pr, &rules, st)) return NULL;
    char old_file[300] = "", status[24] = "", form[24] = "", batch[64], stored[300] = "";
    json_t *out = NULL;
    rag_lock(r);
    sqlite3_stmt *s = rag_dataset_owned(r, owner, dataset)
                          ? rag_prep(r, "SELECT file_name, indexing_status, doc_form FROM "
                                        "documents WHERE id = ? AND dataset_id = ?") : NULL;
    if (s) {
        rag_bind_text(s, 1, doc);
        rag_bind_text(s, 2, dataset);
        if (sqlite3_step(s) == SQLITE_ROW) {
            octo_strlcpy(old_file, rag_col_text(s, 0), sizeof old_file);
            octo_strlcpy(status, rag_col_text(s, 1), sizeof status);
            octo_strlcpy(form, rag_col_text(s, 2), sizeof form);
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (!status[0]) return rag_fail(st, 404, "not_found", "Document not found.");
    if (strcmp(status, "completed") && strcmp(status, "error") && strcmp(status, "paused"))
        return rag_fail(st, 400, "document_indexing", "The document is being indexed "
                        "(indexing_status '%s'); update it when that is done.", status);
    if (pr && !json_is_null(pr) && rules.hierarchical != !strcmp(form, "hierarchical_model"))
        return rag_fail(st, 400, "invalid_param", "process_rule.mode 'hierarchical' goes with "
                        "hierarchical_model documents only");
    /* the new original first, beside the old one; the old goes after the commit */
    const char *src = filename ? filename : json_is_string(t) ? (name ? name : old_file) : NULL;
    if (src) {
        const char *dot = strrchr(src, '.');
        bool text_ok = dot && (!strcmp(dot, ".txt") || !strcmp(dot, ".md"));
        snprintf(stored, sizeof stored, "%s%s", src, !filename && !text_ok ? ".txt" : "");
        char fname[96];
        dot = strrchr(stored, '.');
        snprintf(fname, sizeof fname, "%s%.16s", doc, dot ? dot : "");
        const void *data = filename ? bytes : json_string_value(t);
        size_t n = filename ? len : json_string_length(t);
        if (rag_write_file(r->files_dir, fname, data, n) != OCTO_OK)
            return rag_fail(st, 500, "internal_error", "cannot store the file");
    }
    make_batch(batch);
    char *rule = pr && !json_is_null(pr) ? json_dumps(pr, JSON_COMPACT) : NULL;
    rag_lock(r);
    s = rag_prep(r, "UPDATE documents SET name = coalesce(?1, name), file_name = coalesce(?2, "
                    "file_name), process_rule = coalesce(?3, process_rule), batch = ?4, "
                    "indexing_status = 'waiting', error = NULL, attempts = 0, "
                    "completed_at = NULL, stopped_at = NULL, processing_started_at = NULL "
                    "WHERE id = ?5");
    if (s) {
        rag_bind_text(s, 1, filename ? filename : name);
        rag_bind_text(s, 2, stored[0] ? stored : NULL);
        rag_bind_text(s, 3, rule);
        rag_bind_text(s, 4, batch);
        rag_bind_text(s, 5, doc);
        if (sqlite3_step(s) == SQLITE_DONE) {
            json_t *d = doc_fetch(r, dataset, doc);
            if (d) out = json_pack("{s:o, s:s}", "document", d, "batch", batch);
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    free(rule);
    if (!out) return rag_fail(st, 500, "internal_error", "cannot update the document");
    const char *od = strrchr(old_file, '.'), *nd = stored[0] ? strrchr(stored, '.') : NULL;
    if (stored[0] && strcmp(od ? od : "", nd ? nd : "")) { /* another extension: drop the old */
        char path[OCTO_LIMIT_PATH_BYTES];
        snprintf(path, sizeof path, "%s/%s%.16s", r->files_dir, doc, od ? od : "");
        unlink(path);
    }
    rag_wake_worker(r);
    rag_ok(st);
    return out;
}

json_t *octo_rag_documents_status(octo_rag *r, const char *owner, const char *dataset,
                                  const char *action, const json_t *body, octo_rag_status *st)
{
    int on = !strcmp(action, "enable") ? 1 : !strcmp(action, "disable") ? 0 : -1;
    if (on < 0)
        return rag_fail(st, 400, "invalid_param", "action must be 'enable' or 'disable' "
                        "(archive and un_archive are not supported by this octo)");
    const json_t *ids = json_object_get(body, "document_ids");
    size_t i;
    const json_t *id;
    if (!json_is_array(ids) || json_array_size(ids) == 0)
        return rag_fail(st, 400, "invalid_param", "document_ids must be a non-empty list");
    json_array_foreach(ids, i, id) if (!json_is_string(id))
        return rag_fail(st, 400, "invalid_param", "document_ids[%zu] must be a string", i);
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, dataset)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    bool ok = rag_exec(r, "BEGIN IMMEDIATE");
    json_array_foreach(ids, i, id) {
        sqlite3_stmt *s = ok ? rag_prep(r, "UPDATE documents SET enabled = ? WHERE id = ? AND "
                                           "dataset_id = ?") : NULL;
        ok = s != NULL;
        if (s) {
            sqlite3_bind_int(s, 1, on);
            rag_bind_text(s, 2, json_string_value(id));
            rag_bind_text(s, 3, dataset);
            ok = sqlite3_step(s) == SQLITE_DONE;
            if (ok && sqlite3_changes(r->db) == 0) {
                rag_fail(st, 404, "not_found", "Document not found: %.40s",
                         json_string_value(id));
                ok = false;
            }
        }
        sqlite3_finalize(s);
        if (!ok) break;
    }
    if (ok) ok = rag_exec(r, "COMMIT");
    else rag_exec(r, "ROLLBACK");
    rag_unlock(r);
    if (!ok) {
        if (st->http == 200 || !st->http) rag_fail(st, 500, "internal_error", "update failed");
        return NULL;
    }
    rag_ok(st);
    return json_pack("{s:s}", "result", "success");
}
