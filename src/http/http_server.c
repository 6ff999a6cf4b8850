/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_server — octo's own HTTP/1.1 server on epoll. One event-loop thread
 * accepts connections on every listener and reads each request (head and
 * body) without blocking, under a whole-request deadline; only a complete
 * request gets a thread, which runs the handler (it may block, and
 * streams block in `next`) and writes the answer, then hands the
 * connection back to the loop for the next request. Idle and slow clients
 * therefore cost a file descriptor and a small buffer, never a thread.
 *
 * Admission: at most max_connections connections (any size: the loop has
 * no FD_SETSIZE limit and the soft RLIMIT_NOFILE is raised to fit), at
 * most max_connections_per_address from one client address; over either,
 * a 503 with Retry-After. An answer that ends a connection early (413,
 * 400, 408, 503) is followed by a lingering close: the rest of the input
 * is read and dropped for a short while, so a client that writes its
 * whole body before reading still sees the answer instead of a reset.
 *
 * Why not libmicrohttpd (0.9.75 in Debian 12): its thread-per-connection
 * mode polls with select()/poll() per thread and keeps a thread per idle
 * connection, its epoll mode cannot run blocking handlers or streams,
 * its time-out counts only silence, and over a connection limit (global
 * or per address) it closes the socket instead of answering 503.
 *
 * It deliberately contains no endpoint: routes come from api/.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void loop_stop(octo_http_server *s);
static void close_listeners(octo_http_server *s);

/* ==== server lifetime ==== */

octo_http_server *octo_http_server_new(const octo_http_opts *opts)
{
    octo_http_server *s = octo_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->opts = *opts;
    octo_http_opts *o = &s->opts;
    if (!o->max_body_bytes) o->max_body_bytes = OCTO_LIMIT_HTTP_BODY_BYTES;
    if (!o->max_header_bytes) o->max_header_bytes = OCTO_LIMIT_HTTP_HEADER_BYTES;
    if (!o->max_connections) o->max_connections = OCTO_LIMIT_HTTP_CONNECTIONS;
    if (!o->timeout_s) o->timeout_s = OCTO_LIMIT_HTTP_KEEPALIVE_S;
    if (!o->header_timeout_s) o->header_timeout_s = OCTO_LIMIT_HTTP_HEADER_S;
    if (!o->read_timeout_s) o->read_timeout_s = OCTO_LIMIT_HTTP_READ_S;
    if (!o->retry_after_s) o->retry_after_s = 1;
    if (o->linger_s <= 0) o->linger_s = OCTO_LIMIT_HTTP_LINGER_S;
    s->epfd = s->evfd = s->spare_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    return s;
}

