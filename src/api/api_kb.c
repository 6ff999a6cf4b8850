/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_kb — Dify's Knowledge API (service API, /v1/datasets...) over rag:
 * routing of the path, the dataset key check, query-string paging, the
 * multipart body of create-by-file, and Dify's error objects
 * {"code", "message", "status"}.
 *
 * Keys: the Knowledge API accepts only server.knowledge.api_keys (not the
 * server's or a model's keys), each a namespace of its own: a dataset made
 * with one key does not exist for another. These routes are public to the
 * server's own authorisation hook and check their keys here.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_SEG 8 /* path segments after /v1/datasets */

/* ==== start-up ==== */

static const octo_model_config *find_model(const octo_config *cfg, const char *name)
{
    return name ? octo_config_model_find(cfg, name) : NULL;
}

octo_err octo_api_kb_open(octo_api *api, char *err, size_t err_size)
{
    const octo_server_config *s = &api->cfg->server;
    if (s->n_kb_api_keys == 0) return OCTO_OK;
    const octo_model_config *em = find_model(api->cfg, s->kb_embedding_model);
    const octo_model_config *rm = find_model(api->cfg, s->kb_rerank_model);
    api->kbm.api = api;
    api->kbm.default_chat = s->kb_chat_model;
    if (em) api->kbm.embed = api->pooler[em - api->cfg->models];
    if (rm) api->kbm.rerank = api->pooler[rm - api->cfg->models];
    octo_rag_models m;
    octo_api_kb_models_fill(&api->kbm, &m);
    char e2[512] = "";
    octo_err rc = OCTO_OK;
    if (s->kb_embedding_url || s->kb_rerank_url || s->kb_chat_url) {
        octo_rag_remote_opts ro = {s->kb_embedding_url, s->kb_embedding_model, s->kb_rerank_url,
                                   s->kb_rerank_model, s->kb_chat_url, s->kb_chat_model,
                                   s->kb_remote_api_key};
        octo_rag_models local = m;
        if (s->kb_embedding_url) { /* the local embedder stays unused */
            local.embed = NULL;
            local.count_tokens = NULL;
        }
        rc = octo_rag_remote_new(&ro, &local, &api->kb_remote, &m, e2, sizeof e2);
        if (rc) {
            snprintf(err, err_size, "knowledge models: %s", e2[0] ? e2 : octo_err_str(rc));
            return rc;
        }
    }
    octo_rag_opts o = {.dir = s->storage_path, .models = &m,
                       .embed_batch = (size_t)s->kb_embed_batch, .start_worker = true};
    rc = octo_rag_open(&o, &api->rag, e2, sizeof e2);
    if (rc) snprintf(err, err_size, "knowledge store: %s", e2[0] ? e2 : octo_err_str(rc));
    return rc;
}

/* ==== answers ==== */

void octo_api_dify_error(octo_http_req *req, int status, const char *code, const char *msg)
{
    octo_http_respond_json(req, status, json_pack("{s:s, s:s, s:i}", "code", code, "message",
                                                  msg, "status", status));
}

void octo_api_kb_answer(octo_http_req *req, json_t *j, const octo_rag_status *st,
                        int ok_status)
{
    if (!j) {
        octo_api_dify_error(req, st->http ? st->http : 500,
                            st->code[0] ? st->code : "internal_error",
                            st->message[0] ? st->message : "internal error");
        return;
    }
    if (json_is_null(j)) { /* deleted */
        json_decref(j);
        octo_http_respond(req, 204, NULL, "", 0);
        return;
    }
    octo_http_respond_json(req, ok_status, j);
}

static void dify_error(octo_http_req *req, int status, const char *code, const char *msg)
{
    octo_api_dify_error(req, status, code, msg);
}

static void answer(octo_http_req *req, json_t *j, const octo_rag_status *st, int ok_status)
{
    octo_api_kb_answer(req, j, st, ok_status);
}

static bool key_ok(const octo_api *api, const char *tok)
{
    return octo_api_kb_key_ok(api, tok);
}

/* ==== keys ==== */

bool octo_api_kb_key_ok(const octo_api *api, const char *tok)
{
    bool ok = false;
    const octo_server_config *s = &api->cfg->server;
    for (size_t i = 0; tok && i < s->n_kb_api_keys; i++) {
        const char *k = s->kb_api_keys[i];
        size_t a = strlen(tok), b = strlen(k);
        unsigned char d = (unsigned char)(a != b);
        for (size_t j = 0; j < a; j++) d |= (unsigned char)(tok[j] ^ k[j % (b ? b : 1)]);
        ok |= d == 0;
    }
    return ok;
}

