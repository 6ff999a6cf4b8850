/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_main — route table, authorisation, health and version. The rules:
 * with global keys configured every non-public route needs a global key or
 * some model's own key; a model with its own key is usable with that key or
 * a global key; a model with a port of its own is served there alone (and
 * on the main port).
 */
#include "api_int.h"

#include <string.h>
#include <unistd.h>

octo_api *octo_api_new(const octo_config *cfg)
{
    octo_api *api = octo_calloc(1, sizeof *api);
    if (!api) return NULL;
    api->cfg = cfg;
    octo_api_proxy_global_init();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long conc = cfg->server.parse_concurrency ? cfg->server.parse_concurrency : cores / 2;
    api->parse_gate.max = conc > 0 ? (unsigned)conc : 1u;
    api->parse_gate.queue = (unsigned)cfg->server.parse_queue;
    pthread_mutex_init(&api->parse_gate.mu, NULL);
    pthread_cond_init(&api->parse_gate.cv, NULL);
    api->created = octo_unix_time();
    api->t_start = octo_now();
    return api;
}

void octo_api_free(octo_api *api)
{
    if (!api) return;
    octo_rag_free(api->rag); /* its worker uses the poolers: first */
    octo_rag_remote_free(api->kb_remote);
    pthread_mutex_destroy(&api->parse_gate.mu);
    pthread_cond_destroy(&api->parse_gate.cv);
    for (size_t i = 0; i < OCTO_LIMIT_CONFIG_MODELS; i++) {
        octo_api_llm_free(api->llm[i]);
        octo_api_pooler_free(api->pooler[i]);
        octo_free(api->load_err[i]);
    }
    octo_api_proxy_global_deinit();
    octo_free(api);
}

/* Compares without an early exit so that timing says nothing of the key. */
static bool key_equal(const char *a, const char *b)
{
    if (!a || !b) return false;
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++) diff |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return diff == 0;
}

static bool is_global_key(const octo_config *cfg, const char *tok)
{
    bool ok = false;
    for (size_t i = 0; i < cfg->server.n_api_keys; i++)
        ok |= key_equal(tok, cfg->server.api_keys[i]);
    return ok;
}

static bool model_access(const octo_config *cfg, const octo_model_config *m, const char *tok)
{
    if (m->api_key) return key_equal(tok, m->api_key) || is_global_key(cfg, tok);
    if (cfg->server.n_api_keys) return is_global_key(cfg, tok);
    return true;
}

bool octo_api_model_visible(const octo_api *api, const octo_http_req *req,
                            const octo_model_config *m)
{
    const octo_model_config *only = octo_http_req_listener_tag(req);
    if (only && only != m) return false;
    return model_access(api->cfg, m, octo_http_req_bearer(req));
}

const octo_model_config *octo_api_model_lookup(octo_api *api, octo_http_req *req,
                                               const char *name)
{
    const octo_model_config *m = name ? octo_config_model_find(api->cfg, name) : NULL;
    if (!m || !octo_api_model_visible(api, req, m)) {
        octo_http_fail(req, OCTO_E_NOT_FOUND, "model", "The model `%s` does not exist.",
                                name ? name : "");
        return NULL;
    }
    return m;
}

bool octo_api_authorize(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    const octo_config *cfg = api->cfg;
    const char *tok = octo_http_req_bearer(req);
    const octo_model_config *only = octo_http_req_listener_tag(req);
    bool ok;
    if (only) {
        ok = model_access(cfg, only, tok);
    } else if (cfg->server.n_api_keys) {
        ok = is_global_key(cfg, tok);
        for (size_t i = 0; i < cfg->n_models && !ok; i++)
            ok = cfg->models[i].api_key && key_equal(tok, cfg->models[i].api_key);
    } else {
        ok = true; /* model keys are checked per model */
    }
    if (ok) return true;
    if (octo_http_set_header(req, "WWW-Authenticate", "Bearer") != OCTO_OK) {
        /* the 401 still goes out without the hint */
    }
    octo_http_fail(req, OCTO_E_AUTH, NULL, "%s",
                            tok ? "invalid API key"
                                : "missing API key: send 'Authorization: Bearer <key>'");
    return false;
}

