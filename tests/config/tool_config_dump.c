/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tool_config_dump — loads a config and prints it as JSON on stdout, for
 * tests/config/test_config_yaml.py to compare against PyYAML's reading of
 * the same file:
 *   tool_config_dump FILE            load FILE, validate, print
 *   tool_config_dump serve ARGS...   apply `octo serve` ARGS, validate, print
 * On error prints the message on stderr and exits 1.
 */
#include "config/config.h"

#include <stdio.h>
#include <string.h>

static void put_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void put_key(const char *k, bool first)
{
    printf("%s\"%s\": ", first ? "" : ", ", k);
}

static void kv_str(const char *k, const char *v, bool first)
{
    put_key(k, first);
    put_str(v);
}

static void kv_long(const char *k, long v)
{
    put_key(k, false);
    printf("%ld", v);
}

static void kv_bool(const char *k, bool v)
{
    put_key(k, false);
    fputs(v ? "true" : "false", stdout);
}

static void put_strs(char *const *v, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(", ", stdout);
        put_str(v[i]);
    }
    putchar(']');
}

static void put_model(const octo_model_config *m)
{
    kv_str("name", m->name, true);
    put_key("aliases", false);
    put_strs(m->aliases, m->n_aliases);
    kv_str("path", m->path, false);
    kv_str("task", octo_config_task_name(m->task), false);
    put_key("devices", false);
    putchar('[');
    for (size_t i = 0; i < m->n_devices; i++) printf("%s%d", i ? ", " : "", m->devices[i]);
    putchar(']');
    put_key("gpu_memory_utilization", false);
    printf("%.17g", m->gpu_memory_utilization);
    kv_long("max_model_len", m->max_model_len);
    kv_long("tensor_parallel_size", m->tensor_parallel_size);
    kv_bool("enable_expert_parallel", m->enable_expert_parallel);
    kv_long("max_num_seqs", m->max_num_seqs);
    kv_long("max_num_batched_tokens", m->max_num_batched_tokens);
    kv_bool("enable_auto_tool_choice", m->enable_auto_tool_choice);
    kv_str("tool_call_parser", m->tool_call_parser, false);
    kv_str("reasoning_parser", m->reasoning_parser, false);
    kv_str("chat_template", m->chat_template, false);
    kv_str("api_key", m->api_key, false);
    kv_long("port", m->port);
    kv_str("dtype", m->dtype, false);
    kv_str("quantization", m->quantization, false);
    kv_str("load_format", m->load_format == OCTO_LOAD_DUMMY ? "dummy" : "auto", false);
    kv_bool("trust_remote_code", m->trust_remote_code);
    kv_long("seed", m->seed);
    kv_str("base_url", m->base_url, false);
    kv_str("remote_model", m->remote_model, false);
    kv_str("remote_api_key", m->remote_api_key, false);
    kv_long("remote_timeout_s", m->remote_timeout_s);
    kv_long("remote_connect_timeout_s", m->remote_connect_timeout_s);
    kv_bool("demo", m->demo);
    kv_str("note", m->note, false);
    kv_long("line", m->line);
}

static void put_config(const octo_config *cfg)
{
    const octo_server_config *s = &cfg->server;
    fputs("{\"server\": {", stdout);
    kv_str("host", s->host, true);
    kv_long("port", s->port);
    put_key("api_keys", false);
    put_strs(s->api_keys, s->n_api_keys);
    kv_long("max_body_bytes", s->max_body_bytes);
    kv_long("max_header_bytes", s->max_header_bytes);
    kv_long("max_connections", s->max_connections);
    kv_long("request_timeout_s", s->request_timeout_s);
    kv_long("max_connections_per_address", s->max_connections_per_address);
    kv_long("keepalive_timeout_s", s->keepalive_timeout_s);
    kv_long("header_timeout_s", s->header_timeout_s);
    kv_long("read_timeout_s", s->read_timeout_s);
    kv_long("retry_after_s", s->retry_after_s);
    kv_long("rate_limit_per_minute", s->rate_limit_per_minute);
    kv_long("rate_limit_burst", s->rate_limit_burst);
    kv_long("parse_concurrency", s->parse_concurrency);
    kv_long("parse_queue", s->parse_queue);
    kv_long("shutdown_grace_s", s->shutdown_grace_s);
    kv_str("storage_path", s->storage_path, false);
    kv_str("log_level", s->log_level, false);
    kv_bool("access_log", s->access_log);
    fputs("}, \"models\": [", stdout);
    for (size_t i = 0; i < cfg->n_models; i++) {
        fputs(i ? ", {" : "{", stdout);
        put_model(&cfg->models[i]);
        putchar('}');
    }
    fputs("]}\n", stdout);
}

int main(int argc, char **argv)
{
    char err[1024];
    octo_config cfg;
    octo_err rc;
    if (argc < 2) {
        fprintf(stderr, "usage: tool_config_dump FILE | serve ARGS...\n");
        return 2;
    }
    octo_config_init(&cfg);
    if (strcmp(argv[1], "serve") == 0)
        rc = octo_config_apply_args(&cfg, argc - 1, argv + 1, err, sizeof err);
    else
        rc = octo_config_load_file(&cfg, argv[1], err, sizeof err);
    if (rc == OCTO_OK) rc = octo_config_validate(&cfg, err, sizeof err);
    if (rc == OCTO_OK) put_config(&cfg);
    else fprintf(stderr, "%s\n", err);
    octo_config_deinit(&cfg);
    return rc == OCTO_OK ? 0 : 1;
}
