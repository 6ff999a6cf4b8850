/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_gen — one generation request on the HTTP side: it submits every
 * choice to the model's scheduler, turns token events into text (streaming
 * detokeniser), cuts at stop strings (never leaking them, also across
 * token boundaries), collects logprobs and usage, and either builds the
 * whole response or produces Server-Sent Events for streaming. Chat and
 * completions differ only in the JSON they print (api_chat.c,
 * api_completions.c supply it through the same choices).
 *
 * A client that goes away cancels every choice of its request.
 */
#include "api_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ==== life of a generation ==== */

octo_api_gen *octo_api_gen_new(octo_api_llm *llm, octo_http_req *req, bool chat,
                               const char *model_name)
{
    octo_api_gen *g = octo_calloc(1, sizeof *g);
    if (!g) return NULL;
    g->llm = llm;
    g->req = req;
    g->chat = chat;
    g->created = octo_unix_time();
    memcpy(g->id, chat ? "chatcmpl-" : "cmpl-", chat ? 9 : 5);
    octo_random_hex(g->id + (chat ? 9 : 5), 32);
    g->model = octo_strdup(model_name);
    octo_buf_init(&g->out, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    if (!g->model) {
        octo_free(g);
        return NULL;
    }
    return g;
}

static void choice_release(octo_api_choice *c)
{
    if (c->jm && c->req) {
        /* the engine may be sampling with the matcher: stop it and wait for
         * the final event before the matcher goes */
        octo_sched_req_cancel(c->req);
        octo_sched_event ev;
        while (octo_sched_req_next(c->req, -1, &ev) == OCTO_OK && ev.finish == OCTO_FINISH_NONE) {
        }
    }
    octo_sched_req_free(c->req);
    c->req = NULL;
    octo_text_detok_free(c->detok);
    c->detok = NULL;
}

void octo_api_gen_free(octo_api_gen *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->n_choices; i++) {
        octo_api_choice *c = &g->ch[i];
        choice_release(c);
        octo_text_output_stream_free(c->ps); /* the final chunk still needs it */
        octo_text_required_stream_free(c->rs);
        octo_text_jsonc_matcher_free(c->jm);
        octo_buf_deinit(&c->text);
        json_decref(c->lp);
        json_decref(c->lp_pending);
        octo_free(c->ids);
    }
    octo_free(g->ch);
    for (size_t i = 0; i < g->n_prompts; i++) {
        octo_free(g->prompts[i].ids);
        octo_free(g->prompts[i].text);
    }
    octo_free(g->prompts);
    octo_api_gen_params_deinit(&g->p);
    octo_text_jsonc_free(g->jc);
    octo_free(g->named_tool);
    json_decref(g->body);
    octo_buf_deinit(&g->out);
    octo_free(g->model);
    octo_free(g);
}

static octo_err jm_mask(void *m, float *logits, int64_t V)
{
    return octo_text_jsonc_mask(m, logits, V);
}

static octo_err jm_accept(void *m, int32_t token) { return octo_text_jsonc_accept(m, token); }

/* Submits n choices for every prompt. Answers the request and returns
 * false on failure (prompt too long 400, queue full 503). */
