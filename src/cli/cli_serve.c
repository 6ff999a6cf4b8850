/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_serve — `octo serve`: reads octo.yaml and/or vLLM-style flags, opens
 * the main port and every model's own port, serves until SIGINT/SIGTERM,
 * then lets in-flight requests finish (server.limits.shutdown_grace_s).
 */
#include "cli.h"
#include "cli_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "config/config.h"
#include "hub/hub.h"
#include "http/http.h"
#ifdef OCTO_HAVE_CUDA
#include "cuda/cuda.h"
#endif

/* GPUs this process can use (0 without CUDA). */
static int visible_gpus(void)
{
#ifdef OCTO_HAVE_CUDA
    int n = octo_cuda_device_count();
    return n > 0 ? n : 0;
#else
    return 0;
#endif
}

static const char k_serve_help[] =
    "usage: octo serve [MODEL] [--config FILE] [options]\n"
    "\n"
    "Serves the models of a configuration file and/or one model given on the\n"
    "command line, with the OpenAI / vLLM HTTP API. vLLM's flags are accepted\n"
    "with vLLM's spelling, so `vllm serve` command lines work unchanged.\n"
    "\n"
    "  --config FILE                 octo.yaml to load (see docs/CONFIGURATION.md)\n"
    "  MODEL, --model PATH           model folder to serve\n"
    "  --served-model-name NAME...   name(s) clients use (default: MODEL)\n"
    "  --host HOST                   listen address (default 127.0.0.1)\n"
    "  --port PORT                   listen port (default 8000; 0 picks a free one)\n"
    "  --api-key KEY                 require 'Authorization: Bearer KEY'\n"
    "  --task TASK                   generate | embed | score | transcribe | parse\n"
    "  --gpu-memory-utilization F    share of each GPU's memory (default 0.9)\n"
    "  --max-model-len N             context length (default: the model's)\n"
    "  --tensor-parallel-size N      GPUs per model (default 1)\n"
    "  --enable-expert-parallel      spread MoE experts over the GPUs\n"
    "  --enable-auto-tool-choice     let the model decide to call tools\n"
    "  --tool-call-parser NAME       hermes | glm45\n"
    "  --reasoning-parser NAME       qwen3 | glm45 | deepseek_r1\n"
    "  --max-num-seqs N              concurrent sequences (default 256)\n"
    "  --max-num-batched-tokens N    tokens per engine step\n"
    "  --dtype T                     auto | bfloat16 | float16 | float32\n"
    "  --load-format F               auto | dummy (random weights)\n"
    "  --chat-template FILE          override the model's chat template\n"
    "  --trust-remote-code           accepted for compatibility (no effect)\n"
    "  --log-level L                 debug | info | warn | error\n"
    "  --devices LIST                GPU ordinals of the model: 0,1 or 4-7\n"
    "  --quantization Q, -q Q        awq | gptq | fp8 (default: from the model)\n"
    "  --quantization-group-size N   AWQ/GPTQ group size for `octo plan` (-1: per channel)\n"
    "  --seed N                      sampling seed of the model (default 0)\n"
    "  -tp N                         same as --tensor-parallel-size\n"
    "  --check                       read and validate the configuration, print\n"
    "                                what would be served, and exit (no loading)\n"
    "\n"
    "Flags take '--flag value' or '--flag=value', underscores work for dashes and\n"
    "--no-FLAG turns a boolean off. Accepted and ignored, as vLLM tuning flags:\n"
    "--enforce-eager, --disable-log-requests, --disable-log-stats,\n"
    "--enable-prefix-caching, --enable-chunked-prefill. Server limits (connections,\n"
    "time-outs, rate limits, body sizes) are set in the config file's\n"
    "server.limits (docs/CONFIGURATION.md).\n"
    "\n"
    "Exit codes: 0 clean shutdown, 1 start-up failure, 2 bad arguments or config.\n";

static void print_plan(const octo_config *cfg)
{
    printf("server %s:%ld, %zu API key(s), storage %s\n", cfg->server.host, cfg->server.port,
           cfg->server.n_api_keys, cfg->server.storage_path);
    for (size_t i = 0; i < cfg->n_models; i++) {
        const octo_model_config *m = &cfg->models[i];
        printf("model %s: task %s, %s %s", m->name, octo_config_task_name(m->task),
               m->base_url ? "remote" : "path", m->base_url ? m->base_url : m->path);
        if (m->port) printf(", port %ld", m->port);
        if (m->n_devices) {
            printf(", devices");
            for (size_t d = 0; d < m->n_devices; d++) printf("%s%d", d ? "," : " ", m->devices[d]);
        }
        printf(", tp %ld, gpu memory %.2f", m->tensor_parallel_size, m->gpu_memory_utilization);
        if (m->max_model_len) printf(", context %ld", m->max_model_len);
        if (m->tool_call_parser) printf(", tools %s", m->tool_call_parser);
        if (m->reasoning_parser) printf(", reasoning %s", m->reasoning_parser);
        if (m->api_key) printf(", own key");
        printf("\n");
    }
}

