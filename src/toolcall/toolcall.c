/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolcall — tool calls in generated text, whole-text form: the hermes
 * format (Qwen2.5/Qwen3: a JSON object {"name","arguments"} between
 * <tool_call> tags) and the glm45 format (GLM-4.5/4.6: the name, then
 * <arg_key>/<arg_value> pairs between <tool_call> tags), following vLLM's
 * parsers of the same names; plus tool_choice="required" output.
 *
 * Arguments come out as vLLM prints them: hermes json.dumps(arguments,
 * ensure_ascii=False); glm45 json.dumps(dict) with ensure_ascii on, where a
 * value stays a string when the tool declares that parameter "string",
 * else is read as JSON, as an escaped JSON string, as a Python literal, or
 * kept as the string.
 *
 * Where vLLM turns a whole output into content because one call is bad,
 * we keep the good calls and turn only the bad call's text into content
 * (a stream cannot take back calls it already sent). Text after a call
 * that is only whitespace is dropped; other text after calls is kept
 * (vLLM drops it). A glm45 call without any argument line, or with its
 * first <arg_key> right after the name, is accepted.
 * The streaming form lives in toolcall_stream.c.
 */
#include <string.h>

#include "toolcall/toolcall_int.h"

/* ==== bytes and tags ==== */

long find_bytes(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    const char *p = k <= n ? memmem(hay, n, needle, k) : NULL;
    return p ? (long)(p - hay) : -1;
}

size_t tag_partial_suffix(const char *s, size_t n, const char *tag)
{
    size_t t = strlen(tag);
    for (size_t k = (n < t - 1) ? n : t - 1; k > 0; k--)
        if (memcmp(s + n - k, tag, k) == 0) return k;
    return 0;
}

bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool all_ws(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws(s[i])) return false;
    return true;
}

size_t utf8_incomplete_tail(const char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char c = (unsigned char)s[n - k];
        if ((c & 0xC0) == 0x80) continue;
        if (c < 0xC0 || c >= 0xF8) return 0;
        size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        return need > k ? k : 0;
    }
    return 0;
}

/* Length of the whitespace character (as Python's str.isspace() sees it)
 * that starts at s[0..n), or 0. */
static size_t space_at(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 1 && ((u[0] >= 0x09 && u[0] <= 0x0D) || (u[0] >= 0x1C && u[0] <= 0x20))) return 1;
    if (n >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    if (u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) return 3;                /* U+1680 */
    if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] <= 0x8A || u[2] == 0xA8 || u[2] == 0xA9 ||
                                         u[2] == 0xAF)) return 3;            /* U+2000.. */
    if (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) return 3;                /* U+205F */
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;                /* U+3000 */
    return 0;
}

/* Python's str.strip(): whitespace off both ends (valid UTF-8 input). */
static void strip(const char **s, size_t *n)
{
    size_t k;
    while (*n && (k = space_at(*s, *n)) > 0) {
        *s += k;
        *n -= k;
    }
    while (*n) {
        size_t start = *n - 1; /* back up to the start of the last character */
        while (start > 0 && ((unsigned char)(*s)[start] & 0xC0) == 0x80) start--;
        if (space_at(*s + start, *n - start) != *n - start) break;
        *n = start;
    }
}

/* ==== names and ids ==== */

octo_err octo_text_tool_format_parse(const char *name, octo_text_tool_format *out)
{
    if (!name || !*name || strcmp(name, "none") == 0) *out = OCTO_TEXT_TOOLS_NONE;
    else if (strcmp(name, "hermes") == 0) *out = OCTO_TEXT_TOOLS_HERMES;
    else if (strcmp(name, "glm45") == 0 || strcmp(name, "glm4_moe") == 0)
        *out = OCTO_TEXT_TOOLS_GLM45;
    else return OCTO_E_NOT_FOUND;
    return OCTO_OK;
}

void tc_new_id(char id[30])
{
    memcpy(id, "call_", 5);
    octo_random_hex(id + 5, 24);
}

