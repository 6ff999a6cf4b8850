/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_check — octo_config_validate: the rules that span fields or
 * models (unique served names and ports, parsers only where they apply,
 * devices against tensor parallelism, memory shares per GPU, remote
 * models without local settings). Each value
 * on its own was already checked when it was set.
 *
 * It does not look at the disk (model paths may be hub ids, or appear
 * later) and knows nothing of a model's architecture.
 */
#include "config_int.h"

#include <stdio.h>
#include <string.h>

/* "octo.yaml:12: models[1]" or "models[1]" (no file line for CLI models). */
static void where(const octo_config *cfg, size_t i, char *out, size_t out_size)
{
    const octo_model_config *m = &cfg->models[i];
    if (cfg->source && m->line > 0)
        snprintf(out, out_size, "%s:%d: models[%zu]", cfg->source, m->line, i);
    else
        snprintf(out, out_size, "models[%zu]", i);
}

/* Is `name` served by model j (as name or alias)? */
static bool serves(const octo_model_config *m, const char *name)
{
    if (m->name && strcmp(m->name, name) == 0) return true;
    for (size_t k = 0; k < m->n_aliases; k++)
        if (m->aliases[k] && strcmp(m->aliases[k], name) == 0) return true;
    return false;
}

static octo_err check_names(const octo_config *cfg, size_t i, char *err, size_t err_size)
{
    const octo_model_config *m = &cfg->models[i];
    char at[OCTO_LIMIT_PATH_BYTES];
    where(cfg, i, at, sizeof at);
    if (!m->name || !*m->name) {
        octo_cfg_errf(err, err_size, "%s: no name", at);
        return OCTO_E_INVALID;
    }
    if ((!m->path || !*m->path) && !m->base_url) {
        octo_cfg_errf(err, err_size, "%s: no path (nor a base_url for a remote model)", at);
        return OCTO_E_INVALID;
    }
    /* every served name of model i against its own earlier ones and
     * against all names of earlier models */
    for (size_t k = 0; k <= m->n_aliases; k++) {
        const char *n = k == 0 ? m->name : m->aliases[k - 1];
        const char *key = k == 0 ? "name" : "aliases";
        for (size_t q = 0; q < k; q++) {
            const char *prev = q == 0 ? m->name : m->aliases[q - 1];
            if (strcmp(prev, n) != 0) continue;
            octo_cfg_errf(err, err_size, "%s.aliases: '%s' is %s", at, n,
                          q == 0 ? "already the name" : "listed twice");
            return OCTO_E_INVALID;
        }
        for (size_t j = 0; j < i; j++) {
            if (!serves(&cfg->models[j], n)) continue;
            octo_cfg_errf(err, err_size, "%s.%s: '%s' is already served by models[%zu]",
                          at, key, n, j);
            return OCTO_E_INVALID;
        }
    }
    return OCTO_OK;
}

static octo_err check_ports(const octo_config *cfg, size_t i, char *err, size_t err_size)
{
    const octo_model_config *m = &cfg->models[i];
    char at[OCTO_LIMIT_PATH_BYTES];
    if (m->port == 0) return OCTO_OK;
    where(cfg, i, at, sizeof at);
    if (m->port == cfg->server.port) {
        octo_cfg_errf(err, err_size, "%s.port: %ld is also the server's port", at, m->port);
        return OCTO_E_INVALID;
    }
    for (size_t j = 0; j < i; j++) {
        if (cfg->models[j].port != m->port) continue;
        octo_cfg_errf(err, err_size, "%s.port: %ld is already used by models[%zu]", at,
                      m->port, j);
        return OCTO_E_INVALID;
    }
    return OCTO_OK;
}

