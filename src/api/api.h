/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api — the endpoint handlers: wires http/ to the configuration, the
 * engines and (later) rag, doc, audio and plan. It owns the rules of who
 * may see which model (API keys, per-model ports) and the shapes of the
 * OpenAI / vLLM responses.
 *
 * It owns no socket and no model weights.
 */
#ifndef OCTO_API_H
#define OCTO_API_H

#include "base/base.h"
#include "config/config.h"
#include "http/http.h"

typedef struct octo_api octo_api;

/* Creates the API over a configuration, which must outlive it. */
octo_api *octo_api_new(const octo_config *cfg);
void octo_api_free(octo_api *api);
/* Loads the engines of the configured models (start-up). A model that
 * fails is kept with its error (see octo_api_model_state) and the others
 * load; fails only when no model is left to serve, with the first error
 * (naming the model) in err. */
octo_err octo_api_load_models(octo_api *api, char *err, size_t err_size) OCTO_WUR;
/* Refuses, before anything loads, the settings that this build or machine
 * cannot honour (a task not built in, tensor parallelism, a GPU that does
 * not exist among n_gpus, a quantisation or dtype without kernels).
 * OCTO_E_UNSUPPORTED with "FILE:LINE: models[i] (NAME): why" in err. */
octo_err octo_api_models_check(const octo_config *cfg, int n_gpus, char *err,
                               size_t err_size) OCTO_WUR;
/* The state of a configured model: "ready", "error" (*error says why),
 * "remote", "loading"; *context is its context length once loaded (else 0). */
const char *octo_api_model_state(const octo_api *api, const octo_model_config *m,
                                 const char **error /* OUT */, int64_t *context /* OUT */);
/* Registers every route on the server. */
octo_err octo_api_mount(octo_api *api, octo_http_server *s) OCTO_WUR;
/* The authorisation hook for octo_http_opts.authorize (ctx = the api). */
bool octo_api_authorize(octo_http_req *req, void *ctx);

#endif /* OCTO_API_H */
