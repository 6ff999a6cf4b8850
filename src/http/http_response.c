/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_response — request accessors and every way of answering: plain
 * bodies, JSON, OpenAI-style errors and streamed bodies; and the one table
 * from octo_err to HTTP status. Not a router (see http_server.c).
 */
#include "http_int.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ==== accessors ==== */

const char *octo_http_req_method(const octo_http_req *r) { return r->method; }
const char *octo_http_req_path(const octo_http_req *r) { return r->path; }
const char *octo_http_req_path_rest(const octo_http_req *r)
{
    return r->path_rest ? r->path_rest : "";
}
void *octo_http_req_listener_tag(const octo_http_req *r) { return r->listener->tag; }
const char *octo_http_req_id(const octo_http_req *r) { return r->id; }
octo_http_server *octo_http_req_server(const octo_http_req *r) { return r->server; }

bool octo_http_req_client_gone(const octo_http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

const char *octo_http_req_header(const octo_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *octo_http_req_query(const octo_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *octo_http_req_body(const octo_http_req *r, size_t *len)
{
    if (len) *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *octo_http_req_bearer(const octo_http_req *r)
{
    const char *h = octo_http_req_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    h += 7;
    while (*h == ' ') h++;
    return *h ? h : NULL;
}

json_t *octo_http_req_json(octo_http_req *r)
{
    size_t len;
    const char *body = octo_http_req_body(r, &len);
    if (len == 0) {
        octo_http_respond_error(r, 400, NULL, "request body is empty; expected a JSON object");
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!j) {
        octo_http_respond_error(r, 400, NULL,
                                "invalid JSON in request body at line %d column %d: %s", e.line,
                                e.column, e.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        octo_http_respond_error(r, 400, NULL, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* ==== status table ==== */

int octo_http_status_for(octo_err e)
{
    switch (e) {
    case OCTO_OK: return 200;
    case OCTO_E_PARSE:
    case OCTO_E_INVALID: return 400;
    case OCTO_E_AUTH: return 401;
    case OCTO_E_NOT_FOUND: return 404;
    case OCTO_E_TOO_LARGE: return 413;
    case OCTO_E_BUSY: return 503;
    case OCTO_E_TIMEOUT: return 504;
    case OCTO_E_UNSUPPORTED: return 501;
    case OCTO_E_CANCELLED: return 499;
    default: return 500;
    }
}

static const char *error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 405: return "invalid_request_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 501: return "not_implemented_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

/* ==== responses ==== */

octo_err octo_http_set_header(octo_http_req *r, const char *name, const char *value)
{
    if (r->n_headers == OCTO_HTTP_MAX_RESP_HEADERS) return OCTO_E_TOO_LARGE;
    char *n = octo_strdup(name), *v = octo_strdup(value);
    if (!n || !v) {
        octo_free(n);
        octo_free(v);
        return OCTO_E_NOMEM;
    }
    r->headers[r->n_headers].name = n;
    r->headers[r->n_headers].value = v;
    r->n_headers++;
    return OCTO_OK;
}

static void queue(octo_http_req *r, int status, const char *content_type,
                  struct MHD_Response *resp)
{
    if (!resp) {
        OCTO_LOG_ERROR("cannot create a response");
        r->responded = true;
        return;
    }
    if (content_type) MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    if (r->too_large) MHD_add_response_header(resp, "Connection", "close");
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->responded = true;
    r->status = status;
}

void octo_http_respond(octo_http_req *r, int status, const char *content_type, const void *body,
                       size_t len)
{
    OCTO_ASSERT(!r->responded);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    r->bytes_out = len;
    queue(r, status, content_type, resp);
}

void octo_http_respond_json(octo_http_req *r, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(body);
    if (!s) {
        octo_http_respond(r, 500, "application/json",
                          "{\"error\":{\"message\":\"out of memory\"}}", 37);
        return;
    }
    octo_http_respond(r, status, "application/json", s, strlen(s));
    free(s); /* jansson's allocator */
}

void octo_http_respond_error(octo_http_req *r, int status, const char *param, const char *fmt,
                             ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:{s:s, s:s, s:o, s:i}}", "error", "message", msg, "type",
                            error_type(status), "param",
                            param ? json_string(param) : json_null(), "code", status);
    if (!err) {
        octo_http_respond(r, status, "text/plain", msg, strlen(msg));
        return;
    }
    octo_http_respond_json(r, status, err);
}

/* ==== streamed bodies ==== */

typedef struct stream {
    octo_http_req *req;
    octo_http_stream_next next;
    octo_http_stream_done done;
    void *ctx;
    bool finished;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *st = cls;
    (void)pos;
    long n = st->next(st->ctx, buf, max);
    if (n == OCTO_HTTP_STREAM_END || n < 0) {
        st->finished = true;
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    st->req->bytes_out += (size_t)n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    st->done(st->ctx, !st->finished);
    octo_free(st);
}

void octo_http_respond_stream(octo_http_req *r, int status, const char *content_type,
                              octo_http_stream_next next, octo_http_stream_done done, void *ctx)
{
    OCTO_ASSERT(!r->responded);
    stream *st = octo_calloc(1, sizeof *st);
    if (!st) {
        done(ctx, true);
        octo_http_respond_error(r, 500, NULL, "out of memory");
        return;
    }
    st->req = r;
    st->next = next;
    st->done = done;
    st->ctx = ctx;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st,
                                          stream_free);
    if (!resp) {
        stream_free(st);
        r->responded = true;
        return;
    }
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    queue(r, status, content_type, resp);
}
