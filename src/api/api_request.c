/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_request — what every model endpoint does before its own work: parse
 * the JSON body, find the model it names (or the only one that fits), check
 * the key and that the model's task serves this endpoint. Endpoints whose
 * engine is not in this build answer 501 after those checks.
 */
#include "api_int.h"

#include <string.h>

typedef struct endpoint {
    const char *path;
    octo_task task;
    const char *what; /* for messages */
    octo_http_handler fn; /* NULL: not in this build (501) */
} endpoint;

static const endpoint k_endpoints[] = {
    {"/v1/embeddings", OCTO_TASK_EMBED, "Embeddings", octo_api_embeddings},
    {"/v1/rerank", OCTO_TASK_SCORE, "Rerank", octo_api_rerank},
    {"/rerank", OCTO_TASK_SCORE, "Rerank", octo_api_rerank},
    {"/v1/score", OCTO_TASK_SCORE, "Score", octo_api_score},
    {"/score", OCTO_TASK_SCORE, "Score", octo_api_score},
};

bool octo_api_json_bool(octo_http_req *req, const json_t *obj, const char *key,
                        const char *param, bool def, bool *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = def;
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) {
        octo_http_respond_error(req, 400, param, "'%s' must be a boolean (true or false)", param);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

const octo_model_config *octo_api_request_begin(octo_api *api, octo_http_req *req,
                                                octo_task task, const char *what,
                                                json_t **body)
{
    *body = octo_http_req_json(req);
    if (!*body) return NULL;
    json_t *jm = json_object_get(*body, "model");
    const octo_model_config *m = NULL;
    if (jm && !json_is_null(jm)) {
        if (!json_is_string(jm)) {
            octo_http_respond_error(req, 400, "model", "'model' must be a string");
            goto fail;
        }
        if (strlen(json_string_value(jm)) != json_string_length(jm)) {
            octo_http_respond_error(req, 400, "model", "'model' must not contain NUL bytes");
            goto fail;
        }
        m = octo_api_model_lookup(api, req, json_string_value(jm));
        if (!m) goto fail;
    } else {
        /* like vLLM: without a model, the first visible one that fits */
        for (size_t i = 0; i < api->cfg->n_models && !m; i++) {
            const octo_model_config *c = &api->cfg->models[i];
            if (c->task == task && octo_api_model_visible(api, req, c)) m = c;
        }
        if (!m) {
            octo_http_respond_error(req, 400, "model", "'model' is required");
            goto fail;
        }
    }
    if (m->task != task) {
        octo_http_respond_error(req, 400, "model",
                                "The model `%s` does not support the %s API (its task is %s)",
                                m->name, what, octo_config_task_name(m->task));
        goto fail;
    }
    return m;
fail:
    json_decref(*body);
    *body = NULL;
    return NULL;
}

static void not_built(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    const endpoint *ep = NULL;
    for (size_t i = 0; i < sizeof k_endpoints / sizeof k_endpoints[0]; i++)
        if (strcmp(k_endpoints[i].path, octo_http_req_path(req)) == 0) ep = &k_endpoints[i];
    OCTO_ASSERT(ep != NULL);
    json_t *body;
    const octo_model_config *m = octo_api_request_begin(api, req, ep->task, ep->what, &body);
    if (!m) return;
    json_decref(body);
    octo_http_respond_error(req, 501, NULL,
                            "the %s API of model `%s` (task %s) is not available in this build",
                            ep->what, m->name, octo_config_task_name(m->task));
}

octo_err octo_api_mount_model_routes(octo_api *api, octo_http_server *s)
{
    static const struct {
        const char *path;
        octo_http_handler fn;
    } gen[] = {
        {"/v1/chat/completions", octo_api_chat},
        {"/v1/completions", octo_api_completions},
        {"/tokenize", octo_api_tokenize},
        {"/detokenize", octo_api_detokenize},
    };
    for (size_t i = 0; i < sizeof gen / sizeof gen[0]; i++) {
        octo_err rc = octo_http_route(s, "POST", gen[i].path, 0, gen[i].fn, api);
        if (rc) return rc;
    }
    for (size_t i = 0; i < sizeof k_endpoints / sizeof k_endpoints[0]; i++) {
        octo_http_handler fn = k_endpoints[i].fn ? k_endpoints[i].fn : not_built;
        octo_err rc = octo_http_route(s, "POST", k_endpoints[i].path, 0, fn, api);
        if (rc) return rc;
    }
    return OCTO_OK;
}
