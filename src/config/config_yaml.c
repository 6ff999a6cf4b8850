/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_yaml — loads octo.yaml. libyaml's event parser feeds a small tree
 * of nodes (kept in one arena, each with its line), then a schema walk
 * over that tree sets fields through the shared field table, so every
 * message can say "FILE:LINE: key.path: what is wrong".
 *
 * Deliberately not a general YAML loader: aliases (*x) are rejected
 * (anchors alone are ignored), one document per file, nesting is bounded,
 * and scalars are taken as text that each field parses itself (a quoted
 * "8000" is accepted where a number is expected; tags other than !!null
 * are not checked).
 */
#include "config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 32          /* nesting of mappings and lists */
#define MAX_NODES 100000      /* nodes in one file (a real config has < 2000) */
#define ARENA_CHUNK (64u * 1024u)
#define ARENA_MAX (32u * 1024u * 1024u)

typedef enum yn_kind { YN_SCALAR, YN_SEQ, YN_MAP } yn_kind;

typedef struct ynode {
    yn_kind kind;
    int line, col;          /* 1-based */
    bool plain;             /* unquoted and untagged scalar: may be null */
    bool null_tag;          /* tagged !!null */
    const char *text;       /* scalar text, NUL-terminated */
    struct ynode *first, *last, *next; /* children; a map alternates key, value */
    size_t n;
} ynode;

typedef struct yctx {
    const char *name;       /* file name for messages */
    char *err;
    size_t err_size;
    octo_arena *arena;
    size_t n_nodes;
} yctx;

static octo_err failf(yctx *c, octo_err rc, int line, const char *path, const char *fmt, ...)
    OCTO_PRINTF(5, 6);

/* Writes "NAME:LINE: PATH: message" (PATH omitted when empty). */
static octo_err failf(yctx *c, octo_err rc, int line, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        octo_cfg_errf(c->err, c->err_size, "%s:%d: %s: %s", c->name, line, path, msg);
    else
        octo_cfg_errf(c->err, c->err_size, "%s:%d: %s", c->name, line, msg);
    return rc;
}

/* ==== events to tree ==== */

static bool is_null(const ynode *n)
{
    if (!n || n->null_tag) return true;
    if (n->kind != YN_SCALAR || !n->plain) return false;
    const char *t = n->text;
    return !*t || strcmp(t, "~") == 0 || strcmp(t, "null") == 0 || strcmp(t, "Null") == 0 ||
           strcmp(t, "NULL") == 0;
}

/* What a node is, for messages: "nothing", "a mapping", "a list", or a
 * scalar's text in quotes (shortened). Returned by value; use .s within
 * the same expression. */
typedef struct desc {
    char s[64];
} desc;

static desc kind_name(const ynode *n)
{
    desc d;
    if (is_null(n)) snprintf(d.s, sizeof d.s, "nothing");
    else if (n->kind == YN_MAP) snprintf(d.s, sizeof d.s, "a mapping");
    else if (n->kind == YN_SEQ) snprintf(d.s, sizeof d.s, "a list");
    else {
        size_t len = 0;
        d.s[len++] = '\'';
        for (const char *t = n->text; *t && len < 40; t++)
            d.s[len++] = ((unsigned char)*t < 0x20 || *t == 0x7f) ? '?' : *t;
        if (strlen(n->text) > 39) len += (size_t)snprintf(d.s + len, sizeof d.s - len, "...");
        d.s[len++] = '\'';
        d.s[len] = '\0';
    }
    return d;
}

static octo_err new_node(yctx *c, yn_kind kind, const yaml_mark_t *mark, ynode **out)
{
    if (++c->n_nodes > MAX_NODES)
        return failf(c, OCTO_E_TOO_LARGE, (int)mark->line + 1, NULL,
                     "more than %d YAML nodes", MAX_NODES);
    ynode *n = octo_arena_alloc(c->arena, sizeof *n);
    if (!n) return OCTO_E_NOMEM;
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    n->text = "";
    *out = n;
    return OCTO_OK;
}

