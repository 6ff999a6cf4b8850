/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rag_app — chat apps over knowledge bases, behind Dify's chat service
 * API: apps (octo's own endpoint: model, system prompt, datasets,
 * retrieval settings, a key of their own), conversations per (app, user),
 * messages with their retriever resources and usage, and one chat turn:
 * retrieve from the app's datasets, build the prompt (system prompt, the
 * context, the last turns, the query), ask the chat model through the
 * model client, store the exchange.
 *
 * It owns no model and no HTTP: streaming goes through a callback.
 */
#include "rag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_TURNS 4       /* earlier exchanges put in the prompt */
#define MAX_DATASETS 16       /* per app */
#define MAX_CONTEXT_BYTES (64u * 1024u)

static const char k_context_prompt[] =
    "Use the following context as your learned knowledge, inside <context></context> XML "
    "tags.\n<context>\n%s\n</context>\nWhen answering the user: if you don't know, just say "
    "that you don't know; if you are not sure, ask for clarification. Avoid mentioning that "
    "you obtained the information from the context, and answer in the language of the "
    "user's question.";

/* ==== apps ==== */

static json_t *app_json(sqlite3_stmt *s, bool with_key)
{
    json_t *cfg = rag_col_json(s, 3);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        cfg = json_object();
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "id", rag_col_text(s, 0), "name",
                          rag_col_text(s, 1), "mode", "chat", "created_at",
                          (json_int_t)sqlite3_column_int64(s, 4));
    json_object_update(j, cfg);
    json_decref(cfg);
    if (with_key) json_object_set_new(j, "api_key", json_string(rag_col_text(s, 2)));
    return j;
}

json_t *octo_rag_app_create(octo_rag *r, const char *owner, const json_t *body,
                            octo_rag_status *st)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name || !*name || strlen(name) > 255)
        return rag_fail(st, 400, "invalid_param", "name is required (1 to 255 bytes)");
    json_t *cfg = json_object();
    static const char *const strs[] = {"model", "system_prompt", "opening_statement",
                                       "description"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(body, strs[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_string(v)) {
            json_decref(cfg);
            return rag_fail(st, 400, "invalid_param", "%s must be a string", strs[i]);
        }
        json_object_set(cfg, strs[i], (json_t *)v);
    }
    const json_t *t = json_object_get(body, "temperature");
    if (t && !json_is_null(t)) {
        if (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > 2) {
            json_decref(cfg);
            return rag_fail(st, 400, "invalid_param", "temperature must be a number in 0..2");
        }
        json_object_set_new(cfg, "temperature", json_real(json_number_value(t)));
    }
    const json_t *mt = json_object_get(body, "max_tokens");
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1 ||
            json_integer_value(mt) > 65536) {
            json_decref(cfg);
            return rag_fail(st, 400, "invalid_param", "max_tokens must be an integer in "
                            "1..65536");
        }
        json_object_set(cfg, "max_tokens", (json_t *)mt);
    }
    const json_t *rm = json_object_get(body, "retrieval_model");
    if (rm && !json_is_null(rm)) {
        if (!rag_retrieval_check(r, rm, st)) {
            json_decref(cfg);
            return NULL;
        }
        json_object_set(cfg, "retrieval_model", (json_t *)rm);
    }
    const json_t *ids = json_object_get(body, "dataset_ids");
    size_t i;
    const json_t *d;
    if (ids && !json_is_null(ids) && (!json_is_array(ids) || json_array_size(ids) > MAX_DATASETS)) {
        json_decref(cfg);
        return rag_fail(st, 400, "invalid_param", "dataset_ids must be a list of at most %d "
                        "dataset ids", MAX_DATASETS);
    }
    rag_lock(r);
    json_array_foreach(ids, i, d) {
        if (!json_is_string(d) || !rag_dataset_owned(r, owner, json_string_value(d))) {
            rag_unlock(r);
            json_decref(cfg);
            return rag_fail(st, 404, "not_found", "dataset_ids[%zu]: Dataset not found.", i);
        }
    }
    json_object_set_new(cfg, "dataset_ids", ids ? json_incref((json_t *)ids) : json_array());
    char id[37], key[40] = "app-";
    rag_uuid(id);
    octo_random_hex(key + 4, 32);
    char *cs = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    json_t *out = NULL;
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO apps(id, owner, api_key, name, config, "
                                  "created_at) VALUES (?, ?, ?, ?, ?, ?)");
    if (s && cs) {
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, owner);
        rag_bind_text(s, 3, key);
        rag_bind_text(s, 4, name);
        rag_bind_text(s, 5, cs);
        sqlite3_bind_int64(s, 6, octo_unix_time());
        if (sqlite3_step(s) == SQLITE_DONE) {
            sqlite3_finalize(s);
            s = rag_prep(r, "SELECT id, name, api_key, config, created_at FROM apps WHERE "
                            "id = ?");
            if (s) {
                rag_bind_text(s, 1, id);
                if (sqlite3_step(s) == SQLITE_ROW) out = app_json(s, true);
            }
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    free(cs);
    if (!out) return rag_fail(st, 500, "internal_error", "cannot store the app");
    rag_ok(st);
    return out;
}