bool octo_api_gen_submit(octo_api_gen *g)
{
    size_t n = g->n_prompts * (size_t)g->p.n;
    g->ch = octo_calloc(n, sizeof *g->ch);
    if (!g->ch) {
        octo_http_fail(g->req, OCTO_E_NOMEM, NULL, "out of memory");
        return false;
    }
    g->n_choices = n;
    for (size_t i = 0; i < n; i++) {
        octo_api_choice *c = &g->ch[i];
        const octo_api_prompt *pr = &g->prompts[i / (size_t)g->p.n];
        c->index = (int)i;
        c->prompt = pr;
        octo_buf_init(&c->text, OCTO_LIMIT_GENERATED_TEXT_BYTES);
        c->detok = octo_text_detok_new(g->llm->tok, g->p.skip_special_tokens);
        c->ids = octo_calloc((size_t)(g->llm->max_model_len + 1), sizeof *c->ids);
        if (!c->detok || !c->ids) goto nomem;
        if (g->chat && g->p.stream) {
            if (octo_text_output_stream_new(&g->popts, &c->ps) != OCTO_OK) goto nomem;
            if (g->tool_mode == OCTO_API_TOOLS_REQUIRED &&
                octo_text_required_stream_new(&c->rs) != OCTO_OK)
                goto nomem;
        }
        if (g->p.logprobs >= 0) {
            c->lp = json_array();
            c->lp_pending = json_array();
        }
        if (g->jc && !(c->jm = octo_text_jsonc_matcher_new(g->jc))) goto nomem;
    }
    int64_t room = g->llm->max_model_len;
    for (size_t i = 0; i < n; i++) {
        octo_api_choice *c = &g->ch[i];
        const octo_api_prompt *pr = c->prompt;
        int64_t want = g->p.max_tokens;
        if ((int64_t)pr->n_ids >= room || (want > 0 && (int64_t)pr->n_ids + want > room)) {
            if (want > 0)
                octo_http_fail(
                    g->req, OCTO_E_INVALID, "max_tokens",
                    "This model's maximum context length is %lld tokens. However, you requested "
                    "%lld tokens (%zu in the %s, %lld in the completion). Please reduce the "
                    "length of the %s or completion.",
                    (long long)room, (long long)((int64_t)pr->n_ids + want), pr->n_ids,
                    g->chat ? "messages" : "prompt", (long long)want,
                    g->chat ? "messages" : "prompt");
            else
                octo_http_fail(
                    g->req, OCTO_E_INVALID, NULL,
                    "This model's maximum context length is %lld tokens. However, your request "
                    "has %zu input tokens. Please reduce the length of the input.",
                    (long long)room, pr->n_ids);
            return false;
        }
        octo_sampling_params sp = g->p.sp;
        if (sp.has_seed) sp.seed += (uint64_t)(i % (size_t)g->p.n);
        if (c->jm) {
            sp.constraint = c->jm;
            sp.constraint_mask = jm_mask;
            sp.constraint_accept = jm_accept;
        }
        char err[512] = "";
        octo_err rc = octo_sched_submit(g->llm->sched, pr->ids, (int64_t)pr->n_ids, &sp, want,
                                        &c->req, err, sizeof err);
        if (rc == OCTO_E_BUSY || rc == OCTO_E_CLOSED) {
            if (octo_http_set_header(g->req, "Retry-After", "1") != OCTO_OK) {
                /* still answer */
            }
            octo_http_fail(g->req, OCTO_E_BUSY, NULL,
                                    "the model `%s` is overloaded (queue full); retry later",
                                    g->model);
            return false;
        }
        if (rc) {
            octo_http_fail(g->req, rc, NULL, "%s",
                                    err[0] ? err : octo_err_str(rc));
            return false;
        }
    }
    return true;
nomem:
    octo_http_fail(g->req, OCTO_E_NOMEM, NULL, "out of memory");
    return false;
}

/* ==== events to text ==== */

static void push_logprob(octo_api_gen *g, octo_api_choice *c, const octo_sched_event *ev)
{
    if (!c->lp) return;
    json_t *e = octo_api_logprob_entry(g->llm, ev->token, ev->sample.logprob, &ev->sample,
                                       g->p.logprobs);
    if (!e) return;
    json_array_append(c->lp, e);
    json_array_append_new(c->lp_pending, e);
}

/* Looks for a stop string in the text not yet checked; cuts the text there
 * and finishes the choice when one is found. */
static void check_stop(octo_api_gen *g, octo_api_choice *c)
{
    if (!g->p.n_stop || c->text.len == 0) return;
    size_t from = c->checked > g->p.max_stop_len ? c->checked - g->p.max_stop_len : 0;
    size_t best = SIZE_MAX, best_len = 0;
    for (int i = 0; i < g->p.n_stop; i++) {
        const char *hit = memmem(c->text.data + from, c->text.len - from, g->p.stop[i],
                                 strlen(g->p.stop[i]));
        if (hit && (size_t)(hit - c->text.data) < best) {
            best = (size_t)(hit - c->text.data);
            best_len = strlen(g->p.stop[i]);
        }
    }
    c->checked = c->text.len;
    if (best == SIZE_MAX) return;
    size_t keep = g->p.include_stop_str_in_output ? best + best_len : best;
    c->text.len = keep;
    c->text.data[keep] = '\0';
    c->finish = OCTO_FINISH_STOP;
    c->stop_string = true;
    c->done = true;
    choice_release(c); /* cancels the rest of the generation */
}

static void finish_choice(octo_api_gen *g, octo_api_choice *c, const octo_sched_event *ev)
{
    if (c->detok && octo_text_detok_flush(c->detok, &c->text) != OCTO_OK)
        c->finish = OCTO_FINISH_ERROR;
    check_stop(g, c);
    if (c->done) return;
    c->finish = ev->finish;
    c->done = true;
    choice_release(c);
}

/* Takes one event of choice c (waiting up to timeout_s). Returns false on
 * time-out. */
