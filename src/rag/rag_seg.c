/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_seg — segments of a document (list, add, update, delete; added and
 * changed ones are embedded and indexed before the call returns) and the
 * metadata fields of a dataset with their per-document values.
 */
#include "rag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The document exists in an owned dataset; its status into status[]
 * (with " hierarchical_model" appended for such documents). */
static bool doc_owned(octo_rag *r, const char *owner, const char *dataset, const char *doc,
                      char status[40])
{
    sqlite3_stmt *s = rag_prep(r, "SELECT d.indexing_status || CASE d.doc_form WHEN "
                                  "'hierarchical_model' THEN ' hierarchical_model' ELSE '' END "
                                  "FROM documents d JOIN datasets ds"
                                  " ON ds.id = d.dataset_id WHERE d.id = ? AND ds.id = ? AND "
                                  "ds.owner = ?");
    bool ok = false;
    if (!s) return false;
    rag_bind_text(s, 1, doc);
    rag_bind_text(s, 2, dataset);
    rag_bind_text(s, 3, owner);
    if (sqlite3_step(s) == SQLITE_ROW) {
        ok = true;
        if (status) octo_strlcpy(status, rag_col_text(s, 0), 40);
    }
    sqlite3_finalize(s);
    return ok;
}

static void segment_row(void *r, sqlite3_stmt *s, json_t *out)
{
    (void)r;
    json_array_append_new(out, rag_segment_json(s));
}

/* a hierarchical document's segment carries its child chunks */
static void segment_row_children(void *r, sqlite3_stmt *s, json_t *out)
{
    json_t *j = rag_segment_json(s);
    json_object_set_new(j, "child_chunks", rag_children_of(r, rag_col_text(s, 0)));
    json_array_append_new(out, j);
}

json_t *octo_rag_segment_list(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, const char *keyword, const char *status,
                              long page, long limit, octo_rag_status *st)
{
    char dstat[40] = "";
    rag_lock(r);
    if (!doc_owned(r, owner, dataset, doc, dstat)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Document not found.");
    }
    bool hier = strstr(dstat, "hierarchical_model") != NULL;
    json_t *data = json_array();
    const char *text[3] = {doc, keyword, status};
    long total = rag_page(r, "SELECT count(*) FROM segments s WHERE s.document_id = ?1 AND "
                             "(?2 IS NULL OR instr(s.content, ?2) > 0) AND (?3 IS NULL OR "
                             "s.status = ?3)",
                          "SELECT " RAG_SEG_COLS " FROM segments s WHERE s.document_id = ?1 "
                          "AND (?2 IS NULL OR instr(s.content, ?2) > 0) AND (?3 IS NULL OR "
                          "s.status = ?3) ORDER BY s.position LIMIT ?4 OFFSET ?5",
                          text, 3, page, limit, hier ? segment_row_children : segment_row, r,
                          data);
    rag_unlock(r);
    rag_ok(st);
    return json_pack("{s:o, s:s, s:b, s:I, s:I, s:I}", "data", data, "doc_form",
                     hier ? "hierarchical_model" : "text_model",
                     "has_more", (long)page * limit < total, "limit", (json_int_t)limit,
                     "total", (json_int_t)total, "page", (json_int_t)page);
}

static json_t *seg_fetch(octo_rag *r, int64_t rid)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT " RAG_SEG_COLS " FROM segments s WHERE s.rid = ?");
    json_t *j = NULL;
    if (!s) return NULL;
    sqlite3_bind_int64(s, 1, rid);
    if (sqlite3_step(s) == SQLITE_ROW) j = rag_segment_json(s);
    sqlite3_finalize(s);
    return j;
}

/* keywords: absent/null, or a list of strings (stored as given). */
static bool read_keywords(const json_t *v, char **out, octo_rag_status *st)
{
    *out = NULL;
    if (!v || json_is_null(v)) return true;
    size_t i;
    const json_t *k;
    if (!json_is_array(v)) goto bad;
    json_array_foreach(v, i, k) if (!json_is_string(k)) goto bad;
    *out = json_dumps(v, JSON_COMPACT);
    return *out != NULL;
bad:
    rag_fail(st, 400, "invalid_param", "keywords must be a list of strings");
    return false;
}

