/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config — defaults, the table of settable fields with their value
 * parsers (shared by the YAML loader and the command-line flags), the
 * cross-field checks of octo_config_validate and model look-up.
 *
 * It reads no file and no argv itself: config_yaml.c and config_args.c
 * do, and both set fields only through octo_cfg_field_set.
 */
#include "config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== defaults ==== */

/* Default strings are static so that init cannot fail; the free helper
 * below knows not to free them. Nobody writes through these pointers. */
static char def_host[] = "127.0.0.1";
static char def_storage[] = "./octo-data";
static char def_log_level[] = "info";
static char def_dtype[] = "auto";

static bool is_static_default(const char *p)
{
    return p == def_host || p == def_storage || p == def_log_level || p == def_dtype;
}

static void str_free(char **p)
{
    if (*p && !is_static_default(*p)) octo_free(*p);
    *p = NULL;
}

const char *octo_config_task_name(octo_task t)
{
    switch (t) {
    case OCTO_TASK_GENERATE: return "generate";
    case OCTO_TASK_EMBED: return "embed";
    case OCTO_TASK_SCORE: return "score";
    case OCTO_TASK_TRANSCRIBE: return "transcribe";
    case OCTO_TASK_PARSE: return "parse";
    }
    return "unknown";
}

void octo_config_model_init(octo_model_config *m)
{
    memset(m, 0, sizeof *m);
    m->task = OCTO_TASK_GENERATE;
    m->gpu_memory_utilization = 0.9;
    m->tensor_parallel_size = 1;
    m->max_num_seqs = 256;
    m->dtype = def_dtype;
    m->load_format = OCTO_LOAD_AUTO;
    m->remote_connect_timeout_s = 10;
}

static void model_deinit(octo_model_config *m)
{
    str_free(&m->name);
    for (size_t i = 0; i < m->n_aliases; i++) str_free(&m->aliases[i]);
    str_free(&m->path);
    str_free(&m->tool_call_parser);
    str_free(&m->reasoning_parser);
    str_free(&m->chat_template);
    str_free(&m->api_key);
    str_free(&m->dtype);
    str_free(&m->quantization);
    str_free(&m->base_url);
    str_free(&m->remote_model);
    str_free(&m->remote_api_key);
    str_free(&m->note);
    memset(m, 0, sizeof *m);
}

void octo_config_init(octo_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    octo_server_config *s = &cfg->server;
    s->host = def_host;
    s->port = 8000;
    s->max_body_bytes = OCTO_LIMIT_HTTP_BODY_BYTES;
    s->max_header_bytes = OCTO_LIMIT_HTTP_HEADER_BYTES;
    s->max_connections = OCTO_LIMIT_HTTP_CONNECTIONS;
    s->request_timeout_s = OCTO_LIMIT_HTTP_TIMEOUT_S;
    s->max_connections_per_address = OCTO_LIMIT_HTTP_PER_ADDRESS;
    s->keepalive_timeout_s = OCTO_LIMIT_HTTP_KEEPALIVE_S;
    s->header_timeout_s = OCTO_LIMIT_HTTP_HEADER_S;
    s->read_timeout_s = OCTO_LIMIT_HTTP_READ_S;
    s->retry_after_s = 1;
    s->parse_queue = 16;
    s->shutdown_grace_s = 30;
    s->storage_path = def_storage;
    s->log_level = def_log_level;
    s->access_log = true;
    s->kb_embed_batch = 32;
}

void octo_config_deinit(octo_config *cfg)
{
    if (!cfg) return;
    octo_server_config *s = &cfg->server;
    str_free(&s->host);
    for (size_t i = 0; i < s->n_api_keys; i++) str_free(&s->api_keys[i]);
    str_free(&s->storage_path);
    str_free(&s->log_level);
    str_free(&s->kb_embedding_model);
    str_free(&s->kb_rerank_model);
    str_free(&s->kb_chat_model);
    str_free(&s->kb_embedding_url);
    str_free(&s->kb_rerank_url);
    str_free(&s->kb_chat_url);
    str_free(&s->kb_remote_api_key);
    for (size_t i = 0; i < s->n_kb_api_keys; i++) str_free(&s->kb_api_keys[i]);
    for (size_t i = 0; i < cfg->n_models; i++) model_deinit(&cfg->models[i]);
    str_free(&cfg->source);
    memset(cfg, 0, sizeof *cfg);
}

