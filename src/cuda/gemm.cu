/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemm — prefill-sized matrix products through cuBLASLt: y[T, N] =
 * x[T, C] . W[N, C]^T with bf16 operands, f32 accumulation and bf16
 * output. In cuBLAS's column-major view that is y^T (N x T) = op(W) x^T
 * with op = transpose on W (C x N, ld C) and x^T (C x T, ld C). The handle
 * owns the cuBLASLt handle, one matmul descriptor and a workspace; the
 * heuristic runs once per (T, N, C) and its plan is cached.
 *
 * It does not do fp8, epilogues (bias, activation) or batched products.
 */
#include <cublasLt.h>
#include <string.h>

#include "cuda/gemm.cuh"

typedef struct plan {
    int T, N, C;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
} plan;

struct octo_cuda_gemm {
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    void *ws;
    size_t ws_bytes;
    plan plans[GEMM_PLANS];
    int nplans, next;
};

static octo_err lt_fail(cublasStatus_t st, const char *what)
{
    OCTO_LOG_ERROR("cuBLASLt %s failed: status %d (%s)", what, (int)st,
                   cublasLtGetStatusString(st));
    return OCTO_E_CUDA;
}

#define LT_TRY(call)                                        \
    do {                                                    \
        cublasStatus_t st_ = (call);                        \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                 \
            rc = lt_fail(st_, #call);                       \
            goto fail;                                      \
        }                                                   \
    } while (0)

/* Like LT_TRY for functions that return a pointer (failure logged). */
#define LT_CHK(call)                                        \
    do {                                                    \
        cublasStatus_t st_ = (call);                        \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                 \
            (void)lt_fail(st_, #call);                      \
            goto fail;                                      \
        }                                                   \
    } while (0)

void octo_cuda_gemm_free(octo_cuda_gemm *g)
{
    if (!g) return;
    for (int i = 0; i < g->nplans; i++) {
        cublasLtMatrixLayoutDestroy(g->plans[i].a);
        cublasLtMatrixLayoutDestroy(g->plans[i].b);
        cublasLtMatrixLayoutDestroy(g->plans[i].c);
    }
    if (g->desc) cublasLtMatmulDescDestroy(g->desc);
    if (g->lt) cublasLtDestroy(g->lt);
    octo_cuda_count_free(g->ws);
    if (g->ws) cudaFree(g->ws);
    octo_free(g);
}

octo_err octo_cuda_gemm_new(size_t workspace_bytes, octo_cuda_gemm **out)
{
    octo_err rc = OCTO_OK;
    *out = NULL;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    octo_cuda_gemm *g = (octo_cuda_gemm *)octo_calloc(1, sizeof *g);
    if (!g) return OCTO_E_NOMEM;
    LT_TRY(cublasLtCreate(&g->lt));
    LT_TRY(cublasLtMatmulDescCreate(&g->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT_TRY(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT_TRY(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    if (workspace_bytes) {
        cudaError_t e = cudaMalloc(&g->ws, workspace_bytes);
        if (e != cudaSuccess) {
            rc = octo_cuda_fail(e, "gemm workspace", __FILE__, __LINE__);
            goto fail;
        }
        g->ws_bytes = workspace_bytes;
        octo_cuda_count_alloc(g->ws, workspace_bytes);
    }
    *out = g;
    return OCTO_OK;
fail:
    octo_cuda_gemm_free(g);
    return rc;
}

/* Finds or builds the plan for (T, N, C); NULL on failure (logged). */
static plan *plan_get(octo_cuda_gemm *g, int T, int N, int C)
{
    for (int i = 0; i < g->nplans; i++)
        if (g->plans[i].T == T && g->plans[i].N == N && g->plans[i].C == C) return &g->plans[i];
    plan p;
    memset(&p, 0, sizeof p);
    p.T = T, p.N = N, p.C = C;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    LT_CHK(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, C, N, C)); /* W^T col-major */
    LT_CHK(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, C, T, C)); /* x^T */
    LT_CHK(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_16BF, N, T, N)); /* y^T */
    LT_CHK(cublasLtMatmulPreferenceCreate(&pref));
    LT_CHK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                &g->ws_bytes, sizeof g->ws_bytes));
    LT_CHK(cublasLtMatmulAlgoGetHeuristic(g->lt, g->desc, p.a, p.b, p.c, p.c, pref, 1, &res,
                                          &found));
    if (!found) {
        OCTO_LOG_ERROR("cuBLASLt: no algorithm for T=%d N=%d C=%d", T, N, C);
        goto fail;
    }
    cublasLtMatmulPreferenceDestroy(pref);
    p.algo = res.algo;
    {
        int slot = g->nplans < GEMM_PLANS ? g->nplans++ : g->next++ % GEMM_PLANS;
        plan *old = &g->plans[slot];
        if (old->a) {
            cublasLtMatrixLayoutDestroy(old->a);
            cublasLtMatrixLayoutDestroy(old->b);
            cublasLtMatrixLayoutDestroy(old->c);
        }
        *old = p;
        return old;
    }
fail:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (p.a) cublasLtMatrixLayoutDestroy(p.a);
    if (p.b) cublasLtMatrixLayoutDestroy(p.b);
    if (p.c) cublasLtMatrixLayoutDestroy(p.c);
    return NULL;
}

octo_err octo_cuda_gemm_run(octo_cuda_gemm *g, octo_bf16 *d_y, const octo_bf16 *d_x,
                            const octo_bf16 *d_w, int T, int N, int C, octo_cuda_stream *s)
{
    octo_err rc = OCTO_OK;
    ARG_CHECK(g && d_y && d_x && d_w && T >= 0 && N > 0 && C > 0);
    if (T == 0) return OCTO_OK;
    plan *p = plan_get(g, T, N, C);
    if (!p) return OCTO_E_CUDA;
    {
        float alpha = 1.0f, beta = 0.0f;
        LT_TRY(cublasLtMatmul(g->lt, g->desc, &alpha, d_w, p->a, d_x, p->b, &beta, d_y, p->c,
                              d_y, p->c, &p->algo, g->ws, g->ws_bytes,
                              octo_cuda_raw_stream(s)));
    }
    return OCTO_OK;
fail:
    return rc;
}