json_t *octo_rag_segment_add(octo_rag *r, const char *owner, const char *dataset,
                             const char *doc, const json_t *body, octo_rag_status *st)
{
    const json_t *segs = json_object_get(body, "segments");
    size_t n = json_array_size(segs);
    if (!json_is_array(segs) || n == 0 || n > 1000)
        return rag_fail(st, 400, "invalid_param", "segments must be a list of 1 to 1000 "
                        "{content, answer, keywords} objects");
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_object_get(json_array_get(segs, i), "content");
        if (!json_is_string(c) || json_string_length(c) == 0)
            return rag_fail(st, 400, "invalid_param", "segments[%zu].content is required", i);
    }
    char status[40] = "";
    int64_t *rids = octo_calloc(n, sizeof *rids);
    char **texts = octo_calloc(n, sizeof *texts);
    json_t *out = NULL;
    if (!rids || !texts) goto done;
    rag_lock(r);
    if (!doc_owned(r, owner, dataset, doc, status)) {
        rag_unlock(r);
        rag_fail(st, 404, "not_found", "Document not found.");
        goto done;
    }
    if (strstr(status, "hierarchical_model")) {
        rag_unlock(r);
        rag_fail(st, 400, "invalid_param", "segments of a hierarchical_model document come "
                 "from its parent/child split; add child chunks to a segment instead");
        goto done;
    }
    if (strcmp(status, "completed")) {
        rag_unlock(r);
        rag_fail(st, 400, "invalid_param", "The document is being processed and cannot be "
                 "edited (indexing_status '%s').", status);
        goto done;
    }
    bool ok = rag_exec(r, "BEGIN IMMEDIATE");
    sqlite3_stmt *s = ok ? rag_prep(r, "INSERT INTO segments(id, dataset_id, document_id, "
                                       "position, content, answer, word_count, tokens, "
                                       "keywords, status, created_at) VALUES (?, ?, ?, (SELECT "
                                       "coalesce(max(position), 0) + 1 FROM segments WHERE "
                                       "document_id = ?3), ?, ?, ?, ?, ?, 'indexing', ?)")
                         : NULL;
    ok = s != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *e = json_array_get(segs, i);
        const char *content = json_string_value(json_object_get(e, "content"));
        const json_t *ans = json_object_get(e, "answer");
        char *kw = NULL, id[37];
        if (!read_keywords(json_object_get(e, "keywords"), &kw, st)) {
            ok = false;
            break;
        }
        rag_uuid(id);
        size_t len = strlen(content);
        sqlite3_reset(s);
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, dataset);
        rag_bind_text(s, 3, doc);
        rag_bind_text(s, 4, content);
        rag_bind_text(s, 5, json_is_string(ans) ? json_string_value(ans) : NULL);
        sqlite3_bind_int64(s, 6, (sqlite3_int64)rag_word_count(content, len));
        sqlite3_bind_int64(s, 7, (sqlite3_int64)rag_count_tokens(&r->m, content, len));
        rag_bind_text(s, 8, kw);
        sqlite3_bind_int64(s, 9, octo_unix_time());
        free(kw);
        ok = sqlite3_step(s) == SQLITE_DONE;
        rids[i] = sqlite3_last_insert_rowid(r->db);
        texts[i] = octo_strdup(content);
        ok = ok && texts[i];
    }
    sqlite3_finalize(s);
    if (ok) ok = rag_exec(r, "UPDATE documents SET word_count = (SELECT coalesce(sum("
                             "word_count), 0) FROM segments WHERE document_id = documents.id) "
                             "WHERE id = (SELECT document_id FROM segments WHERE rid = "
                             "last_insert_rowid())");
    if (ok) ok = rag_exec(r, "COMMIT");
    else rag_exec(r, "ROLLBACK");
    rag_unlock(r);
    if (!ok) {
        if (st->http == 200 || !st->http) rag_fail(st, 500, "internal_error", "cannot store "
                                                   "the segments");
        goto done;
    }
    char err[300] = "";
    if (rag_index_segments(r, dataset, rids, texts, n, err, sizeof err) != OCTO_OK) {
        rag_lock(r); /* leave nothing half-indexed behind */
        for (size_t i = 0; i < n; i++) {
            sqlite3_stmt *d = rag_prep(r, "DELETE FROM segments WHERE rid = ?");
            if (d) {
                sqlite3_bind_int64(d, 1, rids[i]);
                if (sqlite3_step(d) != SQLITE_DONE) OCTO_LOG_WARN("%s", sqlite3_errmsg(r->db));
            }
            sqlite3_finalize(d);
        }
        rag_vecs_drop(r, dataset);
        rag_unlock(r);
        rag_fail(st, 400, "invalid_param", "%s", err);
        goto done;
    }
    json_t *data = json_array();
    rag_lock(r);
    for (size_t i = 0; i < n; i++) json_array_append_new(data, seg_fetch(r, rids[i]));
    rag_unlock(r);
    out = json_pack("{s:o, s:s}", "data", data, "doc_form", "text_model");
    rag_ok(st);
