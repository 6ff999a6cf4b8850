/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template_int — internals of the Jinja2 chat-template interpreter shared by
 * jinja_value.c (values, Python str/repr/json), jinja_lex.c (tokens),
 * jinja_parse.c (AST), jinja_eval.c (tree-walking evaluator) and
 * jinja_builtins.c (filters, tests, methods, globals).
 *
 * Values live in one arena per render (or per parse for constants) and are
 * never freed one by one. This header is private to src/template/.
 */
#ifndef OCTO_TEMPLATE_INT_H
#define OCTO_TEMPLATE_INT_H

#include <jansson.h>

#include "template/template.h"

#define JJ_MAX_DEPTH 200          /* expression / statement nesting (parse and eval) */
#define JJ_MAX_CALL_DEPTH 64      /* nested macro calls */
#define JJ_MAX_VALUE_DEPTH 1000   /* nested lists/dicts printed, dumped, compared */
#define JJ_MAX_ITERATIONS OCTO_LIMIT_TEMPLATE_ITERATIONS
#define JJ_ARENA_MAX OCTO_LIMIT_TEMPLATE_MEMORY_BYTES

/* ==== values ==== */

typedef enum jkind {
    JV_UNDEF = 0, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR,
    JV_LIST, JV_TUPLE, JV_DICT, JV_NS, JV_MACRO, JV_FUNC, JV_LOOP,
    JV_METHOD, /* a bound method looked up but not (yet) called: s.upper */
} jkind;

/* Python returns lazy objects from some filters and dict methods; a list
 * value carries which one so printing, len(), truthiness and JSON behave
 * as they do on the real object. */
enum { JVIEW_NONE = 0, JVIEW_GEN, JVIEW_ITEMS, JVIEW_KEYS, JVIEW_VALUES };

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jmacro jmacro;
typedef struct jloop jloop;

typedef struct jval {
    jkind kind;
    bool safe;  /* JV_STR: a markupsafe.Markup (from |safe) */
    uint8_t view; /* JV_LIST: what Python object it stands for (JVIEW_*) */
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s; /* JV_STR; JV_UNDEF: hint name */
        jlist *list;   /* JV_LIST, JV_TUPLE */
        jdict *dict;   /* JV_DICT, JV_NS */
        jmacro *macro;
        int func;      /* JV_FUNC: a global function id */
        jloop *loop;
        struct jmethod *method;
    } u;
} jval;

struct jlist { jval *v; size_t n, cap; };
typedef struct jmethod { jval obj; const char *name; } jmethod;
typedef struct jentry { jval key; jval val; } jentry;
struct jdict { jentry *e; size_t n, cap; };

/* ==== errors and the render context ==== */

typedef struct jctx {
    octo_arena *arena;
    char *err;         /* caller's message buffer */
    size_t err_size;
    int line;          /* line of the node being evaluated */
    long iterations;
    int depth;
    int call_depth;
    octo_buf *out;     /* current output sink */
    struct jframe *root;
} jctx;

/* Formats an error message "… at line N" into ctx->err; returns rc. */
octo_err jj_fail(jctx *c, octo_err rc, const char *fmt, ...) OCTO_PRINTF(3, 4);

/* ==== value helpers (jinja_value.c) ==== */

jval jv_undef(const char *hint);
jval jv_none(void);
jval jv_bool(bool b);
jval jv_int(int64_t i);
jval jv_float(double f);
/* Copies n bytes into the arena. Fails (kind JV_UNDEF with ok=false) only
 * on arena exhaustion: callers check with jv_str_new. */
octo_err jv_str_new(jctx *c, const char *p, size_t n, jval *out /* OUT */);
jval jv_str_ref(const char *p, size_t n); /* no copy: p must outlive the render */
octo_err jv_list_new(jctx *c, size_t cap, jval *out /* OUT */);
octo_err jv_list_push(jctx *c, jlist *l, jval v);
octo_err jv_dict_new(jctx *c, jval *out /* OUT */);
/* Sets key (str, int, float, bool, None or a tuple of those) to v,
 * replacing an existing entry. */
octo_err jv_dict_set(jctx *c, jdict *d, jval key, jval v);
/* Looks up a string key; returns NULL when missing. */
jval *jv_dict_get(jdict *d, const char *k, size_t kn);
/* Looks up any hashable key (Python equality: 1 == 1.0 == True). */
jval *jv_dict_find(jdict *d, jval key);
bool jv_hashable(jval v);
/* Appends a (string) key known not to be present yet. */
octo_err jv_dict_push(jctx *c, jdict *d, jval key, jval v);
void *jj_alloc(jctx *c, size_t n);

