/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolcall_required — streaming of tool_choice "required" output: the
 * guided JSON array [{"name": .., "parameters": {..}}, ..] turned into
 * OpenAI tool-call deltas while it is generated, as vLLM streams it: for
 * each call a first delta with its index, id, type and name (arguments ""),
 * then argument pieces whose concatenation is exactly the "arguments" of
 * the whole response (octo_text_tool_calls_parse_required: json.dumps of the
 * parameters). A piece goes out each time a member of the parameters
 * object is complete, and the closing brace with the call.
 *
 * A resumable byte scanner keeps the JSON nesting depth, string state and
 * the offsets of the current call's name and parameters; the text itself
 * is kept so that those pieces can be parsed and printed with the same
 * parser (pj_parse / pj_dump) the whole response uses.
 */
#include "toolcall/toolcall_int.h"

#include <stdint.h>
#include <string.h>

enum { KEY_OTHER, KEY_NAME, KEY_PARAMS };

struct octo_text_required_stream {
    octo_buf text;
    size_t pos;            /* bytes scanned */
    int depth, base;       /* nesting depth; 1 when the calls are in an array */
    bool started, in_str, esc;
    int call;              /* index of the current call object, -1 before the first */
    /* inside a call object (depth == base + 1) */
    bool want_key, in_key, want_val, in_val, val_container, val_str;
    size_t key_start, val_start;
    int key, val_key;
    char *name;            /* the call's name once its string is complete */
    bool announced, has_params, params_done;
    size_t p_start, p_end, p_members; /* p_members: offset of the last ',' between members */
    size_t args_sent;      /* bytes of the printed arguments already out */
    size_t args_seen;      /* progress of the last look (see emit); 0: none */
};

