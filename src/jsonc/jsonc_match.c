/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonc_match — running the constrained-JSON automaton: configuration
 * sets and their byte steps, the compiled schema object (with a cache of
 * token masks keyed by matcher state), and the per-sequence matcher with
 * its mask (one preorder walk of the token trie, carrying a configuration
 * set per trie depth and skipping every subtree whose prefix is dead) and
 * accept.
 *
 * It does not sample and knows nothing of the engine: the engine calls
 * mask before sampling and accept after.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonc/jsonc_int.h"

/* ==== configuration sets ==== */

static bool apply_op(uint8_t op, jc_cfg *c)
{
    uint64_t top = c->depth ? (c->bits >> (c->depth - 1)) & 1u : 2;
    switch (op) {
    case JC_OP_NONE: return true;
    case JC_OP_PUSH_OBJ:
    case JC_OP_PUSH_ARR:
        if (c->depth >= JC_GENERIC_DEPTH) return false;
        if (op == JC_OP_PUSH_OBJ) c->bits |= 1ull << c->depth;
        c->depth++;
        return true;
    case JC_OP_POP_OBJ:
    case JC_OP_POP_ARR:
        if (top != (op == JC_OP_POP_OBJ ? 1u : 0u)) return false;
        c->depth--;
        c->bits &= ~(1ull << c->depth);
        return true;
    case JC_OP_IF_EMPTY: return c->depth == 0;
    case JC_OP_IF_NONEMPTY: return c->depth > 0;
    case JC_OP_IF_OBJ: return top == 1;
    case JC_OP_IF_ARR: return top == 0;
    case JC_OP_WS:
        if (c->ws >= JC_WS_MAX) return false;
        c->ws++;
        return true;
    case JC_OP_WS_END: c->ws = 0; return true;
    default: return false;
    }
}

static bool cfg_eq(const jc_cfg *a, const jc_cfg *b)
{
    return a->state == b->state && a->depth == b->depth && a->ws == b->ws && a->bits == b->bits;
}

/* Starts a new set: every stamp older than this generation is stale. */
static void seen_next(jc_seen *sn, uint32_t n_states)
{
    if (++sn->gen == 0) {
        memset(sn->stamp, 0, n_states * sizeof *sn->stamp);
        sn->gen = 1;
    }
}

/* Appends c unless present (the stamp answers at once unless the state is
 * already there; then the same-state configurations are compared). */
static void set_add(jc_seen *sn, jc_cfg *set, size_t *n, size_t cap, const jc_cfg *c,
                    bool *overflow)
{
    uint32_t s = (uint32_t)c->state;
    if (sn->stamp[s] == sn->gen) {
        if (cfg_eq(&set[sn->slot[s]], c)) return;
        for (size_t i = 0; i < *n; i++)
            if (cfg_eq(&set[i], c)) return;
    }
    if (*n >= cap) {
        *overflow = true;
        return;
    }
    if (sn->stamp[s] != sn->gen) {
        sn->stamp[s] = sn->gen;
        sn->slot[s] = (uint32_t)*n;
    }
    set[(*n)++] = *c;
}

/* Follows the epsilon edges of set[from..n), appending what they reach. */
static size_t close_from(const jc_nfa *a, jc_seen *sn, jc_cfg *set, size_t n, size_t cap,
                         bool *overflow)
{
    for (size_t i = 0; i < n; i++) {
        jc_cfg c = set[i];
        for (uint32_t k = a->mid[c.state]; k < a->first[c.state + 1]; k++) {
            jc_cfg d = c;
            if (!apply_op(a->edges[k].op, &d)) continue;
            d.state = a->edges[k].to;
            set_add(sn, set, &n, cap, &d, overflow);
        }
    }
    return n;
}

size_t jc_close(const jc_nfa *a, jc_seen *sn, jc_cfg *set, size_t cap, bool *overflow)
{
    seen_next(sn, a->n_states);
    sn->stamp[set[0].state] = sn->gen;
    sn->slot[set[0].state] = 0;
    return close_from(a, sn, set, 1, cap, overflow);
}

size_t jc_step(const jc_nfa *a, jc_seen *sn, const jc_cfg *in, size_t n, uint8_t c,
               jc_cfg *out, size_t cap, bool *overflow)
{
    size_t m = 0;
    seen_next(sn, a->n_states);
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = a->first[in[i].state]; k < a->mid[in[i].state]; k++) {
            const jc_edge *e = &a->edges[k];
            if (c < e->lo || c > e->hi) continue;
            jc_cfg d = in[i];
            if (!apply_op(e->op, &d)) continue;
            d.state = e->to;
            set_add(sn, out, &m, cap, &d, overflow);
        }
    }
    return m ? close_from(a, sn, out, m, cap, overflow) : 0;
}