void octo_http_server_free(octo_http_server *s)
{
    if (!s) return;
    loop_stop(s);
    close_listeners(s);
    for (size_t i = 0; i < s->n_routes; i++) {
        octo_free(s->routes[i].method);
        octo_free(s->routes[i].path);
    }
    if (s->epfd >= 0) close(s->epfd);
    if (s->evfd >= 0) close(s->evfd);
    if (s->spare_fd >= 0) close(s->spare_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    octo_free(s);
}

octo_err octo_http_route(octo_http_server *s, const char *method, const char *path,
                         unsigned flags, octo_http_handler fn, void *ctx)
{
    if (s->n_routes == OCTO_HTTP_MAX_ROUTES) return OCTO_E_TOO_LARGE;
    route *r = &s->routes[s->n_routes];
    r->method = octo_strdup(method);
    r->path = octo_strdup(path);
    if (!r->method || !r->path) {
        octo_free(r->method);
        octo_free(r->path);
        return OCTO_E_NOMEM;
    }
    size_t n = strlen(path);
    r->prefix = n > 0 && path[n - 1] == '*';
    r->path_len = r->prefix ? n - 1 : n;
    r->flags = flags;
    r->fn = fn;
    r->ctx = ctx;
    s->n_routes++;
    return OCTO_OK;
}

void octo_http_stats_get(octo_http_server *s, octo_http_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->connections_open = atomic_load(&s->n_open);
    pthread_mutex_unlock(&s->mu);
}

static void count_event(octo_http_server *s, uint64_t *what)
{
    pthread_mutex_lock(&s->mu);
    (*what)++;
    pthread_mutex_unlock(&s->mu);
}

static void count_response(octo_http_server *s, int status, size_t bytes_out, bool aborted)
{
    pthread_mutex_lock(&s->mu);
    s->stats.requests_total++;
    if (status >= 100 && status < 600) s->stats.by_class[status / 100]++;
    s->stats.bytes_out += bytes_out;
    if (aborted) s->stats.client_aborts++;
    pthread_mutex_unlock(&s->mu);
}

/* A request counts as in flight from its head to its answer. */
static void flight_begin(conn *c)
{
    pthread_mutex_lock(&c->server->mu);
    c->server->stats.in_flight++;
    pthread_mutex_unlock(&c->server->mu);
    c->in_flight = true;
}

static void flight_end(conn *c)
{
    if (!c->in_flight) return;
    c->in_flight = false;
    octo_http_server *s = c->server;
    pthread_mutex_lock(&s->mu);
    s->stats.in_flight--;
    if (!s->stats.in_flight) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

/* ==== requests ==== */

static void req_free(octo_http_req *r)
{
    if (!r) return;
    octo_buf_deinit(&r->body);
    for (size_t i = 0; i < r->n_headers; i++) {
        octo_free(r->headers[i].name);
        octo_free(r->headers[i].value);
    }
    for (size_t i = 0; i < 2 * r->n_query; i++) octo_free(r->query[i]);
    octo_free(r->query);
    octo_free(r->stream.content_type);
    octo_free(r);
}

static octo_http_req *req_new(conn *c)
{
    octo_http_server *s = c->server;
    octo_http_req *r = octo_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->server = s;
    r->listener = c->listener;
    r->conn = c;
    r->t_start = c->t_start;
    r->method = c->head.method;
    r->path = c->head.path;
    r->head_only = strcmp(r->method, "HEAD") == 0;
    octo_buf_init(&r->body, s->opts.max_body_bytes);
    const char *rid = octo_http_head_get(&c->head, "X-Request-Id");
    if (rid && *rid && strlen(rid) < sizeof r->id) {
        octo_strlcpy(r->id, rid, sizeof r->id);
    } else {
        memcpy(r->id, "req-", 4);
        octo_random_hex(r->id + 4, 24);
    }
    return r;
}

/* ==== routing and per-key rate limits ==== */

static const route *find_route(octo_http_server *s, octo_http_req *r, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < s->n_routes; i++) {
        const route *rt = &s->routes[i];
        bool match = rt->prefix ? strncmp(r->path, rt->path, rt->path_len) == 0
                                : strcmp(r->path, rt->path) == 0;
        if (!match) continue;
        *path_known = true;
        if (strcmp(rt->method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0)) {
            r->path_rest = rt->prefix ? r->path + rt->path_len : "";
            return rt;
        }
    }
    return NULL;
}

static uint64_t fnv1a(const char *p)
{
    uint64_t h = 1469598103934665603ull;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h | 1; /* 0 marks a free slot */
}

/* Token bucket per API key (or per client address without one): true
 * when the request may go on; else *wait_s says when a token is back. */
static bool rate_take(octo_http_server *s, const octo_http_req *r, double *wait_s)
{
    double rps = s->opts.rate_limit_per_key;
    if (rps <= 0) return true;
    double burst = s->opts.rate_limit_burst > 0 ? s->opts.rate_limit_burst : rps;
    const char *key = octo_http_req_bearer(r);
    uint64_t h = fnv1a(key ? key : r->conn->addr);
    double now = octo_now();
    pthread_mutex_lock(&s->mu);
    rate_slot *slot = NULL, *oldest = &s->rate[h % OCTO_HTTP_RATE_SLOTS];
    for (size_t k = 0; k < 8; k++) { /* a short probe; the stalest slot is reused */
        rate_slot *e = &s->rate[(h + k) % OCTO_HTTP_RATE_SLOTS];
        if (e->hash == h) {
            slot = e;
            break;
        }
        if (!e->hash || e->t < oldest->t) oldest = e;
    }
    if (!slot) {
        slot = oldest;
        slot->hash = h;
        slot->tokens = burst;
        slot->t = now;
    }
    slot->tokens += (now - slot->t) * rps;
    if (slot->tokens > burst) slot->tokens = burst;
    slot->t = now;
    bool ok = slot->tokens >= 1.0;
    if (ok) slot->tokens -= 1.0;
    else *wait_s = (1.0 - slot->tokens) / rps;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void dispatch(octo_http_server *s, octo_http_req *r)
{
    bool path_known;
    const route *rt = find_route(s, r, &path_known);
    octo_log_set_request_id(r->id);
    double wait_s = 0;
    if (!rt) {
        if (path_known) {
            octo_http_respond_error(r, 405, NULL, "method %s not allowed on %s", r->method,
                                    r->path);
        } else {
            octo_http_respond_error(r, 404, NULL, "no route for %s %s", r->method, r->path);
        }
    } else if (!(rt->flags & OCTO_HTTP_PUBLIC) && s->opts.authorize &&
               !s->opts.authorize(r, s->opts.authorize_ctx)) {
        /* the hook answered */
    } else if (!(rt->flags & OCTO_HTTP_PUBLIC) && !rate_take(s, r, &wait_s)) {
        char ra[32];
        snprintf(ra, sizeof ra, "%.0f", wait_s < 1 ? 1.0 : wait_s + 0.5);
        if (octo_http_set_header(r, "Retry-After", ra) != OCTO_OK) {
            /* the 429 still goes out without the hint */
        }
        octo_http_respond_error(r, 429, NULL, "rate limit of %g requests per second exceeded",
                                s->opts.rate_limit_per_key);
    } else {
        rt->fn(r, rt->ctx);
    }
    if (!r->responded) {
        OCTO_LOG_ERROR("handler for %s %s did not respond", r->method, r->path);
        octo_http_respond_error(r, 500, NULL, "internal error: no response");
    }
    octo_log_set_request_id(NULL);
}

static void access_log(octo_http_server *s, const conn *c, const char *id, const char *method,
                       const char *path, int status, size_t bytes, double t0, bool aborted)
{
    if (!s->opts.access_log) return;
    octo_log_set_request_id(id);
    OCTO_LOG_INFO("%s \"%s %s\" %d %zuB %.1fms%s", c->addr, method ? method : "-",
                  path ? path : "-", status, bytes, (octo_now() - t0) * 1e3,
                  aborted ? " aborted" : "");
    octo_log_set_request_id(NULL);
}

/* ==== handler threads ==== */

static void wake_loop(octo_http_server *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->evfd, &one, sizeof one);
    (void)w; /* a full counter already wakes the loop */
}

static void *worker_main(void *arg)
{
    conn *c = arg;
    octo_http_server *s = c->server;
    octo_http_req *r = c->req;
    dispatch(s, r);
    if (r->have_stream) octo_http_stream_run(r);
    /* a stream whose producer saw the client leave ends without a failed
     * write: it counts as aborted too */
    bool aborted = c->broken || (r->have_stream && octo_http_req_client_gone(r));
    access_log(s, c, r->id, r->method, r->path, r->status, r->bytes_out, r->t_start, aborted);
    count_response(s, r->status, r->bytes_out, aborted);
    flight_end(c);
    pthread_mutex_lock(&s->mu);
    c->hb_next = s->handback;
    s->handback = c;
    pthread_mutex_unlock(&s->mu);
    wake_loop(s);
    pthread_mutex_lock(&s->mu);
    s->n_workers--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ==== the event loop: connections ==== */

static double now_s(void) { return octo_now(); }

static bool is_listener(const octo_http_server *s, const void *p)
{
    return p >= (const void *)&s->listeners[0] &&
           p < (const void *)&s->listeners[OCTO_HTTP_MAX_LISTENERS];
}

static addr_slot **addr_bucket(octo_http_server *s, const struct in6_addr *a)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *a; i++) h = (h ^ a->s6_addr[i]) * 1099511628211ull;
    return &s->addrs[h % OCTO_HTTP_ADDR_BUCKETS];
}

