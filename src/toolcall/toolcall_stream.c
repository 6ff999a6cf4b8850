/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolcall_stream — the streaming output parser: text deltas in (split
 * anywhere), OpenAI chat-completion delta objects out. Three stages in a
 * row: a UTF-8 gate that holds an unfinished character, the reasoning
 * stage (reasoning.c), and the tool-call stage here.
 *
 * The tool stage sends plain text at once, except bytes that may still
 * become "<tool_call>". A call is held whole until "</tool_call>" (or the
 * end) and then parsed by the same code as the whole-text parser, so a
 * malformed call can still come out as content, and the concatenated
 * deltas always equal the whole-text result. (vLLM's glm45 stream holds
 * calls the same way; its hermes stream sends argument pieces early and
 * cannot take them back.) Whitespace after a call is held until something
 * other than a call follows, as the whole-text rule drops it.
 */
#include <string.h>

#include "toolcall/toolcall_int.h"

enum { TS_TEXT, TS_CALL };

typedef struct ts_stage {
    octo_text_tool_format fmt;
    const json_t *defs;
    int phase;
    octo_buf hold;     /* TEXT: a partial "<tool_call>"; CALL: the body so far */
    octo_buf ws;       /* whitespace after a call, not yet known to be kept */
    bool after_call;   /* a valid call precedes the current run of text */
    bool run_nonws;    /* the current run already sent something */
    int ncalls;
} ts_stage;

struct octo_text_output_stream {
    octo_text_parse_opts opts;
    char utf8[4]; /* an unfinished UTF-8 character */
    size_t utf8_n;
    rs_stage rs;
    ts_stage ts;
    ev_sink *sink; /* the sink of the call in progress */
    bool dead;
};

/* ==== event sink ==== */

octo_err ev_flush(ev_sink *e)
{
    if (e->kind == EV_NONE || e->text.len == 0) {
        e->kind = EV_NONE;
        return OCTO_OK;
    }
    const char *key = e->kind == EV_CONTENT ? "content" : "reasoning_content";
    json_t *s = json_stringn(e->text.data, e->text.len), *o = NULL;
    e->kind = EV_NONE;
    octo_buf_clear(&e->text);
    if (!s) return OCTO_E_INVALID; /* not UTF-8: a split character would land here */
    o = json_object();
    if (!o || json_object_set_new(o, key, s)) {
        if (!o) json_decref(s);
        json_decref(o);
        return OCTO_E_NOMEM;
    }
    return json_array_append_new(e->arr, o) ? OCTO_E_NOMEM : OCTO_OK;
}

octo_err ev_text(ev_sink *e, ev_kind kind, const char *s, size_t n)
{
    if (n == 0) return OCTO_OK;
    if (e->kind != kind) {
        octo_err rc = ev_flush(e);
        if (rc) return rc;
        e->kind = kind;
    }
    return octo_buf_append(&e->text, s, n);
}

octo_err ev_json(ev_sink *e, json_t *delta)
{
    octo_err rc = ev_flush(e);
    if (!rc && (!delta || json_array_append_new(e->arr, delta))) rc = OCTO_E_NOMEM;
    else if (rc) json_decref(delta);
    return rc;
}

/* ==== tool stage ==== */

/* Text of the current run (outside calls). */
static octo_err run_text(ts_stage *t, ev_sink *e, const char *s, size_t n)
{
    if (!t->after_call || t->run_nonws) return ev_text(e, EV_CONTENT, s, n);
    size_t j = 0;
    while (j < n && is_ws(s[j])) j++;
    if (j == n) return octo_buf_append(&t->ws, s, n);
    octo_err rc = ev_text(e, EV_CONTENT, t->ws.data, t->ws.len);
    octo_buf_clear(&t->ws);
    t->run_nonws = true;
    return rc ? rc : ev_text(e, EV_CONTENT, s, n);
}

static octo_err emit_call(ts_stage *t, ev_sink *e, const tc_call *c)
{
    char id[30];
    tc_new_id(id);
    json_t *head = json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index",
                             t->ncalls, "id", id, "type", "function", "function", "name",
                             c->name, "arguments", "");
    octo_err rc = ev_json(e, head);
    if (!rc && c->args[0]) {
        json_t *args = json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index", t->ncalls,
                                 "function", "arguments", c->args);
        rc = ev_json(e, args);
    }
    t->ncalls++;
    return rc;
}