/* ==== compiled schema and mask cache ==== */

typedef struct mask_ent {
    jc_cfg *key;
    size_t n;
    uint32_t *bits;
} mask_ent;

struct octo_text_jsonc {
    const octo_text_jsonc_vocab *v;
    jc_nfa nfa;
    size_t n_words; /* of a token bitmask */
    pthread_mutex_t lock;
    mask_ent cache[JC_CACHE_MAX];
    size_t n_cache, next_victim;
};

octo_text_jsonc *octo_text_jsonc_new(const octo_text_jsonc_vocab *v, const json_t *schema,
                                     bool object_only, char *err, size_t err_size)
{
    if (err && err_size) err[0] = 0;
    if (!v) return NULL;
    octo_text_jsonc *jc = octo_calloc(1, sizeof *jc);
    if (!jc) {
        if (err && err_size) octo_strlcpy(err, "out of memory: schema", err_size);
        return NULL;
    }
    if (jc_compile(schema, object_only, &jc->nfa, err, err_size)) {
        octo_free(jc);
        return NULL;
    }
    jc->v = v;
    jc->n_words = (v->n_ids + 31) / 32;
    pthread_mutex_init(&jc->lock, NULL);
    return jc;
}

void octo_text_jsonc_free(octo_text_jsonc *jc)
{
    if (!jc) return;
    for (size_t i = 0; i < jc->n_cache; i++) {
        octo_free(jc->cache[i].key);
        octo_free(jc->cache[i].bits);
    }
    pthread_mutex_destroy(&jc->lock);
    jc_nfa_deinit(&jc->nfa);
    octo_free(jc);
}

size_t octo_text_jsonc_states(const octo_text_jsonc *jc)
{
    return jc ? jc->nfa.n_states : 0;
}

static bool cache_get(octo_text_jsonc *jc, const jc_cfg *key, size_t n, uint32_t *bits)
{
    bool hit = false;
    pthread_mutex_lock(&jc->lock);
    for (size_t i = 0; i < jc->n_cache && !hit; i++) {
        if (jc->cache[i].n != n || memcmp(jc->cache[i].key, key, n * sizeof *key)) continue;
        memcpy(bits, jc->cache[i].bits, jc->n_words * sizeof *bits);
        hit = true;
    }
    pthread_mutex_unlock(&jc->lock);
    return hit;
}

/* Inserts a mask; when the cache is full the oldest entry gives way. */
static void cache_put(octo_text_jsonc *jc, const jc_cfg *key, size_t n, const uint32_t *bits)
{
    jc_cfg *k = octo_malloc(n * sizeof *key);
    uint32_t *b = octo_malloc(jc->n_words * sizeof *bits);
    if (!k || !b) {
        octo_free(k);
        octo_free(b);
        return;
    }
    memcpy(k, key, n * sizeof *key);
    memcpy(b, bits, jc->n_words * sizeof *bits);
    pthread_mutex_lock(&jc->lock);
    size_t at = jc->n_cache < JC_CACHE_MAX ? jc->n_cache++ : jc->next_victim++ % JC_CACHE_MAX;
    mask_ent old = jc->cache[at];
    jc->cache[at] = (mask_ent){.key = k, .n = n, .bits = b};
    pthread_mutex_unlock(&jc->lock);
    octo_free(old.key);
    octo_free(old.bits);
}

/* ==== matcher ==== */

struct octo_text_jsonc_matcher {
    octo_text_jsonc *jc;
    jc_cfg *set;          /* [JC_SET_MAX] the current configurations */
    jc_cfg *tmp_a, *tmp_b; /* [JC_SET_MAX] work sets */
    jc_seen *seen;         /* dedup arrays over the automaton's states */
    size_t n;
    bool stopped;  /* a stop token was accepted */
    bool overflow; /* configurations were dropped at some point */
    uint32_t *bits;      /* last mask, n_words */
    jc_cfg *scratch;     /* the sets of the current trie path, one after another */
    size_t scratch_cap;
    uint32_t *level_off; /* [max_len + 1] where each depth's set starts */
    uint32_t *level_n;
};