json_t *octo_rag_app_list(octo_rag *r, const char *owner, octo_rag_status *st)
{
    json_t *a = json_array();
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "SELECT id, name, api_key, config, created_at FROM apps "
                                  "WHERE owner = ? ORDER BY created_at, rowid");
    if (s) {
        rag_bind_text(s, 1, owner);
        while (sqlite3_step(s) == SQLITE_ROW) json_array_append_new(a, app_json(s, true));
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    rag_ok(st);
    return json_pack("{s:o}", "data", a);
}

json_t *octo_rag_app_delete(octo_rag *r, const char *owner, const char *id,
                            octo_rag_status *st)
{
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "DELETE FROM apps WHERE id = ? AND owner = ?");
    bool ok = false;
    if (s) {
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, owner);
        ok = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(r->db) > 0;
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (!ok) return rag_fail(st, 404, "not_found", "App not found.");
    rag_ok(st);
    return json_null();
}

bool octo_rag_app_of_key(octo_rag *r, const char *key, char id[40])
{
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "SELECT id FROM apps WHERE api_key = ?");
    bool ok = false;
    if (s) {
        rag_bind_text(s, 1, key);
        if (sqlite3_step(s) == SQLITE_ROW) {
            octo_strlcpy(id, rag_col_text(s, 0), 40);
            ok = true;
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    return ok;
}

/* The app's name, owner and config (locked). */
static json_t *app_load(octo_rag *r, const char *app, char owner[24], char *name, size_t cap)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT owner, name, config FROM apps WHERE id = ?");
    json_t *cfg = NULL;
    if (!s) return NULL;
    rag_bind_text(s, 1, app);
    if (sqlite3_step(s) == SQLITE_ROW) {
        if (owner) octo_strlcpy(owner, rag_col_text(s, 0), 24);
        if (name) octo_strlcpy(name, rag_col_text(s, 1), cap);
        cfg = rag_col_json(s, 2);
    }
    sqlite3_finalize(s);
    return cfg;
}

json_t *octo_rag_app_parameters(octo_rag *r, const char *app, octo_rag_status *st)
{
    rag_lock(r);
    json_t *cfg = app_load(r, app, NULL, NULL, 0);
    rag_unlock(r);
    if (!cfg) return rag_fail(st, 404, "not_found", "App not found.");
    const char *open = json_string_value(json_object_get(cfg, "opening_statement"));
    json_t *j = json_pack(
        "{s:s, s:[], s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:b}, s:[], s:{s:b},"
        " s:{s:{s:b}}, s:{s:I, s:I, s:I, s:I}}",
        "opening_statement", open ? open : "", "suggested_questions",
        "suggested_questions_after_answer", "enabled", false, "speech_to_text", "enabled",
        false, "text_to_speech", "enabled", false, "retriever_resource", "enabled", true,
        "annotation_reply", "enabled", false, "user_input_form", "sensitive_word_avoidance",
        "enabled", false, "file_upload", "image", "enabled", false, "system_parameters",
        "file_size_limit", (json_int_t)0, "image_file_size_limit", (json_int_t)0,
        "audio_file_size_limit", (json_int_t)0, "video_file_size_limit", (json_int_t)0);
    json_decref(cfg);
    rag_ok(st);
    return j;
}

