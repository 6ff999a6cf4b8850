/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenizer_int — internals of the byte-level BPE tokenizer shared by its
 * source files (tokenizer.c: tables and construction; tokenizer_json.c: the
 * tokenizer.json reader; tokenizer_encode.c: the encode pipeline;
 * tokenizer_decode.c: decode and the streaming detokeniser).
 *
 * No other module includes this header.
 */
#ifndef OCTO_TOKENIZER_INT_H
#define OCTO_TOKENIZER_INT_H

#include "tokenizer/tokenizer.h"

#include <pthread.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Per-id flags. */
enum {
    TOKF_PRESENT = 1, /* the id has a string */
    TOKF_MODEL = 2,   /* in the BPE vocabulary (looked up by merges) */
    TOKF_ADDED = 4,   /* an added token, matched in raw text */
    TOKF_SPECIAL = 8, /* special added token (skip_special drops it) */
};

/* Open-addressed map from a token string to its id; a slot holds id + 1
 * (0 = empty) and strings are compared through the tokenizer's table. */
typedef struct tok_strmap {
    uint32_t *slots;
    uint32_t mask;
} tok_strmap;

/* Merge table slot: key = left id << 32 | right id. */
typedef struct tok_merge {
    uint64_t key;
    uint32_t rank;
    int32_t id;
} tok_merge;
#define TOK_MERGE_EMPTY UINT64_MAX

typedef enum tok_norm {
    TOK_NORM_NFC,
    TOK_NORM_NFD,
    TOK_NORM_NFKC,
    TOK_NORM_NFKD,
} tok_norm;
#define TOK_MAX_NORMS 8

typedef enum tok_split_behavior {
    TOK_SPLIT_REMOVED,
    TOK_SPLIT_ISOLATED,
    TOK_SPLIT_MERGED_PREV,
    TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS,
} tok_split_behavior;

/* One pre-tokenizer step: a regex Split, or ByteLevel (which may prepend a
 * space and may split with the GPT-2 regex; its byte mapping is implicit:
 * BPE always runs on bytes). */
typedef struct tok_step {
    enum { TOK_STEP_SPLIT, TOK_STEP_BYTELEVEL } kind;
    pcre2_code *re; /* Split's pattern, or ByteLevel's when use_regex */
    bool jit;
    tok_split_behavior behavior;
    bool invert;
    bool add_prefix_space;
} tok_step;
#define TOK_MAX_STEPS 8