bool jv_truthy(jval v);
bool jv_is_str(jval v);
bool jv_is_seq(jval v); /* list or tuple */
bool jv_is_num(jval v); /* bool, int or float (Python numbers) */
double jv_num(jval v);
bool jv_equal(jval a, jval b);
/* Python ordering a < b (numbers, strings, sequences); error otherwise. */
octo_err jv_less(jctx *c, jval a, jval b, bool *lt /* OUT */);
const char *jv_type_name(jval v);

/* Appends Python str(v) / repr(v) (as Jinja prints them). */
octo_err jv_write_str(jctx *c, octo_buf *b, jval v);
octo_err jv_write_repr(jctx *c, octo_buf *b, jval v);
/* json.dumps(v, ensure_ascii, indent (<0: none), separators, sort_keys). */
octo_err jv_write_json(jctx *c, octo_buf *b, jval v, bool ensure_ascii, int indent,
                       const char *item_sep, const char *key_sep, bool sort_keys);
/* str(v) as a new arena string. */
octo_err jv_to_str(jctx *c, jval v, jval *out /* OUT */);
/* Converts JSON into values (deep, strings copied into the arena). */
octo_err jv_from_json(jctx *c, const json_t *j, jval *out /* OUT */);
/* Python repr of a float into buf (at least 32 bytes). */
void jj_float_repr(double f, char *buf, size_t size);

/* UTF-8 and Python str helpers. */
size_t jj_utf8_len(const char *p, size_t n);                 /* code points */
size_t jj_utf8_offset(const char *p, size_t n, size_t cp);   /* byte offset of cp */
/* (one code point at a time: octo_utf8_next in base.h) */
bool jj_py_space(uint32_t cp);                               /* str.isspace */
/* Byte range [*lo, *hi) of s stripped of whitespace (chars==NULL) or of
 * the code points in chars; left/right select the sides. */
void jj_strip(const char *s, size_t n, const char *chars, size_t cn, bool left, bool right,
              size_t *lo /* OUT */, size_t *hi /* OUT */);

/* ==== tokens and AST (jinja_lex.c, jinja_parse.c) ==== */

typedef enum jtok {
    JT_EOF = 0, JT_TEXT, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
    JT_NAME, JT_STRING, JT_INT, JT_FLOAT, JT_OP,
} jtok;

typedef struct jtoken {
    jtok type;
    int line;
    const char *p; /* JT_TEXT, JT_NAME, JT_OP: source bytes; JT_STRING: decoded */
    size_t n;
    int64_t i;
    double f;
} jtoken;

typedef struct jtokens { jtoken *t; size_t n, cap; } jtokens;

/* Tokenises src with trim_blocks and lstrip_blocks; strings decoded into
 * the arena. */
octo_err jj_lex(jctx *c, const char *src, size_t len, jtokens *out /* OUT */);

typedef enum jnkind {
    /* expressions */
    JN_CONST, JN_NAME, JN_GETATTR, JN_GETITEM, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST,
    JN_NOT, JN_NEG, JN_POS, JN_BINOP, JN_CONCAT, JN_COMPARE, JN_AND, JN_OR, JN_COND,
    JN_LIST, JN_TUPLE, JN_DICT,
    /* statements */
    JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SET_ATTR, JN_SET_BLOCK, JN_MACRO,
    JN_BREAK, JN_CONTINUE, JN_BODY, JN_FILTER_BLOCK, JN_CALL_BLOCK, JN_WITH,
} jnkind;

typedef struct jnode jnode;
typedef struct jnodes { jnode **v; size_t n, cap; } jnodes;

/* One node shape for all kinds; field use per kind:
 * CONST: val. NAME: name. GETATTR: a.name. GETITEM: a[b]. SLICE: a[b:c:d]
 * (NULL parts absent). CALL: a(args, kwnames=kwargs). FILTER: a|name(args).
 * TEST: a is [not: flag] name(args). NOT/NEG/POS: a. BINOP: a op b.
 * CONCAT: args joined by ~. COMPARE: a then ops[i] args[i]. AND/OR: a, b.
 * COND: b if a else c (c NULL: undefined). LIST/TUPLE: args. DICT: args
 * (keys) and kwargs (values). TEXT: val. OUTPUT: a. IF: a, body, orelse.
 * FOR: names (targets), a (iterable), b (filter or NULL), body, orelse.
 * SET: names (targets), a. SET_ATTR: name (namespace var), attr, a.
 * SET_BLOCK: names[0], body, filters in args (FILTER nodes, a NULL).
 * FILTER_BLOCK: body, filters in args (the rendered body goes through them).
 * WITH: names = args (values), body in a new scope.
 * CALL_BLOCK: a (the CALL), names/args/body (the caller's signature and
 * body: the node doubles as the definition of the "caller" macro).
 * MACRO: name, names (params), args (defaults, NULL entries), body.
 * BODY: body. */