octo_err octo_text_required_stream_new(octo_text_required_stream **out)
{
    octo_text_required_stream *s = octo_calloc(1, sizeof *s);
    if (!s) return OCTO_E_NOMEM;
    octo_buf_init(&s->text, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    s->call = -1;
    *out = s;
    return OCTO_OK;
}

void octo_text_required_stream_free(octo_text_required_stream *s)
{
    if (!s) return;
    octo_buf_deinit(&s->text);
    octo_free(s->name);
    octo_free(s);
}

/* json.dumps of the JSON text t[0..n) (plus `tail`) into *out, or with
 * name_out, a string's value; OCTO_E_PARSE when the text is not one value
 * (of that type). The parsed values point into `src`, kept until printed. */
static octo_err reprint(const char *t, size_t n, const char *tail, char **out, char **name_out)
{
    octo_buf src, b;
    octo_buf_init(&src, OCTO_LIMIT_GENERATED_TEXT_BYTES * 2);
    octo_buf_init(&b, OCTO_LIMIT_GENERATED_TEXT_BYTES * 2);
    octo_err rc = octo_buf_append(&src, t, n);
    if (!rc && tail) rc = octo_buf_puts(&src, tail);
    octo_arena *a = rc ? NULL : pj_arena_new(src.len);
    pj_val *v = NULL;
    if (!rc) rc = a ? pj_parse(a, src.data ? src.data : "", src.len, PJ_MODE_JSON, &v)
                    : OCTO_E_NOMEM;
    if (!rc && name_out) {
        rc = v->type == PJ_STR ? OCTO_OK : OCTO_E_PARSE;
        if (!rc) *name_out = octo_strndup(v->s, v->n);
        if (!rc && !*name_out) rc = OCTO_E_NOMEM;
    } else if (!rc) {
        rc = pj_dump(v, false, &b);
        if (!rc && !b.data) rc = octo_buf_puts(&b, "");
        if (!rc) *out = octo_buf_take(&b);
    }
    octo_buf_deinit(&b);
    octo_buf_deinit(&src);
    octo_arena_free(a);
    return rc;
}

static octo_err delta(json_t *out, json_t *call)
{
    json_t *d = call ? json_pack("{s:[o]}", "tool_calls", call) : NULL;
    return d && !json_array_append_new(out, d) ? OCTO_OK : OCTO_E_NOMEM;
}

/* The arguments printed so far for the current call: json.dumps of the
 * complete parameters, of the members complete so far without the closing
 * brace, or "{}" for a closed call without parameters. NULL: nothing yet. */
static octo_err args_so_far(const octo_text_required_stream *s, bool closed, char **out)
{
    const char *t = s->text.data;
    *out = NULL;
    if (!s->has_params) return closed ? ((*out = octo_strdup("{}")) ? OCTO_OK : OCTO_E_NOMEM)
                                      : OCTO_OK;
    if (s->params_done) return reprint(t + s->p_start, s->p_end - s->p_start, NULL, out, NULL);
    if (t[s->p_start] != '{') return OCTO_OK; /* not an object: whole at its end */
    size_t end = s->p_members > s->p_start ? s->p_members : s->p_start + 1;
    octo_err rc = reprint(t + s->p_start, end - s->p_start, "}", out, NULL);
    if (!rc) (*out)[strlen(*out) - 1] = '\0'; /* without the closing brace */
    return rc;
}

/* Whatever the current call can send now: its first delta once the name is
 * known, then the arguments beyond those already out. */
static octo_err emit(octo_text_required_stream *s, bool closed, json_t *out)
{
    octo_err rc = OCTO_OK;
    if (!s->announced) {
        if (!s->name) return OCTO_OK;
        char id[30];
        tc_new_id(id);
        rc = delta(out, json_pack("{s:i, s:s, s:s, s:{s:s, s:s}}", "index", s->call, "id", id,
                                  "type", "function", "function", "name", s->name,
                                  "arguments", ""));
        if (rc) return rc;
        s->announced = true;
    }
    /* the arguments only change when a member, the parameters or the call
     * completes: a token inside a member costs no reprint */
    size_t seen = closed ? SIZE_MAX : s->params_done ? s->p_end : s->p_members + s->has_params;
    if (seen == s->args_seen) return OCTO_OK;
    s->args_seen = seen;
    char *args = NULL;
    rc = args_so_far(s, closed, &args);
    if (rc != OCTO_E_NOMEM && rc != OCTO_E_TOO_LARGE) rc = OCTO_OK; /* not JSON: nothing */
    size_t n = args ? strlen(args) : 0;
    if (n && !octo_utf8_valid(args, n, NULL)) n = 0; /* e.g. a lone surrogate: never sent */
    if (!rc && n > s->args_sent) {
        rc = delta(out, json_pack("{s:i, s:{s:s}}", "index", s->call, "function", "arguments",
                                  args + s->args_sent));
        if (!rc) s->args_sent = n;
    }
    octo_free(args);
    return rc;
}

static void call_open(octo_text_required_stream *s)
{
    s->call++;
    s->want_key = true;
    s->in_key = s->want_val = s->in_val = false;
    octo_free(s->name);
    s->name = NULL;
    s->announced = s->has_params = s->params_done = false;
    s->p_start = s->p_end = s->p_members = s->args_sent = s->args_seen = 0;
}

/* The value of the current member ends at `end` (exclusive). */
static octo_err val_end(octo_text_required_stream *s, size_t end)
{
    s->in_val = false;
    if (s->val_key == KEY_PARAMS) {
        s->params_done = true;
        s->p_end = end;
    } else if (s->val_key == KEY_NAME && s->val_str && !s->name) {
        octo_err rc = reprint(s->text.data + s->val_start, end - s->val_start, NULL, NULL,
                              &s->name);
        if (rc == OCTO_E_NOMEM || rc == OCTO_E_TOO_LARGE) return rc;
        if (s->name && (!*s->name || !octo_utf8_valid(s->name, strlen(s->name), NULL))) {
            octo_free(s->name); /* not a name a call can have (as in the whole parse) */
            s->name = NULL;
        }
    }
    return OCTO_OK;
}

static octo_err key_end(octo_text_required_stream *s, size_t end)
{
    char *k = NULL;
    s->in_key = false;
    s->key = KEY_OTHER;
    octo_err rc = reprint(s->text.data + s->key_start, end - s->key_start, NULL, NULL, &k);
    if (rc) return rc == OCTO_E_NOMEM || rc == OCTO_E_TOO_LARGE ? rc : OCTO_OK;
    s->key = !strcmp(k, "name") ? KEY_NAME
             : !strcmp(k, "parameters") || !strcmp(k, "arguments") ? KEY_PARAMS : KEY_OTHER;
    octo_free(k);
    return OCTO_OK;
}

/* One byte at offset i. */
static octo_err step(octo_text_required_stream *s, size_t i, json_t *out)
{
    char c = s->text.data[i];
    int cd = s->base + 1; /* depth inside a call object */
    if (s->in_str) {
        if (s->esc) s->esc = false;
        else if (c == '\\') s->esc = true;
        else if (c == '"') {
            s->in_str = false;
            if (s->depth == cd && s->in_key) return key_end(s, i + 1);
            if (s->depth == cd && s->in_val && s->val_str) return val_end(s, i + 1);
        }
        return OCTO_OK;
    }
    if (is_ws(c)) return s->depth == cd && s->in_val && !s->val_container && !s->val_str
                             ? val_end(s, i) : OCTO_OK;
    if (s->depth == cd && s->want_val) { /* a member's value starts */
        s->want_val = false;
        s->in_val = true;
        s->val_start = i;
        s->val_key = s->key;
        s->val_str = c == '"';
        s->val_container = c == '{' || c == '[';
        if (s->key == KEY_PARAMS && !s->has_params) {
            s->has_params = true;
            s->p_start = i;
        }
    }
    octo_err rc = OCTO_OK;
    switch (c) {
    case '"':
        s->in_str = true;
        if (s->depth == cd && s->want_key) {
            s->want_key = false;
            s->in_key = true;
            s->key_start = i;
        }
        break;
    case '{':
    case '[':
        if (!s->started) {
            s->started = true;
            s->base = c == '[';
        }
        s->depth++;
        if (s->depth == s->base + 1 && c == '{') call_open(s);
        break;
    case '}':
    case ']':
        if (s->depth == cd && s->in_val && !s->val_container && !s->val_str) rc = val_end(s, i);
        if (!rc && s->depth == cd && c == '}' && s->call >= 0) rc = emit(s, true, out);
        s->depth--;
        if (!rc && s->depth == cd && s->in_val && s->val_container) rc = val_end(s, i + 1);
        break;
    case ':':
        if (s->depth == cd && !s->in_val) s->want_val = true;
        break;
    case ',':
        if (s->depth == cd) {
            if (s->in_val && !s->val_container && !s->val_str) rc = val_end(s, i);
            s->want_key = true;
        } else if (s->depth == cd + 1 && s->in_val && s->val_key == KEY_PARAMS) {
            s->p_members = i;
        }
        break;
    default:
        break;
    }
    return rc;
}

octo_err octo_text_required_stream_feed(octo_text_required_stream *s, const char *text,
                                        size_t len, json_t **deltas)
{
    json_t *out = json_array();
    *deltas = NULL;
    octo_err rc = out ? octo_buf_append(&s->text, text, len) : OCTO_E_NOMEM;
    for (; !rc && s->pos < s->text.len; s->pos++) rc = step(s, s->pos, out);
    if (!rc && s->call >= 0 && s->depth >= s->base + 1) rc = emit(s, false, out);
    if (rc) {
        json_decref(out);
        return rc;
    }
    *deltas = out;
    return OCTO_OK;
}