const octo_model_config *octo_config_model_find(const octo_config *cfg, const char *name)
{
    if (!cfg || !name) return NULL;
    for (size_t i = 0; i < cfg->n_models; i++) {
        const octo_model_config *m = &cfg->models[i];
        if (m->name && strcmp(m->name, name) == 0) return m;
        for (size_t j = 0; j < m->n_aliases; j++)
            if (m->aliases[j] && strcmp(m->aliases[j], name) == 0) return m;
    }
    return NULL;
}

void octo_cfg_errf(char *err, size_t err_size, const char *fmt, ...)
{
    if (!err || err_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ==== the field table ==== */

#define MOFF(f) offsetof(octo_model_config, f)
#define SOFF(f) offsetof(octo_server_config, f)
#define NAME_MAX_LEN ((long)OCTO_LIMIT_NAME_BYTES - 1)
#define PATH_MAX_LEN ((long)OCTO_LIMIT_PATH_BYTES - 1)

static const char *const tool_parsers[] = {"hermes", "glm45", NULL};
static const char *const reasoning_parsers[] = {"qwen3", "glm45", "deepseek_r1", NULL};
static const char *const dtypes[] = {"auto", "bfloat16", "float16", "float32",
                                     "half=float16", "float=float32", NULL};
static const char *const quantizations[] = {"awq", "gptq", "fp8", "awq_marlin=awq",
                                            "gptq_marlin=gptq", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", "off",
                                         "warning=warn", NULL};
static const char *const tasks[] = {"generate", "embed", "score", "transcribe", "parse",
                                    "embedding=embed", "rerank=score", "reranker=score",
                                    "transcription=transcribe", NULL};
static const char *const load_formats[] = {"auto", "dummy", NULL};

const cfg_field octo_cfg_fields[] = {
    /* key, alt, flag, scope, kind, offset, lo, hi, choices, nullable */
    {"name", NULL, NULL, CS_MODEL, CK_STR, MOFF(name), 0, NAME_MAX_LEN, NULL, false},
    {"path", "model", NULL, CS_MODEL, CK_STR, MOFF(path), 0, PATH_MAX_LEN, NULL, false},
    {"aliases", NULL, NULL, CS_MODEL, CK_NAMES, 0, 0, NAME_MAX_LEN, NULL, false},
    {"task", NULL, "task", CS_MODEL, CK_TASK, MOFF(task), 0, 0, tasks, false},
    {"devices", NULL, "devices", CS_MODEL, CK_DEVICES, 0, 0, 255, NULL, false},
    {"gpu_memory_utilization", NULL, "gpu-memory-utilization", CS_MODEL, CK_FRACTION,
     MOFF(gpu_memory_utilization), 0, 0, NULL, false},
    {"max_model_len", NULL, "max-model-len", CS_MODEL, CK_TOKENS, MOFF(max_model_len), 0,
     (long)OCTO_LIMIT_PROMPT_TOKENS, NULL, false},
    {"tensor_parallel_size", NULL, "tensor-parallel-size", CS_MODEL, CK_LONG,
     MOFF(tensor_parallel_size), 1, OCTO_CONFIG_MAX_DEVICES, NULL, false},
    {"enable_expert_parallel", NULL, "enable-expert-parallel", CS_MODEL, CK_BOOL,
     MOFF(enable_expert_parallel), 0, 0, NULL, false},
    {"max_num_seqs", NULL, "max-num-seqs", CS_MODEL, CK_LONG, MOFF(max_num_seqs), 1, 65536,
     NULL, false},
    {"max_num_batched_tokens", NULL, "max-num-batched-tokens", CS_MODEL, CK_TOKENS,
     MOFF(max_num_batched_tokens), 0, 1L << 24, NULL, false},
    {"enable_auto_tool_choice", NULL, "enable-auto-tool-choice", CS_MODEL, CK_BOOL,
     MOFF(enable_auto_tool_choice), 0, 0, NULL, false},
    {"tool_call_parser", NULL, "tool-call-parser", CS_MODEL, CK_CHOICE,
     MOFF(tool_call_parser), 0, 0, tool_parsers, true},
    {"reasoning_parser", NULL, "reasoning-parser", CS_MODEL, CK_CHOICE,
     MOFF(reasoning_parser), 0, 0, reasoning_parsers, true},
    {"chat_template", NULL, "chat-template", CS_MODEL, CK_STR, MOFF(chat_template), 0,
     PATH_MAX_LEN, NULL, true},
    {"api_key", NULL, NULL, CS_MODEL, CK_STR, MOFF(api_key), 0, 1023, NULL, true},
    {"port", NULL, NULL, CS_MODEL, CK_LONG, MOFF(port), 1, 65535, NULL, false},
    {"dtype", NULL, "dtype", CS_MODEL, CK_CHOICE, MOFF(dtype), 0, 0, dtypes, false},
    {"quantization", NULL, "quantization", CS_MODEL, CK_CHOICE, MOFF(quantization), 0, 0,
     quantizations, true},
    {"quantization_group_size", NULL, "quantization-group-size", CS_MODEL, CK_LONG,
     MOFF(quantization_group_size), -1, 65536, NULL, false},
    {"load_format", NULL, "load-format", CS_MODEL, CK_LOAD, MOFF(load_format), 0, 0,
     load_formats, false},
    {"trust_remote_code", NULL, "trust-remote-code", CS_MODEL, CK_BOOL,
     MOFF(trust_remote_code), 0, 0, NULL, false},
    {"seed", NULL, "seed", CS_MODEL, CK_LONG, MOFF(seed), 0, 4294967295L, NULL, false},
    {"base_url", NULL, NULL, CS_MODEL, CK_STR, MOFF(base_url), 0, PATH_MAX_LEN, NULL, true},
    {"remote_model", NULL, NULL, CS_MODEL, CK_STR, MOFF(remote_model), 0, NAME_MAX_LEN, NULL,
     true},
    {"remote_api_key", NULL, NULL, CS_MODEL, CK_STR, MOFF(remote_api_key), 0, 1023, NULL,
     true},
    {"remote_timeout_s", NULL, NULL, CS_MODEL, CK_LONG, MOFF(remote_timeout_s), 1, 86400,
     NULL, false},
    {"remote_connect_timeout_s", NULL, NULL, CS_MODEL, CK_LONG,
     MOFF(remote_connect_timeout_s), 1, 3600, NULL, false},
    {"demo", NULL, NULL, CS_MODEL, CK_BOOL, MOFF(demo), 0, 0, NULL, false},
    {"note", NULL, NULL, CS_MODEL, CK_STR, MOFF(note), 0, 1023, NULL, true},

    {"host", NULL, "host", CS_SERVER, CK_STR, SOFF(host), 0, 255, NULL, false},
    {"port", NULL, "port", CS_SERVER, CK_LONG, SOFF(port), 0, 65535, NULL, false},
    {"api_keys", "api_key", "api-key", CS_SERVER, CK_KEYS, 0, 0, 1023, NULL, false},
    {"storage_path", NULL, NULL, CS_SERVER, CK_STR, SOFF(storage_path), 0, PATH_MAX_LEN,
     NULL, false},
    {"log_level", NULL, "log-level", CS_SERVER, CK_CHOICE, SOFF(log_level), 0, 0,
     log_levels, false},
    {"access_log", NULL, NULL, CS_SERVER, CK_BOOL, SOFF(access_log), 0, 0, NULL, false},
    {"path", NULL, NULL, CS_STORAGE, CK_STR, SOFF(storage_path), 0, PATH_MAX_LEN, NULL,
     false},
    {"embedding_model", NULL, NULL, CS_KNOWLEDGE, CK_STR, SOFF(kb_embedding_model), 0,
     NAME_MAX_LEN, NULL, true},
    {"rerank_model", NULL, NULL, CS_KNOWLEDGE, CK_STR, SOFF(kb_rerank_model), 0,
     NAME_MAX_LEN, NULL, true},
    {"chat_model", NULL, NULL, CS_KNOWLEDGE, CK_STR, SOFF(kb_chat_model), 0, NAME_MAX_LEN,
     NULL, true},
    {"embedding_url", NULL, NULL, CS_KNOWLEDGE, CK_STR, SOFF(kb_embedding_url), 0,
     PATH_MAX_LEN, NULL, true},
    {"rerank_url", NULL, NULL, CS_KNOWLEDGE, CK_STR, SOFF(kb_rerank_url), 0, PATH_MAX_LEN,
     NULL, true},
    {"chat_url", NULL, NULL, CS_KNOWLEDGE, CK_STR, SOFF(kb_chat_url), 0, PATH_MAX_LEN, NULL,
     true},
    {"remote_api_key", NULL, NULL, CS_KNOWLEDGE, CK_STR, SOFF(kb_remote_api_key), 0, 1023,
     NULL, true},
    {"api_keys", "api_key", NULL, CS_KNOWLEDGE, CK_KB_KEYS, 0, 0, 1023, NULL, false},
    {"embed_batch", NULL, NULL, CS_KNOWLEDGE, CK_LONG, SOFF(kb_embed_batch), 1, 1024, NULL,
     false},
    {"max_body_bytes", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(max_body_bytes), 1024,
     1L << 34, NULL, false},
    {"max_header_bytes", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(max_header_bytes), 1024,
     16L << 20, NULL, false},
    {"max_connections", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(max_connections), 1, 1000000,
     NULL, false},
    {"request_timeout_s", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(request_timeout_s), 1,
     86400, NULL, false},
    {"max_connections_per_address", NULL, NULL, CS_LIMITS, CK_LONG,
     SOFF(max_connections_per_address), 0, 1000000, NULL, false},
    {"keepalive_timeout_s", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(keepalive_timeout_s), 1,
     86400, NULL, false},
    {"header_timeout_s", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(header_timeout_s), 1, 3600,
     NULL, false},
    {"read_timeout_s", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(read_timeout_s), 1, 86400, NULL,
     false},
    {"retry_after_s", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(retry_after_s), 1, 3600, NULL,
     false},
    {"rate_limit_per_minute", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(rate_limit_per_minute), 0,
     10000000, NULL, false},
    {"rate_limit_burst", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(rate_limit_burst), 0, 10000000,
     NULL, false},
    {"parse_concurrency", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(parse_concurrency), 0, 1024,
     NULL, false},
    {"parse_queue", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(parse_queue), 0, 100000, NULL, false},
    {"shutdown_grace_s", NULL, NULL, CS_LIMITS, CK_LONG, SOFF(shutdown_grace_s), 0, 3600,
     NULL, false},
    {NULL, NULL, NULL, CS_MODEL, CK_STR, 0, 0, 0, NULL, false},
};

const cfg_field *octo_cfg_field_by_key(cfg_scope scope, const char *key)
{
    for (const cfg_field *f = octo_cfg_fields; f->key; f++) {
        if (f->scope != scope) continue;
        if (strcmp(f->key, key) == 0 || (f->alt && strcmp(f->alt, key) == 0)) return f;
    }
    return NULL;
}

const cfg_field *octo_cfg_field_by_flag(const char *flag)
{
    for (const cfg_field *f = octo_cfg_fields; f->key; f++)
        if (f->flag && strcmp(f->flag, flag) == 0) return f;
    return NULL;
}

/* Levenshtein distance of two short strings (longer ones count as far). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *octo_cfg_suggest_key(cfg_scope scope, const char *key)
{
    /* suggest only close misspellings: 2 edits, or a quarter of a long key */
    size_t len = strlen(key);
    size_t best_d = (len / 4 > 2 ? len / 4 : 2) + 1;
    const char *best = NULL;
    for (const cfg_field *f = octo_cfg_fields; f->key; f++) {
        if (f->scope != scope) continue;
        size_t d = edit_distance(key, f->key);
        if (d < best_d) {
            best_d = d;
            best = f->key;
        }
    }
    static const char *const sections[] = {"limits", "storage", "knowledge"};
    for (size_t i = 0; scope == CS_SERVER && i < 3; i++) {
        size_t d = edit_distance(key, sections[i]);
        if (d < best_d) {
            best_d = d;
            best = sections[i];
        }
    }
    return best;
}

/* ==== value parsers ==== */

/* Copies `text` for a message: at most 40 bytes, non-printables as '?'. */
static void quote_text(const char *text, char *out, size_t out_size)
{
    size_t n = 0, i = 0;
    for (; text[i] && n + 4 < out_size && i < 40; i++) {
        unsigned char c = (unsigned char)text[i];
        out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (text[i] && n + 4 < out_size) {
        out[n++] = '.';
        out[n++] = '.';
        out[n++] = '.';
    }
    out[n] = '\0';
}

static void join_choices(const char *const *choices, char *out, size_t out_size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; choices[i]; i++) {
        if (strchr(choices[i], '=')) continue; /* aliases are not advertised */
        int w = snprintf(out + n, out_size - n, "%s%s", n ? ", " : "", choices[i]);
        if (w < 0 || (size_t)w >= out_size - n) return;
        n += (size_t)w;
    }
}

void octo_cfg_field_expect(const cfg_field *f, char *out, size_t out_size)
{
    char list[160];
    switch (f->kind) {
    case CK_STR:
    case CK_NAMES:
    case CK_KEYS:
    case CK_KB_KEYS:
        snprintf(out, out_size, "a non-empty string of at most %ld bytes", f->hi);
        return;
    case CK_CHOICE:
    case CK_TASK:
    case CK_LOAD:
        join_choices(f->choices, list, sizeof list);
        snprintf(out, out_size, "one of %s", list);
        return;
    case CK_LONG:
        snprintf(out, out_size, "an integer in %ld..%ld", f->lo, f->hi);
        return;
    case CK_TOKENS:
        snprintf(out, out_size, "a token count in %ld..%ld (like 8192, 64k or 64K)", f->lo,
                 f->hi);
        return;
    case CK_FRACTION:
        snprintf(out, out_size, "a fraction in (0, 1]");
        return;
    case CK_BOOL:
        snprintf(out, out_size, "true or false");
        return;
    case CK_DEVICES:
        snprintf(out, out_size, "GPU ordinals in 0..%ld (like 0,1 or 4-7; at most %d)", f->hi,
                 OCTO_CONFIG_MAX_DEVICES);
        return;
    }
    snprintf(out, out_size, "a value");
}

static octo_err expected(const cfg_field *f, const char *text, char *why, size_t why_size)
{
    char want[200], got[48];
    octo_cfg_field_expect(f, want, sizeof want);
    quote_text(text, got, sizeof got);
    octo_cfg_errf(why, why_size, "expected %s, got '%s'", want, got);
    return OCTO_E_INVALID;
}

bool octo_cfg_parse_bool(const char *t, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on",
                                      "On", "ON", "1", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off",
                                     "Off", "OFF", "0", NULL};
    for (size_t i = 0; yes[i]; i++) {
        if (strcmp(t, yes[i]) == 0) { *out = true; return true; }
        if (strcmp(t, no[i]) == 0) { *out = false; return true; }
    }
    return false;
}

