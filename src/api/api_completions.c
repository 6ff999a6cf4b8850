/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_completions — POST /v1/completions (prompt as a string, a list of
 * strings, token ids or lists of token ids; echo; logprobs in the legacy
 * tokens / token_logprobs / top_logprobs / text_offset shape), and vLLM's
 * POST /tokenize and /detokenize.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

bool octo_api_llm_ready(octo_http_req *req, const octo_api_llm *llm, const octo_model_config *m)
{
    if (llm) return true;
    octo_http_fail(req, OCTO_E_BUSY, NULL, "the model `%s` is not loaded", m->name);
    return false;
}

static bool add_prompt(octo_http_req *req, const octo_api_llm *llm, const char *text, size_t len,
                       bool add_special, octo_api_prompt *pr)
{
    size_t bad = 0, n = 0;
    octo_err rc = octo_text_tokenizer_encode(llm->tok, text, len, add_special, &pr->ids, &n, &bad);
    if (rc) {
        if (rc == OCTO_E_PARSE)
            octo_http_fail(req, OCTO_E_INVALID, "prompt", "invalid UTF-8 in the prompt at byte %zu",
                                    bad);
        else
            octo_http_fail(req, rc, "prompt", "tokenizer: %s",
                                    octo_err_str(rc));
        return false;
    }
    pr->n_ids = n;
    pr->text = octo_strndup(text, len);
    if (!pr->text) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return false;
    }
    if (n == 0) {
        octo_http_fail(req, OCTO_E_INVALID, "prompt", "the prompt is empty");
        return false;
    }
    return true;
}

bool octo_api_prompt_from_text(octo_http_req *req, const octo_api_llm *llm, const char *text,
                               size_t len, bool add_special, octo_api_prompt **out, size_t *n)
{
    *out = octo_calloc(1, sizeof **out);
    if (!*out) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return false;
    }
    *n = 1;
    return add_prompt(req, llm, text, len, add_special, *out);
}

static bool ids_prompt(octo_http_req *req, const octo_api_llm *llm, const json_t *arr,
                       octo_api_prompt *pr)
{
    size_t n = json_array_size(arr);
    if (n == 0) {
        octo_http_fail(req, OCTO_E_INVALID, "prompt", "the prompt is empty");
        return false;
    }
    if ((int64_t)n > llm->max_model_len) {
        octo_http_fail(req, OCTO_E_INVALID, "prompt",
                                "This model's maximum context length is %lld tokens. However, "
                                "your request has %zu input tokens. Please reduce the length of "
                                "the input messages.", (long long)llm->max_model_len, n);
        return false;
    }
    pr->ids = octo_calloc(n, sizeof *pr->ids);
    if (!pr->ids) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(arr, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 ||
            json_integer_value(t) >= llm->vocab_size) {
            octo_http_fail(req, OCTO_E_INVALID, "prompt", "token id at position %zu is not in the "
                                    "vocabulary (0..%lld)", i, (long long)llm->vocab_size - 1);
            return false;
        }
        pr->ids[i] = (int32_t)json_integer_value(t);
    }
    pr->n_ids = n;
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    if (octo_text_tokenizer_decode(llm->tok, pr->ids, n, false, &b) == OCTO_OK)
        pr->text = octo_buf_take(&b);
    octo_buf_deinit(&b);
    return true;
}

/* The forms of "prompt": "s", ["s", ...], [1, 2], [[1, 2], ...]. */
static bool read_prompts(octo_http_req *req, const json_t *body, const octo_api_llm *llm,
                         bool add_special, octo_api_gen *g)
{
    const json_t *p = json_object_get(body, "prompt");
    if (json_is_string(p))
        return octo_api_prompt_from_text(req, llm, json_string_value(p), json_string_length(p),
                                         add_special, &g->prompts, &g->n_prompts);
    if (!json_is_array(p) || json_array_size(p) == 0) {
        octo_http_fail(req, OCTO_E_INVALID, "prompt", "'prompt' must be a string, a list of "
                                "strings, or token ids");
        return false;
    }
    const json_t *first = json_array_get(p, 0);
    /* One prompt of token ids is bounded by the context (checked with the
     * completion's length at submit), not by the count of prompts. */
    if (!json_is_integer(first) && json_array_size(p) > 1024) {
        octo_http_fail(req, OCTO_E_INVALID, "prompt", "at most 1024 prompts per request");
        return false;
    }
    if (json_is_integer(first)) {
        g->prompts = octo_calloc(1, sizeof *g->prompts);
        if (!g->prompts) return false;
        g->n_prompts = 1;
        return ids_prompt(req, llm, p, g->prompts);
    }
    size_t n = json_array_size(p);
    g->prompts = octo_calloc(n, sizeof *g->prompts);
    if (!g->prompts) return false;
    g->n_prompts = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(p, i);
        bool ok;
        if (json_is_string(e)) {
            ok = add_prompt(req, llm, json_string_value(e), json_string_length(e), add_special,
                            &g->prompts[i]);
        } else if (json_is_array(e)) {
            ok = ids_prompt(req, llm, e, &g->prompts[i]);
        } else {
            octo_http_fail(req, OCTO_E_INVALID, "prompt", "invalid prompt at index %zu", i);
            ok = false;
        }
        if (!ok) return false;
    }
    return true;
}