octo_text_jsonc_matcher *octo_text_jsonc_matcher_new(octo_text_jsonc *jc)
{
    if (!jc) return NULL;
    octo_text_jsonc_matcher *m = octo_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->jc = jc;
    size_t levels = (size_t)jc->v->max_len + 1;
    m->bits = octo_calloc(jc->n_words ? jc->n_words : 1, sizeof *m->bits);
    m->scratch_cap = 2 * JC_SET_MAX;
    m->scratch = octo_malloc(m->scratch_cap * sizeof *m->scratch);
    m->set = octo_malloc(3 * JC_SET_MAX * sizeof *m->set);
    m->seen = octo_calloc(1, sizeof *m->seen);
    if (m->seen) {
        m->seen->stamp = octo_calloc(jc->nfa.n_states, sizeof *m->seen->stamp);
        m->seen->slot = octo_calloc(jc->nfa.n_states, sizeof *m->seen->slot);
    }
    m->level_off = octo_calloc(levels, sizeof *m->level_off);
    m->level_n = octo_calloc(levels, sizeof *m->level_n);
    if (!m->bits || !m->scratch || !m->set || !m->level_off || !m->level_n || !m->seen ||
        !m->seen->stamp || !m->seen->slot) {
        octo_text_jsonc_matcher_free(m);
        return NULL;
    }
    m->tmp_a = m->set + JC_SET_MAX;
    m->tmp_b = m->tmp_a + JC_SET_MAX;
    m->set[0] = (jc_cfg){.state = jc->nfa.start};
    m->n = jc_close(&jc->nfa, m->seen, m->set, JC_SET_MAX, &m->overflow);
    return m;
}

void octo_text_jsonc_matcher_free(octo_text_jsonc_matcher *m)
{
    if (!m) return;
    octo_free(m->bits);
    if (m->seen) {
        octo_free(m->seen->stamp);
        octo_free(m->seen->slot);
        octo_free(m->seen);
    }
    octo_free(m->set);
    octo_free(m->scratch);
    octo_free(m->level_off);
    octo_free(m->level_n);
    octo_free(m);
}

bool octo_text_jsonc_complete(const octo_text_jsonc_matcher *m)
{
    if (!m) return false;
    if (m->stopped) return true;
    for (size_t i = 0; i < m->n; i++)
        if (m->set[i].state == m->jc->nfa.final) return true;
    return false;
}

bool octo_text_jsonc_finished(const octo_text_jsonc_matcher *m)
{
    if (!m) return false;
    if (m->stopped) return true;
    if (!octo_text_jsonc_complete(m)) return false;
    bool ovf = false;
    for (int c = 0; c < 256; c++)
        if (jc_step(&m->jc->nfa, m->seen, m->set, m->n, (uint8_t)c, m->tmp_a, JC_SET_MAX,
                    &ovf))
            return false;
    return true;
}

octo_err octo_text_jsonc_feed(octo_text_jsonc_matcher *m, const char *bytes, size_t n)
{
    if (!m || (n && !bytes)) return OCTO_E_INVALID;
    if (m->stopped) return OCTO_E_INVALID;
    jc_cfg *a = m->tmp_a, *b = m->tmp_b;
    size_t na = m->n;
    memcpy(a, m->set, na * sizeof *a);
    bool ovf = false;
    for (size_t i = 0; i < n; i++) {
        size_t nb = jc_step(&m->jc->nfa, m->seen, a, na, (uint8_t)bytes[i], b, JC_SET_MAX,
                            &ovf);
        if (!nb) return OCTO_E_INVALID;
        jc_cfg *t = a;
        a = b;
        b = t;
        na = nb;
    }
    memcpy(m->set, a, na * sizeof *a);
    m->n = na;
    if (ovf && !m->overflow) OCTO_LOG_WARN("constrained decoding: matcher state overflow");
    m->overflow |= ovf;
    return OCTO_OK;
}

static bool is_stop(const octo_text_jsonc_vocab *v, int32_t id)
{
    for (size_t i = 0; i < v->n_stop; i++)
        if (v->stop_ids[i] == id) return true;
    return false;
}

octo_err octo_text_jsonc_accept(octo_text_jsonc_matcher *m, int32_t token)
{
    if (!m || m->stopped) return OCTO_E_INVALID;
    const octo_text_jsonc_vocab *v = m->jc->v;
    if (token < 0 || (size_t)token >= v->n_ids) return OCTO_E_INVALID;
    if (is_stop(v, token)) {
        if (!octo_text_jsonc_complete(m)) return OCTO_E_INVALID;
        m->stopped = true;
        return OCTO_OK;
    }
    uint32_t off = v->byte_off[token], len = v->byte_off[token + 1] - off;
    if (!len) return OCTO_E_INVALID;
    return octo_text_jsonc_feed(m, (const char *)v->bytes + off, len);
}

