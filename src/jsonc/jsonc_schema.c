/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonc_schema — compiles the subset of JSON Schema that tool and
 * response_format schemas use into the byte automaton of jsonc_nfa.c.
 * The semantics (documented for users in jsonc.h) follow vLLM's default
 * xgrammar backend: properties in schema order, no extra keys unless
 * additionalProperties says so, const/enum matched in compact form.
 *
 * It is deliberately not a validator: keywords that constrain values in
 * ways a byte automaton cannot cheaply express (pattern, format, lengths,
 * numeric ranges...) are ignored with one logged note per keyword.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonc/jsonc_int.h"

static jc_frag compile_node(jc_build *b, const json_t *s);

static const char *const ignored_kw[] = {
    "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems",
    "patternProperties", "propertyNames", "minProperties", "maxProperties",
    "prefixItems", "contains", "not", "if", "dependentRequired", "dependentSchemas",
};

static void note_ignored(jc_build *b, const json_t *s)
{
    for (size_t i = 0; i < sizeof ignored_kw / sizeof ignored_kw[0]; i++) {
        if (!json_object_get(s, ignored_kw[i]) || (b->ignored & (1u << i))) continue;
        b->ignored |= 1u << i;
        OCTO_LOG_INFO("JSON schema keyword '%s' is not enforced by constrained decoding",
                      ignored_kw[i]);
    }
}

/* The compact JSON text of a const/enum value as a literal. */
static jc_frag literal_of(jc_build *b, const json_t *v)
{
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!txt) {
        jc_fail(b, OCTO_E_NOMEM, "enum value");
        return jc_frag_never(b);
    }
    jc_frag f = jc_frag_lit(b, txt, strlen(txt));
    free(txt); /* jansson's allocator */
    return f;
}

static jc_frag alt_begin(jc_build *b)
{
    return (jc_frag){jc_state(b), jc_state(b)};
}

static void alt_add(jc_build *b, jc_frag alt, jc_frag x)
{
    jc_eps(b, alt.s, x.s, JC_OP_NONE);
    jc_eps(b, x.e, alt.e, JC_OP_NONE);
}

/* "#", "#/$defs/x", "#/definitions/x" or any JSON pointer into the root. */
static const json_t *resolve_ref(jc_build *b, const char *ref)
{
    if (ref[0] != '#') return NULL;
    const json_t *cur = b->root;
    const char *p = ref + 1;
    char tok[256];
    while (*p == '/' && cur) {
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1')) c = *p++ == '0' ? '~' : '/';
            if (n + 1 >= sizeof tok) return NULL;
            tok[n++] = c;
        }
        tok[n] = 0;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            long idx = 0;
            if (octo_parse_long(tok, 0, 1 << 20, &idx)) return NULL;
            cur = json_array_get(cur, (size_t)idx);
        } else {
            return NULL;
        }
    }
    return *p ? NULL : cur;
}

/* ==== objects ==== */

static bool is_required(const json_t *req, const char *name)
{
    size_t i;
    const json_t *v;
    json_array_foreach(req, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
    }
    return false;
}

/* A property: "key" ws ':' ws value. */
static jc_frag member(jc_build *b, const char *key, const json_t *schema)
{
    json_t *k = json_string(key);
    jc_frag f = k ? literal_of(b, k) : jc_frag_never(b);
    json_decref(k);
    if (!k) jc_fail(b, OCTO_E_NOMEM, "property name");
    f = jc_frag_seq(b, f, jc_frag_punct(b, ':'));
    return jc_frag_seq(b, f, compile_node(b, schema));
}

/*
 * '{' ws members ws '}'. Two chains of states walk the properties in
 * order: a[i] (nothing written yet) and c[i] (something written, so the
 * next member needs a comma). Optional properties may be skipped.
 */