json_t *tc_call_json(const char *name, const char *args)
{
    char id[30];
    tc_new_id(id);
    json_t *fn = json_pack("{s:s, s:s}", "name", name, "arguments", args);
    if (!fn) return NULL;
    return json_pack("{s:s, s:s, s:o}", "id", id, "type", "function", "function", fn);
}

void tc_call_clear(tc_call *c)
{
    octo_free(c->name);
    octo_free(c->args);
    c->name = c->args = NULL;
}

/* Dumps v into a new string (*out, octo_free). */
static octo_err dump_new(const pj_val *v, bool ensure_ascii, char **out)
{
    octo_buf b;
    octo_buf_init(&b, OCTO_LIMIT_GENERATED_TEXT_BYTES * 2);
    octo_err rc = pj_dump(v, ensure_ascii, &b);
    if (!rc && !b.data) rc = octo_buf_puts(&b, "");
    if (rc) {
        octo_buf_deinit(&b);
        return rc;
    }
    *out = octo_buf_take(&b);
    return OCTO_OK;
}

/* A call name must be non-empty UTF-8 without surrogates. */
static octo_err set_name(tc_call *c, const char *s, size_t n)
{
    if (n == 0 || memchr(s, '\0', n) || !octo_utf8_valid(s, n, NULL)) return OCTO_E_PARSE;
    c->name = octo_strndup(s, n);
    return c->name ? OCTO_OK : OCTO_E_NOMEM;
}

/* ==== hermes ==== */

static octo_err hermes_body(const char *body, size_t n, tc_call *call)
{
    octo_arena *a = pj_arena_new(n);
    pj_val *v, *name, *args;
    octo_err rc;
    if (!a) return OCTO_E_NOMEM;
    rc = pj_parse(a, body, n, PJ_MODE_JSON, &v);
    if (rc) goto fail;
    rc = OCTO_E_PARSE;
    if (v->type != PJ_OBJ) goto fail;
    name = pj_obj_get(v, "name", 4);
    args = pj_obj_get(v, "arguments", 9);
    if (!name || name->type != PJ_STR || !args) goto fail;
    rc = set_name(call, name->s, name->n);
    if (!rc) rc = dump_new(args, false, &call->args);
fail:
    octo_arena_free(a);
    if (rc) tc_call_clear(call);
    return rc;
}

/* ==== glm45 ==== */

/* vLLM's _is_string_type: the first tool of that name declares the
 * parameter with "type": "string". */
static bool glm_string_typed(const json_t *defs, const char *name, const char *key, size_t keyn)
{
    size_t i;
    json_t *tool;
    if (!json_is_array(defs) || memchr(key, '\0', keyn)) return false;
    json_array_foreach(defs, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        const char *fname = json_string_value(json_object_get(fn, "name"));
        if (!fname || strcmp(fname, name) != 0) continue;
        json_t *props = json_object_get(json_object_get(fn, "parameters"), "properties");
        char *k = octo_strndup(key, keyn);
        if (!k) return false;
        const char *type = json_string_value(json_object_get(json_object_get(props, k), "type"));
        octo_free(k);
        return type && strcmp(type, "string") == 0;
    }
    return false;
}

/* vLLM's _deserialize: JSON, else an escaped JSON text, else a Python
 * literal, else the string itself. */
static octo_err glm_value(octo_arena *a, const char *v, size_t n, bool string_typed,
                          pj_val **out)
{
    const char *dec;
    size_t decn;
    octo_err rc;
    if (!string_typed) {
        rc = pj_parse(a, v, n, PJ_MODE_JSON, out);
        if (rc != OCTO_E_PARSE) return rc;
        rc = pj_decode_json_string(a, v, n, &dec, &decn);
        if (rc == OCTO_OK) rc = pj_parse(a, dec, decn, PJ_MODE_JSON, out);
        if (rc != OCTO_E_PARSE) return rc;
        rc = pj_parse(a, v, n, PJ_MODE_PYLIT, out);
        if (rc != OCTO_E_PARSE) return rc;
    }
    *out = pj_new_str(a, v, n);
    return *out ? OCTO_OK : OCTO_E_NOMEM;
}