/* A string value: non-empty, valid UTF-8, no control characters, bounded. */
static octo_err check_string(const cfg_field *f, const char *t, char *why, size_t why_size)
{
    size_t n = strlen(t);
    if (n == 0) {
        octo_cfg_errf(why, why_size, "must not be empty");
        return OCTO_E_INVALID;
    }
    if ((long)n > f->hi) {
        octo_cfg_errf(why, why_size, "is %zu bytes long, at most %ld allowed", n, f->hi);
        return OCTO_E_INVALID;
    }
    if (!octo_utf8_valid(t, n, NULL)) {
        octo_cfg_errf(why, why_size, "is not valid UTF-8");
        return OCTO_E_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x20 || c == 0x7f) {
            octo_cfg_errf(why, why_size, "contains a control character");
            return OCTO_E_INVALID;
        }
    }
    return OCTO_OK;
}

static octo_err set_owned(char **slot, const char *t)
{
    char *copy = octo_strdup(t);
    if (!copy) return OCTO_E_NOMEM;
    str_free(slot);
    *slot = copy;
    return OCTO_OK;
}

/* Index of the canonical choice `t` names (directly or by alias), or -1;
 * *canon gets the canonical spelling. */
static int choice_index(const char *const *choices, const char *t, const char **canon)
{
    const char *name = NULL;
    for (size_t i = 0; choices[i] && !name; i++) {
        const char *eq = strchr(choices[i], '=');
        if (!eq && strcmp(choices[i], t) == 0) name = choices[i];
        if (eq && strlen(t) == (size_t)(eq - choices[i]) &&
            strncmp(choices[i], t, (size_t)(eq - choices[i])) == 0)
            name = eq + 1;
    }
    if (!name) return -1;
    int idx = 0;
    for (size_t i = 0; choices[i]; i++) {
        if (strchr(choices[i], '=')) continue;
        if (strcmp(choices[i], name) == 0) {
            *canon = choices[i];
            return idx;
        }
        idx++;
    }
    return -1;
}

