/* SPDX-License-Identifier: Apache-2.0 */
/* http_int — the server's private structures, shared by the http sources. */
#ifndef OCTO_HTTP_INT_H
#define OCTO_HTTP_INT_H

#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http.h"

#define OCTO_HTTP_MAX_ROUTES 128
#define OCTO_HTTP_MAX_LISTENERS 32
#define OCTO_HTTP_MAX_RESP_HEADERS 16
#define OCTO_HTTP_MAX_REQ_HEADERS 128
#define OCTO_HTTP_ADDR_BUCKETS 1024
#define OCTO_HTTP_RATE_SLOTS 1024

typedef struct route {
    char *method;
    char *path;
    size_t path_len; /* without the trailing '*' of a prefix route */
    bool prefix;
    unsigned flags;
    octo_http_handler fn;
    void *ctx;
} route;

typedef struct listener {
    struct octo_http_server *server;
    int fd;          /* -1 once closed */
    void *tag;
    int port;
} listener;

/* ==== request heads (http_parse.c) ==== */

typedef struct http_field {
    const char *name;
    const char *value;
} http_field;

/* One parsed request head. Every string points into `store`, a private
 * copy of the head bytes. */
typedef struct http_head {
    char *store;
    const char *method;
    char *path;            /* percent-decoded, without the query */
    char *query;           /* raw query string after '?', or "" */
    int minor;             /* HTTP/1.minor */
    http_field fields[OCTO_HTTP_MAX_REQ_HEADERS];
    size_t n_fields;
    long long content_length; /* -1: none */
    bool chunked;
    bool keep_alive;
    bool expect_continue;
} http_head;

/* Offset just past the blank line that ends a head in p[0..n), or 0 when
 * the head is not complete yet. Leading empty lines are part of it. */
size_t octo_http_head_end(const char *p, size_t n);
/* Parses a complete head p[0..n) (as found by octo_http_head_end) into h.
 * Returns 0, or the HTTP status to answer (400, 431, 501, 505) with a
 * reason in *why. The framing rules of RFC 9112 section 6.3 are enforced
 * here: differing Content-Length values, Content-Length together with
 * Transfer-Encoding, and any transfer coding other than a final
 * "chunked" are refused. h->store is the caller's (octo_http_head_deinit). */
int octo_http_head_parse(const char *p, size_t n, http_head *h, const char **why);
void octo_http_head_deinit(http_head *h);
/* First value of a header (case-insensitive), or NULL. */
const char *octo_http_head_get(const http_head *h, const char *name);

/* Incremental decoder of a chunked body. */
typedef struct http_chunked {
    int st;
    unsigned long long left; /* bytes left in the current chunk */
    size_t line;             /* bytes of the current size/extension/trailer line */
    int digits;
} http_chunked;

/* Feeds p[0..n): decoded bytes are appended to body. *used says how many
 * input bytes were consumed. Returns 1 when the body is complete, 0 when
 * more input is needed, OCTO_E_PARSE on malformed framing and
 * OCTO_E_TOO_LARGE when body would grow past its maximum. */
int octo_http_chunked_feed(http_chunked *c, const char *p, size_t n, size_t *used /* OUT */,
                           octo_buf *body);

/* ==== connections and the server ==== */

/* Where a connection is: read by the event loop (HEAD, BODY), with a
 * handler thread (HANDLER), or closing while its input is drained
 * (LINGER). */
enum { C_HEAD = 0, C_BODY, C_HANDLER, C_LINGER };

typedef struct addr_slot {
    struct addr_slot *next;
    struct in6_addr addr;
    unsigned count;
} addr_slot;

typedef struct conn {
    struct octo_http_server *server;
    listener *listener;
    struct conn *prev, *next;    /* the loop's list (handler connections too) */
    struct conn *hb_next;        /* the handback list */
    int fd;
    int state;
    bool counted;                /* counts against max_connections */
    bool got_bytes;              /* some of the current request has arrived */
    bool close_after;            /* no further request on this connection */
    bool broken;                 /* a write failed: drop without lingering */
    bool in_flight;              /* counted in stats.in_flight */
    addr_slot *slot;             /* per-address count, or NULL */
    char addr[INET6_ADDRSTRLEN];
    double deadline;             /* of the current state; 0 none */
    double t_start;              /* first byte of the current request */
    octo_buf in;                 /* bytes read and not yet consumed */
    http_head head;
    bool have_head;
    http_chunked chunked;
    struct octo_http_req *req;
} conn;

typedef struct rate_slot {
    uint64_t hash;
    double tokens;
    double t;
} rate_slot;

struct octo_http_server {
    octo_http_opts opts;
    route routes[OCTO_HTTP_MAX_ROUTES];
    size_t n_routes;
    listener listeners[OCTO_HTTP_MAX_LISTENERS];
    size_t n_listeners;
    pthread_mutex_t mu;   /* guards stats, handback, n_workers, rate */
    pthread_cond_t idle;  /* signalled when in_flight or n_workers drops */
    octo_http_stats stats;
    /* event loop (http_server.c) */
    int epfd, evfd, spare_fd;
    pthread_t loop;
    bool loop_started;
    _Atomic bool stop_accept, stop_loop;
    _Atomic bool listeners_closed;
    conn *conns;          /* loop-owned list */
    unsigned n_conns;     /* counted connections */
    _Atomic unsigned n_open; /* n_conns, for readers off the loop */
    unsigned n_rejecting; /* over-capacity connections lingering */
    addr_slot *addrs[OCTO_HTTP_ADDR_BUCKETS];
    conn *handback;       /* handler threads return connections here */
    unsigned n_workers;
    rate_slot rate[OCTO_HTTP_RATE_SLOTS];
};

typedef struct resp_header {
    char *name;
    char *value;
} resp_header;

typedef struct stream_job {
    int status;
    char *content_type;
    octo_http_stream_next next;
    octo_http_stream_done done;
    void *ctx;
} stream_job;

struct octo_http_req {
    octo_http_server *server;
    listener *listener;
    conn *conn;
    const char *method;
    const char *path;
    const char *path_rest;
    char id[64];
    octo_buf body;
    bool head_only;       /* HEAD: no body goes out */
    bool responded;
    int status;
    size_t bytes_out;
    double t_start;
    resp_header headers[OCTO_HTTP_MAX_RESP_HEADERS];
    size_t n_headers;
    char **query;         /* decoded name, value pairs */
    size_t n_query;
    bool have_stream;
    stream_job stream;
};

/* ==== shared between the http sources ==== */

/* Writes all of p[0..n) to the connection, waiting at most the server's
 * write time-out for progress; false (and c->broken) on failure. */
bool octo_http_conn_write(conn *c, const void *p, size_t n);
/* The reason phrase of a status. */
const char *octo_http_reason(int status);
/* An OpenAI-style error body for status with msg (caller frees with free()). */
char *octo_http_error_body(int status, const char *param, const char *msg);
/* Runs a stream that a handler queued (http_response.c). */
void octo_http_stream_run(octo_http_req *r);

#endif /* OCTO_HTTP_INT_H */