static addr_slot *addr_find(octo_http_server *s, const struct in6_addr *a, bool create)
{
    addr_slot **b = addr_bucket(s, a);
    for (addr_slot *e = *b; e; e = e->next)
        if (memcmp(&e->addr, a, sizeof *a) == 0) return e;
    if (!create) return NULL;
    addr_slot *e = octo_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->addr = *a;
    e->next = *b;
    *b = e;
    return e;
}

static void addr_release(octo_http_server *s, addr_slot *e)
{
    if (!e || --e->count) return;
    addr_slot **b = addr_bucket(s, &e->addr);
    for (addr_slot **p = b; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            octo_free(e);
            return;
        }
    }
}

static void conn_close(conn *c)
{
    flight_end(c);
    octo_http_server *s = c->server;
    if (c->fd >= 0) close(c->fd); /* leaves the epoll set too */
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->counted) {
        s->n_conns--;
        atomic_store(&s->n_open, s->n_conns);
    } else {
        s->n_rejecting--;
    }
    addr_release(s, c->slot);
    req_free(c->req);
    octo_http_head_deinit(&c->head);
    octo_buf_deinit(&c->in);
    octo_free(c);
}

static void conn_linger(conn *c, double seconds)
{
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->deadline = now_s() + seconds;
    octo_buf_deinit(&c->in);
}

