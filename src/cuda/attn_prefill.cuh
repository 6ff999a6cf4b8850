/* SPDX-License-Identifier: Apache-2.0 */
/*
 * attn_prefill.cuh — the two tiled varlen causal attention kernels over the
 * paged cache (v4: cp.async double-buffered K/V, 128 rows x heads per
 * block, attn_prefill_v4.cu; v3: 64 rows, synchronous loads, kept for
 * comparison and for D = 256, attn_prefill.cu), their tile constants and
 * the tensor-core primitives both use. Not a public header; the checked
 * wrapper is octo_cuda_attn_prefill in cuda.h.
 */
#ifndef OCTO_CUDA_ATTN_PREFILL_CUH
#define OCTO_CUDA_ATTN_PREFILL_CUH
#include "cuda/cuda_int.cuh"

/* ==== v3 ==== */

#define PRE_BQ 64      /* query rows per block (16 per warp) */
#define PRE_BK 64      /* keys per tile */
#define PRE_THREADS 128

/* Dynamic shared memory bytes the kernel needs for head dim D: Q, K and V
 * tiles of 64 rows, each row padded by 16 bytes (conflict-free ldmatrix). */
static inline size_t prefill_smem_bytes(int D)
{
    return 3 * (size_t)PRE_BQ * (D + 8) * 2;
}

/* grid (ceil(max_q_len / PRE_BQ), H, B), PRE_THREADS threads. */
template <int D>
__global__ void attn_prefill_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                                    const __nv_bfloat16 *kc, const __nv_bfloat16 *vc,
                                    int block_size, int K, const int32_t *block_tables,
                                    int max_blocks, const int32_t *cu_q,
                                    const int32_t *seq_lens, int H, float scale);

/* ==== v4 ==== */

#define PF_ROWS 128    /* M rows per block: (query rows) x (heads of one kv head) */
#define PF_BK 64       /* keys per tile */
#define PF_STAGES 2    /* K/V tiles in flight */
#ifndef PF_MIN_BLOCKS
#define PF_MIN_BLOCKS 2 /* blocks per SM the registers are capped for */
#endif

/* Dynamic shared memory of the v4 kernel for head dim D: the Q tile,
 * PF_STAGES K and V tiles (rows padded by 16 bytes) and PF_STAGES slices
 * of the block table (PF_BK entries each). D = 128: 104960 B. */
static inline size_t prefill_v4_smem_bytes(int D)
{
    return (size_t)(PF_ROWS + 2 * PF_STAGES * PF_BK) * (D + 8) * 2 +
           (size_t)PF_STAGES * PF_BK * 4;
}

/* Launches the v4 kernel (D 64 or 128, block_size a power of two;
 * arguments already checked by octo_cuda_attn_prefill) with mt 16-row
 * tiles per warp: 1 (8 warps, 128 registers) or 2 (4 warps, up to 255). */
octo_err prefill_v4_launch(__nv_bfloat16 *out, const __nv_bfloat16 *q, int q_stride,
                           const octo_cuda_kv *kv, const int32_t *bt, int max_blocks,
                           const int32_t *cu_q, const int32_t *seq_lens, int B, int H,
                           int max_q_len, float scale, int mt, cudaStream_t st);

/* ==== tensor-core and copy primitives (PTX) ==== */

static __device__ __forceinline__ uint32_t smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* Four 8x8 b16 matrices; lane l gives the row address of matrix l / 8. */
static __device__ __forceinline__ void ldsm_x4(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

static __device__ __forceinline__ void ldsm_x4_t(uint32_t *r, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

/* The same, from a shared-memory address already in the .shared window. */
static __device__ __forceinline__ void ldsm_x4(uint32_t *r, uint32_t a)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

static __device__ __forceinline__ void ldsm_x4_t(uint32_t *r, uint32_t a)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* c[4] += a (16x16 bf16, row) . b (16x8 bf16, col), f32 accumulation. */
static __device__ __forceinline__ void mma_bf16(float *c, const uint32_t *a, uint32_t b0,
                                                uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

/* 16 bytes global -> shared, asynchronous (L2 only); zero-filled when !ok
 * (src is then not read but must still be a valid address). */
static __device__ __forceinline__ void cp_async16(void *dst, const void *src, bool ok)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(smem_addr(dst)), "l"(src), "r"(ok ? 16 : 0) : "memory");
}

static __device__ __forceinline__ void cp_async_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

/* 2^x by the special-function unit (ex2.approx.ftz: ~2 ulp, 2^-inf = 0). */
static __device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

/* One 32-bit word of shared memory at a .shared address. */
static __device__ __forceinline__ int32_t lds32(uint32_t a)
{
    int32_t v;
    asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(a));
    return v;
}

/* 4 bytes global -> shared, asynchronous (through L1); zero when !ok. */
static __device__ __forceinline__ void cp_async4(uint32_t dst, const void *src, bool ok)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n"
                 :: "r"(dst), "l"(src), "r"(ok ? 4 : 0) : "memory");
}

/* 16 bytes, destination given as a .shared address. */
static __device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool ok)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(dst), "l"(src), "r"(ok ? 16 : 0) : "memory");
}

/* Waits until at most n of this thread's committed groups are pending. */
template <int n>
static __device__ __forceinline__ void cp_async_wait(void)
{
    asm volatile("cp.async.wait_group %0;\n" :: "n"(n) : "memory");
}
#endif