static void attach(ynode **stack, size_t depth, ynode **root, ynode *n)
{
    if (depth == 0) {
        *root = n;
        return;
    }
    ynode *parent = stack[depth - 1];
    if (parent->last) parent->last->next = n;
    else parent->first = n;
    parent->last = n;
    parent->n++;
}

static octo_err syntax_error(yctx *c, const yaml_parser_t *p, const char *yaml)
{
    if (p->error == YAML_MEMORY_ERROR) return OCTO_E_NOMEM;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) {
        /* the reader reports a byte offset, not a line: count newlines */
        size_t line = 1;
        for (size_t i = 0; i < p->problem_offset && yaml[i]; i++) line += yaml[i] == '\n';
        octo_cfg_errf(c->err, c->err_size, "%s:%zu: YAML: %s (byte %zu)", c->name, line,
                      problem, p->problem_offset);
        return OCTO_E_PARSE;
    }
    if (p->context)
        octo_cfg_errf(c->err, c->err_size, "%s:%zu:%zu: YAML syntax error: %s %s at line %zu",
                      c->name, p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                      p->context, p->context_mark.line + 1);
    else
        octo_cfg_errf(c->err, c->err_size, "%s:%zu:%zu: YAML syntax error: %s", c->name,
                      p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
    return OCTO_E_PARSE;
}