/* ==== mask ==== */

static int cmp_cfg(const void *x, const void *y)
{
    const jc_cfg *a = x, *b = y;
    if (a->state != b->state) return a->state < b->state ? -1 : 1;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    if (a->ws != b->ws) return a->ws < b->ws ? -1 : 1;
    return a->bits < b->bits ? -1 : a->bits > b->bits;
}

/* The preorder walk: node i at depth d steps the set of depth d - 1 by its
 * byte; a dead set skips the subtree, a live one allows the node's tokens. */
static octo_err walk_trie(octo_text_jsonc_matcher *m, const jc_trie *v, const jc_cfg *start,
                          size_t n0)
{
    const jc_nfa *a = &m->jc->nfa;
    memcpy(m->scratch, start, n0 * sizeof *start);
    m->level_off[0] = 0;
    m->level_n[0] = (uint32_t)n0;
    bool ovf = false;
    uint32_t i = 0;
    while (i < v->n_nodes) {
        const jc_tnode *nd = &v->nodes[i];
        uint32_t d = nd->depth;
        uint32_t off = m->level_off[d - 1] + m->level_n[d - 1];
        if (off + JC_SET_MAX > m->scratch_cap) { /* a longer path of larger sets */
            jc_cfg *p = octo_realloc(m->scratch, 2 * m->scratch_cap * sizeof *p);
            if (!p) return OCTO_E_NOMEM;
            m->scratch = p;
            m->scratch_cap *= 2;
        }
        size_t n = jc_step(a, m->seen, m->scratch + m->level_off[d - 1], m->level_n[d - 1],
                           nd->byte, m->scratch + off, JC_SET_MAX, &ovf);
        if (!n) {
            i = nd->skip;
            continue;
        }
        m->level_off[d] = off;
        m->level_n[d] = (uint32_t)n;
        for (uint32_t k = 0; k < nd->tc; k++) {
            uint32_t id = (uint32_t)v->sorted_ids[nd->ts + k];
            m->bits[id >> 5] |= 1u << (id & 31);
        }
        i++;
    }
    return OCTO_OK;
}

octo_err octo_text_jsonc_mask_bits(octo_text_jsonc_matcher *m, const uint32_t **bits,
                                   size_t *n_bits)
{
    if (!m || !bits) return OCTO_E_INVALID;
    if (m->stopped) return OCTO_E_INVALID;
    const octo_text_jsonc_vocab *v = m->jc->v;
    jc_cfg *key = m->tmp_a;
    memcpy(key, m->set, m->n * sizeof *key);
    qsort(key, m->n, sizeof *key, cmp_cfg);
    if (!cache_get(m->jc, key, m->n, m->bits)) {
        octo_err rc;
        if (m->n == 1 && m->jc->nfa.str_body[key[0].state]) { /* see jsonc_int.h */
            memcpy(m->bits, v->plain, m->jc->n_words * sizeof *m->bits);
            rc = walk_trie(m, &v->rest, key, m->n);
        } else {
            memset(m->bits, 0, m->jc->n_words * sizeof *m->bits);
            rc = walk_trie(m, &v->full, key, m->n);
        }
        if (rc) return rc;
        cache_put(m->jc, key, m->n, m->bits);
    }
    if (octo_text_jsonc_complete(m)) {
        for (size_t i = 0; i < v->n_stop; i++) {
            uint32_t id = (uint32_t)v->stop_ids[i];
            m->bits[id >> 5] |= 1u << (id & 31);
        }
    }
    *bits = m->bits;
    if (n_bits) *n_bits = v->n_ids;
    return OCTO_OK;
}

octo_err octo_text_jsonc_mask(octo_text_jsonc_matcher *m, float *logits, int64_t V)
{
    if (!m || !logits || V < 0) return OCTO_E_INVALID;
    const uint32_t *bits;
    size_t nb = 0;
    octo_err rc = octo_text_jsonc_mask_bits(m, &bits, &nb);
    if (rc) return rc;
    for (int64_t w = 0; w * 32 < V; w++) {
        uint32_t word = (size_t)w * 32 < nb ? bits[w] : 0;
        if (word == 0xFFFFFFFFu) continue;
        int64_t end = w * 32 + 32 < V ? w * 32 + 32 : V;
        for (int64_t i = w * 32; i < end; i++)
            if (!((size_t)i < nb && (word >> (i & 31)) & 1u)) logits[i] = -INFINITY;
    }
    return OCTO_OK;
}
