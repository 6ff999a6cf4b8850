/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http — octo's own HTTP/1.1 server on epoll: listeners on one or more
 * ports, a router of (method, path) to handlers, request body and header
 * limits, whole-request deadlines, connection limits (global and per
 * client address, 503 with Retry-After beyond them), a per-key rate limit
 * (429), strict request framing (no smuggling), an authorisation hook,
 * OpenAI-style error objects, streaming responses (SSE), request ids, an
 * access log, counters for /metrics, and graceful shutdown that lets
 * in-flight requests finish.
 *
 * It knows no endpoint and no engine: handlers are registered by api/.
 * Requests are read by one event loop; each complete request runs on a
 * thread of its own, so handlers and stream producers may block.
 */
#ifndef OCTO_HTTP_H
#define OCTO_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

typedef struct octo_http_server octo_http_server;
typedef struct octo_http_req octo_http_req;

/* Route flags. */
#define OCTO_HTTP_PUBLIC 1u /* skip the authorisation hook (health, metrics) */

/* A handler must answer the request exactly once with one of the
 * octo_http_respond* functions before it returns. */
typedef void (*octo_http_handler)(octo_http_req *req, void *ctx);

/* Called before every non-public route's handler. Returns true to go on;
 * false when it has answered the request itself (e.g. with 401). */
typedef bool (*octo_http_authorize)(octo_http_req *req, void *ctx);

/* Zero fields take the defaults of base/limits.h. */
typedef struct octo_http_opts {
    size_t max_body_bytes;     /* 413 beyond this (early, then a lingering close) */
    size_t max_header_bytes;   /* request line + headers; 431 beyond */
    unsigned max_connections;  /* open connections; 503 + Retry-After beyond */
    unsigned max_connections_per_address; /* 0: no per-address limit */
    unsigned timeout_s;        /* keep-alive idle time between requests */
    unsigned header_timeout_s; /* the whole head must arrive within it (408) */
    unsigned read_timeout_s;   /* the whole request, head and body (408) */
    unsigned retry_after_s;    /* Retry-After of 503 and 429 answers */
    double linger_s;           /* input drained after an early answer */
    double rate_limit_per_key; /* requests per second per API key; 0: none */
    double rate_limit_burst;   /* bucket size; 0: one second's worth */
    bool access_log;           /* one INFO line per request */
    octo_http_authorize authorize;
    void *authorize_ctx;
} octo_http_opts;

typedef struct octo_http_stats {
    uint64_t requests_total;
    uint64_t by_class[6];      /* [1..5]: 1xx..5xx responses */
    uint64_t in_flight;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t client_aborts;
    uint64_t connections_open;     /* counted against max_connections */
    uint64_t connections_rejected; /* answered 503 at a connection limit */
    uint64_t timeouts;             /* requests cut by header/read deadlines (408) */
} octo_http_stats;

/* Creates a server that listens nowhere yet. NULL on allocation failure. */
octo_http_server *octo_http_server_new(const octo_http_opts *opts);
/* Stops (without grace) and frees; NULL is a no-op. */
void octo_http_server_free(octo_http_server *s);

/* Registers a handler for an exact path, or for a prefix when the path ends
 * in "*" ("/v1/models/" followed by a star). method is "GET", "POST", "DELETE" ... */
octo_err octo_http_route(octo_http_server *s, const char *method, const char *path,
                         unsigned flags, octo_http_handler fn, void *ctx) OCTO_WUR;

/* Binds a listening socket on host:port; `tag` is handed to handlers of
 * requests that arrive there (octo_http_req_listener_tag). Port 0 picks a
 * free port; octo_http_listener_port tells which. Connections wait in the
 * backlog until octo_http_start (listeners added after it serve at once).
 * Returns OCTO_E_IO with a message in err when the address is unusable. */
octo_err octo_http_listen(octo_http_server *s, const char *host, int port, void *tag,
                          char *err, size_t err_size) OCTO_WUR;
/* Starts the event loop on every listener. OCTO_E_IO with a message. */
octo_err octo_http_start(octo_http_server *s, char *err, size_t err_size) OCTO_WUR;
/* Port actually bound by the i-th listener (in octo_http_listen order). */
int octo_http_listener_port(const octo_http_server *s, size_t i);

/* Stops accepting new connections, waits up to grace_s for in-flight
 * requests (streams included) to finish, then closes everything. */
void octo_http_shutdown(octo_http_server *s, double grace_s);
void octo_http_stats_get(octo_http_server *s, octo_http_stats *out /* OUT */);

/* ==== request accessors (valid during the handler) ==== */