/* Legacy logprobs: tokens, token_logprobs, top_logprobs ({token: lp}),
 * text_offset, from the chat-style entries. */
static json_t *legacy_logprobs(const json_t *entries, size_t base_offset)
{
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(),
           *offs = json_array();
    size_t off = base_offset, i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        const json_t *t = json_object_get(e, "token");
        json_array_append(tokens, (json_t *)t);
        json_array_append(lps, json_object_get(e, "logprob"));
        json_t *top = json_object();
        size_t k;
        json_t *te;
        json_array_foreach(json_object_get(e, "top_logprobs"), k, te)
            json_object_set(top, json_string_value(json_object_get(te, "token")),
                            json_object_get(te, "logprob"));
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer((json_int_t)off));
        off += json_string_length(t);
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps,
                     "top_logprobs", tops, "text_offset", offs);
}

static json_t *completion_choice(octo_api_gen *g, octo_api_choice *c, const char *text,
                                 size_t len, json_t *lp, const char *finish)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    bool echo = g->p.echo && c->prompt->text && c->sent == 0 && (len || finish);
    size_t base = 0;
    if (echo && !c->echoed) {
        if (octo_buf_puts(&b, c->prompt->text) == OCTO_OK) base = b.len;
        c->echoed = true;
    }
    if (len && octo_buf_append(&b, text, len) != OCTO_OK) octo_buf_clear(&b);
    json_t *l = lp ? legacy_logprobs(lp, base + c->sent) : json_null();
    json_decref(lp);
    json_t *ch = json_pack("{s:i, s:s%, s:o, s:o, s:n}", "index", c->index, "text",
                           b.data ? b.data : "", b.len, "logprobs", l, "finish_reason",
                           finish ? json_string(finish) : json_null(), "stop_reason");
    octo_buf_deinit(&b);
    return ch;
}

static json_t *completion_chunk(octo_api_gen *g, octo_api_choice *c, const char *text,
                                size_t len, json_t *lp, const octo_api_choice *final)
{
    json_t *choice = completion_choice(g, c, text, len, lp,
                                       final ? octo_api_finish_reason(c, false) : NULL);
    return json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", g->id, "object", "text_completion",
                     "created", (json_int_t)g->created, "model", g->model, "choices", choice);
}

