/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpu — the CPU backend table: memory, RMSNorm, rotary embedding, SwiGLU,
 * residual add, embedding gather, and attention over a paged KV cache
 * (f32 or bf16 slots), each split over the thread pool. The matmul lives
 * in matmul.c, attention in attention.c. This is the reference every other backend is checked
 * against: plain loops, f32 accumulation, no approximated exp/sin/cos.
 *
 * Not an autograd or graph engine: ops run eagerly, one call each.
 */
#include "tensor_int.h"

#include <math.h>
#include <string.h>

/* ==== memory ==== */

static void *cpu_alloc(const octo_tensor_backend *be, size_t bytes)
{
    return octo_malloc(bytes ? bytes : 1);
}

static void cpu_free(const octo_tensor_backend *be, void *p) { octo_free(p); }

static void cpu_copy(const octo_tensor_backend *be, void *dst, const void *src, size_t bytes)
{
    if (bytes) memcpy(dst, src, bytes);
}

/* ==== RMSNorm ==== */

typedef struct norm_ctx {
    float *y;
    const float *x;
    const octo_tensor_mat *w;
    float eps;
} norm_ctx;

static void norm_task(void *ctx, int64_t r0, int64_t r1, int thread)
{
    const norm_ctx *c = ctx;
    int64_t C = c->w->cols;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = c->x + r * C;
        float *y = c->y + r * C;
        double ss = 0.0;
        for (int64_t i = 0; i < C; i++) ss += (double)x[i] * x[i];
        float inv = 1.0f / sqrtf((float)(ss / (double)C) + c->eps);
        const uint16_t *h = c->w->data;
        const float *f = c->w->data;
        switch (c->w->dtype) {
        case OCTO_DTYPE_BF16:
            for (int64_t i = 0; i < C; i++) y[i] = x[i] * inv * octo_tensor_bf16_to_f32(h[i]);
            break;
        case OCTO_DTYPE_F16:
            for (int64_t i = 0; i < C; i++) y[i] = x[i] * inv * octo_tensor_f16_to_f32(h[i]);
            break;
        default:
            for (int64_t i = 0; i < C; i++) y[i] = x[i] * inv * f[i];
        }
    }
}

static void cpu_rmsnorm(const octo_tensor_backend *be, float *y, const float *x, int64_t R,
                        const octo_tensor_mat *w, float eps)
{
    norm_ctx c = {y, x, w, eps};
    octo_tensor_pool_run(be->impl, R, 64, norm_task, &c);
}

/* ==== rotary embedding ==== */

typedef struct rope_ctx {
    float *x;
    int64_t H, D;
    const int32_t *pos;
    const float *inv_freq;
    float attn_factor;
} rope_ctx;

static void rope_task(void *ctx, int64_t t0, int64_t t1, int thread)
{
    const rope_ctx *c = ctx;
    int64_t half = c->D / 2;
    float cs[256], sn[256]; /* D/2 <= 256 (checked by the caller) */
    for (int64_t t = t0; t < t1; t++) {
        float p = (float)c->pos[t];
        for (int64_t i = 0; i < half; i++) {
            float a = p * c->inv_freq[i]; /* f32 product, as the reference */
            cs[i] = cosf(a) * c->attn_factor;
            sn[i] = sinf(a) * c->attn_factor;
        }
        for (int64_t h = 0; h < c->H; h++) {
            float *v = c->x + (t * c->H + h) * c->D;
            for (int64_t i = 0; i < half; i++) {
                float x1 = v[i], x2 = v[i + half];
                v[i] = x1 * cs[i] - x2 * sn[i];
                v[i + half] = x2 * cs[i] + x1 * sn[i];
            }
        }
    }
}

static void cpu_rope(const octo_tensor_backend *be, float *x, int64_t T, int64_t H, int64_t D,
                     const int32_t *pos, const float *inv_freq, float attn_factor)
{
    OCTO_ASSERT(D % 2 == 0 && D / 2 <= 256);
    rope_ctx c = {x, H, D, pos, inv_freq, attn_factor};
    octo_tensor_pool_run(be->impl, T, 4, rope_task, &c);
}

/* ==== elementwise ==== */

typedef struct ew_ctx {
    float *y;
    const float *a, *b;
} ew_ctx;