/* Best-effort write from the loop: it never blocks; what the socket
 * buffer cannot take is lost (these answers are small). */
static void write_nowait(conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* Answers status with an error object and closes the connection after a
 * lingering read. */
static void answer_and_close(conn *c, int status, const char *msg)
{
    octo_http_server *s = c->server;
    char *body = octo_http_error_body(status, NULL, msg);
    size_t blen = body ? strlen(body) : 0;
    char retry[48] = "";
    if (status == 503 || status == 429)
        snprintf(retry, sizeof retry, "Retry-After: %u\r\n", s->opts.retry_after_s);
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
                      status, octo_http_reason(status), blen, retry);
    if (hn > 0 && (size_t)hn < sizeof head) write_nowait(c, head, (size_t)hn);
    if (body) write_nowait(c, body, blen);
    access_log(s, c, c->req ? c->req->id : NULL, c->have_head ? c->head.method : NULL,
               c->have_head ? c->head.path : NULL, status, (size_t)hn + blen, c->t_start, false);
    count_response(s, status, (size_t)hn + blen, false);
    free(body);
    req_free(c->req);
    c->req = NULL;
    flight_end(c);
    conn_linger(c, s->opts.linger_s);
}

static int epoll_add(octo_http_server *s, int fd, void *ptr)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = ptr};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Hands a complete request to a new handler thread. */
static void conn_dispatch(conn *c)
{
    octo_http_server *s = c->server;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->state = C_HANDLER;
    c->deadline = 0;
    c->close_after = !c->head.keep_alive;
    pthread_mutex_lock(&s->mu);
    s->n_workers++;
    pthread_mutex_unlock(&s->mu);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &at, worker_main, c);
    pthread_attr_destroy(&at);
    if (e == 0) return;
    pthread_mutex_lock(&s->mu);
    s->n_workers--;
    pthread_mutex_unlock(&s->mu);
    OCTO_LOG_WARN("cannot start a handler thread: %s", strerror(e));
    epoll_add(s, c->fd, c);
    answer_and_close(c, 503, "server overloaded: no handler thread available");
}

static void consume(conn *c, size_t n)
{
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
    c->in.data[c->in.len] = '\0';
}

/* Takes the head of a request off c->in; false when the connection was
 * answered and is closing. */