json_t *octo_rag_app_info(octo_rag *r, const char *app, octo_rag_status *st)
{
    char name[256] = "";
    rag_lock(r);
    json_t *cfg = app_load(r, app, NULL, name, sizeof name);
    rag_unlock(r);
    if (!cfg) return rag_fail(st, 404, "not_found", "App not found.");
    const char *desc = json_string_value(json_object_get(cfg, "description"));
    json_t *j = json_pack("{s:s, s:s, s:[], s:s, s:s}", "name", name, "description",
                          desc ? desc : "", "tags", "mode", "chat", "author_name", "octo");
    json_decref(cfg);
    rag_ok(st);
    return j;
}

/* ==== conversations and messages ==== */

static json_t *conv_json(sqlite3_stmt *s)
{
    json_t *inputs = rag_col_json(s, 2);
    if (!json_is_object(inputs)) {
        json_decref(inputs);
        inputs = json_object();
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:I}", "id", rag_col_text(s, 0), "name",
                     rag_col_text(s, 1), "inputs", inputs, "status", "normal", "introduction",
                     "", "created_at", (json_int_t)sqlite3_column_int64(s, 3), "updated_at",
                     (json_int_t)sqlite3_column_int64(s, 4));
}

json_t *octo_rag_conversations(octo_rag *r, const char *app, const char *user,
                               const char *last_id, long limit, octo_rag_status *st)
{
    if (!user || !*user) return rag_fail(st, 400, "invalid_param", "user is required");
    json_t *a = json_array();
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r,
        "SELECT id, name, inputs, created_at, updated_at FROM conversations WHERE app_id = ?1 "
        "AND user = ?2 AND (?3 IS NULL OR (updated_at, rowid) < (SELECT updated_at, rowid "
        "FROM conversations WHERE id = ?3)) ORDER BY updated_at DESC, rowid DESC LIMIT ?4");
    if (s) {
        rag_bind_text(s, 1, app);
        rag_bind_text(s, 2, user);
        rag_bind_text(s, 3, last_id);
        sqlite3_bind_int64(s, 4, limit + 1);
        while (sqlite3_step(s) == SQLITE_ROW) json_array_append_new(a, conv_json(s));
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    bool more = (long)json_array_size(a) > limit;
    if (more) json_array_remove(a, json_array_size(a) - 1);
    rag_ok(st);
    return json_pack("{s:I, s:b, s:o}", "limit", (json_int_t)limit, "has_more", more, "data",
                     a);
}

json_t *octo_rag_conversation_delete(octo_rag *r, const char *app, const char *user,
                                     const char *id, octo_rag_status *st)
{
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "DELETE FROM conversations WHERE id = ? AND app_id = ? AND "
                                  "(? IS NULL OR user = ?4)");
    bool ok = false;
    if (s) {
        rag_bind_text(s, 1, id);
        rag_bind_text(s, 2, app);
        rag_bind_text(s, 3, user);
        rag_bind_text(s, 4, user);
        ok = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(r->db) > 0;
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (!ok) return rag_fail(st, 404, "not_found", "Conversation Not Exists.");
    rag_ok(st);
    return json_null();
}