static bool pump(octo_api_gen *g, octo_api_choice *c, double timeout_s)
{
    if (c->done) return true;
    octo_sched_event ev;
    octo_err rc = octo_sched_req_next(c->req, timeout_s, &ev);
    if (rc == OCTO_E_TIMEOUT) return false;
    if (rc) {
        c->finish = OCTO_FINISH_ERROR;
        c->done = true;
        choice_release(c);
        return true;
    }
    c->prompt_tokens = ev.prompt_tokens;
    c->cached_tokens = ev.cached_tokens;
    c->completion_tokens = ev.completion_tokens;
    bool printable = ev.token >= 0 && ev.finish != OCTO_FINISH_STOP;
    if (printable) {
        c->ids[c->n_ids++] = ev.token;
        push_logprob(g, c, &ev);
        if (octo_text_detok_push(c->detok, ev.token, &c->text) != OCTO_OK) {
            c->finish = OCTO_FINISH_ERROR;
            c->done = true;
            choice_release(c);
            return true;
        }
        check_stop(g, c);
        if (c->done) return true;
    }
    if (ev.finish != OCTO_FINISH_NONE) finish_choice(g, c, &ev);
    return true;
}

/* True when the client closed its connection. */
static bool client_gone(octo_api_gen *g) { return octo_http_req_client_gone(g->req); }

bool octo_api_gen_run_all(octo_api_gen *g)
{
    /* The client is checked at least every 0.25 s, also while tokens keep
     * coming (a busy request never times out in pump). */
    double next_check = octo_now() + 0.25;
    for (size_t i = 0; i < g->n_choices; i++) {
        while (!g->ch[i].done) {
            bool timed_out = !pump(g, &g->ch[i], 0.25);
            if (timed_out || octo_now() >= next_check) {
                if (client_gone(g)) return false;
                next_check = octo_now() + 0.25;
            }
        }
    }
    return true;
}

json_t *octo_api_ids_json(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    return a;
}

const char *octo_api_finish_reason(const octo_api_choice *c, bool tools_called)
{
    if (tools_called && c->finish == OCTO_FINISH_STOP) return "tool_calls";
    switch (c->finish) {
    case OCTO_FINISH_STOP: return "stop";
    case OCTO_FINISH_LENGTH: return "length";
    default: return "abort";
    }
}

json_t *octo_api_usage(const octo_api_gen *g)
{
    int64_t prompt = 0, completion = 0, cached = 0;
    for (size_t i = 0; i < g->n_choices; i++) {
        const octo_api_choice *c = &g->ch[i];
        if (i % (size_t)g->p.n == 0) { /* a prompt counts once */
            prompt += c->prompt_tokens ? c->prompt_tokens : (int64_t)c->prompt->n_ids;
            cached += c->cached_tokens;
        }
        completion += c->completion_tokens;
    }
    return json_pack("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens", (json_int_t)prompt,
                     "completion_tokens", (json_int_t)completion, "total_tokens",
                     (json_int_t)(prompt + completion), "prompt_tokens_details",
                     "cached_tokens", (json_int_t)cached);
}

/* ==== streaming ==== */

/* Bytes of c's text that may go out now: all once done, else all but what
 * could still turn out to start a stop string (kept on a UTF-8 boundary). */
static size_t safe_len(const octo_api_gen *g, const octo_api_choice *c)
{
    if (c->done || !g->p.n_stop) return c->text.len;
    size_t hold = g->p.max_stop_len - 1;
    if (c->text.len <= hold) return 0;
    size_t n = c->text.len - hold;
    while (n > 0 && ((unsigned char)c->text.data[n] & 0xc0) == 0x80) n--;
    return n;
}