/* A call's body is complete (terminated) or the text ended inside it. */
static octo_err close_call(ts_stage *t, ev_sink *e, const char *body, size_t n, bool terminated)
{
    tc_call call;
    octo_err rc = tc_parse_body(t->fmt, body, n, terminated, t->defs, &call);
    t->phase = TS_TEXT;
    if (rc == OCTO_OK) {
        rc = emit_call(t, e, &call);
        tc_call_clear(&call);
        octo_buf_clear(&t->ws);
        t->after_call = true;
        t->run_nonws = false;
        return rc;
    }
    if (rc != OCTO_E_PARSE) return rc;
    rc = run_text(t, e, TAG_TOOL_OPEN, sizeof TAG_TOOL_OPEN - 1);
    if (!rc) rc = run_text(t, e, body, n);
    if (!rc && terminated) rc = run_text(t, e, TAG_TOOL_CLOSE, sizeof TAG_TOOL_CLOSE - 1);
    return rc;
}

/* Looks for "</tool_call>" in held bytes h followed by d[0..n) (h itself
 * holds no complete tag). On success *body_end is the tag's offset in the
 * joined text and *rest the count of bytes of d after it. */
static bool find_close(const octo_buf *h, const char *d, size_t n, size_t *body_end,
                       size_t *rest)
{
    const size_t cl = sizeof TAG_TOOL_CLOSE - 1;
    char seam[2 * sizeof TAG_TOOL_CLOSE];
    size_t tail = h->len < cl - 1 ? h->len : cl - 1, head = n < cl - 1 ? n : cl - 1;
    if (tail) memcpy(seam, h->data + h->len - tail, tail);
    memcpy(seam + tail, d, head);
    long c = find_bytes(seam, tail + head, TAG_TOOL_CLOSE);
    if (c >= 0 && (size_t)c < tail) { /* starts in the held bytes */
        *body_end = h->len - tail + (size_t)c;
        *rest = n - ((size_t)c + cl - tail);
        return true;
    }
    c = find_bytes(d, n, TAG_TOOL_CLOSE);
    if (c < 0) return false;
    *body_end = h->len + (size_t)c;
    *rest = n - (size_t)c - cl;
    return true;
}

/* Runs d[0..n) (not held anywhere) through the stage. A loop, not
 * recursion: one feed may hold any number of calls. */
static octo_err ts_step(ts_stage *t, ev_sink *e, const char *d, size_t n)
{
    const size_t ol = sizeof TAG_TOOL_OPEN - 1;
    octo_buf spare; /* owns the bytes after the last closed call (d points in) */
    octo_err rc = OCTO_OK;
    octo_buf_init(&spare, 0);
    while (!rc && n) {
        if (t->phase == TS_TEXT) {
            long o = find_bytes(d, n, TAG_TOOL_OPEN);
            if (o < 0) {
                size_t keep = tag_partial_suffix(d, n, TAG_TOOL_OPEN);
                rc = run_text(t, e, d, n - keep);
                if (!rc) rc = octo_buf_append(&t->hold, d + n - keep, keep);
                break;
            }
            rc = run_text(t, e, d, (size_t)o);
            t->phase = TS_CALL;
            d += (size_t)o + ol;
            n -= (size_t)o + ol;
            continue;
        }
        /* In a call: find the close tag, maybe straddling held and new bytes. */
        size_t body_end, rest;
        if (!find_close(&t->hold, d, n, &body_end, &rest)) {
            rc = octo_buf_append(&t->hold, d, n);
            break;
        }
        octo_buf_deinit(&spare);
        spare = t->hold;
        octo_buf_init(&t->hold, spare.max);
        /* the body: held bytes plus new bytes up to the tag */
        if (body_end > spare.len) rc = octo_buf_append(&spare, d, body_end - spare.len);
        if (!rc) rc = close_call(t, e, spare.data ? spare.data : "", body_end, true);
        d += n - rest;
        n = rest;
    }
    octo_buf_deinit(&spare);
    return rc;
}