json_t *octo_rag_conversation_rename(octo_rag *r, const char *app, const char *id,
                                     const json_t *body, octo_rag_status *st)
{
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *name = json_string_value(json_object_get(body, "name"));
    if (json_is_true(json_object_get(body, "auto_generate")))
        return rag_fail(st, 400, "invalid_param", "auto_generate is not supported: give name");
    if (!name || !*name) return rag_fail(st, 400, "invalid_param", "name is required");
    json_t *out = NULL;
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "UPDATE conversations SET name = ?, updated_at = ? WHERE "
                                  "id = ? AND app_id = ? AND (?5 IS NULL OR user = ?5)");
    if (s) {
        rag_bind_text(s, 1, name);
        sqlite3_bind_int64(s, 2, octo_unix_time());
        rag_bind_text(s, 3, id);
        rag_bind_text(s, 4, app);
        rag_bind_text(s, 5, user);
        if (sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(r->db) > 0) {
            sqlite3_finalize(s);
            s = rag_prep(r, "SELECT id, name, inputs, created_at, updated_at FROM "
                            "conversations WHERE id = ?");
            if (s) {
                rag_bind_text(s, 1, id);
                if (sqlite3_step(s) == SQLITE_ROW) out = conv_json(s);
            }
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    if (!out) return rag_fail(st, 404, "not_found", "Conversation Not Exists.");
    rag_ok(st);
    return out;
}

static bool conv_of(octo_rag *r, const char *app, const char *user, const char *conv)
{
    sqlite3_stmt *s = rag_prep(r, "SELECT 1 FROM conversations WHERE id = ? AND app_id = ? "
                                  "AND user = ?");
    bool ok = false;
    if (!s) return false;
    rag_bind_text(s, 1, conv);
    rag_bind_text(s, 2, app);
    rag_bind_text(s, 3, user);
    ok = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return ok;
}

json_t *octo_rag_messages(octo_rag *r, const char *app, const char *user, const char *conv,
                          const char *first_id, long limit, octo_rag_status *st)
{
    if (!user || !*user) return rag_fail(st, 400, "invalid_param", "user is required");
    if (!conv || !*conv) return rag_fail(st, 400, "invalid_param", "conversation_id is "
                                         "required");
    rag_lock(r);
    if (!conv_of(r, app, user, conv)) {
        rag_unlock(r);
        return rag_fail(st, 404, "not_found", "Conversation Not Exists.");
    }
    /* newest first up to first_id, returned oldest first (Dify) */
    sqlite3_stmt *s = rag_prep(r,
        "SELECT id, conversation_id, inputs, query, answer, retriever_resources, created_at "
        "FROM messages WHERE conversation_id = ?1 AND (?2 IS NULL OR (created_at, rowid) < "
        "(SELECT created_at, rowid FROM messages WHERE id = ?2)) ORDER BY created_at DESC, "
        "rowid DESC LIMIT ?3");
    json_t *a = json_array();
    if (s) {
        rag_bind_text(s, 1, conv);
        rag_bind_text(s, 2, first_id);
        sqlite3_bind_int64(s, 3, limit + 1);
        while (sqlite3_step(s) == SQLITE_ROW) {
            json_t *in = rag_col_json(s, 2), *rr = rag_col_json(s, 5);
            json_array_insert_new(a, 0, json_pack(
                "{s:s, s:s, s:o, s:s, s:s, s:[], s:n, s:o, s:I, s:s}", "id",
                rag_col_text(s, 0), "conversation_id", rag_col_text(s, 1), "inputs",
                json_is_object(in) ? in : (json_decref(in), json_object()), "query",
                rag_col_text(s, 3), "answer", rag_col_text(s, 4), "message_files",
                "feedback", "retriever_resources",
                json_is_array(rr) ? rr : (json_decref(rr), json_array()), "created_at",
                (json_int_t)sqlite3_column_int64(s, 6), "status", "normal"));
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    bool more = (long)json_array_size(a) > limit;
    if (more) json_array_remove(a, 0);
    rag_ok(st);
    return json_pack("{s:I, s:b, s:o}", "limit", (json_int_t)limit, "has_more", more, "data",
                     a);
}

/* ==== one chat turn ==== */

typedef struct turn_ctx {
    octo_rag_turn_fn fn;
    void *ctx;
    const octo_rag_turn *t;
    octo_buf answer;
} turn_ctx;

static bool on_delta(void *p, const char *text, size_t len)
{
    turn_ctx *c = p;
    if (octo_buf_append(&c->answer, text, len) != OCTO_OK) return false;
    return c->fn ? c->fn(c->ctx, c->t, text, len) : true;
}

/* Retrieves from each dataset of the app and keeps the best top_k of all. */
static json_t *gather(octo_rag *r, const char *owner, const json_t *cfg, const char *query,
                      octo_rag_status *st)
{
    const json_t *ids = json_object_get(cfg, "dataset_ids");
    const json_t *rm = json_object_get(cfg, "retrieval_model");
    long top_k = json_is_integer(json_object_get(rm, "top_k"))
                     ? (long)json_integer_value(json_object_get(rm, "top_k")) : 4;
    json_t *all = json_array();
    size_t i;
    const json_t *d;
    json_array_foreach(ids, i, d) {
        json_t *body = json_pack("{s:s}", "query", query);
        if (rm) json_object_set(body, "retrieval_model", (json_t *)rm);
        octo_rag_status s2;
        json_t *res = octo_rag_retrieve(r, owner, json_string_value(d), body, &s2);
        json_decref(body);
        if (!res) {
            if (s2.http == 404) continue; /* the dataset was deleted since */
            *st = s2;
            json_decref(all);
            return NULL;
        }
        size_t k;
        json_t *rec;
        json_array_foreach(json_object_get(res, "records"), k, rec) {
            json_object_set_new(rec, "dataset_id", json_string(json_string_value(d)));
            json_array_append(all, rec);
        }
        json_decref(res);
    }
    /* merge: by score, at most top_k (insertion sort; a few dozen records) */
    size_t n = json_array_size(all);
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0; b--) {
            double x = json_real_value(json_object_get(json_array_get(all, b - 1), "score"));
            double y = json_real_value(json_object_get(json_array_get(all, b), "score"));
            if (x >= y) break;
            json_t *t = json_incref(json_array_get(all, b));
            json_array_set(all, b, json_array_get(all, b - 1));
            json_array_set_new(all, b - 1, t);
        }
    while ((long)json_array_size(all) > top_k) json_array_remove(all, json_array_size(all) - 1);
    return all;
}

static json_t *resources(octo_rag *r, const json_t *recs)
{
    json_t *out = json_array();
    size_t i;
    const json_t *rec;
    json_array_foreach(recs, i, rec) {
        const json_t *seg = json_object_get(rec, "segment");
        const json_t *doc = json_object_get(seg, "document");
        const char *dsid = json_string_value(json_object_get(rec, "dataset_id"));
        char dsname[256] = "";
        rag_lock(r);
        sqlite3_stmt *s = rag_prep(r, "SELECT name FROM datasets WHERE id = ?");
        if (s) {
            rag_bind_text(s, 1, dsid);
            if (sqlite3_step(s) == SQLITE_ROW) octo_strlcpy(dsname, rag_col_text(s, 0),
                                                            sizeof dsname);
        }
        sqlite3_finalize(s);
        rag_unlock(r);
        json_array_append_new(out, json_pack(
            "{s:I, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:O}", "position",
            (json_int_t)i + 1, "dataset_id", dsid ? dsid : "", "dataset_name", dsname,
            "document_id", json_string_value(json_object_get(doc, "id")), "document_name",
            json_string_value(json_object_get(doc, "name")), "segment_id",
            json_string_value(json_object_get(seg, "id")), "score",
            json_object_get(rec, "score"), "content", json_object_get(seg, "content"),
            "hit_count", json_object_get(seg, "hit_count"), "word_count",
            json_object_get(seg, "word_count")));
    }
    return out;
}

/* system (prompt + context), the last turns, the query. */
static json_t *build_messages(octo_rag *r, const json_t *cfg, const json_t *recs,
                              const char *conv, const char *query)
{
    octo_buf ctx, sys;
    octo_buf_init(&ctx, MAX_CONTEXT_BYTES);
    octo_buf_init(&sys, 2 * MAX_CONTEXT_BYTES);
    size_t i;
    const json_t *rec;
    json_array_foreach(recs, i, rec) {
        const char *c = json_string_value(json_object_get(json_object_get(rec, "segment"),
                                                          "content"));
        if (octo_buf_printf(&ctx, "%s%s", i ? "\n\n" : "", c ? c : "") != OCTO_OK) break;
    }
    const char *sp = json_string_value(json_object_get(cfg, "system_prompt"));
    octo_err rc = sp ? octo_buf_printf(&sys, "%s\n\n", sp) : OCTO_OK;
    if (!rc && ctx.len) rc = octo_buf_printf(&sys, k_context_prompt, ctx.data);
    json_t *msgs = json_array();
    if (!rc && sys.len)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content",
                                              sys.data));
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "SELECT query, answer FROM (SELECT query, answer, "
                                  "created_at, rowid FROM messages WHERE conversation_id = ? "
                                  "AND status = 'normal' ORDER BY created_at DESC, rowid DESC "
                                  "LIMIT ?) ORDER BY created_at, rowid");
    if (s) {
        rag_bind_text(s, 1, conv);
        sqlite3_bind_int(s, 2, HISTORY_TURNS);
        while (sqlite3_step(s) == SQLITE_ROW) {
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content",
                                                  rag_col_text(s, 0)));
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant",
                                                  "content", rag_col_text(s, 1)));
        }
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", query));
    octo_buf_deinit(&ctx);
    octo_buf_deinit(&sys);
    return msgs;
}