/* Skips whitespace and literal backslash-n pairs (vLLM's (?:\\n|\s)*). */
static size_t glm_skip(const char *s, size_t n, size_t i)
{
    for (;;) {
        if (i < n && (is_ws(s[i]) || s[i] == '\v' || s[i] == '\f')) i++;
        else if (i + 1 < n && s[i] == '\\' && s[i + 1] == 'n') i += 2;
        else return i;
    }
}

/* Reads "<open>X</close>" at s[*i], giving the bounds of X. */
static bool glm_tagged(const char *s, size_t n, size_t *i, const char *open, const char *close,
                       const char **x, size_t *xn)
{
    size_t ol = strlen(open);
    if (n - *i < ol || memcmp(s + *i, open, ol) != 0) return false;
    long e = find_bytes(s + *i + ol, n - *i - ol, close);
    if (e < 0) return false;
    *x = s + *i + ol;
    *xn = (size_t)e;
    *i += ol + (size_t)e + strlen(close);
    return true;
}

static octo_err glm_args(octo_arena *a, const tc_call *call, const char *s, size_t n,
                         const json_t *defs, pj_val *obj)
{
    size_t i = 0;
    for (;;) {
        const char *k, *v;
        size_t kn, vn;
        pj_val *val;
        i = glm_skip(s, n, i);
        if (i == n) return OCTO_OK;
        if (!glm_tagged(s, n, &i, "<arg_key>", "</arg_key>", &k, &kn)) return OCTO_E_PARSE;
        i = glm_skip(s, n, i);
        if (!glm_tagged(s, n, &i, "<arg_value>", "</arg_value>", &v, &vn)) return OCTO_E_PARSE;
        strip(&k, &kn);
        strip(&v, &vn);
        octo_err rc = glm_value(a, v, vn, glm_string_typed(defs, call->name, k, kn), &val);
        if (rc) return rc;
        pj_obj_set(obj, k, kn, val);
    }
}

static octo_err glm_body(const char *body, size_t n, bool terminated, const json_t *defs,
                         tc_call *call)
{
    octo_arena *a = NULL;
    pj_val *obj;
    octo_err rc = OCTO_E_PARSE;
    if (!terminated) return OCTO_E_PARSE;
    /* The name runs to the first newline (or a literal backslash-n), or to
     * the first <arg_key> when a template put none in between. */
    long nl = find_bytes(body, n, "\n"), bs = find_bytes(body, n, "\\n");
    long ak = find_bytes(body, n, "<arg_key>");
    size_t cut = n, skip = 0;
    if (nl >= 0) cut = (size_t)nl, skip = 1;
    if (bs >= 0 && (size_t)bs < cut) cut = (size_t)bs, skip = 2;
    if (ak >= 0 && (size_t)ak < cut) cut = (size_t)ak, skip = 0;
    const char *name = body;
    size_t namen = cut;
    strip(&name, &namen);
    if (memchr(name, '<', namen)) goto fail;
    rc = set_name(call, name, namen);
    if (rc) goto fail;
    a = pj_arena_new(n);
    obj = a ? pj_new(a, PJ_OBJ) : NULL;
    rc = obj ? glm_args(a, call, body + cut + skip, n - cut - skip, defs, obj) : OCTO_E_NOMEM;
    if (!rc) rc = dump_new(obj, true, &call->args);
fail:
    octo_arena_free(a);
    if (rc) tc_call_clear(call);
    return rc;
}

octo_err tc_parse_body(octo_text_tool_format fmt, const char *body, size_t n, bool terminated,
                       const json_t *tool_defs, tc_call *call)
{
    call->name = call->args = NULL;
    if (fmt == OCTO_TEXT_TOOLS_HERMES) return hermes_body(body, n, call);
    if (fmt == OCTO_TEXT_TOOLS_GLM45) return glm_body(body, n, terminated, tool_defs, call);
    return OCTO_E_PARSE;
}

/* ==== whole text ==== */

/* Appends a run of plain text to content; a run that follows a call and is
 * only whitespace is dropped. */
static octo_err flush_run(octo_buf *content, octo_buf *run, bool after_call)
{
    octo_err rc = OCTO_OK;
    if (run->len && !(after_call && all_ws(run->data, run->len)))
        rc = octo_buf_append(content, run->data, run->len);
    octo_buf_clear(run);
    return rc;
}