/* One event into the tree under construction. */
static octo_err take_event(yctx *c, const yaml_event_t *ev, ynode **stack, size_t *depth,
                           ynode **root, int *docs, bool *done)
{
    ynode *n = NULL;
    octo_err rc;
    int line = (int)ev->start_mark.line + 1;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return OCTO_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (++*docs > 1)
            return failf(c, OCTO_E_PARSE, line, NULL,
                         "a second YAML document ('---'); octo.yaml holds one");
        return OCTO_OK;
    case YAML_ALIAS_EVENT:
        return failf(c, OCTO_E_PARSE, line, NULL,
                     "YAML aliases (*%s) are not supported; write the value out",
                     (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT: {
        size_t len = ev->data.scalar.length;
        const char *v = (const char *)ev->data.scalar.value;
        if (strlen(v) != len)
            return failf(c, OCTO_E_PARSE, line, NULL, "a value contains a NUL character");
        rc = new_node(c, YN_SCALAR, &ev->start_mark, &n);
        if (rc) return rc;
        char *text = octo_arena_alloc(c->arena, len + 1);
        if (!text) return OCTO_E_NOMEM;
        memcpy(text, v, len);
        n->text = text;
        /* an explicit tag decides: !!null is null, any other tag is not */
        const char *tag = (const char *)ev->data.scalar.tag;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag;
        n->null_tag = tag && strcmp(tag, YAML_NULL_TAG) == 0;
        attach(stack, *depth, root, n);
        return OCTO_OK;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (*depth >= MAX_DEPTH)
            return failf(c, OCTO_E_PARSE, line, NULL, "nested more than %d levels deep",
                         MAX_DEPTH);
        rc = new_node(c, ev->type == YAML_MAPPING_START_EVENT ? YN_MAP : YN_SEQ,
                      &ev->start_mark, &n);
        if (rc) return rc;
        attach(stack, *depth, root, n);
        stack[(*depth)++] = n;
        return OCTO_OK;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        OCTO_ASSERT(*depth > 0);
        (*depth)--;
        return OCTO_OK;
    default:
        return OCTO_OK;
    }
}

static octo_err build_tree(yctx *c, const char *yaml, size_t len, ynode **root)
{
    yaml_parser_t p;
    ynode *stack[MAX_DEPTH];
    size_t depth = 0;
    int docs = 0;
    bool done = false;
    octo_err rc = OCTO_OK;
    *root = NULL;
    if (!yaml_parser_initialize(&p)) return OCTO_E_NOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(c, &p, yaml);
            break;
        }
        rc = take_event(c, &ev, stack, &depth, root, &docs, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ==== schema walk ==== */

/* Extra (non-field) keys a mapping of each scope may hold. */
static bool is_section_key(cfg_scope scope, const char *key)
{
    return scope == CS_SERVER && (strcmp(key, "limits") == 0 || strcmp(key, "storage") == 0 ||
                                  strcmp(key, "knowledge") == 0);
}

/* The spelling two keys share when they set the same thing. */
static const char *canonical_key(cfg_scope scope, const char *key)
{
    if (scope == CS_SERVER && strcmp(key, "storage") == 0) return "storage_path";
    const cfg_field *f = octo_cfg_field_by_key(scope, key);
    return f ? f->key : key;
}

/* Every key of `map` is a scalar, known in `scope`, and given once. */
static octo_err check_keys(yctx *c, const ynode *map, const char *path, cfg_scope scope)
{
    for (const ynode *k = map->first; k; k = k->next->next) {
        if (k->kind != YN_SCALAR || is_null(k))
            return failf(c, OCTO_E_INVALID, k->line, path, "keys must be plain names, got %s",
                         kind_name(k).s);
        if (!octo_cfg_field_by_key(scope, k->text) && !is_section_key(scope, k->text)) {
            const char *hint = octo_cfg_suggest_key(scope, k->text);
            if (hint)
                return failf(c, OCTO_E_INVALID, k->line, path,
                             "unknown key '%s' (did you mean '%s'?)", k->text, hint);
            return failf(c, OCTO_E_INVALID, k->line, path, "unknown key '%s'", k->text);
        }
        const char *ck = canonical_key(scope, k->text);
        for (const ynode *e = map->first; e != k; e = e->next->next) {
            if (strcmp(canonical_key(scope, e->text), ck) != 0) continue;
            if (strcmp(e->text, k->text) == 0)
                return failf(c, OCTO_E_INVALID, k->line, path,
                             "duplicated key '%s' (first at line %d)", k->text, e->line);
            return failf(c, OCTO_E_INVALID, k->line, path,
                         "'%s' and '%s' (line %d) set the same thing; keep one", k->text,
                         e->text, e->line);
        }
    }
    return OCTO_OK;
}

static octo_err set_text(yctx *c, void *base, const cfg_field *f, const ynode *v,
                         const char *path)
{
    char why[400];
    octo_err rc = octo_cfg_field_set(base, f, v->text, why, sizeof why);
    if (rc == OCTO_E_NOMEM) return rc;
    if (rc) return failf(c, rc, v->line, path, "%s", why);
    return OCTO_OK;
}

static bool is_list_kind(cfg_kind k)
{
    return k == CK_DEVICES || k == CK_NAMES || k == CK_KEYS || k == CK_KB_KEYS;
}

/* A list field: a YAML list of scalars, or one scalar (a single entry, or
 * for devices a "0,1" / "4-7" spelling). Replaces what was there. */
static octo_err apply_list(yctx *c, void *base, const cfg_field *f, const ynode *v,
                           const char *path)
{
    char want[200], ipath[300];
    octo_cfg_field_clear(base, f);
    if (is_null(v)) return OCTO_OK;
    if (v->kind == YN_SCALAR) return set_text(c, base, f, v, path);
    if (v->kind != YN_SEQ) {
        octo_cfg_field_expect(f, want, sizeof want);
        return failf(c, OCTO_E_INVALID, v->line, path, "expected a list of %s, got %s",
                     f->kind == CK_DEVICES ? "GPU ordinals" : "strings", kind_name(v).s);
    }
    size_t i = 0;
    for (const ynode *item = v->first; item; item = item->next, i++) {
        snprintf(ipath, sizeof ipath, "%.200s[%zu]", path, i);
        if (item->kind != YN_SCALAR || is_null(item)) {
            octo_cfg_field_expect(f, want, sizeof want);
            return failf(c, OCTO_E_INVALID, item->line, ipath, "expected %s, got %s", want,
                         kind_name(item).s);
        }
        octo_err rc = set_text(c, base, f, item, ipath);
        if (rc) return rc;
    }
    return OCTO_OK;
}

static octo_err apply_value(yctx *c, void *base, const cfg_field *f, const ynode *v,
                            const char *path)
{
    char want[200];
    if (is_list_kind(f->kind)) return apply_list(c, base, f, v, path);
    if (is_null(v)) {
        if (f->nullable) {
            octo_cfg_field_clear(base, f);
            return OCTO_OK;
        }
        octo_cfg_field_expect(f, want, sizeof want);
        return failf(c, OCTO_E_INVALID, v->line, path, "expected %s, got nothing", want);
    }
    if (v->kind != YN_SCALAR) {
        octo_cfg_field_expect(f, want, sizeof want);
        return failf(c, OCTO_E_INVALID, v->line, path, "expected %s, got %s", want,
                     kind_name(v).s);
    }
    return set_text(c, base, f, v, path);
}

static octo_err expect_map(yctx *c, const ynode *v, const char *path, const char *what)
{
    if (v->kind == YN_MAP) return OCTO_OK;
    return failf(c, OCTO_E_INVALID, v->line, path, "expected a mapping of %s, got %s", what,
                 kind_name(v).s);
}

/* Sets every field key of `map` (already checked by check_keys). */
static octo_err apply_fields(yctx *c, const ynode *map, const char *path, cfg_scope scope,
                             void *base)
{
    char kpath[300];
    for (const ynode *k = map->first; k; k = k->next->next) {
        const cfg_field *f = octo_cfg_field_by_key(scope, k->text);
        if (!f) continue; /* a section, handled by the caller */
        snprintf(kpath, sizeof kpath, "%.200s%s%.60s", path, *path ? "." : "", f->key);
        octo_err rc = apply_value(c, base, f, k->next, kpath);
        if (rc) return rc;
    }
    return OCTO_OK;
}

static octo_err load_section(yctx *c, const ynode *v, const char *path, cfg_scope scope,
                             void *base)
{
    if (is_null(v)) return OCTO_OK;
    octo_err rc = expect_map(c, v, path, "settings");
    if (!rc) rc = check_keys(c, v, path, scope);
    if (!rc) rc = apply_fields(c, v, path, scope, base);
    return rc;
}

static octo_err load_server(yctx *c, const ynode *v, octo_server_config *s)
{
    octo_err rc = load_section(c, v, "server", CS_SERVER, s);
    if (rc || is_null(v)) return rc;
    for (const ynode *k = v->first; k; k = k->next->next) {
        if (strcmp(k->text, "limits") == 0)
            rc = load_section(c, k->next, "server.limits", CS_LIMITS, s);
        else if (strcmp(k->text, "storage") == 0)
            rc = load_section(c, k->next, "server.storage", CS_STORAGE, s);
        else if (strcmp(k->text, "knowledge") == 0)
            rc = load_section(c, k->next, "server.knowledge", CS_KNOWLEDGE, s);
        if (rc) return rc;
    }
    return OCTO_OK;
}

static octo_err load_model(yctx *c, const ynode *v, size_t idx, octo_config *cfg)
{
    char path[64];
    snprintf(path, sizeof path, "models[%zu]", idx);
    if (cfg->n_models >= OCTO_LIMIT_CONFIG_MODELS)
        return failf(c, OCTO_E_TOO_LARGE, v->line, path, "more than %u models",
                     OCTO_LIMIT_CONFIG_MODELS);
    if (v->kind != YN_MAP)
        return failf(c, OCTO_E_INVALID, v->line, path,
                     "expected a mapping with name: and path:, got %s", kind_name(v).s);
    octo_model_config *m = &cfg->models[cfg->n_models++];
    octo_config_model_init(m);
    m->line = v->line;
    octo_err rc = check_keys(c, v, path, CS_MODEL);
    if (!rc) rc = apply_fields(c, v, path, CS_MODEL, m);
    if (rc) return rc;
    if (!m->name) return failf(c, OCTO_E_INVALID, v->line, path, "missing key 'name'");
    if (!m->path && !m->base_url) /* a remote model has a base_url instead */
        return failf(c, OCTO_E_INVALID, v->line, path, "missing key 'path' (or 'base_url')");
    return OCTO_OK;
}

static octo_err load_models(yctx *c, const ynode *v, octo_config *cfg)
{
    if (is_null(v)) return OCTO_OK;
    if (v->kind != YN_SEQ)
        return failf(c, OCTO_E_INVALID, v->line, "models",
                     "expected a list of models ('- name: ...'), got %s", kind_name(v).s);
    size_t i = 0;
    for (const ynode *item = v->first; item; item = item->next, i++) {
        octo_err rc = load_model(c, item, i, cfg);
        if (rc) return rc;
    }
    return OCTO_OK;
}

static octo_err load_top(yctx *c, const ynode *root, octo_config *cfg)
{
    if (is_null(root)) return OCTO_OK; /* empty file: defaults */
    if (root->kind != YN_MAP)
        return failf(c, OCTO_E_INVALID, root->line, NULL,
                     "expected a mapping with server: and models: at the top, got %s",
                     kind_name(root).s);
    const ynode *server = NULL, *models = NULL;
    for (const ynode *k = root->first; k; k = k->next->next) {
        const ynode **slot = NULL;
        if (k->kind == YN_SCALAR && strcmp(k->text, "server") == 0) slot = &server;
        if (k->kind == YN_SCALAR && strcmp(k->text, "models") == 0) slot = &models;
        if (!slot)
            return failf(c, OCTO_E_INVALID, k->line, NULL,
                         "unknown top-level key '%s' (expected server or models)",
                         k->kind == YN_SCALAR ? k->text : "(not a name)");
        if (*slot)
            return failf(c, OCTO_E_INVALID, k->line, NULL,
                         "duplicated key '%s' (first at line %d)", k->text, (*slot)->line);
        *slot = k;
    }
    octo_err rc = OCTO_OK;
    if (server) rc = load_server(c, server->next, &cfg->server);
    if (!rc && models) rc = load_models(c, models->next, cfg);
    return rc;
}

/* ==== entry points ==== */

octo_err octo_config_load_string(octo_config *cfg, const char *yaml, size_t len,
                                 const char *name, char *err, size_t err_size)
{
    yctx c = {name ? name : "<config>", err, err_size, NULL, 0};
    ynode *root = NULL;
    octo_err rc;
    if (err && err_size) err[0] = '\0';
    if (!yaml) yaml = "";
    if (len > OCTO_LIMIT_CONFIG_BYTES) {
        octo_cfg_errf(err, err_size, "%s: %zu bytes, more than the limit of %u bytes",
                      c.name, len, OCTO_LIMIT_CONFIG_BYTES);
        return OCTO_E_TOO_LARGE;
    }
    char *src = octo_strdup(c.name);
    if (!src) return OCTO_E_NOMEM;
    octo_free(cfg->source);
    cfg->source = src;
    c.arena = octo_arena_new(ARENA_CHUNK, ARENA_MAX);
    if (!c.arena) return OCTO_E_NOMEM;
    rc = build_tree(&c, yaml, len, &root);
    if (rc) goto out;
    rc = load_top(&c, root, cfg);
out:
    if (rc == OCTO_E_NOMEM)
        octo_cfg_errf(err, err_size, "%s: out of memory while loading", c.name);
    octo_arena_free(c.arena);
    return rc;
}

octo_err octo_config_load_file(octo_config *cfg, const char *path, char *err,
                               size_t err_size)
{
    char *data = NULL;
    size_t len = 0;
    if (err && err_size) err[0] = '\0';
    octo_err rc = octo_file_read(path, OCTO_LIMIT_CONFIG_BYTES, &data, &len);
    switch (rc) {
    case OCTO_OK:
        break;
    case OCTO_E_TOO_LARGE:
        octo_cfg_errf(err, err_size, "%s: larger than the limit of %u bytes", path,
                      OCTO_LIMIT_CONFIG_BYTES);
        return rc;
    case OCTO_E_NOT_FOUND:
        octo_cfg_errf(err, err_size, "%s: no such file", path);
        return OCTO_E_IO;
    case OCTO_E_NOMEM:
        octo_cfg_errf(err, err_size, "%s: out of memory", path);
        return rc;
    default:
        octo_cfg_errf(err, err_size, "%s: cannot read (not a regular file, or no access)",
                      path);
        return OCTO_E_IO;
    }
    rc = octo_config_load_string(cfg, data, len, path, err, err_size);
    octo_free(data);
    return rc;
}
