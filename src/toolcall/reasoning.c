/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reasoning — splits generated text into reasoning_content (inside
 * <think>...</think>) and content, like vLLM's qwen3, glm45 and
 * deepseek_r1 reasoning parsers, in whole-text and streaming form; and the
 * whole-text entry point that runs reasoning first, then tool calls on the
 * content part.
 *
 * One rule serves the three styles, chosen so that a stream can decide
 * from what it has seen: leading whitespace then "<think>" opens the think
 * block (the whitespace is dropped; GLM-4.5 writes "\n<think>"). Otherwise
 * the output starts inside the block when the prompt left one open
 * (Qwen3 thinking templates, and always for DeepSeek-R1), else it is all
 * content. In the block, everything up to the first "</think>" is
 * reasoning, the rest content; a block never closed (max_tokens) is all
 * reasoning. With thinking disabled everything is content. vLLM's glm45
 * whole-text parser instead returns an unclosed block as content (its
 * stream says reasoning); we follow its stream.
 */
#include <string.h>

#include "toolcall/toolcall_int.h"

enum { RS_START, RS_THINK, RS_CONTENT };

octo_err octo_text_reasoning_format_parse(const char *name, octo_text_reasoning_format *out)
{
    if (!name || !*name || strcmp(name, "none") == 0) *out = OCTO_TEXT_REASONING_NONE;
    else if (strcmp(name, "qwen3") == 0) *out = OCTO_TEXT_REASONING_QWEN3;
    else if (strcmp(name, "glm45") == 0 || strcmp(name, "glm4_moe") == 0)
        *out = OCTO_TEXT_REASONING_GLM45;
    else if (strcmp(name, "deepseek_r1") == 0) *out = OCTO_TEXT_REASONING_DEEPSEEK_R1;
    else return OCTO_E_NOT_FOUND;
    return OCTO_OK;
}

bool octo_text_prompt_in_think(const char *prompt, size_t len)
{
    const size_t ol = sizeof TAG_THINK_OPEN - 1;
    while (len > 0 && is_ws(prompt[len - 1])) len--;
    return len >= ol && memcmp(prompt + len - ol, TAG_THINK_OPEN, ol) == 0;
}

static bool reasoning_on(const octo_text_parse_opts *o)
{
    return o->reasoning != OCTO_TEXT_REASONING_NONE && o->thinking_enabled;
}

static bool starts_in_think(const octo_text_parse_opts *o)
{
    return o->prompt_in_think || o->reasoning == OCTO_TEXT_REASONING_DEEPSEEK_R1;
}

/* ==== whole text ==== */

/* Sets r/rn to the reasoning (NULL when there is none) and c/cn to
 * the content part of text (r and c point into text). */
static void split_whole(const octo_text_parse_opts *o, const char *s, size_t n, const char **r,
                        size_t *rn, const char **c, size_t *cn)
{
    const size_t ol = sizeof TAG_THINK_OPEN - 1, cl = sizeof TAG_THINK_CLOSE - 1;
    size_t j = 0, body;
    *r = NULL;
    *rn = 0;
    *c = s;
    *cn = n;
    if (!reasoning_on(o)) return;
    while (j < n && is_ws(s[j])) j++;
    if (n - j >= ol && memcmp(s + j, TAG_THINK_OPEN, ol) == 0) body = j + ol;
    else if (starts_in_think(o)) body = 0;
    else return;
    long e = find_bytes(s + body, n - body, TAG_THINK_CLOSE);
    *r = s + body;
    *rn = e < 0 ? n - body : (size_t)e;
    *c = e < 0 ? s + n : s + body + (size_t)e + cl;
    *cn = e < 0 ? 0 : n - body - (size_t)e - cl;
}

static octo_err set_str(json_t *msg, const char *key, const char *s, size_t n)
{
    json_t *v = s ? json_stringn(s, n) : json_null();
    if (!v) return OCTO_E_INVALID;
    return json_object_set_new(msg, key, v) ? OCTO_E_NOMEM : OCTO_OK;
}