const char *octo_http_req_method(const octo_http_req *r);
const char *octo_http_req_path(const octo_http_req *r);
/* Remainder of the path after a prefix route's "*" ("" for exact). */
const char *octo_http_req_path_rest(const octo_http_req *r);
/* Header value (case-insensitive name) or NULL. */
const char *octo_http_req_header(const octo_http_req *r, const char *name);
/* URL query argument or NULL. */
const char *octo_http_req_query(const octo_http_req *r, const char *name);
/* Body bytes (NUL-terminated) and length; "" for no body. */
const char *octo_http_req_body(const octo_http_req *r, size_t *len /* OUT */);
/* The token of "Authorization: Bearer <token>", or NULL. */
const char *octo_http_req_bearer(const octo_http_req *r);
void *octo_http_req_listener_tag(const octo_http_req *r);
const char *octo_http_req_id(const octo_http_req *r);
/* True when the client has closed its side of the connection (checked
 * without blocking); long handlers poll it to cancel work. */
bool octo_http_req_client_gone(const octo_http_req *r);
/* The server the request arrived at. */
octo_http_server *octo_http_req_server(const octo_http_req *r);
/* Parses the body as a JSON object. On failure answers 400 with the
 * parser's message and returns NULL. The caller owns the result. */
json_t *octo_http_req_json(octo_http_req *r);

/* ==== responses ==== */

/* Adds a response header (copied); call before responding. */
octo_err octo_http_set_header(octo_http_req *r, const char *name, const char *value) OCTO_WUR;
void octo_http_respond(octo_http_req *r, int status, const char *content_type,
                       const void *body, size_t len);
/* Serialises and frees (steals) `body`. */
void octo_http_respond_json(octo_http_req *r, int status, json_t *body);
/* Answers the failure e with an OpenAI error object {"error": {"message",
 * "type", "param", "code"}} (param may be NULL); the status comes from the
 * one table of octo_http_status_for, so handlers name what went wrong and
 * never a status. 503 and 429 carry Retry-After. */
void octo_http_fail(octo_http_req *r, octo_err e, const char *param, const char *fmt, ...)
    OCTO_PRINTF(4, 5);
/* The same with an explicit status: for http/ itself (404/405 of the
 * router, 429 of the rate limit); endpoint handlers use octo_http_fail. */
void octo_http_respond_error(octo_http_req *r, int status, const char *param,
                             const char *fmt, ...) OCTO_PRINTF(4, 5);
/* The HTTP status that belongs to an octo_err (the one table):
 * INVALID, PARSE 400; AUTH 401; NOT_FOUND 404; TOO_LARGE 413;
 * CANCELLED 499 (client closed the request); UNSUPPORTED 501; BUSY,
 * CLOSED 503; TIMEOUT 504; NOMEM, INTERNAL and the rest 500. */
int octo_http_status_for(octo_err e);

/* A streamed body. `next` writes at most `cap` bytes into buf and returns
 * how many (it may block until it has some), or OCTO_HTTP_STREAM_END when
 * the body is complete. `done` is called exactly once when the response is
 * finished or the client went away (`aborted` true). */
#define OCTO_HTTP_STREAM_END ((long)-1)
typedef long (*octo_http_stream_next)(void *ctx, char *buf, size_t cap);
typedef void (*octo_http_stream_done)(void *ctx, bool aborted);
void octo_http_respond_stream(octo_http_req *r, int status, const char *content_type,
                              octo_http_stream_next next, octo_http_stream_done done,
                              void *ctx);

/* ==== multipart/form-data bodies (http_multipart.c) ==== */

/* One part: form field name, file name (NULL for a plain field), its
 * Content-Type (NULL when absent) and its bytes, which point into the
 * request body and stay valid while the body does. */
typedef struct octo_http_part {
    const char *name;
    const char *filename;
    const char *content_type;
    const unsigned char *data;
    size_t len;
} octo_http_part;

typedef struct octo_http_form octo_http_form;

/* Parses a multipart/form-data body; the boundary comes from the request's
 * Content-Type value. OCTO_E_PARSE with a reason in err for a malformed
 * body, OCTO_E_TOO_LARGE beyond max_parts parts. On success *out is the
 * caller's (octo_http_form_free); it refers to `body`, which must outlive it. */
octo_err octo_http_form_parse(const char *content_type, const void *body, size_t len,
                              size_t max_parts, octo_http_form **out /* OUT */, char *err,
                              size_t err_size) OCTO_WUR;
void octo_http_form_free(octo_http_form *f);
size_t octo_http_form_count(const octo_http_form *f);
/* The i-th part in body order, or NULL past the end. */
const octo_http_part *octo_http_form_part(const octo_http_form *f, size_t i);
/* The first part named `name`, or NULL. */
const octo_http_part *octo_http_form_get(const octo_http_form *f, const char *name);

#endif /* OCTO_HTTP_H */
