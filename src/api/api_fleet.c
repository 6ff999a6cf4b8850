/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_fleet — many models in one process: the start-up check of what this
 * build and machine can honour, loading every entry so that one that fails
 * leaves the others serving (its error is kept and shown), each model's
 * state for /health, /v1/models and the start-up table, and the gate every
 * model endpoint passes (a failed model answers 503 with its error, a
 * remote one is proxied).
 *
 * It loads no weights itself (api_llm.c, api_pooler.c do) and speaks no
 * HTTP to other servers (api_proxy.c does).
 */
#include "api_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ==== what this build and machine can honour ==== */

static octo_err refuse(char *err, size_t n, const octo_config *cfg, size_t i, const char *fmt,
                       ...) OCTO_PRINTF(5, 6);
static octo_err refuse(char *err, size_t n, const octo_config *cfg, size_t i, const char *fmt,
                       ...)
{
    const octo_model_config *m = &cfg->models[i];
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (cfg->source && m->line > 0)
        snprintf(err, n, "%s:%d: models[%zu] (%s): %s", cfg->source, m->line, i, m->name, what);
    else
        snprintf(err, n, "models[%zu] (%s): %s", i, m->name, what);
    return OCTO_E_UNSUPPORTED;
}

static bool doc_built(void)
{
#ifdef OCTO_HAVE_DOC
    return true;
#else
    return false;
#endif
}

static octo_err check_devices(const octo_config *cfg, size_t i, int n_gpus, char *err, size_t n)
{
    const octo_model_config *m = &cfg->models[i];
    if (m->tensor_parallel_size > n_gpus && m->tensor_parallel_size > 1)
        return refuse(err, n, cfg, i, "tensor_parallel_size %ld needs as many GPUs, but %d "
                      "%s visible", m->tensor_parallel_size, n_gpus, n_gpus == 1 ? "is" : "are");
    if (m->tensor_parallel_size > 1)
        return refuse(err, n, cfg, i, "tensor_parallel_size %ld: octo runs a model on one "
                      "GPU today (tensor parallelism is not implemented yet)",
                      m->tensor_parallel_size);
    if (m->enable_expert_parallel)
        return refuse(err, n, cfg, i, "enable_expert_parallel: expert parallelism is not "
                      "implemented yet");
    for (size_t k = 0; k < m->n_devices; k++) {
        if (m->devices[k] < n_gpus) continue;
#ifdef OCTO_HAVE_CUDA
        return refuse(err, n, cfg, i, "devices: GPU %d does not exist (%d CUDA device(s) "
                      "visible)", m->devices[k], n_gpus);
#else
        return refuse(err, n, cfg, i, "devices: GPU %d cannot be used: this octo is built "
                      "without CUDA", m->devices[k]);
#endif
    }
    return OCTO_OK;
}

octo_err octo_api_models_check(const octo_config *cfg, int n_gpus, char *err, size_t n)
{
    for (size_t i = 0; i < cfg->n_models; i++) {
        const octo_model_config *m = &cfg->models[i];
        if (m->base_url) continue; /* config_check: no local settings */
        if (m->task == OCTO_TASK_TRANSCRIBE)
            return refuse(err, n, cfg, i, "task transcribe: speech recognition is not built "
                          "into this octo yet");
        if (m->task == OCTO_TASK_PARSE) {
            if (!doc_built())
                return refuse(err, n, cfg, i, "task parse: the document parser is not built "
                              "in (built with -DOCTO_DOC=OFF)");
            if (strcmp(m->path, "builtin") != 0)
                return refuse(err, n, cfg, i, "task parse: octo parses documents with its "
                              "built-in pipeline and cannot load the model at %s; "
                              "write `path: builtin`", m->path);
        }
        octo_err rc = check_devices(cfg, i, n_gpus, err, n);
        if (rc) return rc;
        if (m->quantization)
            return refuse(err, n, cfg, i, "quantization %s: this build has no kernels for "
                          "it (octo runs bf16 weights on a GPU, f32 on the CPU)",
                          m->quantization);
        bool gpu = m->n_devices > 0;
        const char *dt = m->dtype ? m->dtype : "auto";
        if (strcmp(dt, "auto") != 0 && strcmp(dt, gpu ? "bfloat16" : "float32") != 0)
            return refuse(err, n, cfg, i, gpu ? "dtype %s: on a GPU octo computes in "
                          "bfloat16 (write auto or bfloat16)" : "dtype %s: on the CPU octo "
                          "computes in float32 (write auto or float32)", dt);
    }
    return OCTO_OK;
}

/* ==== loading every model ==== */

static void set_error(octo_api *api, size_t i, const char *msg)
{
    octo_free(api->load_err[i]);
    api->load_err[i] = octo_strdup(msg);
}