done:
    for (size_t i = 0; texts && i < n; i++) octo_free(texts[i]);
    octo_free(texts);
    octo_free(rids);
    return out;
}

static int64_t seg_rid(octo_rag *r, const char *doc, const char *seg)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT rid FROM segments WHERE id = ? AND document_id = ?");
    int64_t rid = 0;
    if (!s) return 0;
    rag_bind_text(s, 1, seg);
    rag_bind_text(s, 2, doc);
    if (sqlite3_step(s) == SQLITE_ROW) rid = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rid;
}

json_t *octo_rag_segment_update(octo_rag *r, const char *owner, const char *dataset,
                                const char *doc, const char *seg, const json_t *body,
                                octo_rag_status *st)
{
    const json_t *e = json_object_get(body, "segment");
    if (!json_is_object(e))
        return rag_fail(st, 400, "invalid_param", "segment must be an object {content, "
                        "answer, keywords, enabled}");
    const json_t *c = json_object_get(e, "content"), *en = json_object_get(e, "enabled");
    const json_t *ans = json_object_get(e, "answer");
    if (c && !json_is_null(c) && (!json_is_string(c) || json_string_length(c) == 0))
        return rag_fail(st, 400, "invalid_param", "segment.content must be a non-empty string");
    if (en && !json_is_null(en) && !json_is_boolean(en))
        return rag_fail(st, 400, "invalid_param", "segment.enabled must be a boolean");
    char *kw = NULL;
    if (!read_keywords(json_object_get(e, "keywords"), &kw, st)) return NULL;
    const char *content = json_is_string(c) ? json_string_value(c) : NULL;
    char status[40];
    rag_lock(r);
    int64_t rid = doc_owned(r, owner, dataset, doc, status) ? seg_rid(r, doc, seg) : 0;
    if (!rid) {
        rag_unlock(r);
        free(kw);
        return rag_fail(st, 404, "not_found", "Segment not found.");
    }
    if (content && strstr(status, "hierarchical_model")) {
        rag_unlock(r);
        free(kw);
        return rag_fail(st, 400, "invalid_param", "the content of a hierarchical_model "
                        "segment is its parent text: change its child chunks instead");
    }
    sqlite3_stmt *s = rag_prep(r, "UPDATE segments SET content = coalesce(?1, content), "
                                  "answer = coalesce(?2, answer), enabled = coalesce(?3, "
                                  "enabled), keywords = CASE WHEN ?4 IS NOT NULL THEN ?4 WHEN "
                                  "?1 IS NOT NULL THEN NULL ELSE keywords END, word_count = "
                                  "coalesce(?5, word_count), tokens = coalesce(?6, tokens) "
                                  "WHERE rid = ?7");
    bool ok = s != NULL;
    if (s) {
        rag_bind_text(s, 1, content);
        rag_bind_text(s, 2, json_is_string(ans) ? json_string_value(ans) : NULL);
        if (json_is_boolean(en)) sqlite3_bind_int(s, 3, json_is_true(en));
        else sqlite3_bind_null(s, 3);
        rag_bind_text(s, 4, kw);
        if (content) {
            size_t len = strlen(content);
            sqlite3_bind_int64(s, 5, (sqlite3_int64)rag_word_count(content, len));
            sqlite3_bind_int64(s, 6, (sqlite3_int64)rag_count_tokens(&r->m, content, len));
        }
        sqlite3_bind_int64(s, 7, rid);
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    sqlite3_finalize(s);
    bool had_kw = kw != NULL;
    free(kw);
    char *text = NULL;
    if (ok && (content || had_kw)) {
        s = rag_prep(r, "SELECT content FROM segments WHERE rid = ?");
        if (s) {
            sqlite3_bind_int64(s, 1, rid);
            if (sqlite3_step(s) == SQLITE_ROW) text = octo_strdup(rag_col_text(s, 0));
        }
        sqlite3_finalize(s);
    }
    rag_vecs_drop(r, dataset); /* content or enabled changed */
    rag_unlock(r);
    if (!ok) return rag_fail(st, 500, "internal_error", "update failed");
    if (text) {
        char err[300] = "";
        octo_err rc = rag_index_segments(r, dataset, &rid, &text, 1, err, sizeof err);
        octo_free(text);
        if (rc) return rag_fail(st, 400, "invalid_param", "%s", err);
    }
    rag_lock(r);
    json_t *j = seg_fetch(r, rid);
    rag_unlock(r);
    rag_ok(st);
    return json_pack("{s:o, s:s}", "data", j ? j : json_null(), "doc_form", "text_model");
}

json_t *octo_rag_segment_delete(octo_rag *r, const char *owner, const char *dataset,
                                const char *doc, const char *seg, octo_rag_status *st)
{
    rag_lock(r);
    int64_t rid = doc_owned(r, owner, dataset, doc, NULL) ? seg_rid(r, doc, seg) : 0;
    bool ok = false;
    if (rid) {
        sqlite3_stmt *s = rag_prep(r, "DELETE FROM segments WHERE rid = ?");
        if (s) {
            sqlite3_bind_int64(s, 1, rid);
            ok = sqlite3_step(s) == SQLITE_DONE;
        }
        sqlite3_finalize(s);
        rag_vecs_drop(r, dataset);
    }
    rag_unlock(r);
    if (!rid) return rag_fail(st, 404, "not_found", "Segment not found.");
    if (!ok) return rag_fail(st, 500, "internal_error", "delete failed");
    rag_ok(st);
    return json_null();
}

/* ==== metadata ==== */

json_t *rag_doc_metadata(octo_rag *r, const char *doc)
{
    json_t *a = json_array();
    sqlite3_stmt *s = rag_prep(r, "SELECT f.id, f.name, f.type, m.value FROM "
                                  "document_metadata m JOIN metadata_fields f ON f.id = "
                                  "m.field_id WHERE m.document_id = ? ORDER BY f.name");
    if (!s) return a;
    rag_bind_text(s, 1, doc);
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "id", rag_col_text(s, 0),
                                           "name", rag_col_text(s, 1), "type",
                                           rag_col_text(s, 2), "value", rag_col_text(s, 3)));
    sqlite3_finalize(s);
    return a;
}

