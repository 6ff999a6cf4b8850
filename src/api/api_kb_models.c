/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_kb_models — the knowledge layer's model client over this octo's own
 * pooling models (server.knowledge.embedding_model / rerank_model): the
 * same prompts as /v1/embeddings (last-token pooling, L2 normalisation,
 * the sentence-transformers query prompt for queries) and /v1/rerank (the
 * official yes/no prompt), without HTTP in between.
 *
 * Texts longer than the model's context keep their first tokens (a
 * segment is at most 4000 tokens, so only odd models cut).
 */
#include "api_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static octo_err run(octo_api_pooler *p, int32_t **ids, int64_t *lens, size_t n, float *out,
                    char *err, size_t err_size)
{
    return octo_engine_pool_run(p->pool, (const int32_t *const *)ids, lens, (int64_t)n, out,
                                err, err_size);
}

static octo_err kb_embed(void *ctx, const char *const *texts, const size_t *lens, size_t n,
                         bool is_query, float *out, char *err, size_t err_size)
{
    octo_api_pooler *p = ((octo_api_kb_models *)ctx)->embed;
    int32_t **ids = octo_calloc(n, sizeof *ids);
    int64_t *ln = octo_calloc(n, sizeof *ln);
    octo_err rc = ids && ln ? OCTO_OK : OCTO_E_NOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t k = 0;
        rc = octo_runtime_embed_tokens(p->rt, NULL, is_query ? p->query_prompt : NULL, texts[i],
                                       lens[i], true, &ids[i], &k, NULL);
        if (rc == OCTO_E_PARSE) snprintf(err, err_size, "text %zu is not valid UTF-8", i);
        if (!rc && k == 0) {
            snprintf(err, err_size, "text %zu gives no tokens", i);
            rc = OCTO_E_INVALID;
        }
        ln[i] = (int64_t)k > p->max_len ? p->max_len : (int64_t)k;
    }
    int64_t dim = octo_engine_pool_out_dim(p->pool);
    if (!rc) rc = run(p, ids, ln, n, out, err, err_size);
    for (size_t i = 0; !rc && i < n; i++)
        octo_runtime_embed_normalize(out + (int64_t)i * dim, dim);
    for (size_t i = 0; ids && i < n; i++) octo_free(ids[i]);
    octo_free(ids);
    octo_free(ln);
    return rc;
}

static size_t kb_count(void *ctx, const char *text, size_t len)
{
    octo_api_pooler *p = ((octo_api_kb_models *)ctx)->embed;
    int32_t *ids = NULL;
    size_t n = 0;
    if (octo_text_tokenizer_encode(p->tok, text, len, false, &ids, &n, NULL) != OCTO_OK)
        return (len + 3) / 4;
    octo_free(ids);
    return n;
}

static octo_err kb_rerank(void *ctx, const char *query, const char *const *docs, size_t n,
                          double *scores, char *err, size_t err_size)
{
    octo_api_pooler *p = ((octo_api_kb_models *)ctx)->rerank;
    int32_t **ids = octo_calloc(n, sizeof *ids);
    int64_t *ln = octo_calloc(n, sizeof *ln);
    float *out = octo_malloc(n * 2 * sizeof *out);
    octo_err rc = ids && ln && out ? OCTO_OK : OCTO_E_NOMEM;
    for (size_t i = 0; i < n && !rc; i++) /* the official prompt, the pair cut to fit */
        rc = octo_runtime_score_tokens(p->rt, OCTO_RUNTIME_SCORE_INSTRUCTION, query,
                                       strlen(query), docs[i], strlen(docs[i]), p->max_len,
                                       &ids[i], &ln[i]);
    if (!rc) rc = run(p, ids, ln, n, out, err, err_size);
    for (size_t i = 0; !rc && i < n; i++) scores[i] = octo_runtime_score_relevance(out + 2 * i);
    for (size_t i = 0; ids && i < n; i++) octo_free(ids[i]);
    octo_free(ids);
    octo_free(ln);
    octo_free(out);
    return rc;
}

/* ==== chat: a served generate model ==== */

