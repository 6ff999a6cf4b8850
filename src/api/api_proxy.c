/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_proxy — remote models: a model entry with a base_url is served by
 * another OpenAI-compatible server (another octo, vLLM). The request's
 * JSON goes upstream with `model` set to the upstream's name and octo's
 * remote_api_key; the answer comes back with the client's model name
 * (blocking), or its SSE chunks are passed on as they arrive (streaming).
 * A client that goes away ends the upstream transfer.
 *
 * The status of an answer is the upstream's where it concerns the request
 * (400, 404, 413, 422, 429, 503, 504); the gateway's own failures are 502
 * (unreachable, refused key, broken answer) or 504 (time-out). These are
 * statuses relayed from another server, not octo_err failures, so this file
 * answers with octo_http_respond_json and a status variable.
 *
 * It keeps no connection between requests and rewrites nothing inside
 * streamed chunks.
 */
#include "api_int.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROXY_BAD_GATEWAY 502
#define PROXY_GATEWAY_TIMEOUT 504
#define PROXY_CLIENT_GONE 499
#define PROXY_MAX_ANSWER_BYTES ((size_t)256 << 20) /* a blocking answer */
#define PROXY_POLL_MS 100                          /* client checks while waiting */

typedef struct proxy {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    char *payload;         /* the JSON sent upstream (json_dumps: free()) */
    octo_buf in;           /* bytes received, not yet passed on */
    size_t in_pos;
    long status;           /* upstream HTTP status once its headers are in */
    bool headers_done, done, too_large, client_left;
    CURLcode result;
    char content_type[128];
    char name[OCTO_LIMIT_NAME_BYTES]; /* the model's served name, for messages */
    octo_http_req *req;
} proxy;

void octo_api_proxy_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        OCTO_LOG_WARN("curl_global_init failed: remote models will not answer");
}

void octo_api_proxy_global_deinit(void)
{
    curl_global_cleanup();
}

static void proxy_free(proxy *p)
{
    if (!p) return;
    if (p->easy) {
        if (p->multi) curl_multi_remove_handle(p->multi, p->easy);
        curl_easy_cleanup(p->easy); /* closes the upstream connection */
    }
    if (p->multi) curl_multi_cleanup(p->multi);
    curl_slist_free_all(p->hdrs);
    free(p->payload); /* jansson's allocator */
    octo_buf_deinit(&p->in);
    octo_free(p);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    proxy *p = ctx;
    size_t n = size * nmemb;
    if (octo_buf_append(&p->in, data, n) != OCTO_OK) {
        p->too_large = true;
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    proxy *p = ctx;
    size_t n = size * nmemb;
    static const char ct[] = "content-type:";
    if (n >= sizeof ct && strncasecmp(data, ct, sizeof ct - 1) == 0) {
        size_t k = sizeof ct - 1;
        while (k < n && (data[k] == ' ' || data[k] == '\t')) k++;
        size_t len = n - k;
        while (len && (data[k + len - 1] == '\r' || data[k + len - 1] == '\n')) len--;
        if (len >= sizeof p->content_type) len = sizeof p->content_type - 1;
        memcpy(p->content_type, data + k, len);
        p->content_type[len] = '\0';
    } else if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200) { /* a 1xx interim answer is followed by the real one */
            p->status = code;
            p->headers_done = true;
        }
    }
    return n;
}

/* Runs the transfer for up to wait_ms (or until something happened). */
static void pump(proxy *p, int wait_ms)
{
    int running = 0;
    curl_multi_perform(p->multi, &running);
    if (running) {
        curl_multi_poll(p->multi, NULL, 0, wait_ms, NULL);
        curl_multi_perform(p->multi, &running);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        p->result = msg->data.result;
        p->done = true;
    }
}

/* ==== answers ==== */

static const char *error_type(int status)
{
    switch (status) {
    case 400: case 404: case 413: case 422: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static void answer_error(octo_http_req *req, int status, const char *param, const char *fmt,
                         ...) OCTO_PRINTF(4, 5);
static void answer_error(octo_http_req *req, int status, const char *param, const char *fmt,
                         ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:{s:s, s:s, s:o, s:i}}", "error", "message", msg, "type",
                          error_type(status), "param", param ? json_string(param) : json_null(),
                          "code", status);
    octo_http_respond_json(req, status, e);
}

