/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_response — request accessors and every way of answering: plain
 * bodies, JSON, OpenAI-style errors and streamed bodies; and the one table
 * from octo_err to HTTP status. Not a router (see http_server.c).
 */
#include "http_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

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
    if (r->conn->broken) return true;
    struct pollfd p = {.fd = r->conn->fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

const char *octo_http_req_header(const octo_http_req *r, const char *name)
{
    return octo_http_head_get(&r->conn->head, name);
}

static int hexv(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A decoded copy of a query component ('+' is a space); NULL on a bad
 * escape or an encoded NUL. */
static char *query_decode(const char *p, size_t n)
{
    char *out = octo_malloc(n + 1), *w = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '+') {
            *w++ = ' ';
        } else if (p[i] == '%') {
            int hi = i + 1 < n ? hexv((unsigned char)p[i + 1]) : -1;
            int lo = i + 2 < n ? hexv((unsigned char)p[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0) {
                octo_free(out);
                return NULL;
            }
            *w++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *w++ = p[i];
        }
    }
    *w = '\0';
    return out;
}

/* Splits the query string into decoded pairs, once. */
static void query_split(octo_http_req *r)
{
    if (r->query) return;
    const char *q = r->conn->head.query ? r->conn->head.query : "";
    size_t cap = 1;
    for (const char *p = q; *p; p++) cap += *p == '&';
    r->query = octo_calloc(2 * cap, sizeof *r->query);
    if (!r->query) return;
    for (const char *p = q; *p;) {
        const char *e = strchr(p, '&');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        if (kn) {
            char *k = query_decode(p, kn);
            char *v = eq ? query_decode(eq + 1, n - kn - 1) : octo_strdup("");
            if (k && v && r->n_query < cap) {
                r->query[2 * r->n_query] = k;
                r->query[2 * r->n_query + 1] = v;
                r->n_query++;
            } else {
                octo_free(k);
                octo_free(v);
            }
        }
        p += n;
        if (*p == '&') p++;
    }
}

const char *octo_http_req_query(const octo_http_req *r, const char *name)
{
    octo_http_req *w = (octo_http_req *)(uintptr_t)r; /* the pairs are split lazily */
    query_split(w);
    for (size_t i = 0; i < w->n_query; i++)
        if (strcmp(w->query[2 * i], name) == 0) return w->query[2 * i + 1];
    return NULL;
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
        octo_http_fail(r, OCTO_E_INVALID, NULL, "request body is empty; expected a JSON object");
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
        octo_http_fail(r, OCTO_E_INVALID, NULL, "request body must be a JSON object");
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
    case OCTO_E_BUSY:
    case OCTO_E_CLOSED: return 503;
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

const char *octo_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

char *octo_http_error_body(int status, const char *param, const char *msg)
{
    json_t *err = json_pack("{s:{s:s, s:s, s:o, s:i}}", "error", "message", msg, "type",
                            error_type(status), "param",
                            param ? json_string(param) : json_null(), "code", status);
    if (!err) return NULL;
    char *s = json_dumps(err, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(err);
    return s;
}

/* ==== writing to the connection ==== */

bool octo_http_conn_write(conn *c, const void *p, size_t n)
{
    const char *b = p;
    int wait_ms = (int)c->server->opts.timeout_s * 1000;
    while (n && !c->broken) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
            int pr = poll(&pf, 1, wait_ms);
            if (pr > 0 && !(pf.revents & (POLLERR | POLLHUP))) continue;
            if (pr < 0 && errno == EINTR) continue;
        }
        c->broken = true; /* reset, closed, or no progress for the time-out */
    }
    return !c->broken;
}

/* ==== responses ==== */

octo_err octo_http_set_header(octo_http_req *r, const char *name, const char *value)
{
    if (r->n_headers == OCTO_HTTP_MAX_RESP_HEADERS) return OCTO_E_TOO_LARGE;
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return OCTO_E_INVALID;
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

static bool has_header(const octo_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) return true;
    return false;
}

/* The status line and headers. len < 0: a streamed body (chunked on
 * HTTP/1.1, close-delimited on 1.0). */
static octo_err build_head(octo_http_req *r, int status, const char *content_type, long long len,
                           octo_buf *out)
{
    conn *c = r->conn;
    if (atomic_load(&r->server->stop_accept)) c->close_after = true;
    if (len < 0 && c->head.minor == 0) c->close_after = true;
    octo_err rc = octo_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, octo_http_reason(status));
    if (!rc && content_type) rc = octo_buf_printf(out, "Content-Type: %s\r\n", content_type);
    if (!rc && len >= 0) rc = octo_buf_printf(out, "Content-Length: %lld\r\n", len);
    if (!rc && len < 0 && c->head.minor >= 1)
        rc = octo_buf_puts(out, "Transfer-Encoding: chunked\r\n");
    if (!rc) rc = octo_buf_printf(out, "X-Request-Id: %s\r\n", r->id);
    for (size_t i = 0; !rc && i < r->n_headers; i++)
        rc = octo_buf_printf(out, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
    if (!rc && (status == 503 || status == 429) && !has_header(r, "Retry-After"))
        rc = octo_buf_printf(out, "Retry-After: %u\r\n", r->server->opts.retry_after_s);
    if (!rc && c->close_after) rc = octo_buf_puts(out, "Connection: close\r\n");
    else if (!rc && c->head.minor == 0) rc = octo_buf_puts(out, "Connection: keep-alive\r\n");
    if (!rc) rc = octo_buf_puts(out, "\r\n");
    return rc;
}

void octo_http_respond(octo_http_req *r, int status, const char *content_type, const void *body,
                       size_t len)
{
    OCTO_ASSERT(!r->responded);
    r->responded = true;
    r->status = status;
    octo_buf out;
    octo_buf_init(&out, (size_t)-1 / 2);
    if (build_head(r, status, content_type, (long long)len, &out) != OCTO_OK) {
        OCTO_LOG_ERROR("cannot build a response");
        r->conn->broken = true;
        octo_buf_deinit(&out);
        return;
    }
    bool ok;
    if (!r->head_only && len && len <= 65536) {
        ok = octo_buf_append(&out, body, len) == OCTO_OK &&
             octo_http_conn_write(r->conn, out.data, out.len);
    } else {
        ok = octo_http_conn_write(r->conn, out.data, out.len) &&
             (r->head_only || octo_http_conn_write(r->conn, body, len));
    }
    if (ok) r->bytes_out = r->head_only ? 0 : len;
    octo_buf_deinit(&out);
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

static void respond_error_msg(octo_http_req *r, int status, const char *param, const char *msg)
{
    char *body = octo_http_error_body(status, param, msg);
    if (!body) {
        octo_http_respond(r, status, "text/plain", msg, strlen(msg));
        return;
    }
    octo_http_respond(r, status, "application/json", body, strlen(body));
    free(body); /* jansson's allocator */
}

void octo_http_fail(octo_http_req *r, octo_err e, const char *param, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    respond_error_msg(r, octo_http_status_for(e), param, msg);
}

void octo_http_respond_error(octo_http_req *r, int status, const char *param, const char *fmt,
                             ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *body = octo_http_error_body(status, param, msg);
    if (!body) {
        octo_http_respond(r, status, "text/plain", msg, strlen(msg));
        return;
    }
    octo_http_respond(r, status, "application/json", body, strlen(body));
    free(body); /* jansson's allocator */
}

/* ==== streamed bodies ==== */

void octo_http_respond_stream(octo_http_req *r, int status, const char *content_type,
                              octo_http_stream_next next, octo_http_stream_done done, void *ctx)
{
    OCTO_ASSERT(!r->responded);
    char *ct = content_type ? octo_strdup(content_type) : NULL;
    if (content_type && !ct) {
        done(ctx, true);
        octo_http_respond_error(r, 500, NULL, "out of memory");
        return;
    }
    r->responded = true;
    r->status = status;
    r->have_stream = true;
    r->stream = (stream_job){status, ct, next, done, ctx};
}

void octo_http_stream_run(octo_http_req *r)
{
    stream_job *j = &r->stream;
    conn *c = r->conn;
    bool chunked = c->head.minor >= 1;
    octo_buf out;
    octo_buf_init(&out, 1u << 20);
    if (octo_http_set_header(r, "Cache-Control", "no-cache") != OCTO_OK ||
        build_head(r, j->status, j->content_type, -1, &out) != OCTO_OK ||
        !octo_http_conn_write(c, out.data, out.len) || r->head_only) {
        octo_buf_deinit(&out);
        j->done(j->ctx, true);
        return;
    }
    char buf[16384 + 32];
    bool finished = false;
    while (!c->broken) {
        long n = j->next(j->ctx, buf + 16, 16384);
        if (n == OCTO_HTTP_STREAM_END || n < 0) {
            finished = true;
            if (chunked) octo_http_conn_write(c, "0\r\n\r\n", 5);
            break;
        }
        if (n == 0) continue;
        /* chunk-size CRLF data CRLF, the size written right before the data */
        char sz[24];
        int k = snprintf(sz, sizeof sz, "%lx\r\n", (unsigned long)n);
        char *start = buf + 16 - (chunked ? k : 0);
        if (chunked) memcpy(start, sz, (size_t)k);
        size_t total = (size_t)n + (chunked ? (size_t)k + 2 : 0);
        if (chunked) memcpy(buf + 16 + n, "\r\n", 2);
        if (!octo_http_conn_write(c, start, total)) break;
        r->bytes_out += (size_t)n;
    }
    octo_buf_deinit(&out);
    if (!finished || c->broken) c->close_after = true;
    j->done(j->ctx, !finished || c->broken);
}