static jc_frag object_node(jc_build *b, const json_t *s)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *req = json_object_get(s, "required");
    const json_t *addl = json_object_get(s, "additionalProperties");
    bool have_props = json_is_object(props);
    jc_frag f = jc_frag_seq(b, jc_frag_lit(b, "{", 1), jc_frag_ws(b));
    int32_t a = jc_state(b), c = jc_state(b);
    jc_eps(b, f.e, a, JC_OP_NONE);
    const char *name;
    const json_t *ps;
    json_object_foreach((json_t *)props, name, ps) {
        if (b->rc) break;
        jc_frag m = member(b, name, ps);
        jc_frag comma = jc_frag_punct(b, ',');
        int32_t a2 = jc_state(b), c2 = jc_state(b);
        jc_eps(b, a, m.s, JC_OP_NONE);
        jc_eps(b, c, comma.s, JC_OP_NONE);
        jc_eps(b, comma.e, m.s, JC_OP_NONE);
        jc_eps(b, m.e, c2, JC_OP_NONE);
        if (!is_required(req, name)) {
            jc_eps(b, a, a2, JC_OP_NONE);
            jc_eps(b, c, c2, JC_OP_NONE);
        }
        a = a2;
        c = c2;
    }
    /* extra keys: additionalProperties true or a schema, or absent on an
     * object without a "properties" keyword */
    bool extra = json_is_true(addl) || json_is_object(addl) || (!addl && !have_props);
    if (extra) {
        jc_frag key = jc_frag_seq(b, jc_frag_string(b), jc_frag_punct(b, ':'));
        jc_frag m = jc_frag_seq(b, key, json_is_object(addl) ? compile_node(b, addl)
                                                             : jc_frag_any(b, false));
        jc_frag comma = jc_frag_punct(b, ',');
        jc_eps(b, a, m.s, JC_OP_NONE);
        jc_eps(b, c, comma.s, JC_OP_NONE);
        jc_eps(b, comma.e, m.s, JC_OP_NONE);
        jc_eps(b, m.e, c, JC_OP_NONE);
    }
    jc_frag close = jc_frag_seq(b, jc_frag_ws(b), jc_frag_lit(b, "}", 1));
    jc_eps(b, a, close.s, JC_OP_NONE);
    jc_eps(b, c, close.s, JC_OP_NONE);
    return (jc_frag){f.s, close.e};
}

/* ==== arrays ==== */

static long int_kw(const json_t *s, const char *kw, long dflt)
{
    const json_t *v = json_object_get(s, kw);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (long)json_integer_value(v) : dflt;
}

/* '[' ws item (ws ',' ws item)* ws ']' with minItems/maxItems unrolled. */
static jc_frag array_node(jc_build *b, const json_t *s)
{
    const json_t *items = json_object_get(s, "items");
    long lo = int_kw(s, "minItems", 0), hi = int_kw(s, "maxItems", -1);
    if (lo > JC_ARRAY_UNROLL) {
        jc_fail(b, OCTO_E_UNSUPPORTED, "minItems %ld above %d", lo, JC_ARRAY_UNROLL);
        return jc_frag_never(b);
    }
    if (hi > JC_ARRAY_UNROLL) {
        OCTO_LOG_INFO("maxItems %ld above %d is not enforced", hi, JC_ARRAY_UNROLL);
        hi = -1;
    }
    jc_frag f = jc_frag_seq(b, jc_frag_lit(b, "[", 1), jc_frag_ws(b));
    jc_frag close = jc_frag_seq(b, jc_frag_ws(b), jc_frag_lit(b, "]", 1));
    if (hi >= 0 && hi < lo) {
        jc_fail(b, OCTO_E_INVALID, "maxItems below minItems");
        return jc_frag_never(b);
    }
    if (lo == 0) jc_eps(b, f.e, close.s, JC_OP_NONE);
    long copies = hi >= 0 ? hi : (lo > 1 ? lo : 1);
    int32_t at = f.e;
    jc_frag prev = {0, 0};
    for (long k = 1; k <= copies && !b->rc; k++) {
        jc_frag it = items ? compile_node(b, items) : jc_frag_any(b, false);
        if (k > 1) {
            jc_frag comma = jc_frag_punct(b, ',');
            jc_eps(b, at, comma.s, JC_OP_NONE);
            at = comma.e;
        }
        jc_eps(b, at, it.s, JC_OP_NONE);
        at = it.e;
        if (k >= lo) jc_eps(b, at, close.s, JC_OP_NONE);
        prev = it;
    }
    if (hi < 0 && copies > 0 && !b->rc) { /* unbounded: loop on the last copy */
        jc_frag comma = jc_frag_punct(b, ',');
        jc_eps(b, prev.e, comma.s, JC_OP_NONE);
        jc_eps(b, comma.e, prev.s, JC_OP_NONE);
    }
    return (jc_frag){f.s, close.e};
}

/* ==== dispatch ==== */

static jc_frag typed_node(jc_build *b, const json_t *s, const char *type)
{
    if (!strcmp(type, "object")) return object_node(b, s);
    if (!strcmp(type, "array")) return array_node(b, s);
    if (!strcmp(type, "string")) return jc_frag_string(b);
    if (!strcmp(type, "number")) return jc_frag_number(b, false);
    if (!strcmp(type, "integer")) return jc_frag_number(b, true);
    if (!strcmp(type, "null")) return jc_frag_lit(b, "null", 4);
    if (!strcmp(type, "boolean")) {
        jc_frag alt = alt_begin(b);
        alt_add(b, alt, jc_frag_lit(b, "true", 4));
        alt_add(b, alt, jc_frag_lit(b, "false", 5));
        return alt;
    }
    jc_fail(b, OCTO_E_INVALID, "unknown schema type \"%.64s\"", type);
    return jc_frag_never(b);
}

