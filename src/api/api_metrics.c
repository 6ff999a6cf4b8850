/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_metrics — GET /metrics in the Prometheus text exposition format:
 * HTTP counters, allocator bytes, uptime and the configured models. Engine
 * metrics join here as engines land.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

typedef struct metric_out {
    octo_buf b;
    octo_err rc;
} metric_out;

static void family(metric_out *o, const char *name, const char *type, const char *help)
{
    if (!o->rc)
        o->rc = octo_buf_printf(&o->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(metric_out *o, const char *name, const char *labels, double v)
{
    if (!o->rc)
        o->rc = octo_buf_printf(&o->b, "%s%s%s%s %.17g\n", name, labels ? "{" : "",
                                labels ? labels : "", labels ? "}" : "", v);
}

/* Prometheus label values escape backslash, quote and newline. */
static void label_value(char *dst, size_t cap, const char *v)
{
    size_t j = 0;
    for (size_t i = 0; v[i] && j + 3 < cap; i++) {
        char c = v[i];
        if (c == '\\' || c == '"') { dst[j++] = '\\'; dst[j++] = c; }
        else if (c == '\n') { dst[j++] = '\\'; dst[j++] = 'n'; }
        else dst[j++] = c;
    }
    dst[j] = '\0';
}

static void histogram(metric_out *o, const char *name, const char *raw_model,
                      const octo_sched_stats *st, const int64_t *counts, int64_t total,
                      double sum)
{
    char model[2 * OCTO_LIMIT_NAME_BYTES];
    label_value(model, sizeof model, raw_model);
    char l[4 * OCTO_LIMIT_NAME_BYTES + 64], n[128];
    snprintf(n, sizeof n, "%s_bucket", name);
    for (int b = 0; b < st->n_buckets; b++) {
        snprintf(l, sizeof l, "model_name=\"%s\",le=\"%g\"", model, st->bucket_le[b]);
        sample(o, n, l, (double)counts[b]);
    }
    snprintf(l, sizeof l, "model_name=\"%s\",le=\"+Inf\"", model);
    sample(o, n, l, (double)total);
    snprintf(l, sizeof l, "model_name=\"%s\"", model);
    snprintf(n, sizeof n, "%s_sum", name);
    sample(o, n, l, sum);
    snprintf(n, sizeof n, "%s_count", name);
    sample(o, n, l, (double)total);
}

/* vLLM's metric names, so that its dashboards work unchanged. */
static void engine_metrics(metric_out *o, octo_api *api)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"vllm:num_requests_running", "gauge", "Requests in the engine's running batch."},
        {"vllm:num_requests_waiting", "gauge", "Requests waiting to be admitted."},
        {"vllm:kv_cache_usage_perc", "gauge", "Fraction of KV-cache blocks in use (0..1)."},
        {"vllm:num_preemptions_total", "counter", "Sequences preempted (recomputed later)."},
        {"vllm:prefix_cache_queries_total", "counter", "Prompt tokens looked up in the cache."},
        {"vllm:prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache."},
        {"vllm:prompt_tokens_total", "counter", "Prompt tokens processed."},
        {"vllm:generation_tokens_total", "counter", "Tokens generated."},
        {"vllm:request_success_total", "counter", "Requests finished."},
        {"octo_engine_schedule_seconds_total", "counter",
         "Engine thread time spent choosing what runs in each step."},
        {"octo_engine_forward_seconds_total", "counter",
         "Engine thread time in forwards and sampling."},
        {"octo_engine_output_seconds_total", "counter",
         "Engine thread time handing generated tokens to their requests."},
        {"octo_engine_steps_total", "counter", "Engine steps (forwards) run."},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        family(o, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < api->cfg->n_models; i++) {
            octo_api_llm *llm = api->llm[i];
            if (!llm) continue;
            octo_sched_stats st;
            octo_sched_stats_get(llm->sched, &st);
            double v[] = {(double)st.running, (double)st.waiting,
                          st.kv_blocks_total
                              ? (double)st.kv_blocks_used / (double)st.kv_blocks_total
                              : 0,
                          (double)st.swapped_or_preempted_total, (double)st.prefix_queries_tokens,
                          (double)st.prefix_hit_tokens, (double)st.prompt_tokens_total,
                          (double)st.generation_tokens_total, (double)st.requests_finished_total,
                          st.schedule_seconds, st.forward_seconds, st.output_seconds,
                          (double)st.steps_total};
            char name[2 * OCTO_LIMIT_NAME_BYTES], l[3 * OCTO_LIMIT_NAME_BYTES];
            label_value(name, sizeof name, api->cfg->models[i].name);
            snprintf(l, sizeof l, "model_name=\"%s\"", name);
            sample(o, fam[f].name, l, v[f]);
        }
    }
    family(o, "vllm:time_to_first_token_seconds", "histogram", "Time to first token.");
    for (size_t i = 0; i < api->cfg->n_models; i++) {
        if (!api->llm[i]) continue;
        octo_sched_stats st;
        octo_sched_stats_get(api->llm[i]->sched, &st);
        histogram(o, "vllm:time_to_first_token_seconds", api->cfg->models[i].name, &st,
                  st.ttft_count, st.ttft_total, st.ttft_sum);
    }
    family(o, "vllm:inter_token_latency_seconds", "histogram", "Time between output tokens.");
    for (size_t i = 0; i < api->cfg->n_models; i++) {
        if (!api->llm[i]) continue;
        octo_sched_stats st;
        octo_sched_stats_get(api->llm[i]->sched, &st);
        histogram(o, "vllm:inter_token_latency_seconds", api->cfg->models[i].name, &st,
                  st.itl_count, st.itl_total, st.itl_sum);
    }
}

