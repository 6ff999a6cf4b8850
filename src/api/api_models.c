/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_models — GET /v1/models and /v1/models/{id} in vLLM's shape (id,
 * object, created, owned_by, root, parent, max_model_len, permission).
 */
#include "api_int.h"

#include <string.h>

static json_t *model_card(const octo_api *api, const octo_model_config *m, const char *id)
{
    char perm[48] = "modelperm-";
    octo_random_hex(perm + 10, 32);
    json_t *permission = json_pack(
        "[{s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:b, s:b, s:s, s:n, s:b}]", "id", perm, "object",
        "model_permission", "created", (json_int_t)api->created, "allow_create_engine", 0,
        "allow_sampling", 1, "allow_logprobs", 1, "allow_search_engine", 0, "allow_view", 1,
        "allow_fine_tuning", 0, "organization", "*", "group", "is_blocking", 0);
    const char *root = m->path ? m->path : m->remote_model ? m->remote_model : m->name;
    json_t *card = json_pack("{s:s, s:s, s:I, s:s, s:s, s:n, s:o, s:s}", "id", id, "object",
                             "model", "created", (json_int_t)api->created, "owned_by", "octo",
                             "root", root, "parent", "permission", permission, "task",
                             octo_config_task_name(m->task));
    if (card) { /* the engine's length once loaded (it may cap the configured one) */
        const char *error;
        int64_t len;
        octo_api_model_state(api, m, &error, &len);
        if (!len) len = m->max_model_len;
        json_object_set_new(card, "max_model_len", len ? json_integer(len) : json_null());
        json_object_set_new(card, "octo", octo_api_model_extras(api, m));
    }
    return card;
}

void octo_api_models_list(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *data = json_array();
    for (size_t i = 0; i < api->cfg->n_models; i++) {
        const octo_model_config *m = &api->cfg->models[i];
        if (!octo_api_model_visible(api, req, m)) continue;
        json_array_append_new(data, model_card(api, m, m->name));
        for (size_t k = 0; k < m->n_aliases; k++)
            json_array_append_new(data, model_card(api, m, m->aliases[k]));
    }
    octo_http_respond_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void octo_api_models_get(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    const char *id = octo_http_req_path_rest(req);
    const octo_model_config *m = octo_api_model_lookup(api, req, id);
    if (!m) return;
    octo_http_respond_json(req, 200, model_card(api, m, id));
}