/* The message of an upstream error body: OpenAI's {"error": {"message"}},
 * vLLM's older {"message"} or FastAPI's {"detail"}; else the text itself. */
static void upstream_message(const char *body, size_t len, char *out, size_t n)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const json_t *e = json_object_get(j, "error");
    const json_t *msg = json_is_object(e) ? json_object_get(e, "message")
                        : json_is_string(e) ? e
                        : json_object_get(j, "message") ? json_object_get(j, "message")
                                                        : json_object_get(j, "detail");
    if (json_is_string(msg)) snprintf(out, n, "%s", json_string_value(msg));
    else snprintf(out, n, "%.*s", (int)(len < 300 ? len : 300), body);
    json_decref(j);
}

/* Relays a non-2xx upstream status: the request's own faults keep their
 * status; a refused key (octo's, not the client's) and upstream crashes
 * are the gateway's 502. */
static void answer_upstream_error(proxy *p, octo_http_req *req)
{
    char msg[768];
    upstream_message(p->in.data ? p->in.data : "", p->in.len, msg, sizeof msg);
    long s = p->status;
    if (s == 401 || s == 403) {
        answer_error(req, PROXY_BAD_GATEWAY, NULL,
                     "the upstream server of model `%s` refused octo's remote_api_key "
                     "(HTTP %ld: %s)", p->name, s, msg);
        return;
    }
    bool relay = (s >= 400 && s < 500) || s == 503 || s == 504;
    if (s == 503 && octo_http_set_header(req, "Retry-After", "1") != OCTO_OK) {
        /* the 503 still goes out without the hint */
    }
    answer_error(req, relay ? (int)s : PROXY_BAD_GATEWAY, NULL,
                 "upstream of model `%s` answered HTTP %ld: %s", p->name, s, msg);
}

static void answer_transfer_error(proxy *p, octo_http_req *req)
{
    if (p->too_large) {
        answer_error(req, PROXY_BAD_GATEWAY, NULL, "the upstream answer of model `%s` is "
                     "larger than %zu bytes", p->name, PROXY_MAX_ANSWER_BYTES);
        return;
    }
    bool timeout = p->result == CURLE_OPERATION_TIMEDOUT;
    answer_error(req, timeout ? PROXY_GATEWAY_TIMEOUT : PROXY_BAD_GATEWAY, NULL,
                 "the upstream server of model `%s` %s: %s", p->name,
                 timeout ? "did not answer in time" : "cannot be reached",
                 curl_easy_strerror(p->result));
}

/* A 2xx blocking answer, with the client's model name put back. */
static void answer_ok(proxy *p, octo_http_req *req, const char *client_name)
{
    json_t *j = json_loadb(p->in.data ? p->in.data : "", p->in.len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        answer_error(req, PROXY_BAD_GATEWAY, NULL,
                     "the upstream server of model `%s` answered something that is not a "
                     "JSON object", p->name);
        return;
    }
    if (json_is_string(json_object_get(j, "model")))
        json_object_set_new(j, "model", json_string(client_name));
    octo_http_respond_json(req, 200, j);
}

/* ==== streaming ==== */

static long stream_next(void *ctx, char *buf, size_t cap)
{
    proxy *p = ctx;
    while (p->in_pos == p->in.len) {
        octo_buf_clear(&p->in);
        p->in_pos = 0;
        if (p->done) {
            if (p->result == CURLE_OK) return OCTO_HTTP_STREAM_END;
            /* cut mid-stream: tell the client in the stream, then end it */
            int k = snprintf(buf, cap, "data: {\"error\": {\"message\": \"the upstream "
                             "stream of model %s broke: %s\", \"type\": \"server_error\", "
                             "\"code\": 502}}\n\n", p->name, curl_easy_strerror(p->result));
            p->result = CURLE_OK;
            return k > 0 && (size_t)k < cap ? k : OCTO_HTTP_STREAM_END;
        }
        if (octo_http_req_client_gone(p->req)) { /* ends the upstream transfer too */
            p->client_left = true;
            return OCTO_HTTP_STREAM_END;
        }
        pump(p, PROXY_POLL_MS);
    }
    size_t n = p->in.len - p->in_pos;
    if (n > cap) n = cap;
    memcpy(buf, p->in.data + p->in_pos, n);
    p->in_pos += n;
    return (long)n;
}

static void stream_done(void *ctx, bool aborted)
{
    proxy *p = ctx;
    if (aborted || p->client_left)
        OCTO_LOG_INFO("client went away: upstream stream of %s closed", p->name);
    proxy_free(p);
}