octo_err octo_api_load_models(octo_api *api, char *err, size_t n)
{
    size_t served = 0, failed = 0;
    for (size_t i = 0; i < api->cfg->n_models; i++) {
        const octo_model_config *m = &api->cfg->models[i];
        char e2[768] = "";
        octo_err rc = OCTO_OK;
        double t0 = octo_now();
        if (m->base_url) {
            served++;
            continue;
        }
        /* a missing path is named by the loader (formats: "model path '...'
         * does not exist", with the octo pull hint for an ORG/NAME) */
        if (m->task == OCTO_TASK_EMBED || m->task == OCTO_TASK_SCORE)
            rc = octo_api_pooler_load(m, &api->pooler[i], e2, sizeof e2);
        else if (m->task == OCTO_TASK_GENERATE)
            rc = octo_api_llm_load(m, (double)api->cfg->server.request_timeout_s,
                                   &api->llm[i], e2, sizeof e2);
        if (rc) {
            OCTO_LOG_ERROR("model %s failed to load: %s (the other models serve)", m->name,
                           e2[0] ? e2 : octo_err_str(rc));
            set_error(api, i, e2[0] ? e2 : octo_err_str(rc));
            if (!failed++) snprintf(err, n, "model %s: %s", m->name, api->load_err[i]);
            continue;
        }
        served++;
        api->load_s[i] = octo_now() - t0;
        const octo_api_llm *l = api->llm[i];
        if (l)
            OCTO_LOG_INFO("model %s loaded in %.2fs: vocab %lld, context %lld tokens, chat "
                          "template %s, tool parser %s, reasoning parser %s",
                          m->name, api->load_s[i], (long long)l->vocab_size,
                          (long long)l->max_model_len,
                          l->tpl ? octo_runtime_model_template_origin(l->rt) : "none",
                          m->tool_call_parser ? m->tool_call_parser : "none",
                          m->reasoning_parser ? m->reasoning_parser : "none");
    }
    /* nothing left to serve: stop, as a one-model vLLM does */
    if (failed && !served) return OCTO_E_INVALID;
    return octo_api_kb_open(api, err, n);
}

/* ==== states ==== */

const char *octo_api_model_state(const octo_api *api, const octo_model_config *m,
                                 const char **error, int64_t *context)
{
    size_t i = (size_t)(m - api->cfg->models);
    *error = NULL;
    *context = 0;
    if (i >= api->cfg->n_models) return "unknown";
    if (m->base_url) return "remote";
    if (api->load_err[i]) {
        *error = api->load_err[i];
        return "error";
    }
    if (api->llm[i]) *context = api->llm[i]->max_model_len;
    else if (api->pooler[i]) *context = api->pooler[i]->max_len;
    else if (m->task == OCTO_TASK_PARSE) return "ready";
    else return "loading";
    return "ready";
}

json_t *octo_api_model_extras(const octo_api *api, const octo_model_config *m)
{
    const char *error;
    int64_t context;
    const char *state = octo_api_model_state(api, m, &error, &context);
    json_t *o = json_pack("{s:s}", "state", state);
    if (!o) return NULL;
    if (error) json_object_set_new(o, "error", json_string(error));
    if (m->base_url) json_object_set_new(o, "remote", json_true());
    if (m->demo) json_object_set_new(o, "demo", json_true());
    if (m->note) json_object_set_new(o, "note", json_string(m->note));
    return o;
}

/* GET /health: 200 {"status": "healthy"} while every model serves;
 * "degraded" with each model's state when one failed to load. On a model's
 * own port (a one-model server, as vLLM's) only that model counts, and a
 * failed one answers 503. Error texts (which name paths) are shown only
 * when no API key guards the server. */
void octo_api_health(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    const octo_model_config *only = octo_http_req_listener_tag(req);
    json_t *models = json_object();
    bool degraded = false;
    for (size_t i = 0; i < api->cfg->n_models; i++) {
        const octo_model_config *m = &api->cfg->models[i];
        if (only && only != m) continue;
        const char *error;
        int64_t context;
        const char *state = octo_api_model_state(api, m, &error, &context);
        json_t *e = json_pack("{s:s}", "state", state);
        if (error) {
            degraded = true;
            if (!api->cfg->server.n_api_keys) json_object_set_new(e, "error", json_string(error));
        }
        json_object_set_new(models, m->name, e);
    }
    json_t *body = json_pack("{s:s, s:s, s:o}", "status", degraded ? "degraded" : "healthy",
                             "version", OCTO_VERSION, "models", models);
    octo_http_respond_json(req, only && degraded ? octo_http_status_for(OCTO_E_BUSY) : 200,
                           body);
}

/* ==== the gate of every model endpoint ==== */

bool octo_api_model_usable(octo_api *api, octo_http_req *req, const octo_model_config *m,
                           const json_t *body)
{
    size_t i = (size_t)(m - api->cfg->models);
    if (m->base_url) {
        octo_api_proxy(api, req, m, body);
        return false;
    }
    if (i < api->cfg->n_models && api->load_err[i]) {
        octo_http_fail(req, OCTO_E_BUSY, "model", "The model `%s` failed to load: %s", m->name,
                       api->load_err[i]);
        return false;
    }
    return true;
}
