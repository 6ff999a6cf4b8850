/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_llm — the runtime of one `generate` model: its tokenizer, chat
 * template, sampling defaults (generation_config.json), and the scheduler
 * that owns the engine thread. Loaded once at start-up; read-only after,
 * so HTTP threads share it without locks.
 *
 * It builds no response: see api_gen.c, api_chat.c, api_completions.c.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void octo_api_llm_free(octo_api_llm *l)
{
    if (!l) return;
    octo_sched_free(l->sched);
    octo_text_jsonc_vocab_free(l->jvocab);
    octo_text_template_free(l->tpl);
    octo_text_tokenizer_free(l->tok);
    json_decref(l->tok_config);
    octo_free(l);
}

/* The chat template: --chat-template, else tokenizer_config.json's, else
 * chat_template.jinja beside it. A model without one serves completions
 * only (chat answers 400, as vLLM does). */
static octo_err load_template(octo_api_llm *l, const char *dir, char *err, size_t n)
{
    const octo_model_config *m = l->cfg;
    char path[OCTO_LIMIT_PATH_BYTES + 64];
    if (m->chat_template) return octo_text_template_load(m->chat_template, NULL, &l->tpl, err, n);
    if (l->tok_config && json_object_get(l->tok_config, "chat_template"))
        return octo_text_template_from_config(l->tok_config, NULL, &l->tpl, err, n);
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    if (is_file(path)) return octo_text_template_load(path, NULL, &l->tpl, err, n);
    return OCTO_OK;
}

static octo_err load_text(octo_api_llm *l, const char *dir, char *err, size_t n)
{
    char path[OCTO_LIMIT_PATH_BYTES + 64];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (!is_file(path)) {
        snprintf(err, n, "no tokenizer.json in %s", dir);
        return OCTO_E_NOT_FOUND;
    }
    l->tok = octo_text_tokenizer_load(path, err, n);
    if (!l->tok) return OCTO_E_PARSE;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (is_file(path)) {
        json_error_t je;
        l->tok_config = json_load_file(path, 0, &je);
        if (!l->tok_config) {
            snprintf(err, n, "%s:%d: %s", path, je.line, je.text);
            return OCTO_E_PARSE;
        }
    }
    octo_text_chat_opts_from_config(l->tok_config, &l->chat_opts);
    return load_template(l, dir, err, n);
}