static const char *const k_builtin[] = {"document_name", "uploader", "upload_date",
                                        "last_update_date", "source", NULL};

static bool check_field_name(const json_t *v, const char **name, octo_rag_status *st)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255)
        return rag_fail(st, 400, "invalid_param", "name is required (1 to 255 bytes)"), false;
    *name = json_string_value(v);
    for (size_t i = 0; k_builtin[i]; i++)
        if (!strcmp(*name, k_builtin[i]))
            return rag_fail(st, 400, "invalid_param", "'%s' is a built-in field name",
                            *name), false;
    return true;
}

json_t *octo_rag_metadata_create(octo_rag *r, const char *owner, const char *dataset,
                                 const json_t *body, octo_rag_status *st)
{
    const char *name, *type = json_string_value(json_object_get(body, "type"));
    if (!type || (strcmp(type, "string") && strcmp(type, "number") && strcmp(type, "time")))
        return rag_fail(st, 400, "invalid_param", "type must be 'string', 'number' or 'time'");
    if (!check_field_name(json_object_get(body, "name"), &name, st)) return NULL;
    char id[37];
    rag_uuid(id);
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, dataset)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO metadata_fields(id, dataset_id, name, type) "
                                  "VALUES (?, ?, ?, ?)");
    int rc = SQLITE_ERROR;
    if (s) {
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, dataset);
        rag_bind_text(s, 3, name);
        rag_bind_text(s, 4, type);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (rc == SQLITE_CONSTRAINT)
        return rag_fail(st, 400, "invalid_param", "Metadata name already exists: '%s'", name);
    if (rc != SQLITE_DONE) return rag_fail(st, 500, "internal_error", "cannot store the field");
    rag_ok(st);
    return json_pack("{s:s, s:s, s:s}", "id", id, "type", type, "name", name);
}

json_t *octo_rag_metadata_list(octo_rag *r, const char *owner, const char *dataset,
                               octo_rag_status *st)
{
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, dataset)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    json_t *a = json_array();
    sqlite3_stmt *s = rag_prep(r, "SELECT f.id, f.name, f.type, (SELECT count(*) FROM "
                                  "document_metadata m WHERE m.field_id = f.id) FROM "
                                  "metadata_fields f WHERE f.dataset_id = ? ORDER BY f.name");
    if (s) {
        rag_bind_text(s, 1, dataset);
        while (sqlite3_step(s) == SQLITE_ROW)
            json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}", "id",
                                               rag_col_text(s, 0), "name", rag_col_text(s, 1),
                                               "type", rag_col_text(s, 2), "count",
                                               (json_int_t)sqlite3_column_int64(s, 3)));
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    rag_ok(st);
    return json_pack("{s:o, s:b}", "doc_metadata", a, "built_in_field_enabled", false);
}

