/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_kb_chat — Dify's chat service API for octo's chat apps, with the
 * app's own key ("app-..."): POST /v1/chat-messages (blocking, or SSE with
 * Dify's events: message, message_end with usage and retriever_resources,
 * error, and a ping every 10 s), /chat-messages/{task_id}/stop,
 * /conversations (list, delete, rename), /messages, /parameters, /info.
 *
 * A streamed answer is produced by a thread of its own (rag's chat turn is
 * one blocking call) and handed to the HTTP stream through a buffer; the
 * stream going away or a stop request cancels the generation.
 */
#include "api_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_TASKS 256
#define PING_S 10

/* ==== running tasks (for /stop) ==== */

typedef struct task {
    bool used, stop;
    char id[40], app[40], user[128];
} task;

/* One process serves one api: the table is process-wide. */
static task g_tasks[MAX_TASKS];
static pthread_mutex_t g_tasks_mu = PTHREAD_MUTEX_INITIALIZER;

static int task_add(const char *app, const char *user, char id[40])
{
    int slot = -1;
    octo_strlcpy(id, "", 40);
    pthread_mutex_lock(&g_tasks_mu);
    for (int i = 0; i < MAX_TASKS && slot < 0; i++) {
        if (g_tasks[i].used) continue;
        slot = i;
        task *t = &g_tasks[i];
        t->used = true;
        t->stop = false;
        char h[33];
        octo_random_hex(h, 32);
        snprintf(t->id, sizeof t->id, "%.8s-%.4s-4%.3s-a%.3s-%.12s", h, h + 8, h + 12, h + 15,
                 h + 18);
        octo_strlcpy(t->app, app, sizeof t->app);
        octo_strlcpy(t->user, user ? user : "", sizeof t->user);
        octo_strlcpy(id, t->id, 40);
    }
    pthread_mutex_unlock(&g_tasks_mu);
    return slot;
}

static void task_end(int slot)
{
    if (slot < 0) return;
    pthread_mutex_lock(&g_tasks_mu);
    g_tasks[slot].used = false;
    pthread_mutex_unlock(&g_tasks_mu);
}

static bool task_stopped(int slot)
{
    if (slot < 0) return false;
    pthread_mutex_lock(&g_tasks_mu);
    bool s = g_tasks[slot].stop;
    pthread_mutex_unlock(&g_tasks_mu);
    return s;
}

/* Marks a task of this app (and user) stopped; false when unknown. */
static bool task_stop(const char *app, const char *user, const char *id)
{
    bool found = false;
    pthread_mutex_lock(&g_tasks_mu);
    for (int i = 0; i < MAX_TASKS; i++) {
        task *t = &g_tasks[i];
        if (t->used && !strcmp(t->id, id) && !strcmp(t->app, app) &&
            (!user || !strcmp(t->user, user))) {
            t->stop = true;
            found = true;
        }
    }
    pthread_mutex_unlock(&g_tasks_mu);
    return found;
}

/* ==== helpers ==== */

static json_t *body_object(octo_http_req *req)
{
    size_t len;
    const char *b = octo_http_req_body(req, &len);
    json_error_t e;
    json_t *j = len ? json_loadb(b, len, 0, &e) : json_object();
    if (!json_is_object(j)) {
        char msg[300];
        snprintf(msg, sizeof msg, "the body must be a JSON object%s%s", j ? "" : ": ",
                 j ? "" : e.text);
        json_decref(j);
        octo_api_dify_error(req, 400, "invalid_param", msg);
        return NULL;
    }
    return j;
}

static bool limit_arg(octo_http_req *req, long *limit)
{
    const char *l = octo_http_req_query(req, "limit");
    *limit = 20;
    if (l && *l && octo_parse_long(l, 1, 100, limit) != OCTO_OK) {
        octo_api_dify_error(req, 400, "invalid_param", "limit must be an integer in 1..100");
        return false;
    }
    return true;
}

