/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cuda_int — helpers shared by the .cu files of src/cuda and nothing else:
 * the CUDA-error-to-octo_err check, the stream accessor, bf16 <-> f32 and
 * 16-byte vector conversions, and warp/block reductions.
 *
 * It is not a public header: only src/cuda/*.cu include it.
 */
#ifndef OCTO_CUDA_INT_CUH
#define OCTO_CUDA_INT_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda/cuda.h"

/* Logs `what` failed with the CUDA message; returns OCTO_E_CUDA
 * (OCTO_OK for cudaSuccess). */
octo_err octo_cuda_fail(cudaError_t e, const char *what, const char *file, int line);

/* Every device allocation of src/cuda goes through these two so that the
 * bytes are counted (octo_alloc_device_note): after a successful
 * cudaMalloc, and before cudaFree (NULL is a no-op). */
void octo_cuda_count_alloc(void *d_ptr, size_t bytes);
void octo_cuda_count_free(void *d_ptr);

#define CUDA_TRY(call)                                                         \
    do {                                                                       \
        cudaError_t e_ = (call);                                               \
        if (e_ != cudaSuccess) return octo_cuda_fail(e_, #call, __FILE__, __LINE__); \
    } while (0)

/* After a launch: reports a launch error (bad configuration etc.). */
#define CUDA_LAUNCHED(name) CUDA_TRY(cudaGetLastError())

/* Argument check: logs and returns OCTO_E_INVALID. */
#define ARG_CHECK(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            OCTO_LOG_ERROR("invalid argument: %s", #cond);                     \
            return OCTO_E_INVALID;                                             \
        }                                                                      \
    } while (0)

/* cudaStream_t of a wrapper (0 for NULL). */
cudaStream_t octo_cuda_raw_stream(octo_cuda_stream *s);

static __device__ __forceinline__ float bf2f(__nv_bfloat16 x) { return __bfloat162float(x); }
static __device__ __forceinline__ __nv_bfloat16 f2bf(float x) { return __float2bfloat16(x); }

/* 8 bf16 in one 16-byte vector <-> 8 floats. */
static __device__ __forceinline__ void unpack8(uint4 v, float *f)
{
    const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&v);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 t = __bfloat1622float2(h[i]);
        f[2 * i] = t.x;
        f[2 * i + 1] = t.y;
    }
}

static __device__ __forceinline__ uint4 pack8(const float *f)
{
    uint4 v;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&v);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
    return v;
}

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Block-wide sum; every thread gets the result. `red` holds >= 32 floats;
 * blockDim.x is a multiple of 32. Contains __syncthreads. */
static __device__ __forceinline__ float block_sum(float v, float *red)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0.0f;
    return warp_sum(v);
}

static __device__ __forceinline__ float block_max(float v, float *red)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : -INFINITY;
    return warp_max(v);
}

/* Programmatic dependent launch, for the short per-layer kernels of a
 * decode step: at entry, let the next kernel on the stream (a GEMV
 * launched with programmatic serialisation) start streaming its weights,
 * then wait until the kernel before this one has finished and its writes
 * are visible. Both are no-ops when nothing was launched that way. */
static __device__ __forceinline__ void pdl_enter(void)
{
    asm volatile("griddepcontrol.launch_dependents;");
    asm volatile("griddepcontrol.wait;" ::: "memory");
}

/* Launches kernel k with programmatic stream serialisation (it may start
 * before the previous kernel on st ends; it must call pdl_enter, or wait
 * with griddepcontrol.wait before reading what that kernel wrote), with
 * `smem` bytes of dynamic shared memory. */
/* 0: launch_pdl launches plainly (tuning runs; octo_cuda_be_pdl) */
extern "C" int octo_cuda_pdl_small;

template <typename... P, typename... A>
static cudaError_t launch_pdl_smem(void (*k)(P...), dim3 grid, dim3 block, size_t smem,
                                   cudaStream_t st, A &&...args)
{
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = st;
    cfg.attrs = at;
    cfg.numAttrs = octo_cuda_pdl_small ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, k, static_cast<A &&>(args)...);
}

/* The same without dynamic shared memory. */
template <typename... P, typename... A>
static cudaError_t launch_pdl(void (*k)(P...), dim3 grid, dim3 block, cudaStream_t st,
                              A &&...args)
{
    return launch_pdl_smem(k, grid, block, 0, st, static_cast<A &&>(args)...);
}

#endif /* OCTO_CUDA_INT_CUH */