octo_err octo_text_output_parse(const octo_text_parse_opts *opts, const char *text, size_t len,
                                json_t **message, bool *tools_called)
{
    const char *r, *c;
    size_t rn, cn;
    octo_buf content;
    json_t *msg = NULL, *calls = NULL;
    octo_err rc;
    if (len > OCTO_LIMIT_GENERATED_TEXT_BYTES) return OCTO_E_TOO_LARGE;
    if (!octo_utf8_valid(text, len, NULL)) return OCTO_E_INVALID;
    octo_buf_init(&content, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    split_whole(opts, text, len, &r, &rn, &c, &cn);
    msg = json_pack("{s:s}", "role", "assistant");
    calls = json_array();
    rc = (msg && calls) ? tc_split_whole(opts->tools, opts->tool_defs, c, cn, &content, calls)
                        : OCTO_E_NOMEM;
    if (rc) goto fail;
    bool called = json_array_size(calls) > 0;
    bool null_content = content.len == 0 && (called || r);
    rc = set_str(msg, "content", null_content ? NULL : (content.data ? content.data : ""),
                 content.len);
    if (!rc && r) rc = set_str(msg, "reasoning_content", r, rn);
    if (!rc && called) rc = json_object_set(msg, "tool_calls", calls) ? OCTO_E_NOMEM : OCTO_OK;
    if (rc) goto fail;
    json_decref(calls);
    octo_buf_deinit(&content);
    if (tools_called) *tools_called = called;
    *message = msg;
    return OCTO_OK;
fail:
    json_decref(calls);
    json_decref(msg);
    octo_buf_deinit(&content);
    return rc;
}

/* ==== streaming stage ==== */

void rs_init(rs_stage *r, const octo_text_parse_opts *o, rs_content_fn content, void *ctx)
{
    memset(r, 0, sizeof *r);
    r->phase = reasoning_on(o) ? RS_START : RS_CONTENT;
    r->start_in_think = starts_in_think(o);
    octo_buf_init(&r->hold, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    r->content = content;
    r->ctx = ctx;
}

void rs_deinit(rs_stage *r)
{
    octo_buf_deinit(&r->hold);
}

/* The start did not open a think block: what was held is reasoning when
 * the prompt left the block open, else content. */
static void diverge(rs_stage *r)
{
    r->phase = r->start_in_think ? RS_THINK : RS_CONTENT;
}

/* Consumes d[0..n) in the current phase; returns how many bytes to keep
 * held (a suffix of d), moving phases as tags complete. */
static octo_err step(rs_stage *r, ev_sink *e, const char *d, size_t n, size_t *keep)
{
    const size_t ol = sizeof TAG_THINK_OPEN - 1, cl = sizeof TAG_THINK_CLOSE - 1;
    octo_err rc = OCTO_OK;
    *keep = 0;
    while (!rc) {
        if (r->phase == RS_CONTENT) return n ? r->content(r->ctx, d, n) : OCTO_OK;
        if (r->phase == RS_START) {
            size_t j = r->start_ws; /* held whitespace already scanned */
            while (j < n && is_ws(d[j])) j++;
            r->start_ws = j;
            size_t m = n - j < ol ? n - j : ol;
            if (memcmp(d + j, TAG_THINK_OPEN, m) != 0) {
                diverge(r);
                continue;
            }
            if (m < ol) {
                *keep = n;
                return OCTO_OK;
            }
            r->phase = RS_THINK;
            d += j + ol;
            n -= j + ol;
            continue;
        }
        long c = find_bytes(d, n, TAG_THINK_CLOSE);
        if (c < 0) {
            *keep = tag_partial_suffix(d, n, TAG_THINK_CLOSE);
            return ev_text(e, EV_REASONING, d, n - *keep);
        }
        rc = ev_text(e, EV_REASONING, d, (size_t)c);
        r->phase = RS_CONTENT;
        d += (size_t)c + cl;
        n -= (size_t)c + cl;
    }
    return rc;
}

octo_err rs_feed(rs_stage *r, ev_sink *e, const char *s, size_t n)
{
    size_t keep;
    octo_err rc;
    if (!r->hold.len) {
        rc = step(r, e, s, n, &keep);
        if (!rc && keep) rc = octo_buf_append(&r->hold, s + n - keep, keep);
        return rc;
    }
    /* Held bytes go first. Still all held (leading whitespace): keep the
     * buffer as it is rather than copying it again. */
    octo_buf d = r->hold;
    octo_buf_init(&r->hold, d.max);
    rc = octo_buf_append(&d, s, n);
    if (!rc) rc = step(r, e, d.data, d.len, &keep);
    if (!rc && keep == d.len) {
        r->hold = d;
        return OCTO_OK;
    }
    if (!rc && keep) rc = octo_buf_append(&r->hold, d.data + d.len - keep, keep);
    octo_buf_deinit(&d);
    return rc;
}

octo_err rs_finish(rs_stage *r, ev_sink *e)
{
    octo_err rc = OCTO_OK;
    if (r->phase == RS_START) diverge(r);
    if (r->hold.len) {
        if (r->phase == RS_THINK) rc = ev_text(e, EV_REASONING, r->hold.data, r->hold.len);
        else rc = r->content(r->ctx, r->hold.data, r->hold.len);
    }
    octo_buf_clear(&r->hold);
    return rc;
}