static const char *q(octo_http_req *req, const char *name)
{
    const char *v = octo_http_req_query(req, name);
    return v && *v ? v : NULL;
}

/* ==== blocking ==== */

typedef struct block_ctx {
    int slot;
    octo_http_req *req;
} block_ctx;

static bool block_fn(void *ctx, const octo_rag_turn *t, const char *text, size_t len)
{
    block_ctx *b = ctx;
    (void)t;
    (void)text;
    (void)len;
    return !task_stopped(b->slot) && !octo_http_req_client_gone(b->req);
}

static void chat_blocking(octo_api *api, octo_http_req *req, const char *app, json_t *body,
                          const char *user)
{
    char tid[40];
    block_ctx b = {task_add(app, user, tid), req};
    octo_rag_status st;
    json_t *out = octo_rag_chat(api->rag, app, body, block_fn, &b, &st);
    task_end(b.slot);
    if (out) {
        json_object_set_new(out, "event", json_string("message"));
        json_object_set_new(out, "task_id", json_string(tid));
        json_object_set(out, "id", json_object_get(out, "message_id"));
    }
    octo_api_kb_answer(req, out, &st, 200);
}

/* ==== streaming ==== */

typedef struct chat_stream {
    octo_api *api;
    char app[40], task_id[40];
    json_t *body;
    int slot;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    octo_buf out;
    size_t pos;
    bool finished, aborted;
} chat_stream;

/* Appends "data: <json>\n\n" (steals ev). */
static void push_event(chat_stream *cs, json_t *ev)
{
    char *s = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(ev);
    pthread_mutex_lock(&cs->mu);
    if (!s || octo_buf_printf(&cs->out, "data: %s\n\n", s) != OCTO_OK) cs->aborted = true;
    pthread_cond_broadcast(&cs->cv);
    pthread_mutex_unlock(&cs->mu);
    free(s);
}

static bool stream_fn(void *ctx, const octo_rag_turn *t, const char *text, size_t len)
{
    chat_stream *cs = ctx;
    pthread_mutex_lock(&cs->mu);
    bool gone = cs->aborted;
    pthread_mutex_unlock(&cs->mu);
    if (gone || task_stopped(cs->slot)) return false;
    if (!text) return true; /* the turn's ids: nothing to send yet */
    push_event(cs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s%, s:I}", "event", "message",
                             "task_id", cs->task_id, "id", t->message_id, "message_id",
                             t->message_id, "conversation_id", t->conversation_id, "answer",
                             text, len, "created_at", (json_int_t)t->created_at));
    return true;
}

static void *stream_main(void *arg)
{
    chat_stream *cs = arg;
    octo_rag_status st;
    json_t *out = octo_rag_chat(cs->api->rag, cs->app, cs->body, stream_fn, cs, &st);
    if (out) {
        push_event(cs, json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "event", "message_end",
                                 "task_id", cs->task_id, "id", json_object_get(out,
                                 "message_id"), "message_id", json_object_get(out,
                                 "message_id"), "conversation_id", json_object_get(out,
                                 "conversation_id"), "metadata", json_object_get(out,
                                 "metadata")));
        json_decref(out);
    } else {
        push_event(cs, json_pack("{s:s, s:s, s:i, s:s, s:s}", "event", "error", "task_id",
                                 cs->task_id, "status", st.http, "code", st.code, "message",
                                 st.message));
    }
    pthread_mutex_lock(&cs->mu);
    cs->finished = true;
    pthread_cond_broadcast(&cs->cv);
    pthread_mutex_unlock(&cs->mu);
    return NULL;
}