static octo_err check_model(const octo_config *cfg, size_t i, char *err, size_t err_size)
{
    const octo_model_config *m = &cfg->models[i];
    char at[OCTO_LIMIT_PATH_BYTES];
    where(cfg, i, at, sizeof at);
    const char *task = octo_config_task_name(m->task);
    if (m->task != OCTO_TASK_GENERATE) {
        const char *what = m->tool_call_parser ? "tool_call_parser"
                           : m->enable_auto_tool_choice ? "enable_auto_tool_choice"
                           : m->reasoning_parser ? "reasoning_parser" : NULL;
        if (what) {
            octo_cfg_errf(err, err_size, "%s.%s: only applies to task generate, not %s", at,
                          what, task);
            return OCTO_E_INVALID;
        }
    }
    if (m->enable_auto_tool_choice && !m->tool_call_parser) {
        octo_cfg_errf(err, err_size,
                      "%s.enable_auto_tool_choice: needs tool_call_parser (hermes or glm45)",
                      at);
        return OCTO_E_INVALID;
    }
    if (m->n_devices && (long)m->n_devices != m->tensor_parallel_size) {
        octo_cfg_errf(err, err_size,
                      "%s.devices: %zu device(s) given for tensor_parallel_size %ld "
                      "(they must match)", at, m->n_devices, m->tensor_parallel_size);
        return OCTO_E_INVALID;
    }
    if (m->max_num_batched_tokens && m->max_num_batched_tokens < m->max_num_seqs) {
        octo_cfg_errf(err, err_size,
                      "%s.max_num_batched_tokens: %ld is smaller than max_num_seqs %ld", at,
                      m->max_num_batched_tokens, m->max_num_seqs);
        return OCTO_E_INVALID;
    }
    if (!m->dtype) {
        octo_cfg_errf(err, err_size, "%s.dtype: not set", at);
        return OCTO_E_INVALID;
    }
    return OCTO_OK;
}

/* A remote model (base_url) is only a name in front of another server:
 * the settings of a local engine do not apply to it, and the remote_*
 * keys apply to nothing else. */
static octo_err check_remote(const octo_config *cfg, size_t i, char *err, size_t err_size)
{
    const octo_model_config *m = &cfg->models[i];
    char at[OCTO_LIMIT_PATH_BYTES];
    where(cfg, i, at, sizeof at);
    if (!m->base_url) {
        const char *what = m->remote_model ? "remote_model"
                           : m->remote_api_key ? "remote_api_key"
                           : m->remote_timeout_s ? "remote_timeout_s" : NULL;
        if (what) {
            octo_cfg_errf(err, err_size, "%s.%s: only applies to a remote model (base_url)",
                          at, what);
            return OCTO_E_INVALID;
        }
        return OCTO_OK;
    }
    if (strncmp(m->base_url, "http://", 7) != 0 && strncmp(m->base_url, "https://", 8) != 0) {
        octo_cfg_errf(err, err_size, "%s.base_url: expected an http:// or https:// URL "
                      "(like http://10.0.0.2:8000/v1), got '%s'", at, m->base_url);
        return OCTO_E_INVALID;
    }
    if (m->task != OCTO_TASK_GENERATE && m->task != OCTO_TASK_EMBED &&
        m->task != OCTO_TASK_SCORE) {
        octo_cfg_errf(err, err_size, "%s.base_url: a remote model's task must be generate, "
                      "embed or score (octo proxies those APIs), not %s", at,
                      octo_config_task_name(m->task));
        return OCTO_E_INVALID;
    }
    const char *local = m->path ? "path"
                        : m->n_devices ? "devices"
                        : m->tool_call_parser ? "tool_call_parser"
                        : m->reasoning_parser ? "reasoning_parser"
                        : m->enable_auto_tool_choice ? "enable_auto_tool_choice"
                        : m->chat_template ? "chat_template"
                        : m->quantization ? "quantization"
                        : m->max_model_len ? "max_model_len"
                        : m->tensor_parallel_size != 1 ? "tensor_parallel_size"
                        : m->load_format != OCTO_LOAD_AUTO ? "load_format" : NULL;
    if (local) {
        octo_cfg_errf(err, err_size, "%s.%s: does not apply to a remote model (base_url): "
                      "the upstream server has its own", at, local);
        return OCTO_E_INVALID;
    }
    return OCTO_OK;
}

/* The memory shares of the models placed on each GPU add up to at most 1. */
static octo_err check_memory(const octo_config *cfg, char *err, size_t err_size)
{
    double share[256] = {0};
    for (size_t i = 0; i < cfg->n_models; i++) {
        const octo_model_config *m = &cfg->models[i];
        for (size_t k = 0; k < m->n_devices; k++) {
            int d = m->devices[k];
            if (d < 0 || d > 255) continue; /* ranges were checked when set */
            share[d] += m->gpu_memory_utilization;
            if (share[d] > 1.0 + 1e-9) {
                char at[OCTO_LIMIT_PATH_BYTES];
                where(cfg, i, at, sizeof at);
                octo_cfg_errf(err, err_size,
                              "%s.gpu_memory_utilization: the models on GPU %d now ask for "
                              "%.2f of its memory (more than 1)", at, d, share[d]);
                return OCTO_E_INVALID;
            }
        }
    }
    return OCTO_OK;
}