static octo_err kb_chat(void *ctx, const char *model, const json_t *messages,
                        double temperature, long max_tokens,
                        bool (*delta)(void *dctx, const char *text, size_t len), void *dctx,
                        int64_t usage[2], char *err, size_t err_size)
{
    octo_api_kb_models *km = ctx;
    const char *name = model ? model : km->default_chat;
    const octo_model_config *m = name ? octo_config_model_find(km->api->cfg, name) : NULL;
    octo_api_llm *llm = m && m->task == OCTO_TASK_GENERATE ? octo_api_llm_of(km->api, m) : NULL;
    if (!llm) {
        snprintf(err, err_size, name ? "the chat model '%s' is not served here (a generate "
                 "model of octo.yaml)" : "no chat model is configured%s", name ? name : "");
        return OCTO_E_NOT_FOUND;
    }
    if (!llm->tpl) {
        snprintf(err, err_size, "the chat model '%s' has no chat template", name);
        return OCTO_E_INVALID;
    }
    octo_buf prompt;
    octo_buf_init(&prompt, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    json_t *req = json_pack("{s:O}", "messages", messages);
    int32_t *ids = NULL;
    size_t n = 0;
    octo_sched_req *sr = NULL;
    octo_text_detok *dt = NULL;
    octo_buf piece;
    octo_buf_init(&piece, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    octo_err rc = octo_text_chat_format(llm->tpl, req, &llm->chat_opts, &prompt, err, err_size);
    if (!rc) rc = octo_text_tokenizer_encode(llm->tok, prompt.data, prompt.len, false, &ids, &n,
                                             NULL);
    if (rc) goto out;
    octo_sampling_params sp;
    octo_engine_sampling_default(&sp);
    const octo_formats_gen_config *g = &llm->gen;
    if (g->has_temperature) sp.temperature = (float)g->temperature;
    if (g->has_top_p) sp.top_p = (float)g->top_p;
    if (g->has_top_k) sp.top_k = (int32_t)g->top_k;
    if (g->has_min_p) sp.min_p = (float)g->min_p;
    if (g->has_repetition_penalty) sp.repetition_penalty = (float)g->repetition_penalty;
    if (temperature >= 0) sp.temperature = (float)temperature;
    int64_t room = llm->max_model_len - (int64_t)n;
    if (room <= 0) {
        snprintf(err, err_size, "the prompt has %zu tokens; the model's context is %lld", n,
                 (long long)llm->max_model_len);
        rc = OCTO_E_TOO_LARGE;
        goto out;
    }
    int64_t want = max_tokens > 0 && max_tokens < room ? max_tokens : -1;
    rc = octo_sched_submit(llm->sched, ids, (int64_t)n, &sp, want, &sr, err, err_size);
    dt = rc ? NULL : octo_text_detok_new(llm->tok, true);
    if (!rc && !dt) rc = OCTO_E_NOMEM;
    usage[0] = (int64_t)n;
    usage[1] = 0;
    while (!rc) {
        octo_sched_event ev;
        rc = octo_sched_req_next(sr, -1, &ev);
        if (rc) break;
        octo_buf_clear(&piece);
        if (ev.token >= 0) {
            usage[1]++;
            rc = octo_text_detok_push(dt, ev.token, &piece);
        }
        if (!rc && ev.finish != OCTO_FINISH_NONE) rc = octo_text_detok_flush(dt, &piece);
        if (!rc && piece.len && !delta(dctx, piece.data, piece.len)) rc = OCTO_E_CANCELLED;
        if (ev.finish != OCTO_FINISH_NONE) break;
    }
    if (rc == OCTO_E_CANCELLED && sr) { /* stop the engine, take its final event */
        octo_sched_req_cancel(sr);
        octo_sched_event ev;
        while (octo_sched_req_next(sr, -1, &ev) == OCTO_OK && ev.finish == OCTO_FINISH_NONE) {
        }
    }
out:
    octo_sched_req_free(sr);
    octo_text_detok_free(dt);
    octo_buf_deinit(&piece);
    octo_free(ids);
    json_decref(req);
    octo_buf_deinit(&prompt);
    return rc;
}

void octo_api_kb_models_fill(octo_api_kb_models *km, octo_rag_models *m)
{
    memset(m, 0, sizeof *m);
    m->ctx = km;
    if (km->embed) {
        m->embed_name = km->embed->cfg->name;
        m->embed_dim = octo_engine_pool_out_dim(km->embed->pool);
        m->embed = kb_embed;
        m->count_tokens = kb_count;
    }
    if (km->rerank) {
        m->rerank_name = km->rerank->cfg->name;
        m->rerank = kb_rerank;
    }
    m->chat = kb_chat; /* models are named per app; kb_chat says when one is missing */
}