/* ==== request pieces ==== */

static bool page_args(octo_http_req *req, long *page, long *limit)
{
    const char *p = octo_http_req_query(req, "page"), *l = octo_http_req_query(req, "limit");
    *page = 1;
    *limit = 20;
    if (p && octo_parse_long(p, 1, 1000000, page) != OCTO_OK) {
        dify_error(req, 400, "invalid_param", "page must be an integer >= 1");
        return false;
    }
    if (l && octo_parse_long(l, 1, 100, limit) != OCTO_OK) {
        dify_error(req, 400, "invalid_param", "limit must be an integer in 1..100");
        return false;
    }
    return true;
}

static const char *opt_query(octo_http_req *req, const char *name)
{
    const char *v = octo_http_req_query(req, name);
    return v && *v ? v : NULL;
}

/* The JSON object body; answers 400 (Dify's shape) and returns NULL. */
static json_t *body_json(octo_http_req *req)
{
    size_t len;
    const char *b = octo_http_req_body(req, &len);
    json_error_t e;
    json_t *j = len ? json_loadb(b, len, 0, &e) : json_object();
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d: %s", e.line, e.column,
                 e.text);
        dify_error(req, 400, "invalid_param", msg);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        dify_error(req, 400, "invalid_param", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* create-by-file (doc NULL) and update-by-file (doc set). */
static void by_file(octo_api *api, octo_http_req *req, const char *owner, const char *ds,
                    const char *doc)
{
    size_t len;
    const char *body = octo_http_req_body(req, &len);
    const char *ct = octo_http_req_header(req, "Content-Type");
    octo_http_form *f = NULL;
    char err[256] = "";
    if (!ct || strncmp(ct, "multipart/form-data", 19) != 0) {
        dify_error(req, 400, "no_file_uploaded", "Please upload your file: the body must be "
                   "multipart/form-data with a 'file' part.");
        return;
    }
    if (octo_http_form_parse(ct, body, len, OCTO_LIMIT_MULTIPART_PARTS, &f, err, sizeof err)) {
        char msg[320];
        snprintf(msg, sizeof msg, "malformed multipart body: %s", err);
        dify_error(req, 400, "invalid_param", msg);
        return;
    }
    size_t files = 0;
    for (size_t i = 0; i < octo_http_form_count(f); i++) {
        const octo_http_part *p = octo_http_form_part(f, i);
        files += p->filename != NULL;
    }
    const octo_http_part *file = octo_http_form_get(f, "file");
    const octo_http_part *data = octo_http_form_get(f, "data");
    json_t *dj = NULL;
    if ((!file || !file->filename) && !doc) {
        dify_error(req, 400, "no_file_uploaded", "Please upload your file.");
        goto done;
    }
    if (files > 1) {
        dify_error(req, 400, "too_many_files", "Only one file is allowed.");
        goto done;
    }
    if (data) {
        json_error_t e;
        dj = json_loadb((const char *)data->data, data->len, 0, &e);
        if (!json_is_object(dj)) {
            char msg[300];
            snprintf(msg, sizeof msg, "the 'data' field must be a JSON object (%s)",
                     dj ? "not an object" : e.text);
            dify_error(req, 400, "invalid_param", msg);
            goto done;
        }
    }
    octo_rag_status st;
    json_t *empty = json_object(), *out;
    if (doc)
        out = octo_rag_document_update(api->rag, owner, ds, doc, dj ? dj : empty,
                                       file ? file->filename : NULL, file ? file->data : NULL,
                                       file ? file->len : 0, &st);
    else
        out = octo_rag_document_create_file(api->rag, owner, ds, dj, file->filename,
                                            file->data, file->len, &st);
    json_decref(empty);
    answer(req, out, &st, 200);
done:
    json_decref(dj);
    octo_http_form_free(f);
}

/* ==== routing ==== */

typedef struct route_ctx {
    octo_api *api;
    octo_http_req *req;
    const char *m;       /* method */
    char *seg[MAX_SEG];
    size_t n;
    char owner[17];
} route_ctx;

static bool is(const route_ctx *c, const char *method, size_t n)
{
    return c->n == n && strcmp(c->m, method) == 0;
}

static bool at(const route_ctx *c, size_t i, const char *s)
{
    return i < c->n && strcmp(c->seg[i], s) == 0;
}

/* Calls a body-taking rag function and answers. */
typedef json_t *(*body_fn)(route_ctx *c, const json_t *body, octo_rag_status *st);

static void with_body(route_ctx *c, body_fn fn)
{
    json_t *b = body_json(c->req);
    if (!b) return;
    octo_rag_status st;
    json_t *out = fn(c, b, &st);
    answer(c->req, out, &st, 200);
    json_decref(b);
}

static json_t *f_ds_create(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_dataset_create(c->api->rag, c->owner, b, st);
}
static json_t *f_ds_update(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_dataset_update(c->api->rag, c->owner, c->seg[0], b, st);
}
static json_t *f_text(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_document_create_text(c->api->rag, c->owner, c->seg[0], b, st);
}
static json_t *f_doc_status(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_documents_status(c->api->rag, c->owner, c->seg[0], c->seg[3], b, st);
}
static json_t *f_doc_update(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_document_update(c->api->rag, c->owner, c->seg[0], c->seg[2], b, NULL,
                                    NULL, 0, st);
}
static json_t *f_retrieve(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_retrieve(c->api->rag, c->owner, c->seg[0], b, st);
}
static json_t *f_seg_add(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_segment_add(c->api->rag, c->owner, c->seg[0], c->seg[2], b, st);
}
static json_t *f_seg_update(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_segment_update(c->api->rag, c->owner, c->seg[0], c->seg[2], c->seg[4], b,
                                   st);
}
static json_t *f_meta_create(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_metadata_create(c->api->rag, c->owner, c->seg[0], b, st);
}
static json_t *f_meta_update(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_metadata_update(c->api->rag, c->owner, c->seg[0], c->seg[2], b, st);
}
static json_t *f_doc_meta(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_document_metadata_set(c->api->rag, c->owner, c->seg[0], b, st);
}

static bool route_datasets(route_ctx *c)
{
    octo_rag *r = c->api->rag;
    octo_rag_status st;
    long page, limit;
    if (is(c, "POST", 0)) return with_body(c, f_ds_create), true;
    if (is(c, "GET", 0)) {
        if (page_args(c->req, &page, &limit))
            answer(c->req, octo_rag_dataset_list(r, c->owner, page, limit,
                                                 opt_query(c->req, "keyword"), &st), &st, 200);
        return true;
    }
    if (is(c, "GET", 1))
        return answer(c->req, octo_rag_dataset_get(r, c->owner, c->seg[0], &st), &st, 200),
               true;
    if (is(c, "PATCH", 1)) return with_body(c, f_ds_update), true;
    if (is(c, "DELETE", 1))
        return answer(c->req, octo_rag_dataset_delete(r, c->owner, c->seg[0], &st), &st, 204),
               true;
    if (is(c, "POST", 2) && at(c, 1, "retrieve")) return with_body(c, f_retrieve), true;
    if (is(c, "POST", 2) && at(c, 1, "hit-testing")) return with_body(c, f_retrieve), true;
    if (is(c, "POST", 3) && at(c, 1, "document") &&
        (at(c, 2, "create-by-text") || at(c, 2, "create_by_text")))
        return with_body(c, f_text), true;
    if (is(c, "POST", 3) && at(c, 1, "document") &&
        (at(c, 2, "create-by-file") || at(c, 2, "create_by_file")))
        return by_file(c->api, c->req, c->owner, c->seg[0], NULL), true;
    return false;
}

static json_t *f_child_add(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_child_add(c->api->rag, c->owner, c->seg[0], c->seg[2], c->seg[4], b, st);
}
static json_t *f_child_update(route_ctx *c, const json_t *b, octo_rag_status *st)
{
    return octo_rag_child_update(c->api->rag, c->owner, c->seg[0], c->seg[2], c->seg[4],
                                 c->seg[6], b, st);
}

/* .../segments/{seg}/child_chunks[/{child}] */
static void route_children(route_ctx *c)
{
    octo_rag *r = c->api->rag;
    octo_rag_status st;
    long page, limit;
    if (is(c, "GET", 6)) {
        if (page_args(c->req, &page, &limit))
            answer(c->req, octo_rag_child_list(r, c->owner, c->seg[0], c->seg[2], c->seg[4],
                                               opt_query(c->req, "keyword"), page, limit, &st),
                   &st, 200);
    } else if (is(c, "POST", 6)) {
        with_body(c, f_child_add);
    } else if (is(c, "PATCH", 7)) {
        with_body(c, f_child_update);
    } else if (is(c, "DELETE", 7)) {
        answer(c->req, octo_rag_child_delete(r, c->owner, c->seg[0], c->seg[2], c->seg[4],
                                             c->seg[6], &st), &st, 204);
    } else {
        dify_error(c->req, 404, "not_found", "The requested URL was not found on the server.");
    }
}

static bool route_documents(route_ctx *c)
{
    octo_rag *r = c->api->rag;
    octo_rag_status st;
    long page, limit;
    if (!at(c, 1, "documents")) return false;
    if (is(c, "GET", 2)) {
        if (page_args(c->req, &page, &limit))
            answer(c->req, octo_rag_document_list(r, c->owner, c->seg[0], page, limit,
                                                  opt_query(c->req, "keyword"), &st), &st, 200);
        return true;
    }
    if (is(c, "POST", 3) && at(c, 2, "metadata")) return with_body(c, f_doc_meta), true;
    if (is(c, "PATCH", 4) && at(c, 2, "status")) return with_body(c, f_doc_status), true;
    if (is(c, "GET", 4) && at(c, 3, "indexing-status"))
        return answer(c->req, octo_rag_indexing_status(r, c->owner, c->seg[0], c->seg[2], &st),
                      &st, 200), true;
    if (is(c, "GET", 3))
        return answer(c->req, octo_rag_document_get(r, c->owner, c->seg[0], c->seg[2], &st),
                      &st, 200), true;
    if (is(c, "DELETE", 3))
        return answer(c->req, octo_rag_document_delete(r, c->owner, c->seg[0], c->seg[2], &st),
                      &st, 204), true;
    if (c->n >= 4 && at(c, 3, "segments")) {
        if (is(c, "GET", 4)) {
            if (page_args(c->req, &page, &limit))
                answer(c->req, octo_rag_segment_list(r, c->owner, c->seg[0], c->seg[2],
                                                     opt_query(c->req, "keyword"),
                                                     opt_query(c->req, "status"), page, limit,
                                                     &st), &st, 200);
            return true;
        }
        if (is(c, "POST", 4)) return with_body(c, f_seg_add), true;
        if (is(c, "POST", 5) || is(c, "PATCH", 5)) return with_body(c, f_seg_update), true;
        if (is(c, "DELETE", 5))
            return answer(c->req, octo_rag_segment_delete(r, c->owner, c->seg[0], c->seg[2],
                                                          c->seg[4], &st), &st, 204), true;
        if (c->n >= 6 && at(c, 5, "child_chunks")) return route_children(c), true;
    }
    if (is(c, "POST", 4) && (at(c, 3, "update-by-text") || at(c, 3, "update_by_text")))
        return with_body(c, f_doc_update), true;
    if (is(c, "POST", 4) && (at(c, 3, "update-by-file") || at(c, 3, "update_by_file")))
        return by_file(c->api, c->req, c->owner, c->seg[0], c->seg[2]), true;
    return false;
}

static bool route_metadata(route_ctx *c)
{
    octo_rag *r = c->api->rag;
    octo_rag_status st;
    if (!at(c, 1, "metadata")) return false;
    if (is(c, "POST", 2)) return with_body(c, f_meta_create), true;
    if (is(c, "GET", 2))
        return answer(c->req, octo_rag_metadata_list(r, c->owner, c->seg[0], &st), &st, 200),
               true;
    if (c->n >= 3 && at(c, 2, "built-in")) {
        dify_error(c->req, 501, "not_implemented", "built-in metadata fields are not "
                   "supported yet");
        return true;
    }
    if (is(c, "PATCH", 3)) return with_body(c, f_meta_update), true;
    if (is(c, "DELETE", 3))
        return answer(c->req, octo_rag_metadata_delete(r, c->owner, c->seg[0], c->seg[2], &st),
                      &st, 204), true;
    return false;
}

/* ==== /v1/apps: octo's own, with a dataset key ==== */

static bool chat_model_ok(const octo_api *api, const json_t *body, octo_http_req *req)
{
    const json_t *m = json_object_get(body, "model");
    if (!m || json_is_null(m)) return true;
    if (api->cfg->server.kb_chat_url && json_is_string(m)) return true; /* a remote name */
    const octo_model_config *mc =
        json_is_string(m) ? octo_config_model_find(api->cfg, json_string_value(m)) : NULL;
    if (mc && mc->task == OCTO_TASK_GENERATE) return true;
    dify_error(req, 400, "invalid_param", "model must name a generate model served by "
                        "this octo");
    return false;
}

static void apps_handler(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    const char *m = octo_http_req_method(req), *rest = octo_http_req_path_rest(req);
    const char *tok = octo_http_req_bearer(req);
    char owner[17];
    octo_rag_status st;
    if (!api->rag) {
        dify_error(req, 404, "not_found", "the Knowledge API is off: set "
                            "server.knowledge.api_keys in octo.yaml");
        return;
    }
    if (!key_ok(api, tok)) {
        dify_error(req, 401, "unauthorized", tok ? "Access token is invalid"
                            : "Authorization header must be provided and start with 'Bearer'");
        return;
    }
    octo_rag_owner_of_key(tok, owner);
    while (*rest == '/') rest++;
    if (!*rest && !strcmp(m, "POST")) {
        json_t *b = body_json(req);
        if (!b) return;
        if (chat_model_ok(api, b, req))
            answer(req, octo_rag_app_create(api->rag, owner, b, &st), &st, 200);
        json_decref(b);
    } else if (!*rest && !strcmp(m, "GET")) {
        answer(req, octo_rag_app_list(api->rag, owner, &st), &st, 200);
    } else if (*rest && !strchr(rest, '/') && !strcmp(m, "DELETE")) {
        answer(req, octo_rag_app_delete(api->rag, owner, rest, &st), &st, 204);
    } else {
        dify_error(req, 404, "not_found", "The requested URL was not found on the "
                            "server.");
    }
}

static void kb_handler(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    route_ctx c = {.api = api, .req = req, .m = octo_http_req_method(req)};
    if (strcmp(c.m, "HEAD") == 0) c.m = "GET";
    if (!api->rag) {
        dify_error(req, 404, "not_found", "the Knowledge API is off: set "
                   "server.knowledge.api_keys in octo.yaml");
        return;
    }
    const char *tok = octo_http_req_bearer(req);
    if (!tok) {
        dify_error(req, 401, "unauthorized", "Authorization header must be provided and start "
                   "with 'Bearer'");
        return;
    }
    if (!key_ok(api, tok)) {
        dify_error(req, 401, "unauthorized", "Access token is invalid");
        return;
    }
    octo_rag_owner_of_key(tok, c.owner);
    const char *rest = octo_http_req_path_rest(req);
    char path[1024];
    if (octo_strlcpy(path, rest, sizeof path) >= sizeof path) {
        dify_error(req, 404, "not_found", "The requested URL was not found on the server.");
        return;
    }
    char *p = path;
    while (*p == '/') p++;
    while (*p && c.n < MAX_SEG) {
        c.seg[c.n++] = p;
        char *sl = strchr(p, '/');
        if (!sl) break;
        *sl = '\0';
        p = sl + 1;
        if (!*p) break; /* a trailing slash */
    }
    if (*p && strchr(p, '/')) c.n = MAX_SEG + 1; /* too deep: no route */
    for (size_t i = 0; i < c.n && i < MAX_SEG; i++)
        if (!*c.seg[i]) c.n = MAX_SEG + 1;
    bool done = c.n <= MAX_SEG && (route_datasets(&c) || (c.n >= 2 && (route_documents(&c) ||
                                                                       route_metadata(&c))));
    if (!done) dify_error(req, 404, "not_found", "The requested URL was not found on the "
                          "server.");
}

octo_err octo_api_kb_mount(octo_api *api, octo_http_server *s)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE"};
    for (size_t i = 0; i < 5; i++) {
        octo_err rc = octo_http_route(s, methods[i], "/v1/datasets", OCTO_HTTP_PUBLIC,
                                      kb_handler, api);
        if (!rc) rc = octo_http_route(s, methods[i], "/v1/datasets/*", OCTO_HTTP_PUBLIC,
                                      kb_handler, api);
        if (rc) return rc;
    }
    static const char *const am[] = {"GET", "POST", "DELETE"};
    for (size_t i = 0; i < 3; i++) {
        octo_err rc = octo_http_route(s, am[i], "/v1/apps", OCTO_HTTP_PUBLIC, apps_handler, api);
        if (!rc) rc = octo_http_route(s, am[i], "/v1/apps/*", OCTO_HTTP_PUBLIC, apps_handler,
                                      api);
        if (rc) return rc;
    }
    return octo_api_kb_chat_mount(api, s);
}