static octo_err check_server(const octo_config *cfg, char *err, size_t err_size)
{
    const octo_server_config *s = &cfg->server;
    octo_log_level lvl;
    if (!s->host || !*s->host) {
        octo_cfg_errf(err, err_size, "server.host: not set");
        return OCTO_E_INVALID;
    }
    if (!s->storage_path || !*s->storage_path) {
        octo_cfg_errf(err, err_size, "server.storage.path: not set");
        return OCTO_E_INVALID;
    }
    if (!s->log_level || octo_log_level_parse(s->log_level, &lvl) != OCTO_OK) {
        octo_cfg_errf(err, err_size, "server.log_level: '%s' is not a log level",
                      s->log_level ? s->log_level : "");
        return OCTO_E_INVALID;
    }
    for (size_t i = 0; i < s->n_api_keys; i++) {
        if (!s->api_keys[i] || !*s->api_keys[i]) {
            octo_cfg_errf(err, err_size, "server.api_keys[%zu]: empty", i);
            return OCTO_E_INVALID;
        }
    }
    return OCTO_OK;
}

/* server.knowledge: the models it names exist with the right task, and a
 * dataset key is no global or model key (the Knowledge API's keys are
 * its own). */
static octo_err check_knowledge(const octo_config *cfg, char *err, size_t err_size)
{
    const octo_server_config *s = &cfg->server;
    const struct {
        const char *key, *name, *url_key, *url;
        octo_task task;
    } refs[] = {{"embedding_model", s->kb_embedding_model, "embedding_url", s->kb_embedding_url,
                 OCTO_TASK_EMBED},
                {"rerank_model", s->kb_rerank_model, "rerank_url", s->kb_rerank_url,
                 OCTO_TASK_SCORE},
                {"chat_model", s->kb_chat_model, "chat_url", s->kb_chat_url,
                 OCTO_TASK_GENERATE}};
    for (size_t i = 0; i < 3; i++) {
        const char *u = refs[i].url;
        if (u && strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
            octo_cfg_errf(err, err_size, "server.knowledge.%s: expected an http:// or https:// "
                          "base URL (like http://host:8000/v1), got '%.60s'", refs[i].url_key,
                          u);
            return OCTO_E_INVALID;
        }
        if (u && i < 2 && !refs[i].name) {
            octo_cfg_errf(err, err_size, "server.knowledge.%s needs %s (the model's name "
                          "there)", refs[i].url_key, refs[i].key);
            return OCTO_E_INVALID;
        }
        if (!refs[i].name || u) continue; /* a remote model is not one of ours */
        const octo_model_config *m = octo_config_model_find(cfg, refs[i].name);
        if (!m) {
            octo_cfg_errf(err, err_size, "server.knowledge.%s: no model is served as '%s'",
                          refs[i].key, refs[i].name);
            return OCTO_E_INVALID;
        }
        if (m->task != refs[i].task) {
            octo_cfg_errf(err, err_size, "server.knowledge.%s: model '%s' has task %s, not %s",
                          refs[i].key, refs[i].name, octo_config_task_name(m->task),
                          octo_config_task_name(refs[i].task));
            return OCTO_E_INVALID;
        }
    }
    for (size_t i = 0; i < s->n_kb_api_keys; i++) {
        for (size_t j = 0; j < s->n_api_keys; j++)
            if (!strcmp(s->kb_api_keys[i], s->api_keys[j])) {
                octo_cfg_errf(err, err_size, "server.knowledge.api_keys[%zu]: also a server "
                              "key; dataset keys must be their own", i);
                return OCTO_E_INVALID;
            }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->kb_api_keys[i], s->kb_api_keys[j])) {
                octo_cfg_errf(err, err_size, "server.knowledge.api_keys[%zu]: given twice", i);
                return OCTO_E_INVALID;
            }
    }
    return OCTO_OK;
}

octo_err octo_config_validate(const octo_config *cfg, char *err, size_t err_size)
{
    octo_err rc;
    if (err && err_size) err[0] = '\0';
    if (cfg->n_models > OCTO_LIMIT_CONFIG_MODELS) {
        octo_cfg_errf(err, err_size, "more than %u models", OCTO_LIMIT_CONFIG_MODELS);
        return OCTO_E_TOO_LARGE;
    }
    rc = check_server(cfg, err, err_size);
    if (!rc) rc = check_knowledge(cfg, err, err_size);
    if (rc) return rc;
    for (size_t i = 0; i < cfg->n_models; i++) {
        rc = check_names(cfg, i, err, err_size);
        if (rc) return rc;
        rc = check_ports(cfg, i, err, err_size);
        if (rc) return rc;
        rc = check_model(cfg, i, err, err_size);
        if (rc) return rc;
        rc = check_remote(cfg, i, err, err_size);
        if (rc) return rc;
    }
    return check_memory(cfg, err, err_size);
}
