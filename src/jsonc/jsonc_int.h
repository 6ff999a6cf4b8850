/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonc_int — internals of constrained JSON decoding shared by its source
 * files: jsonc_nfa.c (the byte automaton and its fragment builders),
 * jsonc_schema.c (JSON schema -> automaton), jsonc_vocab.c (the token byte
 * trie), jsonc_match.c (matcher, mask, accept) and jsonc_tools.c (the
 * schemas vLLM builds for tool_choice and response_format).
 *
 * The automaton is a nondeterministic byte automaton with guarded edges and
 * a small bit stack: plain states and edges express everything a schema
 * fixes (objects with known properties, strings, numbers, enums, bounded
 * arrays); the bit stack (1 = object, 0 = array) carries the nesting of
 * "any JSON value" regions, which are the only recursive part. A matcher
 * state is a set of configurations (state, stack depth, stack bits).
 *
 * No other module includes this header.
 */
#ifndef OCTO_JSONC_INT_H
#define OCTO_JSONC_INT_H

#include <pthread.h>

#include "jsonc/jsonc.h"

#define JC_WS_MAX 16          /* whitespace bytes allowed between two JSON tokens */
#define JC_GENERIC_DEPTH 48   /* nesting of an unconstrained ("any") value */
#define JC_REF_DEPTH 6        /* $ref expansions on one path (bounds recursion) */
#define JC_ARRAY_UNROLL 64    /* minItems/maxItems enforced up to this */
#define JC_MAX_STATES (1u << 18)
#define JC_SET_MAX 2048       /* configurations in one matcher state (~1 per tool) */
#define JC_CACHE_MAX 64       /* cached masks per compiled schema */

/* Edge guards and stack actions. */
enum {
    JC_OP_NONE = 0,
    JC_OP_PUSH_OBJ,   /* push 1 (fails past JC_GENERIC_DEPTH) */
    JC_OP_PUSH_ARR,   /* push 0 */
    JC_OP_POP_OBJ,    /* top must be 1 */
    JC_OP_POP_ARR,    /* top must be 0 */
    JC_OP_IF_EMPTY,   /* depth == 0 */
    JC_OP_IF_NONEMPTY,
    JC_OP_IF_OBJ,     /* top is 1 */
    JC_OP_IF_ARR,     /* top is 0 */
    JC_OP_WS,         /* one more whitespace byte (fails past JC_WS_MAX) */
    JC_OP_WS_END,     /* whitespace run over: counter back to 0 */
};

/* A byte edge consumes one byte in [lo, hi]; an epsilon edge consumes none. */
typedef struct jc_edge {
    int32_t to;
    uint8_t lo, hi;
    uint8_t op;
    uint8_t eps;
} jc_edge;

/* The finished automaton: each state's byte edges, then its epsilon edges,
 * in edges[first[s] .. mid[s]) and edges[mid[s] .. first[s + 1]). */
typedef struct jc_nfa {
    uint32_t n_states;
    uint32_t *first, *mid;
    jc_edge *edges;
    uint8_t *str_body; /* [n_states] 1 for the content state of a string */
    int32_t start, final;
} jc_nfa;

typedef struct jc_cfg {
    int32_t state;
    uint16_t depth; /* of the bit stack */
    uint16_t ws;    /* whitespace bytes in the current run */
    uint64_t bits;
} jc_cfg;

/* Deduplication help for building a set: slot[s] is the index of a
 * configuration in state s when stamp[s] == gen (one array pair per user,
 * n_states long). */
typedef struct jc_seen {
    uint32_t *stamp, *slot;
    uint32_t gen;
} jc_seen;

/* ---- jsonc_nfa.c: building ---- */

typedef struct jc_bedge {
    int32_t from;
    jc_edge e;
} jc_bedge;

typedef struct jc_build {
    jc_bedge *edges;
    size_t n_edges, cap_edges;
    uint32_t n_states;
    int32_t *bodies; /* string content states */
    size_t n_bodies, cap_bodies;
    octo_err rc; /* first failure; builders become no-ops after it */
    char *err;
    size_t err_size;
    /* schema compilation */
    const json_t *root;
    int ref_depth;
    uint32_t ignored; /* bit per ignored keyword already logged */
} jc_build;