static bool take_head(conn *c, size_t end)
{
    octo_http_server *s = c->server;
    const char *why = NULL;
    int st = octo_http_head_parse(c->in.data, end, &c->head, &why);
    c->have_head = st == 0 || c->head.method;
    if (st) {
        answer_and_close(c, st, why);
        return false;
    }
    consume(c, end);
    c->req = req_new(c);
    if (!c->req) {
        answer_and_close(c, 503, "out of memory");
        return false;
    }
    flight_begin(c);
    if (c->head.content_length >= 0 &&
        (unsigned long long)c->head.content_length > s->opts.max_body_bytes) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body of %lld bytes exceeds the limit of %zu bytes",
                 c->head.content_length, s->opts.max_body_bytes);
        answer_and_close(c, 413, msg);
        return false;
    }
    bool has_body = c->head.chunked || c->head.content_length > 0;
    if (has_body && c->head.expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        write_nowait(c, cont, sizeof cont - 1);
    }
    c->state = C_BODY;
    c->deadline = c->t_start + s->opts.read_timeout_s;
    memset(&c->chunked, 0, sizeof c->chunked);
    return true;
}

/* Moves body bytes from c->in to the request; true when it is complete. */
static bool take_body(conn *c, bool *closing)
{
    octo_http_server *s = c->server;
    octo_http_req *r = c->req;
    if (c->head.chunked) {
        size_t used = 0;
        int rc = octo_http_chunked_feed(&c->chunked, c->in.data, c->in.len, &used, &r->body);
        if (rc < 0) {
            char msg[160];
            if (rc == OCTO_E_TOO_LARGE)
                snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes",
                         s->opts.max_body_bytes);
            else
                snprintf(msg, sizeof msg, "%s", "malformed chunked request body");
            *closing = true;
            answer_and_close(c, rc == OCTO_E_TOO_LARGE ? 413 : rc == OCTO_E_NOMEM ? 503 : 400,
                             msg);
            return false;
        }
        consume(c, used);
        return rc == 1;
    }
    size_t want = c->head.content_length > 0 ? (size_t)c->head.content_length : 0;
    size_t take = want - r->body.len;
    if (take > c->in.len) take = c->in.len;
    if (take && octo_buf_append(&r->body, c->in.data, take) != OCTO_OK) {
        *closing = true;
        answer_and_close(c, 503, "out of memory");
        return false;
    }
    consume(c, take);
    return r->body.len == want;
}

/* Advances a connection on the bytes it has: head, body, dispatch. */
static void conn_process(conn *c)
{
    octo_http_server *s = c->server;
    for (;;) {
        if (c->state == C_HEAD) {
            if (!c->in.len) return;
            if (!c->got_bytes) {
                c->got_bytes = true;
                c->t_start = now_s();
                c->deadline = c->t_start + s->opts.header_timeout_s;
            }
            size_t end = octo_http_head_end(c->in.data, c->in.len);
            if (!end) {
                if (c->in.len > s->opts.max_header_bytes)
                    answer_and_close(c, 431, "request header fields too large");
                return;
            }
            if (end > s->opts.max_header_bytes) {
                answer_and_close(c, 431, "request header fields too large");
                return;
            }
            if (!take_head(c, end)) return;
        }
        if (c->state == C_BODY) {
            bool closing = false;
            if (!take_body(c, &closing)) return;
            conn_dispatch(c);
            return;
        }
        return;
    }
}

static void conn_read(conn *c)
{
    octo_http_server *s = c->server;
    char buf[16384];
    for (int rounds = 0; rounds < 8; rounds++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        pthread_mutex_lock(&s->mu);
        s->stats.bytes_in += (uint64_t)n;
        pthread_mutex_unlock(&s->mu);
        if (c->state == C_LINGER) continue;
        if (octo_buf_append(&c->in, buf, (size_t)n) != OCTO_OK) {
            answer_and_close(c, c->state == C_HEAD ? 431 : 503,
                             c->state == C_HEAD ? "request header fields too large"
                                                : "out of memory");
            return;
        }
        if ((size_t)n < sizeof buf) break;
    }
    if (c->state == C_HEAD || c->state == C_BODY) conn_process(c);
}