static bool field_owned(octo_rag *r, const char *owner, const char *dataset, const char *field,
                        char type[16])
{
    sqlite3_stmt *s = rag_prep(r, "SELECT f.type FROM metadata_fields f JOIN datasets ds ON "
                                  "ds.id = f.dataset_id WHERE f.id = ? AND ds.id = ? AND "
                                  "ds.owner = ?");
    bool ok = false;
    if (!s) return false;
    rag_bind_text(s, 1, field);
    rag_bind_text(s, 2, dataset);
    rag_bind_text(s, 3, owner);
    if (sqlite3_step(s) == SQLITE_ROW) {
        ok = true;
        if (type) octo_strlcpy(type, rag_col_text(s, 0), 16);
    }
    sqlite3_finalize(s);
    return ok;
}

json_t *octo_rag_metadata_update(octo_rag *r, const char *owner, const char *dataset,
                                 const char *field, const json_t *body, octo_rag_status *st)
{
    const char *name;
    char type[16];
    if (!check_field_name(json_object_get(body, "name"), &name, st)) return NULL;
    rag_lock(r);
    if (!field_owned(r, owner, dataset, field, type)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Metadata not found.");
    }
    sqlite3_stmt *s = rag_prep(r, "UPDATE metadata_fields SET name = ? WHERE id = ?");
    int rc = SQLITE_ERROR;
    if (s) {
        rag_bind_text(s, 1, name);
        rag_bind_text(s, 2, field);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (rc == SQLITE_CONSTRAINT)
        return rag_fail(st, 400, "invalid_param", "Metadata name already exists: '%s'", name);
    if (rc != SQLITE_DONE) return rag_fail(st, 500, "internal_error", "update failed");
    rag_ok(st);
    return json_pack("{s:s, s:s, s:s}", "id", field, "type", type, "name", name);
}

json_t *octo_rag_metadata_delete(octo_rag *r, const char *owner, const char *dataset,
                                 const char *field, octo_rag_status *st)
{
    rag_lock(r);
    bool ok = field_owned(r, owner, dataset, field, NULL);
    if (ok) {
        sqlite3_stmt *s = rag_prep(r, "DELETE FROM metadata_fields WHERE id = ?");
        ok = s != NULL;
        if (s) {
            rag_bind_text(s, 1, field);
            ok = sqlite3_step(s) == SQLITE_DONE;
        }
        sqlite3_finalize(s);
    }
    rag_unlock(r);
    if (!ok) return rag_fail(st, 404, "not_found", "Metadata not found.");
    rag_ok(st);
    return json_null();
}

/* A value fit for the field's type: numbers parse, times are integers
 * (unix seconds, as Dify stores them). */
static bool value_text(const json_t *v, const char *type, char *out, size_t cap)
{
    if (json_is_string(v)) {
        octo_strlcpy(out, json_string_value(v), cap);
        if (strcmp(type, "string") == 0) return true;
        double d;
        return octo_parse_double(out, -1e300, 1e300, &d) == OCTO_OK;
    }
    if (json_is_integer(v)) {
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
        return true;
    }
    if (json_is_real(v) && strcmp(type, "time")) {
        snprintf(out, cap, "%.17g", json_real_value(v));
        return true;
    }
    return false;
}

json_t *octo_rag_document_metadata_set(octo_rag *r, const char *owner, const char *dataset,
                                       const json_t *body, octo_rag_status *st)
{
    const json_t *ops = json_object_get(body, "operation_data");
    if (!json_is_array(ops))
        return rag_fail(st, 400, "invalid_param", "operation_data must be a list of "
                        "{document_id, metadata_list}");
    rag_lock(r);
    if (!rag_dataset_owned(r, owner, dataset)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Dataset not found.");
    }
    bool ok = rag_exec(r, "BEGIN IMMEDIATE");
    size_t i, k;
    const json_t *op, *m;
    json_array_foreach(ops, i, op) {
        const char *doc = json_string_value(json_object_get(op, "document_id"));
        const json_t *list = json_object_get(op, "metadata_list");
        if (!ok) break;
        if (!doc || !json_is_array(list) || !doc_owned(r, owner, dataset, doc, NULL)) {
            rag_fail(st, doc && json_is_array(list) ? 404 : 400,
                     doc && json_is_array(list) ? "not_found" : "invalid_param",
                     "operation_data[%zu]: %s", i, doc && json_is_array(list)
                     ? "Document not found." : "document_id and metadata_list are required");
            ok = false;
            break;
        }
        sqlite3_stmt *s = rag_prep(r, "DELETE FROM document_metadata WHERE document_id = ?");
        if (s) {
            rag_bind_text(s, 1, doc);
            ok = sqlite3_step(s) == SQLITE_DONE;
        }
        sqlite3_finalize(s);
        json_array_foreach(list, k, m) {
            const char *fid = json_string_value(json_object_get(m, "id"));
            char type[16], val[1024];
            if (!ok) break;
            if (!fid || !field_owned(r, owner, dataset, fid, type)) {
                rag_fail(st, 404, "not_found", "operation_data[%zu].metadata_list[%zu]: "
                         "Metadata not found.", i, k);
                ok = false;
                break;
            }
            if (!value_text(json_object_get(m, "value"), type, val, sizeof val)) {
                rag_fail(st, 400, "invalid_param", "operation_data[%zu].metadata_list[%zu]: "
                         "the value does not fit the field's type '%s'", i, k, type);
                ok = false;
                break;
            }
            s = rag_prep(r, "INSERT INTO document_metadata(document_id, field_id, value) "
                            "VALUES (?, ?, ?)");
            ok = s != NULL;
            if (s) {
                rag_bind_text(s, 1, doc);
                rag_bind_text(s, 2, fid);
                rag_bind_text(s, 3, val);
                ok = sqlite3_step(s) == SQLITE_DONE;
            }
            sqlite3_finalize(s);
        }
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

/* ==== child chunks of hierarchical documents ==== */

static json_t *child_row_json(sqlite3_stmt *s)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I}", "id", rag_col_text(s, 0),
                     "segment_id", rag_col_text(s, 1), "content", rag_col_text(s, 2),
                     "position", (json_int_t)sqlite3_column_int64(s, 3), "word_count",
                     (json_int_t)sqlite3_column_int64(s, 4), "type", "automatic",
                     "created_at", (json_int_t)sqlite3_column_int64(s, 5), "updated_at",
                     (json_int_t)sqlite3_column_int64(s, 5));
}

