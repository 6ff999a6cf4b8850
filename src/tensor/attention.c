/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attention — causal grouped-query attention over the paged KV cache, on
 * the CPU, two ways:
 *   - per (token, kv head): each cached key row is dotted with the (up to
 *     4) query heads that share it, in place (bf16 read in registers), then
 *     softmax, then each value row added to the outputs. Used for decode
 *     tokens and short runs.
 *   - per (run of >= 4 consecutive tokens of one sequence, kv head, block
 *     of queries): the block's queries [nq, D] meet the keys in chunks
 *     gathered to f32 [KC, D] through sgemm (scores [nq, ctx]), causal mask
 *     and softmax per row, then O += P[:, chunk] V[chunk] through sgemm. For
 *     prefill, where the per-token path would stream the context once per
 *     token. Needs OpenBLAS; without it everything takes the first path.
 * Both accumulate in f32 with an exact expf softmax.
 *
 * Not flash attention: scores of a block are materialised for the whole
 * context (the scratch is sized for max_ctx).
 */
#include "tensor_int.h"

#include <math.h>
#include <string.h>

#if __has_include(<cblas.h>)
#include <cblas.h>
#define HAVE_BLAS 1
#else
#define HAVE_BLAS 0
#endif

#define BLOCK_MIN_RUN 4  /* tokens of one sequence in a row for the GEMM path */
#define BLOCK_VECS 32    /* query vectors (tokens x grouped heads) per block */
#define KEY_CHUNK 256    /* keys gathered to f32 at a time */

typedef struct attn_item {
    int64_t t0, t1; /* tokens [t0, t1) of one sequence, consecutive positions */
    int64_t g;      /* kv head */
    bool block;     /* GEMM path; else the token path for token t0 */
} attn_item;

typedef struct attn_ctx {
    float *out;
    const float *q;
    int64_t H;
    const octo_tensor_kv_layer *kv;
    const octo_tensor_attn_batch *b;
    float scale;
    octo_tensor_pool *pool;
    const attn_item *items; /* GEMM path work list */
} attn_ctx;

size_t octo_tensor_attention_scratch(int64_t max_ctx, int64_t head_dim)
{
    size_t per_token = (size_t)(4 * max_ctx + head_dim);
    size_t blocked = (size_t)BLOCK_VECS * (size_t)max_ctx +
                     (size_t)(2 * BLOCK_VECS + KEY_CHUNK) * (size_t)head_dim;
    return (per_token > blocked ? per_token : blocked) * sizeof(float);
}

static int64_t slot_of(const octo_tensor_attn_batch *b, const octo_tensor_kv_layer *kv,
                       int64_t seq, int64_t pos)
{
    const int32_t *bt = b->block_tables + seq * b->bt_stride;
    return (int64_t)bt[pos / kv->block_size] * kv->block_size + pos % kv->block_size;
}

/* ==== per (token, kv head) ==== */

/* Up to 4 query heads [h0, h0 + nh) of token t sharing kv head kvh.
 * Scratch: scores [nh][ctx], then a value row. */
