/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_llm — one `generate` model as the endpoints see it: its model
 * instance (runtime/: tokenizer, chat template, sampling defaults, the
 * scheduler that owns the engine thread) and the API's own settings (the
 * tool-call and reasoning parsers). Loaded once at start-up; read-only
 * after, so HTTP threads share it without locks.
 *
 * It reads no model file and builds no response: see runtime/, and
 * api_gen.c, api_chat.c, api_completions.c.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

void octo_api_llm_free(octo_api_llm *l)
{
    if (!l) return;
    octo_runtime_model_free(l->rt);
    octo_free(l);
}

octo_err octo_api_llm_load(const octo_model_config *m, double request_timeout_s,
                           octo_api_llm **out, char *err, size_t n)
{
    octo_err rc;
    octo_api_llm *l = octo_calloc(1, sizeof *l);
    if (!l) return OCTO_E_NOMEM;
    l->cfg = m;
    rc = octo_text_tool_format_parse(m->tool_call_parser ? m->tool_call_parser : "",
                                     &l->tool_fmt);
    if (!rc)
        rc = octo_text_reasoning_format_parse(m->reasoning_parser ? m->reasoning_parser : "",
                                              &l->reasoning_fmt);
    if (rc) {
        snprintf(err, n, "unknown tool-call or reasoning parser");
        goto fail;
    }
    octo_runtime_opts ro = {.request_timeout_s = request_timeout_s};
    rc = octo_runtime_model_new(m, &ro, &l->rt, err, n);
    if (rc) goto fail;
    l->tok = octo_runtime_model_tokenizer(l->rt);
    l->tpl = octo_runtime_model_template(l->rt);
    l->chat_opts = *octo_runtime_model_chat_opts(l->rt);
    l->gen = *octo_runtime_model_gen_config(l->rt);
    l->sched = octo_runtime_model_sched(l->rt);
    l->max_model_len = octo_runtime_model_max_len(l->rt);
    l->vocab_size = octo_runtime_model_info(l->rt)->vocab_size;
    l->jvocab = octo_runtime_model_jsonc_vocab(l->rt);
    *out = l;
    return OCTO_OK;
fail:
    octo_api_llm_free(l);
    return rc;
}

octo_api_llm *octo_api_llm_of(octo_api *api, const octo_model_config *m)
{
    size_t i = (size_t)(m - api->cfg->models);
    return i < api->cfg->n_models ? api->llm[i] : NULL;
}