static void reject_now(octo_http_server *s, listener *l, int fd, const char *addr,
                       const char *msg)
{
    count_event(s, &s->stats.connections_rejected);
    bool keep = s->n_rejecting < OCTO_LIMIT_HTTP_REJECTING;
    conn *c = keep ? octo_calloc(1, sizeof *c) : NULL;
    if (!c) {
        char out[256];
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %u\r\n"
                         "Content-Length: 0\r\nConnection: close\r\n\r\n",
                         s->opts.retry_after_s);
        if (n > 0) {
            ssize_t w = send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
        }
        close(fd);
        count_response(s, 503, 0, false);
        return;
    }
    c->server = s;
    c->listener = l;
    c->fd = fd;
    c->t_start = now_s();
    octo_strlcpy(c->addr, addr, sizeof c->addr);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    c->state = C_HEAD;
    s->n_rejecting++;
    if (epoll_add(s, fd, c) != 0) {
        c->state = C_LINGER;
        conn_close(c);
        return;
    }
    answer_and_close(c, 503, msg);
}

static void accept_ready(octo_http_server *s, listener *l)
{
    for (int rounds = 0; rounds < 256; rounds++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
                /* Out of descriptors: free the spare one to say 503. */
                close(s->spare_fd);
                s->spare_fd = -1;
                fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) {
                    static const char busy[] =
                        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n";
                    ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                    (void)w;
                    close(fd);
                    count_response(s, 503, 0, false);
                    count_event(s, &s->stats.connections_rejected);
                }
                s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                OCTO_LOG_WARN("out of file descriptors: connection refused with 503");
                continue;
            }
            return; /* EAGAIN, or an error that the next event retries */
        }
        if (atomic_load(&s->stop_accept)) {
            close(fd);
            continue;
        }
        struct in6_addr a6 = {0};
        char addr[INET6_ADDRSTRLEN] = "-";
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *si = (const struct sockaddr_in *)&ss;
            a6.s6_addr[10] = a6.s6_addr[11] = 0xff; /* v4-mapped */
            memcpy(&a6.s6_addr[12], &si->sin_addr, 4);
            inet_ntop(AF_INET, &si->sin_addr, addr, sizeof addr);
        } else if (ss.ss_family == AF_INET6) {
            a6 = ((const struct sockaddr_in6 *)&ss)->sin6_addr;
            inet_ntop(AF_INET6, &a6, addr, sizeof addr);
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (s->n_conns >= s->opts.max_connections) {
            reject_now(s, l, fd, addr, "server at its connection limit; retry later");
            continue;
        }
        addr_slot *slot = NULL;
        if (s->opts.max_connections_per_address) {
            slot = addr_find(s, &a6, true);
            if (slot && slot->count >= s->opts.max_connections_per_address) {
                reject_now(s, l, fd, addr,
                           "too many connections from this address; retry later");
                continue;
            }
        }
        conn *c = octo_calloc(1, sizeof *c);
        if (!c) {
            if (slot && !slot->count) {
                slot->count = 1;
                addr_release(s, slot);
            }
            close(fd);
            continue;
        }
        c->server = s;
        c->listener = l;
        c->fd = fd;
        c->slot = slot;
        if (slot) slot->count++;
        c->counted = true;
        s->n_conns++;
        atomic_store(&s->n_open, s->n_conns);
        octo_strlcpy(c->addr, addr, sizeof c->addr);
        octo_buf_init(&c->in, s->opts.max_header_bytes + 65536);
        c->state = C_HEAD;
        c->t_start = now_s();
        c->deadline = c->t_start + s->opts.header_timeout_s;
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        if (epoll_add(s, fd, c) != 0) conn_close(c);
    }
}

