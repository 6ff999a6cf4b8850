/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jinja — the public face of the chat-template interpreter: parse a
 * template once (tokens and AST in the template's own arena), render it
 * many times (each render in a fresh arena, so renders never share mutable
 * state), and load a template from a .jinja file or a
 * tokenizer_config.json "chat_template".
 *
 * It does not know about chat messages; chat.c builds the context.
 */
#include "template/template_int.h"

#include <stdio.h>
#include <string.h>

struct octo_text_template {
    octo_arena *arena;
    jnode *root;
    bool iterates_content;
};

/* ==== parse ==== */

static bool names_content(const jnode *e)
{
    if (!e) return false;
    if (e->kind == JN_NAME) return strcmp(e->name, "content") == 0;
    if (e->kind == JN_GETATTR) return strcmp(e->name, "content") == 0;
    if (e->kind == JN_GETITEM && e->b && e->b->kind == JN_CONST && e->b->val.kind == JV_STR)
        return e->b->val.u.s.n == 7 && memcmp(e->b->val.u.s.p, "content", 7) == 0;
    if (e->kind == JN_FILTER) return names_content(e->a);
    return false;
}

static bool find_content_loop(const jnodes *body, int depth)
{
    if (depth > JJ_MAX_DEPTH) return false;
    for (size_t i = 0; i < body->n; i++) {
        const jnode *n = body->v[i];
        if (n->kind == JN_FOR && names_content(n->a)) return true;
        if (find_content_loop(&n->body, depth + 1) || find_content_loop(&n->orelse, depth + 1))
            return true;
    }
    return false;
}

octo_text_template *octo_text_template_new(const char *src, size_t len, char *err,
                                           size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    octo_text_template *t = octo_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->arena = octo_arena_new(64 * 1024, JJ_ARENA_MAX);
    if (!t->arena) {
        octo_free(t);
        return NULL;
    }
    jctx c = {.arena = t->arena, .err = err, .err_size = err_size};
    jtokens toks;
    octo_err rc = jj_lex(&c, src ? src : "", src ? len : 0, &toks);
    if (!rc) rc = jj_parse(&c, &toks, &t->root);
    if (rc) {
        if (err && err_size && !err[0]) jj_fail(&c, rc, "template parse failed: %s",
                octo_err_str(rc));
        octo_text_template_free(t);
        return NULL;
    }
    t->iterates_content = find_content_loop(&t->root->body, 0);
    return t;
}

void octo_text_template_free(octo_text_template *t)
{
    if (!t) return;
    octo_arena_free(t->arena);
    octo_free(t);
}

bool octo_text_template_iterates_content(const octo_text_template *t)
{
    return t && t->iterates_content;
}

/* ==== render ==== */

octo_err octo_text_template_render(const octo_text_template *t, const json_t *context,
                                   octo_buf *out, char *err, size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    if (!t || !out) return OCTO_E_INVALID;
    if (context && !json_is_object(context)) {
        if (err && err_size) octo_strlcpy(err, "template context must be a JSON object", err_size);
        return OCTO_E_INVALID;
    }
    octo_arena *arena = octo_arena_new(64 * 1024, JJ_ARENA_MAX);
    if (!arena) return OCTO_E_NOMEM;
    size_t start = out->len, saved_max = out->max;
    if (out->max - start > OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES)
        out->max = start + OCTO_LIMIT_TEMPLATE_OUTPUT_BYTES;
    jctx c = {.arena = arena, .err = err, .err_size = err_size, .out = out};
    jframe *root = jj_alloc(&c, sizeof *root);
    octo_err rc = root ? OCTO_OK : OCTO_E_TOO_LARGE;
    c.root = root;
    if (!rc && context) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)context, k, v) {
            jval key, val;
            if (!rc) rc = jv_str_new(&c, k, strlen(k), &key);
            if (!rc) rc = jv_from_json(&c, v, &val);
            if (!rc) rc = jv_dict_set(&c, &root->vars, key, val);
        }
    }
    if (!rc) rc = jj_exec_body(&c, root, &t->root->body);
    if (rc > 0) {
        c.line = 0;
        rc = jj_fail(&c, OCTO_E_PARSE, "'break' or 'continue' outside a loop");
    }
    if (rc && err && err_size && !err[0]) jj_fail(&c, rc, "render failed: %s", octo_err_str(rc));
    out->max = saved_max;
    if (rc) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    octo_arena_free(arena);
    return rc;
}

/* ==== loading ==== */

octo_err octo_text_template_from_config(const json_t *cfg, const char *name,
                                        octo_text_template **out, char *err, size_t err_size)
{
    *out = NULL;
    const json_t *ct = json_object_get(cfg, "chat_template");
    const char *src = NULL;
    size_t len = 0;
    if (json_is_string(ct)) {
        src = json_string_value(ct);
        len = json_string_length(ct);
    } else if (json_is_array(ct)) {
        const char *want = name ? name : "default";
        for (size_t i = 0; i < json_array_size(ct) && !src; i++) {
            const json_t *e = json_array_get(ct, i);
            const json_t *tpl = json_object_get(e, "template");
            if (json_is_string(json_object_get(e, "name")) && json_is_string(tpl) &&
                strcmp(json_string_value(json_object_get(e, "name")), want) == 0) {
                src = json_string_value(tpl);
                len = json_string_length(tpl);
            }
        }
        if (!src) {
            if (err && err_size) snprintf(err, err_size, "no chat template named '%s'", want);
            return OCTO_E_NOT_FOUND;
        }
    } else {
        if (err && err_size) octo_strlcpy(err, "tokenizer config has no chat_template", err_size);
        return OCTO_E_NOT_FOUND;
    }
    *out = octo_text_template_new(src, len, err, err_size);
    return *out ? OCTO_OK : OCTO_E_PARSE;
}

octo_err octo_text_template_load(const char *path, const char *name, octo_text_template **out,
                                 char *err, size_t err_size)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    octo_err rc = octo_file_read(path, OCTO_LIMIT_JSON_FILE_BYTES, &data, &len);
    if (rc) {
        if (err && err_size) snprintf(err, err_size, "cannot read %s: %s", path, octo_err_str(rc));
        return rc;
    }
    size_t pl = strlen(path);
    if (pl >= 5 && strcmp(path + pl - 5, ".json") == 0) {
        json_error_t je;
        json_t *cfg = json_loadb(data, len, 0, &je);
        if (!cfg) {
            if (err && err_size) snprintf(err, err_size, "%s: %s (line %d)", path, je.text,
                    je.line);
            octo_free(data);
            return OCTO_E_PARSE;
        }
        rc = octo_text_template_from_config(cfg, name, out, err, err_size);
        json_decref(cfg);
    } else {
        *out = octo_text_template_new(data, len, err, err_size);
        rc = *out ? OCTO_OK : OCTO_E_PARSE;
    }
    octo_free(data);
    return rc;
}