int octo_cli_serve(int argc, char **argv)
{
    if (octo_cli_wants_help(argc, argv)) {
        fputs(k_serve_help, stdout);
        return OCTO_EXIT_OK;
    }
    int code = OCTO_EXIT_FAIL;
    char err[1024] = "";
    octo_config cfg;
    octo_api *api = NULL;
    octo_http_server *srv = NULL;
    octo_config_init(&cfg);

    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) { /* ours, not the config's */
            check = true;
            memmove(argv + i, argv + i + 1, (size_t)(argc - i - 1) * sizeof *argv);
            argc--;
            i--;
        }
    }
    if (octo_config_apply_args(&cfg, argc, argv, err, sizeof err) != OCTO_OK ||
        octo_config_validate(&cfg, err, sizeof err) != OCTO_OK) {
        fprintf(stderr, "octo serve: %s\n", err);
        code = OCTO_EXIT_USAGE;
        goto done;
    }
    /* ORG/NAME[@REV] paths: the snapshot `octo pull` (or huggingface_hub)
     * left in the Hugging Face cache */
    for (size_t i = 0; i < cfg.n_models; i++) {
        octo_model_config *m = &cfg.models[i];
        char snap[OCTO_LIMIT_PATH_BYTES], repo[256], rev[128];
        if (!m->path) continue;
        if (!octo_hub_resolve(m->path, snap, sizeof snap)) {
            if (access(m->path, F_OK) != 0 &&
                octo_hub_parse_id(m->path, repo, sizeof repo, rev, sizeof rev))
                fprintf(stderr, "octo serve: model %s: %s is neither a local path nor in the "
                        "Hugging Face cache: octo pull %s\n", m->name, m->path, m->path);
            continue;
        }
        char *copy = octo_strdup(snap);
        if (!copy) continue;
        OCTO_LOG_INFO("model %s: %s is %s in the hub cache", m->name, m->path, snap);
        octo_free(m->path);
        m->path = copy;
    }
    if (check) {
        print_plan(&cfg);
        code = OCTO_EXIT_OK;
        goto done;
    }
    if (octo_api_models_check(&cfg, visible_gpus(), err, sizeof err) != OCTO_OK) {
        fprintf(stderr, "octo serve: %s\n", err);
        code = OCTO_EXIT_USAGE;
        goto done;
    }
    octo_log_level lvl;
    if (cfg.server.log_level && octo_log_level_parse(cfg.server.log_level, &lvl) == OCTO_OK)
        octo_log_set_level(lvl);

    /* Signals are taken by sigwait in this thread alone; every thread
     * created from here on inherits the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    api = octo_api_new(&cfg);
    octo_http_opts opts = {
        .max_body_bytes = (size_t)cfg.server.max_body_bytes,
        .max_header_bytes = (size_t)cfg.server.max_header_bytes,
        .max_connections = (unsigned)cfg.server.max_connections,
        .max_connections_per_address = (unsigned)cfg.server.max_connections_per_address,
        .timeout_s = (unsigned)cfg.server.keepalive_timeout_s,
        .header_timeout_s = (unsigned)cfg.server.header_timeout_s,
        .read_timeout_s = (unsigned)cfg.server.read_timeout_s,
        .retry_after_s = (unsigned)cfg.server.retry_after_s,
        .rate_limit_per_key = (double)cfg.server.rate_limit_per_minute / 60.0,
        .rate_limit_burst = (double)cfg.server.rate_limit_burst,
        .access_log = cfg.server.access_log,
        .authorize = octo_api_authorize,
        .authorize_ctx = api,
    };
    srv = api ? octo_http_server_new(&opts) : NULL;
    if (!srv || octo_api_mount(api, srv) != OCTO_OK) {
        fprintf(stderr, "octo serve: out of memory\n");
        goto done;
    }
    /* The ports are bound before any model loads, so that a port in use
     * fails at once; connections wait in the backlog until the loop starts. */
    if (octo_http_listen(srv, cfg.server.host, (int)cfg.server.port, NULL, err, sizeof err)) {
        fprintf(stderr, "octo serve: %s\n", err);
        goto done;
    }
    for (size_t i = 0; i < cfg.n_models; i++) {
        octo_model_config *m = &cfg.models[i];
        if (!m->port) continue;
        if (octo_http_listen(srv, cfg.server.host, (int)m->port, m, err, sizeof err)) {
            fprintf(stderr, "octo serve: model %s: %s\n", m->name, err);
            goto done;
        }
    }
    if (octo_api_load_models(api, err, sizeof err) != OCTO_OK) {
        fprintf(stderr, "octo serve: %s\n", err);
        goto done;
    }
    if (octo_http_start(srv, err, sizeof err) != OCTO_OK) {
        fprintf(stderr, "octo serve: %s\n", err);
        goto done;
    }
    OCTO_LOG_INFO("listening on http://%s:%d (%zu model(s))", cfg.server.host,
                  octo_http_listener_port(srv, 0), cfg.n_models);
    size_t li = 1;
    for (size_t i = 0; i < cfg.n_models; i++) {
        octo_model_config *m = &cfg.models[i];
        OCTO_LOG_INFO("model %s: task %s, %s %s", m->name, octo_config_task_name(m->task),
                      m->base_url ? "remote" : "path", m->base_url ? m->base_url : m->path);
        if (!m->port) continue;
        OCTO_LOG_INFO("model %s also on http://%s:%d", m->name, cfg.server.host,
                      octo_http_listener_port(srv, li++));
    }
    octo_cli_serve_table(&cfg, api, octo_http_listener_port(srv, 0), stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    OCTO_LOG_INFO("received %s: finishing in-flight requests (up to %lds)",
                  sig == SIGINT ? "SIGINT" : "SIGTERM", cfg.server.shutdown_grace_s);
    octo_http_shutdown(srv, (double)cfg.server.shutdown_grace_s);
    OCTO_LOG_INFO("stopped");
    code = OCTO_EXIT_OK;
done:
    octo_http_server_free(srv);
    octo_api_free(api);
    octo_config_deinit(&cfg);
    return code;
}