/* An added token (index into tok->added). */
typedef struct tok_added {
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* Leftmost-longest matcher over a set of strings: a byte trie. */
typedef struct tok_tnode {
    int32_t child, sibling;
    int32_t added; /* index into tok->added, -1 if no string ends here */
    uint8_t byte;
} tok_tnode;
typedef struct tok_matcher {
    tok_tnode *nodes; /* node 0 is the root */
    uint32_t n_nodes, cap;
    int32_t root[256]; /* root's child for each first byte, -1 none */
} tok_matcher;

/* The word cache: direct-mapped slots under striped locks. */
#define TOK_CACHE_SLOTS 16384u
#define TOK_CACHE_LOCKS 64u
#define TOK_CACHE_WORD 22u
#define TOK_CACHE_IDS 10u
typedef struct tok_cache_slot {
    uint32_t hash;
    uint8_t wlen, nids;
    char word[TOK_CACHE_WORD];
    int32_t ids[TOK_CACHE_IDS];
} tok_cache_slot;

struct octo_text_tokenizer {
    /* id -> string, flags, decoded bytes */
    uint32_t n_ids;
    uint32_t *str_off, *str_len; /* into str_blob; strings NUL-terminated */
    char *str_blob;
    size_t blob_len, blob_cap;
    uint32_t *dec_off, *dec_len; /* decoded bytes of each id in dec_blob */
    char *dec_blob;
    uint8_t *flags;
    tok_strmap vocab; /* model vocabulary */
    tok_strmap added_map;
    size_t n_model; /* entries in the model vocabulary */
    /* BPE */
    tok_merge *merges;
    uint64_t merge_mask;
    size_t n_merges;
    int32_t byte_id[256]; /* id of each byte's byte-level symbol, -1 none */
    bool ignore_merges;
    int32_t unk_id; /* -1 none */
    bool fuse_unk;
    /* normalizer and pre-tokenizer */
    tok_norm norms[TOK_MAX_NORMS];
    int n_norms;
    tok_step steps[TOK_MAX_STEPS];
    int n_steps;
    /* added tokens */
    tok_added *added;
    size_t n_added, cap_added;
    tok_matcher m_raw;  /* tokens with normalized = false, on raw text */
    tok_matcher m_norm; /* tokens with normalized = true, on normalised text */
    /* post-processor: the "single" template; -1 stands for the sequence */
    int32_t *post;
    size_t n_post;
    bool has_post;
    /* word cache */
    tok_cache_slot *cache;
    pthread_mutex_t *cache_locks; /* [TOK_CACHE_LOCKS], initialised when set */
};

/* ---- tokenizer.c: construction ---- */

/* Writes "<octo_err name>: <message>" into err (may be NULL); returns rc. */
octo_err tok_fail(char *err, size_t err_size, octo_err rc, const char *fmt, ...)
    OCTO_PRINTF(4, 5);
octo_text_tokenizer *tok_alloc(void);
/* Sizes the id table for ids [0, n_ids). */
octo_err tok_reserve_ids(octo_text_tokenizer *tok, size_t n_ids, char *err, size_t err_size);
/* Gives id its string; flags as TOKF_*. Rejects a second string for an id. */
octo_err tok_set_string(octo_text_tokenizer *tok, int32_t id, const char *s, size_t len,
                        uint8_t flags, char *err, size_t err_size);
/* Builds the model vocabulary map from the ids flagged TOKF_MODEL;
 * rejects duplicate strings. */
octo_err tok_build_vocab(octo_text_tokenizer *tok, char *err, size_t err_size);
/* Adds merge (left, right) at the given rank; both and their concatenation
 * must be in the vocabulary. n_total sizes the table on the first call. */
octo_err tok_add_merge(octo_text_tokenizer *tok, const char *l, size_t ll, const char *r,
                       size_t rl, uint32_t rank, size_t n_total, char *err, size_t err_size);
int32_t tok_vocab_find(const octo_text_tokenizer *tok, const tok_strmap *m, const char *s,
                       size_t len);
/* Registers an added token whose string is already set at a->id. */
octo_err tok_add_added(octo_text_tokenizer *tok, const tok_added *a, char *err,
                       size_t err_size);
/* Pre-tokenizer presets by name ("qwen2", "gpt2", "llama-bpe"). */
octo_err tok_preset(octo_text_tokenizer *tok, const char *name, char *err, size_t err_size);
/* Compiles a Split regex (UTF + UCP, JIT when available). */
octo_err tok_compile_regex(const char *pattern, size_t len, bool literal, pcre2_code **re,
                           bool *jit, char *err, size_t err_size);
/* Compiles ByteLevel's GPT-2 regex. */
octo_err tok_bytelevel_regex(pcre2_code **re, bool *jit, char *err, size_t err_size);
/* Final pass: byte symbols, decoded bytes, added-token matchers, cache. */
octo_err tok_finish(octo_text_tokenizer *tok, char *err, size_t err_size);
uint64_t tok_hash(const void *p, size_t n);

/* ---- tokenizer_encode.c ---- */

/* Normalises s with every normalizer of tok into a new malloc'd string
 * (libc free) or returns OCTO_OK with *out = NULL when nothing changes. */
octo_err tok_normalize(const octo_text_tokenizer *tok, const char *s, size_t n, char **out,
                       size_t *out_len);

/* ---- tokenizer_decode.c ---- */

/* Appends bytes to out, replacing invalid UTF-8 with U+FFFD the way Rust's
 * from_utf8_lossy does. When hold_tail is set, an incomplete but so far
 * valid sequence at the very end is not written; *used gets the number of
 * bytes consumed. */
octo_err tok_utf8_lossy(const unsigned char *s, size_t n, bool hold_tail, octo_buf *out,
                        size_t *used);

#endif /* OCTO_TOKENIZER_INT_H */