/* GET /docs: a page naming the endpoints (FastAPI servers such as
 * mineru-api serve their API docs here; Dify's MinerU tool checks that it
 * answers before it saves the server). */
static void docs(octo_http_req *req, void *ctx);

static void version(octo_http_req *req, void *ctx)
{
    (void)ctx;
    octo_http_respond_json(req, 200, json_pack("{s:s}", "version", OCTO_VERSION));
}

/* POST /invocations (vLLM, for SageMaker): the API the body is for. */
static void invocations(octo_http_req *req, void *ctx)
{
    json_t *body = octo_http_req_json(req);
    if (!body) return;
    octo_http_handler fn = NULL;
    if (json_object_get(body, "messages")) fn = octo_api_chat;
    else if (json_object_get(body, "prompt")) fn = octo_api_completions;
    else if (json_object_get(body, "input")) fn = octo_api_embeddings;
    else if (json_object_get(body, "query") && json_object_get(body, "documents"))
        fn = octo_api_rerank;
    json_decref(body);
    if (fn) fn(req, ctx);
    else
        octo_http_fail(req, OCTO_E_INVALID, NULL,
                       "cannot tell the API from the body: give 'messages' (chat), 'prompt' "
                       "(completions), 'input' (embeddings) or 'query' and 'documents' "
                       "(rerank)");
}

/* The one route table: every endpoint octo serves. */
octo_err octo_api_mount(octo_api *api, octo_http_server *s)
{
    static const struct {
        const char *method, *path;
        unsigned flags;
        octo_http_handler fn;
    } routes[] = {
        {"GET", "/health", OCTO_HTTP_PUBLIC, octo_api_health},
        {"GET", "/version", OCTO_HTTP_PUBLIC, version},
        {"GET", "/docs", OCTO_HTTP_PUBLIC, docs},
        {"GET", "/metrics", OCTO_HTTP_PUBLIC, octo_api_metrics},
        {"GET", "/v1/models", 0, octo_api_models_list},
        {"GET", "/v1/models/*", 0, octo_api_models_get},
        {"POST", "/v1/chat/completions", 0, octo_api_chat},
        {"POST", "/v1/completions", 0, octo_api_completions},
        {"POST", "/tokenize", 0, octo_api_tokenize},
        {"POST", "/detokenize", 0, octo_api_detokenize},
        {"POST", "/v1/embeddings", 0, octo_api_embeddings},
        {"POST", "/v1/rerank", 0, octo_api_rerank},
        {"POST", "/v2/rerank", 0, octo_api_rerank},
        {"POST", "/rerank", 0, octo_api_rerank},
        {"POST", "/v1/score", 0, octo_api_score},
        {"POST", "/score", 0, octo_api_score},
        {"POST", "/file_parse", 0, octo_api_file_parse},
        {"POST", "/invocations", 0, invocations},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        octo_err rc = octo_http_route(s, routes[i].method, routes[i].path, routes[i].flags,
                                      routes[i].fn, api);
        if (rc) return rc;
    }
    return octo_api_kb_mount(api, s); /* the knowledge routes: api_kb.c */
}

static void docs(octo_http_req *req, void *ctx)
{
    (void)ctx;
    static const char page[] =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>octo API</title></head>"
        "<body><h1>octo " OCTO_VERSION "</h1><p>OpenAI / vLLM, MinerU and Dify compatible "
        "HTTP API.</p><ul>"
        "<li>GET /health, /version, /metrics, /v1/models</li>"
        "<li>POST /v1/chat/completions, /v1/completions, /tokenize, /detokenize</li>"
        "<li>POST /v1/embeddings, /v1/rerank, /rerank, /v1/score, /score</li>"
        "<li>POST /file_parse (multipart form, mineru-api)</li>"
        "</ul></body></html>";
    octo_http_respond(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}