/* anyOf/oneOf: each branch with the parent's other keywords merged under it
 * (so {"type":"object","anyOf":[{"properties":..}]} works). oneOf is
 * treated as anyOf: exclusivity is not enforced. */
static jc_frag union_node(jc_build *b, const json_t *s, const json_t *branches, const char *kw)
{
    jc_frag alt = alt_begin(b);
    size_t i;
    const json_t *br;
    json_array_foreach(branches, i, br) {
        if (b->rc) break;
        if (!json_is_object(br)) {
            alt_add(b, alt, compile_node(b, br));
            continue;
        }
        json_t *merged = json_copy((json_t *)s);
        if (!merged || json_object_del(merged, kw) || json_object_update(merged, (json_t *)br)) {
            json_decref(merged);
            jc_fail(b, OCTO_E_NOMEM, "anyOf");
            break;
        }
        alt_add(b, alt, compile_node(b, merged));
        json_decref(merged);
    }
    return alt;
}

static jc_frag infer_node(jc_build *b, const json_t *s)
{
    if (json_object_get(s, "properties") || json_object_get(s, "additionalProperties") ||
        json_object_get(s, "required"))
        return object_node(b, s);
    if (json_object_get(s, "items") || json_object_get(s, "minItems") ||
        json_object_get(s, "maxItems"))
        return array_node(b, s);
    return jc_frag_any(b, false);
}

static jc_frag ref_node(jc_build *b, const char *ref)
{
    const json_t *t = resolve_ref(b, ref);
    if (!t) {
        jc_fail(b, OCTO_E_INVALID, "unresolvable $ref \"%.128s\"", ref);
        return jc_frag_never(b);
    }
    if (b->ref_depth >= JC_REF_DEPTH) return jc_frag_never(b); /* recursion cut */
    b->ref_depth++;
    jc_frag f = compile_node(b, t);
    b->ref_depth--;
    return f;
}

static jc_frag compile_node(jc_build *b, const json_t *s)
{
    if (b->rc) return (jc_frag){0, 0};
    if (json_is_true(s)) return jc_frag_any(b, false);
    if (json_is_false(s)) return jc_frag_never(b);
    if (!json_is_object(s)) {
        jc_fail(b, OCTO_E_INVALID, "a schema must be an object or a boolean");
        return (jc_frag){0, 0};
    }
    note_ignored(b, s);
    const json_t *v;
    if ((v = json_object_get(s, "$ref")) && json_is_string(v))
        return ref_node(b, json_string_value(v));
    if ((v = json_object_get(s, "const"))) return literal_of(b, v);
    if ((v = json_object_get(s, "enum"))) {
        if (!json_is_array(v)) {
            jc_fail(b, OCTO_E_INVALID, "enum must be an array");
            return (jc_frag){0, 0};
        }
        jc_frag alt = alt_begin(b);
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) alt_add(b, alt, literal_of(b, e));
        return alt;
    }
    if ((v = json_object_get(s, "anyOf")) && json_is_array(v)) return union_node(b, s, v, "anyOf");
    if ((v = json_object_get(s, "oneOf")) && json_is_array(v)) return union_node(b, s, v, "oneOf");
    if ((v = json_object_get(s, "allOf")) && json_is_array(v)) {
        if (json_array_size(v) != 1) {
            jc_fail(b, OCTO_E_UNSUPPORTED, "allOf with more than one schema");
            return (jc_frag){0, 0};
        }
        return union_node(b, s, v, "allOf");
    }
    const json_t *type = json_object_get(s, "type");
    if (json_is_string(type)) return typed_node(b, s, json_string_value(type));
    if (json_is_array(type)) {
        jc_frag alt = alt_begin(b);
        size_t i;
        const json_t *t;
        json_array_foreach(type, i, t) {
            if (!json_is_string(t)) {
                jc_fail(b, OCTO_E_INVALID, "type list entries must be strings");
                break;
            }
            alt_add(b, alt, typed_node(b, s, json_string_value(t)));
        }
        return alt;
    }
    if (type) {
        jc_fail(b, OCTO_E_INVALID, "type must be a string or a list of strings");
        return (jc_frag){0, 0};
    }
    return infer_node(b, s);
}

octo_err jc_compile(const json_t *schema, bool object_only, jc_nfa *out, char *err,
                    size_t err_size)
{
    jc_build b = {.err = err, .err_size = err_size, .root = schema};
    if (err && err_size) err[0] = 0;
    jc_frag lead = jc_frag_ws(&b);
    jc_frag val = schema ? compile_node(&b, schema) : jc_frag_any(&b, object_only);
    jc_frag top = jc_frag_seq(&b, lead, val);
    octo_err rc = jc_nfa_finish(&b, top, out);
    jc_build_deinit(&b);
    return rc;
}