octo_err octo_api_llm_load(const octo_model_config *m, double request_timeout_s,
                           octo_api_llm **out, char *err, size_t n)
{
    octo_err rc;
    octo_engine *e = NULL;
    octo_api_llm *l = octo_calloc(1, sizeof *l);
    if (!l) return OCTO_E_NOMEM;
    l->cfg = m;
    /* a dummy model may be given as its config.json: text files sit beside it */
    char dir[OCTO_LIMIT_PATH_BYTES];
    octo_formats_model_dir(m->path, dir, sizeof dir);
    rc = load_text(l, dir, err, n);
    if (rc) goto fail;
    char gerr[256];
    if (octo_formats_gen_config_load(dir, &l->gen, gerr, sizeof gerr) != OCTO_OK)
        memset(&l->gen, 0, sizeof l->gen); /* none: the API's own defaults */
    rc = octo_text_tool_format_parse(m->tool_call_parser ? m->tool_call_parser : "",
                                     &l->tool_fmt);
    if (!rc)
        rc = octo_text_reasoning_format_parse(m->reasoning_parser ? m->reasoning_parser : "",
                                              &l->reasoning_fmt);
    if (rc) {
        snprintf(err, n, "unknown tool-call or reasoning parser");
        goto fail;
    }

    if (m->max_model_len > 0) { /* as vLLM: no context past the model's positions */
        char cpath[OCTO_LIMIT_PATH_BYTES + 64];
        octo_formats_model_config *mc = NULL;
        snprintf(cpath, sizeof cpath, "%s", m->path);
        if (octo_formats_model_config_load(cpath, &mc, err, n) == OCTO_OK) {
            int64_t lim = mc->text.max_position_embeddings;
            octo_formats_model_config_free(mc);
            if (lim > 0 && m->max_model_len > lim) {
                snprintf(err, n, "max_model_len %ld is greater than the model's "
                         "max_position_embeddings %lld", m->max_model_len, (long long)lim);
                rc = OCTO_E_INVALID;
                goto fail;
            }
        }
    }
    octo_engine_opts eo = {0};
    eo.model_path = m->path;
    eo.dummy = m->load_format == OCTO_LOAD_DUMMY;
    eo.dummy_seed = (uint64_t)m->seed;
    eo.max_model_len = m->max_model_len;
    eo.max_batch_tokens = m->max_num_batched_tokens;
    /* placement: the first of the model's `devices:` (none listed: the CPU) */
    octo_engine_opts_device(&eo, m->n_devices ? m->devices[0] : -1);
    eo.gpu_memory_utilization = m->gpu_memory_utilization;
    rc = octo_engine_new(&eo, &e, err, n);
    if (rc) goto fail;
    octo_sched_opts so = {
        .max_num_seqs = m->max_num_seqs,
        .max_num_batched_tokens = m->max_num_batched_tokens,
        .prefix_caching = true,
        .request_timeout_s = request_timeout_s,
    };
    rc = octo_sched_new(e, &so, &l->sched, err, n);
    if (rc) goto fail;
    e = NULL; /* the scheduler owns it */
    l->max_model_len = octo_sched_max_len(l->sched);
    const int64_t *eos = NULL;
    int n_eos = octo_engine_eos_ids(octo_sched_engine(l->sched), &eos);
    int32_t stop[16];
    size_t n_stop = 0;
    for (int k = 0; k < n_eos && n_stop < 16; k++) stop[n_stop++] = (int32_t)eos[k];
    l->jvocab = octo_text_jsonc_vocab_new(l->tok, stop, n_stop, err, n);
    if (!l->jvocab) {
        rc = OCTO_E_NOMEM;
        goto fail;
    }
    l->vocab_size = octo_engine_model_info(octo_sched_engine(l->sched))->vocab_size;
    *out = l;
    return OCTO_OK;
fail:
    octo_engine_free(e);
    octo_api_llm_free(l);
    return rc;
}

octo_err octo_api_load_models(octo_api *api, char *err, size_t n)
{
    for (size_t i = 0; i < api->cfg->n_models; i++) {
        const octo_model_config *m = &api->cfg->models[i];
        if (m->task == OCTO_TASK_EMBED || m->task == OCTO_TASK_SCORE) {
            char e3[768] = "";
            octo_err rc = octo_api_pooler_load(m, &api->pooler[i], e3, sizeof e3);
            if (rc) {
                snprintf(err, n, "model %s: %s", m->name, e3[0] ? e3 : octo_err_str(rc));
                return rc;
            }
            continue;
        }
        if (m->task != OCTO_TASK_GENERATE) continue;
        char e2[768] = "";
        double t0 = octo_now();
        octo_err rc = octo_api_llm_load(m, (double)api->cfg->server.request_timeout_s,
                                        &api->llm[i], e2, sizeof e2);
        if (rc) {
            snprintf(err, n, "model %s: %s", m->name, e2[0] ? e2 : octo_err_str(rc));
            return rc;
        }
        const octo_api_llm *l = api->llm[i];
        OCTO_LOG_INFO("model %s loaded in %.2fs: vocab %lld, context %lld tokens, chat template "
                      "%s, tool parser %s, reasoning parser %s",
                      m->name, octo_now() - t0, (long long)l->vocab_size,
                      (long long)l->max_model_len, l->tpl ? "yes" : "none",
                      m->tool_call_parser ? m->tool_call_parser : "none",
                      m->reasoning_parser ? m->reasoning_parser : "none");
    }
    return OCTO_OK;
}

octo_api_llm *octo_api_llm_of(octo_api *api, const octo_model_config *m)
{
    size_t i = (size_t)(m - api->cfg->models);
    return i < api->cfg->n_models ? api->llm[i] : NULL;
}