static void emit(octo_api_gen *g, json_t *chunk)
{
    if (json_is_array(chunk)) { /* several chunks */
        size_t i;
        json_t *c;
        json_array_foreach(chunk, i, c) emit(g, json_incref(c));
        json_decref(chunk);
        return;
    }
    if (!chunk) return;
    if (g->p.continuous_usage && json_array_size(json_object_get(chunk, "choices")))
        json_object_set_new(chunk, "usage", octo_api_usage(g));
    char *s = json_dumps(chunk, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(chunk);
    if (!s) return;
    if (octo_buf_puts(&g->out, "data: ") || octo_buf_puts(&g->out, s) ||
        octo_buf_puts(&g->out, "\n\n"))
        g->failed = true;
    free(s);
}

/* Emits what choice c has ready: new text (through the chat parser) and
 * pending logprobs; on completion its final chunk. */
static void emit_choice(octo_api_gen *g, octo_api_choice *c)
{
    size_t avail = safe_len(g, c);
    if (avail > c->sent || (c->lp_pending && json_array_size(c->lp_pending))) {
        json_t *lp = NULL;
        if (c->lp_pending && json_array_size(c->lp_pending)) {
            lp = c->lp_pending;
            c->lp_pending = json_array();
        }
        emit(g, g->make_chunk(g, c, c->text.data + c->sent, avail - c->sent, lp, NULL));
        c->sent = avail;
    }
    if (c->done && !c->final_sent) {
        emit(g, g->make_chunk(g, c, "", 0, NULL, c));
        c->final_sent = true;
    }
}

static long stream_next(void *ctx, char *buf, size_t cap)
{
    octo_api_gen *g = ctx;
    while (g->out_pos == g->out.len) {
        octo_buf_clear(&g->out);
        g->out_pos = 0;
        if (g->phase == 0) { /* the opening chunks (chat: role) */
            for (size_t i = 0; i < g->n_choices; i++)
                if (g->make_first) emit(g, g->make_first(g, &g->ch[i]));
            g->phase = 1;
            continue;
        }
        if (g->phase == 1) {
            bool all_done = true;
            for (size_t i = 0; i < g->n_choices; i++) {
                octo_api_choice *c = &g->ch[i];
                if (!c->final_sent) all_done = false;
                if (!c->done) pump(g, c, g->n_choices == 1 ? 0.25 : 0.005);
                emit_choice(g, c);
            }
            if (all_done) g->phase = 2;
            else if (g->out.len == 0 && client_gone(g)) return OCTO_HTTP_STREAM_END;
            continue;
        }
        if (g->phase == 2) {
            if (g->p.include_usage) {
                json_t *u = json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", g->id, "object",
                                      g->chat ? "chat.completion.chunk" : "text_completion",
                                      "created", (json_int_t)g->created, "model", g->model,
                                      "choices", "usage", octo_api_usage(g));
                emit(g, u);
            }
            if (octo_buf_puts(&g->out, "data: [DONE]\n\n")) g->failed = true;
            g->phase = 3;
            continue;
        }
        return OCTO_HTTP_STREAM_END;
    }
    size_t n = g->out.len - g->out_pos;
    if (n > cap) n = cap;
    memcpy(buf, g->out.data + g->out_pos, n);
    g->out_pos += n;
    return (long)n;
}

static void stream_done(void *ctx, bool aborted)
{
    octo_api_gen *g = ctx;
    if (aborted) OCTO_LOG_INFO("%s: client went away; cancelled", g->id);
    octo_api_gen_free(g);
}

void octo_api_gen_stream(octo_api_gen *g)
{
    octo_http_respond_stream(g->req, 200, "text/event-stream; charset=utf-8", stream_next,
                             stream_done, g);
}

/* ==== logprob entries ==== */

/* The text of one token (invalid UTF-8 replaced), as a new JSON string. */
static json_t *token_text(const octo_api_llm *llm, int32_t id)
{
    octo_buf b;
    octo_buf_init(&b, 4096);
    json_t *s = NULL;
    if (octo_text_tokenizer_decode(llm->tok, &id, 1, false, &b) == OCTO_OK)
        s = json_stringn(b.data ? b.data : "", b.len);
    octo_buf_deinit(&b);
    return s ? s : json_string("");
}

static json_t *bytes_of(const json_t *s)
{
    json_t *a = json_array();
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    for (size_t i = 0; i < json_string_length(s); i++) json_array_append_new(a, json_integer(p[i]));
    return a;
}

/* JSON has no infinities: vLLM prints -9999.0 for a -inf logprob. */
static double finite_lp(float lp) { return isfinite(lp) ? (double)lp : -9999.0; }

json_t *octo_api_logprob_entry(const octo_api_llm *llm, int32_t token, float logprob,
                               const octo_sample_result *r, int top)
{
    json_t *t = token_text(llm, token);
    json_t *tops = json_array();
    for (int i = 0; i < r->n_top && i < top; i++) {
        json_t *tt = token_text(llm, r->top_ids[i]);
        json_array_append_new(tops, json_pack("{s:O, s:f, s:o, s:i}", "token", tt, "logprob",
                                              finite_lp(r->top_logprobs[i]), "bytes", bytes_of(tt),
                                              "id", r->top_ids[i]));
        json_decref(tt);
    }
    json_t *e = json_pack("{s:O, s:f, s:o, s:o, s:i}", "token", t, "logprob", finite_lp(logprob),
                          "bytes", bytes_of(t), "top_logprobs", tops, "id", token);
    json_decref(t);
    return e;
}