/* Takes back the connections whose handlers are done. */
static void take_handbacks(octo_http_server *s)
{
    uint64_t cnt;
    ssize_t rd = read(s->evfd, &cnt, sizeof cnt);
    (void)rd;
    pthread_mutex_lock(&s->mu);
    conn *list = s->handback;
    s->handback = NULL;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        conn *c = list;
        list = c->hb_next;
        c->hb_next = NULL;
        req_free(c->req);
        c->req = NULL;
        octo_http_head_deinit(&c->head);
        c->have_head = false;
        if (c->broken || epoll_add(s, c->fd, c) != 0) {
            conn_close(c);
            continue;
        }
        if (c->close_after || atomic_load(&s->stop_accept)) {
            conn_linger(c, s->opts.linger_s);
            continue;
        }
        c->state = C_HEAD;
        c->got_bytes = false;
        c->deadline = now_s() + s->opts.timeout_s; /* keep-alive idle */
        conn_process(c);
    }
}

static void sweep_deadlines(octo_http_server *s)
{
    double now = now_s();
    conn *next;
    for (conn *c = s->conns; c; c = next) {
        next = c->next;
        if (!c->deadline || now < c->deadline) continue;
        if (c->state == C_LINGER) {
            conn_close(c);
        } else if (c->state == C_HEAD && !c->got_bytes) {
            conn_close(c); /* idle: nothing to answer */
        } else if (c->state == C_HEAD) {
            char msg[128];
            snprintf(msg, sizeof msg, "request headers not received within %us",
                     s->opts.header_timeout_s);
            count_event(s, &s->stats.timeouts);
            answer_and_close(c, 408, msg);
        } else if (c->state == C_BODY) {
            char msg[128];
            snprintf(msg, sizeof msg, "request not received within %us",
                     s->opts.read_timeout_s);
            count_event(s, &s->stats.timeouts);
            answer_and_close(c, 408, msg);
        }
    }
}

/* Closes the listening sockets (loop thread, or any thread once the loop
 * is gone): new connections are refused from here on. */
static void close_listeners(octo_http_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].fd < 0) continue;
        if (s->epfd >= 0) epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listeners[i].fd, NULL);
        close(s->listeners[i].fd);
        s->listeners[i].fd = -1;
    }
    atomic_store(&s->listeners_closed, true);
}

static void *loop_main(void *arg)
{
    octo_http_server *s = arg;
    struct epoll_event evs[256];
    double next_sweep = 0;
    while (!atomic_load(&s->stop_loop)) {
        if (atomic_load(&s->stop_accept) && !atomic_load(&s->listeners_closed))
            close_listeners(s);
        int n = epoll_wait(s->epfd, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (!p) take_handbacks(s);
            else if (is_listener(s, p)) accept_ready(s, p);
            else if (((conn *)p)->state != C_HANDLER) conn_read(p);
        }
        double now = now_s();
        if (now >= next_sweep) {
            sweep_deadlines(s);
            next_sweep = now + 0.1;
        }
    }
    return NULL;
}

/* ==== listeners ==== */

