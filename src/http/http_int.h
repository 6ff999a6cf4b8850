/* SPDX-License-Identifier: Apache-2.0 */
/* http_int — the server's private structures, shared by the http sources. */
#ifndef OCTO_HTTP_INT_H
#define OCTO_HTTP_INT_H

#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>

#include "http.h"

#define OCTO_HTTP_MAX_ROUTES 128
#define OCTO_HTTP_MAX_LISTENERS 32
#define OCTO_HTTP_MAX_RESP_HEADERS 16

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
    struct MHD_Daemon *daemon;
    void *tag;
    int port;
} listener;

struct octo_http_server {
    octo_http_opts opts;
    route routes[OCTO_HTTP_MAX_ROUTES];
    size_t n_routes;
    listener listeners[OCTO_HTTP_MAX_LISTENERS];
    size_t n_listeners;
    pthread_mutex_t mu; /* guards stats */
    pthread_cond_t idle; /* signalled when in_flight drops to 0 */
    octo_http_stats stats;
};

typedef struct resp_header {
    char *name;
    char *value;
} resp_header;

struct octo_http_req {
    octo_http_server *server;
    listener *listener;
    struct MHD_Connection *conn;
    char *method;
    char *path;
    const char *path_rest;
    char id[64];
    octo_buf body;
    bool too_large;
    bool responded;
    int status;
    size_t bytes_out;
    double t_start;
    resp_header headers[OCTO_HTTP_MAX_RESP_HEADERS];
    size_t n_headers;
};

#endif /* OCTO_HTTP_INT_H */