static void child_row(void *ctx, sqlite3_stmt *s, json_t *out)
{
    (void)ctx;
    json_array_append_new(out, child_row_json(s));
}

#define CHILD_COLS "c.id, c.segment_id, c.content, c.position, c.word_count, c.created_at"

json_t *rag_children_of(octo_rag *r, const char *seg)
{
    json_t *a = json_array();
    sqlite3_stmt *s = rag_prep(r, "SELECT " CHILD_COLS " FROM child_chunks c WHERE "
                                  "c.segment_id = ? ORDER BY c.position");
    if (!s) return a;
    rag_bind_text(s, 1, seg);
    while (sqlite3_step(s) == SQLITE_ROW) json_array_append_new(a, child_row_json(s));
    sqlite3_finalize(s);
    return a;
}

/* The segment of an owned hierarchical document, or an error in st (locked). */
static bool child_target(octo_rag *r, const char *owner, const char *dataset, const char *doc,
                         const char *seg, octo_rag_status *st)
{
    if (!doc_owned(r, owner, dataset, doc, NULL) || !seg_rid(r, doc, seg))
        return rag_fail(st, 404, "not_found", "Segment not found."), false;
    sqlite3_stmt *s = rag_prep(r, "SELECT doc_form FROM documents WHERE id = ?");
    bool hier = false;
    if (s) {
        rag_bind_text(s, 1, doc);
        hier = sqlite3_step(s) == SQLITE_ROW && !strcmp(rag_col_text(s, 0),
                                                       "hierarchical_model");
    }
    sqlite3_finalize(s);
    if (!hier)
        return rag_fail(st, 400, "invalid_param", "child chunks belong to hierarchical_model "
                        "documents; this one is text_model"), false;
    return true;
}