static octo_err ts_feed(void *ctx, const char *s, size_t n)
{
    octo_text_output_stream *st = ctx;
    ts_stage *t = &st->ts;
    if (t->fmt == OCTO_TEXT_TOOLS_NONE) return ev_text(st->sink, EV_CONTENT, s, n);
    if (t->phase == TS_CALL || !t->hold.len) return ts_step(t, st->sink, s, n);
    /* A partial open tag is held: run it again with the new bytes. */
    octo_buf d = t->hold;
    octo_buf_init(&t->hold, d.max);
    octo_err rc = octo_buf_append(&d, s, n);
    if (!rc) rc = ts_step(t, st->sink, d.data, d.len);
    octo_buf_deinit(&d);
    return rc;
}

static octo_err ts_finish(ts_stage *t, ev_sink *e)
{
    octo_err rc = OCTO_OK;
    octo_buf d = t->hold;
    octo_buf_init(&t->hold, d.max);
    if (t->phase == TS_CALL) rc = close_call(t, e, d.data ? d.data : "", d.len, false);
    else if (d.len) rc = run_text(t, e, d.data, d.len);
    octo_buf_deinit(&d);
    octo_buf_clear(&t->ws); /* whitespace after the last call is dropped */
    return rc;
}

/* ==== the stream object ==== */

octo_err octo_text_output_stream_new(const octo_text_parse_opts *opts,
                                     octo_text_output_stream **out)
{
    octo_text_output_stream *s = octo_calloc(1, sizeof *s);
    if (!s) return OCTO_E_NOMEM;
    s->opts = *opts;
    rs_init(&s->rs, opts, ts_feed, s);
    s->ts.fmt = opts->tools;
    s->ts.defs = opts->tool_defs;
    octo_buf_init(&s->ts.hold, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    octo_buf_init(&s->ts.ws, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    *out = s;
    return OCTO_OK;
}

void octo_text_output_stream_free(octo_text_output_stream *s)
{
    if (!s) return;
    rs_deinit(&s->rs);
    octo_buf_deinit(&s->ts.hold);
    octo_buf_deinit(&s->ts.ws);
    octo_free(s);
}

bool octo_text_output_stream_tools_called(const octo_text_output_stream *s)
{
    return s->ts.ncalls > 0;
}

/* Runs one feed or finish with a fresh sink; on success *deltas gets it. */
static octo_err run_with_sink(octo_text_output_stream *s, const char *text, size_t len,
                              bool finish, json_t **deltas)
{
    ev_sink e = {.arr = json_array(), .kind = EV_NONE};
    octo_err rc = OCTO_OK;
    octo_buf in;
    octo_buf_init(&e.text, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    octo_buf_init(&in, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    if (s->dead) rc = OCTO_E_INVALID;
    if (!rc && !e.arr) rc = OCTO_E_NOMEM;
    s->sink = &e;
    /* UTF-8 gate: only whole characters go on. */
    if (!rc) rc = octo_buf_append(&in, s->utf8, s->utf8_n);
    if (!rc) rc = octo_buf_append(&in, text, len);
    if (!rc) {
        size_t tail = finish ? 0 : utf8_incomplete_tail(in.data ? in.data : "", in.len);
        size_t whole = in.len - tail;
        s->utf8_n = tail;
        memcpy(s->utf8, in.data + whole, tail);
        if (whole && !octo_utf8_valid(in.data, whole, NULL)) rc = OCTO_E_INVALID;
        if (!rc && whole) rc = rs_feed(&s->rs, &e, in.data, whole);
    }
    if (!rc && finish) rc = rs_finish(&s->rs, &e);
    if (!rc && finish && s->opts.tools != OCTO_TEXT_TOOLS_NONE) rc = ts_finish(&s->ts, &e);
    if (!rc) rc = ev_flush(&e);
    s->sink = NULL;
    octo_buf_deinit(&in);
    octo_buf_deinit(&e.text);
    if (rc) {
        s->dead = true;
        json_decref(e.arr);
        return rc;
    }
    s->dead = finish; /* nothing may follow the end */
    *deltas = e.arr;
    return OCTO_OK;
}

octo_err octo_text_output_stream_feed(octo_text_output_stream *s, const char *text, size_t len,
                                      json_t **deltas)
{
    return run_with_sink(s, text, len, false, deltas);
}

octo_err octo_text_output_stream_finish(octo_text_output_stream *s, json_t **deltas)
{
    return run_with_sink(s, NULL, 0, true, deltas);
}
