/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_request — what every model endpoint does before its own work: parse
 * the JSON body, find the model it names (or the only one that fits), check
 * the key and that the model's task serves this endpoint; and the strict
 * readers of optional members that every endpoint shares.
 */
#include "api_int.h"

#include <string.h>

bool octo_api_json_bool(octo_http_req *req, const json_t *obj, const char *key,
                        const char *param, bool def, bool *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = def;
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) {
        octo_http_fail(req, OCTO_E_INVALID, param, "'%s' must be a boolean (true or false)", param);
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
            octo_http_fail(req, OCTO_E_INVALID, "model", "'model' must be a string");
            goto fail;
        }
        if (strlen(json_string_value(jm)) != json_string_length(jm)) {
            octo_http_fail(req, OCTO_E_INVALID, "model", "'model' must not contain NUL bytes");
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
            octo_http_fail(req, OCTO_E_INVALID, "model", "'model' is required");
            goto fail;
        }
    }
    if (m->task != task) {
        octo_http_fail(req, OCTO_E_INVALID, "model",
                                "The model `%s` does not support the %s API (its task is %s)",
                                m->name, what, octo_config_task_name(m->task));
        goto fail;
    }
    if (!octo_api_model_usable(api, req, m, *body)) goto fail;
    return m;
fail:
    json_decref(*body);
    *body = NULL;
    return NULL;
}