json_t *octo_rag_child_list(octo_rag *r, const char *owner, const char *dataset,
                            const char *doc, const char *seg, const char *keyword, long page,
                            long limit, octo_rag_status *st)
{
    rag_lock(r);
    if (!child_target(r, owner, dataset, doc, seg, st)) {
        rag_unlock(r);
        return NULL;
    }
    json_t *a = json_array();
    const char *text[2] = {seg, keyword};
    long total = rag_page(r, "SELECT count(*) FROM child_chunks WHERE segment_id = ?1 AND "
                             "(?2 IS NULL OR instr(content, ?2) > 0)",
                          "SELECT " CHILD_COLS " FROM child_chunks c WHERE c.segment_id = ?1 "
                          "AND (?2 IS NULL OR instr(c.content, ?2) > 0) ORDER BY c.position "
                          "LIMIT ?3 OFFSET ?4",
                          text, 2, page, limit, child_row, NULL, a);
    rag_unlock(r);
    rag_ok(st);
    return json_pack("{s:o, s:I, s:I, s:I, s:I}", "data", a, "total", (json_int_t)total,
                     "total_pages", (json_int_t)((total + limit - 1) / limit), "page",
                     (json_int_t)page, "limit", (json_int_t)limit);
}

/* Embeds (high_quality) and writes a child's vector and FTS row. */
static octo_err index_child(octo_rag *r, const char *dataset, int64_t rid, const char *text,
                            char *err, size_t err_size)
{
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "SELECT indexing_technique FROM datasets WHERE id = ?");
    bool embed = false;
    if (s) {
        rag_bind_text(s, 1, dataset);
        embed = sqlite3_step(s) == SQLITE_ROW && !strcmp(rag_col_text(s, 0), "high_quality");
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    float *v = NULL;
    octo_err rc = OCTO_OK;
    if (embed) {
        size_t len = strlen(text);
        v = r->m.embed ? octo_malloc((size_t)r->m.embed_dim * sizeof *v) : NULL;
        rc = !r->m.embed ? OCTO_E_UNSUPPORTED : !v ? OCTO_E_NOMEM
             : r->m.embed(r->m.ctx, &text, &len, 1, false, v, err, err_size);
        if (rc) {
            octo_free(v);
            return rc;
        }
    }
    octo_buf tok;
    octo_buf_init(&tok, RAG_MAX_TEXT_BYTES);
    rc = rag_tokens(text, strlen(text), &tok);
    rag_lock(r);
    s = rc ? NULL : rag_prep(r, "UPDATE child_chunks SET embedding = ? WHERE rid = ?");
    if (s) {
        if (v) sqlite3_bind_blob(s, 1, v, (int)((size_t)r->m.embed_dim * sizeof *v),
                                 SQLITE_STATIC);
        else sqlite3_bind_null(s, 1);
        sqlite3_bind_int64(s, 2, rid);
        if (sqlite3_step(s) != SQLITE_DONE) rc = OCTO_E_IO;
    }
    sqlite3_finalize(s);
    s = rc ? NULL : rag_prep(r, "INSERT OR REPLACE INTO segments_fts(rowid, tokens) VALUES "
                                "(?, ?)");
    if (s) {
        sqlite3_bind_int64(s, 1, -rid);
        sqlite3_bind_text(s, 2, tok.data ? tok.data : "", (int)tok.len, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) rc = OCTO_E_IO;
    }
    sqlite3_finalize(s);
    rag_vecs_drop(r, dataset);
    rag_unlock(r);
    octo_buf_deinit(&tok);
    octo_free(v);
    if (rc && !err[0]) snprintf(err, err_size, "indexing failed: %s", octo_err_str(rc));
    return rc;
}

static json_t *child_fetch(octo_rag *r, int64_t rid)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT " CHILD_COLS " FROM child_chunks c WHERE c.rid = ?");
    json_t *j = NULL;
    if (!s) return NULL;
    sqlite3_bind_int64(s, 1, rid);
    if (sqlite3_step(s) == SQLITE_ROW) j = child_row_json(s);
    sqlite3_finalize(s);
    return j;
}

static const char *child_content(const json_t *body, octo_rag_status *st)
{
    const json_t *c = json_object_get(body, "content");
    if (!json_is_string(c) || json_string_length(c) == 0)
        return rag_fail(st, 400, "invalid_param", "content is required (a non-empty string)"),
               NULL;
    return json_string_value(c);
}