static long stream_next(void *ctx, char *buf, size_t cap)
{
    chat_stream *cs = ctx;
    pthread_mutex_lock(&cs->mu);
    while (cs->pos == cs->out.len && !cs->finished) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += PING_S;
        if (pthread_cond_timedwait(&cs->cv, &cs->mu, &ts) != 0 && cs->pos == cs->out.len &&
            !cs->finished && octo_buf_puts(&cs->out, "event: ping\n\n") != OCTO_OK)
            break;
    }
    size_t n = cs->out.len - cs->pos;
    if (n > cap) n = cap;
    if (n) memcpy(buf, cs->out.data + cs->pos, n);
    cs->pos += n;
    if (cs->pos == cs->out.len) { /* all sent: start over, keep memory flat */
        cs->pos = 0;
        octo_buf_clear(&cs->out);
    }
    bool end = n == 0 && cs->finished;
    pthread_mutex_unlock(&cs->mu);
    return end ? OCTO_HTTP_STREAM_END : (long)n;
}

static void stream_done(void *ctx, bool aborted)
{
    chat_stream *cs = ctx;
    pthread_mutex_lock(&cs->mu);
    cs->aborted |= aborted;
    pthread_mutex_unlock(&cs->mu);
    if (cs->started) pthread_join(cs->th, NULL);
    task_end(cs->slot);
    json_decref(cs->body);
    octo_buf_deinit(&cs->out);
    pthread_cond_destroy(&cs->cv);
    pthread_mutex_destroy(&cs->mu);
    octo_free(cs);
}