typedef struct jc_frag {
    int32_t s, e; /* entry and exit states */
} jc_frag;

/* Records the first failure (and its message) and returns it. */
octo_err jc_fail(jc_build *b, octo_err rc, const char *fmt, ...) OCTO_PRINTF(3, 4);
int32_t jc_state(jc_build *b);
void jc_byte(jc_build *b, int32_t from, int32_t to, uint8_t lo, uint8_t hi, uint8_t op);
void jc_eps(jc_build *b, int32_t from, int32_t to, uint8_t op);
/* An empty fragment (entry == exit) and one that matches nothing. */
jc_frag jc_frag_empty(jc_build *b);
jc_frag jc_frag_never(jc_build *b);
/* These exact bytes. */
jc_frag jc_frag_lit(jc_build *b, const char *s, size_t n);
/* At most JC_WS_MAX bytes of space, tab, CR, LF. */
jc_frag jc_frag_ws(jc_build *b);
/* ws, the byte c, ws. */
jc_frag jc_frag_punct(jc_build *b, char c);
/* a then b. */
jc_frag jc_frag_seq(jc_build *b, jc_frag x, jc_frag y);
/* A JSON string (any valid UTF-8 content, every escape). */
jc_frag jc_frag_string(jc_build *b);
/* A JSON number; integer_only: no fraction or exponent. */
jc_frag jc_frag_number(jc_build *b, bool integer_only);
/* Any JSON value (object_only: any object) of nesting <= JC_GENERIC_DEPTH. */
jc_frag jc_frag_any(jc_build *b, bool object_only);
/* Turns the builder into a finished automaton (start -> ... -> final). */
octo_err jc_nfa_finish(jc_build *b, jc_frag top, jc_nfa *out);
void jc_nfa_deinit(jc_nfa *a);
void jc_build_deinit(jc_build *b);

/* ---- jsonc_schema.c ---- */

/* Compiles a schema (NULL: any value, or any object when object_only). */
octo_err jc_compile(const json_t *schema, bool object_only, jc_nfa *out, char *err,
                    size_t err_size);

/* ---- jsonc_match.c: configuration sets ---- */

/* Epsilon closure of the single configuration set[0] in place,
 * deduplicated; returns the set size (at most cap; *overflow set when
 * configurations were dropped). */
size_t jc_close(const jc_nfa *a, jc_seen *seen, jc_cfg *set, size_t cap, bool *overflow);
/* The closed successor set of `in` after byte c, written to out. */
size_t jc_step(const jc_nfa *a, jc_seen *seen, const jc_cfg *in, size_t n, uint8_t c,
               jc_cfg *out, size_t cap, bool *overflow);

/* ---- jsonc_vocab.c: the token trie ---- */

/* Preorder trie node: its subtree ends before node `skip`; tokens whose
 * bytes end here are sorted_ids[ts .. ts + tc). */
typedef struct jc_tnode {
    uint32_t skip;
    uint32_t ts;
    uint16_t tc;
    uint16_t depth; /* 1 for a first byte */
    uint8_t byte;
} jc_tnode;

typedef struct jc_trie {
    jc_tnode *nodes;
    uint32_t n_nodes;
    int32_t *sorted_ids;
} jc_trie;

/*
 * Inside a string nearly every token is allowed and the full walk visits
 * most of the trie, so string content has a fast path: `plain` marks the
 * tokens that are whole string content (well-formed UTF-8, no '"', '\' or
 * control byte), which lead from the content state back to it whatever
 * came before; only the other tokens (trie `rest`) need a walk.
 */
struct octo_text_jsonc_vocab {
    size_t n_ids;        /* tokenizer vocab size */
    uint32_t *byte_off;  /* [n_ids + 1] into bytes; empty: token never allowed */
    uint8_t *bytes;
    jc_trie full, rest;
    uint32_t *plain;     /* bitmask of string-content tokens */
    uint32_t max_len;
    int32_t *stop_ids;
    size_t n_stop;
};

#endif /* OCTO_JSONC_INT_H */