octo_err tc_split_whole(octo_text_tool_format fmt, const json_t *tool_defs, const char *s,
                        size_t n, octo_buf *content, json_t *calls)
{
    const size_t ol = sizeof TAG_TOOL_OPEN - 1, cl = sizeof TAG_TOOL_CLOSE - 1;
    octo_buf run;
    size_t pos = 0;
    bool after_call = false;
    octo_err rc = OCTO_OK;
    if (fmt == OCTO_TEXT_TOOLS_NONE) return octo_buf_append(content, s, n);
    octo_buf_init(&run, OCTO_LIMIT_GENERATED_TEXT_BYTES);
    while (!rc) {
        long o = find_bytes(s + pos, n - pos, TAG_TOOL_OPEN);
        if (o < 0) {
            rc = octo_buf_append(&run, s + pos, n - pos);
            break;
        }
        size_t start = pos + (size_t)o, body = start + ol;
        long c = find_bytes(s + body, n - body, TAG_TOOL_CLOSE);
        size_t body_n = c < 0 ? n - body : (size_t)c;
        size_t end = c < 0 ? n : body + body_n + cl;
        tc_call call;
        rc = octo_buf_append(&run, s + pos, start - pos);
        if (rc) break;
        rc = tc_parse_body(fmt, s + body, body_n, c >= 0, tool_defs, &call);
        if (rc == OCTO_OK) {
            json_t *j = tc_call_json(call.name, call.args);
            tc_call_clear(&call);
            rc = j ? flush_run(content, &run, after_call) : OCTO_E_NOMEM;
            if (!rc) rc = json_array_append_new(calls, j) ? OCTO_E_NOMEM : OCTO_OK;
            else json_decref(j);
            after_call = true;
        } else if (rc == OCTO_E_PARSE) {
            rc = octo_buf_append(&run, s + start, end - start);
        }
        pos = end;
        if (c < 0) break;
    }
    if (!rc) rc = flush_run(content, &run, after_call);
    octo_buf_deinit(&run);
    return rc;
}

/* ==== tool_choice "required" ==== */

static octo_err required_one(const pj_val *o, json_t *calls)
{
    tc_call call = {0};
    octo_err rc = OCTO_E_PARSE;
    if (o->type != PJ_OBJ) return OCTO_E_PARSE;
    const pj_val *name = pj_obj_get(o, "name", 4);
    const pj_val *params = pj_obj_get(o, "parameters", 10);
    if (!params) params = pj_obj_get(o, "arguments", 9);
    if (!name || name->type != PJ_STR) return OCTO_E_PARSE;
    rc = set_name(&call, name->s, name->n);
    if (!rc) rc = params ? dump_new(params, false, &call.args)
                         : ((call.args = octo_strdup("{}")) ? OCTO_OK : OCTO_E_NOMEM);
    if (!rc) {
        json_t *j = tc_call_json(call.name, call.args);
        rc = j ? (json_array_append_new(calls, j) ? OCTO_E_NOMEM : OCTO_OK) : OCTO_E_NOMEM;
    }
    tc_call_clear(&call);
    return rc;
}

octo_err octo_text_tool_calls_parse_required(const char *text, size_t len, json_t **tool_calls)
{
    octo_arena *a = NULL;
    json_t *calls = NULL;
    pj_val *v;
    octo_err rc;
    if (!octo_utf8_valid(text, len, NULL)) return OCTO_E_INVALID;
    a = pj_arena_new(len);
    calls = json_array();
    rc = (a && calls) ? pj_parse(a, text, len, PJ_MODE_JSON, &v) : OCTO_E_NOMEM;
    if (rc) goto fail;
    if (v->type == PJ_ARR) {
        for (const pj_val *c = v->first; c && !rc; c = c->next) rc = required_one(c, calls);
    } else {
        rc = required_one(v, calls);
    }
    if (!rc && json_array_size(calls) == 0) rc = OCTO_E_PARSE;
    if (rc) goto fail;
    octo_arena_free(a);
    *tool_calls = calls;
    return OCTO_OK;
fail:
    octo_arena_free(a);
    json_decref(calls);
    return rc;
}