static void attn_heads(const attn_ctx *c, int64_t t, int64_t h0, int nh, int64_t kvh,
                       float *scratch)
{
    const octo_tensor_kv_layer *kv = c->kv;
    const octo_tensor_attn_batch *b = c->b;
    int64_t D = kv->head_dim, n = (int64_t)b->tok_pos[t] + 1, seq = b->tok_seq[t];
    const float *q = c->q + (t * c->H + h0) * D;
    float *sc = scratch, *vrow = scratch + 4 * n;
    size_t esz = octo_dtype_size(kv->dtype);
    float mx[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY}, dots[4];
    for (int64_t j = 0; j < n; j++) {
        size_t off = octo_tensor_slot_offset(kv, slot_of(b, kv, seq, j), kvh);
        octo_tensor_dot_rows(dots, (const char *)kv->k + off * esz, kv->dtype, q, D, nh, D);
        for (int i = 0; i < nh; i++) {
            float s = dots[i] * c->scale;
            sc[i * n + j] = s;
            if (s > mx[i]) mx[i] = s;
        }
    }
    for (int i = 0; i < nh; i++) {
        double sum = 0.0;
        float *r = sc + i * n;
        for (int64_t j = 0; j < n; j++) {
            r[j] = expf(r[j] - mx[i]);
            sum += r[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < n; j++) r[j] *= inv;
        memset(c->out + (t * c->H + h0 + i) * D, 0, (size_t)D * sizeof(float));
    }
    for (int64_t j = 0; j < n; j++) {
        size_t off = octo_tensor_slot_offset(kv, slot_of(b, kv, seq, j), kvh);
        const char *vp = (const char *)kv->v + off * esz;
        const float *vf = (const float *)vp;
        if (kv->dtype != OCTO_DTYPE_F32) {
            octo_tensor_row_to_f32(vrow, vp, kv->dtype, D);
            vf = vrow;
        }
        for (int i = 0; i < nh; i++) {
            octo_tensor_axpy_f32(c->out + (t * c->H + h0 + i) * D, sc[i * n + j], vf, D);
        }
    }
}

static void token_task(void *ctx, int64_t i0, int64_t i1, int thread)
{
    const attn_ctx *c = ctx;
    float *scratch = octo_tensor_pool_scratch(c->pool, thread);
    int64_t K = c->kv->n_kv_heads, G = c->H / K;
    for (int64_t i = i0; i < i1; i++) {
        int64_t t = i / K, g = i % K;
        for (int64_t h = 0; h < G; h += 4) {
            int nh = G - h < 4 ? (int)(G - h) : 4;
            attn_heads(c, t, g * G + h, nh, g, scratch);
        }
    }
}

/* ==== per block of queries (GEMM) ==== */

#if HAVE_BLAS
/* Gathers keys or values [j0, j0 + n) of (seq, kv head g) to f32 rows. */
static void gather_rows(float *dst, const attn_ctx *c, const void *base, int64_t seq,
                        int64_t g, int64_t j0, int64_t n)
{
    const octo_tensor_kv_layer *kv = c->kv;
    size_t esz = octo_dtype_size(kv->dtype);
    int64_t D = kv->head_dim;
    for (int64_t j = 0; j < n; j++) {
        size_t off = octo_tensor_slot_offset(kv, slot_of(c->b, kv, seq, j0 + j), g);
        octo_tensor_row_to_f32(dst + j * D, (const char *)base + off * esz, kv->dtype, D);
    }
}

/* Query vector r of the block is token t0 + r / G, head g * G + r % G.
 * Scratch: Q [nq, D], O [nq, D], KV chunk [KEY_CHUNK, D], S [nq, ctx]. */
static void attn_block(const attn_ctx *c, const attn_item *it, float *scratch)
{
    const octo_tensor_kv_layer *kv = c->kv;
    const octo_tensor_attn_batch *b = c->b;
    int64_t D = kv->head_dim, G = c->H / kv->n_kv_heads, seq = b->tok_seq[it->t0];
    int64_t nt = it->t1 - it->t0, nq = nt * G, p0 = b->tok_pos[it->t0];
    int64_t n = (int64_t)b->tok_pos[it->t1 - 1] + 1;
    float *Q = scratch, *O = Q + BLOCK_VECS * D, *KV = O + BLOCK_VECS * D;
    float *S = KV + KEY_CHUNK * D;
    for (int64_t t = 0; t < nt; t++) { /* the group's heads are adjacent in q */
        memcpy(Q + t * G * D, c->q + ((it->t0 + t) * c->H + it->g * G) * D,
               (size_t)(G * D) * sizeof(float));
    }
    for (int64_t j0 = 0; j0 < n; j0 += KEY_CHUNK) {
        int64_t kc = n - j0 < KEY_CHUNK ? n - j0 : KEY_CHUNK;
        gather_rows(KV, c, kv->k, seq, it->g, j0, kc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)kc, (int)D,
                    c->scale, Q, (int)D, KV, (int)D, 0.0f, S + j0, (int)n);
    }
    for (int64_t r = 0; r < nq; r++) { /* causal mask and softmax, row by row */
        float *row = S + r * n;
        int64_t valid = p0 + r / G + 1, mx_i = 0;
        for (int64_t j = 1; j < valid; j++) mx_i = row[j] > row[mx_i] ? j : mx_i;
        float mx = row[mx_i];
        double sum = 0.0;
        for (int64_t j = 0; j < valid; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < valid; j++) row[j] *= inv;
        for (int64_t j = valid; j < n; j++) row[j] = 0.0f;
    }
    for (int64_t j0 = 0; j0 < n; j0 += KEY_CHUNK) {
        int64_t kc = n - j0 < KEY_CHUNK ? n - j0 : KEY_CHUNK;
        gather_rows(KV, c, kv->v, seq, it->g, j0, kc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)kc, 1.0f,
                    S + j0, (int)n, KV, (int)D, j0 ? 1.0f : 0.0f, O, (int)D);
    }
    for (int64_t t = 0; t < nt; t++) {
        memcpy(c->out + ((it->t0 + t) * c->H + it->g * G) * D, O + t * G * D,
               (size_t)(G * D) * sizeof(float));
    }
}