static void chat_streaming(octo_api *api, octo_http_req *req, const char *app, json_t *body,
                           const char *user)
{
    chat_stream *cs = octo_calloc(1, sizeof *cs);
    if (!cs) {
        octo_api_dify_error(req, 500, "internal_error", "out of memory");
        return;
    }
    cs->api = api;
    octo_strlcpy(cs->app, app, sizeof cs->app);
    cs->body = json_incref(body);
    cs->slot = task_add(app, user, cs->task_id);
    pthread_mutex_init(&cs->mu, NULL);
    pthread_cond_init(&cs->cv, NULL);
    octo_buf_init(&cs->out, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    cs->started = pthread_create(&cs->th, NULL, stream_main, cs) == 0;
    if (!cs->started) {
        stream_done(cs, true);
        octo_api_dify_error(req, 500, "internal_error", "cannot start the answer");
        return;
    }
    if (octo_http_set_header(req, "Cache-Control", "no-cache") != OCTO_OK) {
        /* the stream still goes out */
    }
    octo_http_respond_stream(req, 200, "text/event-stream", stream_next, stream_done, cs);
}

/* ==== routes ==== */

static void chat_handler(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    char app[40];
    const char *tok = octo_http_req_bearer(req);
    if (!api->rag) {
        octo_api_dify_error(req, 404, "not_found", "the Knowledge API is off: set "
                            "server.knowledge.api_keys in octo.yaml");
        return;
    }
    if (!tok) {
        octo_api_dify_error(req, 401, "unauthorized", "Authorization header must be provided "
                            "and start with 'Bearer'");
        return;
    }
    if (!octo_rag_app_of_key(api->rag, tok, app)) {
        octo_api_dify_error(req, 401, "unauthorized", "Access token is invalid");
        return;
    }
    const char *path = octo_http_req_path(req), *m = octo_http_req_method(req);
    octo_rag_status st;
    long limit;
    json_t *b = NULL;
    if (!strcmp(path, "/v1/chat-messages") && !strcmp(m, "POST")) {
        if (!(b = body_object(req))) return;
        const json_t *mode = json_object_get(b, "response_mode");
        const char *ms = json_is_string(mode) ? json_string_value(mode) : "blocking";
        const char *user = json_string_value(json_object_get(b, "user"));
        if (strcmp(ms, "blocking") && strcmp(ms, "streaming"))
            octo_api_dify_error(req, 400, "invalid_param", "response_mode must be 'blocking' "
                                "or 'streaming'");
        else if (!strcmp(ms, "streaming")) chat_streaming(api, req, app, b, user);
        else chat_blocking(api, req, app, b, user);
    } else if (!strncmp(path, "/v1/chat-messages/", 18) && !strcmp(m, "POST")) {
        char id[64];
        const char *rest = path + 18, *sl = strchr(rest, '/');
        if (!sl || strcmp(sl, "/stop") || (size_t)(sl - rest) >= sizeof id) {
            octo_api_dify_error(req, 404, "not_found", "The requested URL was not found on "
                                "the server.");
            return;
        }
        snprintf(id, sizeof id, "%.*s", (int)(sl - rest), rest);
        if (!(b = body_object(req))) return;
        const char *user = json_string_value(json_object_get(b, "user"));
        if (!user) octo_api_dify_error(req, 400, "invalid_param", "user is required");
        else {
            (void)task_stop(app, user, id); /* a finished task: nothing to stop (Dify) */
            octo_http_respond_json(req, 200, json_pack("{s:s}", "result", "success"));
        }
    } else if (!strcmp(path, "/v1/conversations") && !strcmp(m, "GET")) {
        if (limit_arg(req, &limit))
            octo_api_kb_answer(req, octo_rag_conversations(api->rag, app, q(req, "user"),
                                                           q(req, "last_id"), limit, &st),
                               &st, 200);
    } else if (!strncmp(path, "/v1/conversations/", 18)) {
        const char *rest = path + 18, *sl = strchr(rest, '/');
        char id[64];
        size_t n = sl ? (size_t)(sl - rest) : strlen(rest);
        if (n == 0 || n >= sizeof id) {
            octo_api_dify_error(req, 404, "not_found", "Conversation Not Exists.");
            return;
        }
        snprintf(id, sizeof id, "%.*s", (int)n, rest);
        if (!(b = body_object(req))) return;
        if (!sl && !strcmp(m, "DELETE"))
            octo_api_kb_answer(req, octo_rag_conversation_delete(
                api->rag, app, json_string_value(json_object_get(b, "user")), id, &st), &st,
                204);
        else if (sl && !strcmp(sl, "/name") && !strcmp(m, "POST"))
            octo_api_kb_answer(req, octo_rag_conversation_rename(api->rag, app, id, b, &st),
                               &st, 200);
        else
            octo_api_dify_error(req, 404, "not_found", "The requested URL was not found on "
                                "the server.");
    } else if (!strcmp(path, "/v1/messages") && !strcmp(m, "GET")) {
        if (limit_arg(req, &limit))
            octo_api_kb_answer(req, octo_rag_messages(api->rag, app, q(req, "user"),
                                                      q(req, "conversation_id"),
                                                      q(req, "first_id"), limit, &st),
                               &st, 200);
    } else if (!strcmp(path, "/v1/parameters") && !strcmp(m, "GET")) {
        octo_api_kb_answer(req, octo_rag_app_parameters(api->rag, app, &st), &st, 200);
    } else if (!strcmp(path, "/v1/info") && !strcmp(m, "GET")) {
        octo_api_kb_answer(req, octo_rag_app_info(api->rag, app, &st), &st, 200);
    } else {
        octo_api_dify_error(req, 404, "not_found", "The requested URL was not found on the "
                            "server.");
    }
    json_decref(b);
}

octo_err octo_api_kb_chat_mount(octo_api *api, octo_http_server *s)
{
    static const struct {
        const char *method, *path;
    } routes[] = {
        {"POST", "/v1/chat-messages"},  {"POST", "/v1/chat-messages/*"},
        {"GET", "/v1/conversations"},   {"DELETE", "/v1/conversations/*"},
        {"POST", "/v1/conversations/*"}, {"GET", "/v1/messages"},
        {"GET", "/v1/parameters"},      {"GET", "/v1/info"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        octo_err rc = octo_http_route(s, routes[i].method, routes[i].path, OCTO_HTTP_PUBLIC,
                                      chat_handler, api);
        if (rc) return rc;
    }
    return OCTO_OK;
}