struct jnode {
    jnkind kind;
    int line;
    int op;      /* BINOP: '+', '-', '*', '/', 'f' (//), '%', 'p' (**) */
    bool flag;   /* TEST: negated */
    const char *name;
    const char *attr;
    jval val;
    jnode *a, *b, *c, *d;
    jnodes args, kwargs;
    const char **names;
    size_t nnames;
    const char **kwnames;
    int *ops;    /* COMPARE: 'e' ==, 'n' !=, '<', 'l' <=, '>', 'g' >=, 'i' in, 'I' not in */
    jnodes body, orelse;
};

/* Parses tokens into a BODY node. */
octo_err jj_parse(jctx *c, const jtokens *toks, jnode **root /* OUT */);

/* ==== evaluation (jinja_eval.c, jinja_builtins.c) ==== */

typedef struct jframe {
    struct jframe *parent;
    jdict vars;
    bool captured; /* a macro closes over it: never reuse it */
} jframe;

struct jmacro {
    const jnode *def;
    jframe *closure;
};

struct jloop {
    jlist *items;
    size_t index0;
    size_t length;
};

enum { JF_RAISE = 1, JF_NAMESPACE, JF_STRFTIME, JF_RANGE, JF_DICT };

octo_err jj_eval(jctx *c, jframe *f, const jnode *n, jval *out /* OUT */);
octo_err jj_exec_body(jctx *c, jframe *f, const jnodes *body);
octo_err jj_call_macro(jctx *c, jval fn, jval *args, size_t nargs, const char **kwnames,
                       jval *kwargs, size_t nkw, jval *out /* OUT */);

/* Builtins: filters, tests, methods and global functions. Each returns
 * OCTO_E_UNSUPPORTED with a message naming what is unknown. */
octo_err jj_filter(jctx *c, jframe *f, const char *name, jval v, jval *args, size_t nargs,
                   const char **kwnames, jval *kwargs, size_t nkw, jval *out /* OUT */);
octo_err jj_test(jctx *c, jframe *f, const char *name, jval v, jval *args, size_t nargs,
                 bool *out /* OUT */);
octo_err jj_method(jctx *c, jval obj, const char *name, jval *args, size_t nargs,
                   const char **kwnames, jval *kwargs, size_t nkw, jval *out /* OUT */);
octo_err jj_call_func(jctx *c, int func, jval *args, size_t nargs, const char **kwnames,
                      jval *kwargs, size_t nkw, jval *out /* OUT */);
/* Attribute a.name as Jinja's getattr: attributes first, then items. */
octo_err jj_getattr(jctx *c, jval obj, const char *name, jval *out /* OUT */);
/* Subscript a[key] as Jinja's getitem: items first, then attributes. */
octo_err jj_getitem(jctx *c, jval obj, jval key, jval *out /* OUT */);
/* Materialises an iterable (list, tuple, dict keys, string chars,
 * undefined -> empty) as a list. */
octo_err jj_iterate(jctx *c, jval v, jlist **out /* OUT */);
bool jj_has_method(jval obj, const char *name);
bool jj_filter_known(const char *name);
bool jj_test_known(const char *name);

/* ==== helpers shared by jinja_builtins.c and jinja_filters.c ==== */

typedef struct jargs {
    jval *pos;
    size_t npos;
    const char **kwn;
    jval *kw;
    size_t nkw;
} jargs;

/* Argument i (positional) or `name` (keyword); false if absent. */
bool jj_arg(const jargs *a, size_t i, const char *name, jval *out /* OUT */);
jval jj_arg_or(const jargs *a, size_t i, const char *name, jval def);
int64_t jj_int_arg(const jargs *a, size_t i, const char *name, int64_t def);
/* Jinja's soft_str: undefined -> "", str kept (with markup flag), else str(). */
octo_err jj_soft_str(jctx *c, jval v, jval *out /* OUT */);
/* Finishes a string built in b (deinit b) into out. */
octo_err jj_buf_done(jctx *c, octo_buf *b, octo_err rc, bool safe, jval *out /* OUT */);
/* mode: 'u' upper, 'l' lower, 'c' capitalize, 't' str.title, 'j' Jinja title */
octo_err jj_case_map(jctx *c, jval s, int mode, jval *out /* OUT */);
octo_err jj_str_replace(jctx *c, jval s, jval old, jval new, int64_t count, jval *out);
octo_err jj_str_join(jctx *c, jval sep, jval seq, jval *out /* OUT */);
octo_err jj_str_strip(jctx *c, jval s, jval chars, bool l, bool r, jval *out /* OUT */);
octo_err jj_str_splitlines(jctx *c, jval s, jval *out /* OUT */);
octo_err jj_dict_items(jctx *c, jdict *d, int what, jval *out /* OUT */);
bool jj_is_alnum(uint32_t cp);

#endif /* OCTO_TEMPLATE_INT_H */
