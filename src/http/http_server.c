/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_server — the libmicrohttpd glue: one MHD daemon per listener, all
 * sharing one router; request bodies gathered under a limit; responses,
 * streams, the access log and counters. Graceful shutdown quiesces every
 * daemon, waits for in-flight requests, then stops.
 *
 * It deliberately contains no endpoint: routes come from api/.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ==== server lifetime ==== */

octo_http_server *octo_http_server_new(const octo_http_opts *opts)
{
    octo_http_server *s = octo_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->opts = *opts;
    if (!s->opts.max_body_bytes) s->opts.max_body_bytes = OCTO_LIMIT_HTTP_BODY_BYTES;
    if (!s->opts.max_header_bytes) s->opts.max_header_bytes = OCTO_LIMIT_HTTP_HEADER_BYTES;
    if (!s->opts.max_connections) s->opts.max_connections = OCTO_LIMIT_HTTP_CONNECTIONS;
    if (!s->opts.timeout_s) s->opts.timeout_s = OCTO_LIMIT_HTTP_TIMEOUT_S;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    return s;
}

static void stop_all(octo_http_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].daemon) MHD_stop_daemon(s->listeners[i].daemon);
        s->listeners[i].daemon = NULL;
    }
}

void octo_http_server_free(octo_http_server *s)
{
    if (!s) return;
    stop_all(s);
    for (size_t i = 0; i < s->n_routes; i++) {
        octo_free(s->routes[i].method);
        octo_free(s->routes[i].path);
    }
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
    pthread_mutex_unlock(&s->mu);
}

/* ==== request state ==== */

static void req_free(octo_http_req *r)
{
    if (!r) return;
    octo_buf_deinit(&r->body);
    for (size_t i = 0; i < r->n_headers; i++) {
        octo_free(r->headers[i].name);
        octo_free(r->headers[i].value);
    }
    octo_free(r->path);
    octo_free(r->method);
    octo_free(r);
}

static octo_http_req *req_new(octo_http_server *s, listener *l, struct MHD_Connection *c,
                              const char *url, const char *method)
{
    octo_http_req *r = octo_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->server = s;
    r->listener = l;
    r->conn = c;
    r->t_start = octo_now();
    r->path = octo_strdup(url);
    r->method = octo_strdup(method);
    octo_buf_init(&r->body, s->opts.max_body_bytes);
    if (!r->path || !r->method) {
        req_free(r);
        return NULL;
    }
    const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && *rid && strlen(rid) < sizeof r->id) {
        octo_strlcpy(r->id, rid, sizeof r->id);
    } else {
        memcpy(r->id, "req-", 4);
        octo_random_hex(r->id + 4, 24);
    }
    return r;
}

/* ==== routing ==== */

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

static void dispatch(octo_http_server *s, octo_http_req *r)
{
    bool path_known;
    const route *rt = find_route(s, r, &path_known);
    octo_log_set_request_id(r->id);
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
    } else {
        rt->fn(r, rt->ctx);
    }
    if (!r->responded) {
        OCTO_LOG_ERROR("handler for %s %s did not respond", r->method, r->path);
        octo_http_respond_error(r, 500, NULL, "internal error: no response");
    }
    octo_log_set_request_id(NULL);
}

/* ==== MHD callbacks ==== */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    listener *l = cls;
    octo_http_server *s = l->server;
    octo_http_req *r = *con_cls;
    if (!r) {
        r = req_new(s, l, c, url, method);
        if (!r) return MHD_NO;
        *con_cls = r;
        pthread_mutex_lock(&s->mu);
        s->stats.in_flight++;
        pthread_mutex_unlock(&s->mu);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        long n;
        if (cl && octo_parse_long(cl, 0, LONG_MAX, &n) == OCTO_OK &&
            (size_t)n > s->opts.max_body_bytes) {
            r->too_large = true;
            octo_http_respond_error(r, 413, NULL,
                                    "request body of %ld bytes exceeds the limit of %zu bytes", n,
                                    s->opts.max_body_bytes);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* Over the limit mid-upload (no Content-Length): the rest is read
         * and dropped, and 413 goes out once the upload ends — MHD sends no
         * response queued while a body is still arriving. */
        if (!r->too_large && octo_buf_append(&r->body, upload_data, *upload_size) != OCTO_OK) {
            r->too_large = true;
            octo_buf_deinit(&r->body);
        }
        pthread_mutex_lock(&s->mu);
        s->stats.bytes_in += *upload_size;
        pthread_mutex_unlock(&s->mu);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_large && !r->responded)
        octo_http_respond_error(r, 413, NULL, "request body exceeds the limit of %zu bytes",
                                s->opts.max_body_bytes);
    if (!r->responded) dispatch(s, r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    listener *l = cls;
    octo_http_server *s = l->server;
    octo_http_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    bool aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (s->opts.access_log) {
        char addr[INET6_ADDRSTRLEN] = "-";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof addr);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
                          sizeof addr);
        }
        octo_log_set_request_id(r->id);
        OCTO_LOG_INFO("%s \"%s %s\" %d %zuB %.1fms%s", addr, r->method, r->path, r->status,
                      r->bytes_out, (octo_now() - r->t_start) * 1e3, aborted ? " aborted" : "");
        octo_log_set_request_id(NULL);
    }
    pthread_mutex_lock(&s->mu);
    s->stats.requests_total++;
    if (r->status >= 100 && r->status < 600) s->stats.by_class[r->status / 100]++;
    s->stats.bytes_out += r->bytes_out;
    if (aborted) s->stats.client_aborts++;
    s->stats.in_flight--;
    if (s->stats.in_flight == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    req_free(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    OCTO_LOG_DEBUG("libmicrohttpd: %s", msg);
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
    listener *l = &s->listeners[s->n_listeners];
    memset(l, 0, sizeof *l);
    l->server = s;
    l->tag = tag;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    l->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, l, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_CONNECTION_LIMIT,
        s->opts.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)s->opts.max_header_bytes, MHD_OPTION_CONNECTION_TIMEOUT, s->opts.timeout_s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!l->daemon) {
        snprintf(err, err_size, "cannot listen on %s:%d (address in use or not available)",
                 host ? host : "*", port);
        return OCTO_E_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_BIND_PORT);
    l->port = di ? di->port : port;
    s->n_listeners++;
    return OCTO_OK;
}

int octo_http_listener_port(const octo_http_server *s, size_t i)
{
    return i < s->n_listeners ? s->listeners[i].port : 0;
}

void octo_http_shutdown(octo_http_server *s, double grace_s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (!s->listeners[i].daemon) continue;
        MHD_socket fd = MHD_quiesce_daemon(s->listeners[i].daemon);
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    double deadline = octo_now() + grace_s;
    pthread_mutex_lock(&s->mu);
    while (s->stats.in_flight > 0 && octo_now() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->idle, &s->mu, &ts);
    }
    uint64_t left = s->stats.in_flight;
    pthread_mutex_unlock(&s->mu);
    if (left) OCTO_LOG_WARN("closing %llu request(s) still in flight after %.0fs",
                            (unsigned long long)left, grace_s);
    stop_all(s);
}