octo_err octo_http_listen(octo_http_server *s, const char *host, int port, void *tag, char *err,
                          size_t err_size)
{
    if (s->n_listeners == OCTO_HTTP_MAX_LISTENERS) {
        snprintf(err, err_size, "too many listeners");
        return OCTO_E_TOO_LARGE;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int g = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(err, err_size, "cannot resolve listen address '%s': %s", host ? host : "",
                 gai_strerror(g));
        return OCTO_E_IO;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0;
    int e = errno;
    freeaddrinfo(ai);
    if (!ok) {
        if (fd >= 0) close(fd);
        snprintf(err, err_size, "cannot listen on %s:%d: %s", host ? host : "*", port,
                 strerror(e));
        return OCTO_E_IO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    listener *l = &s->listeners[s->n_listeners];
    memset(l, 0, sizeof *l);
    l->server = s;
    l->tag = tag;
    l->fd = fd;
    l->port = bound;
    s->n_listeners++;
    if (s->loop_started && epoll_add(s, fd, l) != 0) {
        snprintf(err, err_size, "cannot watch the socket of port %d", bound);
        return OCTO_E_IO;
    }
    return OCTO_OK;
}

int octo_http_listener_port(const octo_http_server *s, size_t i)
{
    return i < s->n_listeners ? s->listeners[i].port : 0;
}

/* Raises the soft descriptor limit so that max_connections (plus the
 * model files and the lingering closes) fit; warns when it cannot. */
static void fit_fd_limit(octo_http_server *s)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = (rlim_t)s->opts.max_connections + OCTO_LIMIT_HTTP_REJECTING + 256;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        OCTO_LOG_WARN("max_connections %u needs %llu file descriptors; the limit is %llu "
                      "(raise `ulimit -n`): connections past it get 503",
                      s->opts.max_connections, (unsigned long long)want,
                      (unsigned long long)rl.rlim_cur);
}

octo_err octo_http_start(octo_http_server *s, char *err, size_t err_size)
{
    if (s->loop_started) return OCTO_OK;
    fit_fd_limit(s);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->epfd < 0 || s->evfd < 0 || epoll_add(s, s->evfd, NULL) != 0) {
        snprintf(err, err_size, "cannot create the event loop: %s", strerror(errno));
        return OCTO_E_IO;
    }
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (epoll_add(s, s->listeners[i].fd, &s->listeners[i]) != 0) {
            snprintf(err, err_size, "cannot watch a listening socket: %s", strerror(errno));
            return OCTO_E_IO;
        }
    }
    if (pthread_create(&s->loop, NULL, loop_main, s) != 0) {
        snprintf(err, err_size, "cannot start the event loop thread");
        return OCTO_E_IO;
    }
    s->loop_started = true;
    return OCTO_OK;
}

/* ==== shutdown ==== */

static void wait_cond(octo_http_server *s, const uint64_t *what, double deadline)
{
    pthread_mutex_lock(&s->mu);
    while (*what > 0 && octo_now() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->idle, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Stops the loop; handler threads still running are woken by shutting
 * their sockets down and waited for (they must not outlive the server). */
static void loop_stop(octo_http_server *s)
{
    if (!s->loop_started) return;
    atomic_store(&s->stop_accept, true);
    atomic_store(&s->stop_loop, true);
    wake_loop(s);
    pthread_join(s->loop, NULL);
    s->loop_started = false;
    /* the loop is gone: this thread owns every connection now */
    for (conn *c = s->conns; c; c = c->next)
        if (c->state == C_HANDLER) shutdown(c->fd, SHUT_RDWR);
    double deadline = octo_now() + 10.0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        unsigned left = s->n_workers;
        pthread_mutex_unlock(&s->mu);
        if (!left || octo_now() > deadline) break;
        usleep(20000);
    }
    pthread_mutex_lock(&s->mu);
    s->handback = NULL; /* those connections are in s->conns as well */
    unsigned left = s->n_workers;
    pthread_mutex_unlock(&s->mu);
    if (left) {
        OCTO_LOG_WARN("%u handler(s) did not stop; their connections are left open", left);
        return;
    }
    while (s->conns) conn_close(s->conns);
}

void octo_http_shutdown(octo_http_server *s, double grace_s)
{
    atomic_store(&s->stop_accept, true);
    if (s->loop_started) { /* the loop closes the listeners it polls */
        wake_loop(s);
        double until = octo_now() + 2.0;
        while (!atomic_load(&s->listeners_closed) && octo_now() < until) usleep(2000);
    }
    if (!atomic_load(&s->listeners_closed)) close_listeners(s);
    wait_cond(s, &s->stats.in_flight, octo_now() + grace_s);
    pthread_mutex_lock(&s->mu);
    uint64_t left = s->stats.in_flight;
    pthread_mutex_unlock(&s->mu);
    if (left)
        OCTO_LOG_WARN("closing %llu request(s) still in flight after %.0fs",
                      (unsigned long long)left, grace_s);
    loop_stop(s);
}