/* Finds or opens the conversation; fills t. */
static bool open_conversation(octo_rag *r, const char *app, const char *user, const char *conv,
                              const char *query, const json_t *inputs, octo_rag_turn *t,
                              octo_rag_status *st)
{
    rag_uuid(t->message_id);
    t->created_at = octo_unix_time();
    rag_lock(r);
    if (conv && *conv) {
        bool ok = conv_of(r, app, user, conv);
        rag_unlock(r);
        if (!ok) return rag_fail(st, 404, "not_found", "Conversation Not Exists."), false;
        octo_strlcpy(t->conversation_id, conv, sizeof t->conversation_id);
        return true;
    }
    rag_uuid(t->conversation_id);
    char name[64];
    size_t n = 0;
    for (size_t i = 0; query[i] && n < 40; i++) n = i + 1; /* the start of the query */
    while (n > 0 && ((unsigned char)query[n] & 0xC0) == 0x80) n--;
    snprintf(name, sizeof name, "%.*s", (int)n, query);
    json_t *empty = json_object();
    char *in = json_dumps(json_is_object(inputs) ? inputs : empty, JSON_COMPACT);
    json_decref(empty);
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO conversations(id, app_id, user, name, inputs, "
                                  "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    bool ok = false;
    if (s) {
        rag_bind_text(s, 1, t->conversation_id);
        rag_bind_text(s, 2, app);
        rag_bind_text(s, 3, user);
        rag_bind_text(s, 4, name);
        rag_bind_text(s, 5, in);
        sqlite3_bind_int64(s, 6, t->created_at);
        sqlite3_bind_int64(s, 7, t->created_at);
        ok = sqlite3_step(s) == SQLITE_DONE;
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    free(in);
    if (!ok) return rag_fail(st, 500, "internal_error", "cannot store the conversation"), false;
    return true;
}

static void store_message(octo_rag *r, const octo_rag_turn *t, const char *query,
                          const json_t *inputs, const char *answer, const json_t *res,
                          const int64_t usage[2], const char *status, const char *error)
{
    char *rs = json_dumps(res, JSON_COMPACT), *in = json_dumps(inputs, JSON_COMPACT);
    rag_lock(r);
    sqlite3_stmt *s = rag_prep(r, "INSERT INTO messages(id, conversation_id, query, answer, "
                                  "retriever_resources, prompt_tokens, completion_tokens, "
                                  "status, error, created_at, inputs) VALUES (?, ?, ?, ?, ?, "
                                  "?, ?, ?, ?, ?, ?)");
    if (s) {
        rag_bind_text(s, 1, t->message_id);
        rag_bind_text(s, 2, t->conversation_id);
        rag_bind_text(s, 3, query);
        rag_bind_text(s, 4, answer);
        rag_bind_text(s, 5, rs);
        sqlite3_bind_int64(s, 6, usage[0]);
        sqlite3_bind_int64(s, 7, usage[1]);
        rag_bind_text(s, 8, status);
        rag_bind_text(s, 9, error);
        sqlite3_bind_int64(s, 10, t->created_at);
        rag_bind_text(s, 11, in);
        if (sqlite3_step(s) != SQLITE_DONE) OCTO_LOG_WARN("%s", sqlite3_errmsg(r->db));
    }
    sqlite3_finalize(s);
    s = rag_prep(r, "UPDATE conversations SET updated_at = ? WHERE id = ?");
    if (s) {
        sqlite3_bind_int64(s, 1, octo_unix_time());
        rag_bind_text(s, 2, t->conversation_id);
        if (sqlite3_step(s) != SQLITE_DONE) OCTO_LOG_WARN("%s", sqlite3_errmsg(r->db));
    }
    sqlite3_finalize(s);
    rag_unlock(r);
    free(rs);
    free(in);
}

json_t *octo_rag_chat(octo_rag *r, const char *app, const json_t *body, octo_rag_turn_fn fn,
                      void *ctx, octo_rag_status *st)
{
    const char *query = json_string_value(json_object_get(body, "query"));
    const char *user = json_string_value(json_object_get(body, "user"));
    const char *conv = json_string_value(json_object_get(body, "conversation_id"));
    const json_t *inputs = json_object_get(body, "inputs");
    if (!query || !*query) return rag_fail(st, 400, "invalid_param", "query is required");
    if (!user || !*user) return rag_fail(st, 400, "invalid_param", "user is required");
    if (inputs && !json_is_null(inputs) && !json_is_object(inputs))
        return rag_fail(st, 400, "invalid_param", "inputs must be an object");
    const json_t *files = json_object_get(body, "files");
    if (json_array_size(files) > 0)
        return rag_fail(st, 400, "invalid_param", "files are not supported by this app");
    char owner[24];
    rag_lock(r);
    json_t *cfg = app_load(r, app, owner, NULL, 0);
    rag_unlock(r);
    if (!cfg) return rag_fail(st, 404, "not_found", "App not found.");
    if (!r->m.chat) {
        json_decref(cfg);
        return rag_fail(st, 400, "provider_not_initialize", "no chat model is configured: "
                        "set the app's model or server.knowledge.chat_model (retrieval works "
                        "without one)");
    }
    json_t *recs = gather(r, owner, cfg, query, st), *res = NULL, *out = NULL, *msgs = NULL;
    octo_rag_turn t;
    turn_ctx tc = {fn, ctx, &t, {0}};
    octo_buf_init(&tc.answer, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    if (!recs || !open_conversation(r, app, user, conv, query, inputs, &t, st)) goto done;
    res = resources(r, recs);
    msgs = build_messages(r, cfg, recs, t.conversation_id, query);
    if (fn && !fn(ctx, &t, NULL, 0)) {
        rag_fail(st, 499, "cancelled", "the client went away");
        goto done;
    }
    const json_t *jt = json_object_get(cfg, "temperature");
    const json_t *jm = json_object_get(cfg, "max_tokens");
    int64_t usage[2] = {0, 0};
    char err[400] = "";
    double t0 = octo_now();
    octo_err rc = r->m.chat(r->m.ctx, json_string_value(json_object_get(cfg, "model")), msgs,
                            json_is_number(jt) ? json_number_value(jt) : -1,
                            json_is_integer(jm) ? (long)json_integer_value(jm) : 0, on_delta,
                            &tc, usage, err, sizeof err);
    double latency = octo_now() - t0;
    const char *answer = tc.answer.data ? tc.answer.data : "";
    if (rc && rc != OCTO_E_CANCELLED) {
        store_message(r, &t, query, inputs ? inputs : json_null(), answer, res, usage, "error",
                      err);
        rag_fail(st, rc == OCTO_E_NOT_FOUND ? 400 : 500, rc == OCTO_E_NOT_FOUND
                 ? "provider_not_initialize" : "completion_request_error", "%s",
                 err[0] ? err : octo_err_str(rc));
        goto done;
    }
    store_message(r, &t, query, inputs ? inputs : json_null(), answer, res, usage,
                  rc ? "stopped" : "normal", NULL);
    json_t *u = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:f}",
                          "prompt_tokens", (json_int_t)usage[0], "prompt_unit_price", "0",
                          "prompt_price_unit", "0", "prompt_price", "0", "completion_tokens",
                          (json_int_t)usage[1], "completion_unit_price", "0",
                          "completion_price_unit", "0", "completion_price", "0",
                          "total_tokens", (json_int_t)(usage[0] + usage[1]), "total_price",
                          "0", "currency", "USD", "latency", latency);
    out = json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:O}, s:I}", "message_id", t.message_id,
                    "conversation_id", t.conversation_id, "mode", "chat", "answer", answer,
                    "metadata", "usage", u, "retriever_resources", res, "created_at",
                    (json_int_t)t.created_at);
    rag_ok(st);
done:
    octo_buf_deinit(&tc.answer);
    json_decref(msgs);
    json_decref(res);
    json_decref(recs);
    json_decref(cfg);
    return out;
}