/* "8192", "64k" (x1000), "64K" (x1024), "1.5m"; "-1" means 0 (automatic). */
static bool parse_tokens(const char *t, long lo, long hi, long *out)
{
    if (strcmp(t, "-1") == 0) { *out = 0; return lo <= 0; }
    size_t n = strlen(t);
    if (n == 0 || n > 32) return false;
    char last = t[n - 1];
    double mult = 1;
    if (last == 'k') mult = 1e3;
    else if (last == 'm') mult = 1e6;
    else if (last == 'K') mult = 1024.0;
    else if (last == 'M') mult = 1024.0 * 1024.0;
    if (mult == 1) return octo_parse_long(t, lo, hi, out) == OCTO_OK;
    char num[40];
    memcpy(num, t, n - 1);
    num[n - 1] = '\0';
    if (!(num[0] >= '0' && num[0] <= '9')) return false;
    double v;
    if (octo_parse_double(num, 0, 1e12, &v) != OCTO_OK) return false;
    double total = v * mult;
    if (total < (double)lo || total > (double)hi) return false;
    *out = (long)total;
    return true;
}

/* Appends the ordinals of "0,1", "4-7", "3" to m->devices. */
static octo_err add_devices(octo_model_config *m, const cfg_field *f, const char *t,
                            char *why, size_t why_size)
{
    const char *p = t;
    if (!*p) return expected(f, t, why, why_size);
    while (*p) {
        char *end;
        long a, b;
        while (*p == ' ') p++;
        if (*p < '0' || *p > '9') return expected(f, t, why, why_size);
        a = strtol(p, &end, 10);
        b = a;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9') return expected(f, t, why, why_size);
            b = strtol(p, &end, 10);
            p = end;
        }
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p) return expected(f, t, why, why_size);
        if (a < 0 || b > f->hi || a > b) return expected(f, t, why, why_size);
        for (long d = a; d <= b; d++) {
            for (size_t i = 0; i < m->n_devices; i++) {
                if (m->devices[i] == (int)d) {
                    octo_cfg_errf(why, why_size, "device %ld is listed twice", d);
                    return OCTO_E_INVALID;
                }
            }
            if (m->n_devices >= OCTO_CONFIG_MAX_DEVICES) {
                octo_cfg_errf(why, why_size, "more than %d devices", OCTO_CONFIG_MAX_DEVICES);
                return OCTO_E_INVALID;
            }
            m->devices[m->n_devices++] = (int)d;
        }
    }
    return OCTO_OK;
}