static void swiglu_task(void *ctx, int64_t i0, int64_t i1, int thread)
{
    const ew_ctx *c = ctx;
    for (int64_t i = i0; i < i1; i++) {
        float g = c->a[i];
        c->y[i] = g / (1.0f + expf(-g)) * c->b[i];
    }
}

static void cpu_swiglu(const octo_tensor_backend *be, float *y, const float *gate,
                       const float *up, int64_t n)
{
    ew_ctx c = {y, gate, up};
    octo_tensor_pool_run(be->impl, n, 4096, swiglu_task, &c);
}

typedef struct softmax_ctx {
    float *x;
    int64_t N;
} softmax_ctx;

static void softmax_task(void *ctx, int64_t r0, int64_t r1, int thread)
{
    const softmax_ctx *c = ctx;
    for (int64_t r = r0; r < r1; r++) {
        float *x = c->x + r * c->N, mx = -INFINITY;
        for (int64_t i = 0; i < c->N; i++) mx = x[i] > mx ? x[i] : mx;
        double sum = 0.0;
        for (int64_t i = 0; i < c->N; i++) {
            x[i] = expf(x[i] - mx);
            sum += x[i];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < c->N; i++) x[i] *= inv;
    }
}

static void cpu_softmax(const octo_tensor_backend *be, float *x, int64_t R, int64_t N)
{
    softmax_ctx c = {x, N};
    octo_tensor_pool_run(be->impl, R, 1, softmax_task, &c);
}

static void cpu_add(const octo_tensor_backend *be, float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

static void cpu_gather_rows(const octo_tensor_backend *be, float *y, const float *x,
                            const int32_t *rows, int64_t n, int64_t C)
{
    for (int64_t i = 0; i < n; i++) {
        memcpy(y + i * C, x + (int64_t)rows[i] * C, (size_t)C * sizeof *y);
    }
}

static void cpu_embed(const octo_tensor_backend *be, float *y, const octo_tensor_mat *table,
                      const int32_t *ids, int64_t T)
{
    int64_t C = table->cols;
    size_t esz = octo_dtype_size(table->dtype);
    for (int64_t t = 0; t < T; t++) {
        OCTO_ASSERT(ids[t] >= 0 && ids[t] < table->rows);
        const char *row = (const char *)table->data + (size_t)ids[t] * (size_t)C * esz;
        octo_tensor_row_to_f32(y + t * C, row, table->dtype, C);
    }
}

/* ==== paged KV cache ==== */

static void cpu_kv_store(const octo_tensor_backend *be, const octo_tensor_kv_layer *kv,
                         const octo_tensor_attn_batch *b, const float *k, const float *v)
{
    int64_t KD = kv->n_kv_heads * kv->head_dim;
    for (int64_t t = 0; t < b->n_tokens; t++) {
        int64_t slot = b->slot[t];
        OCTO_ASSERT(slot >= 0 && slot < kv->n_blocks * kv->block_size);
        size_t off = octo_tensor_slot_offset(kv, slot, 0);
        if (kv->dtype == OCTO_DTYPE_F32) {
            memcpy((float *)kv->k + off, k + t * KD, (size_t)KD * sizeof(float));
            memcpy((float *)kv->v + off, v + t * KD, (size_t)KD * sizeof(float));
        } else {
            OCTO_ASSERT(kv->dtype == OCTO_DTYPE_BF16);
            uint16_t *kd = (uint16_t *)kv->k + off, *vd = (uint16_t *)kv->v + off;
            for (int64_t i = 0; i < KD; i++) {
                kd[i] = octo_tensor_f32_to_bf16(k[t * KD + i]);
                vd[i] = octo_tensor_f32_to_bf16(v[t * KD + i]);
            }
        }
    }
}

/* ==== the table ==== */

void octo_tensor_backend_cpu(octo_tensor_backend *be, octo_tensor_pool *pool)
{
    OCTO_ASSERT(pool);
    memset(be, 0, sizeof *be);
    be->name = "cpu";
    be->impl = pool;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_copy;
    be->download = cpu_copy;
    be->matmul = octo_tensor_cpu_matmul;
    be->rmsnorm = cpu_rmsnorm;
    be->rope = cpu_rope;
    be->swiglu = cpu_swiglu;
    be->softmax = cpu_softmax;
    be->add = cpu_add;
    be->gather_rows = cpu_gather_rows;
    be->embed = cpu_embed;
    be->kv_store = cpu_kv_store;
    be->attention = octo_tensor_cpu_attention;
    octo_tensor_backend_complete(be);
}