/* ==== the request ==== */

/* base_url + the route: "/v1/x" becomes base_url + "/x" (base_url names
 * the /v1 root, as OpenAI clients take it); other routes ("/rerank",
 * "/score", "/tokenize") go to base_url without a trailing "/v1". */
static void upstream_url(const char *base, const char *path, char *out, size_t n)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    if (strncmp(path, "/v1/", 4) == 0) {
        snprintf(out, n, "%.*s%s", (int)bl, base, path + 3);
        return;
    }
    if (bl >= 3 && strncmp(base + bl - 3, "/v1", 3) == 0) bl -= 3;
    snprintf(out, n, "%.*s%s", (int)bl, base, path);
}

static proxy *proxy_start(octo_api *api, octo_http_req *req, const octo_model_config *m,
                          const json_t *body)
{
    proxy *p = octo_calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->name, sizeof p->name, "%s", m->name);
    p->req = req;
    octo_buf_init(&p->in, PROXY_MAX_ANSWER_BYTES);
    json_t *out = json_deep_copy(body);
    if (out) json_object_set_new(out, "model", json_string(m->remote_model ? m->remote_model
                                                                         : m->name));
    p->payload = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    p->multi = curl_multi_init();
    p->easy = curl_easy_init();
    if (!p->payload || !p->multi || !p->easy) {
        proxy_free(p);
        return NULL;
    }
    char url[OCTO_LIMIT_PATH_BYTES + 256];
    upstream_url(m->base_url, octo_http_req_path(req), url, sizeof url);
    p->hdrs = curl_slist_append(p->hdrs, "Content-Type: application/json");
    if (m->remote_api_key) {
        char auth[1100];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", m->remote_api_key);
        p->hdrs = curl_slist_append(p->hdrs, auth);
    }
    const char *rid = octo_http_req_id(req);
    if (rid) {
        char h[128];
        snprintf(h, sizeof h, "X-Request-Id: %s", rid);
        p->hdrs = curl_slist_append(p->hdrs, h);
    }
    long total = m->remote_timeout_s ? m->remote_timeout_s : api->cfg->server.request_timeout_s;
    CURL *e = p->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->payload);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, total);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, m->remote_connect_timeout_s);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
        proxy_free(p);
        return NULL;
    }
    return p;
}

/* Waits until the upstream's status is known (or, with `whole`, the whole
 * answer is in), checking the client every PROXY_POLL_MS. False when the
 * client went away. */
static bool wait_upstream(proxy *p, octo_http_req *req, bool whole)
{
    while (!p->done && (whole || !p->headers_done)) {
        pump(p, PROXY_POLL_MS);
        if (octo_http_req_client_gone(req)) return false;
    }
    return true;
}

void octo_api_proxy(octo_api *api, octo_http_req *req, const octo_model_config *m,
                    const json_t *body)
{
    const json_t *js = json_object_get(body, "stream");
    bool stream = json_is_true(js);
    const json_t *jm = json_object_get(body, "model");
    char client_name[OCTO_LIMIT_NAME_BYTES];
    snprintf(client_name, sizeof client_name, "%s",
             json_is_string(jm) ? json_string_value(jm) : m->name);
    proxy *p = proxy_start(api, req, m, body);
    if (!p) {
        answer_error(req, octo_http_status_for(OCTO_E_NOMEM), NULL, "out of memory");
        return;
    }
    if (!wait_upstream(p, req, false)) goto gone;
    bool ok = p->headers_done && p->status >= 200 && p->status < 300;
    if (stream && ok && strncmp(p->content_type, "text/event-stream", 17) == 0) {
        octo_http_respond_stream(req, (int)p->status, "text/event-stream", stream_next,
                                 stream_done, p);
        return; /* the stream owns p */
    }
    if (!wait_upstream(p, req, true)) goto gone;
    if (p->result != CURLE_OK && !(p->headers_done && !ok)) answer_transfer_error(p, req);
    else if (!ok) answer_upstream_error(p, req);
    else answer_ok(p, req, client_name);
    proxy_free(p);
    return;
gone:
    OCTO_LOG_INFO("client went away: upstream request of %s aborted", m->name);
    answer_error(req, PROXY_CLIENT_GONE, NULL, "client closed the request");
    proxy_free(p);
}