static void block_task(void *ctx, int64_t i0, int64_t i1, int thread)
{
    const attn_ctx *c = ctx;
    float *scratch = octo_tensor_pool_scratch(c->pool, thread);
    int64_t G = c->H / c->kv->n_kv_heads;
    for (int64_t i = i0; i < i1; i++) {
        const attn_item *it = &c->items[i];
        if (it->block) {
            attn_block(c, it, scratch);
            continue;
        }
        for (int64_t h = 0; h < G; h += 4) {
            int nh = G - h < 4 ? (int)(G - h) : 4;
            attn_heads(c, it->t0, it->g * G + h, nh, it->g, scratch);
        }
    }
}

/* Splits the batch into runs of consecutive positions of one sequence;
 * runs of >= BLOCK_MIN_RUN tokens become block items (per kv head and
 * block of queries), the others token items. Returns the item count, or
 * -1 when no run is long enough or the list cannot be allocated
 * (everything then takes the token path). */
static int64_t plan_blocks(const octo_tensor_attn_batch *b, int64_t K, int64_t G,
                           attn_item **out)
{
    int64_t T = b->n_tokens, qb = BLOCK_VECS / G, n = 0;
    bool any_block = false;
    if (qb < 1) return -1;
    for (int pass = 0; pass < 2; pass++) {
        n = 0;
        for (int64_t t0 = 0; t0 < T;) {
            int64_t t1 = t0 + 1;
            while (t1 < T && b->tok_seq[t1] == b->tok_seq[t0] &&
                   b->tok_pos[t1] == b->tok_pos[t1 - 1] + 1) {
                t1++;
            }
            bool block = t1 - t0 >= BLOCK_MIN_RUN;
            int64_t step = block ? qb : 1;
            any_block = any_block || block;
            for (int64_t a = t0; a < t1; a += step) {
                for (int64_t g = 0; g < K; g++, n++) {
                    if (pass) (*out)[n] = (attn_item){a, a + step < t1 ? a + step : t1, g, block};
                }
            }
            t0 = t1;
        }
        if (!pass) {
            if (!any_block) return -1;
            *out = octo_malloc((size_t)n * sizeof **out);
            if (!*out) return -1;
        }
    }
    return n;
}
#endif

void octo_tensor_cpu_attention(const octo_tensor_backend *be, float *out, const float *q,
                               int64_t H, const octo_tensor_kv_layer *kv,
                               const octo_tensor_attn_batch *b, float scale)
{
    OCTO_ASSERT(H % kv->n_kv_heads == 0);
    int64_t max_ctx = 0, K = kv->n_kv_heads;
    for (int64_t t = 0; t < b->n_tokens; t++) {
        if (b->tok_pos[t] + 1 > max_ctx) max_ctx = b->tok_pos[t] + 1;
    }
    OCTO_ASSERT(octo_tensor_pool_reserve(be->impl, octo_tensor_attention_scratch(
                                                       max_ctx, kv->head_dim)) == OCTO_OK);
    attn_ctx c = {out, q, H, kv, b, scale, be->impl, NULL};
#if HAVE_BLAS
    attn_item *items = NULL;
    int64_t n = plan_blocks(b, K, H / K, &items);
    if (n > 0) {
        c.items = items;
        octo_tensor_pool_run(be->impl, n, 1, block_task, &c);
        octo_free(items);
        return;
    }
#endif
    octo_tensor_pool_run(be->impl, b->n_tokens * K, 1, token_task, &c);
}