json_t *octo_rag_child_add(octo_rag *r, const char *owner, const char *dataset,
                           const char *doc, const char *seg, const json_t *body,
                           octo_rag_status *st)
{
    const char *content = child_content(body, st);
    if (!content) return NULL;
    char id[37];
    rag_uuid(id);
    rag_lock(r);
    if (!child_target(r, owner, dataset, doc, seg, st)) {
        rag_unlock(r);
        return NULL;
    }
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO child_chunks(id, segment_id, position, content, "
                                  "word_count, created_at) VALUES (?1, ?2, (SELECT "
                                  "coalesce(max(position), 0) + 1 FROM child_chunks WHERE "
                                  "segment_id = ?2), ?3, ?4, ?5)");
    int64_t rid = 0;
    if (s) {
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, seg);
        rag_bind_text(s, 3, content);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)rag_word_count(content, strlen(content)));
        sqlite3_bind_int64(s, 5, octo_unix_time());
        if (sqlite3_step(s) == SQLITE_DONE) rid = sqlite3_last_insert_rowid(r->db);
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (!rid) return rag_fail(st, 500, "internal_error", "cannot store the child chunk");
    char err[300] = "";
    if (index_child(r, dataset, rid, content, err, sizeof err) != OCTO_OK) {
        rag_lock(r);
        s = rag_prep(r, "DELETE FROM child_chunks WHERE rid = ?");
        if (s) {
            sqlite3_bind_int64(s, 1, rid);
            if (sqlite3_step(s) != SQLITE_DONE) OCTO_LOG_WARN("%s", sqlite3_errmsg(r->db));
        }
        sqlite3_finalize(s);
        rag_unlock(r);
        return rag_fail(st, 400, "invalid_param", "%s", err);
    }
    rag_lock(r);
    json_t *j = child_fetch(r, rid);
    rag_unlock(r);
    rag_ok(st);
    return json_pack("{s:o}", "data", j ? j : json_null());
}

static int64_t child_rid(octo_rag *r, const char *seg, const char *child)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT rid FROM child_chunks WHERE id = ? AND "
                                  "segment_id = ?");
    int64_t rid = 0;
    if (!s) return 0;
    rag_bind_text(s, 1, child);
    rag_bind_text(s, 2, seg);
    if (sqlite3_step(s) == SQLITE_ROW) rid = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rid;
}

json_t *octo_rag_child_update(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, const char *seg, const char *child,
                              const json_t *body, octo_rag_status *st)
{
    const char *content = child_content(body, st);
    if (!content) return NULL;
    rag_lock(r);
    int64_t rid = child_target(r, owner, dataset, doc, seg, st) ? child_rid(r, seg, child) : 0;
    if (!rid) {
        rag_unlock(r);
        return st->http == 400 ? NULL : rag_fail(st, 404, "not_found", "Child chunk not found.");
    }
    sqlite3_stmt *s = rag_prep(r, "UPDATE child_chunks SET content = ?, word_count = ? WHERE "
                                  "rid = ?");
    bool ok = false;
    if (s) {
        rag_bind_text(s, 1, content);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)rag_word_count(content, strlen(content)));
        sqlite3_bind_int64(s, 3, rid);
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    char err[300] = "";
    if (!ok) return rag_fail(st, 500, "internal_error", "update failed");
    if (index_child(r, dataset, rid, content, err, sizeof err) != OCTO_OK)
        return rag_fail(st, 400, "invalid_param", "%s", err);
    rag_lock(r);
    json_t *j = child_fetch(r, rid);
    rag_unlock(r);
    rag_ok(st);
    return json_pack("{s:o}", "data", j ? j : json_null());
}

json_t *octo_rag_child_delete(octo_rag *r, const char *owner, const char *dataset,
                              const char *doc, const char *seg, const char *child,
                              octo_rag_status *st)
{
    rag_lock(r);
    int64_t rid = child_target(r, owner, dataset, doc, seg, st) ? child_rid(r, seg, child) : 0;
    bool ok = false;
    if (rid) {
        sqlite3_stmt *s = rag_prep(r, "DELETE FROM child_chunks WHERE rid = ?");
        if (s) {
            sqlite3_bind_int64(s, 1, rid);
            ok = sqlite3_step(s) == SQLITE_DONE;
        }
        sqlite3_finalize(s);
        rag_vecs_drop(r, dataset);
    }
    rag_unlock(r);
    if (!rid) return st->http == 400 ? NULL : rag_fail(st, 404, "not_found",
                                                        "Child chunk not found.");
    if (!ok) return rag_fail(st, 500, "internal_error", "delete failed");
    rag_ok(st);
    return json_null();
}