static octo_err add_string(char **arr, size_t *n, size_t max, const cfg_field *f,
                           const char *t, char *why, size_t why_size)
{
    octo_err rc = check_string(f, t, why, why_size);
    if (rc) return rc;
    if (*n >= max) {
        octo_cfg_errf(why, why_size, "more than %zu entries", max);
        return OCTO_E_INVALID;
    }
    arr[*n] = octo_strdup(t);
    if (!arr[*n]) return OCTO_E_NOMEM;
    (*n)++;
    return OCTO_OK;
}

octo_err octo_cfg_field_set(void *base, const cfg_field *f, const char *t, char *why,
                            size_t why_size)
{
    char *p = (char *)base + f->off;
    const char *canon = NULL;
    long lv;
    double dv;
    bool bv;
    int idx;
    octo_err rc;
    switch (f->kind) {
    case CK_STR:
        rc = check_string(f, t, why, why_size);
        return rc ? rc : set_owned((char **)p, t);
    case CK_CHOICE:
        if (choice_index(f->choices, t, &canon) < 0) return expected(f, t, why, why_size);
        return set_owned((char **)p, canon);
    case CK_LONG:
        if (octo_parse_long(t, f->lo, f->hi, &lv)) return expected(f, t, why, why_size);
        *(long *)p = lv;
        return OCTO_OK;
    case CK_TOKENS:
        if (!parse_tokens(t, f->lo, f->hi, &lv)) return expected(f, t, why, why_size);
        *(long *)p = lv;
        return OCTO_OK;
    case CK_FRACTION:
        if (octo_parse_double(t, 0, 1, &dv) || !(dv > 0)) return expected(f, t, why, why_size);
        *(double *)p = dv;
        return OCTO_OK;
    case CK_BOOL:
        if (!octo_cfg_parse_bool(t, &bv)) return expected(f, t, why, why_size);
        *(bool *)p = bv;
        return OCTO_OK;
    case CK_TASK:
        idx = choice_index(f->choices, t, &canon);
        if (idx < 0) return expected(f, t, why, why_size);
        *(octo_task *)p = (octo_task)idx;
        return OCTO_OK;
    case CK_LOAD:
        idx = choice_index(f->choices, t, &canon);
        if (idx < 0) return expected(f, t, why, why_size);
        *(octo_load_format *)p = (octo_load_format)idx;
        return OCTO_OK;
    case CK_DEVICES:
        return add_devices(base, f, t, why, why_size);
    case CK_NAMES: {
        octo_model_config *m = base;
        return add_string(m->aliases, &m->n_aliases, OCTO_CONFIG_MAX_ALIASES, f, t, why,
                          why_size);
    }
    case CK_KEYS: {
        octo_server_config *s = base;
        return add_string(s->api_keys, &s->n_api_keys, OCTO_LIMIT_API_KEYS, f, t, why,
                          why_size);
    }
    case CK_KB_KEYS: {
        octo_server_config *s = base;
        return add_string(s->kb_api_keys, &s->n_kb_api_keys, OCTO_LIMIT_API_KEYS, f, t, why,
                          why_size);
    }
    }
    return OCTO_E_INTERNAL;
}

void octo_cfg_field_clear(void *base, const cfg_field *f)
{
    char *p = (char *)base + f->off;
    switch (f->kind) {
    case CK_STR:
    case CK_CHOICE:
        if (f->nullable) str_free((char **)p);
        return;
    case CK_DEVICES:
        ((octo_model_config *)base)->n_devices = 0;
        return;
    case CK_NAMES: {
        octo_model_config *m = base;
        for (size_t i = 0; i < m->n_aliases; i++) str_free(&m->aliases[i]);
        m->n_aliases = 0;
        return;
    }
    case CK_KEYS: {
        octo_server_config *s = base;
        for (size_t i = 0; i < s->n_api_keys; i++) str_free(&s->api_keys[i]);
        s->n_api_keys = 0;
        return;
    }
    case CK_KB_KEYS: {
        octo_server_config *s = base;
        for (size_t i = 0; i < s->n_kb_api_keys; i++) str_free(&s->kb_api_keys[i]);
        s->n_kb_api_keys = 0;
        return;
    }
    default:
        return;
    }
}