void octo_api_completions(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *body;
    octo_api_gen *g = NULL;
    const octo_model_config *m =
        octo_api_request_begin(api, req, OCTO_TASK_GENERATE, "Completions", &body);
    if (!m) return;
    octo_api_llm *llm = octo_api_llm_of(api, m);
    if (!octo_api_llm_ready(req, llm, m)) goto done;
    const char *name = json_string_value(json_object_get(body, "model"));
    g = octo_api_gen_new(llm, req, false, name ? name : m->name);
    if (!g) {
        octo_http_fail(req, OCTO_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    if (!octo_api_gen_params_read(req, body, llm, false, &g->p)) goto done;
    bool add_special;
    if (!octo_api_json_bool(req, body, "add_special_tokens", "add_special_tokens", true,
                            &add_special))
        goto done;
    if (!read_prompts(req, body, llm, add_special, g)) goto done;
    if (!octo_api_structured_read(req, body, g)) goto done;
    g->make_chunk = completion_chunk;
    if (!octo_api_gen_submit(g)) goto done;
    if (g->p.stream) {
        octo_api_gen_stream(g);
        g = NULL;
        goto done;
    }
    if (!octo_api_gen_run_all(g)) {
        octo_http_fail(req, OCTO_E_CANCELLED, NULL, "client closed the connection");
        goto done;
    }
    json_t *choices = json_array();
    for (size_t i = 0; i < g->n_choices; i++) {
        octo_api_choice *c = &g->ch[i];
        json_t *choice = completion_choice(g, c, c->text.data, c->text.len,
                                           c->lp ? json_incref(c->lp) : NULL,
                                           octo_api_finish_reason(c, false));
        if (g->p.return_token_ids) {
            json_object_set_new(choice, "prompt_token_ids",
                                octo_api_ids_json(c->prompt->ids, c->prompt->n_ids));
            json_object_set_new(choice, "token_ids", octo_api_ids_json(c->ids, c->n_ids));
        }
        json_array_append_new(choices, choice);
    }
    octo_http_respond_json(req, 200, json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", g->id,
                                               "object", "text_completion", "created",
                                               (json_int_t)g->created, "model", g->model,
                                               "choices", choices, "usage", octo_api_usage(g)));
done:
    octo_api_gen_free(g);
    json_decref(body);
}

/* ==== /tokenize and /detokenize (vLLM) ==== */

void octo_api_tokenize(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *body;
    octo_api_prompt *pr = NULL;
    size_t n = 0;
    octo_buf prompt;
    octo_buf_init(&prompt, OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES);
    const octo_model_config *m =
        octo_api_request_begin(api, req, OCTO_TASK_GENERATE, "Tokenize", &body);
    if (!m) return;
    octo_api_llm *llm = octo_api_llm_of(api, m);
    if (!octo_api_llm_ready(req, llm, m)) goto done;
    const json_t *msgs = json_object_get(body, "messages");
    const json_t *p = json_object_get(body, "prompt");
    bool ok, add_special;
    /* vLLM: special tokens are added to a prompt, not to rendered messages */
    if (!octo_api_json_bool(req, body, "add_special_tokens", "add_special_tokens", !msgs,
                            &add_special))
        goto done;
    if (msgs) {
        char err[1024] = "";
        if (!llm->tpl || octo_text_chat_format(llm->tpl, body, &llm->chat_opts, &prompt, err,
                                               sizeof err)) {
            octo_http_fail(req, OCTO_E_INVALID, "messages", "%s",
                                    llm->tpl ? err : "the model has no chat template");
            goto done;
        }
        ok = octo_api_prompt_from_text(req, llm, prompt.data, prompt.len, add_special, &pr,
                                       &n);
    } else if (json_is_string(p)) {
        ok = octo_api_prompt_from_text(req, llm, json_string_value(p), json_string_length(p),
                                       add_special, &pr, &n);
    } else {
        octo_http_fail(req, OCTO_E_INVALID, "prompt", "'prompt' (a string) or 'messages' is "
                                "required");
        goto done;
    }
    if (!ok) goto done;
    json_t *tokens = json_array();
    for (size_t i = 0; i < pr->n_ids; i++) json_array_append_new(tokens, json_integer(pr->ids[i]));
    octo_http_respond_json(req, 200, json_pack("{s:I, s:I, s:o, s:n}", "count",
                                               (json_int_t)pr->n_ids, "max_model_len",
                                               (json_int_t)llm->max_model_len, "tokens", tokens,
                                               "token_strs"));
done:
    if (pr) {
        octo_free(pr->ids);
        octo_free(pr->text);
        octo_free(pr);
    }
    octo_buf_deinit(&prompt);
    json_decref(body);
}

void octo_api_detokenize(octo_http_req *req, void *ctx)
{
    octo_api *api = ctx;
    json_t *body;
    octo_api_prompt pr = {0};
    const octo_model_config *m =
        octo_api_request_begin(api, req, OCTO_TASK_GENERATE, "Detokenize", &body);
    if (!m) return;
    octo_api_llm *llm = octo_api_llm_of(api, m);
    if (!octo_api_llm_ready(req, llm, m)) goto done;
    const json_t *t = json_object_get(body, "tokens");
    if (!json_is_array(t)) {
        octo_http_fail(req, OCTO_E_INVALID, "tokens", "'tokens' must be a list of token ids");
        goto done;
    }
    if (json_array_size(t) == 0) {
        octo_http_respond_json(req, 200, json_pack("{s:s}", "prompt", ""));
        goto done;
    }
    if (!ids_prompt(req, llm, t, &pr)) goto done;
    octo_http_respond_json(req, 200, json_pack("{s:s}", "prompt", pr.text ? pr.text : ""));
done:
    octo_free(pr.ids);
    octo_free(pr.text);
    json_decref(body);
}
