/* SPDX-License-Identifier: Apache-2.0 */
/* api_int — state shared by the api sources. */
#ifndef OCTO_API_INT_H
#define OCTO_API_INT_H

#include "api.h"

struct octo_api {
    const octo_config *cfg;
    int64_t created;  /* server start, unix seconds: "created" of models */
    double t_start;   /* monotonic start, for uptime */
};

/* True when the request's key may use model m and m is served on the
 * listener the request came in on. */
bool octo_api_model_visible(const octo_api *api, const octo_http_req *req,
                            const octo_model_config *m);
/* Finds a model by name visible to the request; answers 404 (unknown) and
 * returns NULL otherwise. */
const octo_model_config *octo_api_model_lookup(octo_api *api, octo_http_req *req,
                                               const char *name);

/* Parses the body and resolves the model for an endpoint of `task`;
 * answers the request (400/401/404) and returns NULL on failure. On success
 * *body is the parsed JSON (caller owns it). */
const octo_model_config *octo_api_request_begin(octo_api *api, octo_http_req *req,
                                                octo_task task, const char *what,
                                                json_t **body /* OUT */);
/* Registers the model endpoints. */
octo_err octo_api_mount_model_routes(octo_api *api, octo_http_server *s);

void octo_api_models_list(octo_http_req *req, void *ctx);
void octo_api_models_get(octo_http_req *req, void *ctx);
void octo_api_metrics(octo_http_req *req, void *ctx);
/* POST /file_parse (mineru-api compatible), api_file_parse.c. */
void octo_api_file_parse(octo_http_req *req, void *ctx);

#endif /* OCTO_API_INT_H */
