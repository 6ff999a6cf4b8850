/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toolcall_int — internals shared by the output parsers (toolcall*.c,
 * reasoning*.c): a small JSON reader/writer that reproduces what Python's
 * json.loads / json.dumps (and a subset of ast.literal_eval) produce, since
 * vLLM builds tool-call argument strings that way; per-call parsers of the
 * hermes and glm45 formats; and byte-search helpers for tags.
 *
 * Nothing here is public: only files of the toolcall module include it.
 */
#ifndef OCTO_TOOLCALL_INT_H
#define OCTO_TOOLCALL_INT_H

#include <jansson.h>

#include "base/base.h"
#include "toolcall/toolcall.h"

/* ==== Python-compatible JSON values ==== */

typedef enum pj_type {
    PJ_NULL,
    PJ_TRUE,
    PJ_FALSE,
    PJ_INT,   /* s/n: the decimal digits as Python prints them */
    PJ_FLOAT, /* d */
    PJ_STR,   /* s/n: decoded text, WTF-8 (lone surrogates kept as 3 bytes) */
    PJ_ARR,
    PJ_OBJ,
} pj_type;

typedef struct pj_val pj_val;
struct pj_val {
    pj_type type;
    const char *s;
    size_t n;
    double d;
    pj_val *first, *last; /* children of ARR/OBJ, in order */
    pj_val *next;         /* next sibling */
    const char *key;      /* member name when inside an OBJ (WTF-8) */
    size_t keyn;
};

typedef enum pj_mode {
    PJ_MODE_JSON,  /* json.loads: NaN/Infinity accepted, strict strings */
    PJ_MODE_PYLIT, /* a subset of ast.literal_eval: True/False/None, quotes, tuples */
} pj_mode;

/* Parses all of s[0..n) (surrounding whitespace allowed) into a tree
 * allocated from `a`. Returns OCTO_E_PARSE when the text is not one value,
 * OCTO_E_NOMEM/OCTO_E_TOO_LARGE when the arena is exhausted. */
octo_err pj_parse(octo_arena *a, const char *s, size_t n, pj_mode mode,
                  pj_val **out /* OUT */) OCTO_WUR;
/* Appends json.dumps(v, ensure_ascii=...) (separators ", " and ": ") to out. */
octo_err pj_dump(const pj_val *v, bool ensure_ascii, octo_buf *out) OCTO_WUR;
/* The member named key (last one wins, as in a Python dict), or NULL. */
pj_val *pj_obj_get(const pj_val *obj, const char *key, size_t keyn);
/* New values in the arena (NULL when out of memory). */
pj_val *pj_new(octo_arena *a, pj_type t);
pj_val *pj_new_str(octo_arena *a, const char *s, size_t n);
/* Sets obj[key] = v, replacing an earlier member of that name in place. */
void pj_obj_set(pj_val *obj, const char *key, size_t keyn, pj_val *v);
/* Decodes a JSON string body (what sits between the quotes, no quotes) in
 * full; OCTO_E_PARSE when it is not one. */
octo_err pj_decode_json_string(octo_arena *a, const char *s, size_t n,
                               const char **out /* OUT */, size_t *outn /* OUT */) OCTO_WUR;

/* An arena sized for parsing n bytes of text. */
octo_arena *pj_arena_new(size_t n);

/* ==== tags and bytes ==== */

#define TAG_TOOL_OPEN "<tool_call>"
#define TAG_TOOL_CLOSE "</tool_call>"
#define TAG_THINK_OPEN "<think>"
#define TAG_THINK_CLOSE "</think>"

/* First occurrence of needle in hay[0..n), or -1. */
long find_bytes(const char *hay, size_t n, const char *needle);
/* Length of the longest suffix of s[0..n) that is a proper, non-empty
 * prefix of tag (the bytes a stream must hold back). */
size_t tag_partial_suffix(const char *s, size_t n, const char *tag);
bool is_ws(char c);
/* True when s[0..n) is only " \t\n\r". */
bool all_ws(const char *s, size_t n);
/* How many trailing bytes of s[0..n) form an incomplete (so far valid)
 * UTF-8 sequence: 0..3. */
size_t utf8_incomplete_tail(const char *s, size_t n);

/* ==== one tool call ==== */

/* A parsed call: name and OpenAI "arguments" string, owned (octo_free). */
typedef struct tc_call {
    char *name;
    char *args;
} tc_call;

/* Parses the body between <tool_call> and </tool_call> (terminated=false
 * when the text ended first). Returns OCTO_OK and fills *call, or
 * OCTO_E_PARSE when the body is not a well-formed call of this format. */
octo_err tc_parse_body(octo_text_tool_format fmt, const char *body, size_t n, bool terminated,
                       const json_t *tool_defs, tc_call *call /* OUT */) OCTO_WUR;
void tc_call_clear(tc_call *c);
/* A new OpenAI tool call object {"id","type":"function","function":{..}}. */
json_t *tc_call_json(const char *name, const char *args);
/* Writes "call_" + 24 random hex characters into id (30 bytes). */
void tc_new_id(char id[30]);

/* Whole text: splits s into plain content (appended to content) and tool
 * calls (appended to the JSON array calls). Malformed calls stay content. */
octo_err tc_split_whole(octo_text_tool_format fmt, const json_t *tool_defs, const char *s,
                        size_t n, octo_buf *content, json_t *calls) OCTO_WUR;

/* ==== streaming pieces ==== */

/* Collects delta objects, merging neighbouring text of one kind. */
typedef enum ev_kind { EV_NONE, EV_CONTENT, EV_REASONING } ev_kind;
typedef struct ev_sink {
    json_t *arr;
    ev_kind kind;
    octo_buf text;
} ev_sink;
octo_err ev_text(ev_sink *e, ev_kind kind, const char *s, size_t n) OCTO_WUR;
octo_err ev_json(ev_sink *e, json_t *delta /* stolen */) OCTO_WUR;
octo_err ev_flush(ev_sink *e) OCTO_WUR;

/* The reasoning stage: splits text into reasoning (sent to the sink) and
 * content (handed to `content`). */
typedef octo_err (*rs_content_fn)(void *ctx, const char *s, size_t n);
typedef struct rs_stage {
    int phase;
    bool start_in_think;
    size_t start_ws; /* leading whitespace bytes held at the start */
    octo_buf hold;
    rs_content_fn content;
    void *ctx;
} rs_stage;
void rs_init(rs_stage *r, const octo_text_parse_opts *o, rs_content_fn content, void *ctx);
void rs_deinit(rs_stage *r);
octo_err rs_feed(rs_stage *r, ev_sink *e, const char *s, size_t n) OCTO_WUR;
octo_err rs_finish(rs_stage *r, ev_sink *e) OCTO_WUR;

#endif /* OCTO_TOOLCALL_INT_H */