/* The pooling batcher of embed/score models (octo's own names). */
static void pool_metrics(metric_out *o, octo_api *api)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"octo_pool_prompts_total", "counter", "Prompts embedded or scored."},
        {"octo_pool_tokens_total", "counter", "Prompt tokens run by the pooling batcher."},
        {"octo_pool_forwards_total", "counter", "Forwards run by the pooling batcher."},
        {"octo_pool_prompts_waiting", "gauge", "Prompts queued for the pooling batcher."},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        family(o, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < api->cfg->n_models; i++) {
            if (!api->pooler[i]) continue;
            octo_engine_pool_stats st;
            octo_engine_pool_stats_get(api->pooler[i]->pool, &st);
            double v[] = {(double)st.prompts_total, (double)st.tokens_total,
                          (double)st.steps_total, (double)st.waiting};
            char name[2 * OCTO_LIMIT_NAME_BYTES], l[3 * OCTO_LIMIT_NAME_BYTES];
            label_value(name, sizeof name, api->cfg->models[i].name);
            snprintf(l, sizeof l, "model_name=\"%s\"", name);
            sample(o, fam[f].name, l, v[f]);
        }
    }
}

void octo_api_metrics(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    metric_out o = {.rc = OCTO_OK};
    octo_buf_init(&o.b, 16u * 1024u * 1024u);
    octo_http_stats st;
    octo_http_stats_get(octo_http_req_server(req), &st);

    family(&o, "octo_http_requests_total", "counter", "HTTP requests answered, by status class.");
    for (int c = 1; c <= 5; c++) {
        char l[32];
        snprintf(l, sizeof l, "code=\"%dxx\"", c);
        sample(&o, "octo_http_requests_total", l, (double)st.by_class[c]);
    }
    family(&o, "octo_http_requests_in_flight", "gauge", "HTTP requests being served now.");
    sample(&o, "octo_http_requests_in_flight", NULL, (double)st.in_flight);
    family(&o, "octo_http_received_bytes_total", "counter", "Request body bytes received.");
    sample(&o, "octo_http_received_bytes_total", NULL, (double)st.bytes_in);
    family(&o, "octo_http_sent_bytes_total", "counter", "Response body bytes sent.");
    sample(&o, "octo_http_sent_bytes_total", NULL, (double)st.bytes_out);
    family(&o, "octo_http_connections_open", "gauge", "Client connections open now.");
    sample(&o, "octo_http_connections_open", NULL, (double)st.connections_open);
    family(&o, "octo_http_connections_rejected_total", "counter",
           "Connections answered 503 at a connection limit (global or per address).");
    sample(&o, "octo_http_connections_rejected_total", NULL, (double)st.connections_rejected);
    family(&o, "octo_http_request_timeouts_total", "counter",
           "Requests answered 408: head or body not received in time.");
    sample(&o, "octo_http_request_timeouts_total", NULL, (double)st.timeouts);
    family(&o, "octo_http_client_aborts_total", "counter", "Requests ended by the client.");
    sample(&o, "octo_http_client_aborts_total", NULL, (double)st.client_aborts);
    family(&o, "octo_memory_allocated_bytes", "gauge", "Bytes live through octo's allocator.");
    sample(&o, "octo_memory_allocated_bytes", NULL, (double)octo_alloc_live_bytes());
    family(&o, "octo_device_allocated_bytes", "gauge",
           "GPU bytes live through octo's own cudaMalloc calls (all devices).");
    sample(&o, "octo_device_allocated_bytes", NULL, (double)octo_alloc_device_live_bytes());
    family(&o, "octo_device_allocated_peak_bytes", "gauge",
           "Most GPU bytes ever live through octo's own cudaMalloc calls.");
    sample(&o, "octo_device_allocated_peak_bytes", NULL,
           (double)octo_alloc_device_peak_bytes());
    family(&o, "octo_uptime_seconds", "gauge", "Seconds since the server started.");
    sample(&o, "octo_uptime_seconds", NULL, octo_now() - api->t_start);
    family(&o, "octo_model_info", "gauge", "Configured models (value 1), by name and task.");
    for (size_t i = 0; i < api->cfg->n_models; i++) {
        const octo_model_config *m = &api->cfg->models[i];
        char name[2 * OCTO_LIMIT_NAME_BYTES], l[3 * OCTO_LIMIT_NAME_BYTES];
        label_value(name, sizeof name, m->name);
        snprintf(l, sizeof l, "model=\"%s\",task=\"%s\"", name, octo_config_task_name(m->task));
        sample(&o, "octo_model_info", l, 1);
    }
    engine_metrics(&o, api);
    pool_metrics(&o, api);
    if (o.rc) {
        octo_buf_deinit(&o.b);
        octo_http_fail(req, OCTO_E_INTERNAL, NULL, "metrics: %s", octo_err_str(o.rc));
        return;
    }
    octo_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", o.b.data, o.b.len);
    octo_buf_deinit(&o.b);
}
